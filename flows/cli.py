"""`newsflow …`: a thin typer layer over the flows and warehouse queries, for people and scripts."""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import logging
import math
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from flows import progress
from flows.console import CLI_SAYS_IT, INTERRUPTED_BEFORE_THE_RUN, Terminated, exit_status
from tasks.interrupts import prefect_sigterm_taken, raise_for_signal, started_apart
from tasks.records import Source
from tasks.settings import DEFAULT_DB, DEFAULT_SOURCES, ExtractionMode, TaskRunnerName
from warehouse.db import WarehouseError

STARTUP_TIMEOUT_VARIABLE = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
# The flow commands' defaults for Prefect settings the user leaves unset (in the environment and
# in the Prefect profile alike). Prefect gives its temporary API 20 s to start, which a busy
# 2-core machine exceeds (25 s here the first time: README), and the command then died in a
# 60-line traceback; `make run` and the tests wait 90 s too. Prefect logs each task run at INFO,
# which buried the command's own summary; `make run` and the tests log warnings only too. The
# temporary API's telemetry, on a machine offline, logged an ERROR line each command ("Failed to
# send telemetry"); `make run` and the tests turn it off too.
PREFECT_DEFAULTS = {
    STARTUP_TIMEOUT_VARIABLE: "90",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}
_API_TIMEOUT = "Timed out while attempting to connect to ephemeral Prefect API server"

app = typer.Typer(
    help="newsflow: fetch, clean, deduplicate and load news into DuckDB, then summarize it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # a docstring paragraph's line breaks join, as in Markdown
)
console = Console()
if not console.is_terminal:
    console.width = 160  # piped output: wide rows, not an 80-column wrap
errors = Console(stderr=True)
SUMMARY_DAYS = 31  # daily captures a flow command prints at most: a month, one screen
_USER_ERRORS = (WarehouseError, FileNotFoundError, ValueError, PermissionError)
# What Prefect's engines log as a Ctrl-C stops a flow or task run (prefect.states).
CTRL_C_CRASH = "Crash detected! Execution was aborted by an interrupt signal."
SIGTERM_CRASH = "Crash detected! Execution was aborted by a termination signal."


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class EventStatus(StrEnum):
    confirmed = "confirmed"
    claimed = "claimed"
    contested = "contested"
    denied = "denied"
    retaken = "retaken"


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


DbOption = Annotated[
    str,
    typer.Option("--db", envvar="NEWSFLOW_DB", help="Warehouse file (or set NEWSFLOW_DB)."),
]

# ingest and run: a sources file's [settings] db applies unless --db or NEWSFLOW_DB says otherwise
SourcesDbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="NEWSFLOW_DB",
        help="Warehouse file (or set NEWSFLOW_DB; default: the sources file's db, else "
        f"{DEFAULT_DB}).",
    ),
]


BatchSizeOption = Annotated[int | None, typer.Option(min=1, max=5000, help="Pages per batch.")]
AllowPrivateHostsOption = Annotated[
    bool,
    typer.Option(
        "--allow-private-hosts",
        envvar="NEWSFLOW_ALLOW_PRIVATE_HOSTS",
        help="Also fetch loopback and private addresses.",
    ),
]
IgnoreRobotsOption = Annotated[bool, typer.Option("--ignore-robots", help="Skip robots.txt.")]
ExtractionOption = Annotated[
    ExtractionMode | None,
    typer.Option(
        "--extraction",
        help="thorough (default: the best text and dates) or fast (about half the CPU a page).",
    ),
]
TaskRunnerOption = Annotated[
    TaskRunnerName | None,
    typer.Option(
        "--task-runner",
        help="Where clean and dedupe run: threads (default) or dask (a batch per Dask worker).",
    ),
]
DaskAddressOption = Annotated[
    str | None,
    typer.Option(
        "--dask-address",
        help="Dask scheduler for --task-runner dask (tcp://host:8786); default: a local cluster.",
    ),
]


def _fail(message: str, code: int = 1) -> None:
    with contextlib.suppress(OSError):  # a terminal gone (SIGHUP): the exit status says it
        errors.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


class _NoUserErrorTracebacks(logging.Filter):
    """Prefect logs a failed run's traceback; for errors the CLI explains, the message is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], _USER_ERRORS):
            record.exc_info, record.exc_text = None, None
        return True


class _NoCtrlCCrashLines(logging.Filter):
    """Prefect logs `Crash detected! Execution was aborted by an interrupt signal.` for each run
    a Ctrl-C stops (the flow's and each running task's), `… by a termination signal.` for
    SIGTERM; the CLI's one line says what was kept. The runs' states still record the crash."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith((CTRL_C_CRASH, SIGTERM_CRASH))


