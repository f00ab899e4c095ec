"""The ownership marker and lifecycle state we keep in RAM and KMS.

State lives in the cloud itself (no database): a RAM user is ours only if its
``Comments`` hold our marker, and the marker also carries the lifecycle
state offboarding needs. Format (≤ 128 chars, RAM's Comments limit, with a
64-char employeeId):

    hrrp:v1;emp=<employeeId>;st=active                    provisioned
    hrrp:v1;emp=<employeeId>;st=active;end=2027-06-30     contract end (onboarding's endDate)
    hrrp:v1;emp=<employeeId>;st=active;leave=2027-01-15   lastWorkingDay of a future leaver
    hrrp:v1;emp=<employeeId>;st=disabled;at=2026-11-28T10:00:00Z

``end`` belongs to onboarding (each event restates it), ``leave`` to
offboarding (an onboarding event for an active user, e.g. a mover, must not
cancel a scheduled leave). The sweep disables once the earlier of the two
has ended in HR_TIMEZONE; both are dropped when the user is disabled.

The user's secret carries tags ``managed-by`` / ``employee-id`` / ``ram-user``;
a secret without them is not ours either.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from typing import Any

MANAGED_BY = "hr-ram-provisioner"
PREFIX = "hrrp:v1"
ACTIVE, DISABLED = "active", "disabled"
_FIELD = re.compile(r"^[a-z]+=[A-Za-z0-9_:.\-]*\Z")

TAG_MANAGED_BY = "managed-by"
TAG_EMPLOYEE = "employee-id"
TAG_USER = "ram-user"


@dataclass(frozen=True)
class Marker:
    employee_id: str
    state: str = ACTIVE
    end_date: date | None = None          # contract end: disable once this day has ended
    disabled_at: datetime | None = None
    leave_date: date | None = None        # a future leaver's lastWorkingDay

    @property
    def disable_after(self) -> date | None:
        """The day after which the sweep disables an active user (the earlier date wins)."""
        days = [d for d in (self.end_date, self.leave_date) if d is not None]
        return min(days) if days else None

    def render(self) -> str:
        parts = [PREFIX, f"emp={self.employee_id}", f"st={self.state}"]
        if self.state == ACTIVE and self.end_date:
            parts.append(f"end={self.end_date.isoformat()}")
        if self.state == ACTIVE and self.leave_date:
            parts.append(f"leave={self.leave_date.isoformat()}")
        if self.state == DISABLED and self.disabled_at:
            parts.append("at=" + self.disabled_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        return ";".join(parts)

    def scheduled(self, last_working_day: date) -> Marker:
        return replace(self, state=ACTIVE, leave_date=last_working_day, disabled_at=None)

    def disabled(self, when: datetime) -> Marker:
        return replace(self, state=DISABLED, disabled_at=when, end_date=None, leave_date=None)

    def activated(self, end_date: date | None = None) -> Marker:
        """Onboarding's view: restate the contract end, keep a scheduled leave."""
        return replace(self, state=ACTIVE, end_date=end_date, disabled_at=None)


def parse(comments: str | None) -> Marker | None:
    """Our marker, or None when the user is not ours (never raises on foreign text)."""
    if not comments or not comments.startswith(PREFIX + ";"):
        return None
    fields: dict[str, str] = {}
    for part in comments.split(";")[1:]:
        if not _FIELD.match(part):
            return None
        key, _, value = part.partition("=")
        fields[key] = value
    employee = fields.get("emp")
    state = fields.get("st", ACTIVE)
    if not employee or state not in (ACTIVE, DISABLED):
        return None
    try:
        end = date.fromisoformat(fields["end"]) if fields.get("end") else None
        leave = date.fromisoformat(fields["leave"]) if fields.get("leave") else None
        at = (datetime.strptime(fields["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
              if fields.get("at") else None)
    except ValueError:
        return None
    return Marker(employee_id=employee, state=state, end_date=end, disabled_at=at, leave_date=leave)


def owned_by(user: dict[str, Any] | None, employee_id: str | None = None) -> Marker | None:
    """The marker of a GetUser/ListUsers ``User`` dict if it is ours (and, if given, this employee's)."""
    marker = parse((user or {}).get("Comments"))
    if marker is None or (employee_id is not None and marker.employee_id != employee_id):
        return None
    return marker


def secret_tags(employee_id: str, user_name: str) -> list[dict[str, str]]:
    return [{"TagKey": TAG_MANAGED_BY, "TagValue": MANAGED_BY},
            {"TagKey": TAG_EMPLOYEE, "TagValue": employee_id},
            {"TagKey": TAG_USER, "TagValue": user_name}]


def secret_owned_by(tags: list[dict[str, Any]] | None, employee_id: str) -> bool:
    """True when a secret's tags (``[{"TagKey","TagValue"}]``) mark it as ours for this employee."""
    values = {t.get("TagKey"): t.get("TagValue") for t in tags or []}
    return values.get(TAG_MANAGED_BY) == MANAGED_BY and values.get(TAG_EMPLOYEE) == employee_id
