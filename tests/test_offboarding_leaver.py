"""Leaver events: disable now, schedule a future day, never touch what is not ours."""
import json

import offboarding
import pytest
from provisioner.adapters import webhook
from provisioner.domain import ownership
from provisioner.platform import runtime

from tests.conftest import as_bytes
from tests.offboarding_support import comments, leaver, make_user, marker, set_clock, utc

NOW = "2026-11-28T10:00:00Z"


@pytest.fixture
def clock(mocker, cloud):
    return set_clock(mocker, NOW)


def test_leaver_now_disables_keeps_keys_inactive_and_marks_last(cloud, ram, kms, clock):
    keys = make_user(ram, kms, "alice.wang", "E1", keys=2, login=True)
    m = cloud.calls.mark()

    result = offboarding.handler(as_bytes(leaver("alice.wang", "E1")), None)

    assert result["status"] == "disabled"
    assert result["userName"] == "alice.wang"
    assert result["disabledAt"] == NOW
    state = cloud.ram.user_state("alice.wang")
    assert state["login_profile"] is False
    assert sorted(k["AccessKeyId"] for k in state["access_keys"]) == sorted(keys)   # kept for a rehire
    assert {k["Status"] for k in state["access_keys"]} == {"Inactive"}
    parsed = ownership.parse(state["user"]["Comments"])
    assert (parsed.state, parsed.employee_id, parsed.disabled_at) == ("disabled", "E1", utc(NOW))
    assert state["user"]["Comments"] == f"hrrp:v1;emp=E1;st=disabled;at={NOW}"
    mutating = [c.action for c in cloud.calls.mutating(m)]
    # the event is recorded in the employee's ledger first (docs/concurrency.md), then RAM is changed
    # the credentials, then the ARMS grant (out of our group), the marker last
    assert mutating == ["CreateSecret", "DeleteLoginProfile", "UpdateAccessKey", "UpdateAccessKey",
                        "RemoveUserFromGroup", "UpdateUser"]
    assert cloud.calls.mutating(m)[0].params["SecretName"] == "ram-user/ledger/E1"
    assert state["groups"] == []
    assert not any(c.action == "GetSecretValue" for c in cloud.calls.since(m))


def test_leaver_again_is_disabled_with_zero_mutating_calls(cloud, ram, kms, clock):
    make_user(ram, kms, "alice.wang", "E1")
    event = leaver("alice.wang", "E1")
    first = offboarding.handler(as_bytes(event), None)
    m = cloud.calls.mark()
    second = offboarding.handler(as_bytes(event), None)
    assert cloud.calls.mutating(m, ok_only=False) == []
    assert second["status"] == first["status"] == "disabled"
    assert second["disabledAt"] == first["disabledAt"]


def test_last_working_day_past_disables_now(cloud, ram, kms, clock):
    make_user(ram, kms, "bob", "E2", login=False)
    result = offboarding.handler(as_bytes(leaver("bob", "E2", last_day="2026-11-27")), None)
    assert result["status"] == "disabled"
    assert ownership.parse(comments(cloud, "bob")).state == "disabled"


def test_future_last_working_day_is_scheduled_once(cloud, ram, kms, clock):
    make_user(ram, kms, "carol", "E3")
    event = leaver("carol", "E3", last_day="2026-12-31")
    m = cloud.calls.mark()
    result = offboarding.handler(as_bytes(event), None)
    assert result["status"] == "scheduled"
    assert result["lastWorkingDay"] == "2026-12-31"
    assert [c.action for c in cloud.calls.mutating(m)] == ["CreateSecret", "UpdateUser"]    # ledger, marker
    assert comments(cloud, "carol") == "hrrp:v1;emp=E3;st=active;leave=2026-12-31"
    state = cloud.ram.user_state("carol")
    assert state["login_profile"] and {k["Status"] for k in state["access_keys"]} == {"Active"}

    m = cloud.calls.mark()
    again = offboarding.handler(as_bytes(event), None)
    assert again["status"] == "scheduled"
    assert cloud.calls.mutating(m, ok_only=False) == []


