"""Preloaded once per run by the extraction pool's fork server, so every worker forked from it
starts warm and shares what is built here instead of building its own copy. A local Dask cluster's
workers preload it too, before the run's first batch: when each imported all this on its first
batch, small batches were cleaned one at a time instead of at once (tests/test_dask.py).

- the workers' code (tasks.clean), and the ingest flow's modules: multiprocessing imports the
  parent's main module into every worker it starts (`newsflow`, `python -m bench.ingest_job`, …),
  and that main imports the flow, Prefect, DuckDB and pyarrow; imported here they are shared
  instead of imported again by each worker (about 50 MB less across two workers);
- dateparser (behind htmldate's extensive date search) compiles its tables for every locale on
  first use, about 4 s of CPU that each short-lived worker would otherwise pay again;
- trafilatura's justext fallback builds a stoplist of every language's words on first use, about
  28 MB per process (measured with tracemalloc) that each worker would otherwise hold alone.
"""

from htmldate.extractors import get_external_parser
from justext.core import define_stoplist
from trafilatura.external import jt_stoplist_init

import flows.ingest  # noqa: F401  (what a worker's import of the parent's main module needs)
import tasks.clean  # noqa: F401  (the workers' code, imported once in the server)

get_external_parser().get_date_data("not a date")
define_stoplist(jt_stoplist_init())
