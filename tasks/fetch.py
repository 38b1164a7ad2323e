"""Fetch pages, feeds and sitemaps over HTTP(S) or from disk, politely and defensively."""

from __future__ import annotations

import codecs
import errno
import gzip
import http.client
import ipaddress
import logging
import os
import random
import re
import socket
import ssl
import stat
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal
from urllib.parse import quote, unquote, unquote_to_bytes, urldefrag, urljoin, urlsplit

import charset_normalizer
import requests
import urllib3
from prefect import get_run_logger, runtime, task
from prefect.cache_policies import NONE as NO_CACHE
from requests.adapters import HTTPAdapter

from tasks.records import FetchResult, KnownFetch, WorkItem
from tasks.settings import FetchSettings

LOGGER = logging.getLogger(__name__)
# Jitter for backoffs, from a generator of our own: a draw from `random`'s shared one would shift
# the sequence of a program that seeded it, and trips Hypothesis's check if it falls while a
# property test generates examples.
_JITTER = random.Random()

Validators = dict[str, tuple[str | None, str | None]]
# A sitemap lastmod at midnight may be a date alone, and a day ends up to two days later in a
# site's own time zone: such a page is unchanged only if it was fetched after that.
SITEMAP_DAY_SLACK = timedelta(days=2)
Accept = Literal["page", "feed", "list"]
_Mode = Literal["page", "feed", "list", "robots"]

HTTP_SCHEMES = frozenset({"http", "https"})
PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})
FEED_TYPES = frozenset(
    {
        "application/xml",
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/json",
        "application/feed+json",
        "application/gzip",
        "application/x-gzip",
        "application/octet-stream",
    }
)
ACCEPT_HEADERS: dict[str, str] = {
    "page": "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8,*/*;q=0.1",
    "feed": "application/rss+xml,application/atom+xml,application/feed+json,application/xml;q=0.9,"
    "text/xml;q=0.9,application/json;q=0.8,*/*;q=0.5",
    "list": "text/plain,text/*;q=0.9,*/*;q=0.1",
    "robots": "text/plain,*/*;q=0.5",
}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ROBOTS_MAX_BYTES = 512_000  # RFC 9309 2.5: parse at least the first 500 KiB
# Feeds and sitemaps: the sitemap protocol's own cap (50,000 URLs, 50 MB uncompressed), which
# max_bytes (a page's cap, 5 MB by default) would refuse as too_large.
DOCUMENT_MAX_BYTES = 50_000_000
CHUNK_BYTES = 65_536
SNIFF_BYTES = 4096
FILE_TYPES = {".html": "text/html", ".htm": "text/html", ".txt": "text/plain"}
FEED_FILE_TYPES = {
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".json": "application/json",
}
GZIP_MAGIC = b"\x1f\x8b"
BINARY_MAGIC = (b"%PDF-", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"PK\x03\x04", GZIP_MAGIC, b"Rar!")
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# WHATWG Encoding Standard: these labels mean windows-1252 on the web.
WEB_CHARSET_ALIASES = {"iso8859-1": "cp1252", "ascii": "cp1252"}
DETECTION_TIE = 0.1  # charset_normalizer "chaos" within which windows-1252 is preferred

_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml\b[^>]*?encoding\s*=\s*["']([\w.:-]+)""", re.I)
_ROBOTS_LINE = re.compile(r"^\s*([A-Za-z-]+)\s*:\s*(.*?)\s*$")
_ROBOTS_SAFE = "/?=&;:@!$'()*+,~-._"


class _FetchFailure(Exception):
    """A known reason a URL could not be fetched; it becomes a FetchResult, never escapes."""

    def __init__(
        self,
        outcome: str,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        response: _Response | None = None,
        bytes_read: int = 0,
    ) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.response = response
        self.bytes_read = bytes_read
        self.final_url: str | None = None


class FetchStopped(Exception):
    """The flow run stopped (Ctrl-C, a cancellation, a failed stage): this URL is not requested."""


_STOPPED_RUNS: set[str] = set()
_STOPS = threading.Condition()  # wakes the batches' retry pauses when a run stops
_UNDER_WAY: dict[str, set[socket.socket]] = {}  # a run's requests under way (guarded by _STOPS)
_REQUESTING = threading.local()  # the run a thread's request is for, and its sockets


def stop_fetching(run_id: str) -> None:
    """Ask the fetch batches of this flow run to request nothing more, and end its requests
    under way. A Ctrl-C waited for the rest of the batch in flight (up to 200 pages: minutes, on
    one slow host) and its retries' pauses, then for a request to a site that answers nothing,
    up to the read timeout (20 s). Runs of other flows in the process fetch on."""
    with _STOPS:
        _STOPPED_RUNS.add(run_id)
        _STOPS.notify_all()
        for sock in _UNDER_WAY.pop(run_id, set()):
            _cut(sock)


def _cut(sock: socket.socket) -> None:
    """End a request under way: the thread waiting on its socket wakes, the connection broken.
    (socket.socket's shutdown on a TLS socket too: SSLSocket's own unwraps it under its
    reader, which then failed with ValueError, not a connection error.)"""
    with suppress(OSError):  # closed meanwhile
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


@contextmanager
def _requesting_for(run_id: str | None) -> Iterator[None]:
    """Around one request: the sockets it waits on (_StoppableConnection) are the run's, which
    stop_fetching cuts."""
    outer = getattr(_REQUESTING, "run_id", None), getattr(_REQUESTING, "sockets", [])
    _REQUESTING.run_id, _REQUESTING.sockets = run_id, []
    try:
        yield
    finally:
        with _STOPS:
            under_way = _UNDER_WAY.get(run_id or "", set())
            under_way.difference_update(_REQUESTING.sockets)
            if not under_way:
                _UNDER_WAY.pop(run_id or "", None)
        _REQUESTING.run_id, _REQUESTING.sockets = outer


class _StoppableConnection:
    """A connection whose wait for its response (and the body read after it) its run's stop
    ends: its socket is recorded, as the request is sent, for stop_fetching."""

    sock: socket.socket | None

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        run_id, sock = getattr(_REQUESTING, "run_id", None), self.sock
        if run_id is not None and sock is not None:
            with _STOPS:
                if run_id in _STOPPED_RUNS:
                    _cut(sock)
                else:
                    _UNDER_WAY.setdefault(run_id, set()).add(sock)
                    _REQUESTING.sockets.append(sock)
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _StoppableHTTPConnection(_StoppableConnection, urllib3.connection.HTTPConnection):
    pass


class _StoppableHTTPSConnection(_StoppableConnection, urllib3.connection.HTTPSConnection):
    pass


class _StoppableHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _StoppableHTTPConnection


class _StoppableHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _StoppableHTTPSConnection


_STOPPABLE_POOLS = {"http": _StoppableHTTPPool, "https": _StoppableHTTPSPool}


