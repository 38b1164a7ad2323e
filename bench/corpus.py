"""The benchmark corpus: real pages, recombined pages, exact and near copies, on a loopback server.

A corpus of size N is a deterministic plan (seeded): every real page of the shared corpus (the
511 pages of extraction/* and dates/*: scrapinghub, Readability's test pages, MediaCloud; where N
leaves room for fewer unique pages, a seeded sample of them), new unique pages made by putting
paragraphs of other real pages into a real page's template, 10% exact copies and 10% near copies
(another headline, one paragraph edited) of the unique pages under other URLs. Pages are rendered
on request, so the server holds only the real pages in memory, whatever N is.

Run: python -m bench.corpus --n 2000 [--latency-ms 100] [--port 0] [--planted planted.json]
(prints "READY <port> <counts of each kind of page, as JSON>")

Which real pages may be templates takes about three extractions a page (30 s on two cores); the
answer is kept in bench/template_checks.json under a digest of all it depends on, so a plan reads
it while nothing changed. After a change to the pages, this module or a package, refresh it with
python -m bench.corpus --save-template-checks (a stale file is only slower: the checks run).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import importlib.metadata
import json
import multiprocessing
import os
import platform
import random
import re
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trafilatura

from tasks.fetch import decode_text

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
TEMPLATE_CHECKS = Path(__file__).with_name("template_checks.json")
REAL_GLOBS = (
    "extraction/scrapinghub-aeb/html/*.html.gz",
    "extraction/readability/pages/*/source.html.gz",  # not expected.html.gz: Readability's output
    "dates/mediacloud-2020/test_set/*.html.gz",
)
COPY_SHARE = 0.10
NEAR_SHARE = 0.10
SEED = 20210812
MIN_TEMPLATE_PARAGRAPHS = 3
MIN_TEMPLATE_SHARE = 0.8  # of a template's text in the paragraphs a mixed page replaces
MIN_PARAGRAPH_CHARS = 80
MAX_POOL_PARAGRAPH_CHARS = 1200  # about 200 words: the 99th percentile of the real paragraphs
NEAR_EDIT = "An editor at the syndicating outlet rewrote this paragraph for its own readers."

_PAGE_PATH_RE = re.compile(r"/news/(\d{6})\.html")
# A paragraph: <p>, then text and inline elements only, then </p>. It never runs on across a </p>
# or another block (it once spanned up to 30 000 characters of a page's layout).
_PARAGRAPH_RE = re.compile(
    r"(<p\b[^>]*>)((?:[^<]|</?(?:a|abbr|b|bdi|br|cite|code|em|i|mark|q|s|small|span|strong|sub|"
    r"sup|time|u)\b[^>]*>)+)(</p>)",
    re.I,
)
_KEY_RE = re.compile(r"\W+")
_TAG_RE = re.compile(r"<[^>]+>")
_TITLE_RE = re.compile(r"(<title[^>]*>)(.*?)(</title>)", re.S | re.I)
_H1_RE = re.compile(r"(<h1\b[^>]*>)(.*?)(</h1>)", re.S | re.I)
_META_TITLE_RE = re.compile(
    r"""<meta[^>]+(?:og:title|twitter:title)[^>]*>|<link[^>]+canonical[^>]*>|"""
    r"""<meta[^>]+og:url[^>]*>""",
    re.I,
)
_WORDS = [
    "council", "minister", "province", "border", "talks", "market", "harbour", "festival", "court",
    "river", "election", "storm", "school", "bridge", "report", "harvest", "convoy", "summit",
]  # fmt: skip


@dataclass(frozen=True)
class PageSpec:
    """How to render one page: a real page, a recombination, or a copy of another page."""

    kind: str  # "real", "mixed", "copy", "near"
    source: int  # real: index of the real page; mixed: template; copy/near: index of the page
    seed: int


def _paragraph_text(fragment: str) -> str:
    return " ".join(html.unescape(_TAG_RE.sub(" ", fragment)).split())


def _paragraphs(page: str) -> list[re.Match[str]]:
    """The page's paragraphs of at least MIN_PARAGRAPH_CHARS characters of text."""
    return [
        m for m in _PARAGRAPH_RE.finditer(page) if len(_paragraph_text(m[2])) >= MIN_PARAGRAPH_CHARS
    ]


