"""Ingest with --task-runner dask: clean and dedupe on Dask workers, the same rows as threads."""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from flows.ingest import IngestReport, ingest
from tests.test_clean import _endless_page
from warehouse.queries import warehouse_counts

PAGES = 12
BATCH_SIZE = 3
SETTLE_SECONDS = 30.0


def _real_pages(corpus: Path, count: int) -> list[bytes]:
    folder = corpus / "extraction" / "scrapinghub-aeb" / "html"
    return [gzip.decompress(p.read_bytes()) for p in sorted(folder.glob("*.html.gz"))[:count]]


def _near_copy(page: bytes) -> bytes:
    """Another outlet's copy: no canonical link, another headline, the rest as it was."""
    html = page.decode("utf-8", errors="replace")
    html = re.sub(r"<link[^>]+canonical[^>]*>|<meta[^>]+og:url[^>]*>", "", html, flags=re.I)
    title = "<title>Wire: another headline</title>"
    html = re.sub(r"<title>.*?</title>", title, html, count=1, flags=re.S)
    return html.encode("utf-8")


def _sources(httpserver, corpus, tmp_path: Path, *, endless: bool) -> Path:
    """Real pages on 127.0.0.1, copies of early pages in the last batch, one missing page; with
    `endless`, a last batch of one page that takes about 15 s to clean, and a 3 s bound: at 1 s,
    a real page of a batch cleaned beside two others (two Dask workers, each with its pool, on
    two cores, beside another test process) once took longer and was given up too."""
    pages = _real_pages(corpus, PAGES)
    paths = [f"/news/{n}" for n in range(PAGES)] + ["/copy/0", "/wire/1", "/news/gone"]
    for path, body in zip(paths, [*pages, pages[0], _near_copy(pages[1])], strict=False):
        httpserver.expect_request(path).respond_with_data(body, content_type="text/html")
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/news/gone").respond_with_data("gone", status=404)
    bound = ""
    if endless:
        paths.append("/news/endless")
        httpserver.expect_request(paths[-1]).respond_with_data(
            _endless_page(), content_type="text/html"
        )
        bound = "clean_page_seconds = 3.0\n"
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(httpserver.url_for(p) for p in paths) + "\n")
    path = tmp_path / "sources.toml"
    path.write_text(
        f"[settings]\nbatch_size = {BATCH_SIZE}\nallow_private_hosts = true\n{bound}"
        "per_host_delay = 0.0\nper_host_concurrency = 8\nmax_retries = 0\ndask_workers = 2\n\n"
        f'[[source]]\nname = "loopback"\nkind = "urls"\nlocation = {json.dumps(str(urls))}\n'
    )
    return path


@pytest.fixture
def sources_file(httpserver, corpus, tmp_path: Path) -> Path:
    return _sources(httpserver, corpus, tmp_path, endless=False)


@pytest.fixture
def sources_with_an_endless_page(httpserver, corpus, tmp_path: Path) -> Path:
    return _sources(httpserver, corpus, tmp_path, endless=True)


def _ingest(**parameters: Any) -> tuple[IngestReport, UUID]:
    state = ingest(**parameters, return_state=True)
    return state.result(), state.state_details.flow_run_id


def _counts(report: IngestReport) -> dict[str, Any]:
    return report.model_dump(exclude={"db", "run_id"})  # the counts, not which run or file


def _task_runs(flow_run_id: UUID, expected: int) -> dict[str, list[Any]]:
    """The flow run's finished task runs by task name, once the API has recorded `expected`."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    deadline = time.monotonic() + SETTLE_SECONDS
    with get_client(sync_client=True) as client:
        while True:
            runs = [r for r in client.read_task_runs(flow_run_filter=flow_filter) if r.end_time]
            if len(runs) >= expected or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    by_task: dict[str, list[Any]] = {}
    for run in runs:
        by_task.setdefault(run.name.rsplit("-", 1)[0], []).append(run)
    return by_task


def _log_lines(flow_run_id: UUID, until: str) -> list[str]:
    """The flow run's log lines, its task runs' included, once one containing `until` has arrived
    (a bounded wait): workers send their task runs' logs to the API in the background, in order."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
    deadline = time.monotonic() + SETTLE_SECONDS
    with get_client(sync_client=True) as client:
        while True:
            lines = [log.message for log in client.read_logs(log_filter=log_filter)]
            if any(until in line for line in lines) or time.monotonic() > deadline:
                return lines
            time.sleep(0.5)


