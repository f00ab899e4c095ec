"""Old or unrelated onboarding events must not undo an offboarding (found in review):
a stale event (FC's async retry, a replayed webhook) leaves a leaver disabled, and a mover
does not cancel a scheduled leave."""
import json
from datetime import timedelta

import offboarding
import onboarding
import pytest
from provisioner.domain import ownership

from tests.conftest import as_bytes, outside_ledger
from tests.offboarding_support import leaver, set_clock, timer, utc
from tests.onboarding_support import event as joiner

NAME, EMP = "alice.wang", "E10023"
T0 = "2026-11-28T10:00:00Z"


def onboard(**kw):
    return onboarding.handler(as_bytes(joiner(**kw)), None)


def test_stale_onboarding_event_leaves_a_leaver_disabled(cloud, mocker):
    set_clock(mocker, T0)
    assert onboard(occurredAt="2026-11-28T09:00:00Z")["status"] == "provisioned"
    assert offboarding.handler(as_bytes(leaver(NAME, EMP)), None)["status"] == "disabled"

    mark = cloud.calls.mark()
    stale = onboard(occurredAt="2026-11-28T09:00:00Z")         # the same joiner event, redelivered late
    assert stale["status"] == "disabled" and "before the user was offboarded" in stale["reason"]
    assert cloud.calls.mutating(mark, ok_only=False) == []
    assert ownership.parse(cloud.ram.user_state(NAME)["user"]["Comments"]).state == "disabled"
    assert [k["Status"] for k in cloud.ram.user_state(NAME)["access_keys"]] == ["Inactive"]

    rehire = onboard(event_id="rehire", occurredAt="2026-11-28T10:00:01Z")   # after the leave: a rehire
    assert rehire["status"] == "provisioned" and rehire["rehired"] is True


def test_mover_keeps_a_scheduled_leave_and_the_sweep_honours_it(cloud, mocker):
    set_clock(mocker, T0)
    onboard(endDate="2027-06-30")
    assert offboarding.handler(as_bytes(leaver(NAME, EMP, last_day="2026-12-15")), None)["status"] == "scheduled"

    mark = cloud.calls.mark()
    assert onboard(level="full", event_id="mover", endDate="2027-06-30")["status"] == "provisioned"
    # the marker is left as it is (never cleared and set again): only the grant changes
    assert "UpdateUser" not in [c.action for c in outside_ledger(cloud.calls.mutating(mark, ok_only=False))]
    marker = ownership.parse(cloud.ram.user_state(NAME)["user"]["Comments"])
    assert (marker.end_date.isoformat(), marker.leave_date.isoformat()) == ("2027-06-30", "2026-12-15")

    set_clock(mocker, utc("2026-12-16T01:00:00Z"))
    report = offboarding.handler(as_bytes(timer()), None)
    assert report["counts"]["disabled"] == 1
    assert ownership.parse(cloud.ram.user_state(NAME)["user"]["Comments"]).state == "disabled"


def test_the_earlier_of_contract_end_and_leave_wins():
    m = ownership.Marker("E1", end_date=utc(T0).date() + timedelta(days=10)).scheduled(utc(T0).date())
    assert m.disable_after == utc(T0).date()
    assert ownership.parse(m.render()) == m
    assert ownership.parse(m.disabled(utc(T0)).render()).leave_date is None


def test_sdk_side_failure_before_sending_is_permanent_not_retried(cloud, mocker):
    """An error the SDK raises before anything is sent (its own parameter validation) cannot be
    cured by retrying: answered failed, not raised for FC's retry."""
    from alibabacloud_ram20150501.client import Client
    from darabonba.exceptions import ValidateException
    spy = mocker.patch.object(Client, "create_user_with_options", side_effect=ValidateException("bad"))
    result = onboard()
    assert result["status"] == "failed" and result["error"]["code"] == "ClientError.ValidateException"
    assert spy.call_count == 1                                   # no in-invocation retry either


def test_a_dropped_connection_is_still_transient(cloud):
    from provisioner.cloud.errors import TransientError
    cloud.faults.drop("CreateUser", times=None)
    try:
        onboard()
    except TransientError:
        pass
    else:
        raise AssertionError("a dropped connection must be raised for FC's async retry")


def test_disabling_a_ram_credentials_user_stops_kms_rotation(cloud, mocker, monkeypatch):
    """Otherwise KMS would mint a fresh, Active AccessKey for the leaver during the grace period."""
    from provisioner.platform import runtime
    monkeypatch.setenv("SECRET_TYPE", "RAMCredentials")
    runtime.reset()
    set_clock(mocker, T0)
    assert onboard()["status"] == "provisioned"
    name = "acs/ram/user/" + NAME
    assert cloud.kms.secret_state(name)["rotation_interval"]

    left = offboarding.handler(as_bytes(leaver(NAME, EMP)), None)
    assert left["status"] == "disabled"
    assert "UpdateSecretRotationPolicy" in [a["action"] for a in left["actions"]]
    assert not cloud.kms.secret_state(name)["rotation_interval"]

    rehire = onboard(event_id="rehire", occurredAt="2026-11-28T10:00:01Z")
    assert rehire["status"] == "provisioned"
    assert cloud.kms.secret_state(name)["rotation_interval"]                  # recreated with rotation on


