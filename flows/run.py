"""The main job: ingest the configured sources, then recompute the daily summaries."""

from __future__ import annotations

from typing import Annotated

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from pydantic import BaseModel, Field

from flows.ingest import IngestReport, ingest
from flows.summarize import SummaryReport, summarize
from tasks.settings import DEFAULT_SOURCES, ExtractionMode, TaskRunnerName
from warehouse.db import artifact_key


class RunReport(BaseModel):
    """The two halves of a run, for the CLI summary."""

    ingest: IngestReport
    summary: SummaryReport


@flow(name="run", validate_parameters=True)
def run(
    sources_file: str = DEFAULT_SOURCES,
    db: str | None = None,
    batch_size: Annotated[int, Field(ge=1, le=5000)] | None = None,
    allow_private_hosts: bool | None = None,
    respect_robots: bool | None = None,
    extraction: ExtractionMode | None = None,
    task_runner: TaskRunnerName | None = None,
    dask_address: str | None = None,
) -> RunReport:
    """Ingest every configured source, then summarize everything in the warehouse.

    Args:
        sources_file: the sources TOML file (default deployments/sources.toml).
        db: the warehouse file (default warehouse/news.duckdb, or NEWSFLOW_DB).
        batch_size: pages per fetch/clean/load batch.
        allow_private_hosts: fetch loopback and private addresses (off by default).
        respect_robots: obey robots.txt (on by default).
        extraction: "thorough" (default) or "fast" extraction of text and dates.
        task_runner: where ingest cleans and deduplicates: "threads" (default) or "dask".
        dask_address: the Dask scheduler (tcp://host:8786); none starts a local cluster.
    """
    ingested = ingest(
        sources_file=sources_file,
        db=db,
        batch_size=batch_size,
        allow_private_hosts=allow_private_hosts,
        respect_robots=respect_robots,
        extraction=extraction,
        task_runner=task_runner,
        dask_address=dask_address,
    )
    summary = summarize(db=ingested.db)
    report = RunReport(ingest=ingested, summary=summary)
    _publish(report)
    return report


def _publish(report: RunReport) -> None:
    """A Markdown artifact on the run itself, of both halves: the run's page in the UI showed
    none, only its two child runs, each with its own artifacts."""
    db = report.ingest.db
    rows = [f"| {row['measure']} | {row['value']} |" for row in report.ingest.rows()]
    create_markdown_artifact(
        key=artifact_key("run-report", db),
        markdown="\n".join(
            [
                f"# newsflow run into `{db}`",
                "",
                "## Ingest",
                "",
                "| measure | value |",
                "| --- | --- |",
                *rows,
                "",
                "## Summaries",
                "",
                report.summary.headline(),
                "",
                f"In full: the artifacts `{artifact_key('ingest-report', db)}` and "
                f"`{artifact_key('daily-captures-report', db)}`.",
            ]
        ),
        description="newsflow run: ingest, then summaries",
    )


if __name__ == "__main__":
    print(run().model_dump_json(indent=2))
