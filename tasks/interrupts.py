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


def _started_apart(parent: int) -> Callable[[], None]:
    """A preexec_fn for a helper in a process group of its own: it may write to the terminal
    (a background group is stopped by SIGTTOU when it does, under `stty tostop`), and on Linux
    it is sent SIGTERM when its parent ends.

    The kernel sends that when the parent's thread that started the child ends: only the main
    thread's end is this process's end, so from another thread there is none."""
    linux = sys.platform == "linux" and threading.current_thread() is threading.main_thread()
    prctl = ctypes.CDLL(None, use_errno=True).prctl if linux else None  # looked up here

    def in_the_child() -> None:
        signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        signal.signal(signal.SIGTTIN, signal.SIG_IGN)  # a read then fails, rather than stops
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent:  # the parent ended before prctl: nothing will be sent
                os._exit(1)

    return in_the_child


@contextmanager
def started_apart(module: types.ModuleType) -> Iterator[None]:
    """While the block runs, the processes `module` starts with `subprocess.Popen` start apart:
    in a process group of their own, and sent SIGTERM as this process ends (`_started_apart`).

    For a helper started by a library's code (Prefect's temporary API): its module's name
    `subprocess` is a copy of the module whose Popen starts them so, for the block only."""

    class PopenApart(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.update(process_group=0, preexec_fn=_started_apart(os.getpid()))
            super().__init__(*args, **kwargs)

    apart = types.ModuleType("subprocess")
    apart.__dict__.update(vars(subprocess), Popen=PopenApart)
    real = module.subprocess
    module.subprocess = apart
    try:
        yield
    finally:
        module.subprocess = real
