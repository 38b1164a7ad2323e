"""The clean stage: a batch of fetches cleaned over a process pool, each page bounded in time,
and the Prefect task that runs it. What cleaning a page means is in tasks/extraction.py."""

from __future__ import annotations

import ast
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from functools import cache, partial
from multiprocessing import resource_tracker
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.extraction import clean_fetch, clean_fetches, rejected_document, start_worker
from tasks.interrupts import sigint_blocked, signals_held
from tasks.records import Document, FetchResult
from tasks.settings import CLEAN_PAGE_SECONDS, ExtractionMode, usable_cores

LOGGER = logging.getLogger(__name__)

# What the extraction pool's fork server loads before it forks workers, by mode, besides what
# the parent's main module imports (_main_modules): the fast mode needs no dateparser or jusText
# tables (tasks/thorough_warmup.py).
EXTRACTION_SERVER_MODULES = {
    ExtractionMode.thorough: ["tasks.extraction", "tasks.thorough_warmup"],
    ExtractionMode.fast: ["tasks.extraction"],
}


def _pool_context(mode: ExtractionMode) -> multiprocessing.context.BaseContext:
    """A forkserver context whose server has imported the extraction code, warmed what the mode
    uses (EXTRACTION_SERVER_MODULES) and imported the parent's main module: workers fork from it
    ready, batch after batch.

    A process starts its fork server once, with the modules of the first mode it cleans in: a
    thorough batch after fast ones (a notebook, a test session) has its workers warm up alone.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*_main_modules(), *EXTRACTION_SERVER_MODULES[mode]])
    return context


class ExtractionStopped(RuntimeError):
    """The run is ending (cancelled, interrupted, failed): its extraction processes were stopped
    before this batch was cleaned."""


_live_pools: set[ProcessPoolExecutor] = set()  # this process's extraction pools now running
_run_ending = threading.Event()  # set as a run ends by an exception: no pool starts after it


@contextmanager
def extraction_stops_with_the_run() -> Iterator[None]:
    """Around the part of a run that cleans in task threads (ingest's _cpu_stages): if it ends
    by an exception (Prefect's TerminationSignal for a cancel's SIGTERM, Ctrl-C, a failure),
    stop this process's extraction processes at once. One run a process, as Prefect runs them.

    The task runner's exit, and the process's, wait for the task threads; a thread cleaning
    waited for its pages, up to clean_page_seconds (120 s): a run cancelled on a worker lived on
    until the worker killed it 30 s later, and `newsflow ingest` took 41 s to end after a
    SIGTERM. A clean in the flow's own thread (reclean) needs none of this: the exception
    reaches _extraction_pool itself."""
    _run_ending.clear()
    try:
        yield
    except BaseException:
        _run_ending.set()
        for pool in list(_live_pools):
            _kill_workers(pool)
        raise


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Kill a pool's worker processes: the pages they clean fail with BrokenProcessPool, now.
    (ProcessPoolExecutor can stop only idle workers; CPython keeps the busy ones in _processes.)

    The pages queued for them are dropped: the queue's feeder thread, which may be writing a
    page bigger than the pipe holds (64 KB) to workers now dead, is not waited for. CPython
    closes the pipe's reading end as it finds its pool broken, which ends that write, but when
    its manager thread failed first (on Python 3.11, InvalidStateError on a chunk `map` had
    cancelled: CPython gh-107219, now avoided by _cleaned_in_order), the process hung as it
    exited, joining the feeder: a SIGTERM mid-reclean hung the command 2 times of 16."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with suppress(OSError, ValueError, AttributeError):
            process.kill()
    queue = getattr(pool, "_call_queue", None)
    if queue is not None:  # its reading end is left to the pool to close: it does so, unlocked
        queue.cancel_join_thread()


@contextmanager
def _extraction_pool(workers: int, mode: ExtractionMode) -> Iterator[ProcessPoolExecutor]:
    """A pool of extraction workers forked from the fork server, logging as this process does.

    An exception while it cleans (Ctrl-C or a cancel's SIGTERM in this thread, a dead worker)
    kills its workers before it shuts down: shutting down waits for the pages they hold."""
    if _run_ending.is_set():
        raise ExtractionStopped("the run is ending: no extraction process is started")
    pool = ProcessPoolExecutor(
        workers,
        mp_context=_running_server(mode),
        initializer=start_worker,
        initargs=(logging.getLogger().getEffectiveLevel(), os.getpid()),
    )
    _live_pools.add(pool)
    try:
        yield pool
    except BaseException:
        _kill_workers(pool)
        raise
    finally:
        _live_pools.discard(pool)
        pool.shutdown(wait=True)


def _running_server(mode: ExtractionMode) -> multiprocessing.context.BaseContext:
    """The pool context, its fork server started if it is not running.

    The server starts with Ctrl-C blocked (tasks/interrupts.py): its imports take seconds, and a
    terminal's Ctrl-C in them printed their traceback beside the run's one line. Once they are
    done, multiprocessing has it ignore Ctrl-C; its workers take Ctrl-C again (start_worker).
    """
    context = _pool_context(mode)
    resource_tracker.ensure_running()  # first: as it starts, it unblocks SIGINT (CPython bpo-33613)
    with sigint_blocked():
        multiprocessing.forkserver.ensure_running()
    return context


@cache  # main does not change; every batch's pool asks
def _main_modules() -> tuple[str, ...]:
    """What the fork server imports for the parent's main module.

    multiprocessing runs the parent's main module in each worker it starts (as __mp_main__), so
    whatever main imports, each short-lived worker would import again unless the server has:
    the server imports what main imports at its top level, read from its source. For a script
    (`newsflow`, `pytest`), "__main__" would have the server run main itself and the workers
    skip theirs, but up to Python 3.12 that preload does nothing (CPython gh-126631, fixed in
    3.14 and a later 3.13). A `python -m module` main is not preloaded by name: runpy would warn
    in each worker that finds it imported before it runs it.

    The flow's modules are not preloaded: the `newsflow` script imports them only in its
    commands, so its server loads the extraction libraries and not Prefect, and a run's first
    clean waits less for it.
    """
    main = sys.modules["__main__"]
    path = getattr(main, "__file__", None)
    if not path:
        return ()  # python -c, an interactive session: the workers have no main to run
    script = getattr(main, "__spec__", None) is None
    return (*(["__main__"] if script else []), *_top_level_imports(Path(path)))


def _top_level_imports(script: Path) -> list[str]:
    """The absolute imports of a script's top level, read from its source, not run."""
    try:
        tree = ast.parse(script.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def start_extraction_server(mode: ExtractionMode) -> None:
    """Start the extraction pool's fork server now, without waiting for it: its imports take
    0.6 s of one core (2.7 s with the thorough mode's warm-ups), which the first batch's clean
    would otherwise wait for with the other core idle; started before the first fetch, they
    overlap it."""
    _running_server(mode)


def clean_documents(
    fetches: list[FetchResult],
    workers: int = 0,
    mode: ExtractionMode = ExtractionMode.thorough,
    page_seconds: float = CLEAN_PAGE_SECONDS,
) -> list[Document]:
    """Clean the fetches whose outcome is "ok", in order, over a forkserver process pool.

    A batch of one page goes to the pool too: only a pool's workers bound a page's clean
    (page_seconds), and a scheduled run's few new pages are where a hung page would otherwise
    stall every run. With the fork server warm, a pool for a small batch costs 20-30 ms more
    than cleaning it inline; the server's start-up overlaps the first fetch
    (start_extraction_server). A daemonic process cleans inline, unbounded (_cleans_inline).

    Args:
        fetches: fetch results; those not "ok" are skipped.
        workers: processes to use; 0 means one per usable core (never more than pages).
        mode: how much work to spend on each HTML page's text and date (ExtractionMode).
        page_seconds: a pool worker gives up on a page after this long (rejected clean_timeout).

    Returns:
        One Document per ok fetch, in input order, each with its fetch attached.
    """
    ok = [fetch for fetch in fetches if fetch.ok]
    if not ok or _cleans_inline():
        docs = [clean_fetch(fetch, mode) for fetch in ok]
    else:
        docs = _clean_in_pool(ok, min(workers or usable_cores(), len(ok)), mode, page_seconds)
    for doc, fetch in zip(docs, ok, strict=True):
        doc.fetch = fetch
    return docs


def _cleans_inline() -> bool:
    """Whether this process must clean its pages itself, without the per-page bound: a daemonic
    process may not start a pool (a Dask worker, unless its cluster sets distributed.worker.daemon
    to False), and a signal timer would reach only the main thread, where it could upset the
    host's own alarms."""
    return multiprocessing.current_process().daemon


def _clean_in_pool(
    ok: list[FetchResult], workers: int, mode: ExtractionMode, page_seconds: float
) -> list[Document]:
    """Clean over a pool, in order, surviving a worker process that dies (the OOM killer, a
    crash in C): the pages it had not returned are cleaned again in a new pool, the first of
    them alone, and a page that takes its lone process down too is rejected "clean_crash"."""
    docs: list[Document] = []
    clean = partial(clean_fetch, mode=mode, page_seconds=page_seconds)
    while len(docs) < len(ok):
        rest = ok[len(docs) :]
        try:
            with _extraction_pool(workers, mode) as pool:
                # small chunks: at a batch's end one worker idles while the other ends its last
                chunksize = max(1, len(rest) // (workers * 16))
                docs.extend(_cleaned_in_order(pool, clean, rest, chunksize))  # as they come
        except BrokenProcessPool:
            _check_run_goes_on()
            docs.append(_clean_alone(ok[len(docs)], clean, mode))
        except EOFError:  # the fork server stopped while it started the workers: a cancel
            _check_run_goes_on()
            raise
    return docs


def _cleaned_in_order(
    pool: ProcessPoolExecutor, clean: partial, fetches: list[FetchResult], chunksize: int
) -> Iterator[Document]:
    """pool.map(clean, fetches, chunksize=chunksize), but for a stop (Ctrl-C, a cancel's SIGTERM):

    - The chunks not yet cleaned are left to fail with the pool as its workers are killed, not
      cancelled. On Python 3.11 the pool's manager thread met a chunk `map` had cancelled, failed
      (InvalidStateError, CPython gh-107219, fixed in 3.12) and printed its traceback under the
      command's one line.
    - A signal while the chunks are submitted, which starts the workers, is held until they are
      (newsflow's handlers: tasks/interrupts.py). Raised inside a worker's start, it left a
      worker reading what the pool had deleted (its FileNotFoundError traceback), or the pool
      unable to shut down: RuntimeError "cannot join thread before it is started" came out
      instead of the stop.
    """
    chunks = [fetches[at : at + chunksize] for at in range(0, len(fetches), chunksize)]
    with signals_held():
        futures = [pool.submit(clean_fetches, chunk, clean) for chunk in chunks]
    for future in futures:
        yield from future.result()


def _check_run_goes_on() -> None:
    """Raise ExtractionStopped if the pool broke because the run is ending (its workers killed
    by extraction_stops_with_the_run), not because of a page."""
    if _run_ending.is_set():
        raise ExtractionStopped("the run is ending: its extraction processes were stopped")


class ExtractionWorkersError(RuntimeError):
    """The extraction pool's processes die before they clean anything: the program or the
    machine is at fault, not the pages, so none of them is recorded as clean_crash."""


def _clean_alone(fetch: FetchResult, clean: partial, mode: ExtractionMode) -> Document:
    """Clean one page in a process of its own, the first page not returned when a pool broke:
    if that process dies too, and a process with no page to clean does not, the page is what
    kills it."""
    try:
        with _extraction_pool(1, mode) as pool:
            return pool.submit(clean, fetch).result()
    except BrokenProcessPool:
        _check_run_goes_on()
        _check_workers_start(mode)
        url = fetch.final_url or fetch.url
        LOGGER.error("cleaning %s alone, its process died too; recorded as clean_crash", url)
        return rejected_document(fetch, "clean_crash")


def _check_workers_start(mode: ExtractionMode) -> None:
    """Raise ExtractionWorkersError if an extraction process dies with no page to clean.

    The usual cause: a script that runs the flow at its top level, without `if __name__ ==
    "__main__":`. Each worker runs the parent's main module again as it starts (multiprocessing's
    "safe importing of main module"), so each would run the flow, and fail, before any page.
    The other: the machine kills them as they start (a memory limit).
    """
    try:
        with _extraction_pool(1, mode) as pool:
            pool.submit(os.getpid).result()
    except BrokenProcessPool as exc:
        raise ExtractionWorkersError(
            "extraction processes die as they start, before any page; their error is on stderr. "
            "Usually a script that runs newsflow's flows at its top level: each extraction "
            'process runs the script again, so call them under `if __name__ == "__main__":`. '
            "Otherwise the machine kills them (a memory limit?)"
        ) from exc


@task(name="clean_batch", cache_policy=NO_CACHE)  # never hash whole pages for a cache key
def clean_batch(
    fetches: list[FetchResult],
    workers: int = 0,
    mode: ExtractionMode = ExtractionMode.thorough,
    page_seconds: float = CLEAN_PAGE_SECONDS,
) -> list[Document]:
    """Clean a batch of fetches (pure and CPU-bound, so no retries) and log what came of them.

    Args:
        fetches: the batch's fetch results; only those with outcome "ok" are cleaned.
        workers: extraction processes; 0 means one per usable core.
        mode: thorough or fast extraction (ExtractionMode).
        page_seconds: how long an extraction process may spend on one page.

    Returns:
        One Document per ok fetch, in order (rejected ones carry their reason).
    """
    logger = get_run_logger()
    if _cleans_inline() and any(fetch.ok for fetch in fetches):
        logger.warning(
            "cleaning inline, without the %s s bound a page: this process is daemonic and may "
            "not start an extraction pool (a Dask worker: start it with "
            "DASK_DISTRIBUTED__WORKER__DAEMON=False; README, Dask)",
            page_seconds,
        )
    docs = clean_documents(fetches, workers, mode, page_seconds)
    rejected: dict[str, int] = {}
    for doc in docs:
        if doc.rejected_reason:
            rejected[doc.rejected_reason] = rejected.get(doc.rejected_reason, 0) + 1
    logger.info(
        "cleaned %d of %d fetches: %d usable, rejected %s",
        len(docs),
        len(fetches),
        len(docs) - sum(rejected.values()),
        ", ".join(f"{reason}={count}" for reason, count in sorted(rejected.items())) or "none",
    )
    broken = [doc.url for doc in docs if doc.rejected_reason == "clean_error"]
    if broken:
        logger.error("%d pages broke the extractor (see the tracebacks): %s", len(broken), broken)
    hung = [doc.url for doc in docs if doc.rejected_reason == "clean_timeout"]
    if hung:
        logger.error("%d pages took over %s s to clean: %s", len(hung), page_seconds, hung)
    crashed = [doc.url for doc in docs if doc.rejected_reason == "clean_crash"]
    if crashed:
        logger.error("%d pages took their extraction process down: %s", len(crashed), crashed)
    return docs
