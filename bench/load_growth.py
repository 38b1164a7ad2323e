"""How one batch load's time and memory grow with the warehouse it loads into.

Batches of corpus-sized documents (the benchmark corpus's pages as raw bodies, texts of ~20 real
paragraphs) are loaded one after another into a fresh warehouse file, each batch on its own writer
connection as the ingest flow's load task opens it. Every few batches it reports the stored
articles, the load's seconds and how far the process's RSS rose above its level before the load
(sampled every 20 ms). --small-bodies replaces the page bodies with a line each, to separate the
bodies' share from the texts'; --memory-limit sets DuckDB's memory_limit on each writer.

Run: python -m bench.load_growth [--batches 30] [--batch 200] [--small-bodies]
     [--memory-limit 128MB]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from datetime import UTC, datetime

import psutil

from bench.corpus import Corpus
from tasks.dedupe import fingerprints
from tasks.records import Document, FetchResult
from warehouse.db import writer
from warehouse.store import load_batch_rows

PARAGRAPHS_PER_TEXT = 20
REPORT_EVERY = 5
SAMPLE_SECONDS = 0.02


def _documents(corpus: Corpus, start: int, size: int, small_bodies: bool) -> list[Document]:
    rng = random.Random(start)
    now = datetime.now(UTC)
    docs = []
    for number in range(start, start + size):
        url = f"https://bench.example/news/{number:06d}.html"
        html = f"<p>{number}</p>" if small_bodies else corpus.render(number % len(corpus.specs))
        fetch = FetchResult(url=url, source_name="bench", outcome="ok", status=200)
        fetch.final_url, fetch.html, fetch.fetched_at = url, html, now
        fetch.content_type, fetch.bytes = "text/html", len(html)
        text = "\n".join(rng.sample(corpus.pool, PARAGRAPHS_PER_TEXT)) + f"\nPage {number}."
        doc = Document(url, "bench", None, f"Page {number}", None, None, "en", now, None, text)
        doc.fetch = fetch
        docs.append(doc)
    return docs


class _PeakRss:
    """The highest RSS of this process since the last reset, sampled in a thread."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.peak = self.now()
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def now(self) -> int:
        return self._process.memory_info().rss

    def reset(self) -> int:
        self.peak = self.now()
        return self.peak

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.peak = max(self.peak, self.now())

    def stop(self) -> None:
        self._stop.set()


def measure_growth(
    folder: str, batches: int, batch: int, small_bodies: bool, memory_limit: str | None
) -> list[dict[str, float]]:
    """Load `batches` batches into a fresh warehouse; a row every REPORT_EVERY batches."""
    corpus = Corpus(batches * batch)
    path = f"{folder}/growth.duckdb"
    rss = _PeakRss()
    rows = []
    try:
        for number in range(batches):
            docs = _documents(corpus, number * batch, batch, small_bodies)
            prints = fingerprints(docs)
            before = rss.reset()
            started = time.perf_counter()
            with writer(path) as conn:
                if memory_limit:
                    conn.execute("SET memory_limit = ?", [memory_limit])
                load_batch_rows(
                    conn, run_id=None, sources=[], fetches=[d.fetch for d in docs],
                    documents=docs, prints=prints, feed_entries=[],
                )  # fmt: skip
            seconds = time.perf_counter() - started
            if (number + 1) % REPORT_EVERY == 0 or number + 1 == batches:
                rows.append(
                    {
                        "stored_articles": (number + 1) * batch,
                        "load_s": round(seconds, 2),
                        "rss_before_mb": before >> 20,
                        "rss_rise_mb": (rss.peak - before) >> 20,
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    finally:
        rss.stop()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--small-bodies", action="store_true")
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory_limit, e.g. 128MB")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="newsflow-growth-") as folder:
        rows = measure_growth(
            folder, args.batches, args.batch, args.small_bodies, args.memory_limit
        )
    first, last = rows[0], rows[-1]
    print(
        f"from {first['stored_articles']} to {last['stored_articles']} stored articles: load "
        f"{first['load_s']} -> {last['load_s']} s, RSS rise {first['rss_rise_mb']} -> "
        f"{last['rss_rise_mb']} MB"
    )


if __name__ == "__main__":
    main()
