"""The reporter: how engine work talks to whoever runs it, without knowing who that is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from dlstudio.engine.events import Event


class Reporter(Protocol):
    def report(self, event: Event) -> None: ...

    def should_stop(self) -> bool: ...


class CallbackReporter:
    """A reporter over a plain callable and an optional stop predicate."""

    def __init__(self, sink: Callable[[Event], None] | None = None,
                 stop: Callable[[], bool] | None = None) -> None:
        self._sink = sink
        self._stop = stop

    def report(self, event: Event) -> None:
        if self._sink is not None:
            self._sink(event)

    def should_stop(self) -> bool:
        return bool(self._stop and self._stop())


class ListReporter(CallbackReporter):
    """Keeps every event in `.events` (for tests and scripts)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        super().__init__(self.events.append)
