"""Querying while a load runs: answers within seconds, and only ever whole batches."""

from __future__ import annotations

import os
import random
import string
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import ROOT
from tests.documents import cleaned_document
from warehouse.queries import read_only_query

BATCHES = 8
BATCH_SIZE = 30
PAUSE_SECONDS = 0.5  # what fetching and cleaning the next batch takes, at least
MAX_ANSWER_SECONDS = 5.0
CONSISTENCY = """
SELECT (SELECT count(*) FROM fetches), (SELECT count(*) FROM articles),
       (SELECT count(*) FROM article_versions),
       (SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM articles GROUP BY site_name)),
       (SELECT coalesce(min(n), 0) FROM (SELECT count(*) AS n FROM articles GROUP BY site_name))
"""


def _text(rng: random.Random) -> str:
    """Unrelated made-up prose, so no two articles are near-duplicates."""
    words = ("".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(250))
    return " ".join(words).capitalize() + "."


def write_batches(db: str, batches: int, size: int, pause: float) -> None:
    """The load side of an ingest run: one short transaction per batch, then a pause."""
    from tasks.dedupe import fingerprints
    from tasks.load import write_batch

    rng = random.Random(7)
    start = datetime(2021, 8, 6, tzinfo=UTC)
    for batch in range(batches):
        docs = []
        for item in range(size):
            url = f"https://news.example.org/b{batch}/story-{item}"
            text = _text(rng)
            when = start + timedelta(hours=batch)
            docs.append(
                cleaned_document(
                    url,
                    text,
                    source_name="load",
                    title=f"story {item}",
                    site_name=f"batch-{batch}",
                    published_at=when,
                    fetched_at=when,
                )
            )
        write_batch(db, fetches=[d.fetch for d in docs], documents=docs, prints=fingerprints(docs))
        print(f"loaded batch {batch}", flush=True)
        time.sleep(pause)


def _start_writer(db: str, log: Path) -> subprocess.Popen:
    code = (
        "from tests.test_concurrency import write_batches; "
        f"write_batches({db!r}, {BATCHES}, {BATCH_SIZE}, {PAUSE_SECONDS})"
    )
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_for_file(path: str, writer: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not Path(path).exists():
        assert writer.poll() is None, f"writer exited early:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no warehouse after {timeout} s:\n{log.read_text()}"
        time.sleep(0.1)


def test_queries_during_a_load_answer_within_seconds_and_see_whole_batches(db_path, tmp_path):
    log = tmp_path / "writer.log"
    writer = _start_writer(db_path, log)
    answers: list[tuple[float, tuple]] = []
    try:
        _wait_for_file(db_path, writer, log)
        deadline = time.monotonic() + 180
        while writer.poll() is None and time.monotonic() < deadline:
            began = time.monotonic()
            _, rows = read_only_query(db_path, CONSISTENCY)
            answers.append((time.monotonic() - began, rows[0]))
            time.sleep(0.05)
        writer.wait(timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=10)
    assert writer.returncode == 0, log.read_text()
    _, final = read_only_query(db_path, CONSISTENCY)
    total = BATCHES * BATCH_SIZE
    assert final[0] == (total, total, total, BATCH_SIZE, BATCH_SIZE)

    seen = [row for _, row in answers]
    for fetches, articles, versions, largest, smallest in seen:
        # a batch is all there (fetch log, articles, versions) or not there at all
        assert fetches == articles == versions and articles % BATCH_SIZE == 0
        assert articles == 0 or largest == smallest == BATCH_SIZE
    mid_load = {row[1] for row in seen if 0 < row[1] < total}
    assert len(mid_load) >= 3, f"too few answers while loading: {sorted(mid_load)}"
    slowest = max(seconds for seconds, _ in answers)
    print(f"{len(answers)} answers, {len(mid_load)} mid-load counts, slowest {slowest:.2f} s")
    assert slowest < MAX_ANSWER_SECONDS, f"a query waited {slowest:.1f} s for the writer"
