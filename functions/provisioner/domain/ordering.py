"""HR order: which event is the latest for an employee, as a string that sorts.

Every accepted event becomes one ledger ``Entry`` (``cloud.ledger``): the KMS version id of the
employee's ledger secret. The version id sorts in HR order and carries the whole desired state,
so "the latest event" is the greatest version id, and any instance can converge to it without
reading a value:

    20261128T090000000000Z.0000000000.j.rp20270630.1a2b3c4d.9f8e7d6c      (64 chars at most)
    └ occurredAt, UTC, µs ┘ └sequence┘ │ │└ level r|f, mode p|c, endDate or 00000000
                                       │ └ kind: j joiner (onboarding), l leaver (offboarding)
                                       └ ties: at the same instant and sequence a leaver sorts last
    ... .l.20261127.<user>.<event>      a leaver: lastWorkingDay or 00000000
    user = sha256(logonName)[:8], event = sha256(eventId)[:8]

Ties: events of one employee at the same ``occurredAt`` are ordered by the contract's optional
``sequence`` (a per-employee counter HR systems may send), then the leaver wins (fail closed),
then the event id's hash (deterministic, so every instance agrees).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

JOINER, LEAVER = "j", "l"
_NO_DATE = "00000000"
_VERSION = re.compile(
    r"(?P<at>\d{8}T\d{12}Z)\.(?P<seq>\d{10})\.(?P<kind>[jl])\.(?P<payload>(?:[rf][pc])?\d{8})"
    r"\.(?P<user>[0-9a-f]{8})\.(?P<event>[0-9a-f]{8})\Z")
LEVELS = {"r": "read-only", "f": "full"}
MODES = {"p": "programmatic", "c": "console"}


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def _day(text: str) -> date | None:
    return None if text == _NO_DATE else datetime.strptime(text, "%Y%m%d").date()


def _day_text(day: date | None) -> str:
    return day.strftime("%Y%m%d") if day else _NO_DATE


@dataclass(frozen=True)
class Entry:
    occurred_at: datetime          # aware, UTC
    sequence: int
    kind: str                      # JOINER | LEAVER
    user_hash: str
    event_hash: str
    level: str | None = None       # joiner: "read-only" | "full"
    mode: str | None = None        # joiner: "programmatic" | "console"
    end_date: date | None = None   # joiner: contract end
    last_day: date | None = None   # leaver: lastWorkingDay

    @property
    def version_id(self) -> str:
        at = self.occurred_at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        if self.kind == JOINER:
            level = next(k for k, v in LEVELS.items() if v == self.level)
            mode = next(k for k, v in MODES.items() if v == self.mode)
            payload = f"{level}{mode}{_day_text(self.end_date)}"
        else:
            payload = _day_text(self.last_day)
        return f"{at}.{self.sequence:010d}.{self.kind}.{payload}.{self.user_hash}.{self.event_hash}"

    def __lt__(self, other: Entry) -> bool:
        return self.version_id < other.version_id

    def for_user(self, logon_name: str) -> bool:
        return self.user_hash == short_hash(logon_name)

    @classmethod
    def parse(cls, version_id: str) -> Entry | None:
        """The entry a ledger version id encodes; None for anything else (never raises)."""
        match = _VERSION.fullmatch(version_id or "")
        if not match:
            return None
        try:
            at = datetime.strptime(match["at"], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=timezone.utc)
            payload = match["payload"]
            if match["kind"] == JOINER:
                if len(payload) != 10:
                    return None
                return cls(at, int(match["seq"]), JOINER, match["user"], match["event"],
                           level=LEVELS[payload[0]], mode=MODES[payload[1]], end_date=_day(payload[2:]))
            if len(payload) != 8:
                return None
            return cls(at, int(match["seq"]), LEAVER, match["user"], match["event"], last_day=_day(payload))
        except (ValueError, KeyError):
            return None

    @classmethod
    def of(cls, event: dict[str, Any], occurred_at: datetime) -> Entry:
        """The entry of a validated event (``occurred_at`` is its parsed ``occurredAt``)."""
        employee = event["employee"]
        common = dict(occurred_at=occurred_at.astimezone(timezone.utc), sequence=int(event.get("sequence") or 0),
                      user_hash=short_hash(employee["logonName"]), event_hash=short_hash(event["eventId"]))
        if event["eventType"] == "employee.onboarded":
            end = date.fromisoformat(event["endDate"]) if event.get("endDate") else None
            return cls(kind=JOINER, level=event["access"]["level"], mode=event["access"]["mode"], end_date=end,
                       **common)  # type: ignore[arg-type]
        last = date.fromisoformat(event["lastWorkingDay"]) if event.get("lastWorkingDay") else None
        return cls(kind=LEAVER, last_day=last, **common)  # type: ignore[arg-type]


def age_problem(occurred_at: datetime, now: datetime, max_age_days: int, max_skew_seconds: int) -> str | None:
    """Why an event is refused by its ``occurredAt`` alone (too old to be trusted against the
    history we keep, or from the future), or None."""
    if occurred_at < now - timedelta(days=max_age_days):
        return (f"is older than MAX_EVENT_AGE_DAYS ({max_age_days} days): refused as stale; "
                "send a new event for the current state")
    if occurred_at > now + timedelta(seconds=max_skew_seconds):
        return f"is in the future (more than {max_skew_seconds} s ahead of this function's clock)"
    return None
