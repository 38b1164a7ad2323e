"""The `newsflow` console script: `flows.cli` loaded behind a Ctrl-C guard.

Loading the CLI takes about half a second (typer, rich, pydantic); a Ctrl-C then printed a
20-line traceback. Once the CLI runs, its commands say it themselves (`flows.cli`).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

from tasks.interrupts import raise_for_signal

INTERRUPTED_BEFORE_THE_RUN = "interrupted before the run started: no run was made, no data written"
# Set on a flow's log record that the CLI prints itself, as its closing line: kept off its console
CLI_SAYS_IT = "newsflow_cli_says_it"


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, `timeout`, a service manager stopping the command), taken as Ctrl-C is:
    an exception in the main thread, so the command ends as it does for Ctrl-C (one line, what
    was kept), with exit status 143."""

    signum = signal.SIGTERM


class HungUp(Terminated):
    """SIGHUP (the terminal closed, or a session's end), taken as SIGTERM is: its default action
    killed the process past its exit handlers, and Prefect's temporary API, which one of them
    stops, ran on. Exit status 129."""

    signum = signal.SIGHUP


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise_for_signal(HungUp() if signum == signal.SIGHUP else Terminated())


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise_for_signal(KeyboardInterrupt())


def exit_status(interrupt: KeyboardInterrupt) -> int:
    """130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP: 128 and the signal's number, as a shell
    reports it."""
    return 128 + getattr(interrupt, "signum", signal.SIGINT)


def main() -> None:
    # SIGTERM's default action killed the process at once, past its exit handlers: Prefect's
    # temporary API, which one of them stops, ran on (about 220 MB a command). While a flow
    # runs, Prefect's own handler takes SIGTERM, ends the run as crashed, then hands it here.
    signal.signal(signal.SIGTERM, _raise_terminated)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # Python's, held in DuckDB
        signal.signal(signal.SIGINT, _raise_interrupted)
    if signal.getsignal(signal.SIGHUP) is signal.SIG_DFL:  # nohup's SIG_IGN stays
        signal.signal(signal.SIGHUP, _raise_terminated)
    try:
        from flows.cli import app
    except KeyboardInterrupt as interrupt:
        sys.stderr.write(f"error: {INTERRUPTED_BEFORE_THE_RUN}\n")
        raise SystemExit(exit_status(interrupt)) from None
    try:
        app()
    finally:
        _signals_end_it()


def _signals_end_it() -> None:
    """Once the command has said its last line, a signal ends the process as by default, with
    no exception: one raised in Prefect's exit handler (it stops the temporary API, 1.4 s)
    printed its traceback, and the command then exited 0. On Linux the API, apart, is sent
    SIGTERM as the process ends (tasks/interrupts.py); elsewhere nothing would stop it, so a
    signal is ignored while the exit handler does. One ignored (nohup, a stop under way) stays
    so."""
    ends = signal.SIG_DFL if sys.platform == "linux" else signal.SIG_IGN
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, ends)
