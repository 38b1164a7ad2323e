"""Crash safety and concurrency: loads killed with SIGKILL mid-transaction, two writers at once."""

from __future__ import annotations

import multiprocessing
import os
import queue
import random
import re
import select
import signal
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tasks.dedupe import Fingerprint, fingerprints
from tasks.load import write_batch
from tasks.records import Document, FetchResult
from tests.conftest import ROOT, group_ends_within, kill_group
from tests.documents import cleaned_document
from warehouse.db import reader, writer
from warehouse.integrity import check_warehouse
from warehouse.store import load_batch_rows

SEED = 20210815
KILLS = 6
ARTICLES = 96
BATCH = 16
REVISED_EVERY = 4  # every 4th article gets a new text in each edition: versions pile up
LINE_WAIT = 60.0  # seconds a child may take to report its next step on a loaded machine
SCRAPES = 24
NEWSFLOW = ROOT / ".venv" / "bin" / "newsflow"
_FORK = multiprocessing.get_context("fork")  # children inherit the imports: no 10 s start-up


@dataclass
class Batch:
    fetches: list[FetchResult]
    documents: list[Document]
    prints: list[Fingerprint]


def _vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choices(letters, k=rng.randint(4, 9))) for _ in range(4000)]


def _text(index: int, edition: int, words: list[str]) -> str:
    """A distinct article text (~300 words); revised articles carry their edition."""
    rng = random.Random(SEED * 1000 + index)
    body = " ".join(rng.choices(words, k=300))
    if index % REVISED_EVERY == 0 and edition:
        body += f" Revised in edition {edition}: officials gave a new casualty count."
    return f"Report {index}. {body}."


def _document(index: int, edition: int, words: list[str]) -> Document:
    return cleaned_document(
        f"https://news{index % 5}.example/2021/08/story-{index}",
        _text(index, edition, words),
        source_name="crash",
        title=f"Story {index}",
        site_name=f"News {index % 5}",
        published_at=datetime(2021, 8, 1 + index % 15, 8, tzinfo=UTC),
        published_offset="+04:30",
    )


def _batches(edition: int, words: list[str]) -> list[Batch]:
    """The whole load of one edition in batches of BATCH articles."""
    docs = [_document(i, edition, words) for i in range(ARTICLES)]
    chunks = [docs[i : i + BATCH] for i in range(0, ARTICLES, BATCH)]
    return [Batch([d.fetch for d in c], c, fingerprints(c)) for c in chunks]  # type: ignore[misc]


def _load(db: str, batches: list[Batch], report_fd: int, run_id: str) -> None:
    """The child: write the batches one transaction each, saying when each begins and commits."""
    for index, batch in enumerate(batches):
        os.write(report_fd, f"begin {index}\n".encode())
        write_batch(
            db,
            run_id=run_id,
            fetches=batch.fetches,
            documents=batch.documents,
            prints=batch.prints,
            lock_wait_seconds=LINE_WAIT,
        )
        os.write(report_fd, f"commit {index}\n".encode())
    os.write(report_fd, b"done\n")


class Loader:
    """A forked child process running _load; its progress read line by line, bounded."""

    def __init__(self, db: str, batches: list[Batch], run_id: str) -> None:
        read_fd, write_fd = os.pipe()
        self.process = _FORK.Process(target=_load, args=(db, batches, write_fd, run_id))
        self.process.start()
        os.close(write_fd)
        self._read_fd, self._buffer = read_fd, b""
        self.lines: list[str] = []
        self.seen_at: dict[str, float] = {}  # when each line arrived

    def wait_for(self, line: str, seconds: float = LINE_WAIT) -> None:
        """Read progress until `line` arrives; fail the test when it does not in time."""
        deadline = time.monotonic() + seconds
        while line not in self.lines:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._read_fd], [], [], max(0.0, remaining))
            if not ready:
                pytest.fail(f"loader did not report {line!r} within {seconds} s: {self.lines}")
            chunk = os.read(self._read_fd, 4096)
            if not chunk:
                pytest.fail(f"loader exited before {line!r}: {self.lines}")
            self._buffer += chunk
            *complete, self._buffer = self._buffer.split(b"\n")
            self.lines += [c.decode() for c in complete]
            self.seen_at |= {c.decode(): time.monotonic() for c in complete}

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.finish()

    def finish(self, seconds: float = LINE_WAIT) -> int | None:
        self.process.join(seconds)
        while True:  # drain what the child said before it died
            ready, _, _ = select.select([self._read_fd], [], [], 0)
            chunk = os.read(self._read_fd, 4096) if ready else b""
            if not chunk:
                break
            self._buffer += chunk
        self.lines += [c.decode() for c in self._buffer.split(b"\n") if c]
        os.close(self._read_fd)
        return self.process.exitcode

    def batch_seconds(self) -> list[float]:
        """How long each batch that committed took, as seen from here."""
        return [
            self.seen_at[f"commit {i}"] - self.seen_at[f"begin {i}"]
            for i in self.committed()
            if f"begin {i}" in self.seen_at and f"commit {i}" in self.seen_at
        ]

    def committed(self) -> list[int]:
        return [int(line.split()[1]) for line in self.lines if line.startswith("commit ")]