class _NoLinesTheCliSays(logging.Filter):
    """A flow's log line that the CLI prints itself ("every fetch failed …", its error): once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, CLI_SAYS_IT, False)


class _NoRunLinesOnceStopping(logging.Filter):
    """Once a signal stops the run, each run it cuts short logs its end: a clean task failed
    with ExtractionStopped and its 35-line traceback, tasks crashed or never ready, 44 lines
    with a Prefect server between `stopping` and the CLI's one line (QA). They are the stop's
    consequences, which that line says; the runs' states and the server's log keep them."""

    def filter(self, record: logging.LogRecord) -> bool:
        stopping = _RUN_STOPPING.is_set() or prefect_sigterm_taken.is_set()
        runs = record.name.startswith(("prefect.task_runs", "prefect.flow_runs"))
        return not (stopping and runs and record.levelno >= logging.WARNING)


@contextmanager
def _quiet_tracebacks() -> Iterator[None]:
    """While a flow runs, keep off the console what the CLI says itself: the tracebacks of known
    user errors, Prefect's crash lines for a Ctrl-C, the runs' ends once a signal stops them,
    and the lines the flows mark as its own."""
    handlers = [h for name in ("prefect", "") for h in logging.getLogger(name).handlers]
    filters = [
        _NoUserErrorTracebacks(), _NoCtrlCCrashLines(), _NoRunLinesOnceStopping(),
        _NoLinesTheCliSays(),
    ]  # fmt: skip
    for handler in handlers:
        for quiet in filters:
            handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in handlers:
            for quiet in filters:
                handler.removeFilter(quiet)


def _flow_command(command: Callable[..., None]) -> Callable[..., None]:
    """Run a command that runs a flow under PREFECT_DEFAULTS, for the settings its user left unset.

    Prefect's `set_defaults` keeps what the environment or the profile sets (env > profile >
    ours). The command imports its flow, and so Prefect, which sets up its logging as it is
    imported, inside these settings. Prefect is imported here, not with this module: the
    commands that only read the warehouse would pay 2 s for it.
    """

    @functools.wraps(command)
    def with_prefect_defaults(*args: Any, **kwargs: Any) -> None:
        with _interrupted_says():
            from prefect.settings import temporary_settings
        with temporary_settings(set_defaults=PREFECT_DEFAULTS), _stopping_says_so():
            command(*args, **kwargs)

    return with_prefect_defaults


STOPPING = "stopping: the work under way ends first, then the run is marked crashed"
_RUN_STARTED = threading.Event()  # set as the command's flow run starts (_print_run_url)
_RUN_COMPLETED = threading.Event()  # set as it completes (_mark_completed)
_RUN_STOPPING = threading.Event()  # set as a Ctrl-C stops it (_stopping_says_so)


@contextmanager
def _stopping_says_so() -> Iterator[None]:
    """While a flow command runs, the first Ctrl-C says at once that the run is stopping, then
    interrupts it as Python's own handler does; another, while it stops, is not taken.

    A run waits for the work under way as it stops: a batch's load, Prefect's report of the
    crash (a fetch hung on its site, up to the read timeout, 20 s, before its requests were cut
    as the run stops). Nothing showed meanwhile, which invited a second Ctrl-C, and that one,
    raised inside Prefect's shutdown, printed a traceback and did not stop it sooner. Once
    stopping, the command takes no Ctrl-C to its exit (Prefect's exit handlers run then)."""
    import signal

    stopping = False

    def interrupt(signum: int, frame: Any) -> None:
        nonlocal stopping
        if stopping:
            return
        if _RUN_STARTED.is_set() and not _RUN_COMPLETED.is_set():  # before, it says no run
            stopping = True
            _RUN_STOPPING.set()
            errors.print(STOPPING, highlight=False, soft_wrap=True)
        raise_for_signal(KeyboardInterrupt())

    _RUN_STARTED.clear()
    _RUN_COMPLETED.clear()
    _RUN_STOPPING.clear()
    prefect_sigterm_taken.clear()  # a SIGTERM an earlier command's run took (tests, a notebook)
    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # started so: nohup, `&`
    previous = signal.SIG_IGN if ignored else signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN if stopping else previous)
        _RUN_STARTED.clear()
        _RUN_COMPLETED.clear()
        _RUN_STOPPING.clear()


@contextmanager
def _interrupted_says(message: str = INTERRUPTED_BEFORE_THE_RUN) -> Iterator[None]:
    """Ctrl-C is said in one line, `message` (what the command had written by then), and exits
    130: typer turns it into exit 130 without a word. By default, for the seconds a flow command
    loads Prefect and its flow, before the run and its first write."""
    try:
        yield
    except KeyboardInterrupt as interrupt:  # or SIGTERM, as flows/console.py takes it
        if message in _RUN_MESSAGES and not _RUN_STARTED.is_set():  # the temporary API starting
            message = INTERRUPTED_BEFORE_THE_RUN
        elif message in (*_RUN_MESSAGES, INTERRUPTED_PRINTING) and _RUN_COMPLETED.is_set():
            message = INTERRUPTED_AFTER_THE_RUN  # its closing line, or its report, unsaid
        _fail(message, code=exit_status(interrupt))


