"""One measured newsflow ingest (and its immediate re-run) over a URL list, reported as JSON.

Run by bench.run in its own process (so peak RSS is this run's alone) against a Prefect API whose
URL is in PREFECT_API_URL. Stage times come from the flow run's task runs as the Prefect API
recorded them; orchestration is the wall time during which no task run was running.

Prefect and the flow are imported where they are used, as the `newsflow` script does: the
extraction pool's fork server imports this module for its workers (tasks/clean.py, _main_modules),
and should not import Prefect to do so.

Run: python -m bench.ingest_job --urls urls.txt --db /tmp/news.duckdb [--batch-size 200]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from tasks.settings import ExtractionMode

STAGES = {
    "discover_items": "discover",
    "load_discovery": "discover",
    "read_known_fetches": "discover",
    "fetch_batch": "fetch",
    "clean_batch": "extract",
    "dedupe_batch": "dedupe",
    "load_batch": "load",
}
SETTLE_SECONDS = 30.0


def write_sources_file(
    folder: Path,
    urls_file: str,
    batch_size: int,
    workers: int,
    task_runner: str = "threads",
    extraction: str = "thorough",
) -> Path:
    """A sources TOML with the benchmark's settings: one loopback host, so no politeness delay."""
    path = folder / "bench-sources.toml"
    path.write_text(
        "[settings]\n"
        f"batch_size = {batch_size}\n"
        f"clean_workers = {workers}\n"
        f"task_runner = {json.dumps(task_runner)}\n"
        f"extraction = {json.dumps(extraction)}\n"
        "allow_private_hosts = true\n"
        "respect_robots = true\n"
        "per_host_concurrency = 16\n"
        "per_host_delay = 0.0\n"
        "max_workers = 16\n\n"
        "[[source]]\n"
        'name = "bench"\n'
        'kind = "urls"\n'
        f"location = {json.dumps(str(Path(urls_file).resolve()))}\n"
    )
    return path


def _stage(task_name: str) -> str:
    base = task_name.rsplit("-", 1)[0]
    return STAGES.get(base, base)


def _read_task_runs(flow_run_id: UUID) -> list[Any]:
    """Every task run of the flow run, waiting (bounded) until the API has recorded them all."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    deadline = time.monotonic() + SETTLE_SECONDS
    previous: list[Any] | None = None
    with get_client(sync_client=True) as client:
        while True:
            runs: list[Any] = []
            while True:
                page = client.read_task_runs(
                    flow_run_filter=flow_filter, limit=200, offset=len(runs)
                )
                runs += page
                if len(page) < 200:
                    break
            done = all(r.end_time is not None for r in runs)
            if done and previous is not None and len(previous) == len(runs):
                return runs
            if time.monotonic() > deadline:
                return runs
            previous = runs
            time.sleep(0.5)


def _busy_seconds(intervals: list[tuple[datetime, datetime]]) -> float:
    """Length of the union of intervals: time during which at least one task was running."""
    total, end = 0.0, None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total += (stop - start).total_seconds()
            end = stop
        elif stop > end:
            total += (stop - end).total_seconds()
            end = stop
    return total


def stage_report(runs: list[Any], wall: float) -> dict[str, Any]:
    """Seconds per stage (summed over its task runs), task run count, orchestration share."""
    stages: dict[str, float] = {}
    intervals = []
    for run in runs:
        if run.start_time is None or run.end_time is None:
            continue
        seconds = (run.end_time - run.start_time).total_seconds()
        stages[_stage(run.name)] = stages.get(_stage(run.name), 0.0) + seconds
        intervals.append((run.start_time, run.end_time))
    busy = _busy_seconds(intervals)
    return {
        "task_runs": len(runs),
        "stage_s": {k: round(v, 2) for k, v in sorted(stages.items())},
        "orchestration_s": round(max(0.0, wall - busy), 2),
        "orchestration_share": round(max(0.0, wall - busy) / wall, 4) if wall else 0.0,
    }


def measure_ingest(sources_file: Path, db: str) -> dict[str, Any]:
    """Run the ingest flow once; wall time, its report and the per-stage figures."""
    from flows.ingest import ingest

    started = time.perf_counter()
    state = ingest(sources_file=str(sources_file), db=db, return_state=True)
    wall = time.perf_counter() - started
    report = state.result()
    runs = _read_task_runs(state.state_details.flow_run_id)
    return {"wall_s": round(wall, 2), "report": report.model_dump(), **stage_report(runs, wall)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--workers", type=int, default=0, help="clean processes; 0: one per core")
    parser.add_argument("--no-rerun", action="store_true")
    parser.add_argument("--task-runner", default="threads", choices=["threads", "dask"])
    parser.add_argument(
        "--extraction",
        type=ExtractionMode,
        default=ExtractionMode.thorough,
        choices=list(ExtractionMode),
    )
    args = parser.parse_args(argv)
    sources = write_sources_file(
        Path(args.urls).parent,  # the warehouse may be a ducklake: URL
        args.urls,
        args.batch_size,
        args.workers,
        args.task_runner,
        args.extraction,
    )
    result = {"first": measure_ingest(sources, args.db)}
    if not args.no_rerun:
        result["rerun"] = measure_ingest(sources, args.db)
    print("RESULT " + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
