"""The baseline: a plain script (no Prefect) that fetches, extracts, hashes and bulk-loads pages.

It is the practical limit newsflow is measured against: requests in a thread pool, trafilatura in
a process pool of os.cpu_count() workers, sha1 of the text, one Arrow bulk insert into DuckDB.
trafilatura runs with the options newsflow's own runs use (EXTRACT_OPTIONS: no comments, tables
kept, plain text) and its default fallbacks.
Fetching of the next window overlaps extraction of the current one, so neither waits for the other.

Run: python -m bench.baseline --urls urls.txt --db /tmp/baseline.duckdb
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow as pa
import requests
import trafilatura
from requests.adapters import HTTPAdapter

FETCH_THREADS = 16
WINDOW = 200  # pages fetched ahead while the previous window is extracted
# tasks/extraction.py's _TRAFILATURA_OPTIONS (a test holds them equal): trafilatura's default
# include_comments=True would extract, and hash, readers' comments that newsflow leaves out.
EXTRACT_OPTIONS = {"include_comments": False, "include_tables": True, "output_format": "txt"}


def _fetch_window(session: requests.Session, pool: ThreadPoolExecutor, urls: list[str]) -> list:
    def get(url: str) -> tuple[str, str | None]:
        response = session.get(url, timeout=30)
        return url, response.text if response.status_code == 200 else None

    return list(pool.map(get, urls))


def _extract(page: tuple[str, str | None]) -> tuple[str, str | None]:
    url, body = page
    return url, trafilatura.extract(body, url=url, **EXTRACT_OPTIONS) if body else None


def run_baseline(urls: list[str], db: str) -> dict[str, float | int]:
    """Fetch, extract, hash and insert `urls`; returns the counts and per-stage seconds."""
    started = time.perf_counter()
    timings = {"fetch_wait_s": 0.0, "extract_s": 0.0, "load_s": 0.0}
    rows: list[tuple[str, str, str]] = []
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=FETCH_THREADS))
    windows = [urls[i : i + WINDOW] for i in range(0, len(urls), WINDOW)]
    workers = os.cpu_count() or 1
    with (
        ThreadPoolExecutor(FETCH_THREADS) as threads,
        ThreadPoolExecutor(1) as ahead,
        ProcessPoolExecutor(workers) as processes,
    ):
        pending: Future | None = ahead.submit(_fetch_window, session, threads, windows[0])
        for number in range(len(windows)):
            mark = time.perf_counter()
            pages = pending.result()
            timings["fetch_wait_s"] += time.perf_counter() - mark
            pending = (
                ahead.submit(_fetch_window, session, threads, windows[number + 1])
                if number + 1 < len(windows)
                else None
            )
            mark = time.perf_counter()
            chunk = max(1, len(pages) // (workers * 4))
            for url, text in processes.map(_extract, pages, chunksize=chunk):
                if text:
                    rows.append((url, hashlib.sha1(text.encode()).hexdigest(), text))
            timings["extract_s"] += time.perf_counter() - mark
    mark = time.perf_counter()
    table = pa.table({k: [r[i] for r in rows] for i, k in enumerate(("url", "text_hash", "text"))})
    with duckdb.connect(db) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS pages (url VARCHAR, text_hash VARCHAR, text VARCHAR)"
        )
        conn.register("incoming", table)
        conn.execute("INSERT INTO pages SELECT * FROM incoming")
    timings["load_s"] = time.perf_counter() - mark
    return {
        "pages": len(urls),
        "extracted": len(rows),
        "unique_texts": len({r[1] for r in rows}),
        "wall_s": time.perf_counter() - started,
        **timings,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", required=True, help="a file of URLs, one a line")
    parser.add_argument("--db", required=True, help="a DuckDB file to write")
    args = parser.parse_args(argv)
    urls = [line.strip() for line in Path(args.urls).read_text().splitlines() if line.strip()]
    print(json.dumps(run_baseline(urls, args.db)))


if __name__ == "__main__":
    main()
