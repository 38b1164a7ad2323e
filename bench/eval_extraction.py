"""Extraction and date benchmark: newsflow's clean stage against published extractors.

Main text: scrapinghub's article-extraction-benchmark (181 pages), scored as its evaluate.py does:
token (regex \\w+) 4-gram shingle multisets, per-page precision/recall/F1 from tp/fp/fn. Reported:
the mean per-page F1 (our headline number), and evaluate.py's own "F1" (harmonic mean of the
mean precision and mean recall). Dates: htmldate's MediaCloud 2020 sample (200 pages), exact match
of the publication day on the publisher's clock (local_day of published_at and its offset).

Run: python -m bench.eval_extraction [--extraction {thorough,fast}] [--workers N]
     [--no-date-baselines]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import multiprocessing
import re
import statistics
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from htmldate import find_date
from trafilatura import extract_metadata
from trafilatura.utils import decode_file

from tasks.clean import clean_documents
from tasks.extraction import local_day, read_publication_time
from tasks.records import Document, FetchResult
from tasks.settings import ExtractionMode, usable_cores

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
AEB_DIR = "extraction/scrapinghub-aeb"
DATES_DIR = "dates/mediacloud-2020"
RESULTS = {
    ExtractionMode.thorough: ROOT / "bench" / "results" / "extraction.json",
    ExtractionMode.fast: ROOT / "bench" / "results" / "extraction-fast.json",
}
REFERENCE_SYSTEMS = ("AutoExtract", "trafilatura", "Diffbot")
SHINGLE_SIZE = 4
_TOKEN_RE = re.compile(r"\w+")


@dataclass(frozen=True)
class PageScore:
    """Shingle matching of one page: normalised tp/fp/fn as evaluate.py computes them."""

    tp: float
    fp: float
    fn: float

    @property
    def precision(self) -> float | None:
        """None when the prediction is empty (evaluate.py leaves such pages out of precision)."""
        if self.fp == self.fn == 0:
            return 1.0
        return None if self.tp + self.fp == 0 else self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        if self.fp == self.fn == 0:
            return 1.0
        return None if self.tp + self.fn == 0 else self.tp / (self.tp + self.fn)

    @property
    def f1(self) -> float:
        if self.fp == self.fn == 0:
            return 1.0
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    """Token 4-grams with counts; texts under four tokens give one shorter shingle."""
    tokens = _TOKEN_RE.findall(text or "")
    grams = (
        tuple(tokens[i : i + SHINGLE_SIZE]) for i in range(max(1, len(tokens) - SHINGLE_SIZE + 1))
    )
    return Counter(gram for gram in grams if gram)


def score_page(truth: str, prediction: str) -> PageScore:
    """Shingle tp/fp/fn of one prediction, normalised to sum to 1 (so long pages weigh the same)."""
    true, pred = _shingles(truth), _shingles(prediction)
    tp = sum((true & pred).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    return PageScore(tp / total, fp / total, fn / total) if total else PageScore(0.0, 0.0, 0.0)


def set_f1(truth: str, prediction: str) -> float:
    """Per-page F1 over sets of lowercased shingles: not evaluate.py's measure, but the variant
    that reproduces the figures quoted in the ingest issue (0.963 / 0.955 / 0.944)."""
    true, pred = set(_shingles(truth.lower())), set(_shingles(prediction.lower()))
    if not true and not pred:
        return 1.0
    return 2 * len(true & pred) / (len(true) + len(pred))


def summarize_scores(scores: list[PageScore]) -> dict[str, float]:
    """Mean per-page F1, and evaluate.py's mean precision, mean recall and their harmonic F1."""
    precision = statistics.mean(s.precision for s in scores if s.precision is not None)
    recall = statistics.mean(s.recall for s in scores if s.recall is not None)
    return {
        "mean_f1": statistics.mean(s.f1 for s in scores),
        "precision": precision,
        "recall": recall,
        "benchmark_f1": 2 * precision * recall / (precision + recall),
        "pages": len(scores),
    }


def _load_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def _reference_outputs(aeb: Path) -> dict[str, dict[str, str]]:
    """The published predictions (output/*.json), unwrapped from {"version", "output"} if needed."""
    outputs = {}
    for name in REFERENCE_SYSTEMS:
        data = _load_json(aeb / "output" / f"{name}.json")
        if "output" in data and "version" in data:
            data = data["output"]
        outputs[name] = {key: (item or {}).get("articleBody") or "" for key, item in data.items()}
    return outputs


