"""Invariant 8 of DESIGN.md (concurrency and HR order), checked over localcloud's state.

State is read only through localcloud's credential-free inspection views (``cloud.ram_users()``,
``cloud.kms_secret()``: ids, states and HMAC fingerprints of credentials, never a value), so a
check cannot leak and cannot disturb the call log.

``check(cloud, expectations)`` raises ``InvariantViolation`` naming the rule and the user:

- every managed user (ours: the marker parses):
  - disabled: no Active AccessKey, no login profile, no rotating RAMCredentials secret;
  - active: exactly one credential kind, and it is KMS's current version: programmatic → exactly
    one AccessKey, Active, whose id is the current version id of a secret of the user's (not in its
    deletion window) and the only key that version holds; console → a login profile and no key,
    the Generic secret's current version is a password version (``pw-…``) whose password is the
    login profile's (same fingerprint), and no rotating RAMCredentials secret;
  - no AccessKey outside KMS: every key (Active or not) is held by the current version of one of
    the user's secrets;
  - ARMS *grants* (``provisioner.domain.access``: a membership of one of our two groups, or an
    ARMS policy attached directly) are checked alike: at most one; an active user exactly one, of
    the ``grant_mode``'s kind (group mode: our group of its level, no direct ARMS attachment; user
    mode: the policy, in none of our groups); a disabled user is in none of our groups (in both
    modes: disable takes the user out of them; a direct attachment may stay in user mode);
- one employeeId has at most one active RAM user;
- a secret tagged ours whose RAM user does not exist is scheduled for deletion (a deleted or never
  created user keeps no live credential);
- each ``Expect``: the state of the event latest in HR order (``expected_from_events``): active
  with that event's mode, level and dates, or not active (absent, or disabled);
- ``bystanders`` (``tests.invariants.Bystanders``): users and secrets we did not create, untouched.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from provisioner.domain import ownership
from provisioner.domain.access import DEFAULT_GROUPS, Grant, held_grants

from tests.invariants import InvariantViolation

GENERIC_PREFIX = "ram-user/"
RAM_SECRET_PREFIX = "acs/ram/user/"
PASSWORD_VERSION_PREFIX = "pw-"
UNCHECKED: Any = "unchecked"


def _fail(rule, message):
    raise InvariantViolation(f"invariant 8 ({rule}): {message}")


@dataclass(frozen=True)
class Expect:
    """What the latest event in HR order implies for one employee."""
    employee_id: str
    user_name: str
    active: bool
    mode: str | None = None
    level: str | None = None
    end_date: str | None = None
    leave_date: Any = UNCHECKED          # a date string, None (no scheduled leave), or UNCHECKED
    why: str = ""

    def describe(self):
        if not self.active:
            return f"{self.user_name} ({self.employee_id}) not active: {self.why}"
        return (f"{self.user_name} ({self.employee_id}) active {self.mode}/{self.level} end={self.end_date} "
                f"leave={self.leave_date}: {self.why}")


# -- the model: HR order decides ------------------------------------------------------------------
def occurred(event):
    return datetime.fromisoformat(event["occurredAt"].replace("Z", "+00:00"))


def _over(day, now, tz):
    return day is not None and now.astimezone(ZoneInfo(tz)).date() > date.fromisoformat(day)


# The instances run with this MAX_EVENT_AGE_DAYS (tests/instances.py): older events are refused.
MAX_EVENT_AGE_DAYS = 30


def expected_from_events(events, now, tz="UTC", user_name=None):
    """``{employeeId: Expect}`` from the HR events delivered (onboarding and offboarding events; timer
    events are ignored), folded in HR order (``occurredAt``; events must not tie):

    - a joiner / mover / rehire: active with its mode, level and endDate; a leave an earlier leaver
      scheduled is kept while the user stays active (a mover keeps it), and dropped by a rehire (the
      user was not active before it; a leave whose day had ended before the joiner occurred took
      effect first);
    - a leaver whose day was over when it occurred (or who has none): not active;
    - a leaver with a later last working day: an active user stays active with that ``leave``; a user
      who is not active stays so (a leaver never gives access);
    - at ``now``: a leave or an endDate that is over means not active."""
    by_employee: dict[str, list] = {}
    oldest = now - timedelta(days=MAX_EVENT_AGE_DAYS)
    for ev in events:
        if isinstance(ev, dict) and ev.get("eventType") in ("employee.onboarded", "employee.offboarded") \
                and occurred(ev) >= oldest:                     # an older one is refused as stale
            by_employee.setdefault(ev["employee"]["employeeId"], []).append(ev)
    out = {}
    for employee_id, evs in by_employee.items():
        hr = sorted({e["eventId"]: e for e in evs}.values(), key=occurred)
        stamps = [occurred(e) for e in hr]
        if len(set(stamps)) != len(stamps):
            raise ValueError(f"events of {employee_id} tie on occurredAt: the model needs a strict HR order")
        joiners = [e for e in hr if e["eventType"] == "employee.onboarded"]
        name = user_name or (joiners[0] if joiners else hr[0])["employee"]["logonName"]
        state = Expect(employee_id, name, False, why="no joiner yet")
        for e in hr:
            when = e["occurredAt"]
            at = datetime.fromisoformat(when.replace("Z", "+00:00"))
            if e["eventType"] == "employee.onboarded":
                if state.active and state.leave_date and _over(state.leave_date, at, tz):
                    state = Expect(employee_id, name, False, why=f"{state.why}, which took effect before {when}")
                leave = state.leave_date if state.active else None      # a mover keeps it, a rehire not
                state = Expect(employee_id, name, True, e["access"]["mode"], e["access"]["level"], e.get("endDate"),
                               leave, why=f"joiner / mover / rehire of {when}" + (
                                   f", keeping the leave on {leave}" if leave else ""))
            elif not state.active:
                state = Expect(employee_id, name, False, why=f"{state.why}; the leaver of {when} gives no access")
            elif e.get("lastWorkingDay") and not _over(e["lastWorkingDay"], at, tz):
                state = Expect(employee_id, name, True, state.mode, state.level, state.end_date,
                               e["lastWorkingDay"], why=f"{state.why}; the leaver of {when} leaves on "
                                                        f"{e['lastWorkingDay']}")
            else:
                state = Expect(employee_id, name, False, why=f"the leaver of {when}, whose day is over")
        # now: a scheduled leave or the joiner's endDate that is over
        if state.active and state.leave_date and _over(state.leave_date, now, tz):
            state = Expect(employee_id, name, False, why=f"{state.why}; the leave took effect")
        elif state.active and _over(state.end_date, now, tz):
            state = Expect(employee_id, name, False, why=f"{state.why}; its endDate is over")
        out[employee_id] = state
    return out


# -- reading state ------------------------------------------------------------------------------------
def _secret(cloud, name):
    return cloud.kms_secret(name)


def _current(secret):
    if secret is None or secret["CurrentVersionId"] is None:
        return None
    return next(v for v in secret["Versions"] if v["VersionId"] == secret["CurrentVersionId"])


def _rotating(secret):
    return secret is not None and not secret["Deleting"] and secret["RotationInterval"] is not None


def _owned(secret, employee_id):
    tags = (secret or {}).get("Tags") or {}
    return (tags.get(ownership.TAG_MANAGED_BY) == ownership.MANAGED_BY
            and tags.get(ownership.TAG_EMPLOYEE) == employee_id)


def user_secrets(cloud, user_name, employee_id, prefix=GENERIC_PREFIX):
    """The user's secrets tagged ours for ``employee_id``: {name: view}."""
    found = {}
    for name in (prefix + user_name, RAM_SECRET_PREFIX + user_name):
        secret = _secret(cloud, name)
        if secret is not None and _owned(secret, employee_id):
            found[name] = secret
    return found


