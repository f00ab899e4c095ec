"""The access review: what we find wrong with a managed user, as pure functions of its read model.

No cloud call and no clock here: ``cloud.directory.user_view`` reads one user (metadata only,
never a secret value) into a ``UserView``; the caller passes the instant. The operator's report
(``hrctl report``, ``hrctl users``) and the scheduled audit read the same rules, so an auditor
and an alert never disagree. A finding is a dict with an ``alert`` field (its code), a
``severity`` and a ``message``; never a credential (identifiers only).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import lifecycle
from .access import ARMS_POLICIES
from .credentials import is_password_version
from .ownership import ACTIVE, DISABLED, Marker

KEY_MAX_AGE_DAYS = 90
# Key-age buckets of the report's chart: (label, upper bound in days, exclusive; None: no bound).
KEY_AGE_BUCKETS: tuple[tuple[str, int | None], ...] = (("< 30 days", 30), ("30-90 days", 91), ("> 90 days", None))
NO_KEY = "no active key"

# Finding codes (the ``alert`` field).
CONSOLE_WITHOUT_MFA = "console-without-mfa"
KEY_TOO_OLD = "key-older-than-90-days"
FOREIGN_POLICY = "foreign-policy"
SECRET_MISSING = "secret-missing"           # noqa: S105 - a finding code, not a secret
SECRET_FOREIGN = "secret-foreign"           # noqa: S105 - a finding code, not a secret
KEY_NOT_IN_KMS = "key-not-in-kms"
DISABLED_WITH_CREDENTIAL = "disabled-with-credential"

HIGH, MEDIUM = "high", "medium"


@dataclass(frozen=True)
class AccessKeyView:
    access_key_id: str
    status: str                      # Active | Inactive
    created: datetime | None


@dataclass(frozen=True)
class SecretView:
    name: str
    owned: bool                      # tagged ours for this user's employee id
    secret_type: str = "Generic"     # noqa: S105 - a KMS secret type name
    current_version: str | None = None
    planned_delete_time: str = ""


@dataclass(frozen=True)
class UserView:
    """One managed user as RAM and KMS describe it (metadata only)."""
    user_name: str
    marker: Marker
    display_name: str = ""
    created: datetime | None = None
    policies: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()     # every RAM group the user is in
    group_levels: tuple[str, ...] = ()   # the ARMS levels our groups among them grant (GRANT_MODE=group)
    access_keys: tuple[AccessKeyView, ...] = ()
    console: bool = False            # has a login profile
    mfa_bind_required: bool | None = None
    mfa: bool = False                # an MFA device is bound
    secrets: tuple[SecretView, ...] = field(default_factory=tuple)   # what sits at the user's secret names

    @property
    def active_keys(self) -> list[AccessKeyView]:
        return [k for k in self.access_keys if k.status == "Active"]

    @property
    def secret(self) -> SecretView | None:
        """The user's own secret (the first one tagged ours), if any."""
        return next((s for s in self.secrets if s.owned), None)


def level(view: UserView) -> str | None:
    """``read-only`` / ``full`` from the ARMS grants, through our groups or a policy attached directly
    (None: neither; ``mixed``: both levels)."""
    levels = sorted({lvl for lvl, policy in ARMS_POLICIES.items() if policy in view.policies} | set(view.group_levels))
    if len(levels) > 1:
        return "mixed"
    return levels[0] if levels else None


def credential_kind(view: UserView) -> str:
    """``console`` (login profile), ``programmatic`` (an Active AccessKey), ``both`` or ``none``."""
    console, keys = view.console, bool(view.active_keys)
    if console and keys:
        return "both"
    return "console" if console else "programmatic" if keys else "none"


def key_age_days(view: UserView, now: datetime) -> int | None:
    """Age in whole days of the oldest Active AccessKey (None: no active key)."""
    ages = [(now - k.created).days for k in view.active_keys if k.created is not None]
    return max(ages) if ages else None


def key_age_bucket(age: int | None) -> str:
    if age is None:
        return NO_KEY
    for label, bound in KEY_AGE_BUCKETS:
        if bound is None or age < bound:
            return label
    return KEY_AGE_BUCKETS[-1][0]


def _day_start(day: date, tz_name: str) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(tz_name))


def next_action(marker: Marker, now: datetime, tz_name: str, grace_days: int) -> tuple[str, datetime] | None:
    """What the sweep will do to this user next and from when (UTC), by ``lifecycle.due``'s rules:
    ``disable`` once the leave/contract day has ended in ``tz_name``, ``delete`` once the grace
    period after disabling is over. None: nothing is scheduled. ``when`` may be in the past
    (due now: the next sweep acts)."""
    if marker.state == ACTIVE:
        day = marker.disable_after
        if day is None:
            return None
        return "disable", lifecycle.utc_seconds(_day_start(day + timedelta(days=1), tz_name))
    if marker.disabled_at is None:
        return "delete", now                       # due at once (lifecycle.grace_over: no date, over)
    return "delete", lifecycle.utc_seconds(marker.disabled_at + timedelta(days=grace_days))