def test_today_is_not_over_yet_so_it_is_scheduled(cloud, ram, kms, clock):
    make_user(ram, kms, "dan", "E4")
    result = offboarding.handler(as_bytes(leaver("dan", "E4", last_day="2026-11-28")), None)
    assert result["status"] == "scheduled"


@pytest.mark.parametrize("tz, expected", [("Asia/Shanghai", "disabled"), ("UTC", "scheduled"),
                                          ("America/Los_Angeles", "scheduled")])
def test_day_ended_in_hr_timezone_but_not_in_utc(cloud, ram, kms, mocker, monkeypatch, tz, expected):
    # 2026-11-27T17:00Z is already 2026-11-28 01:00 in Shanghai, still the 27th in UTC and LA.
    monkeypatch.setenv("HR_TIMEZONE", tz)
    runtime.reset()
    set_clock(mocker, "2026-11-27T17:00:00Z")
    make_user(ram, kms, "erin", "E5")
    result = offboarding.handler(as_bytes(leaver("erin", "E5", last_day="2026-11-27")), None)
    assert result["status"] == expected


def test_earlier_leaver_event_overrides_a_scheduled_day(cloud, ram, kms, clock):
    make_user(ram, kms, "fay", "E6", comments=marker("E6", end="2027-06-30"))     # contractor endDate
    result = offboarding.handler(as_bytes(leaver("fay", "E6")), None)
    assert result["status"] == "disabled"


@pytest.mark.parametrize("foreign_comments", [
    None, "", "created by hand", "hrrp:v1;emp=E999;st=active", "hrrp:v2;emp=E7;st=active",
    "hrrp:v1;emp=E7;st=active;evil=<script>"])
def test_user_not_ours_is_a_conflict_with_zero_mutating_calls(cloud, ram, kms, clock, foreign_comments):
    make_user(ram, kms, "gus", "E7", comments=foreign_comments or "", secret=None)
    before = cloud.ram.user_state("gus")
    m = cloud.calls.mark()
    result = offboarding.handler(as_bytes(leaver("gus", "E7")), None)
    assert result["status"] == "conflict"
    assert cloud.calls.mutating(m, ok_only=False) == []
    assert cloud.ram.user_state("gus") == before


def test_conflict_over_the_http_trigger_is_409(cloud, ram, kms, clock):
    make_user(ram, kms, "gus", "E7", comments="made by the admin", secret=None)
    body = json.dumps(leaver("gus", "E7")).encode()
    event = {"version": "v1", "rawPath": "/", "body": body.decode(), "isBase64Encoded": False,
             "headers": {"X-HR-Signature": webhook.sign("test-webhook-key", body)},
             "queryParameters": {}, "requestContext": {"http": {"method": "POST"}}}
    m = cloud.calls.mark()
    answer = offboarding.handler(as_bytes(event), None)
    assert answer["statusCode"] == 409
    assert json.loads(answer["body"])["status"] == "conflict"
    assert cloud.calls.mutating(m, ok_only=False) == []


def test_absent_user_is_not_found_never_deleted(cloud, clock):
    m = cloud.calls.mark()
    result = offboarding.handler(as_bytes(leaver("nobody", "E8")), None)
    assert result["status"] == "not-found"
    # nothing in RAM; the leaver is recorded (a tombstone, so a joiner older in HR order stays refused)
    assert [(c.action, c.params.get("SecretName")) for c in cloud.calls.mutating(m, ok_only=False)] == [
        ("CreateSecret", "ram-user/ledger/E8")]


def test_eventbridge_batch_of_leavers(cloud, ram, kms, clock):
    make_user(ram, kms, "hal", "E9")
    make_user(ram, kms, "ivy", "E10")
    events = [{"specversion": "1.0", "id": str(i), "source": "hr", "type": "employee.offboarded",
               "time": NOW, "data": json.dumps(e)}
              for i, e in enumerate([leaver("hal", "E9"), leaver("ivy", "E10", last_day="2027-01-31")])]
    results = offboarding.handler(as_bytes(events), None)
    assert [r["status"] for r in results] == ["disabled", "scheduled"]


