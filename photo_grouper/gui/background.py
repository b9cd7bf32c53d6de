"""Short work (thumbnails, a photo to show) on a few Python threads, newest request first, each result handed back
on the GUI thread.

The threads touch no QObject: they run a plain function and put its result on a queue that a timer of the GUI
thread empties. Python QRunnables and the signal holders they emit through can be destroyed or garbage-collected
on the wrong thread (once, a test run segfaulted with the main thread collecting while pool threads made crops);
polling a queue, as workers.py does for the job process, has no such lifetime to get wrong.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, QTimer

POLL_MS = 15  # while results are due; the timer stops when nothing is outstanding
IDLE_S = 5.0  # a thread with nothing to do for this long ends; the next request starts one again

Callback = Callable[[Any, BaseException | None], None]


class Background(QObject):
    """``submit(fn, done)`` runs ``fn()`` on a worker thread and later calls ``done(value, None)``, or
    ``done(None, exc)`` if it raised, on the GUI thread. The newest request is started first (after a fast scroll,
    the rows now on screen come before the ones scrolled by). ``shutdown()`` drops what has not started."""

    def __init__(self, threads: int | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.threads = max(1, threads or os.cpu_count() or 1)
        self._waiting: list[tuple[Callable[[], Any], Callback]] = []  # a stack: newest last, taken first
        self._running: list[threading.Thread] = []
        self._idle = 0
        self._cond = threading.Condition()
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._outstanding = 0  # submitted and not yet handed back (GUI thread only)
        self._stopped = False
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.deliver)

    def submit(self, fn: Callable[[], Any], done: Callback) -> bool:
        """False (and nothing runs) after shutdown."""
        with self._cond:
            if self._stopped:
                return False
            self._waiting.append((fn, done))
            self._cond.notify()  # an idle thread takes it; each woken one takes one request
            if len(self._waiting) > self._idle and len(self._running) < self.threads:
                thread = threading.Thread(target=self._work, name="photo-grouper-background", daemon=True)
                self._running.append(thread)
                thread.start()
        self._outstanding += 1
        if not self._timer.isActive():
            self._timer.start()
        return True

    def outstanding(self) -> int:
        return self._outstanding

    def deliver(self) -> None:
        """Hand back every result that has arrived (the timer calls this; so may a caller that waits)."""
        while not self._stopped:
            try:
                done, value, exc = self._results.get_nowait()
            except queue.Empty:
                break
            self._outstanding -= 1
            done(value, exc)
        if self._outstanding <= 0:
            self._timer.stop()

    def shutdown(self, timeout: float = 2.0) -> None:
        """Drop the requests not started, wait up to ``timeout`` for the running ones; deliver nothing more."""
        with self._cond:
            self._stopped = True
            self._waiting.clear()
            self._cond.notify_all()
            running = list(self._running)
        self._timer.stop()
        for thread in running:
            thread.join(timeout / max(1, len(running)))
        self._outstanding = 0
        self._results = queue.SimpleQueue()  # what finished meanwhile goes with it

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                if not self._waiting and not self._stopped:
                    self._idle += 1
                    self._cond.wait(IDLE_S)
                    self._idle -= 1
                if self._stopped or not self._waiting:
                    self._running.remove(me)
                    return
                fn, done = self._waiting.pop()
            try:
                self._results.put((done, fn(), None))
            except BaseException as exc:  # handed to the caller, who says what went wrong
                self._results.put((done, None, exc))
