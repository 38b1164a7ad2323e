"""`make bench`: newsflow against the plain baseline on a loopback corpus, for several sizes N.

For each N it starts the corpus server (bench.corpus), runs the baseline (bench.baseline), then,
for each extraction mode asked for, the newsflow ingest plus its immediate re-run
(bench.ingest_job), then the baseline again, each in its own process while this one samples the
memory and CPU of that process and its children; after each newsflow run it reads (read-only)
how many of the copies the corpus planted its warehouse links to their original. Prints a table
(a row per N and mode, against the mean of the two baseline runs), writes
bench/results/<timestamp>.json and a markdown table for the README.

With --lake newsflow loads into a DuckLake (SQLite catalog, Parquet beside it) instead of a
DuckDB file; the baseline keeps its DuckDB file.

Run: python -m bench.run [--sizes 500 2000] [--extraction thorough fast] [--latency-ms 0] [--lake]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import prefect
import psutil
import trafilatura

from tasks.settings import ExtractionMode
from warehouse.db import reader

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
SAMPLE_SECONDS = 0.1
TIMELINE_SECONDS = 5.0
PSS_SECONDS = 0.5
TARGET_RATIO = 0.85


def _pss(member: psutil.Process) -> int:
    """Proportional set size: shared pages split among the processes sharing them."""
    try:
        with open(f"/proc/{member.pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return member.memory_info().rss


def tree_memory(
    process: psutil.Process, *, with_pss: bool = True, cpu_seen: dict[int, float] | None = None
) -> tuple[int, int, int]:
    """(RSS, PSS, PSS of `process` alone) of a process and all its descendants, in bytes (gone
    processes count zero); with `cpu_seen`, also each one's CPU seconds so far (its own, not its
    children's), by pid, from the same walk over the tree.

    Summed RSS counts pages that forked workers share with their parent once per process;
    summed PSS counts them once in all, so it is the tree's real footprint. PSS is costly to read
    (the kernel walks every page table of the process), so it is 0 unless asked for.
    """
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0, 0
    rss = pss = main = 0
    for member in members:
        try:
            rss += member.memory_info().rss
            member_pss = _pss(member) if with_pss else 0
            if cpu_seen is not None:
                times = member.cpu_times()
                cpu_seen[member.pid] = times.user + times.system
        except psutil.NoSuchProcess:
            continue
        pss += member_pss
        if member is process:
            main = member_pss
    return rss, pss, main


def _machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def _cpu_report(pid: int, seen: dict[int, float], wall: float, busy: float) -> dict[str, float]:
    """CPU seconds of the measured process, of its descendants, and of everything else on the
    machine meanwhile (the corpus server, the Prefect API, other users), and the share of every
    core's time the measured tree used: what separates work from waiting. Each process counts
    at its last sample (up to SAMPLE_SECONDS of its CPU may fall after it)."""
    main = seen.get(pid, 0.0)
    children = sum(cpu for member, cpu in seen.items() if member != pid)
    cores = os.cpu_count() or 1
    return {
        "cpu_main_s": round(main, 1),
        "cpu_children_s": round(children, 1),
        "cpu_elsewhere_s": round(max(0.0, busy - main - children), 1),
        "cpu_share": round((main + children) / (wall * cores), 3) if wall else 0.0,
    }


def run_measured(
    command: list[str], env: dict[str, str], timeout: float
) -> tuple[str, dict[str, int]]:
    """Run a command, sampling its process tree's memory and CPU; returns (stdout, figures:
    peak RSS/PSS in MB, CPU seconds by process and elsewhere, the memory timeline).

    RSS is read every SAMPLE_SECONDS; PSS every PSS_SECONDS, and whenever the tree's RSS reaches
    a new peak. Reading PSS at every sample cost this process a fifth of a core (15 ms a sample
    for one 700 MB process), taken from the run it measures.
    """
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    process = psutil.Process(child.pid)
    peak_rss = peak_pss = peak_main = 0
    pss_read = 0.0
    cpu_seen: dict[int, float] = {}  # pid -> user+system seconds at its last sample
    machine_busy = _machine_busy_seconds()
    timeline: list[tuple[float, int, int]] = []  # (seconds, tree PSS MB, main PSS MB)
    while child.poll() is None:
        rss, _, _ = tree_memory(process, with_pss=False, cpu_seen=cpu_seen)
        elapsed = time.perf_counter() - started
        timeline_due = not timeline or elapsed - timeline[-1][0] >= TIMELINE_SECONDS
        pss_due = elapsed - pss_read >= PSS_SECONDS or timeline_due
        if rss > peak_rss or pss_due:
            _, pss, main = tree_memory(process)
            pss_read = elapsed
            peak_pss, peak_main = max(peak_pss, pss), max(peak_main, main)
            if timeline_due:
                timeline.append((round(elapsed, 1), round(pss / 2**20), round(main / 2**20)))
        peak_rss = max(peak_rss, rss)
        if elapsed > timeout:
            child.kill()
            raise TimeoutError(f"{' '.join(command)} ran longer than {timeout:.0f} s; killed")
        time.sleep(SAMPLE_SECONDS)
    wall = time.perf_counter() - started
    stdout = child.stdout.read() if child.stdout else ""
    if child.returncode:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {child.returncode}")
    return stdout, {
        "peak_rss_mb": round(peak_rss / 2**20),
        "peak_pss_mb": round(peak_pss / 2**20),
        "peak_main_pss_mb": round(peak_main / 2**20),  # the measured process without its workers
        "memory_timeline": timeline,  # where in the run the peak falls
        **_cpu_report(child.pid, cpu_seen, wall, _machine_busy_seconds() - machine_busy),
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],  # shared machine
    }


def _start_corpus(
    n: int, latency_ms: float, planted: Path
) -> tuple[subprocess.Popen, int, dict[str, int]]:
    """The corpus server of n pages, its port and how many pages of each kind its plan holds;
    it writes the copies it planted to `planted` (Corpus.planted)."""
    command = [sys.executable, "-m", "bench.corpus", "--n", str(n), "--latency-ms", str(latency_ms),
               "--planted", str(planted)]  # fmt: skip
    server = subprocess.Popen(
        command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    line = server.stdout.readline() if server.stdout else ""
    if not line.startswith("READY"):
        server.kill()
        raise RuntimeError(f"the corpus server did not start: {line!r}")
    _, port, counts = line.split(" ", 2)
    return server, int(port), json.loads(counts)


def duplicates_found(db: str, urls: list[str], planted: list[list[Any]]) -> dict[str, Any]:
    """What the warehouse made of the planted copies, read (read-only) after a newsflow run:
    how many of each kind it links to their original (the two in one cluster, whatever kind of
    duplicate it recorded: an exact copy of a page with a canonical link is a canonical_url
    duplicate), and the duplicates it holds by duplicate_kind, planted or not (some real pages
    of the shared corpus repeat each other)."""
    with reader(db) as conn:
        cluster_of_url = dict(conn.execute("SELECT url, cluster_id FROM articles").fetchall())
        held = conn.execute(
            "SELECT duplicate_kind, count(*) FROM articles WHERE duplicate_of IS NOT NULL "
            "GROUP BY duplicate_kind ORDER BY duplicate_kind"
        ).fetchall()
    found = {"copy": 0, "near": 0}
    for kind, copy, original in planted:
        cluster = cluster_of_url.get(urls[copy])
        if cluster is not None and cluster == cluster_of_url.get(urls[original]):
            found[kind] += 1
    return {"found": found, "held": dict(held)}


def _result_line(stdout: str, prefix: str = "") -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith(prefix) and "{" in line]
    if not lines:
        raise RuntimeError(f"no result in output: {stdout[-500:]!r}")
    return json.loads(lines[-1][len(prefix) :])


def measure_size(n: int, args: argparse.Namespace, env: dict[str, str]) -> list[dict[str, Any]]:
    """Baseline, newsflow (first run and re-run) in each extraction mode, baseline again, over
    one corpus of n pages: a row per mode, each against the mean of the two baseline runs (one
    run of it varied from 68 to 83 pages/s within an hour on this shared machine)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"newsflow-bench-{n}-") as folder:
        planted_file = Path(folder) / "planted.json"
        server, port, counts = _start_corpus(n, args.latency_ms, planted_file)
        try:
            planted = json.loads(planted_file.read_text())
            urls = [f"http://127.0.0.1:{port}/news/{i:06d}.html" for i in range(n)]
            urls_file = Path(folder) / "urls.txt"
            urls_file.write_text("".join(f"{url}\n" for url in urls))
            shared: dict[str, Any] = {"n": n, "latency_ms": args.latency_ms, "corpus": counts}

            def baseline(name: str) -> dict[str, Any]:
                out, memory = run_measured(
                    [sys.executable, "-m", "bench.baseline", "--urls", str(urls_file), "--db",
                     f"{folder}/{name}.duckdb"],
                    env, args.timeout,
                )  # fmt: skip
                return {**_result_line(out), **memory}

            if not args.skip_baseline:
                shared["baseline"] = baseline("baseline")
            for mode in args.extraction:
                db = _warehouse(folder, mode, args.lake)
                command = [sys.executable, "-m", "bench.ingest_job", "--urls", str(urls_file),
                           "--db", db, "--batch-size", str(args.batch_size),
                           "--task-runner", args.task_runner, "--extraction", mode]  # fmt: skip
                out, memory = run_measured(command, env, args.timeout)
                row = {**shared, "extraction": mode}
                row["newsflow"] = {**_result_line(out, "RESULT "), **memory}
                row["duplicates"] = duplicates_found(db, urls, planted)
                rows.append(row)
            if not args.skip_baseline:
                after = baseline("baseline-after")
                for row in rows:
                    row["baseline_after"] = after
        finally:
            if server.stdin:
                server.stdin.close()
            server.wait(timeout=30)
    return [_summarize(row) for row in rows]


