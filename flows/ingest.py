"""The ingest flow: sources → fetch → clean → dedupe → load, in batches, into DuckDB."""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Annotated, Any, TypeVar

from prefect import flow, get_run_logger, runtime
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect.utilities.annotations import opaque
from pydantic import BaseModel, Field

from flows import progress
from flows.console import CLI_SAYS_IT
from tasks.clean import (
    clean_batch,
    extraction_stops_with_the_run,
    start_extraction_server,
)
from tasks.dedupe import Fingerprint, dedupe_batch
from tasks.fetch import (
    Validators,
    conditional_validators,
    fetch_batch,
    split_unchanged_sitemap_pages,
    stop_fetching,
)
from tasks.interrupts import hold_prefect_sigterm
from tasks.load import load_batch, load_discovery, read_known_fetches
from tasks.records import Document, FetchResult, Source, WorkItem
from tasks.settings import (
    DEFAULT_DB,
    ExtractionMode,
    Settings,
    TaskRunnerName,
    limit_malloc_arenas,
    load_settings,
    usable_cores,
)
from tasks.sources import discover_items, sources_from_cli
from warehouse.db import artifact_key
from warehouse.store import LoadCounts

# Before any fetch thread allocates; the extraction pool's fork server imports this module too,
# so its workers inherit the cap.
limit_malloc_arenas()

# A run's SIGTERM (a cancel, on a worker too) waits out the warehouse's statement under way in
# the flow's own thread, as Ctrl-C does: raised inside DuckDB, it was sometimes lost.
hold_prefect_sigterm()

T = TypeVar("T")
HELD_FETCHES = 2000  # fetches without a page to clean loaded at once, at most (_OrderedLoads)
DASK_WORKERS_WAIT = 10.0  # seconds a --dask-address scheduler with no worker gets for one to join


class IngestReport(BaseModel):
    """What one ingest run did, for the CLI summary and the run artifact."""

    db: str
    run_id: str | None = None
    sources: int = 0
    discovered: int = 0
    source_documents: int = 0
    source_failed: dict[str, int] = Field(default_factory=dict)  # feeds, sitemaps, lists
    feed_entries: int = 0
    fetched: int = 0
    not_modified: int = 0
    failed: dict[str, int] = Field(default_factory=dict)  # pages
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    repeated: int = 0  # an article this run had loaded, reached again by another URL
    duplicates: dict[str, int] = Field(default_factory=dict)
    rejected: dict[str, int] = Field(default_factory=dict)

    @classmethod
    def from_counts(
        cls,
        db: str,
        run_id: str | None,
        sources: int,
        discovered: int,
        discovery: LoadCounts,
        pages: LoadCounts,
    ) -> IngestReport:
        """The report of a run: `discovery` counts the feeds, sitemaps and URL lists read,
        `pages` the pages; `fetched`, `not_modified` and `failed` are pages only, so they add up
        to `discovered`, and a source document that failed is counted apart."""
        return cls(
            db=db,
            run_id=run_id,
            sources=sources,
            discovered=discovered,
            source_documents=discovery.fetched + discovery.not_modified,
            source_failed=dict(discovery.failed),
            feed_entries=discovery.feed_entries + pages.feed_entries,
            fetched=pages.fetched,
            not_modified=pages.not_modified,
            failed=dict(pages.failed),
            new=pages.new,
            updated=pages.updated,
            unchanged=pages.unchanged,
            repeated=pages.repeated,
            duplicates=dict(pages.duplicates),
            rejected=dict(pages.rejected),
        )

    def all_failed(self) -> bool:
        """Whether the run loaded no article because all it tried failed: every page (the feed
        that listed them may have been read: a site blocking its pages), or, with no page
        found, every feed, sitemap or list. A feed's entries stored the first time do not count:
        the same run again, storing none, would have failed."""
        reached = self.new + self.updated + self.unchanged + self.repeated + self.not_modified
        if reached or self.rejected:
            return False
        return bool(self.failed) or bool(self.source_failed and not self.source_documents)

    def failures(self) -> str:
        """The run's failures in one line, by reason, and where to read each URL's error."""
        pages_only = self.failed and self.source_documents
        failed = self.failed if pages_only else Counter(self.failed) + Counter(self.source_failed)
        reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(failed.items()))
        where = f"WHERE run_id = '{self.run_id}'" if self.run_id else "ORDER BY fetched_at DESC"
        fix = (
            "; private, loopback and link-local hosts are fetched only with "
            "--allow-private-hosts (allow_private_hosts)"
            if "private_host" in failed
            else ""
        )  # the one failure whose fix is a setting: the line names it, not only its rows
        return (
            f"every {'page' if pages_only else 'fetch'} failed ({reasons}), no article was "
            f'loaded{fix}; see why: newsflow query "SELECT url, outcome, error FROM fetches '
            f'{where}" --db {self.db}'
        )

    def rows(self) -> list[dict[str, object]]:
        """The report as (measure, value) rows for a table artifact or the terminal."""
        rows: list[dict[str, object]] = [
            {"measure": name, "value": getattr(self, name)}
            for name in ("sources", "source_documents")
        ]
        rows += [
            {"measure": f"source failed: {k}", "value": v}
            for k, v in sorted(self.source_failed.items())
        ]
        rows += [
            {"measure": name, "value": getattr(self, name)}
            for name in ("discovered", "feed_entries", "fetched", "not_modified")
        ]
        rows += [{"measure": f"failed: {k}", "value": v} for k, v in sorted(self.failed.items())]
        rows += [
            {"measure": n, "value": getattr(self, n)}
            for n in ("new", "updated", "unchanged", "repeated")
        ]
        rows += [
            {"measure": f"duplicate: {k}", "value": v} for k, v in sorted(self.duplicates.items())
        ]
        rows += [
            {"measure": f"rejected: {k}", "value": v} for k, v in sorted(self.rejected.items())
        ]
        return rows


