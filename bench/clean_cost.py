"""CPU a page of the clean stage against the baseline's extraction, page by page in one process.

For each of the benchmark's real pages (bench/corpus.py's REAL_GLOBS), the CPU time
(time.process_time, the minimum of --repeats runs) of the baseline's call (bench/baseline.py:
`trafilatura.extract` with EXTRACT_OPTIONS and its fallbacks) and of what an extraction worker
runs for the page (tasks/extraction.py's clean_fetch, in --mode). Caches keyed by a page's lines
or date strings (trafilatura's, htmldate's) are cleared before each call: on repeats of the same
page they would hit, and a worker meets each page once. Reported: totals and ratios per corpus
family, the --top pages with the largest excess (ours minus baseline), each split by step.

Run: python -m bench.clean_cost [--mode fast] [--repeats 3] [--top 15] [--pages 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import htmldate.extractors
import htmldate.validators
import trafilatura
import trafilatura.core
import trafilatura.utils

import tasks.extraction
from bench.baseline import EXTRACT_OPTIONS
from bench.corpus import CORPUS, REAL_GLOBS
from tasks.extraction import clean_fetch
from tasks.fetch import decode_text
from tasks.records import FetchResult
from tasks.settings import CLEAN_PAGE_SECONDS, ExtractionMode

# Caches whose keys are a page's own strings: warm on a repeat of the page, cold on a new one.
PAGE_CACHES = (
    trafilatura.utils.line_processing,
    trafilatura.utils.trim,
    htmldate.extractors.try_date_expr,
    htmldate.validators._parse_and_validate,
    htmldate.validators.filter_ymd_candidate,
)
# The steps a split times, as (module, attribute) of the call that makes each, per side. They do
# not nest; what is left of a call's time is "rest".
BASELINE_STEPS = {
    "parse": (trafilatura.core, "load_html"),
    "fallbacks": (trafilatura.core, "compare_extraction"),  # readability and jusText
}
OURS_STEPS = {
    "parse": (tasks.extraction, "_parse_html"),
    "metadata": (tasks.extraction, "_trafilatura_meta"),
    "htmldate": (tasks.extraction, "find_date"),
    "trafilatura": (tasks.extraction, "_extract_candidate"),
    "boilerplate": (tasks.extraction, "_strip_boilerplate"),
    "siblings": (tasks.extraction, "_recover_sibling_chunks"),
}
BASELINE_KEYS = (*BASELINE_STEPS, "rest", "total")
OURS_KEYS = (*OURS_STEPS, "rest", "total")


@dataclass
class Page:
    """One real page as the benchmark serves it, and the CPU each side spent on it, by step."""

    family: str
    path: str
    html: str
    url: str
    baseline_steps: dict[str, float] = field(default_factory=lambda: {"total": float("inf")})
    ours_steps: dict[str, float] = field(default_factory=lambda: {"total": float("inf")})

    @property
    def baseline_s(self) -> float:
        return self.baseline_steps["total"]

    @property
    def ours_s(self) -> float:
        return self.ours_steps["total"]

    @property
    def excess_s(self) -> float:
        return self.ours_s - self.baseline_s


def real_pages(root: Path = CORPUS) -> list[Page]:
    """The real pages in bench/corpus.py's order, each with a URL like the corpus server's."""
    files = sorted(path for pattern in REAL_GLOBS for path in root.glob(pattern))
    return [
        Page(
            family=str(path.relative_to(root)).split("/")[1],
            path=str(path.relative_to(root)),
            html=decode_text(gzip.decompress(path.read_bytes()))[0],
            url=f"http://127.0.0.1:8000/news/{number:06d}.html",
        )
        for number, path in enumerate(files)
    ]


def baseline_call(page: Page) -> Callable[[], object]:
    return lambda: trafilatura.extract(page.html, url=page.url, **EXTRACT_OPTIONS)


def ours_call(page: Page, mode: ExtractionMode) -> Callable[[], object]:
    """What an extraction worker does with the page: the fetch arrives compressed (FetchResult
    keeps `page` zlib-compressed; clean_fetch decodes it) and is cleaned under the page bound."""
    fetch = FetchResult(
        url=page.url,
        source_name="bench",
        outcome="ok",
        final_url=page.url,
        content_type="text/html; charset=utf-8",
        html=page.html,
    )
    return lambda: clean_fetch(fetch, mode, CLEAN_PAGE_SECONDS)


def cpu_seconds(call: Callable[[], object]) -> float:
    """The CPU one call takes, with the page's caches cold."""
    for cache in PAGE_CACHES:
        cache.cache_clear()
    start = time.process_time()
    call()
    return time.process_time() - start


