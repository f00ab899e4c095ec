"""The daily audit of every managed user (issue 13): read, judge by ``domain.audit``'s rules, report.

Reads: ``ListUsers`` pages (``MaxItems`` 1000) give every user's ``Comments``, so the ownership
marker decides who is ours before any per-user call; a user that is not ours costs nothing more.
Every secret's metadata comes from ``ListSecrets`` pages (100 each), not a DescribeSecret per
name. Then, per managed user only: its login profile, MFA device, policies, groups, AccessKeys
and the current version of its secret (``directory.user_view``), the last use of each Active
key (``GetAccessKeyLastUsed``) and, for a console user, ``GetUser``'s ``LastLoginDate``
(ListUsers does not return it). Once per run: ``GetPasswordPolicy`` (CIS 1.7-1.14), and, from
the listing's markers with no call, every employee with more than one active user
(``employee-multiple-active-users``: one employee, one active user; never fixed).

Output: one alert line per finding (WARNING, ``alert`` = the rule id, never a credential) and
the returned report: per user with findings, each finding with its rule id, CIS item, severity,
detail and its fix (``suggested`` or ``applied``/``skipped``/``failed``); the account's
findings; totals by rule. A user whose reads fail is a ``failed`` row (``provisioning-failed``).

Fixes (only with ``AUDIT_FIXES=true`` and not ``{"dryRun": true}``; they need
``policies/audit-fix-role-policy.json`` on the role):
- ``console-unused`` -> DeleteLoginProfile. UpdateLoginProfile cannot disable a logon (it sets a
  password or flags) and is kept off every role (it could set a password the function knows:
  tests/test_role_policy.py's escalation list); deleting the profile is what CIS 1.5 asks, and a
  later HR event for the user creates a fresh one (its password goes to KMS first, as always).
- ``direct-arms-attachment`` (group mode) -> AddUserToGroup(the level's group), then
  DetachPolicyFromUser: the user never loses the access in between.
Before either, the facts the finding rests on are read again (ownership marker, the login
profile's CreateDate and LastLoginDate; the attachment and the groups): a user changed since the
first read (an HR event converging it meanwhile) is ``skipped``, never fixed on stale facts. The
remaining window is one round trip between that re-read and the write (RAM has no conditional
writes); an HR event that lands in it is repaired by that event's own re-check or the next event.
Drift is never fixed.

Settings of other branches are read through ``_policy`` (a shim until they land: GRANT_MODE,
GROUP_READ_ONLY / GROUP_FULL, KEY_MAX_AGE_DAYS; without them: user mode, 90 days).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..cloud import directory
from ..cloud.clients import api_time
from ..cloud.errors import CloudError
from ..domain import audit, lifecycle, ownership
from ..domain.access import GROUP, policy_for
from ..domain.audit import AuditPolicy, Finding, UserView
from ..domain.results import Result, Status, error_fields
from ..platform import clock, log

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from ..cloud.secret_store import SecretInfo
    from ..platform.runtime import Runtime
    from ..platform.settings import Settings

SUGGESTED, APPLIED, SKIPPED, FIX_FAILED, DRY_RUN = "suggested", "applied", "skipped", "failed", "dry-run"


def policy(settings: Settings) -> AuditPolicy:
    """The rules' knobs from the settings."""
    return AuditPolicy(mfa_grace_days=settings.mfa_grace_days, key_max_age_days=settings.key_max_age_days,
                       rotation_overlap_hours=settings.key_rotation_overlap_hours,
                       group_mode=settings.grant_mode == GROUP, groups=settings.groups)


def read_user(rt: Runtime, managed: directory.ManagedUser,
              secrets_index: dict[str, SecretInfo] | None = None) -> UserView:
    """``directory.user_view`` plus the usage reads the audit's rules need: each Active key's last
    use, and a console user's LastLoginDate. Metadata only."""
    view = directory.user_view(rt.cloud, rt.secrets, managed, secrets_index, arms_groups=rt.settings.groups)
    keys = tuple(replace(k, last_used=_last_used(rt, view.user_name, k.access_key_id)) if k.status == "Active" else k
                 for k in view.access_keys)
    last_login = None
    if view.console:
        user = directory.get_user(rt.cloud, view.user_name) or {}
        last_login = api_time(user.get("LastLoginDate"))
    return replace(view, access_keys=keys, last_login=last_login)


def _last_used(rt: Runtime, user_name: str, key_id: str) -> datetime | None:
    body = rt.cloud.try_ram("GetAccessKeyLastUsed", UserName=user_name, UserAccessKeyId=key_id)
    return api_time(((body or {}).get("AccessKeyLastUsed") or {}).get("LastUsedDate"))


def account_findings(rt: Runtime, managed: Iterable[directory.ManagedUser]) -> list[Finding]:
    """The account's findings, for the audit and ``hrctl report`` alike: its password policy (one
    ``GetPasswordPolicy``) and every employee with more than one active user (from the markers
    ``ListUsers`` returned: no further call)."""
    body = rt.cloud.ram("GetPasswordPolicy")
    return (audit.password_policy_findings(body.get("PasswordPolicy") or {})
            + audit.multiple_active_users({m.user_name: m.marker for m in managed}))


# -- fixes ------------------------------------------------------------------------------------------
def _still_ours(rt: Runtime, view: UserView) -> dict[str, Any] | None:
    user = directory.get_user(rt.cloud, view.user_name)
    marker = ownership.owned_by(user) if user is not None else None
    if marker is None or marker.employee_id != view.marker.employee_id:
        return None
    return user