def _upstream(runs: dict[str, list[Any]], task: str, parameter: str) -> set[str]:
    """Which tasks' results the runs of `task` got as `parameter`, as Prefect recorded them;
    "none" when a run got it from no task run."""
    names = {str(run.id): name for name, group in runs.items() for run in group}
    return {
        names.get(str(source.id), "?")
        for run in runs[task]
        for source in run.task_inputs.get(parameter, [])
    } | ({"none"} if any(not run.task_inputs.get(parameter) for run in runs[task]) else set())


def _most_at_once(runs: list[Any]) -> int:
    """The largest number of these task runs that were running at the same moment."""
    edges: list[tuple[datetime, int]] = []
    for run in runs:
        edges += [(run.start_time, 1), (run.end_time, -1)]
    running = most = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        running += step
        most = max(most, running)
    return most


def test_dask_loads_what_threads_load_with_batches_cleaned_at_once(
    prefect_harness, sources_with_an_endless_page: Path, tmp_path: Path
) -> None:
    """A local cluster of two worker processes: same counts and rows as threads; on Dask several
    batches are cleaned at once, on threads one; loads never overlap on either. On both, a page
    that outlasts clean_page_seconds, alone in its batch, is given up and recorded: the local
    cluster's workers clean over a process pool of their own, whose workers have the bound."""
    sources_file = sources_with_an_endless_page
    batches = -(-(PAGES + 4) // BATCH_SIZE)
    threads, threads_run = _ingest(sources_file=str(sources_file), db=str(tmp_path / "t.duckdb"))
    dask, dask_run = _ingest(
        sources_file=str(sources_file),
        db=str(tmp_path / "d.duckdb"),
        task_runner="dask",
    )
    assert _counts(dask) == _counts(threads)
    assert dask.new >= PAGES - 3 and dask.duplicates.get("exact") == 1
    assert sum(dask.failed.values()) == 1
    assert dask.rejected == {"clean_timeout": 1}
    assert warehouse_counts(dask.db) == warehouse_counts(threads.db)

    on_threads = _task_runs(threads_run, expected=4 * batches)
    on_dask = _task_runs(dask_run, expected=4 * batches)
    for runs in (on_threads, on_dask):
        assert len(runs["clean_batch"]) == len(runs["dedupe_batch"]) == batches
        assert all(run.state_type.value == "COMPLETED" for run in runs["clean_batch"])
        assert _most_at_once(runs["load_batch"]) == 1
        # each stage's input still points at the task run that produced it (the UI's graph)
        assert _upstream(runs, "clean_batch", "fetches") == {"fetch_batch"}
        assert _upstream(runs, "dedupe_batch", "docs") == {"clean_batch"}
        assert _upstream(runs, "load_batch", "fetches") == {"fetch_batch"}
        assert _upstream(runs, "load_batch", "documents") == {"clean_batch"}
        assert _upstream(runs, "load_batch", "prints") == {"dedupe_batch"}
    assert _most_at_once(on_threads["clean_batch"]) == 1
    assert _most_at_once(on_dask["clean_batch"]) >= 2
    # the bound came from the Dask workers' own pools: no batch was cleaned inline (the timeout's
    # error comes from a Dask worker's clean_batch, after any warning it would have logged)
    lines = _log_lines(dask_run, "took over")
    assert any("took over" in line for line in lines)
    assert not any("cleaning inline" in line for line in lines)


@pytest.fixture
def dask_cluster():
    """A cluster the test starts itself (two worker processes), and a client to watch it."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield cluster, client


def test_dask_address_cleans_on_that_cluster_and_a_rerun_changes_nothing(
    prefect_harness, sources_file: Path, tmp_path: Path, dask_cluster
) -> None:
    """--dask-address: clean and dedupe ran on the given cluster's workers, batch by batch,
    fetch and load did not; ingesting the same pages again adds no article, version or reject.
    The cluster's workers are daemonic (Dask's default), so they clean inline, and the run's
    log says so, with the fix."""
    cluster, client = dask_cluster
    client.get_task_stream()  # starts the scheduler recording which worker ran what
    batches = -(-(PAGES + 3) // BATCH_SIZE)
    parameters = {
        "sources_file": str(sources_file),
        "db": str(tmp_path / "news.duckdb"),
        "task_runner": "dask",
        "dask_address": cluster.scheduler_address,
    }
    first, flow_run_id = _ingest(**parameters)
    stream = client.get_task_stream()
    workers = set(cluster.scheduler_info["workers"])
    ran = Counter(record["key"].split("-")[0] for record in stream)
    assert ran == {"clean_batch": batches, "dedupe_batch": batches}
    assert {record["worker"] for record in stream} <= workers
    assert first.new >= PAGES - 3 and first.duplicates.get("exact") == 1
    inline = [line for line in _log_lines(flow_run_id, "cleaning inline") if "inline" in line]
    assert inline and "DASK_DISTRIBUTED__WORKER__DAEMON=False" in inline[0]

    before = warehouse_counts(first.db)
    second, _ = _ingest(**parameters)
    assert (second.new, second.updated, second.rejected) == (0, 0, {})
    assert second.unchanged == first.new
    after = warehouse_counts(first.db)
    assert {**after, "fetches": 0} == {**before, "fetches": 0}


def test_a_scheduler_with_no_worker_is_refused_in_one_line(
    prefect_harness, sources_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--dask-address of a scheduler whose workers had all stopped: the run waited for one,
    silently, until it was killed (QA). It waits DASK_WORKERS_WAIT for one, then says so."""
    from distributed import LocalCluster

    from flows import ingest as ingest_module
    from flows.ingest import DaskUnavailable

    monkeypatch.setattr(ingest_module, "DASK_WORKERS_WAIT", 1.0)
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        with pytest.raises(DaskUnavailable) as refused:
            _ingest(
                sources_file=str(sources_file), db=str(tmp_path / "news.duckdb"),
                task_runner="dask", dask_address=address,
            )  # fmt: skip
    assert str(refused.value) == (
        f"Dask scheduler {address} has no worker (none joined within 1 s); start one (`dask "
        f"worker {address}`) or drop --dask-address (dask_address) for a local cluster"
    )