def _pool(real: list[str]) -> list[str]:
    """The paragraphs mixed pages are made of: every real page's, but none so long that it would
    be most of the text of two mixed pages that both drew it (a 7 536-word list of names, a
    700-word paragraph of Bartleby made such pairs near copies)."""
    texts = (_paragraph_text(m[2]) for page in real for m in _paragraphs(page))
    return [text for text in texts if len(text) <= MAX_POOL_PARAGRAPH_CHARS]


def _key(text: str) -> str:
    return _KEY_RE.sub("", text).lower()


def _extract(page: str, precision: bool = True) -> str:
    """The page's text as trafilatura keeps it in one run without fallbacks: precision first, as
    newsflow's thorough mode begins, or (precision=False) as its fast mode runs it."""
    options = {"fast": True, "favor_precision": precision, "include_comments": False}
    return trafilatura.extract(page, **options) or ""


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = text.lower().split()
    return {tuple(words[i : i + 5]) for i in range(max(1, len(words) - 4))}


@dataclass(frozen=True)
class Article:
    """Where a real page's article is: the page's article paragraphs (those of its _paragraphs
    that an extractor keeps as its text: where an edit changes the article, not a cookie notice or
    a comment form that no extractor keeps, nor one of two copies of the article that some pages
    hold, an AMP or print block beside the real one), and the share of the kept text they hold."""

    paragraphs: tuple[int, ...]
    share: float


def _article(page: str, kept_text: str) -> Article:
    """The page's Article, given the text the extractor keeps of it (_extract)."""
    kept = _key(kept_text)
    keys = [_key(_paragraph_text(m[2])) for m in _paragraphs(page)]
    heads = [key[:60] for key in keys]
    paragraphs = tuple(
        number
        for number, head in enumerate(heads)
        if kept and head in kept and heads.count(head) == 1  # not a second copy of the text
    )
    return Article(paragraphs, sum(len(keys[k]) for k in paragraphs) / len(kept) if kept else 0.0)


def _check_template(page: str, pool: list[str]) -> tuple[Article, bool]:
    """The page's Article, and whether a mixed page may take its layout from the page: it has
    MIN_TEMPLATE_PARAGRAPHS article paragraphs or more, holding MIN_TEMPLATE_SHARE of its text,
    so that a mixed page, whose paragraphs are all replaced, keeps little of its template's text:
    not a copy of the template (or of another mixed page of it) when its article is in <div>s or
    lists. The page's text is extracted once for both."""
    kept_text = _extract(page)
    article = _article(page, kept_text)
    if len(article.paragraphs) < MIN_TEMPLATE_PARAGRAPHS or article.share < MIN_TEMPLATE_SHARE:
        return article, False
    return article, not _keeps_template_text(page, kept_text, pool)


def _keeps_template_text(template: str, template_text: str, pool: list[str]) -> bool:
    """Whether a trial mixed page of the template still reads as the template, or as another
    trial page of it: some pages hold their article a second time where no <p> is (the
    extractor falls back on it), and on some the fast mode keeps hundreds of words of the site's
    own text around short paragraphs (two mixed pages of such a template were near copies)."""
    trial, other_trial = _mixed_page(template, pool, 0), _mixed_page(template, pool, 1)
    original = _shingles(template_text)
    for precision in (True, False):
        mixed = _shingles(_extract(trial, precision))
        other = _shingles(_extract(other_trial, precision))
        if max(len(mixed & original), len(mixed & other)) > 0.2 * len(mixed):
            return True
    return False


