"""A minimal event stream: the trainer and the engine publish, displays and logs subscribe.

Events are plain msgspec Structs so that a JSON-lines progress mode is a one-liner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec


class Event(msgspec.Struct, kw_only=True):
    kind: str
    """e.g. `iteration`, `phase`, `validation`, `checkpoint`, `done`."""
    data: dict[str, Any] = msgspec.field(default_factory=dict)


Listener = Callable[[Event], None]


class EventBus:
    """Synchronous fan-out to listeners; a failing listener never breaks a run."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def publish(self, kind: str, **data: Any) -> None:
        event = Event(kind=kind, data=data)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001, S110 - a display bug must not kill a training run
                pass
