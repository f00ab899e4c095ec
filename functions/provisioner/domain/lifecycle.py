"""Lifecycle rules as pure functions: given a marker, a time and the settings, what is due.

No cloud call and no clock here: callers pass the instant (``platform.clock.now()``), so every rule
is tested on its own and the sweep, the leaver event and the audit read the same rules.

    active ──leaver, day over──▶ disabled(at) ──grace over (sweep)──▶ deleted, secret scheduled
    active ──leaver, future──▶ active;leave=D ──D ended in HR_TIMEZONE (sweep)──▶ disabled(at)
    active;end=D (contract end) behaves like a scheduled leave; the earlier date wins.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from zoneinfo import ZoneInfo

from .ordering import JOINER, Entry
from .ownership import ACTIVE, Marker


class Due(str, Enum):
    DISABLE = "disable"
    DELETE = "delete"


def utc_seconds(when: datetime) -> datetime:
    return when.astimezone(timezone.utc).replace(microsecond=0)


def iso(when: datetime | None) -> str | None:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def day_ended(day: date, when: datetime, tz_name: str) -> bool:
    """True once ``day`` is over in ``tz_name`` at instant ``when``."""
    return when.astimezone(ZoneInfo(tz_name)).date() > day


def grace_over(marker: Marker, when: datetime, grace_days: int) -> bool:
    at = marker.disabled_at or datetime.min.replace(tzinfo=timezone.utc)
    return when >= at + timedelta(days=grace_days)


def due(marker: Marker, when: datetime, tz_name: str, grace_days: int) -> Due | None:
    """What the sweep must do to a managed user now: disable, delete, or nothing."""
    if marker.state == ACTIVE:
        day = marker.disable_after
        if day is not None and day_ended(day, when, tz_name):
            return Due.DISABLE
        return None
    if grace_over(marker, when, grace_days):
        return Due.DELETE
    return None


class Target(str, Enum):
    ACTIVE = "active"          # the user exists with the joiner's level and credential kind
    SCHEDULED = "scheduled"    # still active; access ends after the leaver's lastWorkingDay
    DISABLED = "disabled"      # no login profile, no Active AccessKey (deleted after the grace period)


@dataclass(frozen=True)
class Desired:
    """What the latest event in HR order implies for the user now."""
    target: Target
    head: Entry
    reason: str | None = None
    joiner: Entry | None = None     # SCHEDULED: the latest joiner before the leave (level, credential kind)


def desired(entries: list[Entry], when: datetime, tz_name: str) -> Desired:
    """The state the ledger implies at instant ``when``; ``entries`` in HR order, the last is the head.

    A joiner after a leaver is a rehire only if it occurred after the leave took effect (the
    lastWorkingDay ended, or an immediate leave); a joiner in between (a mover during the notice
    period) keeps the scheduled leave, which then applies as it would have."""
    head = entries[-1]
    if head.kind != JOINER:
        if head.last_day is not None and not day_ended(head.last_day, when, tz_name):
            joiner = next((e for e in reversed(entries) if e.kind == JOINER), None)
            return Desired(Target.SCHEDULED, head, joiner=joiner)
        return Desired(Target.DISABLED, head)
    pending = _pending_leave(entries, tz_name)
    if pending is not None and day_ended(pending, when, tz_name):
        return Desired(Target.DISABLED, head, f"the scheduled leave after {pending.isoformat()} ({tz_name}) "
                                              "stands: a later joiner event occurred before it took effect")
    if head.end_date is not None and day_ended(head.end_date, when, tz_name):
        return Desired(Target.DISABLED, head, f"the contract ended on {head.end_date.isoformat()} "
                                              f"({tz_name}): no credential is minted")
    return Desired(Target.ACTIVE, head)


def _pending_leave(entries: list[Entry], tz_name: str) -> date | None:
    """The lastWorkingDay of the latest leaver that the joiners after it did not supersede."""
    for index in range(len(entries) - 1, -1, -1):
        leaver = entries[index]
        if leaver.kind != JOINER:
            if leaver.last_day is None:
                return None                      # an immediate leave: every later joiner is a rehire
            later = entries[index + 1:]
            if any(day_ended(leaver.last_day, j.occurred_at, tz_name) for j in later):
                return None                      # a joiner after the leave took effect: a rehire
            return leaver.last_day
    return None
