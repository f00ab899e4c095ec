"""Leaver → rehire through both real handlers: the state offboarding writes is what onboarding reads."""
import json
from datetime import date, timedelta

import offboarding
import onboarding
import pytest
from provisioner.domain import ownership
from provisioner.platform import runtime

from tests.conftest import as_bytes
from tests.offboarding_support import leaver, secret_state, set_clock, timer, utc
from tests.onboarding_support import REHIRE_AT
from tests.onboarding_support import event as joiner

T0 = "2026-11-28T10:00:00Z"
NAME, EMP, SECRET = "alice.wang", "E10023", "ram-user/alice.wang"


def onboard(**kw):
    return onboarding.handler(as_bytes(joiner(**kw)), None)


def offboard(**kw):
    return offboarding.handler(as_bytes(leaver(NAME, EMP, **kw)), None)


def sweep():
    return offboarding.handler(as_bytes(timer()), None)


def active_keys(cloud):
    return [k["AccessKeyId"] for k in cloud.ram.user_state(NAME)["access_keys"] if k["Status"] == "Active"]


@pytest.mark.parametrize("mode", ["programmatic", "console"])
def test_leaver_then_rehire_inside_the_grace_period(cloud, mocker, mode):
    set_clock(mocker, T0)
    assert onboard(mode=mode)["status"] == "provisioned"
    assert offboard()["status"] == "disabled"
    state = cloud.ram.user_state(NAME)
    assert not state["login_profile"] and active_keys(cloud) == []

    set_clock(mocker, utc(REHIRE_AT) + timedelta(hours=1))        # the rehire happens days later
    result = onboard(mode=mode, event_id="rehire", occurredAt=REHIRE_AT)
    assert result["status"] == "provisioned" and result.get("rehired") is True
    state = cloud.ram.user_state(NAME)
    assert ownership.parse(state["user"]["Comments"]).state == "active"
    assert (len(active_keys(cloud)) == 1) if mode == "programmatic" else state["login_profile"]

    set_clock(mocker, utc(T0) + timedelta(days=60))
    m = cloud.calls.mark()
    report = sweep()                                         # the grace period is over, but she is back
    assert report["users"] == [] and cloud.calls.mutating(m, ok_only=False) == []
    assert cloud.ram.user_state(NAME) is not None and secret_state(cloud, SECRET)["deleting"] is False


def test_leaver_deleted_then_rehired_gets_the_secret_restored_and_can_leave_again(cloud, mocker, monkeypatch):
    monkeypatch.setenv("OFFBOARD_GRACE_DAYS", "0")
    runtime.reset()
    set_clock(mocker, T0)
    onboard()
    assert offboard()["status"] == "disabled"
    set_clock(mocker, utc(T0) + timedelta(days=1))
    assert sweep()["counts"]["deleted"] == 1
    assert cloud.ram.user_state(NAME) is None and secret_state(cloud, SECRET)["deleting"] is True
    assert offboard()["status"] == "deleted"     # a late duplicate leaver: the ledger remembers it was ours

    # RestoreSecret, new user, new key
    set_clock(mocker, utc(REHIRE_AT) + timedelta(hours=1))
    assert onboard(event_id="rehire", occurredAt=REHIRE_AT)["status"] == "provisioned"
    assert secret_state(cloud, SECRET)["deleting"] is False and len(active_keys(cloud)) == 1
    m = cloud.calls.mark()
    assert sweep()["users"] == []                            # her secret is no orphan: the user exists again
    assert cloud.calls.mutating(m, ok_only=False) == []

    set_clock(mocker, utc(REHIRE_AT) + timedelta(days=1))
    assert offboard(last_day="2026-12-03")["status"] == "scheduled"     # leaves again, at the end of the day
    set_clock(mocker, utc(REHIRE_AT) + timedelta(days=2))
    assert sweep()["counts"]["disabled"] == 1
    set_clock(mocker, utc(REHIRE_AT) + timedelta(days=2, minutes=1))
    assert sweep()["counts"] == {"disabled": 0, "deleted": 1, "secretsScheduled": 1, "pending": 0, "skipped": 0,
                                 "failed": 0}
    assert cloud.ram.user_state(NAME) is None and secret_state(cloud, SECRET)["deleting"] is True
    assert [c for c in cloud.calls.since(0) if c.code.startswith("DeleteConflict")] == []


