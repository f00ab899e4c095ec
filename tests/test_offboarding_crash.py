"""A crash at every step of a deletion, then another sweep: the user is gone, the secret scheduled.

"Crash" = the step fails with no in-invocation retry left (RETRY_MAX_ATTEMPTS=1), either before it
ran (``fail``) or after it ran with the answer lost (``drop-after``); the sweep ends with
TransientError exactly as an invocation killed there would end, and the next sweep must finish.
"""
from datetime import timedelta

import offboarding
import pytest
from provisioner.cloud.errors import TransientError
from provisioner.platform import runtime

from tests.conftest import as_bytes
from tests.offboarding_support import make_user, marker, secret_state, set_clock, timer, utc

T0 = "2026-11-28T10:00:00Z"
GENERIC_STEPS = ["DetachPolicyFromUser", "RemoveUserFromGroup", "DeleteAccessKey", "DeleteLoginProfile",
                 "UnbindMFADevice", "DeleteVirtualMFADevice", "DeleteUser", "DeleteSecret"]
RAM_CREDENTIALS_STEPS = ["DeleteSecret"] + GENERIC_STEPS[:-1]


def sweep():
    return offboarding.handler(as_bytes(timer()), None)


def setup_user(cloud, ram, kms, mocker, monkeypatch, secret_type, attempts):
    monkeypatch.setenv("OFFBOARD_GRACE_DAYS", "30")
    monkeypatch.setenv("RETRY_MAX_ATTEMPTS", str(attempts))
    runtime.reset()
    cloud.ram.add_custom_policy("team-extra")
    # disabled 31 days ago; a login profile re-appeared meanwhile, so every kind of step is present
    make_user(ram, kms, "zoe", "E1", comments=marker("E1", state="disabled", at=T0), keys=2, login=True, mfa=True,
              groups=("hr-arms-read-only", "arms-team", "oncall"), policies=("ReadOnlyAccess",),
              custom_policies=("team-extra",), secret=secret_type)
    make_user(ram, kms, "zz.bystander", "E2", comments=marker("E2", state="disabled", at=T0), mfa=True,
              groups=("oncall",))
    set_clock(mocker, utc(T0) + timedelta(days=31))
    return "acs/ram/user/zoe" if secret_type == "RAMCredentials" else "ram-user/zoe"


def assert_finished(cloud, secret_name, mfa_leak_expected=False):
    assert cloud.ram.user_state("zoe") is None and cloud.ram.user_state("zz.bystander") is None
    assert secret_state(cloud, secret_name)["deleting"] is True
    assert secret_state(cloud, "ram-user/zz.bystander")["deleting"] is True
    assert [c for c in cloud.calls.since(0) if c.code.startswith("DeleteConflict")] == []
    devices = cloud.ram.mfa_devices()
    if mfa_leak_expected:
        # Known gap: killed between UnbindMFADevice and DeleteVirtualMFADevice, the device is left
        # unbound (usable by nobody); nothing in RAM still ties it to the deleted user.
        assert list(devices) == ["acs:ram::1234567890123456:mfa/mfa-zoe"]
        assert all(d["UserId"] is None for d in devices.values())
    else:
        assert devices == {}


@pytest.mark.parametrize("secret_type, step", [("Generic", s) for s in GENERIC_STEPS]
                         + [("RAMCredentials", s) for s in RAM_CREDENTIALS_STEPS])
@pytest.mark.parametrize("mode", ["fail", "drop-after"])
def test_crash_at_each_deletion_step_then_next_sweep_finishes(cloud, ram, kms, mocker, monkeypatch, capsys,
                                                              secret_type, step, mode):
    secret_name = setup_user(cloud, ram, kms, mocker, monkeypatch, secret_type, attempts=1)
    if mode == "fail":
        cloud.faults.fail(step, "ServiceUnavailable", 503, times=1)
    else:
        cloud.faults.drop(step, times=1, after=True)
    capsys.readouterr()
    with pytest.raises(TransientError):
        sweep()
    out = capsys.readouterr().out
    if step == "DeleteVirtualMFADevice":     # the failed row names the serial left to clean up
        assert ('"failedStep": {"action": "DeleteVirtualMFADevice", '
                '"SerialNumber": "acs:ram::1234567890123456:mfa/mfa-zoe"}') in out
    assert cloud.ram.user_state("zz.bystander") is None               # the other user was finished regardless
    if not (mode == "drop-after" and step == "DeleteUser"):
        assert cloud.ram.user_state("zoe") is not None or step == "DeleteSecret"
    report = sweep()
    assert report["counts"]["failed"] == 0
    killed_between_unbind_and_delete = (mode, step) in (("drop-after", "UnbindMFADevice"),
                                                        ("fail", "DeleteVirtualMFADevice"))
    assert_finished(cloud, secret_name, mfa_leak_expected=killed_between_unbind_and_delete)
    m = cloud.calls.mark()
    third = sweep()                                          # and then there is nothing left to do
    assert third["users"] == [] and cloud.calls.mutating(m, ok_only=False) == []


@pytest.mark.parametrize("step", GENERIC_STEPS)
def test_one_fault_per_step_is_absorbed_by_the_retry_inside_one_sweep(cloud, ram, kms, mocker, monkeypatch, step):
    secret_name = setup_user(cloud, ram, kms, mocker, monkeypatch, "Generic", attempts=3)
    cloud.faults.drop(step, times=1, after=True)             # ran, answer lost; the retry finds it done
    cloud.faults.throttle(step, times=1)
    report = sweep()
    assert report["counts"]["deleted"] == 2 and report["counts"]["failed"] == 0
    assert_finished(cloud, secret_name)
