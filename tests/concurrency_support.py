"""Events, bystanders and the "finish, check, deliver once more, check" step shared by the
cross-instance suites (tests/test_concurrency_lifecycle.py, tests/test_cross_instance_search.py)."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

from provisioner.domain import ownership
from provisioner.domain.access import DEFAULT_GROUPS

from tests import concurrency_invariants as inv8
from tests import invariants as inv
from tests.invariants import InvariantViolation

# The functions' clock stands here unless a scenario says otherwise; every occurredAt is before it.
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
USER, EMPLOYEE = "alice.wang", "E10023"
READ_ONLY, FULL = "AliyunARMSReadOnlyAccess", "AliyunARMSFullAccess"


def at(day, hour=9, minute=0):
    """An ``occurredAt`` on 2026-11-<day> (a day past 30 runs on into December)."""
    when = datetime(2026, 11, 1, hour, minute, tzinfo=timezone.utc) + timedelta(days=day - 1)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def joiner(event_id, occurred, mode="programmatic", level="read-only", logon=USER, employee_id=EMPLOYEE,
           end_date=None, console=None):
    ev = {"eventId": event_id, "eventType": "employee.onboarded", "occurredAt": occurred,
          "employee": {"employeeId": employee_id, "logonName": logon, "displayName": logon[:24],
                       "email": f"{logon}@example.com"},
          "access": {"mode": mode, "level": level}}
    if console is not None and mode == "console":
        ev["access"]["console"] = dict(console)
    if end_date:
        ev["endDate"] = end_date
    return ev


def leaver(event_id, occurred, last_day=None, logon=USER, employee_id=EMPLOYEE):
    ev = {"eventId": event_id, "eventType": "employee.offboarded", "occurredAt": occurred,
          "employee": {"employeeId": employee_id, "logonName": logon}}
    if last_day:
        ev["lastWorkingDay"] = last_day
    return ev


def with_(event, **changes):
    ev = copy.deepcopy(event)
    ev.update(changes)
    return ev


BYSTANDERS = ("admin", "ops.bot", "carol.li")


def seed_bystanders(cloud):
    """Users this system must never touch: a foreign administrator, a foreign ARMS user whose Comments
    look almost like ours, and a user we manage for another employee (active, not due), with its secret.
    Arranged through localcloud's in-process API (the same actions and semantics, no HTTP), with no
    caller's key: the call log tells these from the functions' calls."""
    import json

    def call(action, **params):
        status, body = cloud.invoke(action, params)
        assert status == 200, (action, body.get("Code"))
        return body

    def user(name, comments, policy, login=False, group=None):
        call("CreateUser", UserName=name, DisplayName=name, Comments=comments)
        if group:                  # a user we manage: its level through our group (GRANT_MODE=group)
            call("AddUserToGroup", GroupName=group, UserName=name)
        else:
            call("AttachPolicyToUser", PolicyType="System", PolicyName=policy, UserName=name)
        key = call("CreateAccessKey", UserName=name)["AccessKey"]
        if login:
            call("CreateLoginProfile", UserName=name, Password="Adm1n!Passw0rd-bystander", PasswordResetRequired="true")
        return key

    user("admin", "created by hand", "AdministratorAccess", login=True)
    user("ops.bot", "hrrp:v2;emp=E10023;st=active", FULL)
    key = user("carol.li", ownership.Marker("E20001").render(), READ_ONLY, group=DEFAULT_GROUPS["read-only"])
    call("CreateSecret", SecretName="ram-user/carol.li", VersionId=key["AccessKeyId"], SecretDataType="text",
         SecretData=json.dumps({"UserName": "carol.li", "LogonPrincipal": "carol.li@corp.onaliyun.com",
                                "AccessKeyId": key["AccessKeyId"], "AccessKeySecret": key["AccessKeySecret"]}),
         Tags=json.dumps(ownership.secret_tags("E20001", "carol.li")))
    return Bystanders(cloud, BYSTANDERS, ["ram-user/carol.li"])


class Bystanders(inv.Bystanders):
    """``tests.invariants.Bystanders`` whose call-log search starts after the seeding."""

    def __init__(self, cloud, user_names, secret_names_=()):
        super().__init__(cloud, user_names, secret_names_)
        self.mark = cloud.calls.mark()

    def check(self, mark=None):
        super().check(self.mark if mark is None else mark)


def hr_events(fc):
    """The HR events (not timer events) the fleet delivered, decoded."""
    import json
    out = []
    for _, payload in fc.history:
        ev = json.loads(payload)
        if isinstance(ev, dict) and ev.get("eventType"):
            out.append(ev)
    return out


def settle(cloud, fc, *, bystanders=None, now=T0, secret_type="Generic", expect=None, user_name=None,
           redeliver=True, extra=None):
    """Invariant 8 after everything finished, then after every event is delivered once more
    (sequentially, ``fc.deliver_again``). ``expect``: the expectations (default: by the latest HR event
    of every employee the fleet saw); ``extra(phase)``: a scenario's own assertions, run in both phases.

    If an invocation raised (FC would redeliver it: it has not finished), the first check is skipped.
    Both phases are run and reported together, so a failure says whether redelivery repairs it."""
    problems = []

    def phase(name):
        expectations = expect if expect is not None else inv8.expected_from_events(
            hr_events(fc), now, user_name=user_name)
        try:
            inv8.check(cloud, expectations, bystanders=bystanders, secret_type=secret_type,
                       grant_mode=fc.env.get("GRANT_MODE", "group"))
            if extra is not None:
                extra(name)
        except AssertionError as err:
            problems.append(f"{name}: {err}")

    if not fc.raised:
        phase("after the concurrent run")
    raised = len(fc.raised)
    answers = fc.deliver_again() if redeliver else []
    if redeliver:
        phase("after one more delivery of each event")
    if problems:
        detail = f" (invocations that raised: {fc.raised[:raised]})" if fc.raised else ""
        raise InvariantViolation("\n".join(problems) + detail)
    return answers
