"""The main job: ingest the configured sources, then recompute the daily summaries."""

from __future__ import annotations

from typing import Annotated

from prefect import flow
from pydantic import BaseModel, Field

from flows.ingest import IngestReport, ingest
from flows.summarize import SummaryReport, summarize
from tasks.settings import DEFAULT_SOURCES, ExtractionMode, TaskRunnerName


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
    return RunReport(ingest=ingested, summary=summary)


if __name__ == "__main__":
    print(run().model_dump_json(indent=2))
