"""Progress reporting and cancellation shared by every long job (CLI and GUI call the same stages)."""

from __future__ import annotations

import threading
from typing import Any, Protocol


class Progress(Protocol):
    def __call__(self, done: int, total: int) -> None: ...


def no_progress(done: int, total: int) -> None:
    pass


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


# threading.Event is the usual flag: set it from a signal handler or a GUI button.
CancelEvent = threading.Event


class Cancelled(Exception):
    """A job stopped because its cancel flag was set; ``partial`` holds what it had done (all of it committed)."""

    def __init__(self, partial: Any = None):
        super().__init__("cancelled")
        self.partial = partial
