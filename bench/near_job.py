"""Timed near-duplicate lookups and batch loads against a built warehouse, and their peak memory.

Run by bench.micro in a process of its own, so that the peak RSS it reports is that of the
fingerprints, lookups and loads it times (on top of this module's imports, reported beside it),
not that of the process that built the warehouse of stored signatures: the kernel's high-water
mark of this process's RSS (bench.process_memory). Prints its figures as one line of JSON.

Run: python -m bench.near_job --db micro.duckdb --incoming incoming.json [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psutil

from bench.micro import _documents, _timed
from bench.process_memory import peak_rss
from tasks.dedupe import Fingerprint, fingerprints
from tasks.records import Document
from warehouse.band_index import opened_band_index
from warehouse.db import writer
from warehouse.store import _near_matches, load_batch_rows


def _load(conn: Any, docs: list[Document]) -> None:
    prints: list[Fingerprint] = fingerprints(docs)
    load_batch_rows(
        conn, run_id=None, sources=[], fetches=[d.fetch for d in docs], documents=docs,
        prints=prints, feed_entries=[],
    )  # fmt: skip


def measure_lookups(db: str, incoming: list[str], repeats: int) -> dict[str, Any]:
    """Seconds of each repeat: the lookup on a fresh connection (opening and settling the band
    index, as each ingest batch's writer does), again on that warm connection, and one whole
    load_batch_rows of the batch."""
    docs = _documents(incoming, "incoming")
    fingerprint_seconds, prints = _timed(lambda: fingerprints(docs))
    batch = list(range(len(incoming)))
    lookups, warm, found, signatures = [], [], 0, 0
    for _ in range(repeats):
        with writer(db) as conn, ExitStack() as stack:
            started = time.perf_counter()
            index = stack.enter_context(opened_band_index(conn))
            if index is not None:
                index.settle(conn)
            matches = _near_matches(conn, index, prints, batch, set())
            lookups.append(time.perf_counter() - started)
            signatures = conn.execute("SELECT count(*) FROM minhash_signatures").fetchone()[0]
            warm.append(
                _timed(lambda c=conn, i=index: _near_matches(c, i, prints, batch, set()))[0]
            )
            found = len(matches)
    loads = []
    for repeat in range(repeats):
        fresh = _documents(incoming, f"incoming{repeat}")
        with writer(db) as conn:
            loads.append(_timed(lambda conn=conn, fresh=fresh: _load(conn, fresh))[0])
    return {
        "fingerprint_seconds": fingerprint_seconds,
        "lookup_seconds": lookups,
        "lookup_warm_seconds": warm,
        "load_seconds": loads,
        "signatures": signatures,
        "near_found": found,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a DuckDB file or a ducklake: URL")
    parser.add_argument("--incoming", required=True, help="a JSON list of the batch's texts")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    start_rss = psutil.Process().memory_info().rss
    incoming = json.loads(Path(args.incoming).read_text())
    result = measure_lookups(args.db, incoming, args.repeats)
    result["start_rss_mb"] = round(start_rss / 2**20)
    result["peak_rss_mb"] = round(peak_rss() / 2**20)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