def _disable_console(rt: Runtime, view: UserView, pol: AuditPolicy, now: datetime) -> tuple[str, str]:
    user = _still_ours(rt, view)
    if user is None:
        return SKIPPED, "the user is gone or no longer ours"
    profile = rt.cloud.try_ram("GetLoginProfile", UserName=view.user_name)
    if profile is None:
        return SKIPPED, "the login profile is already gone"
    created = api_time((profile.get("LoginProfile") or {}).get("CreateDate"))
    last_login = api_time(user.get("LastLoginDate"))
    fresh = replace(view, console=True, console_created=created, last_login=last_login)
    if created != view.console_created or not audit.console_unused(fresh, now, pol):
        return SKIPPED, "the console access changed since it was read"
    if rt.cloud.try_ram("DeleteLoginProfile", UserName=view.user_name) is None:
        return SKIPPED, "the login profile is already gone"
    return APPLIED, "console logon disabled (login profile deleted)"


def _move_to_group(rt: Runtime, view: UserView, pol: AuditPolicy, level: str) -> tuple[str, str]:
    if _still_ours(rt, view) is None:
        return SKIPPED, "the user is gone or no longer ours"
    name, group = policy_for(level), pol.groups[level]
    attached = {str(p.get("PolicyName")) for p in directory.policies(rt.cloud, view.user_name)}
    groups = {str(g.get("GroupName")) for g in directory.groups_of(rt.cloud, view.user_name)}
    if name not in attached:
        return SKIPPED, f"{name} is no longer attached directly"
    if (pol.our_groups - {group}) & groups:
        return SKIPPED, "the user is in the other level's group: an HR change is converging it"
    if group not in groups:
        try:
            rt.cloud.ram("AddUserToGroup", GroupName=group, UserName=view.user_name)
        except CloudError as err:
            if not err.already_exists:      # joined meanwhile: what we wanted
                raise
    rt.cloud.try_ram("DetachPolicyFromUser", PolicyType="System", PolicyName=name, UserName=view.user_name)
    return APPLIED, f"moved to group {group}; {name} detached from the user"


def _fix(rt: Runtime, view: UserView, finding: Finding, pol: AuditPolicy, now: datetime) -> tuple[str, str]:
    try:
        if finding["alert"] == audit.CONSOLE_UNUSED:
            return _disable_console(rt, view, pol, now)
        return _move_to_group(rt, view, pol, str(finding["armsLevel"]))
    except CloudError as err:
        return FIX_FAILED, f"{err.action}: {err.code}"


# -- the run ---------------------------------------------------------------------------------------
def _log(finding: Finding, **keys: Any) -> None:
    fields = {k: v for k, v in finding.items() if k not in ("alert", "message")}
    log.alert(logging.WARNING, f"audit: {finding['message']}", str(finding["alert"]), **keys, **fields)


def run(payload: dict[str, Any], rt: Runtime, tick: str = "", invocation: str = "") -> Result:
    """The timer's work, for a payload already validated: the report (see the module docstring)."""
    s = rt.settings
    dry_run = bool(payload.get("dryRun"))
    fixing = s.audit_fixes and not dry_run
    pol = policy(s)
    now = clock.now()
    with log.keys(auditAt=lifecycle.iso(now), dryRun=dry_run):
        listing = directory.list_users(rt.cloud)
        index = directory.all_secrets(rt.secrets)
        account = account_findings(rt, listing.managed)
        for finding in account:
            _log(finding)
        rows: list[dict[str, Any]] = []
        by_rule: dict[str, int] = {}
        fixes = {APPLIED: 0, SKIPPED: 0, FIX_FAILED: 0, SUGGESTED: 0, DRY_RUN: 0}
        failed = 0
        for managed in sorted(listing.managed, key=lambda m: m.user_name):
            with log.keys(userName=managed.user_name, employeeId=managed.marker.employee_id):
                try:
                    view = read_user(rt, managed, index)
                except CloudError as err:
                    failed += 1
                    rows.append({"userName": managed.user_name, "employeeId": managed.marker.employee_id,
                                 "action": "failed", "error": error_fields(err)})
                    continue
                found = audit.findings(view, now, pol)
                for finding in found:
                    by_rule[finding["alert"]] = by_rule.get(finding["alert"], 0) + 1
                    if "fix" in finding:
                        if fixing:
                            status, detail = _fix(rt, view, finding, pol, now)
                        else:
                            status = DRY_RUN if dry_run and s.audit_fixes else SUGGESTED
                            detail = "AUDIT_FIXES=true applies it" if status == SUGGESTED else "not applied: dry run"
                        finding["fixStatus"], finding["fixDetail"] = status, detail
                        fixes[status] += 1
                    _log(finding)
                if found:
                    rows.append({"userName": managed.user_name, "employeeId": managed.marker.employee_id,
                                 "state": managed.marker.state, "findings": found})
        for finding in account:
            by_rule[finding["alert"]] = by_rule.get(finding["alert"], 0) + 1
        report: Result = {
            "status": Status.AUDITED.value, "dryRun": dry_run, "fixes": "enabled" if s.audit_fixes else "disabled",
            "auditedAt": lifecycle.iso(now), "scanned": len(listing.names), "managed": len(listing.managed),
            "account": {"findings": account},
            "counts": {"usersWithFindings": sum(1 for r in rows if r.get("findings")), "failed": failed,
                       "findings": sum(by_rule.values()), "byRule": by_rule, "fixes": fixes},
            "users": rows}
        log.info("audit report", **{k: v for k, v in report.items() if k not in ("status", "users", "account")},
                 status=Status.AUDITED.value)
        return report
