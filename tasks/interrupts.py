"""Ctrl-C and the helper processes a run starts.

A terminal's Ctrl-C sends SIGINT to every process of its foreground group: the flow's own and the
helpers it starts, the extraction fork server among them. The run must get it, as
KeyboardInterrupt; a helper it still needs must not. A process started while its
parent blocks SIGINT starts with it blocked (the signal mask survives fork and exec), so a
helper is started inside `sigint_blocked()`, and a Ctrl-C that reaches it waits, unseen.

A helper that must outlive the run's stop, to record it (Prefect's temporary API), starts apart
(`started_apart`): in a process group of its own, which neither a Ctrl-C nor a signal to the
whole group (`timeout`, `kill -TERM -- -PGID`) reaches, and it is sent SIGTERM when this
process ends, however it ends.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

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


_PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends (Linux)


def _ends_with(parent: int) -> Callable[[], None] | None:
    """A preexec_fn that has the child sent SIGTERM when its parent ends (Linux only).

    The kernel sends it when the parent's thread that started the child ends: only the main
    thread's end is this process's end, so from another thread there is none."""
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here, not in the child

    def ends_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent ended before prctl: nothing will be sent
            os._exit(1)

    return ends_with_parent


@contextmanager
def started_apart(module: types.ModuleType) -> Iterator[None]:
    """While the block runs, the processes `module` starts with `subprocess.Popen` start apart:
    in a process group of their own, and sent SIGTERM as this process ends (`_ends_with`).

    For a helper started by a library's code (Prefect's temporary API): its module's name
    `subprocess` is a copy of the module whose Popen starts them so, for the block only."""

    class PopenApart(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.update(process_group=0, preexec_fn=_ends_with(os.getpid()))
            super().__init__(*args, **kwargs)

    apart = types.ModuleType("subprocess")
    apart.__dict__.update(vars(subprocess), Popen=PopenApart)
    real = module.subprocess
    module.subprocess = apart
    try:
        yield
    finally:
        module.subprocess = real