def managed_users(cloud):
    """[(view, marker)] of every RAM user carrying our marker."""
    out = []
    for user in cloud.ram_users():
        marker = ownership.parse(user.get("Comments"))
        if marker is not None:
            out.append((user, marker))
    return out


# -- the checks ------------------------------------------------------------------------------------------
def grants_of(user, groups=None):
    """The user's ARMS grants (``domain.access.held_grants``) from localcloud's inspection view."""
    return held_grants({p["PolicyName"] for p in user["Policies"]}, {g["GroupName"] for g in user["Groups"]},
                       groups or DEFAULT_GROUPS)


def _shown(grants):
    return sorted(f"{g.kind}:{g.level}" for g in grants)


def _check_user(cloud, user, marker, prefix, grant_mode="group", groups=None):
    name = user["UserName"]
    keys = user["AccessKeys"]
    profile = user["LoginProfile"]
    secrets_ = user_secrets(cloud, name, marker.employee_id, prefix)
    grants = grants_of(user, groups)
    if len(grants) > 1:
        _fail("one ARMS grant", f"{name} carries {_shown(grants)}")
    held = set()
    for secret in secrets_.values():
        version = _current(secret)
        if version is not None and (marker.state == ownership.DISABLED or not secret["Deleting"]):
            held |= set(version["AccessKeyIds"])
    outside = sorted(k["AccessKeyId"] for k in keys if k["AccessKeyId"] not in held)
    if outside:
        _fail("no AccessKey outside KMS", f"{name} ({marker.state}) has AccessKey(s) no secret of its holds: "
                                          f"{outside}")
    ram_secret = secrets_.get(RAM_SECRET_PREFIX + name) or _secret(cloud, RAM_SECRET_PREFIX + name)
    if marker.state == ownership.DISABLED:
        active = [k["AccessKeyId"] for k in keys if k["Status"] == "Active"]
        if active:
            _fail("a disabled user has no access", f"{name} is disabled and has Active AccessKey(s) {active}")
        if profile is not None:
            _fail("a disabled user has no access", f"{name} is disabled and has a login profile")
        if _rotating(ram_secret):
            _fail("a disabled user has no access",
                  f"{name} is disabled and KMS still rotates {ram_secret['SecretName']}")
        in_groups = [g for g in grants if g.kind == "group"]
        if in_groups:
            _fail("a disabled user has no access", f"{name} is disabled and still in our group(s) {_shown(in_groups)}")
        return
    if len(grants) != 1 or next(iter(grants)).kind != grant_mode:
        _fail("an active user carries its ARMS grant", f"{name} is active with ARMS grants {_shown(grants)} "
                                                       f"({grant_mode} mode)")
    if keys and profile is not None:
        _fail("exactly one credential kind", f"active {name} has a login profile AND AccessKey(s)")
    if not keys and profile is None:
        _fail("exactly one credential kind", f"active {name} has no credential at all")
    if keys:
        if len(keys) != 1 or keys[0]["Status"] != "Active":
            _fail("exactly one credential, KMS's current", f"active programmatic {name} has keys "
                                                           f"{[(k['AccessKeyId'], k['Status']) for k in keys]}")
        key = keys[0]["AccessKeyId"]
        holders = [s for s in secrets_.values() if not s["Deleting"] and s["CurrentVersionId"] == key
                   and _current(s)["AccessKeyIds"] == [key]]
        if not holders:
            _fail("exactly one credential, KMS's current", f"{name}'s Active AccessKey {key} is not the current "
                  "version of a live secret of its: " + ", ".join(
                      f"{n}: current {s['CurrentVersionId']}{' (deleting)' if s['Deleting'] else ''}"
                      for n, s in secrets_.items()))
        others = [n for n, s in secrets_.items() if s not in holders and _rotating(s)]
        if others:
            _fail("no stray rotating secret", f"{name} has rotating secret(s) {others} besides its current one")
        return
    generic = secrets_.get(prefix + name)
    version = _current(generic)
    if generic is None or generic["Deleting"] or version is None:
        _fail("exactly one credential, KMS's current", f"console user {name} has no live secret {prefix + name}")
    if not version["VersionId"].startswith(PASSWORD_VERSION_PREFIX):
        _fail("exactly one credential, KMS's current", f"console user {name}: the current version of "
              f"{generic['SecretName']} is {version['VersionId']}, not a password version")
    if version["CredentialFingerprints"].get("Password") != profile["PasswordFingerprint"]:
        _fail("exactly one credential, KMS's current", f"console user {name}: KMS's current password is not the "
              "login profile's (fingerprints differ; values withheld)")
    if _rotating(ram_secret):
        _fail("no rotating secret without an AccessKey", f"console user {name}: KMS still rotates "
              f"{ram_secret['SecretName']}")


