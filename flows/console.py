"""The `newsflow` console script: `flows.cli` loaded behind a Ctrl-C guard.

Loading the CLI takes about half a second (typer, rich, pydantic); a Ctrl-C then printed a
20-line traceback. Once the CLI runs, its commands say it themselves (`flows.cli`).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

INTERRUPTED_BEFORE_THE_RUN = "interrupted before the run started: nothing was written"
# Set on a flow's log record that the CLI prints itself, as its closing line: kept off its console
CLI_SAYS_IT = "newsflow_cli_says_it"


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, `timeout`, a service manager stopping the command), taken as Ctrl-C is:
    an exception in the main thread, so the command ends as it does for Ctrl-C (one line, what
    was kept), with exit status 143."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def exit_status(interrupt: KeyboardInterrupt) -> int:
    """130 for Ctrl-C, 143 for SIGTERM: 128 and the signal's number, as a shell reports it."""
    return 128 + (signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT)


def main() -> None:
    # SIGTERM's default action killed the process at once, past its exit handlers: Prefect's
    # temporary API, which one of them stops, ran on (about 220 MB a command). While a flow
    # runs, Prefect's own handler takes SIGTERM, ends the run as crashed, then hands it here.
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        from flows.cli import app
    except KeyboardInterrupt as interrupt:
        sys.stderr.write(f"error: {INTERRUPTED_BEFORE_THE_RUN}\n")
        raise SystemExit(exit_status(interrupt)) from None
    app()
