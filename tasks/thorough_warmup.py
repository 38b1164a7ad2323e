"""What only the thorough extraction mode uses, built once in the extraction pool's fork server
(after tasks.extraction) so that every worker forked from it shares it, warm:

- dateparser (behind htmldate's extensive date search) compiles its tables for every locale on
  first use, about 1.5 s of CPU and 40 MB that each short-lived worker would otherwise pay again;
- trafilatura's jusText fallback builds a stoplist of every language's words on first use, about
  30 MB per process that each worker would otherwise hold alone.

The fast mode uses neither (no extensive date search, no fallbacks), so its server skips them.
"""

from htmldate.extractors import get_external_parser
from justext.core import define_stoplist
from trafilatura.external import jt_stoplist_init

import tasks.extraction  # noqa: F401  (what both modes need, first)

get_external_parser().get_date_data("not a date")
define_stoplist(jt_stoplist_init())