def test_invalid_event_names_each_problem_and_makes_no_call(cloud, clock):
    m = cloud.calls.mark()
    bad = leaver("Bad Name", "E 1", last_day="2026-02-30")
    bad["extra"] = 1
    result = offboarding.handler(as_bytes(bad), None)
    assert result["status"] == "rejected"
    assert {p["path"] for p in result["errors"]} == {
        "$.employee.logonName", "$.employee.employeeId", "$.lastWorkingDay", "$.extra"}
    assert cloud.calls.since(m) == []


@pytest.mark.parametrize("step", ["DeleteLoginProfile", "UpdateAccessKey", "UpdateUser"])
@pytest.mark.parametrize("mode", ["fail", "drop-after"])
def test_crash_at_each_disable_step_then_redelivery_converges(cloud, ram, kms, clock, monkeypatch, step, mode):
    from provisioner.cloud.errors import TransientError
    monkeypatch.setenv("RETRY_MAX_ATTEMPTS", "1")
    runtime.reset()
    make_user(ram, kms, "jay", "E11", keys=2)
    if mode == "fail":
        cloud.faults.fail(step, "ServiceUnavailable", 503, times=1)
    else:
        cloud.faults.drop(step, times=1, after=True)
    event = leaver("jay", "E11")
    with pytest.raises(TransientError):
        offboarding.handler(as_bytes(event), None)
    if not (mode == "drop-after" and step == "UpdateUser"):
        assert ownership.parse(comments(cloud, "jay")).state == "active"   # marker last: still re-doable
    result = offboarding.handler(as_bytes(event), None)
    assert result["status"] == "disabled"
    state = cloud.ram.user_state("jay")
    assert not state["login_profile"] and {k["Status"] for k in state["access_keys"]} == {"Inactive"}
    assert ownership.parse(state["user"]["Comments"]).state == "disabled"


# -- issue 15: each found by a surviving mutant of workflows/converge.py ----------------------------
def test_a_leaver_under_a_new_logon_name_disables_the_user_made_before_the_ledger(cloud, ram, kms, clock):
    """No ledger yet (a user made before it existed): a leaver whose logonName matches nobody is matched
    by employeeId, disables that user and says which logon name the event carried."""
    make_user(ram, kms, "kim.lee", "E12", keys=1, login=True)
    result = offboarding.handler(as_bytes(leaver("kim.l", "E12")), None)
    assert (result["status"], result["userName"], result["logonNameInEvent"]) == ("disabled", "kim.lee", "kim.l")
    state = cloud.ram.user_state("kim.lee")
    assert ownership.parse(state["user"]["Comments"]).state == "disabled"
    assert [k["Status"] for k in state["access_keys"]] == ["Inactive"] and not state["login_profile"]
    assert cloud.ram.user_state("kim.l") is None


def test_a_leaver_needs_no_account_id_or_alias(cloud, ram, kms, clock, monkeypatch):
    """Only a joiner forms a logon name (alias or account id): a leaver in an account with neither
    still disables the user."""
    for name in ("ACCOUNT_ID", "FC_ACCOUNT_ID"):
        monkeypatch.delenv(name, raising=False)
    runtime.reset()
    cloud.ram.alias = ""
    make_user(ram, kms, "lou", "E13", keys=1, login=True)
    result = offboarding.handler(as_bytes(leaver("lou", "E13")), None)
    assert result["status"] == "disabled"
    state = cloud.ram.user_state("lou")
    assert [k["Status"] for k in state["access_keys"]] == ["Inactive"] and not state["login_profile"]
    assert ownership.parse(state["user"]["Comments"]).state == "disabled"


def test_a_leaver_delivered_again_later_keeps_the_first_disable_instant(cloud, ram, kms, clock, mocker):
    make_user(ram, kms, "max", "E14", keys=1, login=True)
    event = leaver("max", "E14")
    first = offboarding.handler(as_bytes(event), None)
    assert first["disabledAt"] == NOW
    set_clock(mocker, "2026-11-28T13:30:00Z")
    again = offboarding.handler(as_bytes(event), None)
    assert (again["status"], again["disabledAt"]) == ("disabled", NOW)
    assert ownership.parse(comments(cloud, "max")).disabled_at == utc(NOW)