_worker_pages: tuple[list[str], list[str]] = ([], [])  # a template check worker's (real, pool)


def _hold_pages(real: list[str], pool: list[str]) -> None:
    global _worker_pages
    _worker_pages = (real, pool)


def _check_real_page(index: int) -> tuple[Article, bool]:
    """_check_template of real page `index`, in a worker started with _hold_pages."""
    real, pool = _worker_pages
    return _check_template(real[index], pool)


def _headline(rng: random.Random, number: int) -> str:
    words = " ".join(rng.choice(_WORDS) for _ in range(6))
    return f"{words.capitalize()} ({number})"


def _replace_title(page: str, headline: str) -> str:
    """Another headline in <title> and the first <h1>; og:title and canonical links dropped."""
    page = _META_TITLE_RE.sub("", page)
    page = _TITLE_RE.sub(lambda m: m[1] + html.escape(headline) + m[3], page, count=1)
    return _H1_RE.sub(lambda m: m[1] + html.escape(headline) + m[3], page, count=1)


def _mixed_page(template: str, pool: list[str], seed: int) -> str:
    """The template with another headline and each of its paragraphs replaced by one of the pool."""
    rng = random.Random(seed)
    page = _replace_title(template, _headline(rng, seed))
    parts, end = [], 0
    for m in _paragraphs(page):
        parts += [page[end : m.start(2)], html.escape(rng.choice(pool))]
        end = m.end(2)
    return "".join(parts) + page[end:]


_INSTALLERS = {"uv", "pip"}


def template_checks_key(real: list[str]) -> str:
    """A digest of what the template checks depend on: the real pages as decoded, this module
    (the checks and their thresholds), Python and every installed package's version (trafilatura
    and what it parses with) but the installers': `make` installs the newest uv in its range, and
    a uv release changed the key of a fresh clone's checks, which nothing it parses depends on."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(platform.python_version().encode())
    installed = importlib.metadata.distributions()
    packages = sorted(
        f"{d.metadata['Name']}=={d.version}"
        for d in installed
        if d.metadata["Name"].lower() not in _INSTALLERS
    )
    digest.update("\n".join(packages).encode())
    for page in real:
        digest.update(hashlib.sha256(page.encode("utf-8", "surrogatepass")).digest())
    return digest.hexdigest()


def _saved_checks(path: Path, key: str) -> list[tuple[Article, bool]] | None:
    """The template checks saved in `path`, if they were made from what `key` digests."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if saved.get("key") != key:
        return None
    return [(Article(tuple(p), share), template) for p, share, template in saved["checks"]]


