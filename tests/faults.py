"""A fault-injection HTTP server on 127.0.0.1: threaded, bounded, with routes that misbehave."""

from __future__ import annotations

import gzip
import socket
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_HANDLERS = 48  # concurrent requests served; more wait (bounded) or are dropped
HANDLER_SECONDS = 8.0  # no route misbehaves for longer than this
MB = 1_000_000
ARTICLE = (
    "<html><head><title>Ghazni falls</title></head><body><article>"
    + "".join(
        f"<p>Paragraph {i}: Taliban fighters entered the provincial capital on Thursday after "
        "government forces withdrew, residents and officials said by telephone.</p>"
        for i in range(12)
    )
    + "</article></body></html>"
)
FRENCH = (
    "<html><body><article><p>Le café était fermé — « naïve » “quoted” résumé, déjà vu, où est "
    "la fenêtre? Ça coûte 5 €. "
    + "Les combattants sont entrés dans la ville jeudi. " * 20
    + "</p></article></body></html>"
)
COOKIE_WALL = (
    "<html><head><title>Before you continue</title></head><body><div>"
    "<h1>We value your privacy</h1><p>We use cookies and similar technologies to deliver our "
    "services. Select Accept all cookies to consent to the use of cookies, or Reject all cookies."
    "</p><button>Accept all cookies</button><button>Reject all</button></div></body></html>"
)
LOGIN_WALL = (
    "<html><head><title>Sign in</title></head><body><div><h1>Members only</h1>"
    "<p>Sign in to continue reading this story. Create a free account to continue reading."
    "</p><form><input name=user><input name=password type=password></form></div></body></html>"
)
NO_ARTICLE = (
    "<html><head><title>Home</title></head><body><nav><a href=/a>World</a> <a href=/b>Asia</a>"
    " <a href=/c>Opinion</a></nav><footer>© 2021 Example News</footer></body></html>"
)

Route = Callable[["FaultHandler"], None]


def enormous_dom(depth: int = 3000, spans: int = 60_000) -> bytes:
    """A page nested thousands of levels deep with tens of thousands of elements (~1.5 MB)."""
    head = "<html><body>" + "<div>" * depth
    body = "".join(f"<span>w{i}</span> " for i in range(spans))
    return (head + body + "</div>" * depth + "</body></html>").encode()


def gzip_bomb() -> bytes:
    """20 MB of spaces in about 20 kB of gzip."""
    return gzip.compress(b" " * (20 * MB), compresslevel=9)


class FaultHandler(BaseHTTPRequestHandler):
    """Dispatches GETs to the server's routes; counts hits; never serves for long."""

    server: FaultServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?", 1)[0]
        self.server.count(path)
        self.server.routes.get(path, not_found)(self)

    def send(self, status: int, body: bytes = b"", **headers: str) -> None:
        """A complete response with an honest Content-Length."""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def pause(self, seconds: float) -> bool:
        """Sleep, but wake at once when the server closes; True while the server runs."""
        return not self.server.stopping.wait(min(seconds, HANDLER_SECONDS))


