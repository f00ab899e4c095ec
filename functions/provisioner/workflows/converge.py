"""Every event, in HR order: append it to the employee's ledger, converge the user to the latest
event, then re-read and repair. This is what makes invariant 8 hold with any number of instances.

Per event (onboarding and offboarding alike):

1. ``occurredAt`` older than ``MAX_EVENT_AGE_DAYS`` or ahead of the clock: ``rejected``, no call.
2. The ledger (``cloud.ledger``) is read and the event appended (a KMS write-once version:
   concurrent appends never lose each other). An older event is appended too (the state is the
   fold of all events in HR order) but is superseded: it still converges the user to the head (a
   repair, never an undo); once the ledger holds 9 versions it is not recorded (``_crowded_out``:
   KMS rolls off the oldest version written).
3. A round: the desired state is computed from the head (``domain.lifecycle.desired``), the user is
   brought to it (onboarding's reconcile, or the disable plan), then the head is read again and the
   state re-checked (``holds``). Changed head or state: another round (at most ``MAX_ROUNDS``, then
   TransientError for FC's retry).

Why this is enough: every writer re-reads the head after its last write. Take the latest event
H. Any instance whose writes follow H's append reads H on its re-check and converges to H; any
instance whose writes all precede it is overwritten by H's own instance, which reads the state only
after its append. Two instances converging to the same head can undo each other's credential
(two keys minted at once, two passwords); the re-check after the writes sees it and the last
instance to check repairs it. See docs/concurrency.md.

A leaver under a logon name that is no user is matched by employee id (``logon-name-mismatch``); the
ledger then tags that name with the user found, and a later leaver under the same name follows the tag
to that user (not "deleted": a leave effective now must still disable it).

One employee, one active user: a joiner under a logon name other than that of the employee's
active user is ``conflict`` (naming that user, nothing written, the ledger included). With a
ledger, its head names that user (one GetUser); with no ledger and no user by the joiner's name (a
new hire, or a user made before the ledger existed under another name), the employee id is looked
up in every user's marker (``directory.find_by_employee``: one ListUsers scan, ``max(1, ceil(users
/ 1000))`` calls). A joiner whose name exists, or whose employee has a ledger, never scans. The
scan is a read before any write, as the ledger's head is: an interleaving with another instance is
that of the ledger case, the open one included (docs/concurrency.md, "One employee, one active
user": a rehire of the old user between the check and the append leaves two active users; the
daily audit flags it, ``employee-multiple-active-users``).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..adapters.validation import parse_datetime
from ..cloud import directory
from ..cloud.errors import TransientError
from ..cloud.ledger import KMS_MAX_VERSIONS, Ledger
from ..domain import lifecycle, ownership
from ..domain.access import GROUP
from ..domain.lifecycle import Desired, Target, iso, utc_seconds
from ..domain.ordering import JOINER, LEAVER, Entry, age_problem, short_hash
from ..domain.results import Result, Status, rejected, result
from ..platform import clock, log
from . import steps
from .offboarding import plan_disable
from .onboarding import Again, Conflict, Onboarding

if TYPE_CHECKING:
    from ..platform.runtime import Runtime

MAX_ROUNDS = 4


@dataclass
class _Event:
    event: dict[str, Any]
    entry: Entry
    logon_name: str
    employee_id: str

    @property
    def event_id(self) -> str:
        return str(self.event["eventId"])


def run_event(event: dict[str, Any], rt: Runtime) -> Result:
    employee = event["employee"]
    occurred = parse_datetime(event["occurredAt"])
    assert occurred is not None  # noqa: S101 - validated
    s = rt.settings
    problem = age_problem(occurred, clock.now(), s.max_event_age_days, s.max_clock_skew_seconds)
    if problem:
        log.info("stale or future event refused", status=Status.REJECTED.value)   # alert: app.log_result
        return rejected(event["eventId"], [{"path": "$.occurredAt", "message": problem}])
    ev = _Event(event, Entry.of(event, occurred), employee["logonName"], employee["employeeId"])
    ledger = Ledger(rt, ev.employee_id)
    recorded = ledger.entries()
    before = recorded[-1] if recorded else None
    user_name, mismatch = ev.logon_name, None
    if before is not None and not before.for_user(ev.logon_name):
        other = ledger.logon_name_of(before)
        other_marker = ownership.owned_by(directory.get_user(rt.cloud, other), ev.employee_id) if other else None
        if other and other_marker is not None:
            if ev.entry.kind == JOINER and other_marker.state == ownership.ACTIVE:
                return _already_active(ev, other)
            if ev.entry.kind == LEAVER:
                user_name, mismatch = other, ev.logon_name
    elif before is None and ev.entry.kind == LEAVER:
        # No history (a user from before the ledger, or nobody): find the person by employee id too.
        if ownership.owned_by(directory.get_user(rt.cloud, ev.logon_name), ev.employee_id) is None:
            found = directory.find_by_employee(rt.cloud, ev.employee_id)
            if found is not None:
                user_name, mismatch = found.user_name, ev.logon_name
    user = directory.get_user(rt.cloud, user_name)
    if user is None and mismatch is None and before is not None and ev.entry.kind == LEAVER:
        # History under this logon name, no user by it: an earlier leaver under this name may have been
        # applied to the user it found by employee id (the ledger tags the name with that user).
        other = ledger.logon_name_of(before)
        if other and other != ev.logon_name:
            other_user = directory.get_user(rt.cloud, other)
            if ownership.owned_by(other_user, ev.employee_id) is not None:
                user_name, mismatch, user = other, ev.logon_name, other_user
    if before is None and ev.entry.kind == JOINER and user is None:
        # No history and no user by this name: a user from before the ledger may be this employee's
        # active user under another logon name (found by employee id, as the leaver above does).
        found = directory.find_by_employee(rt.cloud, ev.employee_id)
        if found is not None and found.user_name != ev.logon_name and found.marker.state == ownership.ACTIVE:
            return _already_active(ev, found.user_name)
    if user is not None and ownership.owned_by(user, ev.employee_id) is None:
        # Not ours (or another employee's): nothing is written anywhere, the ledger included.
        detail = ("the RAM user belongs to another employee" if ownership.parse(user.get("Comments"))
                  else "the RAM user was not created by hr-ram-provisioner")
        log.info("conflict", status=Status.CONFLICT.value, detail=detail)
        return result(Status.CONFLICT, ev.event_id, user_name, detail=detail,
                      **({"reason": detail} if ev.entry.kind == JOINER else {}))
    if ev.entry.kind == JOINER:
        conflict = _secret_conflict(rt, ev, user_name)
        if conflict is not None:
            return conflict
    if ev.entry.kind == JOINER and not rt.account_id():
        # neither FC's context nor a setting names the account: without an alias the logon name cannot
        # be formed (ConfigError), and that must be known before anything is written, the ledger included
        rt.logon_suffix()
    if not recorded and user is not None:
        recorded = _migrate(ledger, ev, user_name, user)
    if ev.entry not in recorded and not _tombstone_outlived(rt, ledger, ev, before, user) \
            and not _crowded_out(recorded, ev.entry):
        # every event is recorded, an older one too: the state is the fold of all of them in HR order
        # (a joiner delivered after a later leaver still decides who the leave applies to)
        known = any(e.for_user(user_name) for e in recorded)
        # a user made before the ledger, still active: the ledger says so for good (the fold starts
        # active for it even once a later joiner follows its first leave)
        marker = ownership.owned_by(user, ev.employee_id) if user is not None and not recorded else None
        ledger.append(ev.entry, user_name, ev.event_id, name_known=known,
                      active_before=marker is not None and marker.state == ownership.ACTIVE)
    answer = _converge(rt, ledger, ev, user_name, history=before is not None)
    if mismatch is not None:
        answer["userName"] = user_name
        answer["logonNameInEvent"] = mismatch
        log.alert(logging.WARNING, "leaver found by employee id under another logon name",
                  log.LOGON_NAME_MISMATCH_ALERT, userName=user_name, logonNameInEvent=mismatch)
    return answer


def _already_active(ev: _Event, other: str) -> Result:
    """A joiner under a new logon name while the employee's user ``other`` is active: one employee,
    one active user. Nothing is written anywhere, the ledger included."""
    reason = (f"employee {ev.employee_id} already has the active RAM user {other}: one employee, "
              f"one active user (offboard {other} first, or send the event for {other})")
    log.info("conflict", status=Status.CONFLICT.value, existingUser=other)
    return result(Status.CONFLICT, ev.event_id, ev.logon_name, reason=reason, existingUser=other)


def _migrate(ledger: Ledger, ev: _Event, user_name: str, user: dict[str, Any]) -> list[Entry]:
    """A user disabled before the ledger existed: its first entry is that leave, at the time the
    marker recorded (so an event older than it stays a stale one, and a later one is a rehire)."""
    marker = ownership.owned_by(user, ev.employee_id)
    if marker is None or marker.state != ownership.DISABLED or marker.disabled_at is None:
        return []
    entry = Entry(occurred_at=marker.disabled_at, sequence=0, kind=LEAVER, user_hash=short_hash(user_name),
                  event_hash=short_hash("disabled before the ledger existed"))
    ledger.append(entry, user_name, "migrated-from-the-marker")
    return [entry]


def _tombstone_outlived(rt: Runtime, ledger: Ledger, ev: _Event, before: Entry | None,
                        user: dict[str, Any] | None) -> bool:
    """An event older than a deleted user's last one changes nothing: it is not written into the
    ledger in its recovery window (that would restore the tombstone and keep it for ever)."""
    if before is None or user is not None or not ev.entry < before:
        return False
    info = rt.secrets.describe(ledger.name)
    return info is not None and info.in_delete_window


def _crowded_out(recorded: list[Entry], entry: Entry) -> bool:
    """An event older than the head, once the ledger holds ``KMS_MAX_VERSIONS - 1`` versions, is not
    recorded: KMS rolls off the oldest version *written*, so older events appended to a full ledger
    would push out newer ones, the head at last (cloud/ledger.py)."""
    return bool(recorded) and entry < recorded[-1] and len(recorded) >= KMS_MAX_VERSIONS - 1


def _secret_conflict(rt: Runtime, ev: _Event, user_name: str) -> Result | None:
    """A credential secret by the joiner's name that is not ours for this employee: conflict before
    anything is written (the ledger included)."""
    onboarding = Onboarding(ev.event, rt, ev.entry, user_name)
    info = rt.secrets.describe(onboarding.secret_name)
    if info is None or info.owned_by(ev.employee_id):
        return None
    reason = "a secret with this name exists and is not hr-ram-provisioner's for this employee"
    log.info("conflict", status=Status.CONFLICT.value, reason=reason)
    return result(Status.CONFLICT, ev.event_id, user_name, reason=reason)


def active_before(rt: Runtime, ledger: Ledger, folded: list[Entry], user_name: str, employee_id: str,
                  marker: ownership.Marker | None = None) -> bool:
    """Whether the fold of ``folded`` starts active: the user was made before the ledger existed and
    was active then. Read only when it can matter (a leave before any joiner); ``marker``: the
    user's marker if the caller has just read it."""
    if not any(e.kind == JOINER for e in folded):
        # no joiner in the ledger: a user made before the ledger existed starts the fold active
        if marker is None:
            marker = ownership.owned_by(directory.get_user(rt.cloud, user_name), employee_id)
        return marker is not None and marker.state == ownership.ACTIVE
    if folded[0].kind == LEAVER and ledger.exists:
        # a leave before the first joiner applies only if the user was active before the ledger
        # began: recorded with the ledger's first entry (the marker has changed since)
        return ledger.active_before(short_hash(user_name))
    return False


