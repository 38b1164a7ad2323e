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

A signal's exception must not be raised inside DuckDB, in the main thread: DuckDB sometimes
lost it, or wedged. newsflow's handlers raise through `raise_for_signal`, which, while the
warehouse works in the main thread (`signals_held`), holds it and interrupts the work instead.
An extraction pool's start holds it too: raised inside a worker's start, it left the pool
broken in ways that printed tracebacks, or hid the stop.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
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


class Hold:
    """A `signals_held` block: its `stop`, once there is one, stops its work (interrupts its
    connection)."""

    stop: Callable[[], None] | None = None

    def stop_with(self, stop: Callable[[], None]) -> None:
        """From now on, `stop` stops the block's work; a signal held before is raised now."""
        self.stop = stop
        if self in _holds:  # the main thread's (another thread's block holds nothing)
            _raise_held()


_holds: list[Hold] = []  # the main thread's `signals_held` blocks, innermost last
_held: BaseException | None = None  # a signal's exception, held for the block to raise
_signal_held = threading.Event()


def raise_for_signal(interrupt: BaseException) -> None:
    """Raise a signal handler's exception; or, while the main thread is in a `signals_held`
    block, hold it for the block to raise, and stop the block's work (from another thread,
    as DuckDB's interrupt is meant to be called)."""
    global _held
    if not _holds:
        raise interrupt
    if _held is None:
        _held = interrupt
        _signal_held.set()
        stop = _holds[-1].stop
        if stop is not None:
            threading.Thread(target=stop, name="signal-stop", daemon=True).start()


def _raise_held() -> None:
    global _held
    held, _held = _held, None
    if held is not None:
        _signal_held.clear()
        raise held


@contextmanager
def signals_held() -> Iterator[Hold]:
    """Around DuckDB's work in the main thread, and an extraction pool's start: a signal's
    exception is raised as the block ends (or as a `pause` in it does), and the block's work is
    stopped meanwhile (`Hold.stop`, if it has one).

    Raised inside a DuckDB call, it was lost up to 1 time in 5 (DuckDB looks for pandas as it
    takes a statement's parameters, and a handler that ran in that import had its exception
    cleared): a SIGTERM mid-reclean did nothing (QA: 2 times of 13), a Ctrl-C said the run was
    stopping and it ran to its end. Or it came out as another error ("Required module 'uuid'
    failed to import"), or, raised inside DuckDB's connect, it left the next connect to the
    file spinning for good. Other threads take no signals, and are left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield Hold()
        return
    hold = Hold()
    _holds.append(hold)
    try:
        yield hold
    finally:
        _holds.remove(hold)
        _raise_held()  # over the error the stop caused (DuckDB's InterruptException), if any


def pause(seconds: float) -> None:
    """Sleep, within a `signals_held` block (a busy warehouse's backoff): a signal ends it at
    once, with the signal's exception."""
    if not _holds or threading.current_thread() is not threading.main_thread():
        time.sleep(seconds)
        return
    _signal_held.wait(seconds)
    _raise_held()


prefect_sigterm_taken = threading.Event()  # Prefect's handler of a run took a SIGTERM


def hold_prefect_sigterm() -> None:
    """Have the SIGTERM handler Prefect installs while a flow run runs (it raises
    TerminationSignal, and the run ends as crashed) raise through `raise_for_signal`, so that
    the warehouse's work in the main thread holds it as it holds Ctrl-C.

    Prefect installs it, and checks it is installed, by its module's name for it, so ours
    takes that name, before any run starts (pinned by prefect<3.10): the flow modules call this
    as they are imported, by a newsflow command or by a worker's run alike. It also sets
    `prefect_sigterm_taken`, for the command to tell a SIGTERM that Prefect's engine turned into
    another error."""
    from prefect.utilities import engine

    prefect_handler = engine._prefect_sigterm_handler
    if getattr(prefect_handler, "held", False):
        return

    def held(signum: int, *args: object) -> None:
        prefect_sigterm_taken.set()
        try:
            prefect_handler(signum, *args)
        except BaseException as exc:  # its TerminationSignal
            raise_for_signal(exc)

    held.held = True  # type: ignore[attr-defined]
    engine._prefect_sigterm_handler = held
