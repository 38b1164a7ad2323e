"""Micro-benchmarks: near-duplicate lookup, batch load and daily summaries on large warehouses.

A real warehouse file (migrated schema) is filled with S synthetic stored articles, each with a
random MinHash signature and its 32 LSH band rows, plus the near copies of half of an incoming
batch; its first load builds the band index (warehouse.band_index) from those rows. Then, per S,
it times (median of repeats) the near-duplicate lookup of the batch (opening and settling the band
index, its key lookup and the signature check, as warehouse.store runs them) and one whole
load_batch_rows of the batch (fetch log, articles, signatures, bands in one transaction), and
reports time per article. The timed part runs in a process of its own (bench.near_job) whose peak
RSS it reports. Each lookup runs on a fresh connection, as each ingest batch opens its own writer
(a warm connection hides the cost of reading indexes back).

The summaries benchmark fills a warehouse with A synthetic articles and E capture events (SQL
from range()) and times recompute_daily_summaries over the whole range, the function the
summarize flow calls, in a process of its own (bench.summaries_job) whose peak RSS it reports.

With --lake the near-duplicate warehouse is a DuckLake (SQLite catalog, Parquet files beside it)
instead of a DuckDB file: its band index sits beside the catalog, and each lookup first reads the
lake's commits since the index last read it (README, Scaling out).

Run: python -m bench.micro [--stored 100000 1000000] [--batch 200] [--articles 1000000]
     [--events 100000] [--skip near|summaries] [--lake]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from tasks.dedupe import fingerprints
from tasks.records import Document, FetchResult
from warehouse.band_index import INDEX_SUFFIX
from warehouse.db import writer
from warehouse.store import load_batch_rows

ROOT = Path(__file__).resolve().parents[1]
FILL_SQL = Path(__file__).resolve().parent / "sql" / "fill_synthetic_articles.sql"
SUMMARIES_SQL = Path(__file__).resolve().parent / "sql" / "fill_synthetic_summaries.sql"
RESULTS = Path(__file__).resolve().parent / "results"
REPEATS = 3
_VOCABULARY = [f"w{i}" for i in range(5000)]


def _text(rng: random.Random, words: int = 400) -> str:
    return " ".join(rng.choice(_VOCABULARY) for _ in range(words))


def _edited(text: str, rng: random.Random) -> str:
    """A near copy: one run of 20 words rewritten."""
    words = text.split()
    start = rng.randrange(len(words) - 20)
    words[start : start + 20] = [rng.choice(_VOCABULARY) for _ in range(20)]
    return " ".join(words)


def _documents(texts: list[str], prefix: str) -> list[Document]:
    now = datetime.now(UTC)
    docs = []
    for number, text in enumerate(texts):
        url = f"https://bench.example/{prefix}/{number}"
        fetch = FetchResult(url=url, source_name="bench", outcome="ok", status=200)
        fetch.final_url, fetch.html, fetch.fetched_at = url, f"<p>{text}</p>", now
        docs.append(
            Document(url, "bench", None, f"{prefix} {number}", None, None, "en", now, None, text)
        )
        docs[-1].fetch = fetch
    return docs


def _statements(script: str) -> list[str]:
    """The statements of a SQL file (no ';' inside its strings), comment lines dropped."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def build_store(path: str, stored: int, planted: list[str]) -> None:
    """Fill a fresh warehouse with `stored` articles in all: the `planted` texts and synthetic
    articles for the rest."""
    with writer(path) as conn:
        for statement in _statements(FILL_SQL.read_text()):
            conn.execute(statement, [stored - len(planted)])
        docs = _documents(planted, "stored")
        load_batch_rows(
            conn, run_id=None, sources=[], fetches=[d.fetch for d in docs], documents=docs,
            prints=fingerprints(docs), feed_entries=[],
        )  # fmt: skip
        conn.execute("CHECKPOINT")