def _converge(rt: Runtime, ledger: Ledger, ev: _Event, user_name: str, history: bool) -> Result:
    force_new = False
    for _round in range(MAX_ROUNDS):
        entries = ledger.entries()
        head = entries[-1] if entries else ev.entry
        target_user = user_name if head.for_user(user_name) or head.for_user(ev.logon_name) else (
            ledger.logon_name_of(head) or user_name)
        folded = entries or [ev.entry]
        desired = lifecycle.desired(folded, clock.now(), rt.settings.hr_timezone,
                                    initially_active=active_before(rt, ledger, folded, target_user, ev.employee_id))
        try:
            answer, holds = _apply(rt, ev, desired, target_user, history, force_new)
        except Again:
            force_new = True
            continue
        if answer["status"] in (Status.CONFLICT.value,):
            return answer
        if (ledger.head() or ev.entry) == head and holds():
            if head != ev.entry and ev.entry < head:
                if desired.target == Target.DISABLED and "reason" not in answer and ev.entry.kind == JOINER:
                    answer["reason"] = ("the event occurred before the user was offboarded; a rehire needs "
                                        "an onboarding event that occurred later")
                answer["supersededBy"] = {"occurredAt": iso(head.occurred_at),
                                          "eventType": "employee.onboarded" if head.kind == JOINER
                                          else "employee.offboarded"}
            return answer
        log.info("state changed concurrently; converging again", step="converge", round=_round + 1)
    raise TransientError(f"the user's state kept changing under concurrent instances ({MAX_ROUNDS} rounds); "
                         "FC's retry converges it")


