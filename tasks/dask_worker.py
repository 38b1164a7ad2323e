"""Preloaded by each worker of the local Dask cluster a run starts (`preload` and `preload_argv`
in flows/ingest.py), whose worker processes are not daemonic: it starts the worker's own
extraction pool server as the worker starts, so that its first batch finds the server warm
(0.6 s of one core, 2.7 s in the thorough mode, otherwise spent on that batch), and imports
the task modules the worker runs (flows.ingest).

A worker of another cluster can preload it too, with its workers not daemonic (a daemonic one
cleans inline, without the clean_page_seconds bound):
`DASK_DISTRIBUTED__WORKER__DAEMON=False dask worker tcp://scheduler:8786 --preload
tasks.dask_worker thorough` (the mode's name: the preload's argument).
"""

import click

import flows.ingest  # noqa: F401  (the worker's own tasks: clean_batch, dedupe_batch)
from tasks.clean import start_extraction_server
from tasks.settings import ExtractionMode


@click.command()
@click.argument("mode", type=click.Choice([mode.value for mode in ExtractionMode]))
def dask_setup(worker: object, mode: str) -> None:
    """Start the fork server of this worker's extraction pool, with the modules `mode` uses."""
    start_extraction_server(ExtractionMode(mode))
