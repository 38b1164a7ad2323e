"""The CLI as an analyst uses it: ingest samples/, query, search, summarize, captures, export."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app
from tests.conftest import SAMPLES


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


def test_ingest_query_search_summarize_captures_export(prefect_harness, db_path, tmp_path):
    out = _run("ingest", "--path", str(SAMPLES), "--db", db_path)
    assert "duplicate: near" in out
    assert "Taliban capture Zaranj, the first provincial capital to fall" in out  # what it loaded

    counts = _run("query", "SELECT count(*) AS n, count(DISTINCT cluster_id) AS s FROM articles",
                  "--db", db_path, "-f", "csv")  # fmt: skip
    assert list(csv.DictReader(io.StringIO(counts))) == [{"n": "11", "s": "10"}]

    hits = json.loads(_run("search", "Herat Kandahar", "--db", db_path, "-f", "json"))
    wire = [hit for hit in hits if hit["title"].startswith("Taliban take Herat and Kandahar")]
    assert [hit["copies"] for hit in wire] == [2]  # the wire story and its copy: one line
    assert len({hit["cluster_id"] for hit in hits}) == len(hits)

    summary = _run("summarize", "--db", db_path, "--start", "2021-08-06", "--end", "2021-08-16")
    last = summary.splitlines()[-1]  # one line, piped: a log or a grep finds all of it
    assert last.startswith("summarized 2021-08-06 … 2021-08-16: read 11 new or changed articles")
    assert last.endswith("daily_captures.html"), summary
    recent = _run("summarize", "--db", db_path, "--end", "2021-08-16", "--last-days", "3")
    assert [line.split("│")[1].strip() for line in recent.splitlines() if "│ 20" in line] == [
        "2021-08-14", "2021-08-15", "2021-08-16"
    ]  # fmt: skip
    assert recent.splitlines()[-1].startswith("summarized 2021-08-14 … 2021-08-16: read 0 new")
    day = ["--start", "2021-08-12", "--end", "2021-08-12"]
    rows = list(csv.DictReader(io.StringIO(_run("captures", "--db", db_path, *day, "-f", "csv"))))
    assert [row["day"] for row in rows] == ["2021-08-12"]
    assert json.loads(rows[0]["new_capital_names"]) == ["Ghazni", "Herat", "Kandahar", "Qala-i-Naw"]
    # as JSON, each new capital's status and sources, and no "" for nothing
    [day12] = json.loads(_run("captures", "--db", db_path, *day, "-f", "json"))
    assert day12["new_capital_sources"][2] == {"capital": "Kandahar", "status": "confirmed",
                                               "sources": 3}  # fmt: skip
    assert (day12["retaken_capital_names"], day12["national_capital"]) == ([], None)

    written = _run("export", "--db", db_path, "--out", str(tmp_path / "out"), "-f", "parquet")
    files = sorted(p.name for p in Path(tmp_path / "out").iterdir())
    assert "daily_captures.parquet" in files and "wrote" in written


def test_ingest_without_inputs_is_a_usage_error():
    result = CliRunner().invoke(app, ["ingest"])
    assert result.exit_code == 2
    assert "nothing to ingest" in result.stderr