class FaultServer(ThreadingHTTPServer):
    """One origin on 127.0.0.1 with named misbehaving routes and a robots.txt mode."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # a batch connects all at once; a short backlog adds 1 s SYN retries

    def __init__(self, robots: str = "absent") -> None:
        super().__init__(("127.0.0.1", 0), FaultHandler)
        self.routes: dict[str, Route] = {"/robots.txt": ROBOTS[robots]}
        self.hits: Counter[str] = Counter()
        self.stopping = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_HANDLERS)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve in a thread, at most MAX_HANDLERS at once; drop what waits longer than 5 s."""
        if not self._slots.acquire(timeout=5):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (reset, broken pipe) is expected here; anything else is shown."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def count(self, path: str) -> int:
        with self._lock:
            self.hits[path] += 1
            return self.hits[path]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def page(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8"):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = lambda h: h.send(200, data, Content_Type=content_type)

    def close(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


# --- routes ------------------------------------------------------------------------------------


def not_found(h: FaultHandler) -> None:
    h.send(404, b"not found", Content_Type="text/plain")


def fails_then_succeeds(status: int, times: int = 1, **headers: str) -> Route:
    """`status` for the first `times` requests of a path, then the article."""

    def route(h: FaultHandler) -> None:
        if h.server.hits[h.path.split("?", 1)[0]] <= times:
            h.send(status, b"try later", Content_Type="text/plain", **headers)
        else:
            h.send(200, ARTICLE.encode(), Content_Type="text/html; charset=utf-8")

    return route


def retry_after_date(seconds: int) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)


def busy_until_date(h: FaultHandler) -> None:
    """429 with Retry-After as an HTTP date 2 s ahead, then the article."""
    if h.server.hits["/busy-date"] <= 1:
        h.send(429, b"", Retry_After=retry_after_date(2))
    else:
        h.send(200, ARTICLE.encode(), Content_Type="text/html")


def always(status: int) -> Route:
    return lambda h: h.send(status, b"unavailable", Content_Type="text/plain")


def reset_mid_body(h: FaultHandler) -> None:
    """Promise 50 kB, send 2 kB, then reset the connection (RST, not FIN)."""
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Content-Length", "50000")
    h.end_headers()
    h.wfile.write(ARTICLE.encode()[:2000])
    h.wfile.flush()
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.connection.close()
    h.close_connection = True


def drip(h: FaultHandler) -> None:
    """One byte a second of a 5 kB body, until the client gives up or 8 s pass."""
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Content-Length", "5000")
    h.end_headers()
    for byte in ARTICLE.encode()[:8]:
        try:
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
        except OSError:
            return
        if not h.pause(1.0):
            return


def stall(h: FaultHandler) -> None:
    """No headers for 8 s: the client's read timeout must fire first."""
    if h.pause(HANDLER_SECONDS):
        not_found(h)


def truncated_gzip(h: FaultHandler) -> None:
    """A gzip Content-Encoding whose stream stops early (honest length of what is sent)."""
    packed = gzip.compress(ARTICLE.encode())
    h.send(200, packed[: len(packed) // 2], Content_Type="text/html", Content_Encoding="gzip")


def lying_length(h: FaultHandler) -> None:
    """Content-Length says 20 kB; 1 kB arrives and the connection closes."""
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Content-Length", "20000")
    h.end_headers()
    h.wfile.write(ARTICLE.encode()[:1000])
    h.close_connection = True


def huge_without_length(h: FaultHandler) -> None:
    """4 MB streamed with no Content-Length (read to close)."""
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Connection", "close")
    h.end_headers()
    chunk = b"<p>" + b"x" * 99_993 + b"</p>"
    for _ in range(40):
        try:
            h.wfile.write(chunk)
        except OSError:
            return
    h.close_connection = True


def redirect(location: str) -> Route:
    return lambda h: h.send(302, b"", Location=location)


def robots_stall(h: FaultHandler) -> None:
    stall(h)


ROBOTS: dict[str, Route] = {
    "absent": not_found,
    "disallow": lambda h: h.send(200, b"User-agent: *\nDisallow: /\n", Content_Type="text/plain"),
    "error": always(500),
    "stall": robots_stall,
}


def install_faults(server: FaultServer) -> dict[str, str]:
    """Put every misbehaving route on `server`; returns path -> the outcome the fetcher records."""
    html = "text/html; charset=utf-8"
    bomb = gzip_bomb()
    routes: dict[str, tuple[Route, str]] = {
        "/flaky": (fails_then_succeeds(500), "ok"),
        "/down": (always(503), "http_503"),
        "/busy-seconds": (fails_then_succeeds(429, Retry_After="1"), "ok"),
        "/busy-date": (busy_until_date, "ok"),
        "/reset": (reset_mid_body, "connection"),
        "/drip": (drip, "timeout"),
        "/stall": (stall, "timeout"),
        "/truncated-gzip": (truncated_gzip, "decode"),
        "/lying-length": (lying_length, "connection"),
        "/huge-with-length": (
            lambda h: h.send(200, b"x" * (4 * MB), Content_Type="text/html"),
            "too_large",
        ),
        "/huge-without-length": (huge_without_length, "too_large"),
        "/gzip-bomb": (
            lambda h: h.send(200, bomb, Content_Type="text/html", Content_Encoding="gzip"),
            "too_large",
        ),
        "/binary-as-html": (
            lambda h: h.send(200, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50, Content_Type=html),
            "binary",
        ),
        "/report.pdf": (
            lambda h: h.send(200, b"%PDF-1.7 binary", Content_Type="application/pdf"),
            "content_type",
        ),
        "/wrong-charset": (
            lambda h: h.send(200, FRENCH.encode("cp1252"), Content_Type=html),
            "ok",
        ),
        "/cp1252-no-charset": (
            lambda h: h.send(200, FRENCH.encode("cp1252"), Content_Type="text/html"),
            "ok",
        ),
        "/loop-a": (redirect("/loop-b"), "redirect_loop"),
        "/loop-b": (redirect("/loop-a"), "redirect_loop"),
        "/to-file": (redirect("file:///etc/passwd"), "bad_scheme"),
        "/to-ftp": (redirect("ftp://127.0.0.1/pub/a.html"), "bad_scheme"),
        "/to-private": (redirect("http://10.20.30.40/admin"), "private_host"),
        "/to-metadata": (redirect("http://169.254.169.254/latest/meta-data/"), "private_host"),
        "/empty": (lambda h: h.send(200, b"", Content_Type=html), "empty"),
        "/cookie-wall": (lambda h: h.send(200, COOKIE_WALL.encode(), Content_Type=html), "ok"),
        "/login-wall": (lambda h: h.send(200, LOGIN_WALL.encode(), Content_Type=html), "ok"),
        "/no-article": (lambda h: h.send(200, NO_ARTICLE.encode(), Content_Type=html), "ok"),
        "/enormous-dom": (lambda h: h.send(200, enormous_dom(), Content_Type=html), "ok"),
    }
    server.routes.update({path: route for path, (route, _) in routes.items()})
    outcomes = {path: outcome for path, (_, outcome) in routes.items()}
    del outcomes["/loop-b"]
    return outcomes


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll `condition` for up to `seconds`; whether it became true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
