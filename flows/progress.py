"""Progress events from a running flow to its listeners (the CLI's rich display), if any."""

from __future__ import annotations

from collections.abc import Callable

Listener = Callable[[str, int], None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    """Register a listener for (stage, count) events; returns the function that unsubscribes it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def report(stage: str, count: int) -> None:
    """Tell listeners that `count` more items passed `stage` ("discovered", "fetched", …)."""
    for listener in list(_listeners):
        listener(stage, count)