def test_contractor_end_date_from_onboarding_is_swept_in_hr_timezone(cloud, mocker, monkeypatch):
    monkeypatch.setenv("HR_TIMEZONE", "Asia/Shanghai")
    runtime.reset()
    set_clock(mocker, T0)
    onboard(endDate="2027-06-30")
    set_clock(mocker, "2027-06-30T15:59:00Z")               # 23:59 on the 30th in Shanghai
    assert sweep()["counts"]["disabled"] == 0
    set_clock(mocker, "2027-06-30T16:00:00Z")
    assert sweep()["counts"]["disabled"] == 1
    assert ownership.parse(cloud.ram.user_state(NAME)["user"]["Comments"]).state == "disabled"
    assert active_keys(cloud) == []


@pytest.mark.parametrize("secret_type", ["Generic", "RAMCredentials"])
def test_a_rehire_never_keeps_the_old_access_key(cloud, mocker, monkeypatch, secret_type):
    """By outcome (issue 15): after leaver -> rehire through both handlers, the leaver's AccessKey is
    gone from RAM (not merely inactive, not reactivated) and KMS holds the new key, the only one."""
    monkeypatch.setenv("SECRET_TYPE", secret_type)
    runtime.reset()
    name = SECRET if secret_type == "Generic" else "acs/ram/user/" + NAME
    set_clock(mocker, T0)
    assert onboard()["status"] == "provisioned"
    [old] = active_keys(cloud)
    first = secret_state(cloud, name)["current"]
    old_secret = first["AccessKeySecret"] if secret_type == "Generic" else first["AccessKeys"][0]["AccessKeySecret"]
    assert offboard()["status"] == "disabled"
    assert active_keys(cloud) == []

    set_clock(mocker, utc(REHIRE_AT) + timedelta(hours=1))
    assert onboard(event_id="rehire", occurredAt=REHIRE_AT)["status"] == "provisioned"
    keys = cloud.ram.user_state(NAME)["access_keys"]
    assert [k["Status"] for k in keys] == ["Active"]
    [new] = [k["AccessKeyId"] for k in keys]
    assert new != old and old not in [k["AccessKeyId"] for k in keys]
    held = secret_state(cloud, name)
    assert held["current_version"] == new
    value = held["current"]
    stored = value["AccessKeyId"] if secret_type == "Generic" else [k["AccessKeyId"] for k in value["AccessKeys"]]
    assert stored == (new if secret_type == "Generic" else [new])
    assert old_secret not in json.dumps(value)               # never compared in a message: no credential printed


@pytest.mark.parametrize("keys, inactive", [(1, False), (2, True)])
def test_a_rehire_mints_a_new_key_whatever_the_leaver_left(cloud, ram, kms, mocker, keys, inactive):
    """A user disabled before the ledger whose key was handed out before (still Active: reactivated by
    hand), or who holds RAM's limit of two keys: the rehire's key is new, the old ones are gone."""
    from tests.offboarding_support import make_user, marker
    old = make_user(ram, kms, NAME, EMP, comments=marker(EMP, state="disabled", at=T0), keys=keys, login=False,
                    inactive_keys=inactive)
    set_clock(mocker, utc(REHIRE_AT) + timedelta(hours=1))
    assert onboard(event_id="rehire", occurredAt=REHIRE_AT)["status"] == "provisioned"
    state = cloud.ram.user_state(NAME)
    assert [k["Status"] for k in state["access_keys"]] == ["Active"]
    [new] = [k["AccessKeyId"] for k in state["access_keys"]]
    assert new not in old
    held = secret_state(cloud, SECRET)
    assert held["current_version"] == new and held["current"]["AccessKeyId"] == new