def _batches(items: list[WorkItem], size: int) -> list[list[WorkItem]]:
    iterator = iter(items)
    return [batch for batch in iter(lambda: list(islice(iterator, size)), [])]


def _batch_validators(batch: list[WorkItem], validators: Validators) -> Validators:
    """The validators of this batch's URLs only: each task gets (and Prefect visits) its share."""
    return {item.url: validators[item.url] for item in batch if item.url in validators}


class DaskUnavailable(ValueError):
    """The Dask scheduler named by --dask-address did not answer, or has no worker: a bad value
    for the run."""


class _NothingToRead:
    """Clean and dedupe of a batch without a page to read (all 304s or failures): no task runs."""

    def result(self) -> list:
        return []


def _as_is(value: T) -> T:
    return value


def _passed_on(stage: PrefectFuture[list[T]] | _NothingToRead) -> opaque[list[T]]:
    """A stage's output for the load: its future where it has one, so Prefect links the two task
    runs (on Dask too, whose results arrive here as copies), resolved but not walked (opaque)."""
    return opaque(stage if isinstance(stage, PrefectFuture) else stage.result())


@dataclass(frozen=True)
class _Cleaning:
    """A fetched batch whose clean and dedupe are submitted and whose load is not."""

    fetched: list[FetchResult]
    documents: PrefectFuture[list[Document]] | _NothingToRead
    prints: PrefectFuture[list[Fingerprint]] | _NothingToRead


@dataclass(frozen=True)
class _CpuStages:
    """Where clean and dedupe run, how many batches at once, how many processes one clean uses,
    and how much work it spends a page."""

    runner: TaskRunner
    window: int
    clean_workers: int
    extraction: ExtractionMode
    page_seconds: float

    def submit(self, fetched: list[FetchResult]) -> _Cleaning:
        if not any(fetch.ok for fetch in fetched):  # an unchanged re-run: nothing to clean
            return _Cleaning(fetched, _NothingToRead(), _NothingToRead())
        # opaque (see _run_batches) cannot reach a Dask worker: Dask rebuilds it as a plain tuple
        wrap = opaque if isinstance(self.runner, ThreadPoolTaskRunner) else _as_is
        documents = self.runner.submit(
            clean_batch,
            {
                "fetches": wrap(fetched),
                "workers": self.clean_workers,
                "mode": self.extraction,
                "page_seconds": self.page_seconds,
            },
        )
        prints = self.runner.submit(dedupe_batch, {"docs": wrap(documents)})
        return _Cleaning(fetched, documents, prints)