def _page_fetch(path: Path, url: str, source_name: str) -> FetchResult:
    """A FetchResult for a gzipped HTML file, as the fetch stage would hand it over."""
    html = decode_file(gzip.decompress(path.read_bytes()))
    return FetchResult(
        url=url,
        source_name=source_name,
        outcome="ok",
        final_url=url,
        status=200,
        content_type="text/html",
        html=html,
    )


def extract_aeb(
    corpus: Path, workers: int = 0, mode: ExtractionMode = ExtractionMode.thorough
) -> dict[str, str]:
    """newsflow's main text for every scrapinghub page (rejected documents count as empty)."""
    aeb = corpus / AEB_DIR
    truth = _load_json(aeb / "ground-truth.json")
    fetches = [
        _page_fetch(aeb / "html" / f"{key}.html.gz", item["url"], "scrapinghub-aeb")
        for key, item in truth.items()
    ]
    docs = clean_documents(fetches, workers, mode)
    return {key: _usable_text(doc) for key, doc in zip(truth, docs, strict=True)}


def _usable_text(doc: Document) -> str:
    return "" if doc.rejected else doc.text


def evaluate_extraction(
    corpus: Path, workers: int = 0, mode: ExtractionMode = ExtractionMode.thorough
) -> dict[str, Any]:
    """Scores of newsflow and of the published outputs on the scrapinghub benchmark."""
    aeb = corpus / AEB_DIR
    truth = {
        key: item["articleBody"] for key, item in _load_json(aeb / "ground-truth.json").items()
    }
    predictions = {"newsflow": extract_aeb(corpus, workers, mode), **_reference_outputs(aeb)}
    results: dict[str, Any] = {}
    for name, predicted in predictions.items():
        scores = [score_page(truth[key], predicted.get(key, "")) for key in truth]
        results[name] = summarize_scores(scores)
        set_scores = [set_f1(truth[key], predicted.get(key, "")) for key in truth]
        results[name]["set_f1"] = statistics.mean(set_scores)
        if name == "newsflow":
            results[name]["per_page_f1"] = {
                key: round(s.f1, 4) for key, s in zip(truth, scores, strict=True)
            }
    return results


def _day_truth(value: Any) -> str | None:
    """The annotated day, or None for the bare-NaN entries."""
    return value if isinstance(value, str) else None if math.isnan(value) else str(value)


def _stated_day(page: tuple[Path, str], mode: ExtractionMode) -> str | None:
    """The publication day read_publication_time gives one page (runs in a pool worker)."""
    path, url = page
    found = read_publication_time(decode_file(gzip.decompress(path.read_bytes())), url, mode)
    return local_day(*found) if found else None


def _baseline_days(page: tuple[Path, str]) -> tuple[str | None, str | None]:
    """The day htmldate (as its own evaluation runs it) and trafilatura's metadata find."""
    path, url = page
    html = decode_file(gzip.decompress(path.read_bytes()))
    by_htmldate = find_date(html, url=url, original_date=True, extensive_search=True)
    return by_htmldate, extract_metadata(html, default_url=url).date


def _days_only(
    pages: list[tuple[Path, str]], workers: int, mode: ExtractionMode
) -> list[str | None]:
    """Publication days of pages, the date step alone, over a forkserver pool."""
    with ProcessPoolExecutor(workers or usable_cores(), mp_context=_context()) as pool:
        return list(pool.map(partial(_stated_day, mode=mode), pages, chunksize=4))


def _context() -> multiprocessing.context.BaseContext:
    """A forkserver context with the clean stage (and trafilatura, htmldate) preloaded: this
    module imports tasks.clean, and with it Prefect, and each worker runs this module as its
    main, so the server imports tasks.clean for them."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tasks.clean"])
    return context


def _days_cleaned(
    pages: list[tuple[Path, str]], workers: int, mode: ExtractionMode
) -> list[str | None]:
    """Publication days of pages as the whole clean stage gives them."""
    docs = clean_documents(
        [_page_fetch(path, url, "mediacloud-2020") for path, url in pages], workers, mode
    )
    return [
        local_day(doc.published_at, doc.published_offset) if doc.published_at else None
        for doc in docs
    ]


def _accuracy(expected: list[str], found: list[str | None]) -> float:
    return sum(day == truth for day, truth in zip(found, expected, strict=True)) / len(expected)


def evaluate_date_baselines(corpus: Path, workers: int = 0) -> dict[str, float]:
    """Exact-day accuracy of htmldate and of trafilatura's metadata on the same pages."""
    folder = corpus / DATES_DIR
    truth = _load_json(folder / "eval_mediacloud_2020.json")
    dated = {url: day for url, item in truth.items() if (day := _day_truth(item["date"]))}
    pages = [(folder / "test_set" / f"{truth[url]['file']}.gz", url) for url in dated]
    with ProcessPoolExecutor(workers or usable_cores(), mp_context=_context()) as pool:
        found = list(pool.map(_baseline_days, pages, chunksize=4))
    expected = list(dated.values())
    return {
        "htmldate": _accuracy(expected, [pair[0] for pair in found]),
        "trafilatura": _accuracy(expected, [pair[1] for pair in found]),
    }


