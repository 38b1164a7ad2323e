"""Tests for tasks/fetch.py against real loopback servers: pytest-httpserver and a rogue one."""

from __future__ import annotations

import gzip
import logging
import os
import pickle
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prefect.logging import disable_run_logger
from prefect.states import Completed, Failed
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tasks import fetch as fetch_module
from tasks.fetch import (
    RobotsRules,
    _is_transient_batch_failure,
    decode_text,
    fetch_batch,
    fetch_pages,
    fetch_url,
    is_public_address,
    open_session,
    summarize_outcomes,
)
from tasks.records import FetchResult, WorkItem
from tasks.settings import FetchSettings

HTML = "<html><head><title>Kabul</title></head><body><p>Kabul fell.</p></body></html>"
FRENCH = (
    "<html><body><p>Le café était fermé — « naïve » “quoted” résumé, déjà vu, où est la "
    "fenêtre? Ça coûte 5 €.</p></body></html>"
)
MB = 1_000_000


class RogueHandler(BaseHTTPRequestHandler):
    """Routes that pytest-httpserver cannot play: slow, dripping, endless, concurrency-counting."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def do_GET(self) -> None:
        route = self.path.split("?", 1)[0]
        getattr(self, "route_" + route.strip("/").replace("-", "_"), self.route_missing)()

    def route_missing(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route_jump_to_bad_host(self) -> None:
        self.send_response(302)
        self.send_header("Location", "http://news..example.com/story")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route_slow_headers(self) -> None:
        time.sleep(3)
        self.route_missing()

    def route_drip(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        for _ in range(100):  # at most 10 s, long after the client gave up
            try:
                self.wfile.write(b"a")
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.1)

    def route_endless(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"<p>" + b"x" * 65_000 + b"</p>"
        for _ in range(100):  # 6.5 MB at most
            try:
                self.wfile.write(chunk)
            except OSError:
                return
        self.close_connection = True

    def route_slow_page(self) -> None:
        server = self.server
        with server.lock:  # type: ignore[attr-defined]
            server.active += 1  # type: ignore[attr-defined]
            server.max_active = max(server.max_active, server.active)  # type: ignore[attr-defined]
            server.starts.append(time.monotonic())  # type: ignore[attr-defined]
        time.sleep(0.3)
        with server.lock:  # type: ignore[attr-defined]
            server.active -= 1  # type: ignore[attr-defined]
        body = HTML.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def rogue() -> Iterator[ThreadingHTTPServer]:
    """A threaded loopback server with misbehaving routes; counts concurrent /slow-page requests."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), RogueHandler)
    server.daemon_threads = True
    server.lock, server.active, server.max_active, server.starts = threading.Lock(), 0, 0, []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def rogue_url(server: ThreadingHTTPServer, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


@pytest.fixture
def site(httpserver: HTTPServer) -> HTTPServer:
    """pytest-httpserver with a permanent 404 robots.txt (robots tests add one-shot handlers)."""
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    return httpserver


def hits(server: HTTPServer, path: str) -> int:
    return sum(1 for request, _ in server.log if request.path == path)


def tuned(settings: FetchSettings, **changes: object) -> FetchSettings:
    return settings.model_copy(update=changes)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- success, redirects, schemes ---------------------------------------------------------------


def test_ok_page_after_redirect_chain(site: HTTPServer, fetch_settings: FetchSettings) -> None:
    site.expect_request("/a").respond_with_data("", status=301, headers={"Location": "/b"})
    site.expect_request("/b").respond_with_data(
        "", status=302, headers={"Location": site.url_for("/c#frag")}
    )
    site.expect_request("/c").respond_with_data(
        HTML, content_type="text/html; charset=utf-8", headers={"ETag": '"v1"'}
    )
    result = fetch_url(site.url_for("/a"), fetch_settings, source_name="wire")
    assert result.outcome == "ok", result.error
    assert (result.url, result.final_url) == (site.url_for("/a"), site.url_for("/c"))
    assert (result.status, result.content_type, result.encoding) == (200, "text/html", "utf-8")
    assert result.html == HTML and result.bytes == len(HTML) and result.body is None
    assert result.etag == '"v1"' and result.attempts == 1 and result.source_name == "wire"
    assert result.fetched_at is not None and result.fetched_at.tzinfo == UTC
    agents = {request.headers["User-Agent"] for request, _ in site.log}
    assert agents == {fetch_settings.user_agent}


def test_redirect_loop_and_too_many_redirects(
    site: HTTPServer, fetch_settings: FetchSettings
) -> None:
    site.expect_request("/loop1").respond_with_data("", status=302, headers={"Location": "/loop2"})
    site.expect_request("/loop2").respond_with_data("", status=302, headers={"Location": "/loop1"})
    for hop in range(4):
        site.expect_request(f"/hop{hop}").respond_with_data(
            "", status=307, headers={"Location": f"/hop{hop + 1}"}
        )
    loop = fetch_url(site.url_for("/loop1"), fetch_settings)
    assert loop.outcome == "redirect_loop" and "loop" in (loop.error or "")
    assert loop.attempts == 1
    chain = fetch_url(site.url_for("/hop0"), tuned(fetch_settings, max_redirects=2))
    assert chain.outcome == "too_many_redirects" and "max_redirects" in (chain.error or "")
    assert hits(site, "/hop3") == 0


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x.html"])
def test_redirect_to_other_scheme_refused(
    site: HTTPServer, fetch_settings: FetchSettings, target: str
) -> None:
    site.expect_request("/jump").respond_with_data("", status=302, headers={"Location": target})
    result = fetch_url(site.url_for("/jump"), fetch_settings)
    assert result.outcome == "bad_scheme" and result.html is None
    assert target in (result.error or "") and "only http and https" in (result.error or "")


def test_non_http_url_given_directly_refused(fetch_settings: FetchSettings) -> None:
    result = fetch_url("ftp://example.org/a.html", fetch_settings)
    assert result.outcome == "bad_scheme" and result.attempts == 1


def test_private_host_refused_unless_allowed(
    site: HTTPServer, fetch_settings: FetchSettings
) -> None:
    site.expect_request("/").respond_with_data(HTML, content_type="text/html")
    strict = tuned(fetch_settings, allow_private_hosts=False)
    port = site.port
    for url in (f"http://127.0.0.1:{port}/", f"http://localhost:{port}/"):
        result = fetch_url(url, strict)
        assert result.outcome == "private_host", result.error
        assert "allow_private_hosts" in (result.error or "")
    assert site.log == []  # refused before any request, robots.txt included
    assert fetch_url(site.url_for("/"), fetch_settings).ok


def test_is_public_address() -> None:
    private = ["127.0.0.1", "10.1.2.3", "169.254.169.254", "100.64.0.1", "::1", "fe80::1%eth0"]
    private += ["::ffff:192.168.0.1", "0.0.0.0", "224.0.0.1", "240.0.0.1"]
    assert not any(is_public_address(address) for address in private)
    assert is_public_address("93.184.216.34") and is_public_address("2606:4700::1111")
    assert is_public_address("::ffff:93.184.216.34")  # a public IPv4 address, IPv6-mapped


# --- retries -----------------------------------------------------------------------------------


def test_429_with_retry_after_seconds_then_success(
    site: HTTPServer, fetch_settings: FetchSettings
) -> None:
    site.expect_oneshot_request("/busy").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "1"}
    )
    site.expect_request("/busy").respond_with_data(HTML, content_type="text/html")
    result = fetch_url(site.url_for("/busy"), fetch_settings)
    assert result.outcome == "ok" and result.attempts == 2
    assert result.elapsed_ms >= 950


