"""The access review and the daily audit: what we find wrong with a managed user, as pure rules.

No cloud call and no clock here: ``cloud.directory.user_view`` (and the audit's usage reads in
``workflows.audit``) read one user (metadata only, never a secret value) into a ``UserView``;
the caller passes the instant and the ``AuditPolicy`` (the settings the rules read). The
operator's report (``hrctl report``, ``hrctl users``, ``hrctl user``) and the scheduled audit
(``functions/audit.py``) run the same rules, so an auditor and an alert never disagree.

A finding is a dict: ``alert`` (the rule id, also the alert name of its log line), ``cis`` (the
CIS Alibaba Cloud Foundations Benchmark item, or None), ``severity``, ``message`` (identifiers
only, never a credential) and, for the two rules the audit may fix, ``fix`` (what it would do);
an account finding may add identifiers (``items``; ``employeeId`` and ``userNames``).

Invariants and decisions:
- one rule, one function (``RULES``), each over the read model only; the account's password
  policy is one finding for the account (``password_policy_findings``), not per user;
- one employee, one active user (docs/concurrency.md): an employee with two or more active
  managed users (an open race can leave them: a joiner under a new logon name and a rehire of the
  old user, interleaved) is one finding per employee (``multiple_active_users``), naming every
  such user. "Active" is the marker's state, as everywhere else in the audit (``UserView.marker``,
  the ``secrets`` rule, ``next_action``) and in onboarding's conflict check: RAM's API has no
  enabled flag on a user (GetUser / ListUsers return none); disabling is ours (the marker says
  ``disabled``, the credentials go), and a disabled user still holding one is
  ``disabled-with-credential``. An active user with no credential counts: it is the employee's
  user, and its next HR event gives it one. Never fixed: only a human can tell which user is right;
- "unused" counts from the last use, or, never used, from the creation of the key or the login
  profile: a credential nobody ever used is as idle as one abandoned;
- a user with two Active keys is in a rotation while the newer key is younger than the
  rotation's overlap plus one day (``KEY_ROTATION_OVERLAP_HOURS``; the daily rotation run ends the
  overlap); after that it is a finding; which keys KMS holds (current, the previous one during
  the overlap, one in flight) is ``domain/credentials.held_keys``, as the rotation decides it;
- drift (a policy or group beyond ours) is reported, never fixed: someone granted it on purpose
  or by mistake, and only a human can tell which.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import lifecycle, password_policy
from .access import ARMS_POLICIES
from .credentials import Key, Versions, held_keys, is_password_version
from .ownership import ACTIVE, DISABLED, Marker

UNUSED_DAYS = 90                 # CIS 1.5 (console) and Alibaba's AccessKey governance (keys)
MFA_GRACE_DAYS = 7               # the MFA_GRACE_DAYS setting's default
ROTATION_RUN_HOURS = 24          # the rotation's timer period: the overlap ends at the first run after it
KMS_RAM_ROTATION_HOURS = 48      # KMS's own rotation of a RAM secret takes "approximately 2 days" (both keys live)
# Key-age buckets of the report's chart: (label, upper bound in days, exclusive; None: no bound).
KEY_AGE_BUCKETS: tuple[tuple[str, int | None], ...] = (("< 30 days", 30), ("30-90 days", 91), ("> 90 days", None))
NO_KEY = "no active key"

# Finding codes (the ``alert`` field): the rules' ids.
CONSOLE_WITHOUT_MFA = "console-without-mfa"
CONSOLE_UNUSED = "console-unused"
KEY_UNUSED = "key-unused"
KEY_TOO_OLD = "key-rotation-due"
MULTIPLE_ACTIVE_KEYS = "multiple-active-keys"
FOREIGN_POLICY = "foreign-policy"
FOREIGN_GROUP = "foreign-group"
DIRECT_ARMS_ATTACHMENT = "direct-arms-attachment"
SECRET_MISSING = "secret-missing"           # noqa: S105 - a finding code, not a secret
SECRET_FOREIGN = "secret-foreign"           # noqa: S105 - a finding code, not a secret
KEY_NOT_IN_KMS = "key-not-in-kms"
DISABLED_WITH_CREDENTIAL = "disabled-with-credential"
PASSWORD_POLICY = "password-policy-weak"     # noqa: S105 - a finding code, not a secret
MULTIPLE_ACTIVE_USERS = "employee-multiple-active-users"

HIGH, MEDIUM, LOW = "high", "medium", "low"

# The fixes the audit may apply (AUDIT_FIXES=true): rule id -> what it does.
FIX_DISABLE_CONSOLE = "delete-login-profile"
FIX_MOVE_TO_GROUP = "move-to-group"
FIXES = {CONSOLE_UNUSED: FIX_DISABLE_CONSOLE, DIRECT_ARMS_ATTACHMENT: FIX_MOVE_TO_GROUP}

Finding = dict[str, Any]


@dataclass(frozen=True)
class AccessKeyView:
    access_key_id: str
    status: str                      # Active | Inactive
    created: datetime | None
    last_used: datetime | None = None    # GetAccessKeyLastUsed (None: never used, or not read)


@dataclass(frozen=True)
class SecretView:
    name: str
    owned: bool                      # tagged ours for this user's employee id
    secret_type: str = "Generic"     # noqa: S105 - a KMS secret type name
    versions: Versions | None = None         # ACSCurrent / ACSPrevious (ids, creation times); owned only
    planned_delete_time: str = ""

    @property
    def current_version(self) -> str | None:
        return self.versions.current_id if self.versions is not None else None


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
    console_created: datetime | None = None    # the login profile's CreateDate
    last_login: datetime | None = None         # GetUser's LastLoginDate (None: never, or not read)

    @property
    def active_keys(self) -> list[AccessKeyView]:
        return [k for k in self.access_keys if k.status == "Active"]

    @property
    def secret(self) -> SecretView | None:
        """The user's own secret (the first one tagged ours), if any."""
        return next((s for s in self.secrets if s.owned), None)