def test_a_leavers_conflict_gives_the_detail_and_no_joiner_reason(cloud, ram, kms, clock):
    make_user(ram, kms, "ned", "E15", comments="created by hand", secret=None)
    result = offboarding.handler(as_bytes(leaver("ned", "E15")), None)
    assert result["status"] == "conflict"
    assert result["detail"] == "the RAM user was not created by hr-ram-provisioner" and "reason" not in result


def test_in_user_mode_a_leaver_keeps_the_direct_attachment_and_answers_disabled(user_mode, ram, kms, clock):
    """GRANT_MODE=user: the ARMS policy attached to the user stays (the user has no credential left); the
    re-check after the disable does not count it as access to take away."""
    make_user(ram, kms, "oli", "E16", keys=1, login=True, groups=(), policies=("AliyunARMSReadOnlyAccess",))
    result = offboarding.handler(as_bytes(leaver("oli", "E16")), None)
    assert result["status"] == "disabled"
    state = user_mode.ram.user_state("oli")
    assert [k["Status"] for k in state["access_keys"]] == ["Inactive"] and not state["login_profile"]
    assert ownership.parse(state["user"]["Comments"]).state == "disabled"
    assert state["policies"] == ["AliyunARMSReadOnlyAccess"]


# -- issue 15: each found by a surviving mutant of cloud/directory.py ---------------------------------------
def test_a_leaver_under_an_unknown_logon_name_disables_the_employees_active_user_not_another(cloud, ram, kms, clock):
    """No ledger yet: the leaver for kim.l (no such user) is matched by employeeId among every user's
    marker. E12 has an old user, disabled (kim.lee), and an active one (kim.lee2), listed in that
    order; other employees' active users (E11, E13) are listed before both. The active user of E12 is
    the one disabled; nobody else is touched."""
    make_user(ram, kms, "aaron", "E11", keys=1, login=False)
    make_user(ram, kms, "abe", "E13", keys=1, login=False)
    make_user(ram, kms, "kim.lee", "E12", comments=marker("E12", state="disabled", at="2026-10-01T00:00:00Z"),
              keys=1, login=False, groups=(), inactive_keys=True)
    make_user(ram, kms, "kim.lee2", "E12", keys=1, login=True)
    before = {name: cloud.ram.user_state(name) for name in ("aaron", "abe", "kim.lee")}
    result = offboarding.handler(as_bytes(leaver("kim.l", "E12")), None)
    assert (result["status"], result["userName"], result["logonNameInEvent"]) == ("disabled", "kim.lee2", "kim.l")
    state = cloud.ram.user_state("kim.lee2")
    assert ownership.parse(state["user"]["Comments"]).state == "disabled"
    assert [k["Status"] for k in state["access_keys"]] == ["Inactive"] and not state["login_profile"]
    assert {name: cloud.ram.user_state(name) for name in before} == before


# -- issue 15: workflows/converge.py survivors (active_before's "no joiner in the ledger" test) -------------
def test_a_scheduled_leaver_under_a_new_logon_name_schedules_the_user_made_before_the_ledger(cloud, ram, kms, clock):
    """No ledger yet: a leaver for kim.l (no such user) with a lastWorkingDay ahead is matched by employeeId
    to kim.lee, a user made before the ledger. The ledger the leaver begins names kim.l (the event's logon
    name), so only kim.lee's own marker can say the fold starts active: the leave is scheduled, nothing is
    taken away yet."""
    make_user(ram, kms, "kim.lee", "E12", keys=1, login=True)
    result = offboarding.handler(as_bytes(leaver("kim.l", "E12", last_day="2026-12-31")), None)
    assert (result["status"], result["userName"], result["logonNameInEvent"], result["lastWorkingDay"]) == \
        ("scheduled", "kim.lee", "kim.l", "2026-12-31")
    state = cloud.ram.user_state("kim.lee")
    assert state["user"]["Comments"] == "hrrp:v1;emp=E12;st=active;leave=2026-12-31"
    assert [k["Status"] for k in state["access_keys"]] == ["Active"] and state["login_profile"]
    assert cloud.ram.user_state("kim.l") is None