def _warehouse(folder: str, mode: str, lake: bool) -> str:
    """Where a measured ingest loads: a DuckDB file, or a DuckLake with a SQLite catalog."""
    return (
        f"ducklake:sqlite:{folder}/lake-{mode}/catalog.sqlite"
        if lake
        else f"{folder}/news-{mode}.duckdb"
    )


def _summarize(row: dict[str, Any]) -> dict[str, Any]:
    first = row["newsflow"]["first"]
    row["newsflow_pages_s"] = round(row["n"] / first["wall_s"], 2)
    if "baseline" in row:
        runs = [row[key] for key in ("baseline", "baseline_after") if key in row]
        row["baseline_runs_pages_s"] = [round(row["n"] / run["wall_s"], 2) for run in runs]
        mean_wall = sum(run["wall_s"] for run in runs) / len(runs)
        row["baseline_pages_s"] = round(row["n"] / mean_wall, 2)
        row["ratio"] = round(row["newsflow_pages_s"] / row["baseline_pages_s"], 3)
    if "rerun" in row["newsflow"]:
        row["rerun_share"] = round(row["newsflow"]["rerun"]["wall_s"] / first["wall_s"], 4)
    return row


def machine() -> dict[str, Any]:
    """What the numbers were measured on (the machine is shared: load average included)."""
    return {
        "cpus": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "prefect": prefect.__version__,
        "duckdb": duckdb.__version__,
        "trafilatura": trafilatura.__version__,
    }


