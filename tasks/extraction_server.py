"""Preloaded once per run by the extraction pool's fork server, so every worker forked from it
starts warm and shares what is imported here instead of importing its own copy. A local Dask
cluster's workers preload it too, before the run's first batch: when each imported all this on its
first batch, small batches were cleaned one at a time instead of at once (tests/test_dask.py).

- the workers' code (tasks.clean), and the ingest flow's modules: multiprocessing imports the
  parent's main module into every worker it starts (`newsflow`, `python -m bench.ingest_job`, …),
  and that main imports the flow, Prefect, DuckDB and pyarrow; imported here they are shared
  instead of imported again by each worker (about 50 MB less across two workers).

The thorough mode's server also loads tasks.thorough_warmup (dateparser's and jusText's tables).
"""

import flows.ingest  # noqa: F401  (what a worker's import of the parent's main module needs)
import tasks.clean  # noqa: F401  (the workers' code, imported once in the server)
