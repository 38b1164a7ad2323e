"""newsflow flows: the Prefect entry points (ingest, summarize, run) and the CLI."""
