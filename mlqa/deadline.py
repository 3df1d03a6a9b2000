"""A check's deadline, and the event the session sets to stop it.

Every check runs under one deadline: its `timeout:` in mlqa.yaml (else the check's declared
default, else 900 s). It reaches the check as `ctx.deadline`. Code that runs for long —
load generation, a capacity search, a subprocess, a wait on the stack, a fault that is
still injected — polls it (`ctx.deadline.check()`, `ctx.deadline.sleep(s)`, or
`ctx.deadline.remaining()` as a subprocess timeout) and cleans up in `finally:` when it
raises `Cancelled`. When the deadline passes, the session sets the event, gives the check a
short grace period to clean up, and records `error` ("timed out after N s"); a check that
ignores the event is abandoned on its thread, never waited for.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Cancelled(Exception):
    """Raised inside a check by `Deadline.check()` / `Deadline.sleep()` once it must stop
    (its deadline passed, or the run was interrupted). Clean up, then let it propagate:
    the session records the check as `error`."""


class Deadline:
    """When a check must be done (`time.monotonic()` seconds; None: never) and the event
    that asks it to stop early. Thread-safe; one per check run."""

    def __init__(self, seconds: float | None = None, *, event: threading.Event | None = None) -> None:
        self.seconds = seconds
        self.at = None if seconds is None else time.monotonic() + seconds
        self.event = event or threading.Event()
        self.reason = ""

    @classmethod
    def never(cls) -> "Deadline":
        """No deadline (a check called directly, outside a session); still cancellable."""
        return cls(None)

    def remaining(self) -> float:
        """Seconds left (math.inf without a deadline, 0.0 once cancelled or past)."""
        if self.event.is_set():
            return 0.0
        if self.at is None:
            return math.inf
        return max(0.0, self.at - time.monotonic())

    @property
    def cancelled(self) -> bool:
        """True once the session asked the check to stop or the deadline passed."""
        return self.event.is_set() or (self.at is not None and time.monotonic() >= self.at)

    def cancel(self, reason: str = "cancelled") -> None:
        """Ask the check to stop (the session calls this; a test may too)."""
        if not self.event.is_set():
            self.reason = reason
        self.event.set()

    def check(self) -> None:
        """Raise `Cancelled` when the check must stop."""
        if self.cancelled:
            raise Cancelled(self.reason or (f"deadline of {self.seconds:g}s passed" if self.seconds is not None
                                             else "cancelled"))

    def sleep(self, seconds: float) -> None:
        """Sleep up to `seconds`, waking at once when cancelled; then `check()`."""
        self.event.wait(max(0.0, min(seconds, self.remaining(), threading.TIMEOUT_MAX)))
        self.check()

    def limit(self, seconds: float | None = None) -> float:
        """`seconds` capped by what is left (for a subprocess's or a request's timeout)."""
        left = self.remaining()
        return left if seconds is None else min(seconds, left)

    def __repr__(self) -> str:
        left = self.remaining()
        return f"Deadline({'no limit' if left == math.inf else f'{left:.1f}s left'}" \
               f"{', cancelled' if self.event.is_set() else ''})"


_active = threading.local()


def current() -> Deadline:
    """The deadline of the check running on this thread (set by the session), else one
    that never expires. Code deep below a check — a model worker call — waits on it."""
    deadline = getattr(_active, "deadline", None)
    return deadline if deadline is not None else Deadline.never()


@contextmanager
def active(deadline: Deadline) -> Iterator[Deadline]:
    """Make `deadline` this thread's `current()` for the block."""
    previous = getattr(_active, "deadline", None)
    _active.deadline = deadline
    try:
        yield deadline
    finally:
        _active.deadline = previous