def _timed(action: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def _size_mb(path: Path) -> int:
    """A file's size, or a lake folder's without its band index (reported on its own)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    files = [p for p in files if p == path or INDEX_SUFFIX not in p.name]
    return round(sum(p.stat().st_size for p in files) / 2**20)


def measure(stored: int, batch: int, folder: str, lake: bool = False) -> dict[str, Any]:
    """Lookup and load timings for one incoming batch against `stored` articles, in a process of
    its own (bench.near_job): its peak RSS is the lookups' and loads', not this process's, which
    built the warehouse (and holds what the build left)."""
    rng = random.Random(stored)
    incoming = [_text(rng) for _ in range(batch)]
    planted = [_edited(text, rng) for text in incoming[: batch // 2]]
    catalog = f"{folder}/micro-{stored}/catalog.sqlite"
    path = f"ducklake:sqlite:{catalog}" if lake else f"{folder}/micro-{stored}.duckdb"
    build_seconds, _ = _timed(lambda: build_store(path, stored, planted))
    incoming_file = Path(folder) / f"incoming-{stored}.json"
    incoming_file.write_text(json.dumps(incoming))
    runs = _run_job("bench.near_job", "--db", path, "--incoming", str(incoming_file))
    index_file = Path((catalog if lake else path) + INDEX_SUFFIX)
    return {
        "stored": stored,
        "batch": batch,
        "warehouse": "ducklake" if lake else "duckdb",
        "build_s": round(build_seconds, 1),
        "signatures": runs["signatures"],  # stored when the lookups ran: `stored`, planted included
        "near_found": runs["near_found"],
        "near_planted": len(planted),
        "fingerprint_ms_per_article": round(runs["fingerprint_seconds"] / batch * 1000, 3),
        "lookup_ms_per_article": round(statistics.median(runs["lookup_seconds"]) / batch * 1000, 3),
        "lookup_warm_ms_per_article": round(
            statistics.median(runs["lookup_warm_seconds"]) / batch * 1000, 3
        ),
        "load_ms_per_article": round(statistics.median(runs["load_seconds"]) / batch * 1000, 3),
        "peak_rss_mb": runs["peak_rss_mb"],  # of the process running the lookups and loads
        "start_rss_mb": runs["start_rss_mb"],  # the same process before them: its imports
        "db_mb": _size_mb(Path(catalog).parent if lake else Path(path)),
        "band_index_mb": _size_mb(index_file) if index_file.exists() else 0,
    }


def _run_job(module: str, *args: str) -> dict[str, Any]:
    """Run a benchmark job in a process of its own; its last line of output is its JSON."""
    job = subprocess.run(
        [sys.executable, "-m", module, *args, "--repeats", str(REPEATS)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(job.stdout.splitlines()[-1])


def build_summaries_store(path: str, articles: int, events: int) -> None:
    """A fresh warehouse with synthetic articles, capture events and reported counts."""
    values = {"articles": articles, "events": events}
    with writer(path) as conn:
        for statement in _statements(SUMMARIES_SQL.read_text()):
            conn.execute(statement, {k: v for k, v in values.items() if f"${k}" in statement})
        conn.execute("CHECKPOINT")


def measure_summaries(articles: int, events: int, folder: str) -> dict[str, Any]:
    """Time recompute_daily_summaries over the whole range (median of repeats), in a process of
    its own (bench.summaries_job): its peak RSS is the summaries runs', not this process's, which
    built the warehouse (and may have measured near-duplicate lookups before)."""
    path = f"{folder}/summaries-{articles}.duckdb"
    build_seconds, _ = _timed(lambda: build_summaries_store(path, articles, events))
    runs = _run_job("bench.summaries_job", "--db", path)
    return {
        "articles": articles,
        "events": events,
        "build_s": round(build_seconds, 1),
        "summaries_s": round(statistics.median(runs["seconds"]), 3),
        "summaries_max_s": round(max(runs["seconds"]), 3),
        "us_per_article": round(statistics.median(runs["seconds"]) / articles * 1e6, 3),
        "rows_written": runs["rows_written"],
        "peak_rss_mb": runs["peak_rss_mb"],  # of the process running the summaries
        "start_rss_mb": runs["start_rss_mb"],  # the same process before them: its imports
        "db_mb": round(Path(path).stat().st_size / 2**20),
    }


def _ratios(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Largest over smallest stored size, per timing: 1.0 is flat."""
    if len(rows) < 2:
        return {}
    small, large = rows[0], rows[-1]
    keys = ("lookup_ms_per_article", "lookup_warm_ms_per_article", "load_ms_per_article")
    return {k: round(large[k] / small[k], 2) for k in keys if small[k]}


def _print_table(rows: list[dict[str, Any]], summary: dict[str, Any] | None) -> None:
    """The parts measured, nothing for a skipped one; a dash for a figure an older results file
    does not hold (its `rss_mb` was the RSS of the process that had built the warehouse)."""
    if rows:
        print(f"{'stored':>9} {'lookup ms/art':>14} {'warm ms/art':>12} {'load ms/art':>12} "
              f"{'found':>7} {'start MB':>8} {'peak MB':>8} {'db MB':>6}")  # fmt: skip
    for r in rows:
        found = f"{r['near_found']}/{r['near_planted']}"
        print(f"{r['stored']:>9} {r['lookup_ms_per_article']:>14} "
              f"{r.get('lookup_warm_ms_per_article', '–'):>12} {r['load_ms_per_article']:>12} "
              f"{found:>7} {r.get('start_rss_mb', '–'):>8} {r.get('peak_rss_mb', '–'):>8} "
              f"{r['db_mb']:>6}")  # fmt: skip
    if summary:
        peak, start = summary.get("peak_rss_mb", "–"), summary.get("start_rss_mb", "–")
        print(f"summaries: {summary['articles']} articles, {summary['events']} events: "
              f"{summary['summaries_s']} s (max {summary['summaries_max_s']} s), "
              f"peak RSS {peak} MB of a process running only the summaries "
              f"({start} MB before them: its imports)")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--skip", choices=["near", "summaries"], action="append", default=[])
    parser.add_argument("--lake", action="store_true", help="near duplicates in a DuckLake")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    rows, summary = [], None
    with tempfile.TemporaryDirectory(prefix="newsflow-micro-") as folder:
        if "near" not in args.skip:
            for stored in args.stored:
                rows.append(measure(stored, args.batch, folder, args.lake))
                print(json.dumps(rows[-1]), flush=True)
        if "summaries" not in args.skip:
            summary = measure_summaries(args.articles, args.events, folder)
            print(json.dumps(summary), flush=True)
    _print_table(rows, summary)
    ratios = _ratios(rows)
    if rows:
        print(f"ratios largest/smallest stored: {ratios}")
    if not args.no_save:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = RESULTS / f"micro-{stamp}.json"
        report = {
            "near_duplicates": rows,
            "ratios": ratios,
            "summaries": summary,
            "load_average": list(psutil.getloadavg()),
        }
        out.write_text(json.dumps(report, indent=2))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
