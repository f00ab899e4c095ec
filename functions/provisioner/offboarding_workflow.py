"""Offboarding: leaver events disable (or schedule), a timer sweep disables due users and deletes.

Lifecycle (state in the ownership marker, see ``ownership``):

    active ──leaver, day over──▶ disabled(at) ──grace over (sweep)──▶ deleted, secret scheduled
    active ──leaver, future──▶ active;end=D ──D ended in HR_TIMEZONE (sweep)──▶ disabled(at)

Disable = DeleteLoginProfile, every Active AccessKey set Inactive (kept for a
rehire inside the grace period), then the marker ``st=disabled;at=...``.
The marker is written LAST, so a crash anywhere leaves a user that is still
``active`` and the next event or sweep redoes the (idempotent) steps.

Delete, in the order RAM requires (DeleteUser answers ``DeleteConflict.User.*``
while anything is attached): a RAMCredentials secret is scheduled for deletion
first (KMS rotates those through the RAM user; once the user is gone rotation
breaks), then DetachPolicyFromUser each, RemoveUserFromGroup each,
DeleteAccessKey each, DeleteLoginProfile, UnbindMFADevice +
DeleteVirtualMFADevice, DeleteUser, and last a Generic secret is scheduled for
deletion (``SECRET_RECOVERY_DAYS``; it stays restorable for a rehire). Every
step tolerates "not found", so a crash at any step is finished by the next
sweep. A crash between DeleteUser and DeleteSecret leaves a secret whose user
is gone: the sweep's second phase finds such orphans (our tags, no RAM user,
confirmed with GetUser) and schedules them.

Sweep decisions:

- only users whose ``Comments`` carry our marker are considered (ListUsers is
  paged with MaxItems=1000 over ALL users); the state is re-read with GetUser
  right before acting, so a rehire between listing and acting is respected;
- dry-run (payload ``dryRun`` or ``OFFBOARD_DRY_RUN``; either one turns it on)
  performs only reads and reports, per user, exactly the steps it would take;
- mass-deletion brake: at most ``min(OFFBOARD_MAX_DELETIONS_PER_RUN,
  payload.maxDeletions)`` deletions (a user, or an orphan secret) per run; the
  rest are reported ``pending`` and one ERROR line with
  ``alert="mass-deletion-brake"`` is logged. Disabling is not braked (it is
  reversible and every step of it is kept for a rehire);
- a permanent failure for one user gives that user a ``failed`` row and the
  sweep goes on. Transient failures (still failing after the in-invocation
  retries) also give ``failed`` rows; after everyone else was handled the
  report is logged and TransientError is raised so FC's async retry re-runs
  the sweep (idempotent: done users are skipped, the rest finished) — except
  when the brake engaged: then a re-run would only delete more, so the sweep
  returns and the next scheduled tick continues;
- the report (counts, plus one row per user touched) is returned; it is logged as one
  ``sweep user`` line per row and one ``sweep report`` line with the counts;
- never reads a secret value (DescribeSecret / ListSecrets metadata only).
"""
import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from . import ownership
from . import structured_log as log
from .errors import CloudError, TransientError
from .secret_store import RAM_CREDENTIALS

PAGE_SIZE = 1000                 # ListUsers MaxItems upper bound
SECRET_PAGE_SIZE = 100           # ListSecrets PageSize upper bound
PAYLOAD_FIELDS = {"dryRun": bool, "maxDeletions": int}
MAX_PAYLOAD_DELETIONS = 100_000


def now():
    """The current time (UTC). Module level so tests move time at this one edge."""
    return datetime.now(timezone.utc)


def _utc_seconds(when):
    return when.astimezone(timezone.utc).replace(microsecond=0)


def day_ended(day, when, tz_name):
    """True once ``day`` (a date) is over in ``tz_name`` at instant ``when``."""
    return when.astimezone(ZoneInfo(tz_name)).date() > day


def grace_over(marker, when, grace_days):
    at = marker.disabled_at or datetime.min.replace(tzinfo=timezone.utc)
    return when >= at + timedelta(days=grace_days)