# -- issue 15: each found by a surviving mutant -------------------------------------------------
def test_disabling_a_leaver_leaves_another_employees_ram_credentials_secret_rotating(cloud, ram, kms, mocker):
    """The RAMCredentials secret at the leaver's name is tagged for another employee: not ours to stop."""
    import json

    from alibabacloud_kms20160120 import models as kms_models

    from tests.offboarding_support import make_user
    keys = make_user(ram, kms, NAME, EMP, secret=None, login=False)
    name = "acs/ram/user/" + NAME
    kms.create_secret(kms_models.CreateSecretRequest(
        secret_name=name, version_id=keys[0], secret_type="RAMCredentials", secret_data_type="text",
        secret_data=json.dumps({"AccessKeys": [{"AccessKeyId": keys[0], "AccessKeySecret": "not-read-here"}]}),
        tags=json.dumps([{"TagKey": "managed-by", "TagValue": "hr-ram-provisioner"},
                         {"TagKey": "employee-id", "TagValue": "E99999"},
                         {"TagKey": "ram-user", "TagValue": NAME}]),
        extended_config={"SecretSubType": "RamUserAccessKey", "UserName": NAME},
        enable_automatic_rotation=True, rotation_interval="30d"))
    before = cloud.kms.secret_state(name)
    set_clock(mocker, T0)
    mark = cloud.calls.mark()
    left = offboarding.handler(as_bytes(leaver(NAME, EMP)), None)
    assert left["status"] == "disabled"
    assert [k["Status"] for k in cloud.ram.user_state(NAME)["access_keys"]] == ["Inactive"]   # the leaver is off
    assert [c.action for c in cloud.calls.mutating(mark, ok_only=False) if c.params.get("SecretName") == name] == []
    after = cloud.kms.secret_state(name)
    assert before["rotation_interval"] and after["rotation_interval"] == before["rotation_interval"]
    assert after == before


def _leaver_at(occurred_at, event_id="leave"):
    return {"eventId": event_id, "eventType": "employee.offboarded", "occurredAt": occurred_at,
            "employee": {"employeeId": EMP, "logonName": NAME}}


def _assert_still_disabled(cloud):
    state = cloud.ram.user_state(NAME)
    assert ownership.parse(state["user"]["Comments"]).state == "disabled"
    assert [k["Status"] for k in state["access_keys"]] == ["Inactive"] and not state["login_profile"]


LEAVE_AT = "2026-11-28T09:30:00Z"
# HR order at the boundary (domain/ordering.py): at the same instant the leaver sorts last and wins,
# a microsecond later the joiner is a rehire.
BOUNDARY = [("2026-11-28T09:29:59.999999Z", "disabled"), ("2026-11-28T09:30:00Z", "disabled"),
            ("2026-11-28T09:30:00.000000Z", "disabled"), ("2026-11-28T09:30:00.000001Z", "provisioned")]


def _assert_boundary(cloud, mark, answer, status):
    """A joiner at the leave's boundary: still disabled with nothing changed, or a rehire."""
    assert answer["status"] == status
    if status == "disabled":
        _assert_still_disabled(cloud)
        assert outside_ledger(cloud.calls.mutating(mark, ok_only=False)) == []
    else:
        assert answer["rehired"] is True
        assert ownership.parse(cloud.ram.user_state(NAME)["user"]["Comments"]).state == "active"


@pytest.mark.parametrize("joined_at, status", BOUNDARY)
def test_a_joiner_at_the_leave_instant_does_not_reenable_and_one_a_microsecond_later_does(
        cloud, mocker, joined_at, status):
    set_clock(mocker, T0)
    assert onboard(occurredAt="2026-11-28T09:00:00Z")["status"] == "provisioned"
    assert offboarding.handler(as_bytes(_leaver_at(LEAVE_AT)), None)["status"] == "disabled"
    mark = cloud.calls.mark()
    _assert_boundary(cloud, mark, onboard(event_id="joiner-at-the-boundary", occurredAt=joined_at), status)


@pytest.mark.parametrize("joined_at, status", BOUNDARY)
def test_a_user_disabled_before_the_ledger_has_its_leave_at_the_markers_instant(
        cloud, ram, kms, mocker, joined_at, status):
    """The migrated leaver entry (workflows/converge.py _migrate) sits at the marker's disabled_at:
    the same boundary holds for a user disabled before any ledger existed."""
    from tests.offboarding_support import make_user, marker
    make_user(ram, kms, NAME, EMP, comments=marker(EMP, state="disabled", at=LEAVE_AT), login=False,
              inactive_keys=True, groups=())                  # as a disable leaves it: in no group of ours
    set_clock(mocker, T0)
    mark = cloud.calls.mark()
    _assert_boundary(cloud, mark, onboard(event_id="joiner-after-migration", occurredAt=joined_at), status)
    if status != "disabled":
        assert [k["Status"] for k in cloud.ram.user_state(NAME)["access_keys"]] == ["Active"]


def test_the_leave_migrated_from_the_marker_is_first_at_its_instant(cloud, ram, kms, mocker):
    """The migrated leaver entry has sequence 0 (workflows/converge.py _migrate): a joiner at the
    marker's very instant with a later ``sequence`` follows the leave in HR order, so it is a rehire."""
    from tests.offboarding_support import make_user, marker
    make_user(ram, kms, NAME, EMP, comments=marker(EMP, state="disabled", at=LEAVE_AT), login=False,
              inactive_keys=True, groups=())
    set_clock(mocker, T0)
    answer = onboard(event_id="joiner-after-the-leave", occurredAt=LEAVE_AT, sequence=1)
    assert (answer["status"], answer.get("rehired")) == ("provisioned", True), answer
    assert ownership.parse(cloud.ram.user_state(NAME)["user"]["Comments"]).state == "active"