def _apply(rt: Runtime, ev: _Event, desired: Desired, user_name: str, history: bool,
           force_new: bool) -> tuple[Result, Callable[[], bool]]:
    """Bring ``user_name`` to ``desired``; returns the answer and a re-check to run afterwards."""
    def answer(status: Status, **fields: Any) -> Result:
        return result(status, ev.event_id, user_name, **fields)

    if desired.target == Target.ACTIVE:
        onboarding = Onboarding(ev.event, rt, desired.head, user_name)
        onboarding.force_new_credential = force_new
        onboarding.keep_leave = False             # the ledger says: no leave pending
        try:
            outcome = onboarding.run()
            return outcome, (onboarding.holds if outcome["status"] != Status.DISABLED.value else lambda: True)
        except Conflict as why:
            log.info("conflict", status=Status.CONFLICT.value, reason=str(why))
            return onboarding.result(Status.CONFLICT, reason=str(why)), lambda: True
    if desired.target == Target.SCHEDULED and desired.joiner is not None and desired.joiner.for_user(user_name):
        return _schedule(rt, ev, desired, user_name, force_new)
    user = directory.get_user(rt.cloud, user_name)
    if user is None:
        if ev.entry.kind == JOINER and desired.reason:
            # a joiner whose contract is already over (or that a leave overtook): nothing is made
            return answer(Status.DISABLED, reason=desired.reason), lambda: True
        if history:
            return answer(Status.DELETED, detail="the user was offboarded and deleted; nothing is left",
                          **({"reason": desired.reason} if desired.reason else {})), lambda: True
        log.info("leaver not found", status=Status.NOT_FOUND.value)   # alert: app.log_result
        return answer(Status.NOT_FOUND, detail="no RAM user by this logon name or employee id: nothing was "
                                               "changed (recorded, so a later joiner for it stays refused)"), \
            lambda: True
    marker = ownership.owned_by(user, ev.employee_id)
    if marker is None:
        detail = ("the RAM user belongs to another employee" if ownership.parse(user.get("Comments"))
                  else "the RAM user was not created by hr-ram-provisioner")
        log.info("conflict", status=Status.CONFLICT.value, detail=detail)
        return answer(Status.CONFLICT, detail=detail), lambda: True
    when = clock.now()
    if desired.target == Target.SCHEDULED and marker.state == ownership.ACTIVE:
        return _schedule(rt, ev, desired, user_name, force_new)
    done = steps.execute(rt, plan_disable(rt, user_name, marker, when))
    disabled_at = marker.disabled_at if marker.state == ownership.DISABLED else utc_seconds(when)

    def disabled_holds() -> bool:
        keys = directory.access_keys(rt.cloud, user_name)
        again = ownership.owned_by(directory.get_user(rt.cloud, user_name), ev.employee_id)
        return (again is None or again.state == ownership.DISABLED) \
            and not any(k.get("Status") == "Active" for k in keys) \
            and not directory.has_login_profile(rt.cloud, user_name) \
            and not any(g.kind == GROUP for g in directory.grants(rt.cloud, user_name, rt.settings.groups))
    fields: dict[str, Any] = {"disabledAt": iso(disabled_at), "actions": steps.describe(done)}
    if desired.reason:
        fields["reason"] = desired.reason
    return answer(Status.DISABLED, **fields), disabled_holds


