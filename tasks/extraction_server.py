"""Preloaded once per run by the extraction pool's fork server, so every worker forked from it
starts warm: dateparser (behind htmldate's extensive date search) compiles its tables for every
locale on first use, about 4 s of CPU that each short-lived worker would otherwise pay again."""

from htmldate.extractors import get_external_parser

import tasks.clean  # noqa: F401  (the workers' code, imported once in the server)

get_external_parser().get_date_data("not a date")