def test_a_user_active_before_the_ledger_keeps_its_scheduled_leave_through_a_mover(cloud, ram, kms, mocker):
    """A user made before the ledger existed (an active marker, no ledger) gets a leave for later,
    then a mover: the mover is a mover (the user was active before the ledger began: the ledger
    records it with its first entry), so the leave stands and the sweep disables on the day.
    Found by the mutation run (issue 15): the fold started inactive once a joiner was in the ledger,
    and the mover dropped the leave."""
    from tests.offboarding_support import make_user
    make_user(ram, kms, NAME, EMP, login=False)
    set_clock(mocker, T0)
    assert offboarding.handler(as_bytes(leaver(NAME, EMP, last_day="2026-12-15")), None)["status"] == "scheduled"
    assert onboard(level="full", event_id="mover")["status"] == "provisioned"          # later in HR order
    marker = ownership.parse(cloud.ram.user_state(NAME)["user"]["Comments"])
    assert (marker.state, marker.leave_date.isoformat()) == ("active", "2026-12-15")
    set_clock(mocker, utc("2026-12-16T01:00:00Z"))
    assert offboarding.handler(as_bytes(timer()), None)["counts"]["disabled"] == 1
    state = cloud.ram.user_state(NAME)
    assert ownership.parse(state["user"]["Comments"]).state == "disabled"
    assert [k["Status"] for k in state["access_keys"]] == ["Inactive"] and state["groups"] == []


# -- HR order's pure rules (domain/ordering.py), each pinned where a mutant survived ---------------
def _entry(logon=NAME, kind="employee.onboarded"):
    from datetime import datetime, timezone

    from provisioner.domain.ordering import Entry
    event = {"eventId": "e-1", "eventType": kind, "occurredAt": LEAVE_AT,
             "employee": {"employeeId": EMP, "logonName": logon}, "access": {"mode": "console", "level": "full"}}
    return Entry.of(event, datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc))


def test_an_entry_is_for_its_own_logon_name_only():
    from provisioner.domain.ordering import Entry, short_hash
    others = ["bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"]
    mine = short_hash(NAME)
    assert any(short_hash(o) > mine for o in others) and any(short_hash(o) < mine for o in others)
    for entry in (_entry(), Entry.parse(_entry().version_id)):     # made from an event, and read back
        assert entry.for_user(NAME)
        assert [o for o in others if entry.for_user(o)] == []


def test_an_entry_round_trips_through_its_version_id():
    from provisioner.domain.ordering import Entry
    for kind in ("employee.onboarded", "employee.offboarded"):
        entry = _entry(kind=kind)
        assert Entry.parse(entry.version_id) == entry
    joiner = Entry.parse(_entry().version_id)
    assert (joiner.mode, joiner.level) == ("console", "full")


@pytest.mark.parametrize("age, refused", [
    (timedelta(days=7), False), (timedelta(days=7, microseconds=1), True), (timedelta(days=30), True),
    (timedelta(seconds=-300), False), (timedelta(seconds=-300, microseconds=-1), True),
    (timedelta(days=-1), True), (timedelta(0), False)])
def test_events_too_old_or_from_the_future_are_refused_at_the_exact_bounds(age, refused):
    """MAX_EVENT_AGE_DAYS (7 here) and MAX_CLOCK_SKEW_SECONDS (300 here) are inclusive bounds."""
    from provisioner.domain.ordering import age_problem
    now = utc(T0)
    problem = age_problem(now - age, now, 7, 300)
    assert (problem is not None) is refused, problem


def test_an_entry_is_a_value():
    """Entries are compared, sorted and kept in sets by every instance: equal fields, equal entries,
    and none can be changed after it is made."""
    import dataclasses
    a, b = _entry(), _entry()
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.kind = "l"


@pytest.mark.parametrize("version_id", [
    "20261128T090000000000Z.0000000000.l.20261399.5579a343.59518f89",      # no 13th month
    "20261128T090000000000Z.0000000000.j.rp20270231.5579a343.59518f89",    # no 31 February
    "20261340T090000000000Z.0000000000.l.00000000.5579a343.59518f89",      # no such instant
    "20261128T090000000000Z.0000000000.l.rp20270630.5579a343.59518f89",    # a leaver with a joiner's payload
    "20261128T090000000000Z.0000000000.j.20270630.5579a343.59518f89",      # a joiner without level and mode
    "not a version", ""])
def test_a_version_id_that_is_not_an_entry_is_none_never_an_error(version_id):
    from provisioner.domain.ordering import Entry
    assert Entry.parse(version_id) is None


# -- error-code decisions (cloud/errors.py): the bounds a mutant could move ----------------------
@pytest.mark.parametrize("code, status, transient", [
    ("SomethingNew", 500, True), ("SomethingNew", 503, True), ("SomethingNew", 499, False),
    ("SomethingNew", 404, False), ("SomethingNew", None, False), (None, None, False),
    ("Throttling.Whatever", 400, True), ("ServiceUnavailable", 400, True), ("ConnectionError", None, True),
    ("EntityNotExist.User", 404, False), ("NoPermission", 403, False)])
def test_which_errors_are_transient(code, status, transient):
    from provisioner.cloud.errors import CloudError, is_transient
    code = None if code is None else "".join(list(code))       # as an answer's code arrives: built at run time
    assert is_transient(code, status) is transient
    assert CloudError("GetUser", code, status).transient is transient


@pytest.mark.parametrize("code, throttled", [("Throttling", True), ("Throttling.User", True),
                                             ("Rejected.Throttling", True), ("Rejected.ResourceExist", False),
                                             ("ServiceUnavailable", False), (None, False)])
def test_which_errors_are_throttling(code, throttled):
    from provisioner.cloud.errors import CloudError
    code = None if code is None else "".join(list(code))
    assert CloudError("CreateUser", code, 400).throttled is throttled


