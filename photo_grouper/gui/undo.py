"""Undo and redo in the window: a QUndoStack that mirrors the organize core's own undo log.

The core keeps the log in the library (it survives a restart) and undoes strictly in order, as a QUndoStack
does; so each command just asks the core to undo or redo its newest step. On opening a library the stack is
filled from the log, so Edit > Undo reaches corrections made in an earlier session or from the command line.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand, QUndoStack

from ..organize import Change, OrganizeError, Organizer
from ..organize.history import HISTORY_LIMIT
from ..store import LibraryError


class CoreCommand(QUndoCommand):
    def __init__(self, stack: CoreUndoStack, summary: str):
        super().__init__(summary)
        self.stack = stack
        self.applied = True  # pushed after the core did it: the first redo() is the push itself

    def redo(self) -> None:
        if self.applied:
            self.applied = False
            return
        self.stack.run(lambda org: org.redo())

    def undo(self) -> None:
        self.stack.run(lambda org: org.undo())


class CoreUndoStack(QUndoStack):
    """``on_change(change | None, error | None)`` is told after each undo or redo the core did (or refused)."""

    def __init__(self, on_change: Callable[[Change | None, str | None], None], parent=None):
        super().__init__(parent)
        self.organizer: Organizer | None = None
        self.on_change = on_change
        self._loading = False
        self.setUndoLimit(HISTORY_LIMIT)

    def load(self, organizer: Organizer | None) -> None:
        """Mirror ``organizer``'s log: done operations, then the undone ones (which redo can bring back)."""
        self._loading = True
        try:
            self.clear()
            self.organizer = organizer
            if organizer is None:
                return
            log = list(reversed(organizer.history(HISTORY_LIMIT)))
            for entry in log:
                self.push(CoreCommand(self, entry["summary"]))
            for entry in reversed(log):
                if not entry["undone"]:
                    break
                self.undo()
            self.setClean()
        finally:
            self._loading = False

    def record(self, change: Change) -> None:
        """The core has just done ``change``: put it on the stack (dropping what was undone, as the core did)."""
        self.push(CoreCommand(self, change.summary))

    def run(self, step: Callable[[Organizer], Change]) -> None:
        if self._loading or self.organizer is None:
            return
        try:
            change = step(self.organizer)
        except (OrganizeError, LibraryError) as exc:
            self.on_change(None, str(exc))
            return
        self.on_change(change, None)