def _schedule(rt: Runtime, ev: _Event, desired: Desired, user_name: str,
              force_new: bool) -> tuple[Result, Callable[[], bool]]:
    """A leave in the future: the user is as the latest joiner before it says (a mover during the
    notice period still applies; a user not yet made is made), and the marker records the day."""
    last_day = desired.head.last_day
    assert last_day is not None  # noqa: S101 - a scheduled leaver has its day
    onboarding = None
    if desired.joiner is not None and desired.joiner.for_user(user_name):
        onboarding = Onboarding(ev.event, rt, desired.joiner, user_name)
        onboarding.force_new_credential = force_new
        outcome = onboarding.run()
        if outcome["status"] in (Status.CONFLICT.value, Status.DISABLED.value):
            return outcome, lambda: True
    marker = ownership.owned_by(directory.get_user(rt.cloud, user_name), ev.employee_id)
    actions: list[dict[str, Any]] = []
    if marker is not None and marker.state == ownership.ACTIVE and marker.leave_date != last_day:
        plan = [steps.ram("UpdateUser", UserName=user_name, NewComments=marker.scheduled(last_day).render())]
        actions = steps.describe(steps.execute(rt, plan))

    def holds() -> bool:
        again = ownership.owned_by(directory.get_user(rt.cloud, user_name), ev.employee_id)
        if again is None or again.state == ownership.DISABLED:
            return onboarding is None
        return again.leave_date == last_day and (onboarding is None or onboarding.holds())
    if onboarding is not None and ev.entry == desired.joiner:
        # the event is the mover during the notice period: its own answer, and the leave that stands
        return {**outcome, "lastWorkingDay": last_day.isoformat(), "timezone": rt.settings.hr_timezone}, holds
    return result(Status.SCHEDULED, ev.event_id, user_name, lastWorkingDay=last_day.isoformat(),
                  timezone=rt.settings.hr_timezone, actions=actions), holds


def converge_to_head(rt: Runtime, ledger: Ledger, user_name: str, employee_id: str) -> Result | None:
    """Converge a user to its ledger's head without a new event (the sweep's repair)."""
    head = ledger.head()
    if head is None:
        return None
    stub = {"eventId": f"repair-{head.event_hash}", "eventType": "employee.onboarded" if head.kind == JOINER
            else "employee.offboarded", "employee": {"employeeId": employee_id, "logonName": user_name}}
    return _converge(rt, ledger, _Event(stub, head, user_name, employee_id), user_name, history=True)
