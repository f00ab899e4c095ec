"""Old or unrelated onboarding events must not undo an offboarding (found in review):
a stale event (FC's async retry, a replayed webhook) leaves a leaver disabled, and a mover
does not cancel a scheduled leave."""
from datetime import timedelta

import offboarding
import onboarding
from provisioner.domain import ownership

from tests.conftest import as_bytes
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

    assert onboard(level="full", event_id="mover", endDate="2027-06-30")["status"] == "provisioned"
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