def test_sdk_exceptions_become_cloud_errors_without_their_text():
    from provisioner.cloud.errors import from_sdk_exception

    class SdkError(Exception):
        def __init__(self, code=None, status_code=None, request_id=None, data=None):
            super().__init__("text that may echo Password=hunter2")
            self.code, self.status_code, self.request_id, self.data = code, status_code, request_id, data

    err = from_sdk_exception("CreateUser", SdkError(data={"Code": "EntityAlreadyExists.User", "RequestId": "R-1"},
                                                    status_code=409))
    assert (err.code, err.status, err.request_id) == ("EntityAlreadyExists.User", 409, "R-1")
    assert err.already_exists and not err.transient and "hunter2" not in str(err)
    refused = from_sdk_exception("GetUser", ConnectionRefusedError("refused"))     # no answer: worth a retry
    assert (refused.code, refused.status, refused.transient) == ("ConnectionError", None, True)
    text_none = "".join(["No", "ne"])             # how the SDK's str(None) arrives: built at run time
    local = from_sdk_exception("GetUser", SdkError(code=text_none, request_id=text_none))   # never sent: permanent
    assert (local.code, local.request_id, local.transient) == ("ClientError.SdkError", None, False)
    no_status = from_sdk_exception("GetUser", SdkError(code="Throttling", request_id="R-2"))
    assert no_status.code == "ClientError.SdkError" and no_status.request_id == "R-2"
    assert "HTTP" not in str(local) and "no response" in str(local) and "RequestId -" in str(local)


# -- lifecycle's pure rules (domain/lifecycle.py) where mutants survived -----------------------------
def test_iso_writes_utc_seconds_and_none_for_none():
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from provisioner.domain.lifecycle import iso
    assert iso(datetime(2026, 11, 28, 18, 0, 5, 999, tzinfo=ZoneInfo("Asia/Shanghai"))) == "2026-11-28T10:00:05Z"
    assert iso(datetime(2026, 11, 28, tzinfo=timezone.utc)) == "2026-11-28T00:00:00Z"
    assert iso(None) is None