def _check_expect(cloud, expect, users, prefix, secret_type, grant_mode="group", groups=None):
    name = expect.user_name
    found = users.get(name)
    if not expect.active:
        if found is None:
            return
        user, marker = found
        if marker.employee_id != expect.employee_id:
            _fail("latest HR event wins", f"{name} is managed for {marker.employee_id}, wanted {expect.employee_id}")
        if marker.state != ownership.DISABLED:
            _fail("latest HR event wins", f"wanted {expect.describe()}; found {name} with marker {user['Comments']!r}")
        return
    if found is None:
        _fail("latest HR event wins", f"wanted {expect.describe()}; {name} does not exist (or is not ours)")
    user, marker = found
    problems = []
    if marker.employee_id != expect.employee_id:
        problems.append(f"managed for {marker.employee_id}")
    if marker.state != ownership.ACTIVE:
        problems.append(f"state {marker.state}")
    if (marker.end_date.isoformat() if marker.end_date else None) != expect.end_date:
        problems.append(f"end={marker.end_date}")
    if expect.leave_date is not UNCHECKED and (
            marker.leave_date.isoformat() if marker.leave_date else None) != expect.leave_date:
        problems.append(f"leave={marker.leave_date}")
    grants = grants_of(user, groups)
    if grants != {Grant(grant_mode, expect.level)}:
        problems.append(f"ARMS grants {_shown(grants)}")
    kind = "programmatic" if user["AccessKeys"] else "console" if user["LoginProfile"] else "none"
    if kind != expect.mode:
        problems.append(f"credential kind {kind}")
    if kind == "programmatic" and not problems:
        wanted = (RAM_SECRET_PREFIX if secret_type == "RAMCredentials" else prefix) + name
        secret = _secret(cloud, wanted)
        if secret is None or secret["Deleting"] or secret["CurrentVersionId"] != user["AccessKeys"][0]["AccessKeyId"]:
            problems.append(f"the key is not the current version of {wanted}")
    if problems:
        _fail("latest HR event wins", f"wanted {expect.describe()}; found " + ", ".join(problems)
              + f" (marker {user['Comments']!r})")