def test_retry_after_http_date_honoured(site: HTTPServer, fetch_settings: FetchSettings) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    site.expect_oneshot_request("/later").respond_with_data(
        "", status=503, headers={"Retry-After": when}
    )
    site.expect_request("/later").respond_with_data(HTML, content_type="text/html")
    result = fetch_url(site.url_for("/later"), fetch_settings)
    assert result.outcome == "ok" and result.attempts == 2
    assert result.elapsed_ms >= 900  # the date is whole seconds: between 1 and 2 s away


def test_retry_after_beyond_cap_gives_up(site: HTTPServer, fetch_settings: FetchSettings) -> None:
    site.expect_request("/closed").respond_with_data("", status=429, headers={"Retry-After": "120"})
    result = fetch_url(site.url_for("/closed"), fetch_settings)
    assert (result.outcome, result.status, result.attempts) == ("http_429", 429, 1)
    assert "Retry-After" in (result.error or "") and "backoff_max" in (result.error or "")


def test_a_stopped_run_asks_for_nothing_more_and_its_retry_pause_ends(
    site: HTTPServer, fetch_settings: FetchSettings
) -> None:
    """stop_fetching(run), as a Ctrl-C or a cancellation does: a URL pausing before its retry
    (Retry-After 25 s) stops waiting, and the batch's URLs not yet asked for are not requested.
    The run's batch is not loaded (the run is ending), so the results are of the URLs fetched by
    then. Another run's batch fetches on."""
    settings = fetch_settings.model_copy(update={"max_workers": 1, "backoff_max": 60.0})
    site.expect_request("/busy").respond_with_data("", status=503, headers={"Retry-After": "25"})
    site.expect_request("/next").respond_with_data(HTML, content_type="text/html")
    items = [WorkItem(site.url_for(path), "s") for path in ("/busy", "/next")]
    stop = threading.Timer(1.0, fetch_module.stop_fetching, args=["stopped-run"])
    stop.start()
    began = time.monotonic()
    try:
        assert fetch_pages(items, settings, run_id="stopped-run") == []
    finally:
        stop.cancel()
    assert time.monotonic() - began < 15  # the pause ended with the stop, not after 25 s
    assert (hits(site, "/busy"), hits(site, "/next")) == (1, 0)
    fetched = fetch_pages(items[1:], settings, run_id="another-run")
    assert [result.outcome for result in fetched] == ["ok"]


