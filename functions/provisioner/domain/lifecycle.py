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


def desired(entries: list[Entry], when: datetime, tz_name: str, *, initially_active: bool) -> Desired:
    """The state the ledger implies at instant ``when``: its entries folded in HR order.

    - a joiner makes the user active with its level and credential kind: a mover if the user was
      active (a leave scheduled earlier stands), a rehire if not (the leave is gone);
    - a leaver takes an active user's access away now, or schedules it after its lastWorkingDay
      (a day already over when the leaver occurred is now); it gives nothing to a user who is not
      active;
    - a scheduled leave whose day had ended before a later joiner occurred took effect first:
      that joiner is a rehire;
    - at ``when``: a scheduled leave or the joiner's contract end that is over means disabled.

    ``initially_active``: the user was active before the first entry (made before the ledger existed;
    ``workflows.converge.active_before``). No default: every caller decides it."""
    active, leave, joiner, leaver = initially_active, None, None, None
    for entry in entries:
        if entry.kind == JOINER:
            if active and leave is not None and day_ended(leave, entry.occurred_at, tz_name):
                active = False                   # the leave took effect before this joiner
            if not active:
                leave, leaver = None, None       # a rehire
            active, joiner = True, entry
        elif active:
            if entry.last_day is None or day_ended(entry.last_day, entry.occurred_at, tz_name):
                active, leave, leaver = False, None, None
            else:
                leave, leaver = entry.last_day, entry
    head = entries[-1]
    if not active:
        return Desired(Target.DISABLED, head)
    if joiner is None:                           # active from before the ledger: only a leave can change it
        if leave is not None and leaver is not None and not day_ended(leave, when, tz_name):
            return Desired(Target.SCHEDULED, leaver)
        return Desired(Target.DISABLED, head, f"the leave after {leave.isoformat()} ({tz_name}) took effect"
                       if leave is not None else None)
    if leave is not None:
        if day_ended(leave, when, tz_name):
            return Desired(Target.DISABLED, head, f"the leave after {leave.isoformat()} ({tz_name}) took effect")
    if joiner.end_date is not None and day_ended(joiner.end_date, when, tz_name):
        return Desired(Target.DISABLED, head, f"the contract ended on {joiner.end_date.isoformat()} "
                                              f"({tz_name}): no credential is minted")
    if leave is not None and leaver is not None:
        return Desired(Target.SCHEDULED, leaver, joiner=joiner)
    return Desired(Target.ACTIVE, joiner)