@dataclass(frozen=True)
class AuditPolicy:
    """What the rules read from the settings (defaults: the CIS figures)."""
    mfa_grace_days: int = MFA_GRACE_DAYS
    key_max_age_days: int = 90                 # KEY_MAX_AGE_DAYS (CIS 1.6)
    rotation_overlap_hours: int = 24           # KEY_ROTATION_OVERLAP_HOURS
    unused_days: int = UNUSED_DAYS
    group_mode: bool = False                   # GRANT_MODE=group: ARMS policies only through our groups
    groups: Mapping[str, str] = field(default_factory=dict)     # level -> our group's name

    @property
    def our_groups(self) -> set[str]:
        return set(self.groups.values()) if self.group_mode else set()


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


def _days(now: datetime, since: datetime | None) -> int | None:
    return (now - since).days if since is not None else None


def _rotation_window(view: UserView, policy: AuditPolicy) -> timedelta:
    """How long two keys are a rotation under way: the rotation function's overlap and its next run, or,
    for a RAM secret KMS rotates, KMS's own rotation time if longer."""
    secret = view.secret
    hours = policy.rotation_overlap_hours
    if secret is not None and secret.secret_type == "RAMCredentials":  # noqa: S105 - a KMS secret type name
        hours = max(hours, KMS_RAM_ROTATION_HOURS)
    return timedelta(hours=hours + ROTATION_RUN_HOURS)


def _finding(code: str, cis: str | None, severity: str, message: str, **extra: Any) -> Finding:
    return {"alert": code, "cis": cis, "severity": severity, "message": message, **extra}


Rule = Callable[[UserView, datetime, AuditPolicy], list[Finding]]


def console_without_mfa(view: UserView, now: datetime, policy: AuditPolicy) -> list[Finding]:
    """CIS 1.4: a console user with no MFA device once ``mfa_grace_days`` have passed since its
    login profile (or, unknown, the user) was created."""
    if not view.console or view.mfa:
        return []
    age = _days(now, view.console_created or view.created)
    if age is not None and age < policy.mfa_grace_days:
        return []
    required = " (MFA binding is required at next logon)" if view.mfa_bind_required else ""
    return [_finding(CONSOLE_WITHOUT_MFA, "1.4", HIGH,
                     f"console user without an MFA device {age if age is not None else '?'} days after its "
                     f"console access was created (grace {policy.mfa_grace_days}){required}")]


def console_unused(view: UserView, now: datetime, policy: AuditPolicy) -> list[Finding]:
    """CIS 1.5: console access unused for ``unused_days`` (the last logon, or never logged on: the
    login profile's creation). The fix disables the console logon (DeleteLoginProfile)."""
    if not view.console:
        return []
    since = view.last_login or view.console_created or view.created
    idle = _days(now, since)
    if idle is None or idle < policy.unused_days:
        return []
    what = "no console logon" if view.last_login is None else "last console logon"
    return [_finding(CONSOLE_UNUSED, "1.5", MEDIUM, f"{what} for {idle} days (at most {policy.unused_days})",
                     fix=FIX_DISABLE_CONSOLE)]


def key_unused(view: UserView, now: datetime, policy: AuditPolicy) -> list[Finding]:
    """AccessKey governance: an Active key unused for ``unused_days`` (never used: since created)."""
    found = []
    for key in view.active_keys:
        idle = _days(now, key.last_used or key.created)
        if idle is not None and idle >= policy.unused_days:
            what = "never used" if key.last_used is None else "unused"
            found.append(_finding(KEY_UNUSED, None, MEDIUM, f"AccessKey {key.access_key_id} {what} for {idle} days "
                                                            f"(at most {policy.unused_days})"))
    return found