def _release(fetched: list[list[FetchResult]], cleaned: _Cleaning) -> list[list]:
    """Drop a loaded batch's bulk (bodies, texts, signatures), as Prefect may keep the task
    results referenced until the flow run ends, and empty the task results' lists.

    Returns the emptied lists, for the caller to keep until the run ends: Prefect links a task
    input to the task run whose result has the input's id(), and matches a list (which takes no
    weak reference) by id alone, so a result list freed mid-run whose address a later input
    reuses (an opaque() wrapper is of the same size) would link that input to the wrong task run
    in the run graph (PrefectHQ/prefect#20558)."""
    documents, prints = cleaned.documents.result(), cleaned.prints.result()
    for batch in fetched:
        for fetch in batch:
            fetch.html = None
            fetch.body = None
    for doc in documents:
        doc.text = ""
    for fingerprint in prints:
        fingerprint.buckets = []
    results = [*fetched, documents, prints]
    for result in results:
        result.clear()
    return results


class _OrderedLoads:
    """Loads batch after batch, one at a time and in order, so each batch is deduplicated
    against everything loaded before it; a batch's bodies and texts are dropped once loaded.

    A batch without a page to clean (a re-run's 304s, failed fetches) is held and loaded with
    the batches after it, up to HELD_FETCHES fetches in one load: each load is a task run and a
    warehouse transaction, and a load per batch of 304s was most of a re-run's time.
    """

    def __init__(self, db_path: str, run_id: str | None, lock_wait_seconds: float) -> None:
        self.totals = LoadCounts()
        self._args = (db_path, run_id)
        self._lock_wait_seconds = lock_wait_seconds
        self._held: list[list[FetchResult]] = []  # batches fetched and not yet loaded
        self._spent: list[Any] = []  # loaded batches' task results (lists emptied): see _release
        self._reached: set[str] = set()  # the article ids the loads reached: see load_batch
        self._previous: (
            tuple[PrefectFuture[LoadCounts], list[list[FetchResult]], _Cleaning] | None
        ) = None

    def hold(self, fetched: list[FetchResult]) -> None:
        """Load these rows with the next batch loaded, as a batch of 304s is."""
        self._held.append(fetched)

    def submit(self, cleaned: _Cleaning) -> None:
        """Queue the batch's load (with the batches held before it) behind the previous load,
        then settle that one; or hold the batch, when it has nothing to clean.

        Only the batch's clean is waited for here, so that the next batch's clean starts as this
        one ends; its dedupe may still be running (beside that clean), and the load waits for it.
        """
        self._held.append(cleaned.fetched)
        nothing_read = isinstance(cleaned.documents, _NothingToRead)
        if nothing_read and sum(len(batch) for batch in self._held) < HELD_FETCHES:
            return
        self._load(cleaned)

    def finish(self) -> LoadCounts:
        """Load the batches still held, wait for the last load; the counts of every load."""
        if self._held:
            self._load(_Cleaning([], _NothingToRead(), _NothingToRead()))
        self._settle()
        return self.totals

    def _load(self, cleaned: _Cleaning) -> None:
        fetched, self._held = self._held, []
        progress.report("extracted", len(cleaned.documents.result()))
        loading = load_batch.submit(
            *self._args, [opaque(batch) for batch in fetched], _passed_on(cleaned.documents),
            _passed_on(cleaned.prints), self._lock_wait_seconds, opaque(self._reached),
            wait_for=[self._previous[0]] if self._previous else None,
        )  # fmt: skip
        self._settle()
        self._previous = (loading, fetched, cleaned)

    def _settle(self) -> None:
        """Wait for the last queued load, count it and drop its batches' bulk."""
        if self._previous is not None:
            loading, fetched, cleaned = self._previous
            counts = loading.result()
            self.totals.add(counts)
            progress.report("loaded", sum(len(batch) for batch in fetched))
            self._spent += [counts, *_release(fetched, cleaned)]
            self._previous = None


# The local cluster's Dask settings for the run. Its worker processes are not daemonic (see
# _cpu_stages). With the dashboard off, distributed still starts an HTTP server on the scheduler
# and on each worker, with no switch to stop it (dask/distributed#6301, #7207): they serve no
# route (no health, metrics or status pages), and prefect-dask logs no dashboard link.
_LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.daemon": False,
    "distributed.scheduler.http.routes": [],
    "distributed.worker.http.routes": [],
    "distributed.dashboard.link": "",
}