def test_deployments_pick_the_runner_by_parameter() -> None:
    """ingest and run take task_runner/dask_address as parameters; an unknown runner is refused."""
    from prefect.exceptions import ParameterTypeError

    from flows.run import run

    for flow in (ingest, run):
        flow.validate_parameters({"task_runner": "dask", "dask_address": "tcp://10.0.0.5:8786"})
        with pytest.raises(ParameterTypeError, match="task_runner"):
            flow.validate_parameters({"task_runner": "processes"})


def test_an_address_without_the_dask_runner_is_refused(prefect_harness, tmp_path: Path) -> None:
    """--dask-address with --task-runner threads names both and the fix, exits 1, makes nothing."""
    from typer.testing import CliRunner

    from flows.cli import app
    from tests.conftest import SAMPLES

    db = tmp_path / "news.duckdb"
    args = ["ingest", "--path", str(SAMPLES), "--db", str(db), "--task-runner", "threads"]
    result = CliRunner().invoke(app, [*args, "--dask-address", "tcp://127.0.0.1:1"])
    assert result.exit_code == 1
    assert "Dask scheduler address (tcp://127.0.0.1:1) is set but the task runner is threads" in (
        result.stderr
    )
    assert "--task-runner dask" in result.stderr
    assert not db.exists()  # refused with the settings, before a warehouse is made


def _prefect_servers_started_meanwhile(harness_pid: int, stop: threading.Event) -> set[int]:
    """Poll this process's descendants until `stop`: the Prefect API servers (uvicorn) among
    them other than the session harness's own."""
    import psutil

    seen: set[int] = set()
    while not stop.wait(0.2):
        for child in psutil.Process().children(recursive=True):
            try:
                if child.pid != harness_pid and "uvicorn" in " ".join(child.cmdline()):
                    seen.add(child.pid)
            except psutil.NoSuchProcess:
                continue
    return seen