class _StoppableAdapter(HTTPAdapter):
    """requests' adapter whose connections a run's stop ends (_StoppableConnection), through
    a proxy too."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _STOPPABLE_POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _STOPPABLE_POOLS
        return manager


@dataclass
class _Response:
    """One HTTP response (or file read), headers parsed, body decoded from its Content-Encoding."""

    url: str
    status: int | None
    media_type: str | None = None
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    location: str | None = None
    body: bytes = b""


_QUEUED = threading.local()  # a thread's wait for its hosts' turns, left out of elapsed_ms


class HostLimiter:
    """Per-host politeness for one batch: N requests in flight at most, a gap between starts,
    and none while the host asked to wait (Retry-After)."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self._concurrency = concurrency
        self._delay = delay
        self._lock = threading.Lock()
        self._semaphores: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}
        self._held_until: dict[str, float] = {}

    @contextmanager
    def slot(self, host: str, pause: Callable[[float], None] = time.sleep) -> Iterator[None]:
        """Hold one of the host's request slots, starting no sooner than its next allowed start;
        `pause` waits (a batch's ends at its run's stop)."""
        with self._lock:
            semaphore = self._semaphores.setdefault(
                host, threading.BoundedSemaphore(self._concurrency)
            )
        waited = time.monotonic()
        with semaphore:  # another request to the host under way: its wait is the host's too
            self._wait_turn(host, pause)
            _QUEUED.seconds = getattr(_QUEUED, "seconds", 0.0) + time.monotonic() - waited
            yield

    def hold(self, host: str, seconds: float) -> None:
        """The host answered 429 or 503 with Retry-After: no request to it for `seconds`. Each
        URL waited out its own Retry-After, and the batch's other URLs of the host were asked
        meanwhile, one every per_host_delay, each told to wait in turn."""
        with self._lock:
            until = time.monotonic() + seconds
            self._held_until[host] = max(self._held_until.get(host, 0.0), until)
            self._next_start[host] = max(self._next_start.get(host, 0.0), until)

    def _wait_turn(self, host: str, pause: Callable[[float], None]) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start.get(host, now))
            self._next_start[host] = start + self._delay
        if start > now:
            pause(start - now)
        held = self._held_until.get(host, 0.0) - time.monotonic()  # a hold that came meanwhile
        if held > 0:
            pause(held)


