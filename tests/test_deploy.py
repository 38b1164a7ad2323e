"""newsflow on a real Prefect server: make server/deploy/worker, prefect.yaml, queued writers."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml

from tasks.settings import ExtractionMode
from tests.conftest import ROOT
from warehouse.db import reader, writer
from warehouse.integrity import check_warehouse
from warehouse.queries import read_only_query, search_articles

# Server start, deploy and each flow run take a minute or more on a loaded machine: wide bounds.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PREFECT_YAML = ROOT / "deployments" / "prefect.yaml"
SERVER_START_SECONDS = 180
RUN_SECONDS = 180
MAX_ANSWER_SECONDS = 5.0
# Server services these tests do not need: fewer SQLite writers on a loaded machine.
IDLE_SERVICES = ("FOREMAN", "LATE_RUNS", "PAUSE_EXPIRATIONS", "CANCELLATION_CLEANUP",
                 "EVENT_PERSISTER", "EVENT_LOGGER", "TASK_RUN_RECORDER", "DB_VACUUM")  # fmt: skip
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}

STORIES = {
    "/news/zaranj": (
        "Taliban take Zaranj",
        "2021-08-06T14:00:00+04:30",
        "Taliban fighters captured Zaranj, the capital of Nimroz province, on Friday, a "
        "provincial council member confirmed. Residents described long queues at the few bakeries "
        "still open and said mobile phone coverage had been cut for most of the day. Traders said "
        "the border crossing with Iran had closed and that lorries were stranded on the highway.",
    ),
    "/news/sheberghan": (
        "Sheberghan falls",
        "2021-08-07T16:00:00+04:30",
        "Taliban fighters captured Sheberghan, the capital of Jowzjan province, on Saturday, "
        "officials said. Aid workers said families had fled toward Mazar-i-Sharif in recent days "
        "and that food prices in the city had doubled since the fighting began. A hospital doctor "
        "said wounded civilians were being treated in corridors because the wards were full.",
    ),
    "/news/kunduz": (
        "Kunduz overrun",
        "2021-08-08T18:00:00+04:30",
        "The Taliban captured Kunduz on Sunday, residents said. Analysts said the speed of the "
        "advance reflected low morale among troops who had not been paid for months and who felt "
        "abandoned as foreign forces completed their withdrawal. Government forces held on to the "
        "airport outside the city, a defence ministry spokesman said, and promised to retake it.",
    ),
}


@dataclass
class PrefectServer:
    """A Prefect server, the deployments of prefect.yaml and a worker, all on 127.0.0.1."""

    api_url: str
    home: Path
    worker_log: Path

    def deployment_id(self, name: str) -> str:
        return _api(self, "GET", f"/deployments/name/{name}")["id"]

    def trigger(self, name: str, parameters: dict[str, Any], *, delay: float = 0.0) -> str:
        """Create a flow run of a deployment, as `prefect deployment run` does; its id."""
        path = f"/deployments/{self.deployment_id(name)}/create_flow_run"
        when = (datetime.now(UTC) + timedelta(seconds=delay)).isoformat()
        state = {"type": "SCHEDULED", "state_details": {"scheduled_time": when}}
        return _api(self, "POST", path, json={"parameters": parameters, "state": state})["id"]

    def wait(self, run_id: str, timeout: float = RUN_SECONDS) -> dict[str, Any]:
        """Poll a flow run until it ends (bounded); the final flow run record."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = _api(self, "GET", f"/flow_runs/{run_id}")
            if run["state_type"] in TERMINAL:
                return run
            time.sleep(1.0)
        raise AssertionError(f"flow run {run_id} not finished in {timeout:.0f} s{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        text = self.worker_log.read_text(errors="replace") if self.worker_log.exists() else ""
        return "\n--- worker log ---\n" + "\n".join(text.splitlines()[-lines:])


def _api(server: PrefectServer, method: str, path: str, **kwargs: Any) -> Any:
    """One API call; a busy server's 503 (its SQLite is locked) is retried a few times."""
    for attempt in range(5):
        response = httpx.request(method, server.api_url + path, timeout=30.0, **kwargs)
        if response.status_code != 503:
            break
        time.sleep(1.0 + attempt)
    response.raise_for_status()
    return response.json()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(home: Path, port: int) -> dict[str, str]:
    """Everything Prefect reads: a temporary home and SQLite file, quiet, no scheduler."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSFLOW_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_UI_ENABLED="false",
        # The schedules in prefect.yaml must not fire here: they would ingest into the checkout.
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        **{f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false" for name in IDLE_SERVICES},
        PREFECT_WORKER_PREFETCH_SECONDS="1",
        NEWSFLOW_ALLOW_PRIVATE_HOSTS="1",
    )
    return env


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_healthy(api_url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"prefect server exited {server.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{api_url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    raise AssertionError(f"server not healthy in {SERVER_START_SECONDS} s:\n{log.read_text()}")


def _stop(proc: subprocess.Popen) -> list[psutil.Process]:
    """Ctrl-C, a second Ctrl-C (the worker takes two: README), then SIGTERM, then SIGKILL to the
    process tree (bounded); what is still alive."""
    try:
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    alive = tree
    for sig, wait in (
        (signal.SIGINT, 2),
        (signal.SIGINT, 10),
        (signal.SIGTERM, 10),
        (signal.SIGKILL, 10),
    ):
        for member in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.send_signal(sig)
        _, alive = psutil.wait_procs(alive, timeout=wait)
        if not alive:
            break
    proc.wait(timeout=10)
    return alive


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory, ready_prefect_home: Path) -> Iterator[PrefectServer]:
    """`make server`, `make deploy`, `make worker` against a temporary home on a free port, its
    database migrated already (a new one takes the server 14 s to migrate)."""
    home = tmp_path_factory.mktemp("prefect-server")
    shutil.copytree(ready_prefect_home, home, dirs_exist_ok=True)
    port = _free_port()
    env = _server_env(home, port)
    make = ["make", "--no-print-directory", "-o", ".venv/.installed"]
    make += [f"PREFECT_PORT={port}", f"PREFECT_HOME={home}"]
    started: list[subprocess.Popen] = []
    try:
        began = time.monotonic()
        started.append(_start([*make, "server"], env, home / "server.log"))
        _wait_healthy(env["PREFECT_API_URL"], started[0], home / "server.log")
        healthy = time.monotonic()
        deploy = subprocess.run(
            [*make, "deploy"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr
        deployed = time.monotonic()
        print(f"server healthy {healthy - began:.0f} s, make deploy {deployed - healthy:.0f} s")
        started.append(_start([*make, "worker"], env, home / "worker.log"))
        yield PrefectServer(env["PREFECT_API_URL"], home, home / "worker.log")
    finally:
        leftovers = [p for proc in reversed(started) for p in _stop(proc)]
        assert not leftovers, f"still running after stopping server and worker: {leftovers}"


def _article(title: str, published: str, lead: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
    <meta property="article:published_time" content="{published}">
    <meta property="og:site_name" content="Loopback News"></head>
    <body><header><nav><a href="/">Home</a></nav></header><article><h1>{title}</h1>
    <p>{lead}</p>
    </article><footer>Loopback News</footer></body></html>"""


def _serve_stories(site) -> str:
    """The three stories as pages and an RSS feed of them; the feed's URL."""
    items = []
    for path, (title, published, lead) in STORIES.items():
        site.page(path, _article(title, published, lead))
        items.append(f"<item><title>{title}</title><link>{site.url(path)}</link></item>")
    channel = f"<channel><title>Loopback</title>{''.join(items)}</channel>"
    feed = f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'
    site.page("/feed.xml", feed, "application/rss+xml")
    return site.url("/feed.xml")


def _query_while_running(
    server: PrefectServer, run_ids: list[str], db: str
) -> list[tuple[float, int]]:
    """Count articles as `newsflow query` does until the runs end: (seconds taken, count)."""
    answers = []
    deadline = time.monotonic() + 2 * RUN_SECONDS
    while time.monotonic() < deadline:
        states = {_api(server, "GET", f"/flow_runs/{i}")["state_type"] for i in run_ids}
        if states <= TERMINAL:
            break
        if Path(db).exists():
            began = time.monotonic()
            _, rows = read_only_query(db, "SELECT count(*) FROM articles")
            answers.append((time.monotonic() - began, rows[0][0]))
        time.sleep(0.2)
    return answers


def _rows(db: str, query: str) -> list[tuple]:
    with reader(db) as conn:
        return conn.execute(query).fetchall()


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_prefect_yaml_deployments_match_the_flow_signatures():
    """Every deployment's entrypoint loads and its parameters validate against the flow."""
    from prefect.cli.deploy._models import DeploymentConfig
    from prefect.flows import load_flow_from_entrypoint

    config = yaml.safe_load(PREFECT_YAML.read_text())
    deployments = {d["name"]: d for d in config["deployments"]}
    assert set(deployments) == {"ingest", "summarize", "run", "reclean"}
    assert config["pull"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $NEWSFLOW_HOME }}"}}
    ]
    for name, spec in deployments.items():
        unknown = set(spec) - set(DeploymentConfig.model_fields)
        assert not unknown, f"{name}: keys Prefect would silently ignore: {unknown}"
        flow = load_flow_from_entrypoint(spec["entrypoint"])
        assert flow.name == name
        flow.validate_parameters(spec["parameters"])
        assert spec["work_pool"]["name"] == "newsflow"
        assert spec["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}
        assert spec["enforce_parameter_schema"] is True
    assert deployments["ingest"]["schedules"] == [
        {"interval": 1800, "anchor_date": "2021-08-01T00:05:00+00:00", "timezone": "UTC"}
    ]
    assert deployments["summarize"]["schedules"][0]["cron"] == "30 6 * * *"
    assert (ROOT / deployments["ingest"]["parameters"]["sources_file"]).is_file()
    summarize = load_flow_from_entrypoint(deployments["summarize"]["entrypoint"])
    summarize.validate_parameters({"start": "2021-08-06", "end": "2021-08-16"})
    reclean = load_flow_from_entrypoint(deployments["reclean"]["entrypoint"])
    by_hand = reclean.validate_parameters({"extraction": "fast", "sources": ["kabul-feeds"]})
    assert (by_hand["extraction"], by_hand["sources"]) == (ExtractionMode.fast, ["kabul-feeds"])
    # by hand, and a redeploy keeps a schedule added in the UI without Prefect's FutureWarning
    # ([] did, warning that a future release will clear them; QA)
    assert deployments["run"]["schedules"] is None and deployments["reclean"]["schedules"] is None


def test_a_run_by_hand_may_pass_one_off_sources_or_a_null_sources_file():
    """What README's "Running on a Prefect server" says a run by hand may pass, merged with the
    ingest deployment's parameters, passes the flow's parameter schema as the server checks it
    (enforce_parameter_schema); `--param sources_file=null` reaches it as JSON null."""
    from prefect.flows import load_flow_from_entrypoint
    from prefect.utilities.callables import parameter_schema
    from prefect.utilities.schema_tools import ValidationError, validate

    config = yaml.safe_load(PREFECT_YAML.read_text())
    spec = next(d for d in config["deployments"] if d["name"] == "ingest")
    flow = load_flow_from_entrypoint(spec["entrypoint"])
    schema = parameter_schema(flow).model_dump_for_openapi()
    feed = "https://www.example.com/rss.xml"
    for by_hand in ({"feeds": [feed]}, {"sources_file": None, "feeds": [feed]}):
        validate({**spec["parameters"], **by_hand}, schema, raise_on_error=True)
    with pytest.raises(ValidationError):  # a feed not in a list: refused before any run
        validate({**spec["parameters"], "feeds": feed}, schema, raise_on_error=True)


def test_runs_on_the_worker_take_turns_and_load_each_article_once(prefect_server, site, tmp_path):
    """Two ingests at once, then a summarize by the documented command: turns, nothing twice.

    One scenario for what a deployment must do (each flow run costs the worker a process start):
    deployed flows ingest a loopback feed and summarize a date range; overlapping runs queue on the
    pool's limit; `newsflow query` answers meanwhile.
    """
    db = str(tmp_path / "news.duckdb")
    feed = _serve_stories(site)
    # by hand, with a feed: the deployment's sources_file (the samples) stays, and is not ingested
    parameters = {"feeds": [feed], "db": db}
    ingest_ids = [prefect_server.trigger("ingest/ingest", parameters) for _ in range(2)]
    # `prefect deployment run`, its string dates validated against the flow's signature; the run
    # it creates is due after the ingests', so the pool's limit keeps it out of their way
    env = {**_server_env(prefect_server.home, 0), "PREFECT_API_URL": prefect_server.api_url}
    command = [str(ROOT / ".venv" / "bin" / "prefect"), "deployment", "run", "summarize/summarize"]
    command += ["--param", "start=2021-08-06", "--param", "end=2021-08-16", "--param", f"db={db}"]
    summarize = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    answers = _query_while_running(prefect_server, ingest_ids, db)
    output, _ = summarize.communicate(timeout=120)
    assert summarize.returncode == 0, output
    summary_id = next(line.split()[-1] for line in output.splitlines() if "UUID" in line)
    runs = [prefect_server.wait(i) for i in [*ingest_ids, summary_id]]
    for run in runs:
        assert run["state_type"] == "COMPLETED", run["state"] + prefect_server.log_tail()
    spans = sorted((_when(r["start_time"]), _when(r["end_time"])) for r in runs)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, f"runs overlapped: {spans}"
    summarized = runs[-1]
    assert spans[-1][0] == _when(summarized["start_time"]), "the summarize ran before an ingest"
    assert summarized["parameters"]["start"] == "2021-08-06"

    # each article loaded once; the second ingest revalidated all three
    assert _rows(
        db, "SELECT count(*), count(DISTINCT url), count(DISTINCT cluster_id) FROM articles"
    ) == [(3, 3, 3)]
    assert _rows(db, "SELECT count(*) FROM feed_entries") == [(3,)]
    assert _rows(db, "SELECT count(DISTINCT run_id) FROM fetches") == [(2,)]
    assert _rows(db, "SELECT count(*) FROM fetches WHERE outcome = 'not_modified'") == [(3,)]
    captured = _rows(db, "SELECT DISTINCT capital FROM capture_events ORDER BY 1")
    assert captured == [("Kunduz",), ("Sheberghan",), ("Zaranj",)]
    days = _rows(
        db, "SELECT day, new_capital_names, cumulative_capitals FROM daily_captures ORDER BY day"
    )
    assert [(str(d), names, n) for d, names, n in days] == [
        ("2021-08-06", ["Zaranj"], 1),
        ("2021-08-07", ["Sheberghan"], 2),
        ("2021-08-08", ["Kunduz"], 3),
    ]
    # the loads indexed every article for search: one line per story, best match first
    hits = search_articles(db, "Sheberghan Jowzjan")
    assert hits[0]["title"] == "Sheberghan falls" and hits[0]["copies"] == 1
    august_7 = datetime(2021, 8, 7, tzinfo=UTC)
    since = search_articles(db, "Taliban captured capital", since=august_7)
    assert {hit["title"] for hit in since} == {"Sheberghan falls", "Kunduz overrun"}
    # `newsflow query` while the ingests loaded: quick answers, and the batch of 3 all or nothing
    assert answers, "no query was answered while the runs were going"
    assert {count for _, count in answers} <= {0, 3}
    slowest = max(seconds for seconds, _ in answers)
    print(f"{len(answers)} queries answered during the two ingests, slowest {slowest:.2f} s")
    assert slowest < MAX_ANSWER_SECONDS, f"a query waited {slowest:.1f} s during an ingest run"


def _processes_of_run(run_id: str) -> list[psutil.Process]:
    """The live processes started for a flow run: its process and what it forked (extraction
    workers, their fork server), by the run id the worker put in the run's environment."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.environ().get("PREFECT__FLOW_RUN_ID") == run_id:
                found.append(proc)
    return found


def test_a_run_cancelled_on_the_server_stops_and_keeps_the_batches_it_loaded(
    prefect_server, site, tmp_path
):
    """Cancel from the UI or `prefect flow-run cancel`, while the run cleans a page that takes
    about 25 s (4.4 MB, under the 5 MB cap): the run ends Cancelled, none of its processes
    lives on (the extraction workers and their fork server included), and the batches loaded
    before stay, in a warehouse the next run can write."""
    from tests.test_clean import _endless_page

    db = str(tmp_path / "news.duckdb")
    _serve_stories(site)
    site.page("/news/endless", _endless_page(50_000))
    urls = [site.url(path) for path in [*STORIES, "/news/endless"]]
    parameters = {"urls": urls, "db": db, "batch_size": 1}
    run_id = prefect_server.trigger("ingest/ingest", parameters)
    deadline = time.monotonic() + RUN_SECONDS
    while not (Path(db).exists() and _rows(db, "SELECT count(*) FROM articles") == [(3,)]):
        assert time.monotonic() < deadline, "stories not loaded" + prefect_server.log_tail()
        time.sleep(0.5)
    time.sleep(2.0)  # into the endless page's clean
    assert _processes_of_run(run_id), "the run's processes were not found"
    cancelled_at = time.monotonic()
    _api(prefect_server, "POST", f"/flow_runs/{run_id}/set_state",
         json={"state": {"type": "CANCELLING"}, "force": True})  # fmt: skip
    run = prefect_server.wait(run_id, timeout=90)
    took = time.monotonic() - cancelled_at
    assert run["state_type"] == "CANCELLED", run["state"] + prefect_server.log_tail()
    print(f"cancelled in {took:.1f} s")
    # its clean was stopped, not waited for: the process exits after its task threads, and the
    # one cleaning waited for the page (33 s here) until the worker killed the run's process
    log = prefect_server.worker_log.read_text(errors="replace")  # the run's output is in it
    assert "ExtractionStopped: the run is ending" in log, prefect_server.log_tail()
    _, alive = psutil.wait_procs(_processes_of_run(run_id), timeout=10)
    assert not alive, f"still running after the cancel: {alive}"
    assert check_warehouse(db) == []
    assert _rows(db, "SELECT count(*) FROM articles") == [(3,)]
    with writer(db, wait_seconds=5.0):  # no lock left behind: the next run writes at once
        pass


def _heartbeat(server: PrefectServer, run_id: str, tags: list[str]) -> None:
    """The event a flow run's heartbeat thread sends (flow_engine), its tags related as Prefect
    relates them."""
    related = [{"prefect.resource.id": f"prefect.tag.{tag}", "prefect.resource.role": "tag"}
               for tag in tags]  # fmt: skip
    event = {
        "occurred": datetime.now(UTC).isoformat(),
        "event": "prefect.flow-run.heartbeat",
        "resource": {"prefect.resource.id": f"prefect.flow-run.{run_id}"},
        "related": related,
        "id": str(uuid.uuid4()),
    }
    httpx.post(f"{server.api_url}/events", json=[event], timeout=30.0).raise_for_status()  # 204


def _zombie_automations(server: PrefectServer) -> list[dict[str, Any]]:
    from deployments.zombie_runs import NAME

    return [a for a in _api(server, "POST", "/automations/filter", json={}) if a["name"] == NAME]


def test_a_run_whose_heartbeat_stopped_is_crashed_and_frees_the_pools_slot(prefect_server):
    """A flow-run process that dies unable to say so (the worker stopped by a second Ctrl-C: the
    run's next write to it ended the run; a lost machine; SIGKILL) left its run Running for good,
    holding the pool's one slot: every later run waited Late. `make deploy` adds an automation
    that crashes a newsflow run once it has not beaten for three heartbeats (90 s; 10 s here); a
    run of another project on the same server is left alone. Made again, it is updated, not
    doubled."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from deployments.zombie_runs import create_or_update, zombie_runs_automation

    (made,) = _zombie_automations(prefect_server)  # by make deploy
    assert made["trigger"]["within"] == 90.0

    def on_the_server() -> Any:
        return temporary_settings({PREFECT_API_URL: prefect_server.api_url})

    other = _api(prefect_server, "POST", "/flows/", json={"name": "another-project"})["id"]
    stray = _api(prefect_server, "POST", "/flow_runs/",
                 json={"flow_id": other, "state": {"type": "RUNNING"}})["id"]  # fmt: skip
    zombie = prefect_server.trigger("reclean/reclean", {}, delay=3600)  # the worker waits
    try:
        with on_the_server():  # as `make deploy` runs it, with a window of 10 s
            create_or_update(zombie_runs_automation(10))
        (shortened,) = _zombie_automations(prefect_server)
        assert shortened["id"] == made["id"] and shortened["trigger"]["within"] == 10.0
        _api(prefect_server, "POST", f"/flow_runs/{zombie}/set_state",
             json={"state": {"type": "RUNNING"}, "force": True})  # fmt: skip
        _heartbeat(prefect_server, zombie, ["newsflow", "warehouse-writer"])
        _heartbeat(prefect_server, stray, [])
        run = prefect_server.wait(zombie, timeout=60)  # then silence
        assert run["state_type"] == "CRASHED", run["state"]
        assert run["state"]["message"].startswith("no heartbeat for 10 s"), run["state"]
        assert _api(prefect_server, "GET", f"/flow_runs/{stray}")["state_type"] == "RUNNING"
    finally:
        with on_the_server():
            create_or_update(zombie_runs_automation())  # back to 90 s
        _api(prefect_server, "POST", f"/flow_runs/{stray}/set_state",
             json={"state": {"type": "CANCELLED"}, "force": True})  # fmt: skip