# -- steps ----------------------------------------------------------------------------------
def _step(service, action, **params):
    return {"service": service, "action": action, "params": params}


def _describe_step(step):
    """A step as it appears in a report: action plus identifying parameters (never a value)."""
    return {"action": step["action"], **{k: v for k, v in step["params"].items() if k != "NewComments"},
            **({"marker": step["params"]["NewComments"]} if "NewComments" in step["params"] else {})}


def _execute(rt, steps):
    """Run steps in order; each tolerates "not found" and "already in its delete window"."""
    done = []
    for step in steps:
        try:
            if step["service"] == "ram":
                rt.cloud.try_ram(step["action"], **step["params"])
            else:
                rt.cloud.try_kms(step["action"], **step["params"])
        except CloudError as err:
            if not err.in_delete_window:
                err.step, err.done = _describe_step(step), len(done)
                raise
        except TransientError as err:
            err.step, err.done = _describe_step(step), len(done)
            raise
        done.append(step)
    return done


def plan_disable(rt, user_name, marker, when):
    """Reads only. The steps that take a user's access away and record when."""
    steps = []
    if rt.cloud.try_ram("GetLoginProfile", UserName=user_name) is not None:
        steps.append(_step("ram", "DeleteLoginProfile", UserName=user_name))
    keys = rt.cloud.ram("ListAccessKeys", UserName=user_name)
    for key in (keys.get("AccessKeys") or {}).get("AccessKey") or []:
        if key.get("Status") != "Inactive":
            steps.append(_step("ram", "UpdateAccessKey", UserName=user_name,
                               UserAccessKeyId=key["AccessKeyId"], Status="Inactive"))
    # A RAMCredentials secret would otherwise keep rotating: KMS mints a new, Active key for the
    # leaver during the grace period. A rehire recreates the secret with rotation on.
    ram_secret = rt.secrets.describe(rt.secrets.ram_secret_name(user_name))
    if (ram_secret is not None and not ram_secret.in_delete_window and ram_secret.rotation_enabled
            and ram_secret.owned_by(marker.employee_id)):
        steps.append(_step("kms", "UpdateSecretRotationPolicy", SecretName=ram_secret.name,
                           EnableAutomaticRotation="false"))
    # Last, so a crash before it leaves the user "active" and everything above is redone.
    steps.append(_step("ram", "UpdateUser", UserName=user_name,
                       NewComments=marker.disabled(_utc_seconds(when)).render()))
    return steps


def secret_names(rt, user_name):
    """Where the user's secret can live: our Generic name, then KMS's RAMCredentials name."""
    return [rt.secrets.name_for(user_name), rt.secrets.ram_secret_name(user_name)]


def _owned_secret(rt, user_name, employee_id):
    """The user's secret if it is tagged ours for this employee (metadata only), else None."""
    for name in secret_names(rt, user_name):
        info = rt.secrets.describe(name)
        if info is not None and info.owned_by(employee_id):
            return info
    return None


