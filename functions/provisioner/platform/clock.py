"""The one clock of the deployed code: every decision that depends on "now" reads ``clock.now()``.

Production reads the system clock. Tests, benchmarks and localcloud move time through the same
seam: ``clock.use(source)`` installs any object with a ``now()`` method returning an aware
datetime (localcloud's ``Clock`` is one), so a test moves the functions and the emulator together
and no test patches a module attribute to change time.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Protocol


class TimeSource(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


_source: TimeSource = SystemClock()


def now() -> datetime:
    """The current instant, aware, in UTC."""
    return _source.now().astimezone(timezone.utc)


def install(source: TimeSource | None) -> TimeSource:
    """Make ``source`` the clock (None: the system clock again); returns the previous one."""
    global _source
    previous, _source = _source, (source or SystemClock())
    return previous


@contextlib.contextmanager
def use(source: TimeSource) -> Iterator[TimeSource]:
    previous = install(source)
    try:
        yield source
    finally:
        install(previous)