def check(cloud, expectations=(), *, bystanders=None, prefix=GENERIC_PREFIX, secret_type="Generic",
          grant_mode="group", groups=None):
    """Invariant 8 over the whole account, then each expectation (see the module docstring)."""
    managed = managed_users(cloud)
    users = {user["UserName"]: (user, marker) for user, marker in managed}
    active_by_employee: dict[str, list[str]] = {}
    for user, marker in managed:
        _check_user(cloud, user, marker, prefix, grant_mode, groups)
        if marker.state == ownership.ACTIVE:
            active_by_employee.setdefault(marker.employee_id, []).append(user["UserName"])
    for employee_id, names in active_by_employee.items():
        if len(names) > 1:
            _fail("one active user per employee", f"{employee_id} has active users {sorted(names)}")
    all_names = {u["UserName"] for u in cloud.ram_users()}
    for secret in cloud.kms_secrets():
        tags = secret["Tags"]
        if tags.get(ownership.TAG_MANAGED_BY) != ownership.MANAGED_BY:
            continue
        owner = tags.get(ownership.TAG_USER)
        if owner and owner not in all_names and not secret["Deleting"]:
            _fail("a deleted user keeps no credential", f"{secret['SecretName']} (of {owner}, who does not exist) "
                  "is not scheduled for deletion")
    for expect in (expectations.values() if isinstance(expectations, dict) else expectations):
        _check_expect(cloud, expect, users, prefix, secret_type, grant_mode, groups)
    if bystanders is not None:
        bystanders.check()