class Corpus:
    """A seeded plan of N pages over the real pages, rendered one at a time on request."""

    def __init__(
        self, n: int, root: Path = CORPUS, seed: int = SEED, checks_file: Path = TEMPLATE_CHECKS
    ) -> None:
        files = sorted(path for pattern in REAL_GLOBS for path in root.glob(pattern))
        if not files:
            raise FileNotFoundError(f"no real pages under {root}; the shared corpus is needed")
        self.real = [decode_text(gzip.decompress(path.read_bytes()))[0] for path in files]
        self.pool = _pool(self.real)
        self.checks_file = checks_file
        self._articles: dict[int, Article] = {}  # by real page
        self._editable: dict[PageSpec, list[int]] = {}
        self.specs = self._plan(n, random.Random(seed))
        self.etags = [self._etag(spec) for spec in self.specs]  # once, not per request

    @cached_property
    def templates(self) -> list[int]:
        """The real pages a mixed page may take its layout from (_check_template): as saved in
        `checks_file` for the same pages, code and packages, else checked now."""
        checks = _saved_checks(self.checks_file, template_checks_key(self.real))
        if checks is None:
            checks = self._check_templates()
        self._articles.update((index, article) for index, (article, _) in enumerate(checks))
        return [index for index, (_, template) in enumerate(checks) if template]

    def _check_templates(self) -> list[tuple[Article, bool]]:
        """About three extractions a real page, the plan's whole cost: checked in a process per
        core. Forked, so that the workers inherit the pages instead of receiving them pickled."""
        with ProcessPoolExecutor(
            os.cpu_count(),
            mp_context=multiprocessing.get_context("fork"),
            initializer=_hold_pages,
            initargs=(self.real, self.pool),
        ) as workers:
            return list(workers.map(_check_real_page, range(len(self.real)), chunksize=4))

    def save_template_checks(self) -> Path:
        """Check the real pages now and save the answer, with its key, to `checks_file`."""
        checks = self._check_templates()
        saved = {
            "key": template_checks_key(self.real),
            "checks": [[list(a.paragraphs), a.share, template] for a, template in checks],
        }
        self.checks_file.write_text(json.dumps(saved, separators=(",", ":")) + "\n")
        return self.checks_file

    def article(self, real_index: int) -> Article:
        """The Article of a real page (found once)."""
        if real_index not in self._articles:
            page = self.real[real_index]
            self._articles[real_index] = _article(page, _extract(page))
        return self._articles[real_index]

    def _plan(self, n: int, rng: random.Random) -> list[PageSpec]:
        copies, nears = int(n * COPY_SHARE), int(n * NEAR_SHARE)
        unique = n - copies - nears
        real = range(len(self.real))
        if unique < len(real):  # too small for every real page: a sample across all sources
            real = sorted(rng.sample(real, unique))
        specs = [PageSpec("real", i, 0) for i in real]
        specs += [
            PageSpec("mixed", rng.choice(self.templates), rng.getrandbits(48))
            for _ in range(unique - len(specs))
        ]
        originals = list(specs)
        specs += [PageSpec("copy", rng.randrange(unique), 0) for _ in range(copies)]
        specs += [PageSpec("near", self._near_original(originals, rng), rng.getrandbits(48))
                  for _ in range(nears)]  # fmt: skip
        order = list(range(n))
        rng.shuffle(order)  # copies land before or after their originals, as on the web
        positions = {old: new for new, old in enumerate(order)}
        self._unique_positions = [positions[rank] for rank in range(unique)]
        return [specs[i] for i in order]

    def _unique_page(self, spec: PageSpec) -> str:
        return self.real[spec.source] if spec.kind == "real" else self._mixed(spec)

    def editable_paragraphs(self, spec: PageSpec) -> list[int]:
        """The paragraphs of a unique page that a near copy may rewrite: its article paragraphs
        (a mixed page keeps its template's layout, so its pool paragraphs stand where the
        template's article paragraphs were), each at most a quarter of the article's text, in a
        page of MIN_TEMPLATE_PARAGRAPHS of them or more; none otherwise."""
        if spec in self._editable:
            return self._editable[spec]
        article = self.article(spec.source).paragraphs
        editable: list[int] = []
        if len(article) >= MIN_TEMPLATE_PARAGRAPHS:
            paragraphs = _paragraphs(self._unique_page(spec))
            sizes = {k: len(_paragraph_text(paragraphs[k][2])) for k in article}
            editable = [k for k in article if sizes[k] * 4 <= sum(sizes.values())]
        self._editable[spec] = editable
        return editable

    def _near_original(self, specs: list[PageSpec], rng: random.Random) -> int:
        """The rank of a unique page with a paragraph a near copy may rewrite: not a page whose
        edit would leave the page itself under another headline (no article paragraph found),
        nor one that is mostly the edited paragraph."""
        for _ in range(100 * len(specs)):
            rank = rng.randrange(len(specs))
            if self.editable_paragraphs(specs[rank]):
                return rank
        raise ValueError("no unique page has a paragraph a near copy could rewrite")

    def counts(self) -> dict[str, int]:
        """How many pages of each kind the plan holds."""
        counts: dict[str, int] = {}
        for spec in self.specs:
            counts[spec.kind] = counts.get(spec.kind, 0) + 1
        return counts

    def planted(self) -> list[tuple[str, int, int]]:
        """The copies the plan planted: (kind, "copy" or "near"; the copy's index; its original's
        index)."""
        return [
            (spec.kind, index, self._original_index(spec.source))
            for index, spec in enumerate(self.specs)
            if spec.kind in ("copy", "near")
        ]

    def path(self, index: int) -> str:
        return f"/news/{index:06d}.html"

    def etag(self, index: int) -> str:
        """The page's ETag: a hash of how it is rendered, so it changes only with the plan."""
        return self.etags[index]

    @staticmethod
    def _etag(spec: PageSpec) -> str:
        key = f"{spec.kind}:{spec.source}:{spec.seed}".encode()
        return '"' + hashlib.sha1(key).hexdigest()[:20] + '"'

    def render(self, index: int) -> str:
        """The HTML of page `index`, the same on every request."""
        spec = self.specs[index]
        if spec.kind in ("real", "mixed"):
            return self._unique_page(spec)
        original = self.specs[self._original_index(spec.source)]
        if spec.kind == "copy":
            return self._unique_page(original)
        return self._near(self._unique_page(original), self.editable_paragraphs(original), spec)

    def _original_index(self, unique_rank: int) -> int:
        """Position in the shuffled plan of the unique page of rank `unique_rank` (its place in
        the plan before the shuffle, where _near_original chose it)."""
        return self._unique_positions[unique_rank]

    def _mixed(self, spec: PageSpec) -> str:
        return _mixed_page(self.real[spec.source], self.pool, spec.seed)

    def _near(self, page: str, editable: list[int], spec: PageSpec) -> str:
        """Another headline and one of the article's paragraphs rewritten."""
        rng = random.Random(spec.seed)
        headline = _headline(rng, spec.seed)
        target = _paragraphs(page)[rng.choice(editable)]
        return _replace_title(page[: target.start(2)] + NEAR_EDIT + page[target.end(2) :], headline)