def _dask_runner(settings: Settings) -> TaskRunner:
    """A DaskTaskRunner on the given scheduler, or on a local cluster of one process per core
    (its worker processes not daemonic, see _cpu_stages)."""
    from prefect.settings import PREFECT_LOGGING_LEVEL
    from prefect_dask import DaskTaskRunner  # imports distributed: only for runs that use it

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address, client_kwargs={"timeout": "10s"})
    workers = settings.dask_workers or usable_cores()
    cluster = {
        "n_workers": workers,
        "threads_per_worker": 1,
        "dashboard_address": None,
        # distributed starts an HTTP server on the scheduler even so (dask/distributed#6301):
        # on a free port, not the dashboard's 8787 (see _LOCAL_CLUSTER_CONFIG for its routes)
        "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"},
        # each worker starts its extraction pool's server before the run's first batch
        "preload": ["tasks.dask_worker"],
        "preload_argv": [settings.extraction.value],
        # Prefect sets up its logging as a worker imports it, from the environment: without the
        # flow's level (`newsflow` logs warnings only), each task run printed its INFO lines
        "env": {"PREFECT_LOGGING_LEVEL": str(PREFECT_LOGGING_LEVEL.value())},
    }
    return DaskTaskRunner(cluster_kwargs=cluster)


_LOOPBACK_HOSTS = ("127.", "localhost", "[::1]")


@contextmanager
def _api_named_for_workers(settings: Settings) -> Iterator[None]:
    """Name the flow's Prefect API in the settings every Dask task carries to its worker.

    Without a server (`newsflow ingest` on its own), the flow runs on Prefect's temporary local
    API, which PREFECT_API_URL does not name: each worker then started a temporary API of its
    own for its first task (a server process and its database, 10-40 s of CPU on two cores),
    recorded its task runs there, and left it running if the worker was killed. That API
    listens on 127.0.0.1, so only this machine's workers (the local cluster, or a scheduler on
    loopback) are given it; another machine's cannot reach it.
    """
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    address = settings.dask_address
    local = address is None or address.split("://")[-1].startswith(_LOOPBACK_HOSTS)
    if PREFECT_API_URL.value() or not local:
        yield
        return
    api_url = str(get_client(sync_client=True).api_url).rstrip("/")
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        yield


@contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """Dask logs each scheduler and client connection at INFO: only warnings while a run uses it."""
    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _cpu_stages(settings: Settings) -> Iterator[_CpuStages]:
    """Threads: one batch at a time, each clean over a process pool of every core (window 1);
    a batch's dedupe runs in a second thread beside the next batch's clean, which would
    otherwise wait for it with the pool idle. (A window of 2, the next batch's clean queued
    behind this one's, took the peak at N = 10 000 over 1 GB, and was no faster than smaller
    pool chunks alone: README, Latest results.)
    Dask: a batch per worker thread plus one queued, each cleaned over a pool of one process,
    results back to this process for the ordered loads. The local cluster's worker processes are
    not daemonic, so that they may start that pool, whose workers bound a page's clean
    (clean_page_seconds); a daemonic worker (another cluster's, by default) cleans inline."""
    if settings.task_runner is TaskRunnerName.threads:
        # the pools stop first: the runner's exit waits for its threads, and they for the pools
        with ThreadPoolTaskRunner(max_workers=2) as runner, extraction_stops_with_the_run():
            yield _CpuStages(
                runner,
                window=1,
                clean_workers=settings.clean_workers,
                extraction=settings.extraction,
                page_seconds=settings.clean_page_seconds,
            )
        return
    runner = _dask_runner(settings)  # first: importing distributed sets its log level
    import dask  # imported by distributed, so here at no cost

    with (
        _quiet_dask_logs(),
        dask.config.set({} if settings.dask_address else _LOCAL_CLUSTER_CONFIG),
        _api_named_for_workers(settings),
        runner,
    ):
        try:
            threads = sum(runner.client.nthreads().values())
        except OSError as exc:
            raise DaskUnavailable(
                f"Dask scheduler {settings.dask_address} did not answer ({exc}); start one "
                "(`dask scheduler`) or drop --dask-address (dask_address) for a local cluster"
            ) from exc
        if not threads:  # a scheduler with no worker took the batches and ran none, for good
            threads = _threads_once_a_worker_joins(runner, settings.dask_address)
        get_run_logger().info("clean and dedupe on Dask: %d worker threads", threads)
        yield _CpuStages(
            runner,
            window=max(threads, 1) + 1,
            clean_workers=1,
            extraction=settings.extraction,
            page_seconds=settings.clean_page_seconds,
        )


