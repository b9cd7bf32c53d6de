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


class Meter:
    """A long computation's progress as a share from 0 to 1, reported to ``progress`` as (done, ``STEPS``); each
    report first checks ``cancel`` and raises :class:`Cancelled` if it is set, so work that reports often can
    also be stopped. ``part(a, b)`` is a meter for the stretch from a to b of this one (a stage of the work)."""

    STEPS = 1000

    def __init__(self, progress: Progress = no_progress, cancel: CancelFlag | None = None,
                 start: float = 0.0, end: float = 1.0):
        self.progress, self.cancel, self.start, self.end = progress, cancel, start, end

    def __call__(self, share: float) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled()
        at = self.start + min(max(share, 0.0), 1.0) * (self.end - self.start)
        self.progress(round(at * self.STEPS), self.STEPS)

    def report(self, done: int, total: int) -> None:
        """The meter as a ``Progress``: done of total."""
        self(done / total if total else 1.0)

    def part(self, a: float, b: float) -> Meter:
        span = self.end - self.start
        return Meter(self.progress, self.cancel, self.start + a * span, self.start + b * span)


NO_METER = Meter()  # reports to no one, never cancelled