def plan_delete(rt, user_name, marker):
    """Reads only. Every step to delete a disabled user and schedule its secret, in RAM's order."""
    recovery = str(rt.settings.secret_recovery_days)
    steps, secret_after = [], None
    secret = _owned_secret(rt, user_name, marker.employee_id)
    if secret is not None and not secret.in_delete_window:
        delete_secret = _step("kms", "DeleteSecret", SecretName=secret.name, RecoveryWindowInDays=recovery)
        if secret.secret_type == RAM_CREDENTIALS:
            steps.append(delete_secret)          # before the user: KMS rotation needs the user
        else:
            secret_after = delete_secret         # after: restorable for a rehire until the very end
    policies = rt.cloud.ram("ListPoliciesForUser", UserName=user_name)
    for policy in (policies.get("Policies") or {}).get("Policy") or []:
        steps.append(_step("ram", "DetachPolicyFromUser", PolicyType=policy["PolicyType"],
                           PolicyName=policy["PolicyName"], UserName=user_name))
    groups = rt.cloud.ram("ListGroupsForUser", UserName=user_name)
    for group in (groups.get("Groups") or {}).get("Group") or []:
        steps.append(_step("ram", "RemoveUserFromGroup", UserName=user_name, GroupName=group["GroupName"]))
    keys = rt.cloud.ram("ListAccessKeys", UserName=user_name)
    for key in (keys.get("AccessKeys") or {}).get("AccessKey") or []:
        steps.append(_step("ram", "DeleteAccessKey", UserName=user_name, UserAccessKeyId=key["AccessKeyId"]))
    if rt.cloud.try_ram("GetLoginProfile", UserName=user_name) is not None:
        steps.append(_step("ram", "DeleteLoginProfile", UserName=user_name))
    mfa = rt.cloud.try_ram("GetUserMFAInfo", UserName=user_name)
    serial = ((mfa or {}).get("MFADevice") or {}).get("SerialNumber")
    if serial:
        steps.append(_step("ram", "UnbindMFADevice", UserName=user_name))
        steps.append(_step("ram", "DeleteVirtualMFADevice", SerialNumber=serial))
    steps.append(_step("ram", "DeleteUser", UserName=user_name))
    if secret_after is not None:
        steps.append(secret_after)
    return steps


# -- the leaver event -----------------------------------------------------------------------
def run(event, rt):
    employee = event["employee"]
    user_name, employee_id = employee["logonName"], employee["employeeId"]
    result = {"eventId": event["eventId"], "userName": user_name}
    body = rt.cloud.try_ram("GetUser", UserName=user_name)
    if body is None:
        return {**result, "status": "deleted", "detail": "no such RAM user: nothing left to offboard"}
    user = body.get("User") or {}
    marker = ownership.owned_by(user, employee_id)
    if marker is None:
        detail = ("the RAM user belongs to another employee" if ownership.parse(user.get("Comments"))
                  else "the RAM user was not created by hr-ram-provisioner")
        return {**result, "status": "conflict", "detail": detail}
    if marker.state == ownership.DISABLED:
        return {**result, "status": "disabled", "disabledAt": _iso(marker.disabled_at), "actions": []}
    when = now()
    last_day = date.fromisoformat(event["lastWorkingDay"]) if event.get("lastWorkingDay") else None
    if last_day is not None and not day_ended(last_day, when, rt.settings.hr_timezone):
        actions = []
        if marker.leave_date != last_day:
            steps = [_step("ram", "UpdateUser", UserName=user_name,
                           NewComments=marker.scheduled(last_day).render())]
            actions = [_describe_step(s) for s in _execute(rt, steps)]
        return {**result, "status": "scheduled", "lastWorkingDay": last_day.isoformat(),
                "timezone": rt.settings.hr_timezone, "actions": actions}
    steps = plan_disable(rt, user_name, marker, when)
    done = _execute(rt, steps)
    return {**result, "status": "disabled", "disabledAt": _iso(_utc_seconds(when)),
            "actions": [_describe_step(s) for s in done]}


