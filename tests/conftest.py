"""Shared fixtures: the corpus, a DuckDB file per test, one Prefect harness, a loopback site."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

# Prefect reads these at import time: keep its state out of the user's home and quiet offline.
_PREFECT_HOME = tempfile.mkdtemp(prefix="newsflow-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("NEWSFLOW_DB", None)
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="newsflow-cache-")  # lakes' LSH indexes

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLES = ROOT / "samples"


def one_page_sources_file(folder: Path, *, db: Path | str, name: str, page: Path | str) -> Path:
    """`folder/sources.toml`: [settings] naming the warehouse, and one source, a page on disk."""
    path = folder / "sources.toml"
    path.write_text(
        f"[settings]\ndb = {json.dumps(str(db))}\n\n[[source]]\nname = {json.dumps(name)}\n"
        f'kind = "path"\nlocation = {json.dumps(str(page))}\n'
    )
    return path


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The read-only shared corpus beside the checkout; tests that need it skip without it."""
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS} (CI lays ../shared beside the clone)")
    return CORPUS


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test harness (temporary API and database) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    """A fresh DuckDB warehouse path per test."""
    return str(tmp_path / "news.duckdb")


@pytest.fixture
def fetch_settings():
    """Loopback fetch settings: private hosts allowed, no politeness delay, fast retries."""
    from tasks.settings import FetchSettings

    return FetchSettings(
        allow_private_hosts=True,
        per_host_delay=0.0,
        per_host_concurrency=8,
        backoff_base=0.05,
        backoff_max=2.0,
        connect_timeout=2.0,
        read_timeout=2.0,
        total_timeout=10.0,
    )


class Site:
    """A small news site on 127.0.0.1: fixed routes, ETag/304 support, a hit counter per path."""

    def __init__(self) -> None:
        import threading
        from collections import Counter
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.hits: Counter[str] = Counter()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = self.path.split("?")[0]
                site.hits[path] += 1
                status, headers, body = site.routes.get(path, (404, {}, b"not found"))
                etag = headers.get("ETag")
                if etag and self.headers.get("If-None-Match") == etag:
                    status, body = 304, b""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def page(self, path: str, html: str | bytes, content_type: str = "text/html; charset=utf-8"):
        import hashlib

        body = html.encode("utf-8") if isinstance(html, str) else html
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        self.routes[path] = (200, {"Content-Type": content_type, "ETag": etag}, body)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    """A loopback news site the test fills with pages, feeds and sitemaps."""
    server = Site()
    yield server
    server.close()