# A defect found triaging workflows/converge.py (issue 15), fixed: the ledger a leaver under an unknown
# logon name begins records the entry under the event's name (kim.l) and tags that name's hash with the
# user it found (kim.lee). The next leaver for kim.l saw a head "for kim.l" and kept user_name = kim.l: no
# such user, history -> "deleted", and kim.lee was never looked at again (a leave effective now left it
# active until its scheduled day). run_event now follows the tag to kim.lee.
@pytest.mark.parametrize("found", ["kim.lee", "kim.a"])      # sorting after and before the event's kim.l
def test_a_leaver_under_a_new_logon_name_delivered_again_answers_as_the_first_time(cloud, ram, kms, clock, found):
    make_user(ram, kms, found, "E12", keys=1, login=True)
    event = leaver("kim.l", "E12")
    first = offboarding.handler(as_bytes(event), None)
    again = offboarding.handler(as_bytes(event), None)
    assert (first["status"], first["userName"], first["logonNameInEvent"]) == ("disabled", found, "kim.l")
    assert (again["status"], again["userName"], again["disabledAt"], again["logonNameInEvent"]) == (
        "disabled", found, first["disabledAt"], "kim.l")


def test_a_leaver_for_a_user_deleted_since_looks_up_no_other_user(cloud, ram, kms, clock):
    """The ledger's tag for the event's own logon name names that name: a leaver again after the user was
    deleted answers ``deleted`` and reads the user once, not a second time under the same name."""
    make_user(ram, kms, "kim.lee", "E12", keys=0, login=False)
    assert offboarding.handler(as_bytes(leaver("kim.lee", "E12")), None)["status"] == "disabled"
    cloud.ram.delete_user("kim.lee")
    m = cloud.calls.mark()
    again = offboarding.handler(as_bytes(leaver("kim.lee", "E12")), None)
    assert (again["status"], again["userName"]) == ("deleted", "kim.lee") and "logonNameInEvent" not in again
    calls = [c.action for c in cloud.calls.since(m)]
    # the ledger, the user, the ledger's tag for kim.lee (kim.lee itself: no second read of it), the
    # append, then the round: the ledger, the user (the fold's start, then the disable's), the re-check
    assert calls == ["ListSecretVersionIds", "GetUser", "DescribeSecret", "PutSecretValue",
                     "ListSecretVersionIds", "GetUser", "GetUser", "ListSecretVersionIds"], calls


def test_a_leaver_now_after_a_scheduled_one_under_a_new_logon_name_disables_the_found_user(cloud, ram, kms,
                                                                                          clock):
    make_user(ram, kms, "kim.lee", "E12", keys=1, login=True)
    first = offboarding.handler(as_bytes(leaver("kim.l", "E12", last_day="2026-12-31")), None)
    assert (first["status"], first["userName"]) == ("scheduled", "kim.lee")
    now = offboarding.handler(as_bytes(leaver("kim.l", "E12")), None)
    state = cloud.ram.user_state("kim.lee")
    assert ownership.parse(state["user"]["Comments"]).state == "disabled"
    assert [k["Status"] for k in state["access_keys"]] == ["Inactive"] and not state["login_profile"]
    assert (now["status"], now["userName"]) == ("disabled", "kim.lee")


def test_a_leaver_nobody_matches_scans_the_users_once(cloud, ram, kms, clock):
    """No ledger, no user by the event's logon name, none with its employee id: ``not-found`` after one
    ListUsers scan (workflows/converge.py: the look-up by employee id is made once per event; the
    joiner's own look-up, for the employee's active user under another name, is not a leaver's)."""
    make_user(ram, kms, "aaron", "E11", keys=1, login=False)
    m = cloud.calls.mark()
    result = offboarding.handler(as_bytes(leaver("kim.l", "E12")), None)
    assert result["status"] == "not-found", result
    assert [c.action for c in cloud.calls.since(m)].count("ListUsers") == 1