def _iso(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


# -- the sweep --------------------------------------------------------------------------------
def validate_payload(payload):
    problems = []
    if not isinstance(payload, dict):
        return [{"path": "$.payload", "message": "must be a JSON object"}]
    for key, value in payload.items():
        kind = PAYLOAD_FIELDS.get(key)
        if kind is None:
            problems.append({"path": f"$.payload.{key}",
                             "message": "is not a known field (allowed: dryRun, maxDeletions)"})
        elif kind is bool and not isinstance(value, bool):
            problems.append({"path": f"$.payload.{key}", "message": "must be true or false"})
        elif kind is int and (isinstance(value, bool) or not isinstance(value, int)
                              or not 0 <= value <= MAX_PAYLOAD_DELETIONS):
            problems.append({"path": f"$.payload.{key}",
                             "message": f"must be an integer between 0 and {MAX_PAYLOAD_DELETIONS}"})
    return problems


def list_managed_users(rt):
    """Every RAM user carrying our marker (pages through all users), and every user name seen."""
    managed, names, marker = [], set(), None
    while True:
        body = rt.cloud.ram("ListUsers", MaxItems=PAGE_SIZE, Marker=marker)
        for user in (body.get("Users") or {}).get("User") or []:
            names.add(user.get("UserName"))
            owned = ownership.owned_by(user)
            if owned is not None:
                managed.append((user, owned))
        marker = body.get("Marker")
        if not body.get("IsTruncated") or not marker:
            return managed, names


def list_managed_secrets(rt):
    """Metadata (name, tags, deletion schedule) of every secret tagged as ours. Never a value."""
    from . import MANAGED_BY
    filters = json.dumps([{"Key": "TagKey", "Values": [ownership.TAG_MANAGED_BY]},
                          {"Key": "TagValue", "Values": [MANAGED_BY]}])
    found, page = [], 1
    while True:
        body = rt.cloud.kms("ListSecrets", FetchTags="true", PageNumber=page, PageSize=SECRET_PAGE_SIZE,
                            Filters=filters)
        items = (body.get("SecretList") or {}).get("Secret") or []
        found.extend(items)
        if not items or page * SECRET_PAGE_SIZE >= int(body.get("TotalCount") or 0):
            return found
        page += 1


def _where(err):
    step = getattr(err, "step", None)
    return {"failedStep": step, "stepsDone": err.done} if step else {}


class _Sweep:
    def __init__(self, rt, dry_run, limit):
        self.rt, self.dry_run, self.limit = rt, dry_run, limit
        self.when = now()
        self.deletions = 0
        self.rows = []
        self.counts = {"disabled": 0, "deleted": 0, "secretsScheduled": 0, "pending": 0, "skipped": 0,
                       "failed": 0}
        self.transient = []
        self.not_due = 0

    def row(self, action, user_name, employee_id=None, steps=None, **extra):
        row = {"userName": user_name, "employeeId": employee_id, "action": action}
        if steps is not None:
            row["steps"] = [_describe_step(s) for s in steps]
        row.update(extra)
        self.add(row)
        self.counts[action] += 1
        return row

    def add(self, row):
        """One row per user touched; each is logged on its own line (a sweep that touches thousands
        must not build one log line larger than the log service accepts)."""
        self.rows.append(row)
        log.info("sweep user", dryRun=self.dry_run, **row)

    def due(self, marker):
        s = self.rt.settings
        if marker.state == ownership.ACTIVE:
            day = marker.disable_after
            if day is not None and day_ended(day, self.when, s.hr_timezone):
                return "disable"
            return None
        if grace_over(marker, self.when, s.offboard_grace_days):
            return "delete"
        return None

    def guarded(self, user_name, employee_id, work):
        """Run one user's work; a failure becomes that user's ``failed`` row, naming the step that
        failed (e.g. the MFA serial to clean up) and how many steps before it were done."""
        try:
            work()
        except CloudError as err:
            self.row("failed", user_name, employee_id, **_where(err),
                     error={"code": err.code, "action": err.action, "requestId": err.request_id})
        except TransientError as err:
            self.transient.append(user_name)
            self.row("failed", user_name, employee_id, **_where(err), error={"code": "Transient", "detail": str(err)})

    def user(self, listed, listed_marker):
        user_name = listed["UserName"]
        if self.due(listed_marker) is None:
            self.not_due += 1
            return
        employee_id = listed_marker.employee_id
        if self.due(listed_marker) == "delete" and self.deletions >= self.limit:
            self.row("pending", user_name, employee_id, reason="mass-deletion brake")
            return
        self.guarded(user_name, employee_id, lambda: self._act(user_name, employee_id))

    def _act(self, user_name, employee_id):
        # Re-read: the listing may be minutes old and a rehire may have reactivated the user.
        body = self.rt.cloud.try_ram("GetUser", UserName=user_name)
        marker = ownership.owned_by((body or {}).get("User"), employee_id)
        action = self.due(marker) if marker is not None else None
        if action is None:
            self.row("skipped", user_name, employee_id, reason="no longer due on re-read")
            return
        if action == "disable":
            steps = plan_disable(self.rt, user_name, marker, self.when)
            if not self.dry_run:
                _execute(self.rt, steps)
            self.row("disabled", user_name, employee_id, steps)
            return
        if self.deletions >= self.limit:
            self.row("pending", user_name, employee_id, reason="mass-deletion brake")
            return
        steps = plan_delete(self.rt, user_name, marker)
        self.deletions += 1
        if not self.dry_run:
            _execute(self.rt, steps)
        self.row("deleted", user_name, employee_id, steps)
        if any(s["action"] == "DeleteSecret" for s in steps):
            self.counts["secretsScheduled"] += 1

    def orphan_secrets(self, user_names):
        """Secrets tagged ours whose RAM user is gone (a crash between DeleteUser and DeleteSecret)."""
        for secret in list_managed_secrets(self.rt):
            if secret.get("PlannedDeleteTime"):
                continue
            tags = {t.get("TagKey"): t.get("TagValue") for t in (secret.get("Tags") or {}).get("Tag") or []}
            user_name, employee_id = tags.get(ownership.TAG_USER), tags.get(ownership.TAG_EMPLOYEE)
            if not user_name or not employee_id or user_name in user_names:
                continue
            self.guarded(user_name, employee_id,
                         lambda n=secret["SecretName"], u=user_name, e=employee_id: self._orphan(n, u, e))

    def _orphan(self, secret_name, user_name, employee_id):
        if self.rt.cloud.try_ram("GetUser", UserName=user_name) is not None:
            return                                      # created since the listing: not an orphan
        if self.deletions >= self.limit:
            self.row("pending", user_name, employee_id, reason="mass-deletion brake", secretName=secret_name)
            return
        steps = [_step("kms", "DeleteSecret", SecretName=secret_name,
                       RecoveryWindowInDays=str(self.rt.settings.secret_recovery_days))]
        self.deletions += 1
        if not self.dry_run:
            _execute(self.rt, steps)
        self.add({"userName": user_name, "employeeId": employee_id, "action": "secretScheduled",
                  "steps": [_describe_step(s) for s in steps]})
        self.counts["secretsScheduled"] += 1


def sweep(payload, rt):
    """The timer's work. Returns (and logs) the report; see the module docstring for the rules."""
    from .handling import rejected
    problems = validate_payload(payload)
    if problems:
        log.warning("rejected", status="rejected", errors=problems)
        return rejected(None, problems)
    s = rt.settings
    dry_run = bool(payload.get("dryRun")) or s.offboard_dry_run
    limit = s.offboard_max_deletions_per_run
    if payload.get("maxDeletions") is not None:
        limit = min(limit, payload["maxDeletions"])
    work = _Sweep(rt, dry_run, limit)
    with log.keys(sweepAt=_iso(work.when), dryRun=dry_run):
        managed, names = list_managed_users(rt)
        for user, marker in managed:
            work.user(user, marker)
        work.orphan_secrets(names)
        report = {"status": "swept", "dryRun": dry_run, "sweptAt": _iso(work.when),
                  "timezone": s.hr_timezone, "graceDays": s.offboard_grace_days, "maxDeletions": limit,
                  "scanned": len(names), "managed": len(managed), "notDue": work.not_due,
                  "counts": work.counts, "users": work.rows}
        if work.counts["pending"]:
            report["brake"] = {"limit": limit, "pending": work.counts["pending"]}
            log.error("mass-deletion brake engaged: deletions stopped", alert="mass-deletion-brake",
                      limit=limit, deleted=work.deletions, pending=work.counts["pending"])
        log.info("sweep report", **{k: v for k, v in report.items() if k not in ("status", "users")},
                 status="swept", rows=len(work.rows))
        if work.transient and not work.counts["pending"]:
            raise TransientError(f"sweep: {len(work.transient)} user(s) hit transient errors after retries "
                                 f"({len(work.rows) - len(work.transient)} handled); a re-run is safe")
        return report
