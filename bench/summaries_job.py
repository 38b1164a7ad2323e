"""Timed recompute_daily_summaries runs over a whole warehouse, and their peak memory, as JSON.

Run by bench.micro in a process of its own, so that the peak RSS it reports is that of the
summaries runs (on top of this module's imports, reported beside it), not that of the process
that built the warehouse: the kernel's high-water mark of this process's RSS
(bench.process_memory).

Run: python -m bench.summaries_job --db summaries.duckdb [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import time

import psutil

from bench.process_memory import peak_rss
from warehouse.summaries import recompute_daily_summaries


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    start_rss = psutil.Process().memory_info().rss
    seconds, written = [], {}
    for _ in range(args.repeats):
        started = time.perf_counter()
        written = recompute_daily_summaries(args.db, None, None)
        seconds.append(time.perf_counter() - started)
    result = {
        "seconds": seconds,
        "rows_written": written,
        "start_rss_mb": round(start_rss / 2**20),
        "peak_rss_mb": round(peak_rss() / 2**20),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