@pytest.fixture(scope="module")
def words() -> list[str]:
    return _vocabulary(random.Random(SEED))


@pytest.fixture
def loaders() -> Iterator[list[Loader]]:
    """Children started by a test; any still alive at the end are killed, never left behind."""
    started: list[Loader] = []
    yield started
    for loader in started:
        if loader.process.is_alive():
            loader.kill()


def _rows(db: str, query: str) -> list[tuple]:
    with reader(db) as conn:
        return conn.execute(query).fetchall()


def _hashes(batches: list[Batch]) -> dict[str, str]:
    """url -> text hash of every document in these batches."""
    return {
        doc.url: fp.text_hash
        for batch in batches
        for doc, fp in zip(batch.documents, batch.prints, strict=True)
    }


def _texts(db: str) -> dict[str, str]:
    return dict(_rows(db, "SELECT url, text_hash FROM articles"))


def _assert_sound(db: str, expected: dict[str, str]) -> None:
    """The warehouse opens, passes every check, and holds each URL once with a text it was given."""
    with writer(db, wait_seconds=5):
        pass  # opens read-write (replaying any write-ahead log) and migrates
    assert check_warehouse(db) == []
    (count, distinct), *_ = _rows(db, "SELECT count(*), count(DISTINCT url_key) FROM articles")
    assert count == distinct
    assert set(_texts(db)) <= set(expected)


def test_sigkill_at_random_points_of_loads_never_corrupts_or_doubles(
    db_path: str, words: list[str], loaders: list[Loader]
) -> None:
    rng = random.Random(SEED)
    editions = [_batches(edition, words) for edition in range(KILLS + 1)]
    all_hashes = {url: h for edition in editions for url, h in _hashes(edition).items()}
    killed_inside, batch_seconds = 0, 0.25
    for edition in range(KILLS):
        batches = editions[edition]
        target = rng.randrange(len(batches))
        loader = Loader(db_path, batches, f"crash-{edition}")
        loaders.append(loader)
        loader.wait_for(f"begin {target}")
        time.sleep(rng.uniform(0.0, 1.2 * batch_seconds))  # in (or just after) that transaction
        loader.kill()
        assert loader.process.exitcode == -signal.SIGKILL
        killed_inside += f"commit {target}" not in loader.lines
        # the median: one batch slowed by a busy machine (7.8 s, once in CI) made the next
        # kill's delay outlast the loader's whole run, which then exited before the kill
        batch_seconds = statistics.median(loader.batch_seconds() or [batch_seconds])
        print(
            f"edition {edition}: killed in batch {target}, committed {loader.committed()}, "
            f"batches took up to {max(loader.batch_seconds(), default=0):.2f} s"
        )
        _assert_sound(db_path, all_hashes)
        stored = _texts(db_path)
        for index in loader.committed():  # what was committed survived the crash
            for doc, fp in zip(batches[index].documents, batches[index].prints, strict=True):
                assert stored[doc.url] == fp.text_hash
    assert killed_inside >= 1  # at least one kill landed inside an open transaction

    final = Loader(db_path, editions[KILLS], "rerun")
    loaders.append(final)
    assert final.finish() == 0 and "done" in final.lines
    _assert_sound(db_path, all_hashes)
    assert _texts(db_path) == _hashes(editions[KILLS])  # each article once, at its latest text
    assert _rows(db_path, "SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL") == [(0,)]
    revised = _rows(db_path, "SELECT count(*) FROM articles WHERE version > 1")[0][0]
    assert revised >= 1


def _commit_then_die(db: str, first: Batch, second: Batch) -> None:
    """The child: load `first`, then commit `second` and die at once, before its writer closes."""
    write_batch(
        db, run_id="first", fetches=first.fetches, documents=first.documents, prints=first.prints
    )
    with writer(db) as conn:
        load_batch_rows(
            conn,
            run_id="second",
            sources=[],
            fetches=second.fetches,
            documents=second.documents,
            prints=second.prints,
            feed_entries=[],
        )
        os._exit(0)


def test_a_crash_that_tears_the_write_ahead_log_loses_no_committed_batch_nor_splits_one(
    db_path: str, words: list[str]
) -> None:
    """A committed batch is in the file itself, with no write-ahead log a crash could tear.

    The batch's search postings (about 4 500 rows, over a row group) go to the file before the
    commit. Committed through the log, a crash that cut the log short of its commit marker
    brought them back on the next open without their articles and search documents (DuckDB
    1.5.5, one CI run in many): here the tear is made by cutting the log's last byte.
    """
    first, second = _batches(0, words)[:2]
    child = _FORK.Process(target=_commit_then_die, args=(db_path, first, second))
    child.start()
    child.join(LINE_WAIT)
    assert child.exitcode == 0
    wal = Path(db_path + ".wal")
    if wal.exists() and wal.stat().st_size:
        with wal.open("r+b") as log:  # as if the crash had come while the commit was written
            log.truncate(wal.stat().st_size - 1)
    _assert_sound(db_path, _hashes([first, second]))
    assert _texts(db_path) == _hashes([first, second])  # the commit had returned: both are kept