def test_a_desired_state_is_a_value():
    import dataclasses

    from provisioner.domain import lifecycle
    a = lifecycle.desired([_entry()], utc(T0), "UTC", initially_active=False)
    assert a == lifecycle.desired([_entry()], utc(T0), "UTC", initially_active=False) and len({a, a}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.target = lifecycle.Target.DISABLED


@pytest.mark.parametrize("now, target", [("2026-11-25T23:59:59Z", "scheduled"), ("2026-11-26T00:00:00Z", "disabled")])
def test_a_user_from_before_the_ledger_is_scheduled_until_the_leave_day_ends(now, target):
    """No joiner in the ledger, the user active before it: a leaver with a future lastWorkingDay
    schedules; once the day has ended the fold is disabled, saying why."""
    from datetime import datetime, timezone

    from provisioner.domain import lifecycle
    from provisioner.domain.ordering import Entry
    leave = {"eventId": "leave-1", "eventType": "employee.offboarded", "occurredAt": "2026-11-20T09:00:00Z",
             "employee": {"employeeId": EMP, "logonName": NAME}, "lastWorkingDay": "2026-11-25"}
    entry = Entry.of(leave, datetime(2026, 11, 20, 9, tzinfo=timezone.utc))
    desired = lifecycle.desired([entry], utc(now), "UTC", initially_active=True)
    assert desired.target.value == target and desired.head == entry
    if target == "disabled":
        assert desired.reason == "the leave after 2026-11-25 (UTC) took effect"
    assert lifecycle.desired([entry], utc(now), "UTC", initially_active=False).target.value == "disabled"


def test_utc_seconds_is_utc_without_a_fraction():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from provisioner.domain.lifecycle import utc_seconds
    when = utc_seconds(datetime(2026, 11, 28, 18, 0, 5, 999_999, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert (when.isoformat(), when.microsecond) == ("2026-11-28T10:00:05+00:00", 0)


def _event_entry(kind, at, **extra):
    from provisioner.domain.ordering import Entry
    event = {"eventId": f"{kind}-{at}", "eventType": kind, "occurredAt": at,
             "employee": {"employeeId": EMP, "logonName": NAME}, **extra}
    if kind == "employee.onboarded":
        event["access"] = {"mode": "programmatic", "level": "read-only"}
    return Entry.of(event, utc(at))


def test_a_joiner_after_a_leave_day_ended_is_a_rehire_and_the_head_is_the_latest():
    """joiner, leaver with a future lastWorkingDay, a joiner after that day ended: the leave took effect
    first, so the last joiner is a rehire (active, no leave left); a joiner before the day is a mover
    that keeps the leave."""
    from provisioner.domain import lifecycle
    first = _event_entry("employee.onboarded", "2026-11-01T09:00:00Z")
    leave = _event_entry("employee.offboarded", "2026-11-10T09:00:00Z", lastWorkingDay="2026-11-20")
    rehire = _event_entry("employee.onboarded", "2026-11-25T09:00:00Z")
    mover = _event_entry("employee.onboarded", "2026-11-15T09:00:00Z")
    after = utc("2026-11-28T10:00:00Z")
    rehired = lifecycle.desired([first, leave, rehire], after, "UTC", initially_active=False)
    assert (rehired.target, rehired.head) == (lifecycle.Target.ACTIVE, rehire)
    moved = lifecycle.desired([first, leave, mover], utc("2026-11-16T10:00:00Z"), "UTC",
                              initially_active=False)
    assert (moved.target, moved.head, moved.joiner) == (lifecycle.Target.SCHEDULED, leave, mover)
    disabled = lifecycle.desired([first, leave, mover], after, "UTC", initially_active=False)
    assert (disabled.target, disabled.head) == (lifecycle.Target.DISABLED, mover)     # the latest event


# -- issue 15: each found by a surviving mutant of workflows/converge.py ----------------------------
def test_a_joiner_for_a_user_not_ours_is_a_conflict_that_says_why_and_writes_nothing(cloud, ram, kms, mocker):
    """The joiner's answer carries a ``reason`` (the operator's one line on why nothing was made)."""
    from alibabacloud_ram20150501 import models as rm
    ram.create_user(rm.CreateUserRequest(user_name=NAME, comments="created by hand"))
    set_clock(mocker, T0)
    mark = cloud.calls.mark()
    answer = onboard()
    assert answer["status"] == "conflict"
    assert answer["reason"] == answer["detail"] == "the RAM user was not created by hr-ram-provisioner"
    assert cloud.calls.mutating(mark, ok_only=False) == []               # the ledger included
    assert cloud.ram.user_state(NAME)["user"]["Comments"] == "created by hand"


def test_a_joiner_without_account_id_or_alias_is_refused_before_anything_is_written(cloud, mocker, monkeypatch):
    """No alias and no account id: the logon name cannot be formed; that is known before the ledger is
    written (a ledger entry for a user that can never be made would refuse later events for nothing)."""
    from provisioner.platform import runtime
    for name in ("ACCOUNT_ID", "FC_ACCOUNT_ID"):
        monkeypatch.delenv(name, raising=False)
    runtime.reset()
    cloud.ram.alias = ""
    set_clock(mocker, T0)
    mark = cloud.calls.mark()
    answer = onboard()
    assert answer["status"] == "failed" and "ACCOUNT_ID" in answer["error"]["code"], answer
    assert cloud.calls.mutating(mark, ok_only=False) == []
    assert cloud.ram.user_state(NAME) is None and cloud.kms.secret_state("ram-user/ledger/" + EMP) is None


@pytest.mark.parametrize("later", ["leaver", "rehire", "mover", "scheduled leaver", "second leaver"])
def test_an_older_event_names_the_later_event_that_superseded_it(cloud, mocker, later):
    """A late redelivery answers with ``supersededBy``: when and which kind of event decides the user;
    a joiner superseded by a mover is not told it came before an offboarding."""
    set_clock(mocker, T0)
    joined = onboard(occurredAt="2026-11-28T08:00:00Z")
    assert joined["status"] == "provisioned" and "supersededBy" not in joined          # the head itself
    if later == "scheduled leaver":
        leaving = dict(_leaver_at("2026-11-28T09:00:00Z"), lastWorkingDay="2026-12-15")
        assert offboarding.handler(as_bytes(leaving), None)["status"] == "scheduled"
        stale = onboard(occurredAt="2026-11-28T08:00:00Z")                     # the joiner, redelivered
        assert stale["status"] in ("provisioned", "already-provisioned") and "reason" not in stale, stale
        assert stale["lastWorkingDay"] == "2026-12-15"
        assert stale["supersededBy"] == {"occurredAt": "2026-11-28T09:00:00Z", "eventType": "employee.offboarded"}
        return
    if later == "second leaver":
        first = _leaver_at("2026-11-28T09:00:00Z")
        assert offboarding.handler(as_bytes(first), None)["status"] == "disabled"
        second = _leaver_at("2026-11-28T09:30:00Z", "leave-2")
        assert offboarding.handler(as_bytes(second), None)["status"] == "disabled"
        stale = offboarding.handler(as_bytes(first), None)                     # the first leaver, redelivered
        assert stale["status"] == "disabled" and "reason" not in stale, stale
        assert stale["supersededBy"] == {"occurredAt": "2026-11-28T09:30:00Z", "eventType": "employee.offboarded"}
        return
    if later == "mover":
        assert onboard(event_id="mover", level="full", occurredAt="2026-11-28T08:30:00Z")["status"] == "provisioned"
        stale = onboard(occurredAt="2026-11-28T08:00:00Z")                     # the joiner, redelivered
        assert stale["status"] in ("provisioned", "already-provisioned") and "reason" not in stale, stale
        assert stale["supersededBy"] == {"occurredAt": "2026-11-28T08:30:00Z", "eventType": "employee.onboarded"}
        assert cloud.ram.user_state(NAME)["groups"] == ["hr-arms-full"]
        return
    left = _leaver_at("2026-11-28T09:00:00Z")
    assert offboarding.handler(as_bytes(left), None)["status"] == "disabled"
    if later == "leaver":
        stale = onboard(occurredAt="2026-11-28T08:00:00Z")                     # the joiner, redelivered
        assert stale["status"] == "disabled"
        assert stale["supersededBy"] == {"occurredAt": "2026-11-28T09:00:00Z", "eventType": "employee.offboarded"}
    else:
        assert onboard(event_id="rehire", occurredAt="2026-11-28T09:45:00Z")["status"] == "provisioned"
        stale = offboarding.handler(as_bytes(left), None)                      # the leaver, redelivered
        assert stale["status"] in ("provisioned", "already-provisioned"), stale
        assert stale["supersededBy"] == {"occurredAt": "2026-11-28T09:45:00Z", "eventType": "employee.onboarded"}
        assert [k["Status"] for k in cloud.ram.user_state(NAME)["access_keys"]] == ["Active"]


def test_a_joiner_whose_secret_name_is_taken_is_a_conflict_before_anything_is_written(cloud, kms, mocker):
    """A secret at the joiner's secret name that is not ours for this employee: conflict, and the
    employee's ledger is not begun either (a later event is not ordered against a user never made)."""
    from alibabacloud_kms20160120 import models as km
    kms.create_secret(km.CreateSecretRequest(secret_name="ram-user/" + NAME, version_id="v1",
                                             secret_data="someone else's", secret_data_type="text"))
    set_clock(mocker, T0)
    mark = cloud.calls.mark()
    answer = onboard()
    assert answer["status"] == "conflict" and "not hr-ram-provisioner's" in answer["reason"], answer
    assert cloud.calls.mutating(mark, ok_only=False) == []
    assert cloud.ram.user_state(NAME) is None and cloud.kms.secret_state("ram-user/ledger/" + EMP) is None


def test_a_user_disabled_before_the_ledger_without_an_instant_is_rehired_without_a_later_leave(cloud, ram, kms, mocker):
    """A marker from before the ledger that says disabled without when (nothing to migrate): a leaver
    announcing a day gives it nothing, and the rehire after it is a rehire (no leave kept), as for a
    user who was never active."""
    from tests.offboarding_support import make_user
    make_user(ram, kms, NAME, EMP, comments=f"hrrp:v1;emp={EMP};st=disabled", login=False, inactive_keys=True,
              groups=())
    set_clock(mocker, T0)
    leaving = dict(_leaver_at("2026-11-28T09:00:00Z"), lastWorkingDay="2026-12-15")
    assert offboarding.handler(as_bytes(leaving), None)["status"] == "disabled"
    rehire = onboard(event_id="rehire", occurredAt="2026-11-28T09:30:00Z")
    assert rehire["status"] == "provisioned" and rehire["rehired"] is True and "lastWorkingDay" not in rehire, rehire
    marker = ownership.parse(cloud.ram.user_state(NAME)["user"]["Comments"])
    assert (marker.state, marker.leave_date) == ("active", None)


def test_a_leaver_for_a_user_disabled_before_the_ledger_does_not_say_its_leave_took_effect(cloud, ram, kms, mocker):
    """Disabled before the ledger (no instant), then a leaver whose day has ended since: the answer is
    ``disabled`` with no claim that this leave took effect (the user had no access to take away)."""
    from tests.offboarding_support import make_user
    make_user(ram, kms, NAME, EMP, comments=f"hrrp:v1;emp={EMP};st=disabled", login=False, inactive_keys=True,
              groups=())
    set_clock(mocker, "2026-11-29T10:00:00Z")
    answer = offboarding.handler(as_bytes(dict(_leaver_at("2026-11-28T09:00:00Z"), lastWorkingDay="2026-11-28")), None)
    assert answer["status"] == "disabled" and "reason" not in answer, answer
    _assert_still_disabled(cloud)


def test_an_active_marker_with_an_instant_is_no_leave_from_before_the_ledger(cloud, ram, kms, mocker):
    """A marker that says active keeps saying so even with an ``at=`` instant (parse reads it whatever the
    state): only a disabled marker is migrated into the ledger as a leave (workflows/converge.py
    _migrate). So the leaver (09:00, before that instant) begins the ledger with its own entry alone, and
    nothing supersedes it."""
    from tests.offboarding_support import make_user
    make_user(ram, kms, NAME, EMP, comments=f"hrrp:v1;emp={EMP};st=active;at=2026-11-28T09:30:00Z", login=True)
    set_clock(mocker, T0)
    answer = offboarding.handler(as_bytes(_leaver_at("2026-11-28T09:00:00Z")), None)
    assert answer["status"] == "disabled" and "supersededBy" not in answer, answer
    versions = [v["version_id"] for v in cloud.kms.secret_state("ram-user/ledger/" + EMP)["versions"]]
    assert len(versions) == 1 and versions[0].startswith("20261128T090000000000Z."), versions
    _assert_still_disabled(cloud)


# A defect found triaging workflows/converge.py (issue 15), fixed: KMS keeps 10 versions of a secret and
# rolls off the oldest *written* (localcloud/kms/models.py MAX_VERSIONS; cloud/ledger.py), not the oldest in
# HR order. Every event was appended, an older one too, so ten late events older than the leaver, delivered
# after it, pushed the leaver itself out of the ledger: the tenth folded without it and rehired the user.
# An older event is now not recorded once the ledger holds 9 versions (workflows/converge.py _crowded_out).
def test_ten_late_joiners_older_than_the_leaver_leave_the_user_disabled(cloud, mocker):
    set_clock(mocker, T0)
    assert onboard(occurredAt="2026-11-28T08:00:00Z")["status"] == "provisioned"
    assert offboarding.handler(as_bytes(_leaver_at("2026-11-28T09:50:00Z")), None)["status"] == "disabled"
    answers = [onboard(event_id=f"late-{k}", occurredAt=f"2026-11-28T09:0{k}:00Z")["status"] for k in range(10)]
    _assert_still_disabled(cloud)
    assert answers == ["disabled"] * 10, answers
    ledger = "ram-user/ledger/" + EMP
    assert len(cloud.kms.secret_state(ledger)["versions"]) == 9        # 7 of the 10 recorded, then none
    # a full ledger still records every event newer than its head: a rehire after the leave takes effect
    assert onboard(event_id="rehire", occurredAt="2026-11-28T09:55:00Z")["status"] == "provisioned"
    assert ownership.parse(cloud.ram.user_state(NAME)["user"]["Comments"]).state == "active"
    assert len(cloud.kms.secret_state(ledger)["versions"]) == 10
    # and once it holds 10, an older event is not recorded either (it would roll the first one off)
    onboard(event_id="late-again", occurredAt="2026-11-28T09:52:00Z")
    versions = [v["version_id"] for v in cloud.kms.secret_state(ledger)["versions"]]
    assert len(versions) == 10 and not any(v.startswith("20261128T095200") for v in versions), versions
    assert ownership.parse(cloud.ram.user_state(NAME)["user"]["Comments"]).state == "active"


# -- bench/MUTATION.md, defect 5: one employee, one active user, for users from before the ledger ----
@pytest.mark.parametrize("history", ["made before the ledger", "with a ledger"])
def test_a_joiner_under_a_new_logon_name_while_the_old_user_is_active_is_refused_ledger_or_not(
        cloud, ram, kms, mocker, capsys, history):
    """kim.lee (E12) is active; a joiner for E12 as kim.l is ``conflict`` naming kim.lee, the same
    answer and alert whether kim.lee has a ledger or was made by an earlier version (no ledger, only
    the marker): nothing is written (no kim.l, no ledger begun), kim.lee keeps its key, and a later
    leaver for kim.l disables kim.lee. Before the fix, with no ledger, kim.l was provisioned too."""
    from tests.offboarding_support import make_user
    set_clock(mocker, T0)
    ledger = "ram-user/ledger/E12"
    if history == "with a ledger":
        assert onboard(logon="kim.lee", employee_id="E12", occurredAt="2026-11-28T08:00:00Z")["status"] == "provisioned"
    else:
        make_user(ram, kms, "kim.lee", "E12", login=False)
        assert cloud.kms.secret_state(ledger) is None
    had = cloud.kms.secret_state(ledger)
    capsys.readouterr()
    mark = cloud.calls.mark()
    answer = onboard(logon="kim.l", employee_id="E12", event_id="joiner-kim.l", occurredAt="2026-11-28T09:00:00Z")
    assert answer == {"status": "conflict", "eventId": "joiner-kim.l", "userName": "kim.l", "existingUser": "kim.lee",
                      "reason": "employee E12 already has the active RAM user kim.lee: one employee, one active user "
                                "(offboard kim.lee first, or send the event for kim.lee)"}, answer
    alerts = [(line["alert"], line["level"]) for line in map(json.loads, capsys.readouterr().out.splitlines())
              if line.get("alert")]
    assert alerts == [("user-conflict", "WARNING")], alerts
    assert cloud.calls.mutating(mark, ok_only=False) == []                  # the ledger included
    assert cloud.ram.user_state("kim.l") is None and cloud.kms.secret_state(ledger) == had
    old = cloud.ram.user_state("kim.lee")
    assert ownership.parse(old["user"]["Comments"]).state == "active"
    assert [k["Status"] for k in old["access_keys"]] == ["Active"]

    gone = offboarding.handler(as_bytes(leaver("kim.l", "E12", event_id="leaver-kim.l")), None)
    assert (gone["status"], gone["userName"], gone["logonNameInEvent"]) == ("disabled", "kim.lee", "kim.l"), gone
    assert ownership.parse(cloud.ram.user_state("kim.lee")["user"]["Comments"]).state == "disabled"
    assert [k["Status"] for k in cloud.ram.user_state("kim.lee")["access_keys"]] == ["Inactive"]
    assert cloud.ram.user_state("kim.l") is None


def test_a_new_hire_scans_the_users_once_and_an_employee_with_a_ledger_or_a_user_never_does(
        cloud, ram, kms, mocker):
    """The scan for a user from before the ledger costs a new hire one ListUsers page per 1000 users;
    a mover (the user exists: one from before the ledger too) and a joiner of an employee with a
    ledger (a rehire under a new logon name) do not scan."""
    from tests.offboarding_support import make_user
    make_user(ram, kms, "kim.lee", "E12", login=False)
    set_clock(mocker, T0)
    mark = cloud.calls.mark()
    assert onboard(logon="kim.lee", employee_id="E12", level="full")["status"] == "provisioned"
    assert "ListUsers" not in [c.action for c in cloud.calls.since(mark)]
    mark = cloud.calls.mark()
    assert onboard(occurredAt="2026-11-28T08:00:00Z")["status"] == "provisioned"
    assert [c.action for c in cloud.calls.since(mark)].count("ListUsers") == 1
    mark = cloud.calls.mark()
    assert onboard(event_id="mover", level="full", occurredAt="2026-11-28T08:30:00Z")["status"] == "provisioned"
    assert offboarding.handler(as_bytes(_leaver_at("2026-11-28T09:00:00Z")), None)["status"] == "disabled"
    assert onboard(logon="alice.w", event_id="rehire", occurredAt="2026-11-28T09:30:00Z")["status"] == "provisioned"
    assert "ListUsers" not in [c.action for c in cloud.calls.since(mark)]


def test_a_joiner_under_a_name_sorting_after_the_active_users_is_refused_too(cloud, ram, kms, mocker):
    """The same refusal with the names the other way round: kim.l (E12, made before the ledger) is
    active and the joiner is for kim.lee, a name that sorts after it. ``conflict`` naming kim.l; no
    kim.lee is made, no ledger begun."""
    from tests.offboarding_support import make_user
    set_clock(mocker, T0)
    make_user(ram, kms, "kim.l", "E12", login=False)
    answer = onboard(logon="kim.lee", employee_id="E12", event_id="joiner-kim.lee", occurredAt="2026-11-28T09:00:00Z")
    assert (answer["status"], answer["existingUser"]) == ("conflict", "kim.l"), answer
    assert cloud.ram.user_state("kim.lee") is None and cloud.kms.secret_state("ram-user/ledger/E12") is None


def test_a_joiner_older_than_a_leaver_that_found_nobody_makes_the_user_until_the_leave_day(cloud, mocker):
    """A leaver (09:30, last day Dec 15) arrives before the person was ever onboarded: ``not-found``, and
    the ledger begins with it (the user does not exist, the ledger is live: no tombstone). The joiner
    (09:00), delivered late, is recorded too and the fold decides: the user is made, active until the
    leave day."""
    set_clock(mocker, T0)
    gone = offboarding.handler(as_bytes(dict(_leaver_at(LEAVE_AT), lastWorkingDay="2026-12-15")), None)
    assert gone["status"] == "not-found", gone
    answer = onboard(event_id="late-joiner", occurredAt="2026-11-28T09:00:00Z")
    assert (answer["status"], answer.get("lastWorkingDay")) == ("provisioned", "2026-12-15"), answer
    marker = ownership.parse(cloud.ram.user_state(NAME)["user"]["Comments"])
    assert (marker.state, str(marker.leave_date)) == ("active", "2026-12-15")


def _offboarded_under_two_names(mocker):
    """E12: kim.lee joined and left, then was rehired as kim.l, who left too (the ledger's head)."""
    set_clock(mocker, T0)
    for logon, joined, left in (("kim.lee", "08:00", "08:30"), ("kim.l", "09:00", "09:30")):
        made = onboard(logon=logon, employee_id="E12", event_id=f"joiner-{logon}",
                       occurredAt=f"2026-11-28T{joined}:00Z")
        assert made["status"] == "provisioned", made
        gone = offboarding.handler(as_bytes(dict(leaver(logon, "E12", event_id=f"leaver-{logon}"),
                                                 occurredAt=f"2026-11-28T{left}:00Z")), None)
        assert (gone["status"], gone["userName"]) == ("disabled", logon), gone


def test_a_stale_joiner_for_an_earlier_logon_name_converges_the_user_the_head_names(cloud, mocker):
    """kim.lee's joiner delivered again after kim.l's leave (the head): the employee's user is the one
    the head names, kim.l; it stays disabled and the answer is for it, superseded by that leave."""
    _offboarded_under_two_names(mocker)
    mark = cloud.calls.mark()
    stale = onboard(logon="kim.lee", employee_id="E12", event_id="joiner-kim.lee", occurredAt="2026-11-28T08:00:00Z")
    assert (stale["status"], stale["userName"]) == ("disabled", "kim.l"), stale
    assert stale["supersededBy"] == {"occurredAt": "2026-11-28T09:30:00Z", "eventType": "employee.offboarded"}
    assert outside_ledger(cloud.calls.mutating(mark, ok_only=False)) == []
    for name in ("kim.lee", "kim.l"):
        assert ownership.parse(cloud.ram.user_state(name)["user"]["Comments"]).state == "disabled"


def test_a_stale_joiner_whose_head_names_a_user_no_longer_ours_is_a_conflict_saying_so(cloud, ram, mocker):
    """As above, but kim.l's marker was replaced by hand: ``conflict``, with the detail that the user was
    not created by hr-ram-provisioner (it has no marker at all), and nothing changed."""
    from alibabacloud_ram20150501 import models as ram_models
    _offboarded_under_two_names(mocker)
    ram.update_user(ram_models.UpdateUserRequest(user_name="kim.l", new_comments="taken over by hand"))
    mark = cloud.calls.mark()
    stale = onboard(logon="kim.lee", employee_id="E12", event_id="joiner-kim.lee", occurredAt="2026-11-28T08:00:00Z")
    assert (stale["status"], stale["userName"]) == ("conflict", "kim.l"), stale
    assert stale["detail"] == "the RAM user was not created by hr-ram-provisioner", stale
    assert outside_ledger(cloud.calls.mutating(mark, ok_only=False)) == []


def test_a_rehire_under_a_new_logon_name_after_the_old_user_was_deleted_by_hand(cloud, ram, mocker):
    """kim.lee (E12) joined and left; an administrator then deleted the disabled user by hand (the
    ledger still names it). A joiner for E12 as kim.l is no conflict (there is no other user of the
    employee, active or not): kim.l is made."""
    from alibabacloud_ram20150501 import models as ram_models
    set_clock(mocker, T0)
    assert onboard(logon="kim.lee", employee_id="E12", event_id="joiner-kim.lee",
                   occurredAt="2026-11-28T08:00:00Z")["status"] == "provisioned"
    gone = offboarding.handler(as_bytes(dict(leaver("kim.lee", "E12", event_id="leaver-kim.lee"),
                                             occurredAt="2026-11-28T08:30:00Z")), None)
    assert gone["status"] == "disabled", gone
    for key in cloud.ram.user_state("kim.lee")["access_keys"]:
        ram.delete_access_key(ram_models.DeleteAccessKeyRequest(user_name="kim.lee",
                                                                user_access_key_id=key["AccessKeyId"]))
    ram.delete_user(ram_models.DeleteUserRequest(user_name="kim.lee"))
    made = onboard(logon="kim.l", employee_id="E12", event_id="joiner-kim.l", occurredAt="2026-11-28T09:00:00Z")
    assert (made["status"], made["userName"]) == ("provisioned", "kim.l"), made
    assert ownership.parse(cloud.ram.user_state("kim.l")["user"]["Comments"]).state == "active"


def test_a_leaver_under_the_employees_earlier_logon_name_disables_the_active_user(cloud, mocker):
    """E12 was kim.l (joined, left), then rehired as kim.lee. A leaver that still carries the old logon
    name kim.l (the ledger knows that name: it is kim.l's user's) is matched to the employee's active
    user by the ledger's head: kim.lee is disabled, and the answer says which name the event carried."""
    set_clock(mocker, T0)
    history = (("kim.l", "08:00", "joiner"), ("kim.l", "08:30", "leaver"), ("kim.lee", "09:00", "joiner"))
    for logon, at, kind in history:
        if kind == "joiner":
            done = onboard(logon=logon, employee_id="E12", event_id=f"{kind}-{logon}",
                           occurredAt=f"2026-11-28T{at}:00Z")
        else:
            done = offboarding.handler(as_bytes(dict(leaver(logon, "E12", event_id=f"{kind}-{logon}"),
                                                     occurredAt=f"2026-11-28T{at}:00Z")), None)
        assert done["status"] == ("provisioned" if kind == "joiner" else "disabled"), done
    gone = offboarding.handler(as_bytes(dict(leaver("kim.l", "E12", event_id="leaver-again"),
                                             occurredAt="2026-11-28T09:30:00Z")), None)
    assert (gone["status"], gone["userName"], gone["logonNameInEvent"]) == ("disabled", "kim.lee", "kim.l"), gone
    state = cloud.ram.user_state("kim.lee")
    assert ownership.parse(state["user"]["Comments"]).state == "disabled"
    assert [k["Status"] for k in state["access_keys"]] == ["Inactive"] and not state["login_profile"]