def key_rotation_due(view: UserView, now: datetime, policy: AuditPolicy) -> list[Finding]:
    """CIS 1.6: an Active key older than ``key_max_age_days`` is due for rotation (the rotation
    run does it; here it is reported). The previous key of a rotation in its overlap (KMS's
    ACSPrevious, a newer key KMS's current, written less than the overlap plus one run ago) is rotated
    already: the rotation run finishes it."""
    found = []
    secret = view.secret
    previous = None
    versions = secret.versions if secret is not None else None
    window = _rotation_window(view, policy)
    if (secret is not None and versions is not None and versions.previous is not None
            and versions.current is not None and versions.current.created is not None
            and now - versions.current.created < window):
        keys = [Key(k.access_key_id, k.status, k.created) for k in view.access_keys]
        ram_secret = secret.secret_type == "RAMCredentials"  # noqa: S105 - a KMS secret type name
        held = held_keys(keys, versions, now, ram_secret=ram_secret)
        previous = held.previous.access_key_id if held.previous is not None and held.current is not None else None
    for key in view.active_keys:
        if key.access_key_id == previous:
            continue
        age = _days(now, key.created)
        if age is not None and age > policy.key_max_age_days:
            found.append(_finding(KEY_TOO_OLD, "1.6", MEDIUM, f"AccessKey {key.access_key_id} is {age} days old "
                                  f"(more than {policy.key_max_age_days}): rotation due"))
    return found


def multiple_active_keys(view: UserView, now: datetime, policy: AuditPolicy) -> list[Finding]:
    """One Active key per user; two only during a rotation (the newer younger than its overlap)."""
    active = view.active_keys
    if len(active) < 2:
        return []
    newest = max((k.created for k in active if k.created is not None), default=None)
    if newest is not None and now - newest < _rotation_window(view, policy):
        return []
    return [_finding(MULTIPLE_ACTIVE_KEYS, None, HIGH,
                     f"{len(active)} Active AccessKeys ({', '.join(k.access_key_id for k in active)}) outside a "
                     "rotation: one is allowed")]


def drift(view: UserView, now: datetime, policy: AuditPolicy) -> list[Finding]:
    """Anything on the user beyond ours: a policy other than the two ARMS ones, a group other than
    our two (group mode). Never fixed by the audit."""
    found = []
    allowed = set(ARMS_POLICIES.values())
    for name in view.policies:
        if name not in allowed:
            found.append(_finding(FOREIGN_POLICY, None, HIGH,
                                  f"policy {name} is attached: only the two ARMS policies are ours"))
    ours = policy.our_groups
    for group in view.groups:
        if group not in ours:
            found.append(_finding(FOREIGN_GROUP, None, HIGH, f"the user is in group {group}, which is not ours"))
    if len(ours & set(view.groups)) > 1:
        found.append(_finding(FOREIGN_GROUP, None, HIGH, f"the user is in both ARMS groups "
                              f"({', '.join(sorted(ours & set(view.groups)))}): one level is ours, the other drift"))
    return found


def direct_arms_attachment(view: UserView, now: datetime, policy: AuditPolicy) -> list[Finding]:
    """CIS 1.16 (group mode): an ARMS policy attached to the user directly. The fix moves the user
    to the group of that level (AddUserToGroup, then DetachPolicyFromUser)."""
    if not policy.group_mode:
        return []
    found = []
    for lvl, name in ARMS_POLICIES.items():
        if name in view.policies:
            found.append(_finding(DIRECT_ARMS_ATTACHMENT, "1.16", MEDIUM,
                                  f"{name} is attached to the user directly: it belongs to group "
                                  f"{policy.groups.get(lvl, '?')}", fix=FIX_MOVE_TO_GROUP, armsLevel=lvl))
    return found