def _stages(row: dict[str, Any]) -> str:
    first = row["newsflow"]["first"]
    parts = [f"{k} {v:.1f}" for k, v in first["stage_s"].items()]
    return ", ".join(parts) + f"; orchestration {first['orchestration_s']:.1f}"


def _memory(run: dict[str, Any] | None) -> str:
    if not run:
        return "–"
    return f"{run['peak_pss_mb']} MB ({run['peak_rss_mb']} MB)"


def _baseline_speed(row: dict[str, Any]) -> str:
    """The mean the ratio is taken against, and each run's own figure in brackets."""
    if "baseline_pages_s" not in row:
        return "–"
    runs = row.get("baseline_runs_pages_s", [])
    detail = f" ({', '.join(str(speed) for speed in runs)})" if len(runs) > 1 else ""
    return f"{row['baseline_pages_s']}{detail}"


def _cpu(run: dict[str, Any] | None) -> str:
    if not run or "cpu_main_s" not in run:
        return "–"
    return (
        f"main {run['cpu_main_s']:.0f} + workers {run['cpu_children_s']:.0f}, "
        f"elsewhere {run['cpu_elsewhere_s']:.0f}"
    )


def _duplicates(row: dict[str, Any]) -> str:
    """Planted copies newsflow linked to their original, of those planted, then the duplicates
    the warehouse holds by kind (results files before 2026-12-06 have none)."""
    if "duplicates" not in row:
        return "–"
    found, planted = row["duplicates"]["found"], row["corpus"]
    held = ", ".join(f"{kind} {count}" for kind, count in row["duplicates"]["held"].items())
    return (
        f"copies {found['copy']}/{planted.get('copy', 0)}, "
        f"near {found['near']}/{planted.get('near', 0)} ({held or 'none'})"
    )


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The README table: one line per N and extraction mode."""
    lines = [
        "| N | extraction | baseline pages/s | newsflow pages/s | ratio | orchestration | "
        "task runs | peak PSS (RSS) newsflow | peak PSS (RSS) baseline | re-run | "
        "stage seconds (summed task time) | CPU seconds newsflow (baseline) | "
        "planted copies found (duplicates held) |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for row in rows:
        first, rerun = row["newsflow"]["first"], row["newsflow"].get("rerun")
        rerun_text = f"{rerun['wall_s']:.1f} s ({row['rerun_share']:.1%})" if rerun else "–"
        lines.append(
            f"| {row['n']} | {row.get('extraction', 'thorough')} | "
            f"{_baseline_speed(row)} | {row['newsflow_pages_s']} | "
            f"{row.get('ratio', '–')} | {first['orchestration_share']:.1%} | "
            f"{first['task_runs']} | {_memory(row.get('newsflow'))} | "
            f"{_memory(row.get('baseline'))} | {rerun_text} | "
            f"{_stages(row)} | {_cpu(row.get('newsflow'))} ({_cpu(row.get('baseline'))}) | "
            f"{_duplicates(row)} |"
        )
    return "\n".join(lines)


def _prefect_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PREFECT_API_URL"] = prefect.settings.PREFECT_API_URL.value()
    env.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    return env


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--task-runner", default="threads", choices=["threads", "dask"])
    parser.add_argument(
        "--extraction",
        nargs="+",
        type=ExtractionMode,
        default=[ExtractionMode.thorough],
        choices=list(ExtractionMode),
        help="the clean stage's modes to measure, each against the same baseline",
    )
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--lake", action="store_true", help="newsflow loads into a DuckLake")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per measured run")
    parser.add_argument("--no-save", action="store_true", help="print only; no results file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from prefect.testing.utilities import prefect_test_harness

    # As `make bench` sets them: run as `python -m bench.run`, the harness's API logged a
    # traceback as its telemetry write found its own SQLite database locked.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")

    info = machine()
    rows = []
    with prefect_test_harness(server_startup_timeout=120):
        env = _prefect_env()
        for n in args.sizes:
            measured = measure_size(n, args, env)
            rows += measured
            print("\n".join(markdown_table(measured).splitlines()[2:]), flush=True)
    table = markdown_table(rows)
    print(f"\nmachine: {json.dumps(info)}\n\n{table}")
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = RESULTS / f"{stamp}.json"
        out.write_text(json.dumps({"machine": info, "args": vars(args), "rows": rows,
                                   "markdown": table}, indent=2, default=str))  # fmt: skip
        print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
