"""Ctrl-C and the helper processes a run starts.

A terminal's Ctrl-C sends SIGINT to every process of its foreground group: the flow's own and the
helpers it starts, Prefect's temporary API and the extraction fork server among them. The run
must get it, as KeyboardInterrupt; a helper it still needs must not. A process started while its
parent blocks SIGINT starts with it blocked (the signal mask survives fork and exec), so a
helper is started inside `sigint_blocked()`, and a Ctrl-C that reaches it waits, unseen.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

_SIGINT = {signal.SIGINT}


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread while the block runs: processes it starts inherit the block.
    A Ctrl-C that arrives meanwhile is not lost: it is delivered as the block ends."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGINT)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def unblock_sigint() -> None:
    """Take Ctrl-C again, in a process started with it blocked (an extraction worker)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGINT)