def findings(view: UserView, now: datetime) -> list[dict[str, str]]:
    """Everything an access review flags on this user, most severe first."""
    found: list[dict[str, str]] = []

    def add(code: str, severity: str, message: str) -> None:
        found.append({"alert": code, "severity": severity, "message": message})

    if view.console and not view.mfa:
        required = " (MFA binding is required at next logon)" if view.mfa_bind_required else ""
        add(CONSOLE_WITHOUT_MFA, MEDIUM if view.mfa_bind_required else HIGH,
            f"console user without an MFA device{required}")
    for key in view.active_keys:
        if key.created is not None and (now - key.created).days > KEY_MAX_AGE_DAYS:
            add(KEY_TOO_OLD, MEDIUM, f"AccessKey {key.access_key_id} is {(now - key.created).days} days old "
                                     f"(more than {KEY_MAX_AGE_DAYS})")
    allowed = set(ARMS_POLICIES.values())
    for policy in view.policies:
        if policy not in allowed:
            add(FOREIGN_POLICY, HIGH, f"policy {policy} is attached: only the two ARMS policies are ours")
    for other in view.secrets:
        if not other.owned:
            add(SECRET_FOREIGN, HIGH, f"secret {other.name} is not tagged as this employee's")
    secret = view.secret
    if view.marker.state == ACTIVE and credential_kind(view) != "none":
        if secret is None or secret.planned_delete_time:
            where = f" ({', '.join(s.name for s in view.secrets)} foreign)" if view.secrets else ""
            add(SECRET_MISSING, HIGH, f"no secret of ours holds this user's credential{where}")
        elif secret.secret_type == "Generic":  # noqa: S105 - a KMS secret type name
            held = secret.current_version
            for key in view.active_keys:
                if key.access_key_id != held:
                    add(KEY_NOT_IN_KMS, HIGH, f"AccessKey {key.access_key_id} is not the key KMS holds")
            if view.console and not view.active_keys and not is_password_version(held):
                add(KEY_NOT_IN_KMS, HIGH, "KMS's current version is not a console password")
    if view.marker.state == DISABLED and credential_kind(view) != "none":
        add(DISABLED_WITH_CREDENTIAL, HIGH, f"disabled user still has a credential ({credential_kind(view)})")
    found.sort(key=lambda f: f["severity"] != HIGH)
    return found


def _iso_day(day: date | None) -> str | None:
    return day.isoformat() if day else None


def row(view: UserView, now: datetime, tz_name: str, grace_days: int) -> dict[str, Any]:
    """One user as the operator's tools show it (JSON-able; identifiers only, never a credential)."""
    marker = view.marker
    action = next_action(marker, now, tz_name, grace_days)
    secret = view.secret
    age = key_age_days(view, now)
    return {
        "userName": view.user_name, "displayName": view.display_name, "employeeId": marker.employee_id,
        "state": marker.state, "level": level(view), "credential": credential_kind(view),
        "keyAgeDays": age, "keyAge": key_age_bucket(age),
        "mfa": view.mfa, "console": view.console,
        "leaveDate": _iso_day(marker.leave_date), "contractEnd": _iso_day(marker.end_date),
        "disabledAt": lifecycle.iso(marker.disabled_at),
        "nextAction": action[0] if action else None,
        "nextActionAt": lifecycle.iso(action[1]) if action else None,
        "due": bool(action and action[1] <= now),
        "createdAt": lifecycle.iso(view.created),
        "policies": list(view.policies),
        "groups": list(view.groups),
        "accessKeys": [{"accessKeyId": k.access_key_id, "status": k.status, "createdAt": lifecycle.iso(k.created)}
                       for k in view.access_keys],
        "secretName": secret.name if secret else None,
        "secretType": secret.secret_type if secret else None,
        "findings": findings(view, now),
    }


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts for the report's header and charts, over ``row`` outputs."""
    by_alert: Counter[str] = Counter(f["alert"] for r in rows for f in r["findings"])
    return {
        "users": len(rows),
        "byState": dict(Counter(r["state"] for r in rows)),
        "byLevel": dict(Counter(r["level"] or "none" for r in rows)),
        "byKeyAge": {label: sum(1 for r in rows if r["keyAge"] == label)
                     for label in [b[0] for b in KEY_AGE_BUCKETS] + [NO_KEY]},
        "withFindings": sum(1 for r in rows if r["findings"]),
        "findings": sum(by_alert.values()),
        "byFinding": dict(by_alert),
        "due": sum(1 for r in rows if r["due"]),
    }
