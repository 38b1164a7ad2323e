"""Shared fixtures: the corpus, a DuckDB file per test, one Prefect harness, a loopback site."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# The session's own state (Prefect's home, caches), removed as the session's process exits.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="newsflow-tests-"))
atexit.register(shutil.rmtree, _SESSION_DIR, ignore_errors=True)
# Prefect reads these at import time: keep its state out of the user's home and quiet offline.
(_SESSION_DIR / "prefect").mkdir()
os.environ["PREFECT_HOME"] = str(_SESSION_DIR / "prefect")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("NEWSFLOW_DB", None)
os.environ["XDG_CACHE_HOME"] = str(_SESSION_DIR / "cache")  # lakes' LSH indexes

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLES = ROOT / "samples"


# The test files that take longest (`pytest --durations=0`, summed by file), slowest first:
# `make test` (Makefile: --no-loadscope-reorder) hands files to its two workers in this order, then
# the rest in collection order. xdist's own order, most tests first, left test_deploy.py (5 tests,
# two minutes) for last, one worker running it alone while the other had finished.
SLOWEST_FILES = (
    "test_deploy.py", "test_cli.py", "test_bench.py", "test_flows.py", "test_ducklake.py",
    "test_clean.py", "test_dask.py", "test_crash.py", "test_summaries.py", "test_search.py",
)  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest files first (SLOWEST_FILES), so that the two workers finish about together."""
    rank = {name: place for place, name in enumerate(SLOWEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


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


def _true_within(seconds: float, condition: Callable[[], bool]) -> bool:
    """Whether `condition()` holds within `seconds`, polled every 0.2 s."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def group_ends_within(group: int, seconds: float) -> bool:
    """Whether every process of process group `group` ends within `seconds` (polled)."""

    def ended() -> bool:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        return False

    return _true_within(seconds, ended)


def kill_group(group: int) -> None:
    """SIGKILL whatever is left of process group `group`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def temporary_apis(prefect_home: Path) -> list[int]:
    """The processes of Prefect's temporary API serving on `prefect_home`: started apart from
    newsflow's process group (tasks/interrupts.py), they are not among its processes."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if b"uvicorn" in (proc / "cmdline").read_bytes() and (
                f"PREFECT_HOME={prefect_home}\0".encode() in (proc / "environ").read_bytes()
            ):
                found.append(int(proc.name))
    return found


def ended_within(pids: list[int], seconds: float) -> bool:
    """Whether the processes `pids` (not this one's children) end within `seconds`: gone, or a
    zombie their new parent has not reaped."""

    def running(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3] != " Z "
        except OSError:
            return False

    return _true_within(seconds, lambda: not any(map(running, pids)))


_READY_PREFECT_HOME = _SESSION_DIR / "prefect-ready"


def endless_query(*params: str) -> str:
    """A query that runs for a minute or more unless it is interrupted; it names `params`, the
    parameters of the statement it stands in for, so that DuckDB takes them."""
    named = "".join(f" AND ${name} IS NOT DISTINCT FROM ${name}" for name in params)
    return f"SELECT count(*) AS n FROM range(20000000000) t(a) WHERE a % 7 = 3{named}"


def ctrl_c_once(started: threading.Event, after: float = 0.5) -> contextlib.AbstractContextManager:
    """Within the block, a terminal's Ctrl-C (SIGINT to the main thread, Python's default
    handler) `after` seconds once `started` is set: as a user presses it while a query runs."""
    return signal_once(started, signal.SIGINT, signal.default_int_handler, after)


@contextlib.contextmanager
def signal_once(
    started: threading.Event, signum: int, handler: Callable[[int, Any], None], after: float = 0.5
) -> Iterator[None]:
    """Within the block, the signal `signum` to the main thread, taken by `handler`, `after`
    seconds once `started` is set."""
    main = threading.main_thread().ident

    def send() -> None:
        if started.wait(30):
            time.sleep(after)
            signal.pthread_kill(main, signum)

    taken = signal.signal(signum, handler)
    sender = threading.Thread(target=send)
    sender.start()
    try:
        yield
    finally:
        started.set()
        sender.join()
        signal.signal(signum, taken)


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test harness (temporary API and database) for the whole session; a copy of its
    database as it starts (migrated, block types registered, no runs) is kept for
    `ready_prefect_home`."""
    from prefect.settings import PREFECT_MEMO_STORE_PATH, PREFECT_SERVER_DATABASE_CONNECTION_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        harness_db = PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split(":///", 1)[1]
        _READY_PREFECT_HOME.mkdir()
        ready_db = _READY_PREFECT_HOME / "prefect.db"
        live, copy = sqlite3.connect(harness_db), sqlite3.connect(ready_db)
        live.backup(copy)  # a consistent copy of a database in use
        live.close()
        copy.close()
        memo = Path(PREFECT_MEMO_STORE_PATH.value())  # "block types registered in this database"
        if memo.exists():
            shutil.copy(memo, _READY_PREFECT_HOME / memo.name)
        yield


@pytest.fixture(scope="session")
def ready_prefect_home(prefect_harness) -> Path:
    """A Prefect home whose database has Prefect's migrations applied and its block types
    registered, and nothing else. An API started on a new database spends about 14 s here doing
    both: a test that starts an API of its own (a `newsflow` process's temporary API, `make
    server`) copies this folder into the Prefect home it gives it."""
    return _READY_PREFECT_HOME


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