def test_dask_workers_report_to_the_flows_temporary_api(
    prefect_harness, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """Without a Prefect server, `newsflow ingest` runs on Prefect's temporary local API, which
    PREFECT_API_URL does not name: the settings each Dask task carries must name it, or every
    worker starts a temporary API of its own for its first task (10-40 s of CPU on two cores,
    its task runs in another database, and a worker that dies leaves its server running).

    The workers log at the flow's level too: they set up Prefect's logging from their
    environment, so `newsflow ingest --task-runner dask` (whose level is WARNING unless the
    user says otherwise) printed each task run's INFO lines."""
    from concurrent.futures import ThreadPoolExecutor

    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, PREFECT_LOGGING_LEVEL, temporary_settings

    from tests.conftest import SAMPLES

    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[settings]\ndask_workers = 1\nextraction = "fast"\n\n'
        f'[[source]]\nname = "samples"\nkind = "path"\nlocation = {json.dumps(str(SAMPLES))}\n'
    )
    harness = SubprocessASGIServer()  # what get_client() starts without PREFECT_API_URL
    stop = threading.Event()
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "INFO")  # what the workers would read alone
    with (
        temporary_settings(
            restore_defaults={PREFECT_API_URL}, updates={PREFECT_LOGGING_LEVEL: "WARNING"}
        ),
        ThreadPoolExecutor(1) as pool,
    ):
        assert not PREFECT_API_URL.value()  # as under `newsflow ingest` without a server
        watching = pool.submit(_prefect_servers_started_meanwhile, harness.server_process.pid, stop)
        try:
            report, flow_run_id = _ingest(
                sources_file=str(sources), db=str(tmp_path / "news.duckdb"), task_runner="dask"
            )
        finally:
            stop.set()
        assert watching.result() == set()  # no worker started an API of its own
    assert report.new == 11
    runs = _task_runs(flow_run_id, expected=7)  # recorded in the flow's own API
    assert len(runs["clean_batch"]) == len(runs["dedupe_batch"]) == 1
    printed = capfd.readouterr()
    assert "| INFO" not in printed.err + printed.out, printed.err


def _listening_ports() -> set[int]:
    """The TCP ports this process and its descendants listen on."""
    import psutil

    ports = set()
    for process in [psutil.Process(), *psutil.Process().children(recursive=True)]:
        try:
            sockets = process.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        ports |= {s.laddr.port for s in sockets if s.status == psutil.CONN_LISTEN}
    return ports


def _answers(port: int, path: str) -> int:
    """The HTTP status a GET of `path` on 127.0.0.1:`port` answers."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


# what Dask's HTTP servers serve by default: health, metrics, status pages and JSON
_DASK_HTTP_PATHS = ("/health", "/metrics", "/info/main/workers.html", "/json/identity.json")


def _comm_ports(info: dict[str, Any]) -> set[int]:
    """The ports a cluster's scheduler, workers and nannies take Dask's own messages on."""
    nannies = [worker["nanny"] for worker in info["workers"].values()]
    addresses = {info["address"], *info["workers"], *nannies}
    return {int(address.rsplit(":", 1)[1]) for address in addresses}


def test_the_local_cluster_serves_no_dashboard_or_status_pages(prefect_harness) -> None:
    """With the dashboard off, the run's local cluster listens for Dask's comms and serves
    nothing over HTTP: distributed still starts an HTTP server on the scheduler and on each
    worker (it has no switch for them), but they serve no route, the scheduler's does not take
    the dashboard's port 8787, and no dashboard link is logged."""
    from prefect import flow

    from flows.ingest import _cpu_stages
    from tasks.settings import load_settings

    @flow
    def open_the_local_cluster() -> tuple[set[int], set[int], dict[int, list[int]], str]:
        settings = load_settings(None, task_runner="dask", dask_workers=2, extraction="fast")
        before = _listening_ports()
        with _cpu_stages(settings) as stages:
            client = stages.runner.client
            comms = _comm_ports(client.scheduler_info())
            others = _listening_ports() - before - comms
            answers = {port: [_answers(port, path) for path in _DASK_HTTP_PATHS] for port in others}
            return comms, others, answers, client.dashboard_link

    comms, others, answers, dashboard_link = open_the_local_cluster()
    assert len(comms) == 5  # a scheduler, 2 workers, 2 nannies
    assert len(others) == 3  # distributed's HTTP servers: the scheduler's and each worker's
    assert 8787 not in others
    assert answers == {port: [404] * len(_DASK_HTTP_PATHS) for port in others}
    assert dashboard_link == ""