@pytest.mark.parametrize("silent", ["before its headers", "in its body"])
def test_a_stopped_run_cuts_its_requests_under_way(fetch_settings: FetchSettings, silent: str):
    """A site that answers nothing, before its headers or in its body: a Ctrl-C or cancel
    waited for the request up to the read timeout (20 s) before the command could end; the
    run's stop cuts it at once. The cut URL leaves no row (the run's batch is not loaded, and
    its rerun fetches it); another run's request to the same site is left alone."""
    release, asked = threading.Event(), threading.Semaphore(0)

    class Silent(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            asked.release()
            if silent == "in its body":
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.write(b"<html><p>The first bytes")
                self.wfile.flush()
            release.wait(30)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Silent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/news/silent"
    settings = tuned(
        fetch_settings, read_timeout=15.0, total_timeout=60.0, max_retries=1, respect_robots=False
    )
    results: dict[str, list[FetchResult]] = {}

    def fetch(run_id: str) -> None:
        results[run_id] = fetch_pages([WorkItem(url, "s")], settings, run_id=run_id)

    cut, other = f"cut {silent}", f"other {silent}"  # a run stopped stays so in the process
    fetching = {run: threading.Thread(target=fetch, args=[run]) for run in (cut, other)}
    try:
        for thread in fetching.values():
            thread.start()
            assert asked.acquire(timeout=10)  # the page asked
        time.sleep(0.3)  # waiting for the site
        stopped = time.monotonic()
        fetch_module.stop_fetching(cut)
        fetching[cut].join(timeout=10)
        took = time.monotonic() - stopped
        assert not fetching[cut].is_alive() and took < 3, took  # cut, not 15 s later
        assert results[cut] == []
        assert fetching[other].is_alive()  # another run's request still waits on the site
    finally:
        release.set()
        for thread in fetching.values():
            if thread.ident is not None:
                thread.join(timeout=30)
        server.shutdown()
        server.server_close()
    assert len(results[other]) == 1  # the other run's URL has its row, whatever the site did


def test_a_failed_tls_handshake_says_why_in_plain_words(
    site: HTTPServer, fetch_settings: FetchSettings
) -> None:
    """https:// to a plain HTTP port: the row said `TLS handshake failed: HTTPSConnectionPool(
    host=…): Max retries exceeded with url: … (Caused by SSLError(SSLError(1, '[SSL: …` (QA);
    a connection's failure already said only what the system said."""
    url = site.url_for("/news/1").replace("http://", "https://")
    [result] = fetch_pages([WorkItem(url, "s")], tuned(fetch_settings, respect_robots=False))
    assert (result.outcome, result.error) == ("tls", "TLS handshake failed: wrong version number")


def test_a_retry_after_holds_the_hosts_other_urls_too(
    site: HTTPServer, fetch_settings: FetchSettings
) -> None:
    """A 503 with Retry-After 2 s: the batch's next URL of that host waits it out as well (it
    was asked per_host_delay later, 0.5 s, and would have been told to wait in turn)."""
    asked: dict[str, float] = {}

    def answer(request: Request) -> Response:
        asked.setdefault(request.path, time.monotonic())
        return Response(HTML, content_type="text/html")

    site.expect_oneshot_request("/busy").respond_with_data(
        "", status=503, headers={"Retry-After": "2"}
    )
    for path in ("/busy", "/other"):
        site.expect_request(path).respond_with_handler(answer)
    began = time.monotonic()
    settings = tuned(fetch_settings, max_workers=2, per_host_delay=0.5, backoff_max=5.0)
    items = [WorkItem(site.url_for(path), "s") for path in ("/busy", "/other")]
    results = fetch_pages(items, settings)
    assert [(r.outcome, r.attempts) for r in results] == [("ok", 2), ("ok", 1)]
    assert asked["/other"] - began >= 1.9, asked  # not at 0.5 s, while the host said wait
    # its time is its request's, not its wait for the host (it was 10 s behind a 429, QA)
    assert results[1].elapsed_ms < 1500, results[1].elapsed_ms
    assert results[0].elapsed_ms >= 1900, results[0].elapsed_ms  # its own retry's pause


def test_500_then_success(site: HTTPServer, fetch_settings: FetchSettings) -> None:
    site.expect_oneshot_request("/flaky").respond_with_data("oops", status=500)
    site.expect_request("/flaky").respond_with_data(HTML, content_type="text/html")
    result = fetch_url(site.url_for("/flaky"), fetch_settings)
    assert result.outcome == "ok" and result.attempts == 2 and hits(site, "/flaky") == 2


def test_503_forever_is_bounded(site: HTTPServer, fetch_settings: FetchSettings) -> None:
    site.expect_request("/down").respond_with_data("", status=503)
    started = time.monotonic()
    result = fetch_url(
        site.url_for("/down"), tuned(fetch_settings, max_retries=3, backoff_base=0.1)
    )
    assert (result.outcome, result.status, result.attempts) == ("http_503", 503, 4)
    # an exponential backoff between tries: at least half of 0.1, 0.2 and 0.4 s (jitter above)
    assert hits(site, "/down") == 4 and 0.35 <= time.monotonic() - started < 2.0
    assert "gave up after 4 attempts" in (result.error or "")


def test_404_not_retried(site: HTTPServer, fetch_settings: FetchSettings) -> None:
    site.expect_request("/gone").respond_with_data("no", status=404)
    result = fetch_url(site.url_for("/gone"), fetch_settings)
    assert (result.outcome, result.status, result.attempts) == ("http_404", 404, 1)
    assert hits(site, "/gone") == 1 and result.html is None


def test_connection_refused_retried_then_recorded(fetch_settings: FetchSettings) -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    result = fetch_url(url, tuned(fetch_settings, max_retries=1, respect_robots=False))
    assert (result.outcome, result.attempts) == ("connection", 2)
    assert result.error == "connection failed: Connection refused (gave up after 2 attempts)"


@pytest.mark.parametrize("private_hosts", [False, True])
@pytest.mark.parametrize("robots", [False, True])
def test_a_host_that_does_not_resolve_is_dns_and_not_retried(
    fetch_settings: FetchSettings, private_hosts: bool, robots: bool
) -> None:
    """A `.invalid` name never resolves (RFC 6761). With private hosts allowed nothing resolves
    the host before the request: it was `connection`, retried, its error the reprs of urllib3's
    wrappers, and with robots.txt checked first it was `robots`."""
    settings = tuned(
        fetch_settings, allow_private_hosts=private_hosts, respect_robots=robots, max_retries=2
    )
    result = fetch_url("http://nonexistent.invalid/news/story", settings)
    assert (result.outcome, result.attempts) == ("dns", 1), result.error
    assert result.error == "cannot resolve host nonexistent.invalid: Name or service not known"


# --- timeouts and byte caps --------------------------------------------------------------------


def test_read_timeout(rogue: ThreadingHTTPServer, fetch_settings: FetchSettings) -> None:
    settings = tuned(fetch_settings, read_timeout=0.5, max_retries=0)
    started = time.monotonic()
    result = fetch_url(rogue_url(rogue, "/slow-headers"), settings)
    assert result.outcome == "timeout" and "read_timeout" in (result.error or "")
    assert time.monotonic() - started < 1.5


def test_dripping_body_stops_at_total_timeout(
    rogue: ThreadingHTTPServer, fetch_settings: FetchSettings
) -> None:
    settings = tuned(fetch_settings, total_timeout=1.0, read_timeout=2.0, max_retries=2)
    result = fetch_url(rogue_url(rogue, "/drip"), settings)
    assert result.outcome == "timeout" and "total timeout" in (result.error or "")
    # not retried: a server too slow to send the page in time is as slow again (one trickling
    # held a run 4 minutes over 4 attempts)
    assert result.attempts == 1
    assert 1000 <= result.elapsed_ms < 1800  # the drip would last 10 s
    assert 3 <= result.bytes < 20  # some drops arrived before the deadline


def test_oversize_with_content_length(site: HTTPServer, fetch_settings: FetchSettings) -> None:
    site.expect_request("/big").respond_with_data("x" * (2 * MB), content_type="text/html")
    result = fetch_url(site.url_for("/big"), tuned(fetch_settings, max_bytes=MB))
    assert result.outcome == "too_large" and "Content-Length" in (result.error or "")


def test_oversize_without_content_length(
    rogue: ThreadingHTTPServer, fetch_settings: FetchSettings
) -> None:
    result = fetch_url(rogue_url(rogue, "/endless"), tuned(fetch_settings, max_bytes=MB))
    assert result.outcome == "too_large" and "while streaming" in (result.error or "")
    assert result.bytes == MB + 1 and result.attempts == 1


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """50 MB of spaces in about 50 kB of gzip."""
    return gzip.compress(b" " * (50 * MB), compresslevel=9)


def test_gzip_bomb_stops_at_cap(
    site: HTTPServer,
    fetch_settings: FetchSettings,
    gzip_bomb: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site.expect_request("/bomb").respond_with_data(
        gzip_bomb, content_type="text/html", headers={"Content-Encoding": "gzip"}
    )
    site.expect_request("/bomb.xml.gz").respond_with_data(
        gzip_bomb, content_type="application/octet-stream"
    )
    settings = tuned(fetch_settings, max_bytes=MB)
    page = fetch_url(site.url_for("/bomb"), settings)
    assert page.outcome == "too_large" and page.bytes == MB + 1
    monkeypatch.setattr(fetch_module, "DOCUMENT_MAX_BYTES", MB)
    feed = fetch_url(site.url_for("/bomb.xml.gz"), settings, accept="feed")
    assert feed.outcome == "too_large" and "gunzipped" in (feed.error or "")


def test_feeds_and_sitemaps_get_the_document_cap_not_max_bytes(
    site: HTTPServer,
    rogue: ThreadingHTTPServer,
    fetch_settings: FetchSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = "".join(f"<url><loc>https://n.org/story/{n}</loc></url>" for n in range(200))
    sitemap = f"<urlset>{rows}</urlset>".encode()  # 8 kB, over this test's max_bytes
    site.expect_request("/sitemap.xml").respond_with_data(sitemap, content_type="application/xml")
    site.expect_request("/sitemap.xml.gz").respond_with_data(
        gzip.compress(sitemap), content_type="application/gzip"
    )
    site.expect_request("/encoded.xml").respond_with_data(
        gzip.compress(sitemap), content_type="application/xml", headers={"Content-Encoding": "gzip"}
    )
    (tmp_path / "sitemap.xml").write_bytes(sitemap)
    settings = tuned(fetch_settings, max_bytes=1000)
    documents = [site.url_for(p) for p in ("/sitemap.xml", "/sitemap.xml.gz", "/encoded.xml")]
    for url in [*documents, (tmp_path / "sitemap.xml").as_uri()]:
        result = fetch_url(url, settings, accept="feed")
        assert (result.outcome, result.body) == ("ok", sitemap), (url, result.error)
    site.expect_request("/page").respond_with_data(sitemap, content_type="text/html")
    page = fetch_url(site.url_for("/page"), settings)  # the same bytes as a page
    assert page.outcome == "too_large" and "max_bytes 1000" in (page.error or "")

    monkeypatch.setattr(fetch_module, "DOCUMENT_MAX_BYTES", 1000)
    for url in documents:
        result = fetch_url(url, settings, accept="feed")
        assert result.outcome == "too_large" and "document cap" in (result.error or ""), url
    endless = fetch_url(rogue_url(rogue, "/endless"), settings, accept="feed")
    assert endless.outcome == "too_large" and "while streaming" in (endless.error or "")


def test_gzip_content_encoding_decoded(site: HTTPServer, fetch_settings: FetchSettings) -> None:
    site.expect_request("/gz").respond_with_data(
        gzip.compress(HTML.encode()),
        content_type="text/html; charset=utf-8",
        headers={"Content-Encoding": "gzip"},
    )
    result = fetch_url(site.url_for("/gz"), fetch_settings)
    assert result.outcome == "ok" and result.html == HTML and result.bytes == len(HTML)
    assert "gzip" in site.log[-1][0].headers["Accept-Encoding"]


def test_every_gzip_member_is_read_and_a_cut_stream_is_a_decode_failure(
    site: HTTPServer, fetch_settings: FetchSettings
) -> None:
    head, tail = HTML[:30], HTML[30:]
    two_members = gzip.compress(head.encode()) + gzip.compress(tail.encode()) + b"\x00" * 8
    site.expect_request("/page").respond_with_data(
        two_members, content_type="text/html", headers={"Content-Encoding": "gzip"}
    )
    rows = [f"<url><loc>https://n.org/{n}</loc></url>" for n in range(2)]
    members = [
        gzip.compress(f"<urlset>{rows[0]}".encode()),
        gzip.compress(f"{rows[1]}</urlset>".encode()),
    ]
    site.expect_request("/sitemap.xml.gz").respond_with_data(
        b"".join(members), content_type="application/gzip"
    )
    whole = gzip.compress(f"<urlset>{''.join(rows)}</urlset>".encode())
    site.expect_request("/cut.xml.gz").respond_with_data(
        whole[:-12], content_type="application/gzip"
    )
    page = fetch_url(site.url_for("/page"), fetch_settings)
    assert (page.outcome, page.html) == ("ok", HTML), page.error
    sitemap = fetch_url(site.url_for("/sitemap.xml.gz"), fetch_settings, accept="feed")
    assert sitemap.outcome == "ok" and sitemap.body == f"<urlset>{''.join(rows)}</urlset>".encode()
    cut = fetch_url(site.url_for("/cut.xml.gz"), fetch_settings, accept="feed")
    assert cut.outcome == "decode" and "ends mid-stream" in (cut.error or "")
    assert cut.body is None and cut.attempts == 1


def test_a_gzipped_document_that_cannot_be_used_says_why(
    tmp_path: Path, fetch_settings: FetchSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole wording of a gzip body refused as corrupt, over the document cap, or cut short."""
    monkeypatch.setattr(fetch_module, "DOCUMENT_MAX_BYTES", 100)
    small = gzip.compress(b"<urlset><url><loc>https://n.org/a</loc></url></urlset>")
    cases = {
        "corrupt.xml": (
            b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" * 20,
            (
                "decode",
                "body looks gzipped but does not gunzip: Error -3 while decompressing "
                "data: invalid block type",
                0,
            ),
        ),
        "large.xml": (
            gzip.compress(b"<urlset>" + b" " * 200 + b"</urlset>"),
            ("too_large", "gunzipped body exceeds the document cap 100", 100),
        ),
        "cut.xml": (
            small[:-12],
            ("decode", "compressed body ends mid-stream after 46 decoded bytes (truncated)", 46),
        ),
    }
    for name, (body, refused) in cases.items():
        (tmp_path / name).write_bytes(body)
        result = fetch_url((tmp_path / name).as_uri(), fetch_settings, accept="feed")
        assert (result.outcome, result.error, result.bytes) == refused, name


def test_gzip_members_split_anywhere_between_chunks() -> None:
    body = gzip.compress(b"Kabul ") + b"\x00\x00" + gzip.compress(b"fell.")
    for size in (1, 2, 7, len(body)):
        members = fetch_module.GzipMembers()
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        out = b"".join(members.decompress(chunk, 100) for chunk in chunks) + members.flush()
        assert out == b"Kabul fell." and members.eof, size


# --- content types, bodies, charsets -----------------------------------------------------------


def test_pdf_refused_and_binary_html_detected(
    site: HTTPServer, fetch_settings: FetchSettings
) -> None:
    site.expect_request("/doc.pdf").respond_with_data(
        b"%PDF-1.7 ...", content_type="application/pdf"
    )
    site.expect_request("/fake.html").respond_with_data(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", content_type="text/html"
    )
    pdf = fetch_url(site.url_for("/doc.pdf"), fetch_settings)
    assert (pdf.outcome, pdf.content_type, pdf.status) == ("content_type", "application/pdf", 200)
    assert "application/pdf" in (pdf.error or "")
    fake = fetch_url(site.url_for("/fake.html"), fetch_settings)
    assert fake.outcome == "binary" and fake.html is None


def test_a_page_served_without_a_content_type_is_kept(
    site: HTTPServer, fetch_settings: FetchSettings
) -> None:
    """No Content-Type header is no reason to refuse: the body itself says it is HTML."""
    bare = Response(HTML)
    del bare.headers["Content-Type"]
    site.expect_request("/bare").respond_with_response(bare)
    result = fetch_url(site.url_for("/bare"), fetch_settings)
    assert (result.outcome, result.content_type) == ("ok", None)
    assert "Kabul" in (result.html or "")


def test_empty_200(site: HTTPServer, fetch_settings: FetchSettings) -> None:
    site.expect_request("/empty").respond_with_data("", content_type="text/html")
    result = fetch_url(site.url_for("/empty"), fetch_settings)
    assert (result.outcome, result.status, result.attempts) == ("empty", 200, 1)


@pytest.mark.parametrize(
    ("content_type", "body", "encoding"),
    [
        ("text/html; charset=utf-8", FRENCH.encode("cp1252"), "cp1252"),  # wrong header
        ("text/html", FRENCH.encode("cp1252"), "cp1252"),  # nothing declared
        ("text/html; charset=ISO-8859-1", FRENCH.encode("cp1252"), "cp1252"),  # web alias
        (
            "text/html; charset=utf-8",  # wrong header, right <meta>
            FRENCH.replace("<html>", '<html><meta charset="windows-1252">').encode("cp1252"),
            "cp1252",
        ),
        ("text/html; charset=koi8-r", "<p>Кабул пал</p>".encode("koi8-r"), "koi8-r"),
    ],
)
def test_charset_decoding(
    site: HTTPServer, fetch_settings: FetchSettings, content_type: str, body: bytes, encoding: str
) -> None:
    site.expect_request("/page").respond_with_data(body, content_type=content_type)
    result = fetch_url(site.url_for("/page"), fetch_settings)
    assert result.outcome == "ok" and result.encoding == encoding
    assert result.html is not None and ("café" in result.html or "Кабул" in result.html)
    assert "“quoted”" in result.html or "Кабул" in result.html


def test_one_stray_byte_does_not_garble_a_declared_utf8_page(
    site: HTTPServer, fetch_settings: FetchSettings
) -> None:
    page = FRENCH.replace("<html>", '<html><meta charset="utf-8">').encode("utf-8")
    page = page.replace(b"</body>", b"<p>Copyright \xa9 2021</p></body>")  # one Latin-1 byte
    site.expect_request("/page").respond_with_data(page, content_type="text/html; charset=utf-8")
    result = fetch_url(site.url_for("/page"), fetch_settings)
    assert (result.outcome, result.encoding) == ("ok", "utf-8"), result.error
    assert result.html == page.decode("utf-8", "replace")
    assert "fenêtre? Ça coûte 5 €" in result.html and "Copyright \ufffd 2021" in result.html


@pytest.mark.parametrize(
    "content_type", ["text/html; charset=iso-8859-1", "text/html; charset=windows-1250"]
)
def test_a_utf8_page_that_declares_another_charset_is_read_as_utf8(
    site: HTTPServer, fetch_settings: FetchSettings, content_type: str
) -> None:
    """A page saved or re-served as UTF-8 keeps its old declaration: four pages of the dates
    corpus say ISO-8859-2 or windows-1252 and are UTF-8. Read by the declaration, "będzie
    Paweł" was loaded as "bÄ\u2122dzie PaweÅ\u201a"."""
    page = (
        '<html><head><meta charset="ISO-8859-2"><title>Nowym prezesem będzie Paweł</title>'
        "</head><body><p>Grupa Lotos. Nowym prezesem będzie Paweł Jan Majewski.</p></body></html>"
    ).encode()
    site.expect_request("/lotos").respond_with_data(page, content_type=content_type)
    result = fetch_url(site.url_for("/lotos"), fetch_settings)
    assert (result.outcome, result.encoding) == ("ok", "utf-8")
    assert result.html == page.decode("utf-8")


def test_decode_text_reads_valid_utf8_whatever_is_declared() -> None:
    ascii_page = b"<html><p>Kabul fell.</p></html>"  # an even length: also "valid" UTF-16
    assert decode_text(ascii_page, "utf-16") == (ascii_page.decode(), "utf-8")
    xml = '<?xml version="1.0" encoding="windows-1251"?><rss>Кабул</rss>'.encode()
    assert decode_text(xml) == (xml.decode(), "utf-8")
    japanese = "<p>京都で会議</p>".encode("iso-2022-jp")  # 7-bit: ASCII bytes and escapes
    assert decode_text(japanese, "iso-2022-jp") == ("<p>京都で会議</p>", "iso2022_jp")


def test_decode_text_prefers_bom_and_xml_declaration() -> None:
    assert decode_text("\ufeffKabul".encode("utf-8"), "iso-8859-1") == ("Kabul", "utf-8-sig")
    xml = '<?xml version="1.0" encoding="windows-1251"?><rss>Кабул</rss>'.encode("cp1251")
    text, encoding = decode_text(xml)
    assert encoding == "cp1251" and "Кабул" in text


def test_feed_accepts_gzip_sitemaps_and_fills_body(
    site: HTTPServer, fetch_settings: FetchSettings
) -> None:
    xml = b'<?xml version="1.0"?><urlset><url><loc>https://x.org/a</loc></url></urlset>'
    site.expect_request("/sitemap.xml.gz").respond_with_data(
        gzip.compress(xml), content_type="application/octet-stream"
    )
    site.expect_request("/feed").respond_with_data(gzip.compress(xml), content_type="text/xml")
    for path in ("/sitemap.xml.gz", "/feed"):
        result = fetch_url(site.url_for(path), fetch_settings, accept="feed")
        assert result.outcome == "ok" and result.body == xml and result.html == xml.decode()
    page = fetch_url(site.url_for("/sitemap.xml.gz"), fetch_settings)
    assert page.outcome == "content_type"


# --- conditional GET ---------------------------------------------------------------------------


def test_conditional_get_not_modified(site: HTTPServer, fetch_settings: FetchSettings) -> None:
    stamp = "Thu, 12 Aug 2021 10:00:00 GMT"

    def answer(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"' and (
            request.headers.get("If-Modified-Since") == stamp
        ):
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(HTML, content_type="text/html", headers={"ETag": '"v1"'})

    site.expect_request("/cond").respond_with_handler(answer)
    fresh = fetch_url(site.url_for("/cond"), fetch_settings)
    assert fresh.outcome == "ok" and fresh.etag == '"v1"'
    again = fetch_url(site.url_for("/cond"), fetch_settings, validators=('"v1"', stamp))
    assert (again.outcome, again.status, again.html) == ("not_modified", 304, None)
    assert (again.etag, again.last_modified) == ('"v1"', stamp)


def test_a_304_to_a_request_without_validators_is_a_failure(
    site: HTTPServer, fetch_settings: FetchSettings
) -> None:
    """A server that answers 304 to a first request: it was recorded `not_modified`, no error,
    and counted as a page seen though nothing was ever stored, run after run; as a feed, its
    source read 0 entries without failing (QA)."""
    site.expect_request("/always-304").respond_with_data("", status=304)
    result = fetch_url(site.url_for("/always-304"), fetch_settings)
    assert (result.outcome, result.status, result.attempts) == ("http_304", 304, 1)
    assert (
        result.error == "HTTP 304 Not Modified to a request that sent no validators (not retried)"
    )


def test_requests_carry_netrc_or_url_credentials_and_no_cookies(
    site: HTTPServer, fetch_settings: FetchSettings, tmp_path: Path, monkeypatch
) -> None:
    """Each request is prepared on its own: credentials of its origin, nothing from earlier URLs."""
    site.expect_request("/login").respond_with_response(
        Response(HTML, content_type="text/html", headers={"Set-Cookie": "session=abc; Path=/"})
    )
    site.expect_request("/page").respond_with_data(HTML, content_type="text/html")
    origin = f"127.0.0.1:{site.port}"  # an IP origin: a cookie jar would keep its cookies
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with open_session(fetch_settings) as session:  # one batch's session, one URL after another
        for path in ("/login", "/page"):
            page = fetch_url(f"http://{origin}{path}", fetch_settings, session=session)
            assert page.outcome == "ok"
    monkeypatch.delenv("NETRC")
    with_userinfo = f"http://bob:pw@{origin}/page"
    assert fetch_url(with_userinfo, fetch_settings).outcome == "ok"
    sent = [request for request, _ in site.log if request.path != "/robots.txt"]
    assert [r.authorization.username for r in sent] == ["alice", "alice", "bob"]
    assert [r.headers.get("Cookie") for r in sent] == [None, None, None]
    assert all(r.headers["User-Agent"] == fetch_settings.user_agent for r in sent)


class RevalidatingHandler(BaseHTTPRequestHandler):
    """Answers every path with HTML and an ETag, or 304 when If-None-Match matches; counts
    the client connections it sees (one setup() per accepted TCP connection)."""

    protocol_version = "HTTP/1.1"
    ETAG = '"v1"'

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def setup(self) -> None:
        super().setup()
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.connections += 1  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        matched = self.headers.get("If-None-Match") == self.ETAG
        body = b"" if matched else HTML.encode()
        self.send_response(304 if matched else 200)
        if not matched:
            self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("ETag", self.ETAG)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.timeout(20)
def test_not_modified_keeps_keep_alive_connections(fetch_settings: FetchSettings) -> None:
    """A 304's empty body is drained so its connection goes back to the pool, not closed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), RevalidatingHandler)
    server.daemon_threads = True
    server.lock, server.connections = threading.Lock(), 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        settings = tuned(fetch_settings, max_workers=4, per_host_concurrency=4, max_retries=0)
        items = [WorkItem(rogue_url(server, f"/page/{i}"), "s") for i in range(100)]
        first = fetch_pages(items, settings)
        assert all(r.outcome == "ok" and r.etag == RevalidatingHandler.ETAG for r in first)
        before = server.connections  # type: ignore[attr-defined]
        second = fetch_pages(items, settings, validators={r.url: (r.etag, None) for r in first})
        opened = server.connections - before  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
    assert [r.outcome for r in second] == ["not_modified"] * len(items)
    assert 1 <= opened <= settings.max_workers, f"{opened} connections for {len(items)} 304s"


# --- robots.txt --------------------------------------------------------------------------------


def test_robots_disallow_fetched_once_per_batch(
    site: HTTPServer, fetch_settings: FetchSettings
) -> None:
    robots = (
        "User-agent: *\nDisallow: /\n\n"
        "User-agent: newsflow\nDisallow: /secret\nAllow: /secret/open\n"
    )
    site.expect_oneshot_request("/robots.txt").respond_with_data(robots, content_type="text/plain")
    for path in ("/secret/x", "/secret/open/y", "/public"):
        site.expect_request(path).respond_with_data(HTML, content_type="text/html")
    items = [WorkItem(site.url_for(p), "s") for p in ("/secret/x", "/secret/open/y", "/public")]
    results = fetch_pages(items, fetch_settings)
    assert [r.outcome for r in results] == ["robots", "ok", "ok"]
    assert "robots.txt" in (results[0].error or "") and hits(site, "/secret/x") == 0
    assert hits(site, "/robots.txt") == 1
    ignoring = fetch_url(site.url_for("/secret/x"), tuned(fetch_settings, respect_robots=False))
    assert ignoring.ok


@pytest.mark.parametrize("status", [500, 503, 429])  # 429: too many requests is not "no file"
def test_robots_500_disallows_everything(
    site: HTTPServer, fetch_settings: FetchSettings, status: int
) -> None:
    site.expect_oneshot_request("/robots.txt").respond_with_data("", status=status)
    site.expect_request("/page").respond_with_data(HTML, content_type="text/html")
    result = fetch_url(site.url_for("/page"), fetch_settings)
    assert result.outcome == "robots" and "unreachable" in (result.error or "")
    assert hits(site, "/page") == 0


def test_robots_rules_longest_match() -> None:
    text = (
        "User-agent: other\nDisallow: /\n\n"
        "User-agent: NewsFlow\nUser-agent: bot2\nDisallow: /*.pdf$\nDisallow: /news\n"
        "Allow: /news/kabul\nDisallow: /news/kabul/private\n# comment\n"
    )
    rules = RobotsRules.parse(text, "newsflow/0.1 (+https://x)", "http://h/robots.txt")
    assert rules.allows("http://h/")
    assert not rules.allows("http://h/news/herat")
    assert rules.allows("http://h/news/kabul/2021")
    assert not rules.allows("http://h/news/kabul/private/1")
    assert not rules.allows("http://h/a/b.pdf") and rules.allows("http://h/a/b.pdf?x=1")
    assert RobotsRules.parse(text, "someone-else", "r").allows("http://h/news/herat")
    tie = RobotsRules.parse("User-agent: *\nDisallow: /\nAllow: /same\nDisallow: /same\n", "n", "r")
    assert tie.allows("http://h/same/1") and not tie.allows("http://h/other")  # allow on ties
    assert tie.allows("http://h/robots.txt")  # the rules themselves stay readable


# --- politeness and batches --------------------------------------------------------------------


def test_per_host_concurrency_limit_holds(
    rogue: ThreadingHTTPServer, fetch_settings: FetchSettings
) -> None:
    items = [WorkItem(rogue_url(rogue, f"/slow-page?i={i}"), "s") for i in range(8)]
    settings = tuned(fetch_settings, per_host_concurrency=2, max_workers=8)
    results = fetch_pages(items, settings)
    assert all(r.ok for r in results)
    assert rogue.max_active == 2  # type: ignore[attr-defined]


def test_per_host_delay_spaces_request_starts(
    rogue: ThreadingHTTPServer, fetch_settings: FetchSettings
) -> None:
    items = [WorkItem(rogue_url(rogue, f"/slow-page?i={i}"), "s") for i in range(3)]
    settings = tuned(fetch_settings, per_host_delay=0.3, per_host_concurrency=3, max_workers=3)
    assert all(r.ok for r in fetch_pages(items, settings))
    starts = sorted(rogue.starts)  # type: ignore[attr-defined]
    assert min(b - a for a, b in zip(starts, starts[1:], strict=False)) >= 0.25


def test_batch_keeps_order_and_every_failure(
    site: HTTPServer, fetch_settings: FetchSettings, tmp_path: Path
) -> None:
    site.expect_request("/ok").respond_with_data(HTML, content_type="text/html")
    site.expect_request("/missing").respond_with_data("", status=404)
    urls = [
        site.url_for("/missing"),
        site.url_for("/ok"),
        "ftp://127.0.0.1/a",
        f"http://127.0.0.1:{closed_port()}/x",
        (tmp_path / "nope.html").as_uri(),
        "http://[::1/broken",
    ]
    items = [WorkItem(url, f"src{i}") for i, url in enumerate(urls)]
    settings = tuned(fetch_settings, max_retries=0)
    results = fetch_pages(items, settings, validators={site.url_for("/ok"): ('"x"', None)})
    assert [r.outcome for r in results] == [
        "http_404",
        "ok",
        "bad_scheme",
        "connection",  # its robots.txt unreachable (RFC 9309: disallow all): a host down
        "not_found",
        "bad_url",
    ]
    assert results[3].error.startswith(f"{urls[3].rsplit('/', 1)[0]}/robots.txt unreachable ")
    assert "refused" in results[3].error
    assert [r.item for r in results] == items
    assert [r.source_name for r in results] == [f"src{i}" for i in range(6)]
    assert all(r.error for r in results if not r.ok) and all(r.fetched_at for r in results)
    assert fetch_pages([], settings) == []


@pytest.mark.parametrize("respect_robots", [True, False])
def test_malformed_host_names_are_bad_urls_not_an_aborted_batch(
    rogue: ThreadingHTTPServer, fetch_settings: FetchSettings, respect_robots: bool
) -> None:
    urls = [
        "http://news..example.com/story",  # an empty label
        f"http://{'a' * 64}.example.com/story",  # a label over 63 characters
        rogue_url(rogue, "/jump-to-bad-host"),
        rogue_url(rogue, "/slow-page"),
    ]
    settings = tuned(fetch_settings, max_retries=0, respect_robots=respect_robots)
    results = fetch_pages([WorkItem(url, "s") for url in urls], settings)
    assert [r.outcome for r in results] == ["bad_url", "bad_url", "bad_url", "ok"]
    assert "news..example.com" in (results[0].error or "") and "not valid" in (
        results[0].error or ""
    )
    assert results[2].final_url == "http://news..example.com/story"


def test_an_unexpected_error_fetching_one_url_is_recorded_as_its_failure(
    site: HTTPServer,
    fetch_settings: FetchSettings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real_decode_text = fetch_module.decode_text

    def decode_text_with_a_bug(body: bytes, header_charset: str | None = None) -> tuple[str, str]:
        if b"poison" in body:
            raise KeyError("charset")
        return real_decode_text(body, header_charset)

    monkeypatch.setattr(fetch_module, "decode_text", decode_text_with_a_bug)
    site.expect_request("/poison").respond_with_data("<p>poison</p>", content_type="text/html")
    site.expect_request("/ok").respond_with_data(HTML, content_type="text/html")
    items = [WorkItem(site.url_for("/poison"), "s"), WorkItem(site.url_for("/ok"), "s")]
    with caplog.at_level(logging.ERROR, logger="tasks.fetch"):
        results = fetch_pages(items, fetch_settings)
    assert [r.outcome for r in results] == ["internal_error", "ok"]
    assert "unexpected KeyError while fetching" in (results[0].error or "")
    assert results[0].item == items[0] and results[0].source_name == "s"
    assert results[0].fetched_at is not None
    assert any(record.exc_info for record in caplog.records)  # the traceback is kept


def test_an_unexpected_errors_record_names_the_url_and_calls_it_a_bug(
    tmp_path: Path,
    fetch_settings: FetchSettings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The whole wording of an internal_error record, and its one log line with the traceback."""

    def read_file_with_a_bug(url: str, settings: FetchSettings, mode: str) -> FetchResult:
        raise KeyError("charset")

    monkeypatch.setattr(fetch_module, "_read_file", read_file_with_a_bug)
    url = (tmp_path / "a.html").as_uri()
    with caplog.at_level(logging.ERROR):
        result = fetch_url(url, fetch_settings, source_name="s")
    assert (result.url, result.source_name, result.outcome) == (url, "s", "internal_error")
    assert result.error == (
        f"unexpected KeyError while fetching {url}: 'charset' "
        "(a bug in newsflow; the traceback is in the log)"
    )
    assert result.fetched_at is not None
    logged = [(r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert logged == [(f"unexpected error while fetching {url}", True)]


# --- files -------------------------------------------------------------------------------------


def test_file_uris_read_from_disk(tmp_path: Path, fetch_settings: FetchSettings) -> None:
    (tmp_path / "a.html").write_text(HTML, encoding="utf-8")
    (tmp_path / "b.txt").write_bytes("Kabul: “captured”, 15 août".encode("cp1252"))
    (tmp_path / "c.html.gz").write_bytes(gzip.compress(FRENCH.encode("cp1252")))
    (tmp_path / "d.pdf").write_bytes(b"%PDF-1.7")
    (tmp_path / "big.htm").write_text("x" * 2000)
    item = lambda name: WorkItem((tmp_path / name).as_uri(), "disk")  # noqa: E731
    names = ["a.html", "b.txt", "c.html.gz", "d.pdf", "missing.html", "big.htm"]
    results = fetch_pages([item(n) for n in names], tuned(fetch_settings, max_bytes=1000))
    assert [r.outcome for r in results] == [
        "ok",
        "ok",
        "ok",
        "content_type",
        "not_found",
        "too_large",
    ]
    html, text, gz = results[:3]
    assert (html.html, html.content_type, html.encoding) == (HTML, "text/html", "utf-8")
    assert text.content_type == "text/plain" and text.html == "Kabul: “captured”, 15 août"
    assert gz.html == FRENCH and gz.encoding == "cp1252" and gz.final_url == item(names[2]).url
    assert all(r.status is None and r.attempts == 1 for r in results)


def test_a_file_name_that_is_not_utf8_is_read(
    tmp_path: Path, fetch_settings: FetchSettings
) -> None:
    latin1_name = tmp_path / os.fsdecode(b"caf\xe9.html")  # as a Latin-1 system saved it
    latin1_name.write_text(HTML, encoding="utf-8")
    page = WorkItem(latin1_name.as_uri(), "disk")  # as the directory walk (discover_files) lists it
    assert page.url.endswith("/caf%E9.html")
    (result,) = fetch_pages([page], fetch_settings)
    assert (result.outcome, result.html) == ("ok", HTML), result.error


# --- Prefect task ------------------------------------------------------------------------------


def test_fetch_batch_task_and_retry_condition(
    site: HTTPServer, fetch_settings: FetchSettings
) -> None:
    site.expect_request("/ok").respond_with_data(HTML, content_type="text/html")
    items = [WorkItem(site.url_for("/ok"), "s"), WorkItem("ftp://x/y", "s")]
    with disable_run_logger():
        results = fetch_batch.fn(items, fetch_settings)
    assert summarize_outcomes(results) == "fetched 2 URLs: ok=1, bad_scheme=1"
    assert fetch_batch.retries == 2
    assert _is_transient_batch_failure(None, None, Failed(data=OSError("EMFILE")))
    assert not _is_transient_batch_failure(None, None, Failed(data=ValueError("bug")))
    assert not _is_transient_batch_failure(None, None, Completed(data=[]))


def test_a_fetched_page_is_held_compressed_and_prefect_passes_it_on_untouched():
    """Pages in flight are kept as compressed UTF-8; Prefect's walk over task arguments must
    neither decompress them nor copy the records (that cost 85 s of a 10 000-page run once)."""
    from prefect.utilities.collections import visit_collection

    html = "<p>Кабул “quoted” 😀 \udc80</p>\n" * 2000  # 2- and 4-byte characters, a lone surrogate
    fetch = FetchResult(url="https://a.example/x", source_name="s", outcome="ok", html=html)
    assert fetch.html == html
    assert len(fetch.page) < len(html) / 20
    assert (
        pickle.loads(pickle.dumps(fetch)) == fetch
        and pickle.loads(pickle.dumps(fetch)).html == html
    )
    visited = visit_collection([fetch], lambda value: value, return_data=True)
    assert visited[0] is fetch
    fetch.html = None
    assert fetch.page is None and fetch.html is None