@pytest.mark.parametrize("later_leave", [False, True], ids=["rehire", "rehire-then-future-leave"])
def test_the_sweep_never_deletes_a_leaver_whose_rehire_is_being_applied(cloud, mocker, monkeypatch, later_leave):
    """Issue 15 (found by surviving mutants): the rehire is in the ledger but not applied to the user
    yet (its instance failed right after recording it and waits for FC's retry): the user still
    reads "disabled, grace over", yet the sweep must not delete it. Also when a leave for a later day
    followed the rehire (the user is to be active until then). Then the retries finish."""
    from provisioner.cloud.errors import TransientError
    monkeypatch.setenv("OFFBOARD_GRACE_DAYS", "0")
    monkeypatch.setenv("RETRY_MAX_ATTEMPTS", "1")
    runtime.reset()
    set_clock(mocker, T0)
    assert onboard()["status"] == "provisioned"
    assert offboard()["status"] == "disabled"
    set_clock(mocker, utc(REHIRE_AT) + timedelta(hours=1))
    cloud.faults.fail("UpdateUser", "ServiceUnavailable", 503, times=2 if later_leave else 1)   # first RAM write
    with pytest.raises(TransientError):
        onboard(event_id="rehire", occurredAt=REHIRE_AT)
    later = leaver(NAME, EMP, last_day="2026-12-20", event_id="later-leave")
    later["occurredAt"] = (utc(REHIRE_AT) + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if later_leave:
        with pytest.raises(TransientError):
            offboarding.handler(as_bytes(later), None)
    assert ownership.parse(cloud.ram.user_state(NAME)["user"]["Comments"]).state == "disabled"

    m = cloud.calls.mark()
    report = sweep()
    assert [(r["userName"], r["action"], r.get("reason")) for r in report["users"]] == [
        (NAME, "skipped", "no longer due on re-read")]
    assert [c.action for c in cloud.calls.since(m) if c.action.startswith("Delete")] == []
    assert cloud.ram.user_state(NAME) is not None and secret_state(cloud, SECRET)["deleting"] is False

    result = onboard(event_id="rehire", occurredAt=REHIRE_AT)               # FC's retries
    assert result["status"] == "provisioned", result
    if later_leave:
        assert offboarding.handler(as_bytes(later), None)["status"] == "scheduled"
    marker = ownership.parse(cloud.ram.user_state(NAME)["user"]["Comments"])
    assert marker.state == "active" and marker.leave_date == (date(2026, 12, 20) if later_leave else None)
    assert len(active_keys(cloud)) == 1


# -- issue 15: found by a surviving mutant of workflows/converge.py --------------------------------
def test_a_rehire_under_a_new_logon_name_makes_that_user_and_leaves_the_old_one_disabled(cloud, mocker):
    """E10023 left as alice.wang (disabled); HR rehires the person as alice.w: alice.w is made and
    active, alice.wang stays disabled (one employee, at most one active user; the event's logon name
    is the one HR asked for)."""
    set_clock(mocker, T0)
    assert onboard()["status"] == "provisioned"
    assert offboard()["status"] == "disabled"
    set_clock(mocker, utc(REHIRE_AT) + timedelta(hours=1))
    result = onboard(logon="alice.w", event_id="rehire", occurredAt=REHIRE_AT)
    assert (result["status"], result["userName"]) == ("provisioned", "alice.w") and "logonNameInEvent" not in result
    assert ownership.parse(cloud.ram.user_state("alice.w")["user"]["Comments"]).state == "active"
    old = cloud.ram.user_state(NAME)
    assert ownership.parse(old["user"]["Comments"]).state == "disabled" and active_keys(cloud) == []


def _sweep_until_deleted(cloud):
    """Sweep (at most three runs: disable, then delete) until the user is gone."""
    for _ in range(3):
        if cloud.ram.user_state(NAME) is None:
            break
        sweep()
    assert cloud.ram.user_state(NAME) is None


def test_a_leaver_after_the_sweep_deleted_a_user_whose_contract_ended_answers_deleted(cloud, mocker, monkeypatch):
    """The contract ended (endDate), the sweep disabled and deleted the user; then a leaver (occurred
    before the end was swept) arrives: nothing is left, the answer is ``deleted`` with why."""
    monkeypatch.setenv("OFFBOARD_GRACE_DAYS", "0")
    runtime.reset()
    set_clock(mocker, T0)
    assert onboard(endDate="2026-11-28", occurredAt="2026-11-28T08:00:00Z")["status"] == "provisioned"
    set_clock(mocker, "2026-11-29T01:00:00Z")
    _sweep_until_deleted(cloud)
    event = {"eventId": "leave", "eventType": "employee.offboarded", "occurredAt": "2026-11-28T09:00:00Z",
             "lastWorkingDay": "2026-12-20", "employee": {"employeeId": EMP, "logonName": NAME}}
    answer = offboarding.handler(as_bytes(event), None)
    assert answer["status"] == "deleted" and "contract ended" in answer["reason"], answer
    assert cloud.ram.user_state(NAME) is None


def test_a_rehire_under_a_new_logon_name_of_a_user_disabled_before_the_ledger_makes_the_new_user(
        cloud, ram, kms, mocker):
    """As above, for a person disabled before the ledger existed (no history to find the old name by):
    the joiner makes the logon name it carries; the old user is not brought back."""
    from tests.offboarding_support import make_user, marker
    make_user(ram, kms, NAME, EMP, comments=marker(EMP, state="disabled", at="2026-11-20T10:00:00Z"), login=False,
              inactive_keys=True, groups=())
    set_clock(mocker, T0)
    result = onboard(logon="alice.w", event_id="rehire", occurredAt="2026-11-28T09:00:00Z")
    assert (result["status"], result["userName"]) == ("provisioned", "alice.w") and "logonNameInEvent" not in result
    assert ownership.parse(cloud.ram.user_state("alice.w")["user"]["Comments"]).state == "active"
    old = cloud.ram.user_state(NAME)
    assert ownership.parse(old["user"]["Comments"]).state == "disabled" and active_keys(cloud) == []


def test_an_event_older_than_a_deleted_users_leave_leaves_the_ledger_to_its_deletion(cloud, mocker, monkeypatch):
    """After the sweep deleted the leaver (its ledger scheduled for deletion with it), a mover that
    occurred before the leave arrives late: nothing is made and the ledger is not brought back."""
    monkeypatch.setenv("OFFBOARD_GRACE_DAYS", "0")
    runtime.reset()
    set_clock(mocker, T0)
    joined = {"occurredAt": "2026-11-28T08:00:00Z"}
    assert onboard(**joined)["status"] == "provisioned"
    left = {"eventId": "leave", "eventType": "employee.offboarded", "occurredAt": "2026-11-28T09:00:00Z",
            "employee": {"employeeId": EMP, "logonName": NAME}}
    assert offboarding.handler(as_bytes(left), None)["status"] == "disabled"
    set_clock(mocker, "2026-11-28T11:00:00Z")
    _sweep_until_deleted(cloud)
    assert secret_state(cloud, "ram-user/ledger/" + EMP)["deleting"] is True
    stale = onboard(event_id="late-mover", level="full", occurredAt="2026-11-28T08:30:00Z")   # before the leave
    assert stale["status"] not in ("provisioned", "already-provisioned"), stale
    assert cloud.ram.user_state(NAME) is None
    assert secret_state(cloud, "ram-user/ledger/" + EMP)["deleting"] is True