def evaluate_dates(
    corpus: Path,
    workers: int = 0,
    *,
    dates_only: bool = False,
    mode: ExtractionMode = ExtractionMode.thorough,
) -> dict[str, Any]:
    """Exact-day accuracy of newsflow's publication dates over the dated MediaCloud pages.

    dates_only runs read_publication_time instead of the whole clean stage: the same dates,
    in a fraction of the time (the quality gate uses it).
    """
    folder = corpus / DATES_DIR
    truth = _load_json(folder / "eval_mediacloud_2020.json")
    dated = {url: day for url, item in truth.items() if (day := _day_truth(item["date"]))}
    pages = [(folder / "test_set" / f"{truth[url]['file']}.gz", url) for url in dated]
    found_days = (_days_only if dates_only else _days_cleaned)(pages, workers, mode)
    misses = {
        url: {"expected": dated[url], "found": found}
        for url, found in zip(dated, found_days, strict=True)
        if found != dated[url]
    }
    hits = len(dated) - len(misses)
    return {"accuracy": hits / len(dated), "pages": len(dated), "hits": hits, "misses": misses}


def _print_report(extraction: dict[str, Any], dates: dict[str, Any]) -> None:
    pages = extraction["newsflow"]["pages"]
    print(f"Main text, scrapinghub article-extraction-benchmark ({pages} pages)")
    print(f"{'system':<14}{'mean F1':>9}{'P':>8}{'R':>8}{'bench F1':>10}{'set F1':>9}")
    ranked = sorted(extraction.items(), key=lambda item: -item[1]["mean_f1"])
    for name, row in ranked:
        print(
            f"{name:<14}{row['mean_f1']:>9.4f}{row['precision']:>8.4f}{row['recall']:>8.4f}"
            f"{row['benchmark_f1']:>10.4f}{row['set_f1']:>9.4f}"
        )
    print(
        "mean F1: mean of per-page F1 over shingle multisets (evaluate.py's counting); P, R: its\n"
        "mean precision and recall; bench F1: their harmonic mean (what evaluate.py prints);\n"
        "set F1: per-page F1 over lowercased shingle sets (reproduces the issue's figures)"
    )
    print(f"\nPublication day, MediaCloud 2020 ({dates['pages']} dated pages), exact match")
    rows = {"newsflow": dates["accuracy"], **dates.get("baselines", {})}
    for name, accuracy in sorted(rows.items(), key=lambda item: -item[1]):
        print(f"{name:<14}{accuracy:>9.3f}")


def main() -> None:
    """Run both benchmarks, print the tables and write bench/results/extraction.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the shared corpus folder")
    parser.add_argument("--workers", type=int, default=0, help="processes (0 = one per core)")
    parser.add_argument(
        "--extraction",
        type=ExtractionMode,
        default=ExtractionMode.thorough,
        choices=list(ExtractionMode),
        help="the clean stage's mode to score",
    )
    parser.add_argument(
        "--no-date-baselines", action="store_true", help="skip re-running htmldate and trafilatura"
    )
    args = parser.parse_args()
    if not (args.corpus / AEB_DIR).is_dir():
        raise SystemExit(f"corpus not found at {args.corpus}; pass --corpus DIR")
    started = time.perf_counter()
    extraction = evaluate_extraction(args.corpus, args.workers, args.extraction)
    dates = evaluate_dates(args.corpus, args.workers, mode=args.extraction)
    if not args.no_date_baselines:
        dates["baselines"] = evaluate_date_baselines(args.corpus, args.workers)
    _print_report(extraction, dates)
    elapsed = time.perf_counter() - started
    print(f"({elapsed:.1f} s)")
    results = RESULTS[args.extraction]
    results.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "mode": str(args.extraction),
        "extraction": extraction,
        "dates": dates,
        "seconds": round(elapsed, 1),
    }
    results.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