def _handler(corpus: Corpus, latency: float, hits: list[int]) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real sites and requests' pool expect

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            with lock:
                hits[0] += 1
            if latency:
                time.sleep(latency)
            path = self.path.split("?", 1)[0]
            if path == "/robots.txt":
                return self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
            match = _PAGE_PATH_RE.fullmatch(path)
            if not match or int(match[1]) >= len(corpus.specs):
                return self._send(404, b"not found", "text/plain")
            index = int(match[1])
            etag = corpus.etag(index)
            if self.headers.get("If-None-Match") == etag:
                return self._send(304, b"", None, etag)
            body = corpus.render(index).encode("utf-8")
            self._send(200, body, "text/html; charset=utf-8", etag)

        def _send(self, status: int, body: bytes, ctype: str | None, etag: str | None = None):
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            if etag:
                self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:  # a 304 has none: no empty write
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def serve(corpus: Corpus, port: int = 0, latency: float = 0.0) -> ThreadingHTTPServer:
    """A threaded loopback server for the corpus, already serving in a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(corpus, latency, [0]))
    server.daemon_threads = True
    server.request_queue_size = 256
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="pages in the corpus")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before each response")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--planted", help="write the planted copies (Corpus.planted) here as JSON")
    parser.add_argument(
        "--save-template-checks",
        action="store_true",
        help=f"check which real pages may be templates, save it to {TEMPLATE_CHECKS.name}, exit",
    )
    args = parser.parse_args(argv)
    if args.save_template_checks:
        print(f"saved {Corpus(0).save_template_checks()}")
        return
    corpus = Corpus(args.n)
    if args.planted:
        Path(args.planted).write_text(json.dumps(corpus.planted()))
    server = serve(corpus, args.port, args.latency_ms / 1000)
    print(f"READY {server.server_port} {json.dumps(corpus.counts())}", flush=True)
    try:
        sys.stdin.read()  # serve until the parent closes our stdin
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