def _shield_temporary_api() -> None:
    """Have Prefect's temporary API, which a flow command starts when PREFECT_API_URL names no
    server, start apart from the command's process group (tasks/interrupts.py).

    A terminal's Ctrl-C reaches every process of its group, and `timeout`'s SIGTERM, or
    `kill -TERM -- -PGID`, does too: the API stopped at once, and the interrupted run, left to
    report its crash to nothing, printed tracebacks and spent 81 s retrying before it exited.
    Apart, the API records the run as crashed and stops as the command exits (Prefect's exit
    handler), or as it ends any other way (SIGTERM from the kernel, Linux). Prefect keeps one
    temporary API a port (None: a free one); this makes it ours. With a server named, there is
    nothing to shield, and Prefect's server code (3 s of imports) is not loaded.
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return
    from prefect.server.api import server
    from prefect.server.api.server import SubprocessASGIServer

    class ShieldedTemporaryAPI(SubprocessASGIServer):
        def _run_uvicorn_command(self) -> Any:
            with started_apart(server):
                return super()._run_uvicorn_command()

    ShieldedTemporaryAPI()


def _print_run_url(flow: Any, flow_run: Any, state: Any) -> None:
    """As a flow run starts, name its page in the Prefect UI, on stderr: the one INFO line of
    Prefect's a user needs ("View at …", silenced with the rest by PREFECT_DEFAULTS). Prefect's
    `url_for` gives no URL under the temporary API, which has no UI; at INFO Prefect says it.
    From then on, a Ctrl-C says the run is stopping (_stopping_says_so)."""
    from prefect.utilities.urls import url_for

    _RUN_STARTED.set()
    url = url_for(flow_run)
    if url and not logging.getLogger("prefect.flow_runs").isEnabledFor(logging.INFO):
        errors.print(escape(f"flow run {flow_run.name}: {url}"), highlight=False, soft_wrap=True)


def _mark_completed(flow: Any, flow_run: Any, state: Any) -> None:
    """As the command's flow run completes: a signal from then on, before the command's closing
    line, says the run completed (it said the batches loaded were kept, and to rerun)."""
    _RUN_COMPLETED.set()


def _printing_its_url(flow: Any) -> Any:
    """The flow, with `_print_run_url` among the hooks Prefect calls as a run of it starts, and
    `_mark_completed` among those it calls as the run completes."""
    return flow.with_options(
        on_running=[*flow.on_running_hooks, _print_run_url],
        on_completion=[*flow.on_completion_hooks, _mark_completed],
    )


def _prepare_run(sources_file: str | None, one_off: list[Source], overrides: dict[str, Any]) -> str:
    """Before Prefect starts: read the sources file and settings, check there is a source to
    ingest, then create or migrate the warehouse, so that each fails in one line and a run that
    could ingest nothing makes no file. Returns the warehouse the run writes.

    Then the extraction pool's fork server starts: its imports (2.7 s of a core in the thorough
    mode) overlap the temporary API's start (6-8 s, a core's worth of imports), where the flow
    would start it only as its first fetch does, and its first clean wait for them. A re-run
    with nothing new to clean never uses it: a core's seconds that the API's start left idle.
    """
    from flows.ingest import sources_to_ingest
    from tasks.clean import start_extraction_server
    from tasks.settings import load_settings
    from warehouse.db import writer

    settings = load_settings(sources_file, **overrides)
    sources_to_ingest(settings, one_off, sources_file)
    with writer(settings.db, wait_seconds=60.0):
        pass
    if settings.task_runner is TaskRunnerName.threads:  # on Dask, its workers clean
        start_extraction_server(settings.extraction)
    return settings.db


def _check_summary_request(start: date | None, end: date | None, db: str) -> None:
    """Before Prefect's server code loads: a reversed range, or a warehouse that is not there,
    fails in one line at once, not once the temporary API has started (10 s and more)."""
    from warehouse.db import reader
    from warehouse.summaries import day_range

    day_range(start, end)
    with reader(db, wait_seconds=60.0):
        pass


def _check_reclean_request(db: str, sources: list[str], extraction: ExtractionMode) -> None:
    """Before Prefect's server code loads: a warehouse that is not there, or a source name it
    does not know, fails in one line at once. Then the extraction pool's fork server starts,
    beside the temporary API (as for ingest: _prepare_run), if there is a stored page to read."""
    from tasks.clean import start_extraction_server
    from warehouse.db import reader
    from warehouse.queries import check_source_names, has_stored_pages

    with reader(db, wait_seconds=60.0) as conn:
        check_source_names(conn, sources)
        pages = has_stored_pages(conn)
    if pages:
        start_extraction_server(extraction)


INTERRUPTED_INGEST = (
    "interrupted: the batches already loaded are kept (each loads whole or not at all); "
    "rerun the same command to fetch the rest"
)
INTERRUPTED_SUMMARIZE = (
    "interrupted: the event batches and day ranges already written are kept (each is written "
    "whole or not at all); rerun the same command to finish"
)
INTERRUPTED_RECLEAN = (
    "interrupted: the batches already loaded are kept (each loads whole or not at all); "
    "rerun the same command to read the rest again (those loaded read as unchanged)"
)
INTERRUPTED_READING = "interrupted: nothing was written"
INTERRUPTED_PRINTING = "interrupted while printing: the output is cut short, nothing was written"
INTERRUPTED_AFTER_THE_RUN = "interrupted once the run had completed: all it wrote is kept"
_RUN_MESSAGES = (INTERRUPTED_INGEST, INTERRUPTED_SUMMARIZE, INTERRUPTED_RECLEAN)


@contextmanager
def _terminated_whatever_it_raised() -> Iterator[None]:
    """Once Prefect's handler of the command's run took a SIGTERM, the command ends as
    terminated (exit 143, its `interrupted` line) whatever error comes out: raised as Prefect's
    task engine set a task run up, the signal came out as ValueError("Task run is not set"),
    which said `error: Task run is not set` and exit 1 (1 of 20 SIGTERMs mid-reclean)."""
    try:
        yield
    except Exception as exc:
        if _RUN_STARTED.is_set() and prefect_sigterm_taken.is_set():  # (this command's run)
            raise Terminated() from exc
        raise


@contextmanager
def _user_errors(interrupted: str = INTERRUPTED_READING) -> Iterator[None]:
    """Known problems become one line naming the thing and the fix, and exit 1; no traceback.
    Ctrl-C becomes `interrupted`, what the command had written by then, and exit 130; SIGTERM
    likewise, with 143."""
    with _interrupted_says(interrupted):
        try:
            with _terminated_whatever_it_raised():
                yield
        except _USER_ERRORS as exc:
            _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        except OSError as exc:
            if isinstance(exc.__context__, KeyboardInterrupt):  # a terminal gone at a SIGHUP:
                raise exc.__context__ from None  # the progress display's last write failed
            _fail(f"{exc.strerror or exc} ({exc.filename or 'file system'})")
        except RuntimeError as exc:
            if not str(exc).startswith(_API_TIMEOUT):
                raise
            from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS as waited

            _fail(
                f"Prefect's temporary API did not start within {waited.value()} s (a busy "
                f"machine?); rerun with a higher {STARTUP_TIMEOUT_VARIABLE}, or start a server "
                "(`make server`) and export PREFECT_API_URL=http://127.0.0.1:4200/api"
            )


INGEST_STAGES = ("discovered", "fetched", "extracted", "loaded")
RECLEAN_STAGES = ("stored", "extracted", "loaded")


@contextmanager
def _progress_display(stages: tuple[str, ...] = INGEST_STAGES) -> Iterator[None]:
    """A live count of pages per stage on a terminal; nothing when output is piped. The first
    stage's counts are the pages the others will pass."""
    if not console.is_terminal:
        yield
        return
    with Progress(
        TextColumn("[bold]{task.description:>10}"),
        BarColumn(),
        TextColumn("{task.completed:>6.0f}/{task.total:.0f}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        ids = {stage: bar.add_task(stage, total=0) for stage in stages}

        def listen(stage: str, count: int) -> None:
            if stage == stages[0]:
                for name in stages[1:]:
                    bar.update(ids[name], total=bar.tasks[ids[name]].total + count)
                bar.update(ids[stage], total=count, completed=count)
            elif stage in ids:
                bar.advance(ids[stage], count)

        unsubscribe = progress.subscribe(listen)
        try:
            yield
        finally:
            unsubscribe()


def _print_rows(rows: list[dict[str, Any]], fmt: OutputFormat, title: str | None = None) -> None:
    _print_table(list(rows[0]) if rows else [], [tuple(row.values()) for row in rows], fmt, title)


def _print_table(
    columns: list[str], rows: list[tuple], fmt: OutputFormat, title: str | None = None
) -> None:
    """Rows by position, so columns that share a name all show; the header even with no rows.

    A signal as it prints says the output is cut short (it exited 130 without a word, SIGTERM
    too, a script left with half a CSV)."""
    with _interrupted_says(INTERRUPTED_PRINTING):
        _write_table(columns, rows, fmt, title)


def _write_table(
    columns: list[str], rows: list[tuple], fmt: OutputFormat, title: str | None
) -> None:
    if fmt is OutputFormat.json:
        names = _unique_names(columns)
        records = [dict(zip(names, map(_json_value, row), strict=True)) for row in rows]
        text = json.dumps(records, default=str, indent=2, ensure_ascii=False, allow_nan=False)
        sys.stdout.write(text + "\n")
    elif fmt is OutputFormat.csv:
        writer = csv.writer(sys.stdout)
        if columns:
            writer.writerow(columns)
        writer.writerows([_cell_text(v) for v in row] for row in rows)
    else:
        # Text, not str: a cell is data (a title, a URL, an evidence sentence), never Rich markup
        # or :emoji: codes. As markup, `[fe80::1%eth0]` vanished and `[/x]` was an error.
        table = Table(title=Text(title, "table.title") if title else None, show_lines=False)
        for column in columns:
            table.add_column(Text(column), overflow="fold")
        for row in rows:
            table.add_row(*(Text(_cell_text(v)) for v in row))
        console.print(table)


def _json_value(value: Any) -> Any:
    """NaN and the infinities as null: JSON has no word for them (Python's NaN is refused by
    jq and JSON.parse); lists and structs keep their shape, bytes are text as in a CSV cell."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return _cell_text(value)
    return value


def _cell_text(value: Any) -> str:
    """A CSV or table cell: lists and structs as JSON (not Python's quotes), bytes as DuckDB
    writes a BLOB (`\\x00` for a byte that is not printable ASCII), nothing for NULL, booleans
    as SQL and JSON write them (true, not Python's True)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | dict):
        return json.dumps(_json_value(value), default=str, ensure_ascii=False)
    if isinstance(value, bytes):
        return "".join(chr(b) if 32 <= b < 127 and b != 92 else f"\\x{b:02X}" for b in value)
    return str(value)


def _unique_names(columns: list[str]) -> list[str]:
    """JSON keys for columns that may share a name: the second `id` is `id_1`, the third `id_2`
    (skipping names the query itself gave a column)."""
    taken, names = set(columns), []
    for index, column in enumerate(columns):
        name = column
        if column in columns[:index]:
            copy = 1
            while f"{column}_{copy}" in taken:
                copy += 1
            name = f"{column}_{copy}"
        taken.add(name)
        names.append(name)
    return names


def _print_ingest(report: Any) -> None:
    """The run's counts under the warehouse's name, on a line of its own: as the table's title,
    a long name (a ducklake: URL) broke over two lines, mid-name, at the table's width."""
    console.print(escape(f"ingest into {report.db}"), highlight=False, soft_wrap=True)
    _print_rows(report.rows(), OutputFormat.table)


def _print_loaded(db: str, since: datetime, run_id: str | None, limit: int = 20) -> None:
    """The articles this run added (the first `limit`), so a person sees what was loaded."""
    from warehouse.queries import recent_articles

    rows = recent_articles(db, since, run_id=run_id, limit=limit)
    if rows:
        _print_rows(rows, OutputFormat.table, title=f"articles loaded (first {limit} at most)")


def _overrides(
    db: str | None,
    batch_size: int | None,
    allow_private_hosts: bool,
    ignore_robots: bool,
    extraction: ExtractionMode | None,
    task_runner: TaskRunnerName | None,
    dask_address: str | None,
) -> dict[str, Any]:
    """The flags of ingest and run as the settings overrides their flow takes as parameters:
    None where a flag is not given, so the sources file's [settings] and env vars apply."""
    return {
        "db": db,
        "batch_size": batch_size,
        "allow_private_hosts": allow_private_hosts or None,
        "respect_robots": False if ignore_robots else None,
        "extraction": extraction,
        "task_runner": task_runner,
        "dask_address": dask_address,
    }


@app.command()
@_flow_command
def ingest(
    sources: Annotated[
        Path | None,
        typer.Option(
            "--sources",
            help=escape(  # rich markup: "[settings]" was taken for a style and dropped
                "Sources TOML file: its [settings], and its sources unless --url, --urls-file, "
                "--feed, --sitemap or --path name others."
            ),
        ),
    ] = None,
    url: Annotated[list[str] | None, typer.Option("--url", help="A page URL (repeatable).")] = None,
    urls_file: Annotated[
        list[str] | None,
        typer.Option(
            "--urls-file",
            help="A file of URLs, one a line, or a CSV/TSV table with a url (link, href) column.",
        ),
    ] = None,
    feed: Annotated[
        list[str] | None, typer.Option("--feed", help="An RSS/Atom/JSON feed URL.")
    ] = None,
    sitemap: Annotated[list[str] | None, typer.Option("--sitemap", help="A sitemap URL.")] = None,
    path: Annotated[
        list[str] | None, typer.Option("--path", help="A saved page, text scrape or folder.")
    ] = None,
    db: SourcesDbOption = None,
    batch_size: BatchSizeOption = None,
    allow_private_hosts: AllowPrivateHostsOption = False,
    ignore_robots: IgnoreRobotsOption = False,
    extraction: ExtractionOption = None,
    task_runner: TaskRunnerOption = None,
    dask_address: DaskAddressOption = None,
) -> None:
    """Fetch, clean, deduplicate and load articles.

    Example: newsflow ingest --feed https://example.com/rss.xml --path samples/

    On a Dask cluster: newsflow ingest --path samples/ --task-runner dask
    """
    if not any([sources, url, urls_file, feed, sitemap, path]):
        _fail(
            "nothing to ingest: pass --sources FILE or --url/--urls-file/--feed/--sitemap/--path", 2
        )
    started = datetime.now(UTC)
    with _interrupted_says():
        from flows.ingest import ingest as ingest_flow
        from tasks.sources import sources_from_cli

        _shield_temporary_api()
    with _user_errors(INTERRUPTED_INGEST), _quiet_tracebacks(), _progress_display():
        # a bad --url is refused here, before anything runs
        one_off = sources_from_cli(
            url or [], urls_file or [], feed or [], sitemap or [], path or []
        )
        overrides = _overrides(
            db,
            batch_size,
            allow_private_hosts,
            ignore_robots,
            extraction,
            task_runner,
            dask_address,
        )
        sources_file = str(sources) if sources else None
        db = overrides["db"] = _prepare_run(sources_file, one_off, overrides)
        report = _printing_its_url(ingest_flow)(
            sources_file=sources_file,
            urls=url,
            urls_files=urls_file,
            feeds=feed,
            sitemaps=sitemap,
            paths=path,
            **overrides,
        )
    _print_ingest(report)
    _print_loaded(db, started, report.run_id)
    if report.all_failed():
        _fail(report.failures())


@app.command()
@_flow_command
def run(
    sources: Annotated[Path, typer.Option("--sources", help="Sources TOML file.")] = Path(
        DEFAULT_SOURCES
    ),
    db: SourcesDbOption = None,
    batch_size: BatchSizeOption = None,
    allow_private_hosts: AllowPrivateHostsOption = False,
    ignore_robots: IgnoreRobotsOption = False,
    extraction: ExtractionOption = None,
    task_runner: TaskRunnerOption = None,
    dask_address: DaskAddressOption = None,
) -> None:
    """The main job: ingest the configured sources, then compute the daily summaries.

    Example: newsflow run --sources deployments/sources.toml --task-runner dask
    """
    started = datetime.now(UTC)
    with _interrupted_says():
        from flows.run import run as run_flow

        _shield_temporary_api()
    with _user_errors(INTERRUPTED_INGEST), _quiet_tracebacks(), _progress_display():
        overrides = _overrides(
            db,
            batch_size,
            allow_private_hosts,
            ignore_robots,
            extraction,
            task_runner,
            dask_address,
        )
        db = overrides["db"] = _prepare_run(str(sources), [], overrides)
        report = _printing_its_url(run_flow)(sources_file=str(sources), **overrides)
    _print_ingest(report.ingest)
    _print_loaded(db, started, report.ingest.run_id)
    _print_summary(report.summary, db)
    if report.ingest.all_failed():
        _fail(report.ingest.failures())


def _print_summary(
    summary: Any, db: str, start: date | None = None, end: date | None = None
) -> None:
    """The daily captures of the range summarized, on one screen: over more than a month, only
    the days that something was reported captured (the last month of them); a stray article from
    years before made the range thousands of days long."""
    from tasks.summaries import daily_captures_table, days_with_captures

    rows = daily_captures_table(db, start, end)
    shown = rows
    if len(rows) > SUMMARY_DAYS:
        shown = days_with_captures(rows)[-SUMMARY_DAYS:]
    title = "capitals reported captured, by day"
    if len(shown) < len(rows):
        title += (
            f": {len(shown)} of {len(rows)} days, those with captures (the last "
            f"{SUMMARY_DAYS} at most); `newsflow captures` prints every day"
        )
    if shown:
        _print_captures(shown, OutputFormat.table, title)
    headline = summary.headline() if hasattr(summary, "headline") else str(summary)
    console.print(escape(headline), highlight=False, soft_wrap=True)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="One read-only SQL statement.")],
    db: DbOption = DEFAULT_DB,
    format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
) -> None:
    """Run read-only SQL against the warehouse (writes are refused).

    Example: newsflow query "SELECT site_name, count(*) FROM articles GROUP BY 1" -f csv
    """
    from warehouse.queries import read_only_query

    with _user_errors():
        columns, rows = read_only_query(db, sql)
    _print_table(columns, rows, format)


@app.command()
def search(
    text: Annotated[str, typer.Argument(help="Words to look for in titles and texts.")],
    since: Annotated[
        datetime | None,
        typer.Option(
            help="Only articles published since: a story is shown by one of them, and its "
            "copies are those published since."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    db: DbOption = DEFAULT_DB,
    format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
) -> None:
    """Full-text (BM25) search, one line per story, duplicates folded into its copies count.

    Example: newsflow search "Kandahar airport" --since 2021-08-01 --limit 10
    """
    from warehouse.queries import search_table, search_terms

    with _user_errors():
        columns, rows = search_table(db, text, since=since, limit=limit)
        if not rows and not search_terms(db, text):
            _fail(
                f"nothing to search for in {text!r}: the index leaves out one-letter words and "
                "English stop words (the, of, in, …); give a word the stories would hold"
            )
    if not rows and format is OutputFormat.table:
        console.print(f"no stories match {escape(repr(text))}")
        return
    _print_table(columns, rows, format)


@app.command()
@_flow_command
def summarize(
    start: Annotated[datetime | None, typer.Option(help="First day (default: everything).")] = None,
    end: Annotated[datetime | None, typer.Option(help="Last day (default: everything).")] = None,
    last_days: Annotated[
        int | None,
        typer.Option(
            min=1, max=366, help="Only the last N days up to --end (or today), as a schedule runs."
        ),
    ] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Extract capture events and recompute the daily summaries for a date range.

    Example: newsflow summarize --start 2021-08-06 --end 2021-08-16
    """
    with _user_errors(INTERRUPTED_BEFORE_THE_RUN):
        if start and last_days:
            raise ValueError("pass --start or --last-days, not both")
        _check_summary_request(_day(start), _day(end), db)
    with _interrupted_says():
        from flows.summarize import summarize as summarize_flow

        _shield_temporary_api()
    with _user_errors(INTERRUPTED_SUMMARIZE), _quiet_tracebacks():
        report = _printing_its_url(summarize_flow)(
            start=_day(start), end=_day(end), last_days=last_days, db=db
        )
    _print_summary(report, db, report.start, report.end)


@app.command()
@_flow_command
def reclean(
    db: DbOption = DEFAULT_DB,
    extraction: Annotated[
        ExtractionMode,
        typer.Option(help="thorough (the best text and dates) or fast, as for ingest."),
    ] = ExtractionMode.thorough,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help="Only this source's pages (by name; repeatable)."),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=5000, help="Pages per batch.")] = 200,
    since: Annotated[
        datetime | None,
        typer.Option(help="Only the pages fetched since (a fast backfill's, say)."),
    ] = None,
) -> None:
    """Clean the stored pages again, without fetching, and load what reads differently now.

    After an upgrade of newsflow, or to read fast-mode runs in the thorough mode: a changed
    text or headline is a new version, a byline or site name read better is refreshed, a page
    rejected before may become an article. No fetch is logged; no article counts as seen.
    Then `newsflow summarize` reads the new versions' events.

    Example: newsflow reclean --extraction thorough --source kabul-feeds
    """
    with _user_errors(INTERRUPTED_BEFORE_THE_RUN):
        _check_reclean_request(db, source or [], extraction)
    with _interrupted_says():
        from flows.reclean import reclean as reclean_flow

        _shield_temporary_api()
    with (
        _user_errors(INTERRUPTED_RECLEAN),
        _quiet_tracebacks(),
        _progress_display(RECLEAN_STAGES),
    ):
        report = _printing_its_url(reclean_flow)(
            db=db, extraction=extraction, sources=source, batch_size=batch_size, since=since
        )
    console.print(escape(f"reclean of {report.db}"), highlight=False, soft_wrap=True)
    _print_rows(report.rows(), OutputFormat.table)
    console.print(escape(report.headline()), highlight=False, soft_wrap=True)


@app.command()
def captures(
    start: Annotated[datetime | None, typer.Option(help="First day.")] = None,
    end: Annotated[datetime | None, typer.Option(help="Last day.")] = None,
    db: DbOption = DEFAULT_DB,
    format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
) -> None:
    """Print the daily table of provincial capitals reported captured.

    As CSV or JSON, the data: the daily_captures table's columns, and each new capital's (and
    each taken again's) status and sources as a list.

    Example: newsflow captures --start 2021-08-06 --end 2021-08-16
    """
    from tasks.summaries import daily_captures_table
    from warehouse.summaries import daily_captures_data

    if format is not OutputFormat.table:
        with _user_errors():
            columns, data = daily_captures_data(db, _day(start), _day(end))
        _print_table(columns, data, format)
        if not data:  # on stderr, as evidence's --limit note: the output stays the data
            errors.print(_nothing_in_the_daily_table(db, "no day in that range"), highlight=False)
        return
    with _user_errors():
        rows = daily_captures_table(db, _day(start), _day(end))
    if not rows:
        console.print(_nothing_in_the_daily_table(db, "no day in that range"), highlight=False)
        return
    _print_captures(rows, format, "capitals reported captured, by day")


def _nothing_in_the_daily_table(db: str, nothing: str) -> str:
    """Why a read of the daily table found nothing: no summary yet, or not in what was asked."""
    from warehouse.summaries import daily_span

    with _user_errors():
        span = daily_span(db)
    if span is None:
        return "the daily table is empty: `newsflow summarize` computes it"
    return f"{nothing}; the daily table runs {span[0]} … {span[1]}"


def _print_captures(rows: list[dict[str, Any]], fmt: OutputFormat, title: str) -> None:
    """Daily captures display rows: a terminal's table headed by the columns' short labels
    (their names took the width the capitals' names need), CSV and JSON by their names."""
    from tasks.summaries import COLUMNS

    header = list(COLUMNS.values() if fmt is OutputFormat.table else COLUMNS)
    _print_table(header, [tuple(row[c] for c in COLUMNS) for row in rows], fmt, title)


@app.command()
def evidence(
    place: Annotated[
        str | None,
        typer.Argument(
            metavar="CAPITAL",
            help="A capital, or its province, in any spelling the gazetteer knows (Shibirghan, "
            "Jowzjan); every capital when left out.",
        ),
    ] = None,
    start: Annotated[datetime | None, typer.Option(help="First day of the events.")] = None,
    end: Annotated[datetime | None, typer.Option(help="Last day of the events.")] = None,
    status: Annotated[
        list[EventStatus] | None,
        typer.Option(
            metavar="STATUS",
            help="Only reports of this status: confirmed, claimed, contested, denied or retaken "
            "(repeatable).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    db: DbOption = DEFAULT_DB,
    format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
) -> None:
    """Print the reports behind the daily table: the sentence, who made the report, the sites.

    One row per day, capital, status and story (a syndicated report is one story, its sites
    counted), earliest first, from the events `newsflow summarize` extracted.

    Example: newsflow evidence Kandahar --status claimed --status confirmed
    """
    from tasks.events import load_gazetteer
    from warehouse.summaries import capture_evidence

    capital = None
    if place is not None:
        gazetteer = load_gazetteer()
        found = gazetteer.place_named(place)
        if found is None:
            close = gazetteer.close_names(place)
            _fail(
                f"no capital or province is called {place!r}"
                + (f"; did you mean {' or '.join(close)}?" if close else "")
            )
        capital = found.capital
    with _user_errors():
        columns, rows, more = capture_evidence(
            db,
            capital=capital,
            statuses=[s.value for s in status] if status else None,
            start=_day(start),
            end=_day(end),
            limit=limit,
        )
    if format is not OutputFormat.table:
        _print_table(columns, rows, format)
        if not rows:
            errors.print(_nothing_in_the_daily_table(db, "no reports match"), highlight=False)
        if more:  # on stderr: the output stays what a script reads, and the cut is not silent
            errors.print(f"note: the first {limit} rows; pass --limit for more", highlight=False)
        return
    if not rows:
        console.print(_nothing_in_the_daily_table(db, "no reports match"), highlight=False)
        return
    title = f"reports of {capital}" if capital else "reports of the capitals"
    _print_table(columns, rows, format, title=title)
    if more:
        console.print(f"the first {limit} rows; pass --limit for more", highlight=False)


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", help="Folder for the files.")] = Path("output"),
    format: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.csv,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Write the summary tables as CSV or Parquet files.

    Example: newsflow export --out reports/ --format parquet
    """
    from tasks.summaries import export_summaries

    # DuckDB writes a file that exists to a temporary one first, and drops what it was writing
    # when interrupted: each file is whole, though some may be the export before's
    interrupted = (
        f"interrupted: each file in {out} is whole, but some may be from the export before; "
        "rerun the same command"
    )
    with _user_errors(interrupted):
        written = export_summaries(db, out, format.value)
    for path, rows in written.items():
        console.print(f"wrote {escape(str(path))} ({rows} {'row' if rows == 1 else 'rows'})")
    if not any(written.values()):
        errors.print(
            "note: the summary tables are empty; `newsflow summarize` computes them from the "
            "articles ingested (`newsflow run` does both)",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def check(db: DbOption = DEFAULT_DB) -> None:
    """Check the warehouse's integrity; exit 1 naming each problem found.

    Every article has its fetch, no duplicate points at nothing, no event at no article, and
    the versions add up.

    Example: newsflow check --db warehouse/news.duckdb
    """
    from warehouse.integrity import check_warehouse
    from warehouse.queries import warehouse_counts

    with _user_errors():
        problems = check_warehouse(db)
        counts = warehouse_counts(db)
    for problem in problems:
        errors.print(
            f"[red]problem:[/red] {escape(problem.message)}", highlight=False, soft_wrap=True
        )
    if problems:
        _fail(
            f"warehouse {db} failed {len(problems)} integrity "
            + ("check" if len(problems) == 1 else "checks")
        )
    summary = ", ".join(f"{value} {name}" for name, value in counts.items())
    console.print(
        escape(f"warehouse {db} is consistent: {summary}"), highlight=False, soft_wrap=True
    )


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


if __name__ == "__main__":
    app()