def _threads_once_a_worker_joins(runner: Any, address: str | None) -> int:
    """The worker threads of a scheduler that has none yet, once one joins (a worker starting
    beside it), within DASK_WORKERS_WAIT: the run waited for one, silently, for good (QA)."""
    try:
        runner.client.wait_for_workers(1, timeout=DASK_WORKERS_WAIT)
    except TimeoutError as exc:
        raise DaskUnavailable(
            f"Dask scheduler {address} has no worker (none joined within {DASK_WORKERS_WAIT:g} "
            f"s); start one (`dask worker {address}`) or drop --dask-address (dask_address) for "
            "a local cluster"
        ) from exc
    return sum(runner.client.nthreads().values())


def _run_batches(
    db_path: str,
    run_id: str | None,
    items: list[WorkItem],
    settings: Settings,
    validators: Validators,
    not_requested: list[FetchResult],
) -> LoadCounts:
    """Fetch, clean, dedupe and load batch after batch, overlapping what can overlap; the rows
    of the pages not requested (split_unchanged_sitemap_pages) load with the first batch.

    Fetches run one at a time, the next while this one is cleaned (I/O under CPU); up to the
    runner's window of batches are cleaned at once (1 on threads), each dedupe beside the next
    clean; loads run on this machine one at a time, in batch order, each while later batches
    are cleaned.

    Batches go to their tasks as opaque(...): Prefect still records which task run produced
    them (the run graph), but does not walk the hundreds of records inside looking for futures,
    which cost the flow's thread up to 0.3 s a batch.
    """
    batches = _batches(items, settings.batch_size)
    loads = _OrderedLoads(db_path, run_id, settings.lock_wait_seconds)
    if not_requested:
        loads.hold(not_requested)
        progress.report("fetched", len(not_requested))
    if _will_use_the_pool(items, settings, validators):
        start_extraction_server(settings.extraction)
    cleaning: deque[_Cleaning] = deque()
    with _cpu_stages(settings) as cpu:
        try:
            fetching = _submit_fetch(batches, 0, settings, validators)
            for number in range(len(batches)):
                fetched = fetching.result()
                fetching = _submit_fetch(batches, number + 1, settings, validators)
                progress.report("fetched", len(fetched))
                cleaning.append(cpu.submit(fetched))
                if len(cleaning) == cpu.window:
                    loads.submit(cleaning.popleft())
            while cleaning:
                loads.submit(cleaning.popleft())
            return loads.finish()  # inside: the runner cancels what still runs as it ends
        except BaseException:  # Ctrl-C, a cancellation, a stage failed: no batch more is loaded
            if run_id:
                stop_fetching(run_id)  # the fetch in flight requests nothing more
            raise


def _will_use_the_pool(items: list[WorkItem], settings: Settings, validators: Validators) -> bool:
    """Whether a batch will be cleaned over the process pool: on threads, when some URL was never
    fetched before (a re-run's known URLs mostly answer 304: nothing to clean; a known page that
    changed starts the server when its batch is cleaned)."""
    if settings.task_runner is not TaskRunnerName.threads:
        return False
    return any(item.url not in validators for item in items)


def _submit_fetch(
    batches: list[list[WorkItem]], number: int, settings: Settings, validators: Validators
) -> PrefectFuture[list[FetchResult]] | None:
    if number >= len(batches):
        return None
    batch = batches[number]
    return fetch_batch.submit(
        opaque(batch), settings.fetch, opaque(_batch_validators(batch, validators))
    )


def sources_to_ingest(
    settings: Settings, one_off: list[Source], sources_file: str | None
) -> list[Source]:
    """The run's sources: the one-off ones where any are given, else the sources file's enabled
    ones. A deployment's run by hand with `--param feeds=[…]` ingests that feed, not every
    source of the deployment's sources_file too; that file's [settings] (its db) still apply.

    Raises:
        ValueError: there are none; the CLI asks before a flow run starts, so that it fails
            in one line and makes no warehouse file.
    """
    sources = one_off or settings.source_list()
    if sources:
        return sources
    if sources_file:
        raise ValueError(
            f"sources file {sources_file} has no enabled source: add a [[source]] or set "
            "enabled = true on one"
        )
    raise ValueError(
        "nothing to ingest: pass a sources file or --url/--urls-file/--feed/--sitemap/--path "
        "(a deployment run's sources_file, or its urls, urls_files, feeds, sitemaps or paths)"
    )