def test_two_loads_over_overlapping_sources_at_once_both_finish_without_doubles(
    db_path: str, words: list[str], loaders: list[Loader]
) -> None:
    batches = _batches(0, words)
    half = len(batches) // 2
    first = Loader(db_path, batches[: half + 2], "first")  # the middle batches overlap
    second = Loader(db_path, list(reversed(batches[half - 2 :])), "second")
    loaders += [first, second]
    assert first.finish() == 0 and second.finish() == 0
    assert "done" in first.lines and "done" in second.lines
    expected = _hashes(batches)
    _assert_sound(db_path, expected)
    assert _texts(db_path) == expected
    runs = dict(_rows(db_path, "SELECT run_id, count(*) FROM fetches GROUP BY 1"))
    assert runs == {"first": (half + 2) * BATCH, "second": (len(batches) - half + 2) * BATCH}


# --- the real thing: `newsflow ingest` killed while its flow loads ------------------------------


def _write_scrapes(folder: Path, words: list[str]) -> None:
    folder.mkdir()
    for index in range(SCRAPES):
        (folder / f"story-{index:02d}.txt").write_text(
            f"Capital {index} falls to the Taliban\n12 Aug, 2021 16:21\n{_text(index, 0, words)}\n"
        )


def _stderr_lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    """The child's stderr, line by line, read on a thread so waits can be bounded."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for_a_load(lines: queue.Queue[str]) -> None:
    """Return once the child logged its first committed batch; fail after LINE_WAIT seconds."""
    deadline, seen = time.monotonic() + LINE_WAIT, []
    while time.monotonic() < deadline:
        try:
            seen.append(lines.get(timeout=0.2))
        except queue.Empty:
            continue
        if re.search(r"loaded \d+ new", seen[-1]):
            return
    pytest.fail(f"the ingest run logged no load within {LINE_WAIT} s: {seen[-5:]}")


def test_sigkill_of_a_running_ingest_flow_then_a_rerun_loads_each_article_once(
    prefect_harness: None, db_path: str, tmp_path: Path, words: list[str]
) -> None:
    from prefect.settings import PREFECT_API_URL

    from flows.ingest import ingest

    folder = tmp_path / "scrapes"
    _write_scrapes(folder, words)
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    env["PREFECT_LOGGING_LEVEL"] = "INFO"  # the load task's "loaded N new" line tells us when
    command = [str(NEWSFLOW), "ingest", "--path", str(folder), "--db", db_path, "--batch-size", "4"]
    child = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for_a_load(_stderr_lines(child))
        time.sleep(random.Random(SEED).uniform(0.0, 0.6))  # during a later batch
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    with writer(db_path, wait_seconds=5):
        pass
    assert check_warehouse(db_path) == []
    (before,) = _rows(db_path, "SELECT count(*) FROM articles")[0]
    assert 0 < before < SCRAPES  # killed mid-run, with some batches loaded

    report = ingest(paths=[str(folder)], db=db_path)
    assert report.new == SCRAPES - before
    assert check_warehouse(db_path) == []
    rows = _rows(db_path, "SELECT count(*), count(DISTINCT url_key), count(DISTINCT text_hash) "
                 "FROM articles")  # fmt: skip
    assert rows == [(SCRAPES, SCRAPES, SCRAPES)]


def _extraction_processes(pid: int) -> list:
    """The fork server and extraction workers under process `pid` (workers are forked from the
    server, so they show its command line)."""
    import psutil

    try:
        under = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [p for p in under if "multiprocessing.forkserver" in " ".join(p.cmdline())]


def test_sigkill_of_newsflow_while_its_workers_clean_leaves_no_process_behind(
    prefect_harness: None, db_path: str, tmp_path: Path
) -> None:
    """The OOM killer's SIGKILL of a `newsflow ingest` while its extraction workers clean: the
    workers and their fork server end too. They waited for their next page forever (about
    350 MB), holding the fork server's "parent alive" pipe open."""
    from prefect.settings import PREFECT_API_URL

    from tests.test_clean import _endless_page

    page = tmp_path / "slow.html"  # a page that takes its worker seconds to clean
    page.write_text(_endless_page())
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    child = subprocess.Popen(
        [str(NEWSFLOW), "ingest", "--path", str(page), "--db", db_path], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + LINE_WAIT
        while len(_extraction_processes(child.pid)) < 2:  # the server and a worker, cleaning
            assert time.monotonic() < deadline and child.poll() is None, child.poll()
            time.sleep(0.2)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert group_ends_within(child.pid, 15), "an extraction process outlived its newsflow"
    finally:
        kill_group(child.pid)