@contextmanager
def timed_steps(steps: dict[str, tuple[object, str]], spent: dict[str, float]):
    """Wrap each step's function so that its CPU time adds up in `spent`."""

    def timing(name: str, function: Callable) -> Callable:
        def timed(*args, **kwargs):
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.process_time() - start

        return timed

    with ExitStack() as stack:
        for name, (module, attribute) in steps.items():
            function = getattr(module, attribute)
            stack.enter_context(mock.patch.object(module, attribute, timing(name, function)))
        yield


def split(call: Callable[[], object], steps: dict[str, tuple[object, str]]) -> dict[str, float]:
    """CPU of one call by step, "rest" for the time outside every step, "total" for the call."""
    spent: dict[str, float] = {}
    with timed_steps(steps, spent):
        total = cpu_seconds(call)
    spent["rest"] = total - sum(spent.values())
    spent["total"] = total
    return spent


def measure(pages: list[Page], mode: ExtractionMode, repeats: int) -> None:
    """Both sides' CPU per page, by step, from the round in which the call took least: `repeats`
    rounds of every page in turn, side by side, so that the machine's drift touches both alike."""
    for _ in range(repeats):
        for page in pages:
            theirs = split(baseline_call(page), BASELINE_STEPS)
            if theirs["total"] < page.baseline_s:
                page.baseline_steps = theirs
            ours = split(ours_call(page, mode), OURS_STEPS)
            if ours["total"] < page.ours_s:
                page.ours_steps = ours


def summary(pages: list[Page]) -> dict[str, dict]:
    """Per family and over all pages: pages, each side's CPU seconds by step, and the ratio."""
    rows = {}
    for name in [*sorted({page.family for page in pages}), "all"]:
        chosen = [page for page in pages if name in ("all", page.family)]
        baseline = {key: sum(page.baseline_steps[key] for page in chosen) for key in BASELINE_KEYS}
        ours = {key: sum(page.ours_steps[key] for page in chosen) for key in OURS_KEYS}
        rows[name] = {
            "pages": len(chosen),
            "baseline_s": {key: round(value, 3) for key, value in baseline.items()},
            "ours_s": {key: round(value, 3) for key, value in ours.items()},
            "ratio": round(ours["total"] / baseline["total"], 3),
        }
    return rows


def report(pages: list[Page], top: list[Page]) -> str:
    """The summary and the top pages as Markdown tables; steps in milliseconds a page."""

    def steps(figures: dict[str, float], keys: tuple[str, ...], scale: float) -> str:
        return ", ".join(f"{figures[key] * scale:.1f}" for key in keys[:-1])

    lines = [
        "| family | pages | baseline s | ours s | ratio "
        f"| baseline ms a page: {', '.join(BASELINE_KEYS[:-1])} "
        f"| ours ms a page: {', '.join(OURS_KEYS[:-1])} |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for name, row in summary(pages).items():
        scale = 1000 / row["pages"]
        lines.append(
            f"| {name} | {row['pages']} | {row['baseline_s']['total']:.2f} "
            f"| {row['ours_s']['total']:.2f} | {row['ratio']:.2f} "
            f"| {steps(row['baseline_s'], BASELINE_KEYS, scale)} "
            f"| {steps(row['ours_s'], OURS_KEYS, scale)} |"
        )
    lines += [
        "",
        "| page | kB | baseline ms | ours ms | excess ms | baseline ms by step | ours ms by step |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for page in top:
        lines.append(
            f"| {page.path} | {len(page.html.encode()) // 1024} | {page.baseline_s * 1000:.1f} "
            f"| {page.ours_s * 1000:.1f} | {page.excess_s * 1000:.1f} "
            f"| {steps(page.baseline_steps, BASELINE_KEYS, 1000)} "
            f"| {steps(page.ours_steps, OURS_KEYS, 1000)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=[m.value for m in ExtractionMode], default="fast")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top", type=int, default=15, help="pages with the largest excess to list")
    parser.add_argument(
        "--pages", type=int, default=0, help="every k-th real page, this many (0: all)"
    )
    parser.add_argument("--json", type=Path, help="write every page's figures here")
    args = parser.parse_args(argv)
    mode = ExtractionMode(args.mode)
    pages = real_pages()
    if args.pages:
        pages = pages[:: max(1, len(pages) // args.pages)][: args.pages]
    for page in pages[:10]:  # imports and one-time set-up out of the way
        cpu_seconds(baseline_call(page))
        cpu_seconds(ours_call(page, mode))
    measure(pages, mode, args.repeats)
    top = sorted(pages, key=lambda page: -page.excess_s)[: args.top]
    print(report(pages, top))
    if args.json:
        figures = [
            {key: value for key, value in vars(page).items() if key != "html"} for page in pages
        ]
        args.json.write_text(json.dumps({"summary": summary(pages), "pages": figures}, indent=1))


if __name__ == "__main__":
    main()