def _publish(report: IngestReport) -> None:
    """A table artifact and a markdown summary of the run, visible in the Prefect UI."""
    key = artifact_key("ingest-report", report.db)
    create_table_artifact(key=key, table=report.rows(), description="newsflow ingest")
    lines = [f"| {row['measure']} | {row['value']} |" for row in report.rows()]
    create_markdown_artifact(
        key=artifact_key("ingest-summary", report.db),
        markdown="\n".join(
            [f"# Ingest into `{report.db}`", "", "| measure | value |", "| --- | --- |", *lines]
        ),
        description="newsflow ingest summary",
    )


@flow(name="ingest", log_prints=False, validate_parameters=True)
def ingest(
    sources_file: str | None = None,
    urls: list[str] | None = None,
    urls_files: list[str] | None = None,
    feeds: list[str] | None = None,
    sitemaps: list[str] | None = None,
    paths: list[str] | None = None,
    db: str | None = None,
    batch_size: Annotated[int, Field(ge=1, le=5000)] | None = None,
    allow_private_hosts: bool | None = None,
    respect_robots: bool | None = None,
    extraction: ExtractionMode | None = None,
    task_runner: TaskRunnerName | None = None,
    dask_address: str | None = None,
) -> IngestReport:
    """Fetch, clean, deduplicate and load articles from configured and one-off sources.

    Args:
        sources_file: a sources TOML file (deployments/sources.toml): its [settings] apply, and
            its sources are ingested unless one-off sources are given.
        urls, urls_files, feeds, sitemaps, paths: one-off sources; given any, they are the run's
            sources, in place of the file's.
        db: the warehouse file (default warehouse/news.duckdb, or NEWSFLOW_DB).
        batch_size: pages per fetch/clean/load batch.
        allow_private_hosts: fetch loopback and private addresses (off by default).
        respect_robots: obey robots.txt (on by default).
        extraction: "thorough" (default: the best text and dates) or "fast" (about half the clean
            stage's CPU; README, Extraction quality, gives what each scores).
        task_runner: where clean and dedupe run: "threads" (default: one batch at a time over a
            process per core) or "dask" (a batch per Dask worker thread; fetches and loads stay
            in this flow's process).
        dask_address: the Dask scheduler (tcp://host:8786) for task_runner "dask"; none starts
            a local cluster of one single-threaded process per core for the run.

    Returns:
        The run's counts: fetched, failed by reason, new, updated, duplicates, rejected.
    """
    logger = get_run_logger()
    settings = load_settings(
        sources_file,
        db=db,
        batch_size=batch_size,
        allow_private_hosts=allow_private_hosts,
        respect_robots=respect_robots,
        extraction=extraction,
        task_runner=task_runner,
        dask_address=dask_address,
    )
    one_off = sources_from_cli(
        urls or [], urls_files or [], feeds or [], sitemaps or [], paths or []
    )
    sources = sources_to_ingest(settings, one_off, sources_file)
    run_id = str(runtime.flow_run.id) if runtime.flow_run.id else None
    db_path = settings.db or DEFAULT_DB

    discovery = discover_items(sources, settings.fetch)
    progress.report("discovered", len(discovery.items))
    known = read_known_fetches(db_path, [item.url for item in discovery.items])
    items, not_requested = split_unchanged_sitemap_pages(discovery.items, known)
    if not_requested:
        logger.info("%d sitemap pages unchanged since fetched (lastmod)", len(not_requested))
    discovery_counts = load_discovery(
        db_path,
        run_id,
        sources,
        discovery.fetches,
        discovery.feed_entries,
        settings.lock_wait_seconds,
    )

    validators = conditional_validators(known)
    page_counts = _run_batches(db_path, run_id, items, settings, validators, not_requested)
    report = IngestReport.from_counts(
        db_path, run_id, len(sources), len(discovery.items), discovery_counts, page_counts
    )
    _publish(report)
    logger.info("ingest into %s: %s", db_path, report.model_dump_json())
    if report.all_failed():  # for the run's log in the UI; `newsflow` ends with it as its error
        logger.warning(report.failures(), extra={CLI_SAYS_IT: True})
    return report


if __name__ == "__main__":
    print(ingest(paths=["samples"], db="warehouse/news.duckdb").model_dump_json(indent=2))