def secrets(view: UserView, now: datetime, policy: AuditPolicy) -> list[Finding]:
    """A missing or foreign secret, and the invariants: the active key is the one KMS holds; a
    disabled user holds no credential."""
    found = []
    for other in view.secrets:
        if not other.owned:
            found.append(_finding(SECRET_FOREIGN, None, HIGH, f"secret {other.name} is not tagged as this employee's"))
    secret = view.secret
    if view.marker.state == ACTIVE and credential_kind(view) != "none":
        if secret is None or secret.planned_delete_time:
            where = f" ({', '.join(s.name for s in view.secrets)} foreign)" if view.secrets else ""
            found.append(_finding(SECRET_MISSING, None, HIGH, f"no secret of ours holds this user's credential{where}"))
        else:
            held = secret.current_version
            if secret.versions is not None:
                keys = [Key(k.access_key_id, k.status, k.created) for k in view.access_keys]
                ram_secret = secret.secret_type == "RAMCredentials"  # noqa: S105 - a KMS secret type name
                kept = held_keys(keys, secret.versions, now, ram_secret=ram_secret)
                ours = {k.access_key_id for k in (kept.current, kept.previous, *kept.in_flight) if k is not None}
                for key in view.active_keys:
                    if key.access_key_id not in ours:
                        found.append(_finding(KEY_NOT_IN_KMS, None, HIGH,
                                              f"AccessKey {key.access_key_id} is not the key KMS holds"))
            if view.console and not view.active_keys and not is_password_version(held):
                found.append(_finding(KEY_NOT_IN_KMS, None, HIGH, "KMS's current version is not a console password"))
    if view.marker.state == DISABLED and credential_kind(view) != "none":
        found.append(_finding(DISABLED_WITH_CREDENTIAL, None, HIGH,
                              f"disabled user still has a credential ({credential_kind(view)})"))
    return found


# Every per-user rule, in report order (a new rule: a function here, a test, a README row).
RULES: tuple[Rule, ...] = (console_without_mfa, console_unused, key_unused, key_rotation_due, multiple_active_keys,
                           drift, direct_arms_attachment, secrets)
RULE_IDS = frozenset({CONSOLE_WITHOUT_MFA, CONSOLE_UNUSED, KEY_UNUSED, KEY_TOO_OLD, MULTIPLE_ACTIVE_KEYS,
                      FOREIGN_POLICY, FOREIGN_GROUP, DIRECT_ARMS_ATTACHMENT, SECRET_MISSING, SECRET_FOREIGN,
                      KEY_NOT_IN_KMS, DISABLED_WITH_CREDENTIAL, PASSWORD_POLICY, MULTIPLE_ACTIVE_USERS})


def findings(view: UserView, now: datetime, policy: AuditPolicy | None = None) -> list[Finding]:
    """Everything the rules flag on this user, most severe first."""
    policy = policy or AuditPolicy()
    found = [f for rule in RULES for f in rule(view, now, policy)]
    found.sort(key=lambda f: f["severity"] != HIGH)
    return found


def password_policy_findings(policy: Mapping[str, Any]) -> list[Finding]:
    """The account's password policy (GetPasswordPolicy's ``PasswordPolicy``) against CIS 1.7-1.14
    (the controls: ``domain/password_policy.py``, shared with ``hrctl setup``): one finding for the
    account, listing each item it misses (none: compliant)."""
    gaps = password_policy.findings(policy)
    if not gaps:
        return []
    detail = "; ".join(f"{g['cis']} {g['field']}={g['actual']!r} ({g['expected']})" for g in gaps)
    return [_finding(PASSWORD_POLICY, "1.7-1.14", MEDIUM, f"the account's password policy misses CIS {detail}",
                     items=[g["cis"] for g in gaps])]


def multiple_active_users(markers: Mapping[str, Marker]) -> list[Finding]:
    """One employee, one active user: every employee whose managed users (``markers``: user name ->
    its ownership marker, from ListUsers) include more than one with the marker's state ``active``
    is one finding for the account, naming the employee id and those users (sorted; identifiers
    only). High severity, no ``fix``: a human decides which user is the employee's."""
    active: dict[str, list[str]] = {}
    for user_name, marker in markers.items():
        if marker.state == ACTIVE:
            active.setdefault(marker.employee_id, []).append(user_name)
    found = []
    for employee_id, names in sorted(active.items()):
        if len(names) > 1:
            names.sort()
            found.append(_finding(MULTIPLE_ACTIVE_USERS, None, HIGH,
                                  f"employee {employee_id} has {len(names)} active users ({', '.join(names)}): "
                                  "one is allowed; send a leaver for each logon name that is not the employee's",
                                  employeeId=employee_id, userNames=names))
    return found


def _iso_day(day: date | None) -> str | None:
    return day.isoformat() if day else None


def row(view: UserView, now: datetime, tz_name: str, grace_days: int,
        policy: AuditPolicy | None = None) -> dict[str, Any]:
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
        "accessKeys": [{"accessKeyId": k.access_key_id, "status": k.status, "createdAt": lifecycle.iso(k.created),
                        "lastUsedAt": lifecycle.iso(k.last_used)} for k in view.access_keys],
        "secretName": secret.name if secret else None,
        "secretType": secret.secret_type if secret else None,
        "groups": list(view.groups),
        "lastLoginAt": lifecycle.iso(view.last_login),
        "findings": findings(view, now, policy),
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