@dataclass
class RobotsRules:
    """The robots.txt rules for one user agent (RFC 9309: longest match wins, allow on ties)."""

    rules: list[tuple[bool, re.Pattern[str], int]]
    source: str
    blocked_reason: str | None = None  # set when robots.txt was unreachable: everything disallowed
    blocked_outcome: str = "robots"  # of the pages it blocks: "dns", "connection" … for a host down

    @classmethod
    def parse(cls, text: str, agent: str, source: str) -> RobotsRules:
        """Parse robots.txt; keep the groups for `agent` (its product token), else for `*`."""
        token = _product_token(agent)
        groups = _robots_groups(text)
        chosen = [rules for agents, rules in groups if token in agents]
        if not chosen:
            chosen = [rules for agents, rules in groups if "*" in agents]
        compiled = [
            (allow, _robots_pattern(path), len(path))
            for rules in chosen
            for allow, path in rules
            if path
        ]
        return cls(rules=compiled, source=source)

    def allows(self, url: str) -> bool:
        """Whether `url` may be fetched under these rules."""
        if self.blocked_reason is not None:
            return False
        parts = urlsplit(url)
        path = _robots_path((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        if path == "/robots.txt":
            return True
        best: tuple[int, bool] | None = None
        for allow, pattern, length in self.rules:
            if pattern.match(path) and (best is None or (length, allow) > best):
                best = (length, allow)
        return best is None or best[1]


class RobotsCache:
    """robots.txt rules per origin for one batch: each file fetched once, by one thread."""

    def __init__(self, agent: str, fetch_robots: Callable[[str], FetchResult]) -> None:
        self._agent = agent
        self._fetch_robots = fetch_robots
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._rules: dict[str, RobotsRules] = {}

    def rules_for(self, url: str) -> RobotsRules:
        """The rules for the origin of `url`, fetching its robots.txt on first use."""
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        with self._guard:
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock:
            if origin not in self._rules:
                self._rules[origin] = self._load(origin + "/robots.txt")
            return self._rules[origin]

    def _load(self, robots_url: str) -> RobotsRules:
        result = self._fetch_robots(robots_url)
        if result.ok:
            return RobotsRules.parse(result.html or "", self._agent, robots_url)
        status = result.status or 0
        unavailable = result.outcome in {
            "empty",
            "too_many_redirects",
            "redirect_loop",
            "bad_scheme",
        }
        if unavailable or (400 <= status < 500 and status != 429):
            return RobotsRules(rules=[], source=robots_url)  # RFC 9309 2.3.1.3: allow all
        if result.outcome == "dns":  # no such host: its pages fail as they would unchecked
            return RobotsRules(
                rules=[], source=robots_url, blocked_reason=result.error, blocked_outcome="dns"
            )
        reason = f"{robots_url} unreachable ({result.error}); RFC 9309 says disallow all"
        LOGGER.info("robots: %s", reason)
        # a host that cannot be reached (refused, timed out, a failed TLS handshake) is a site
        # down, and its pages say so: as `robots`, a monitor read it as a site forbidding them
        down = result.outcome in {"connection", "timeout", "tls"}
        return RobotsRules(
            rules=[],
            source=robots_url,
            blocked_reason=reason,
            blocked_outcome=result.outcome if down else "robots",
        )


@dataclass(frozen=True)
class _OriginEnvironment:
    """What the environment says about requests to one origin (keyword arguments of a request)."""

    proxies: dict[str, str]
    auth: tuple[str, str] | None
    verify: str | bool


def _ca_bundle() -> str | bool:
    """The CA bundle requests would take from the environment, else its own (True)."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


@dataclass
class FetchBatch:
    """What the URLs of one batch share: settings, one session, politeness and the robots cache
    (open_batch makes one; fetch_pages makes its own)."""

    settings: FetchSettings
    session: requests.Session
    limiter: HostLimiter
    robots: RobotsCache | None = None
    run_id: str | None = None  # the flow run fetching, whose stop_fetching ends the batch
    _origins: dict[str, _OriginEnvironment] = field(default_factory=dict)

    def stopped(self) -> bool:
        """Whether the run fetching this batch was stopped (stop_fetching)."""
        return self.run_id is not None and self.run_id in _STOPPED_RUNS

    def check_not_stopped(self, url: str) -> None:
        """Raise FetchStopped once the run fetching this batch was stopped."""
        if self.stopped():
            raise FetchStopped(f"flow run {self.run_id} stopped: {url} not requested")

    def pause(self, seconds: float) -> None:
        """Wait before a retry (up to backoff_max, 30 s); the run's stop ends the wait."""
        with _STOPS:
            _STOPS.wait_for(self.stopped, timeout=seconds)

    def environment_for(self, url: str) -> _OriginEnvironment:
        """Proxies (http_proxy, no_proxy, …), .netrc credentials and the CA bundle for the URL's
        origin, read from the environment once per origin and batch: a session that trusts the
        environment re-reads os.environ on every request (a third of the client CPU of a 304)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        origin = f"{scheme}://{parts.netloc.lower()}"
        if origin not in self._origins:
            self._origins[origin] = _OriginEnvironment(
                proxies=requests.utils.get_environ_proxies(url),
                auth=requests.utils.get_netrc_auth(url),
                verify=_ca_bundle() if scheme == "https" else True,  # no TLS on plain http
            )
        return self._origins[origin]


def _product_token(agent: str) -> str:
    """`newsflow/0.1 (+https://…)` -> `newsflow`: the token robots.txt groups name."""
    return agent.split("/", 1)[0].split()[0].strip().lower() if agent.strip() else "*"


def _robots_groups(text: str) -> list[tuple[set[str], list[tuple[bool, str]]]]:
    """Group robots.txt lines: consecutive user-agent lines share the rules that follow them."""
    groups: list[tuple[set[str], list[tuple[bool, str]]]] = []
    in_rules = True
    for raw_line in text.splitlines():
        match = _ROBOTS_LINE.match(raw_line.split("#", 1)[0])
        if not match:
            continue
        key, value = match[1].lower(), match[2]
        if key == "user-agent":
            if in_rules:
                groups.append((set(), []))
                in_rules = False
            groups[-1][0].add(value.split("/", 1)[0].strip().lower())
        elif key in {"allow", "disallow"} and groups:
            groups[-1][1].append((key == "allow", value))
            in_rules = True
    return groups


def _robots_path(path: str) -> str:
    """Normalise percent-encoding so robots patterns and URL paths compare byte for byte."""
    return quote(unquote(path), safe=_ROBOTS_SAFE)


def _robots_pattern(path: str) -> re.Pattern[str]:
    """A robots.txt path pattern (`*` any run, trailing `$` end) as an anchored regex."""
    if not path.startswith(("/", "*")):
        path = "/" + path
    anchored = path.endswith("$")
    body = _robots_path(path[:-1] if anchored else path)
    regex = ".*".join(re.escape(piece) for piece in body.split("*"))
    return re.compile(regex + (r"\Z" if anchored else ""))


def is_public_address(address: str) -> bool:
    """Whether an IP is globally routable (not private, loopback, link-local or reserved)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    special = (
        ip.is_private,
        ip.is_loopback,
        ip.is_link_local,
        ip.is_reserved,
        ip.is_multicast,
        ip.is_unspecified,
    )
    return ip.is_global and not any(special)


def _unresolved(host: str, exc: socket.gaierror) -> _FetchFailure:
    """A host name that does not resolve: retried only when the resolver says to try again."""
    transient = exc.errno == socket.EAI_AGAIN
    return _FetchFailure("dns", f"cannot resolve host {host}: {exc.strerror}", retryable=transient)


def _refuse_private_host(host: str, port: int) -> None:
    """Resolve `host` and refuse it when any address it resolves to is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise _unresolved(host, exc) from exc
    except UnicodeError as exc:
        raise _FetchFailure("bad_url", f"host name {host!r} is not valid: {exc}") from exc
    for *_, sockaddr in infos:
        if not is_public_address(str(sockaddr[0])):
            raise _FetchFailure(
                "private_host",
                f"host {host} resolves to non-public address {sockaddr[0]}; refused "
                "(set allow_private_hosts to fetch private, loopback or link-local hosts)",
            )


def _check_target(url: str, batch: FetchBatch, mode: _Mode, via: str | None) -> None:
    """Refuse a URL before any request: scheme, host, private addresses, robots.txt."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in HTTP_SCHEMES:
        prefix = f"redirect from {via} to {url}" if via else f"URL {url}"
        raise _FetchFailure("bad_scheme", f"{prefix} refused: only http and https are fetched")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise _FetchFailure("bad_url", f"URL {url} is not valid: {exc}") from exc
    if not host:
        raise _FetchFailure("bad_url", f"URL {url} has no host")
    try:
        host.encode("idna")  # what the connection does: an empty or 64+ character label fails
    except UnicodeError as exc:
        raise _FetchFailure("bad_url", f"host name {host!r} in {url} is not valid: {exc}") from exc
    if not batch.settings.allow_private_hosts:
        _refuse_private_host(host, port or (443 if parts.scheme.lower() == "https" else 80))
    if mode != "robots" and batch.robots is not None:
        rules = batch.robots.rules_for(url)
        if not rules.allows(url):
            reason = rules.blocked_reason or (
                f"{url} is disallowed by {rules.source} for user agent "
                f"{_product_token(batch.settings.user_agent)!r}"
            )
            raise _FetchFailure(rules.blocked_outcome, reason)


def _parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """`text/html; charset=UTF-8` -> ("text/html", "UTF-8")."""
    if not value:
        return None, None
    media_type = value.split(";", 1)[0].strip().lower() or None
    match = _CHARSET_PARAM.search(value)
    return media_type, (match[1] if match else None)


def _parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds, from delta-seconds or an HTTP date; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _content_type_allowed(media_type: str | None, mode: _Mode) -> bool:
    """Pages take HTML, XHTML, plain text; feeds take XML, JSON, gzip, text; URL lists any text
    (a .csv, a list served as octet-stream: it is read one URL a line); robots anything."""
    if mode == "robots" or media_type is None:
        return True
    if mode == "page":
        return media_type in PAGE_TYPES
    if mode == "list":
        return (
            media_type in PAGE_TYPES
            or media_type.startswith("text/")
            or media_type == "application/octet-stream"
        )
    return (
        media_type in FEED_TYPES
        or media_type.startswith("text/")
        or media_type.endswith(("+xml", "+json"))
    )


def _request_headers(
    settings: FetchSettings, validators: tuple[str | None, str | None] | None, mode: _Mode
) -> dict[str, str]:
    headers = {
        "User-Agent": settings.user_agent,
        "Accept": ACCEPT_HEADERS[mode],
        "Accept-Encoding": "gzip, deflate",
    }
    etag, last_modified = validators or (None, None)
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _innermost_error(exc: BaseException) -> BaseException:
    """The error under requests' and urllib3's wrappers (ConnectionError holds a MaxRetryError,
    whose reason holds a NameResolutionError or NewConnectionError raised from the socket's
    error): what the system said, without the wrappers' reprs."""
    seen = {id(exc)}
    while True:
        reason = getattr(exc, "reason", None)
        first_arg = exc.args[0] if exc.args else None
        inner = next(
            (e for e in (reason, exc.__cause__, first_arg) if isinstance(e, BaseException)), None
        )
        if inner is None or id(inner) in seen:
            return exc
        seen.add(id(inner))
        exc = inner


def _failure_from_request_error(
    exc: requests.RequestException, s: FetchSettings, url: str
) -> _FetchFailure:
    """Map what requests raised before the headers arrived to an outcome, retryable or not.

    A host that does not resolve is `dns` here too: with private hosts allowed, nothing resolves
    it before the request (_refuse_private_host), and it was a `connection` failure, retried.
    A proxy's failure keeps requests' whole message, which names the proxy."""
    detail = str(exc)[:300]
    proxy = isinstance(exc, requests.exceptions.ProxyError)
    innermost = exc if proxy else _innermost_error(exc)
    if isinstance(innermost, socket.gaierror):
        return _unresolved(urlsplit(url).hostname or url, innermost)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return _FetchFailure(
            "timeout", f"no connection within {s.connect_timeout:g} s", retryable=True
        )
    if isinstance(exc, requests.exceptions.ReadTimeout):
        message = f"no response within {s.read_timeout:g} s (read_timeout)"
        return _FetchFailure("timeout", message, retryable=True)
    if isinstance(exc, requests.exceptions.SSLError):
        return _FetchFailure("tls", f"TLS handshake failed: {_tls_reason(innermost, detail)}")
    bad_url = (
        requests.exceptions.InvalidURL,
        requests.exceptions.InvalidSchema,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidHeader,
    )
    if isinstance(exc, bad_url):
        return _FetchFailure("bad_url", f"URL refused by the HTTP client: {detail}")
    if isinstance(
        exc, requests.exceptions.ConnectionError | requests.exceptions.ChunkedEncodingError
    ):
        if isinstance(innermost, OSError) and innermost.strerror:
            detail = innermost.strerror  # "Connection refused", not the wrappers' reprs
        return _FetchFailure("connection", f"connection failed: {detail}", retryable=True)
    return _FetchFailure("request_error", f"request failed: {detail}")


def _tls_reason(error: BaseException, detail: str) -> str:
    """What the TLS library said, not the wrappers' reprs (`HTTPSConnectionPool(host=…): Max
    retries exceeded … (Caused by SSLError(SSLError(1, '[SSL: WRONG_VERSION_NUMBER] …`):
    `wrong version number`, `certificate verify failed: self-signed certificate`."""
    if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
        return f"certificate verify failed: {error.verify_message}"
    if isinstance(error, ssl.SSLError) and error.reason:
        return error.reason.lower().replace("_", " ")
    return detail


class GzipMembers:
    """Gunzips bytes fed in chunks that hold one gzip member or several (RFC 1952 allows a
    series, as `cat a.gz b.gz` makes); zero bytes between or after members are padding."""

    def __init__(self) -> None:
        self._member = zlib.decompressobj(16 + zlib.MAX_WBITS)

    @property
    def eof(self) -> bool:
        """Whether the last member read so far is complete (the whole stream, at its end)."""
        return self._member.eof

    def decompress(self, data: bytes, limit: int) -> bytes:
        """At most `limit` bytes (> 0) of output; input left over at the cap is dropped."""
        out = bytearray()
        while data and len(out) < limit:
            if self._member.eof:
                data = data.lstrip(b"\x00")
                if not data:
                    break
                self._member = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += self._member.decompress(data, limit - len(out))
            data = self._member.unused_data if self._member.eof else b""
        return bytes(out)

    def flush(self) -> bytes:
        return self._member.flush()


class GunzipError(Exception):
    """Why gzip bytes were refused: `problem` is "corrupt" (zlib's words in `detail`),
    "too_large" (over the cap once decompressed) or "truncated" (cut after `decoded` bytes)."""

    def __init__(
        self, problem: Literal["corrupt", "too_large", "truncated"], decoded: int, detail: str = ""
    ) -> None:
        super().__init__(problem)
        self.problem, self.decoded, self.detail = problem, decoded, detail


def gunzip_capped(body: bytes, cap: int) -> bytes:
    """Every gzip member of a whole body (a sitemap.xml.gz), refusing more than `cap` bytes once
    decompressed, so a small bomb cannot fill memory, and a stream cut short.

    Raises:
        GunzipError: the fetcher and the feed and sitemap readers each word it for their record.
    """
    members = GzipMembers()
    try:
        out = members.decompress(body, cap + 1)
    except zlib.error as exc:
        raise GunzipError("corrupt", 0, str(exc)) from exc
    if len(out) > cap:
        raise GunzipError("too_large", cap)
    if not members.eof:
        raise GunzipError("truncated", len(out))
    return out


def _content_decoder(content_encoding: str | None) -> Any:
    """A zlib decompressor for gzip/deflate bodies, None for identity; others are refused."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return None
    if codings in (["gzip"], ["x-gzip"]):
        return GzipMembers()
    if codings == ["deflate"]:
        return zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib or gzip header, auto-detected
    raise _FetchFailure(
        "content_encoding",
        f"unsupported Content-Encoding {content_encoding!r} (only gzip and deflate are asked for)",
    )


def _decompress(decoder: Any, chunk: bytes, limit: int) -> bytes:
    """Decompress at most `limit` bytes of output, so a gzip bomb cannot outgrow the byte cap."""
    try:
        return decoder.decompress(chunk, limit) if chunk else decoder.flush()
    except zlib.error as exc:
        raise _FetchFailure("decode", f"corrupt compressed body: {exc}") from exc


def _read_chunk(raw: urllib3.HTTPResponse, deadline: float, s: FetchSettings, got: int) -> bytes:
    """One read of whatever bytes are available, never waiting past the attempt's deadline."""
    remaining = deadline - time.monotonic()
    total = f"total timeout {s.total_timeout:g} s exceeded after {got} bytes"
    # not retried: a server that answers, but too slowly to send a page in total_timeout, does
    # so again (a trickling one held a run 4 minutes over 4 attempts)
    if remaining <= 0:
        raise _FetchFailure("timeout", total, bytes_read=got)
    sock = getattr(raw.connection, "sock", None)
    if sock is not None:
        sock.settimeout(min(s.read_timeout, remaining))
    try:
        return raw.read1(CHUNK_BYTES, decode_content=False)
    except urllib3.exceptions.ReadTimeoutError as exc:
        if time.monotonic() >= deadline - 0.05:
            raise _FetchFailure("timeout", total, bytes_read=got) from exc
        message = f"no data for {s.read_timeout:g} s (read_timeout) after {got} bytes"
        raise _FetchFailure("timeout", message, retryable=True, bytes_read=got) from exc
    except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
        message = f"connection broke after {got} bytes of the body: {exc}"
        raise _FetchFailure("connection", message, retryable=True, bytes_read=got) from exc


def _byte_cap(mode: _Mode, s: FetchSettings) -> int:
    """The most decoded bytes a body may have: pages max_bytes, documents (feeds, sitemaps, URL
    lists) far more."""
    if mode == "robots":
        return ROBOTS_MAX_BYTES
    return s.max_bytes if mode == "page" else DOCUMENT_MAX_BYTES


def _byte_cap_name(mode: _Mode) -> str:
    """What the cap of `mode` is called in messages, so a user knows what would raise it."""
    return {"page": "max_bytes", "robots": "the robots.txt cap"}.get(mode, "the document cap")


def _read_body(
    raw: urllib3.HTTPResponse,
    content_encoding: str | None,
    deadline: float,
    s: FetchSettings,
    cap: int,
    *,
    cap_name: str,
    truncate: bool,
) -> bytes:
    """Stream the body, gunzipping as it comes; stop at `cap` decoded bytes or at the deadline."""
    decoder = _content_decoder(content_encoding)
    body = bytearray()
    while True:
        chunk = _read_chunk(raw, deadline, s, len(body))
        room = cap + 1 - len(body)
        body += chunk[:room] if decoder is None else _decompress(decoder, chunk, room)
        if len(body) > cap:
            if truncate:
                return bytes(body[:cap])
            message = f"body exceeds {cap_name} {cap} (decoded bytes; stopped while streaming)"
            raise _FetchFailure("too_large", message, bytes_read=len(body))
        if not chunk:
            if decoder is not None and not decoder.eof:
                message = f"compressed body ends mid-stream after {len(body)} decoded bytes"
                raise _FetchFailure("decode", message + " (truncated)", bytes_read=len(body))
            return bytes(body)


def _read_response(
    url: str, response: requests.Response, deadline: float, s: FetchSettings, mode: _Mode
) -> _Response:
    """Turn one HTTP response into a _Response (a redirect, a 304 or a body) or a failure."""
    headers = response.headers
    media_type, charset = _parse_content_type(headers.get("Content-Type"))
    result = _Response(url, response.status_code, media_type, charset)
    result.etag, result.last_modified = headers.get("ETag"), headers.get("Last-Modified")
    status = response.status_code
    if status in REDIRECT_STATUSES and headers.get("Location"):
        result.location = headers["Location"]
        return result
    if status == 304:
        # A 304 has no content (RFC 9110 15.4.5): reading its empty body hands the connection
        # back to the pool; closing it unread would cost every revalidation a new connection.
        response.raw.drain_conn()
        return result
    if status == 429 or status >= 500:
        retry_after = _parse_retry_after(headers.get("Retry-After"))
        message = f"HTTP {status} {response.reason}"
        raise _FetchFailure(
            f"http_{status}", message, retryable=True, retry_after=retry_after, response=result
        )
    if not 200 <= status < 300:
        message = f"HTTP {status} {response.reason} (not retried)"
        raise _FetchFailure(f"http_{status}", message, response=result)
    if not _content_type_allowed(media_type, mode):
        message = f"content type {media_type} is not accepted for a {mode}"
        raise _FetchFailure("content_type", message, response=result)
    cap, cap_name = _byte_cap(mode, s), _byte_cap_name(mode)
    length = headers.get("Content-Length", "")
    if mode != "robots" and length.isdigit() and int(length) > cap:
        message = f"Content-Length {length} exceeds {cap_name} {cap}; not downloaded"
        raise _FetchFailure("too_large", message, response=result)
    encoding = headers.get("Content-Encoding")
    try:
        result.body = _read_body(
            response.raw, encoding, deadline, s, cap, cap_name=cap_name, truncate=mode == "robots"
        )
    except _FetchFailure as failure:
        failure.response = result
        raise
    return result


def _prepared_get(
    url: str, headers: dict[str, str], auth: tuple[str, str] | None
) -> requests.PreparedRequest:
    """A GET as requests' Session would prepare it, minus what we never use (cookies, hooks,
    session-level merging): a third of the client CPU of a 304 goes into that merging."""
    prepared = requests.PreparedRequest()
    prepared.prepare_method("GET")
    prepared.prepare_url(url, None)
    prepared.prepare_headers(headers)
    prepared.prepare_body(None, None)
    prepared.prepare_auth(auth, url)  # .netrc credentials, else any in the URL itself
    return prepared


def _request(
    url: str, batch: FetchBatch, validators: tuple[str | None, str | None] | None, mode: _Mode
) -> _Response:
    """One GET (redirects not followed) in the host's politeness slot, read within total_timeout."""
    s = batch.settings
    headers = _request_headers(s, validators, mode)
    environment = batch.environment_for(url)
    with batch.limiter.slot(_host(url), batch.pause):
        batch.check_not_stopped(url)  # a host's slot can take long to come: ask again now
        deadline = time.monotonic() + s.total_timeout
        with _requesting_for(batch.run_id):
            try:
                response = batch.session.get_adapter(url).send(
                    _prepared_get(url, headers, environment.auth),
                    stream=True,
                    timeout=(s.connect_timeout, s.read_timeout),
                    verify=environment.verify,
                    proxies=environment.proxies,
                )
            except requests.RequestException as exc:
                raise _failure_from_request_error(exc, s, url) from exc
            except urllib3.exceptions.LocationValueError as exc:  # escapes requests unwrapped
                raise _FetchFailure("bad_url", f"URL refused by the HTTP client: {exc}") from exc
            try:
                return _read_response(url, response, deadline, s, mode)
            finally:
                response.close()


def _host(url: str) -> str:
    """The host a URL's politeness is counted by (HostLimiter)."""
    return (urlsplit(url).hostname or "").lower()


def _resolve_url(base: str | None, link: str) -> str:
    """`link` made absolute against `base`, fragment dropped; a malformed URL is refused."""
    try:
        absolute = urldefrag(urljoin(base, link) if base else link).url
        urlsplit(absolute).port  # noqa: B018 - raises ValueError on a bad host or port
        return absolute
    except ValueError as exc:
        where = f"redirect from {base} to {link!r}" if base else f"URL {link!r}"
        raise _FetchFailure("bad_url", f"{where} is not a valid URL: {exc}") from exc


def _follow_redirects(
    url: str, batch: FetchBatch, validators: tuple[str | None, str | None] | None, mode: _Mode
) -> _Response:
    """Request `url`, following up to max_redirects redirects by hand, each target checked."""
    current, via = _resolve_url(None, url), None
    seen: set[str] = set()
    for _ in range(batch.settings.max_redirects + 1):
        seen.add(current)
        try:
            _check_target(current, batch, mode, via)
            response = _request(current, batch, validators, mode)
            target = None if response.location is None else _resolve_url(current, response.location)
        except _FetchFailure as failure:
            failure.final_url = current
            raise
        if target is None:
            return response
        if target in seen:
            failure = _FetchFailure(
                "redirect_loop", f"redirect loop: {current} -> {target}", response=response
            )
            failure.final_url = current
            raise failure
        current, via = target, current
    failure = _FetchFailure(
        "too_many_redirects",
        f"more than {batch.settings.max_redirects} redirects (max_redirects); next was {current}",
        response=response,
    )
    failure.final_url = via
    raise failure


def _retry_delay(
    failure: _FetchFailure, attempt: int, max_retries: int, s: FetchSettings
) -> float | None:
    """Seconds to wait before the next attempt, or None to give up (the reason added to failure)."""
    if not failure.retryable:
        return None
    if attempt > max_retries:
        failure.message += f" (gave up after {attempt} attempts)"
        return None
    if failure.retry_after is not None:
        if failure.retry_after > s.backoff_max:
            failure.message += (
                f"; server asked to retry after {failure.retry_after:.0f} s (Retry-After), "
                f"more than backoff_max {s.backoff_max:g} s: gave up"
            )
            return None
        return failure.retry_after
    ceiling = min(s.backoff_max, s.backoff_base * 2 ** (attempt - 1))
    return ceiling / 2 + _JITTER.uniform(0, ceiling / 2)


def _looks_binary(body: bytes) -> bool:
    """NUL bytes or a known binary signature near the start, unless a UTF-16 BOM explains them."""
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    head = body[:SNIFF_BYTES]
    return head.startswith(BINARY_MAGIC) or b"\x00" in head


def _charset_name(label: str | None) -> str | None:
    """A Python codec name for a charset label, with the web's windows-1252 aliases applied."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return WEB_CHARSET_ALIASES.get(name, name)


def _bom_charset(body: bytes) -> list[str]:
    """The charset a byte-order mark names, which nothing else overrides."""
    return [name for bom, name in BOMS if body.startswith(bom)][:1]


def _declared_charsets(body: bytes, header_charset: str | None) -> list[str]:
    """Charsets the document declares, in order: HTTP header, <meta> or XML declaration.

    A claim of UTF-16 or UTF-32 means UTF-8: without a byte-order mark, a document read this far
    holds no NUL bytes (_looks_binary), so it is ASCII-compatible, whatever it says.
    """
    candidates = [_charset_name(header_charset)]
    head = body[:SNIFF_BYTES]
    for regex in (_META_CHARSET, _XML_ENCODING):
        match = regex.search(head)
        candidates.append(_charset_name(match[1].decode("ascii", "replace")) if match else None)
    names = (
        "utf-8" if name.startswith(("utf-16", "utf-32")) else name for name in candidates if name
    )
    return list(dict.fromkeys(names))


def _decode_with_stray_bytes(body: bytes, declared: list[str]) -> tuple[str, str] | None:
    """The first declared charset that holds for most of the text, its few bad bytes replaced
    (as browsers do); None when bad bytes outnumber the other non-ASCII characters, as in a page
    written in another charset than it declares."""
    for name in declared:
        try:
            text = body.decode(name, "replace")
        except (UnicodeError, LookupError):  # a label naming no text codec ("idna", "base64")
            continue
        stray = text.count("\ufffd")
        fitting = sum(1 for char in text if char > "\x7f") - stray
        if stray <= fitting:
            LOGGER.info("%d bytes not %s replaced (the charset the document declares)", stray, name)
            return text, name
    return None


def decode_text(body: bytes, header_charset: str | None = None) -> tuple[str, str]:
    """Decode a document: BOM, then UTF-8, then the header charset, <meta>/XML declaration,
    then detection.

    Bytes beyond ASCII that decode as UTF-8 are UTF-8 whatever the document declares: pages
    saved or re-served as UTF-8 keep their old `<meta charset="iso-8859-2">` or header, while
    text in another charset almost never happens to be valid UTF-8 (trafilatura decides the same
    way). An ASCII document is read by its declaration first: ISO-2022-JP is 7-bit, escapes and
    all. If nothing decodes strictly, the first declared charset that fits most of the text
    decodes it with its stray bytes replaced, and detection is the last resort.
    Returns (text, encoding used).
    Raises ValueError when no charset fits (the caller records outcome "decode").
    """
    bom = _bom_charset(body)
    declared = [*bom, *_declared_charsets(body, header_charset)]
    first = bom if body.isascii() else [*bom, "utf-8"]
    for name in dict.fromkeys([*first, *declared, "utf-8"]):
        try:
            return body.decode(name), name
        except (UnicodeError, LookupError):
            continue
    return _decode_with_stray_bytes(body, declared) or _detect_charset(body)


def _detect_charset(body: bytes) -> tuple[str, str]:
    """charset_normalizer's best guess, but windows-1252 (the web's default) when nearly tied."""
    matches = charset_normalizer.from_bytes(body)
    best = matches.best()
    if best is None:
        raise ValueError(f"no character encoding fits these {len(body)} bytes")
    for match in matches:
        if "cp1252" in match.could_be_from_charset and match.chaos <= best.chaos + DETECTION_TIE:
            try:
                return body.decode("cp1252"), "cp1252"
            except UnicodeDecodeError:
                break
    return str(best), _charset_name(best.encoding) or best.encoding


def _gunzip_document(body: bytes, cap: int, cap_name: str) -> bytes:
    """A feed or sitemap body that is gzip bytes, gunzipped; a refusal is the fetch's failure."""
    try:
        return gunzip_capped(body, cap)
    except GunzipError as exc:
        outcome, message = {
            "corrupt": ("decode", f"body looks gzipped but does not gunzip: {exc.detail}"),
            "too_large": ("too_large", f"gunzipped body exceeds {cap_name} {cap}"),
            "truncated": (
                "decode",
                f"compressed body ends mid-stream after {exc.decoded} decoded bytes (truncated)",
            ),
        }[exc.problem]
        raise _FetchFailure(outcome, message, bytes_read=exc.decoded) from exc


def _checked_body(response: _Response, mode: _Mode, cap: int) -> bytes:
    """The body to decode: gunzipped for feeds, refused when binary or empty."""
    body = response.body
    if mode == "feed" and body.startswith(GZIP_MAGIC):
        body = _gunzip_document(body, cap, _byte_cap_name(mode))
    if mode != "robots" and _looks_binary(body):
        message = f"body of {response.url} is binary (NUL bytes or a binary signature), not text"
        raise _FetchFailure("binary", message, bytes_read=len(body))
    if not body.strip():
        raise _FetchFailure("empty", f"{response.url} returned an empty body", bytes_read=len(body))
    return body


def _result_from_response(
    response: _Response,
    validators: tuple[str | None, str | None] | None,
    mode: _Mode,
    cap: int,
) -> FetchResult:
    """The FetchResult of a response that arrived: not modified, or a body to check and decode."""
    known_etag, known_modified = validators or (None, None)
    result = FetchResult(url=response.url, source_name="", outcome="ok", status=response.status)
    result.final_url, result.content_type = response.url, response.media_type
    result.etag = response.etag or (known_etag if response.status == 304 else None)
    result.last_modified = response.last_modified or (
        known_modified if response.status == 304 else None
    )
    if response.status == 304 and not (known_etag or known_modified):
        message = "HTTP 304 Not Modified to a request that sent no validators (not retried)"
        failure = _FetchFailure("http_304", message, response=response)
        failure.final_url = response.url
        raise failure  # a not_modified row would count a page never stored as seen, run after run
    if response.status == 304:
        result.outcome = "not_modified"
        return result
    try:
        body = _checked_body(response, mode, cap)
        try:
            result.html, result.encoding = decode_text(body, response.charset)
        except ValueError as exc:
            raise _FetchFailure("decode", f"{response.url}: {exc}", bytes_read=len(body)) from exc
    except _FetchFailure as failure:
        failure.response, failure.final_url = response, response.url
        raise
    result.bytes = len(body)
    result.body = body if mode == "feed" else None
    return result


def _result_from_failure(url: str, failure: _FetchFailure) -> FetchResult:
    """The FetchResult that records why `url` failed, with what the last response told."""
    response = failure.response
    result = FetchResult(url=url, source_name="", outcome=failure.outcome, error=failure.message)
    result.final_url = failure.final_url or (response.url if response else None)
    result.bytes = failure.bytes_read
    if response is not None:
        result.status, result.content_type = response.status, response.media_type
        result.etag, result.last_modified = response.etag, response.last_modified
    return result


def _finish(result: FetchResult, url: str, started: float, attempts: int) -> FetchResult:
    """The result, with the URL asked, its attempts, and its time: the requests and the retries'
    pauses, not the waits for the host's turn (another URL's Retry-After, politeness), which
    made a page answered at once 10 s long behind a 429 (QA)."""
    result.url, result.attempts = url, attempts
    queued, _QUEUED.seconds = getattr(_QUEUED, "seconds", 0.0), 0.0
    result.elapsed_ms = round(max(0.0, time.monotonic() - started - queued) * 1000, 1)
    result.fetched_at = datetime.now(UTC)
    return result


def _fetch_http(
    url: str,
    batch: FetchBatch,
    validators: tuple[str | None, str | None] | None,
    mode: _Mode,
    max_retries: int,
) -> FetchResult:
    """Fetch one http(s) URL with retries and backoff; always returns a FetchResult."""
    started, attempt, _QUEUED.seconds = time.monotonic(), 0, 0.0
    cap = _byte_cap(mode, batch.settings)
    while True:
        attempt += 1
        try:
            response = _follow_redirects(url, batch, validators, mode)
            result = _result_from_response(response, validators, mode, cap)
        except _FetchFailure as failure:
            batch.check_not_stopped(url)  # cut by the run's stop (stop_fetching): not fetched
            if failure.retry_after is not None:  # the host's other URLs wait too
                hold = min(failure.retry_after, batch.settings.backoff_max)
                batch.limiter.hold(_host(failure.final_url or url), hold)
            delay = _retry_delay(failure, attempt, max_retries, batch.settings)
            if delay is None:
                return _finish(_result_from_failure(url, failure), url, started, attempt)
            LOGGER.debug("retrying %s in %.2f s after: %s", url, delay, failure.message)
            batch.pause(delay)
            batch.check_not_stopped(url)
            continue
        return _finish(result, url, started, attempt)


def _file_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise _FetchFailure("bad_url", f"file URI {url} names host {parts.netloc!r}; only local")
    # The URI's bytes are the file name's (Path.as_uri quotes os.fsencode of it): a name that is
    # not UTF-8 (caf\xe9.html) comes back only through os.fsdecode, not url2pathname's UTF-8.
    path = Path(os.fsdecode(unquote_to_bytes(parts.path)))
    if not path.is_absolute():
        raise _FetchFailure("bad_url", f"file URI {url} is not an absolute path")
    return path


def _file_media_type(path: Path, mode: _Mode) -> str:
    """text/html or text/plain by suffix (.html, .htm, .txt, optionally .gz); feeds add XML/JSON.
    A URL list is text whatever its name (`urls`, `backlog.csv`), and a feed or sitemap XML (its
    parser tells JSON from XML): the user named it as one, maybe as a pipe (`--feed <(curl …)` is
    /dev/fd/63)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    known = FILE_TYPES | (FEED_FILE_TYPES if mode == "feed" else {})
    suffix = suffixes[-1] if suffixes else ""
    if mode == "list":
        return known.get(suffix, "text/plain")
    if mode == "feed":
        return known.get(suffix, "application/xml")
    if suffix not in known:
        expected = ", ".join(sorted(known))
        raise _FetchFailure(
            "content_type", f"{path} is not read: suffix must be {expected} (+ .gz)"
        )
    return known[suffix]


# What a path that is not a regular file is, for the error that refuses it as a page.
_FILE_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device",
               stat.S_IFBLK: "a device"}  # fmt: skip


def _open_file(path: Path, mode: _Mode) -> BinaryIO:
    """Open a file without waiting on a FIFO: a plain open() of one blocks until a writer comes,
    which hung a whole run (past SIGTERM) over a FIFO named like a page in a saved-pages folder.

    A page must be a regular file. A URL list or feed named by the user may be a pipe, as
    `--urls-file <(grep kabul urls.txt)` gives: it is read to its end (empty if no writer is
    there).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        kind = stat.S_IFMT(os.fstat(fd).st_mode)
        if kind == stat.S_IFDIR:
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if kind != stat.S_IFREG and mode == "page":
            raise _FetchFailure(
                "unsupported_file",
                f"file {path} is {_FILE_KINDS.get(kind, 'not a regular file')}; "
                "only regular files are read as pages",
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_file_bytes(path: Path, mode: _Mode, cap: int, cap_name: str) -> bytes:
    """Read (and gunzip) a file, never holding more than `cap` + 1 decoded bytes."""
    try:
        with _open_file(path, mode) as raw:
            decoded = gzip.GzipFile(fileobj=raw) if path.suffix.lower() == ".gz" else raw
            data = decoded.read(cap + 1)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
        raise _FetchFailure("not_found", f"file {path} does not exist or is not a file") from exc
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise _FetchFailure("decode", f"file {path} is not valid gzip: {exc}") from exc
    except OSError as exc:
        raise _FetchFailure("io_error", f"file {path} cannot be read: {exc}") from exc
    if len(data) > cap:
        raise _FetchFailure("too_large", f"file {path} exceeds {cap_name} {cap}", bytes_read=cap)
    return data


def _read_file(url: str, settings: FetchSettings, mode: _Mode) -> FetchResult:
    """Read a file:// URI from disk with the same checks and charset logic as HTTP bodies."""
    started = time.monotonic()
    try:
        path = _file_path(url)
        media_type = _file_media_type(path, mode)
        cap = _byte_cap(mode, settings)
        body = _read_file_bytes(path, mode, cap, _byte_cap_name(mode))
        result = _result_from_response(_Response(url, None, media_type, body=body), None, mode, cap)
    except _FetchFailure as failure:
        failure.final_url = url
        result = _result_from_failure(url, failure)
    return _finish(result, url, started, 1)


def open_session(settings: FetchSettings) -> requests.Session:
    """A requests session for one batch: its adapter's connection pools, sized for the workers.

    Requests go to the adapter as they are (_prepared_get): no cookies or session settings carry
    from one URL to the next. Each passes the proxies, .netrc credentials and CA bundle of its
    origin, read from the environment once per batch (FetchBatch.environment_for).
    """
    session = requests.Session()
    session.trust_env = False
    adapter = _StoppableAdapter(
        pool_connections=settings.max_workers, pool_maxsize=settings.max_workers, max_retries=0
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _new_batch(
    settings: FetchSettings, session: requests.Session, run_id: str | None = None
) -> FetchBatch:
    limiter = HostLimiter(settings.per_host_concurrency, settings.per_host_delay)
    batch = FetchBatch(settings, session, limiter, run_id=run_id)
    if settings.respect_robots:
        batch.robots = RobotsCache(
            settings.user_agent, lambda url: _fetch_http(url, batch, None, "robots", 0)
        )
    return batch


def internal_error_result(url: str, source_name: str, error: Exception, doing: str) -> FetchResult:
    """An error nobody foresaw while `doing` one thing (fetching a URL, expanding a source):
    logged with its traceback and recorded as that one's failure, so the others still run."""
    LOGGER.exception("unexpected error while %s", doing)
    message = (
        f"unexpected {type(error).__name__} while {doing}: {error} "
        "(a bug in newsflow; the traceback is in the log)"
    )
    return FetchResult(
        url=url,
        source_name=source_name,
        outcome="internal_error",
        error=message,
        fetched_at=datetime.now(UTC),
    )


@contextmanager
def open_batch(settings: FetchSettings) -> Iterator[FetchBatch]:
    """One session, per-host politeness and robots cache for URLs fetched one after another with
    fetch_in_batch (a source's feeds and sitemaps): robots.txt is read once per origin and the
    per-host delay holds between them."""
    with open_session(settings) as session:
        yield _new_batch(settings, session)


def fetch_in_batch(
    url: str,
    batch: FetchBatch,
    *,
    accept: Accept = "page",
    source_name: str = "",
    validators: tuple[str | None, str | None] | None = None,
) -> FetchResult:
    """Fetch one URL as fetch_url does, sharing the batch's politeness and robots cache."""
    try:
        batch.check_not_stopped(url)
        if url[:5].lower() == "file:":
            result = _read_file(url, batch.settings, accept)
        else:
            result = _fetch_http(url, batch, validators, accept, batch.settings.max_retries)
    except (OSError, FetchStopped):
        raise  # the machine failed (no file descriptors, …): fetch_batch retries the batch;
        # or the run stopped: the batch ends
    except Exception as error:  # noqa: BLE001 - recorded as this URL's failure
        result = internal_error_result(url, source_name, error, f"fetching {url}")
    result.source_name = source_name
    return result


def fetch_url(
    url: str,
    settings: FetchSettings,
    *,
    session: requests.Session | None = None,
    validators: tuple[str | None, str | None] | None = None,
    accept: Accept = "page",
    source_name: str = "",
) -> FetchResult:
    """Fetch one URL (http(s) or file://) with retries, robots, private-host and politeness checks.

    Each call reads robots.txt afresh and waits for no other: several URLs in turn go through
    open_batch and fetch_in_batch.

    Args:
        url: the URL to fetch; file:// URIs are read from disk.
        settings: timeouts, caps, retries and politeness.
        session: a requests session to reuse (one is opened and closed when None).
        validators: (ETag, Last-Modified) known for this URL, sent as a conditional GET.
        accept: "page" for HTML/text pages, "feed" for feeds and sitemaps (also fills `body`),
            "list" for URL lists (any text, any file name; the document cap, not max_bytes).
        source_name: copied to the result.

    Returns:
        One FetchResult; per-URL problems are recorded in it, never raised.
    """
    own_session = session is None
    active = session if session is not None else open_session(settings)
    try:
        batch = _new_batch(settings, active)
        return fetch_in_batch(
            url, batch, accept=accept, source_name=source_name, validators=validators
        )
    finally:
        if own_session:
            active.close()


def conditional_validators(known: dict[str, KnownFetch]) -> Validators:
    """The ETag and Last-Modified to send again, for each URL whose server gave any."""
    return {url: (k.etag, k.last_modified) for url, k in known.items() if k.etag or k.last_modified}


def split_unchanged_sitemap_pages(
    items: list[WorkItem], known: dict[str, KnownFetch]
) -> tuple[list[WorkItem], list[FetchResult]]:
    """The pages to fetch, and the rows of those not requested: a sitemap page whose lastmod is
    no later than its last answer has not changed since (a news sitemap re-read every half hour
    lists hundreds of such pages, and a conditional GET of each still waits its turn per host).
    Each row is a `not_modified` after 0 attempts, with the last answer's final URL and
    validators, so the article counts as seen and the next conditional GET still has them."""
    to_fetch, not_requested = [], []
    for item in items:
        last = known.get(item.url)
        lastmod = item.sitemap_lastmod
        if last is None or last.fetched_at is None or lastmod is None:
            to_fetch.append(item)
            continue
        if lastmod.time() == datetime.min.time():
            lastmod += SITEMAP_DAY_SLACK
        if lastmod > last.fetched_at:
            to_fetch.append(item)
            continue
        not_requested.append(
            FetchResult(
                url=item.url,
                source_name=item.source_name,
                outcome="not_modified",
                final_url=last.final_url or item.url,
                attempts=0,
                fetched_at=datetime.now(UTC),
                etag=last.etag,
                last_modified=last.last_modified,
                item=item,
            )
        )
    return to_fetch, not_requested


def fetch_pages(
    items: list[WorkItem],
    settings: FetchSettings,
    validators: Validators | None = None,
    run_id: str | None = None,
) -> list[FetchResult]:
    """Fetch a batch of pages: one session, a thread pool, per-host limits, robots cached per batch.

    Args:
        items: the pages to get (http(s) URLs or file:// URIs).
        settings: timeouts, caps, retries and politeness.
        validators: url -> (ETag, Last-Modified) from earlier fetches, for conditional GETs.
        run_id: the flow run fetching; once stop_fetching(run_id), no URL more is requested.

    Returns:
        One FetchResult per item, in the order of `items`, each with `.item` set; once the run
        was stopped, one per item fetched by then (those not requested, or cut as the run
        stopped, leave no row: the run's rerun fetches them).
    """
    known = validators or {}
    if not items:
        return []
    with open_session(settings) as session:
        batch = _new_batch(settings, session, run_id)

        def fetch_item(item: WorkItem) -> FetchResult | None:
            try:
                result = fetch_in_batch(
                    item.url, batch, source_name=item.source_name, validators=known.get(item.url)
                )
            except FetchStopped:
                return None
            result.item = item
            return result

        with ThreadPoolExecutor(max_workers=min(settings.max_workers, len(items))) as pool:
            return [result for result in pool.map(fetch_item, items) if result is not None]


def summarize_outcomes(results: list[FetchResult]) -> str:
    """One line for the log: how many URLs and how many of each outcome."""
    counts = Counter(result.outcome for result in results)
    ordered = sorted(counts.items(), key=lambda kv: (kv[0] != "ok", -kv[1], kv[0]))
    parts = ", ".join(f"{outcome}={count}" for outcome, count in ordered)
    return f"fetched {len(results)} URLs: {parts or 'nothing'}"


def _is_transient_batch_failure(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a whole batch only when the OS or network stack failed it, never for a bug."""
    error = state.result(raise_on_failure=False)
    return isinstance(error, OSError)


@task(
    name="fetch_batch",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=_is_transient_batch_failure,
    cache_policy=NO_CACHE,
)
def fetch_batch(
    items: list[WorkItem], settings: FetchSettings, validators: Validators | None = None
) -> list[FetchResult]:
    """Prefect task: fetch a batch (see fetch_pages) and log a one-line summary of the outcomes."""
    started = time.monotonic()
    run_id = runtime.flow_run.id
    results = fetch_pages(items, settings, validators, str(run_id) if run_id else None)
    logger = get_run_logger()
    stopped = f"; the run stopped, {len(items) - len(results)} not requested"
    logger.info(
        "%s in %.1f s%s",
        summarize_outcomes(results),
        time.monotonic() - started,
        stopped if len(results) < len(items) else "",
    )
    return results
