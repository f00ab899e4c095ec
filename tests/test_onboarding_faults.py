"""Invariant 6: a fault or a crash at any step of any onboarding flow, then redelivery, converges;
and no AccessKey outlives an event outside KMS (invariant 2).

Faults come from localcloud (``cloud.faults``: error codes, throttling, lost answers where the action
ran but the answer never came back). Crashes are simulated at the SDK edge: the process "dies"
right after the k-th API call returned."""
import pytest
from provisioner.cloud.clients import Cloud
from provisioner.cloud.errors import TransientError

from tests.onboarding_support import (
    REHIRE_AT,
    assert_converged_console,
    assert_converged_programmatic,
    event,
    invoke,
    user_state,
)
from tests.test_onboarding_workflow import offboard_like_offboarding

FULL = "AliyunARMSFullAccess"


def _setup_programmatic(ram, kms):
    invoke(event())


def _setup_console(ram, kms):
    invoke(event(mode="console"))


def _setup_full(ram, kms):
    invoke(event(level="full"))


def _setup_direct_attachment(ram, kms):
    """A user from an earlier version (GRANT_MODE=user): its ARMS policy attached directly."""
    from alibabacloud_ram20150501 import models as rm
    invoke(event())
    ram.remove_user_from_group(rm.RemoveUserFromGroupRequest(group_name="hr-arms-read-only", user_name="alice.wang"))
    ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type="System", policy_name="AliyunARMSReadOnlyAccess",
                                                          user_name="alice.wang"))


def _rehire(setup):
    def run(ram, kms):
        setup(ram, kms)
        offboard_like_offboarding(ram, kms)
    return run


# flow: (setup, the event, its mode, its policy, the calls it makes when nothing fails): the ledger head,
# ownership (a new hire: the employee's active user under another name looked for, ListUsers), the event
# appended; a round (head, reconcile: a programmatic user's secret versions before its
# keys); the re-check (head, keys, profile, secret version)
FLOWS = {
    "new-programmatic": (None, event(), "programmatic", None, [
        "ListSecretVersionIds", "GetUser", "ListUsers", "DescribeSecret", "CreateSecret", "ListSecretVersionIds",
        "GetUser", "DescribeSecret", "GetAccountAlias", "CreateUser", "AddUserToGroup", "CreateAccessKey",
        "CreateSecret", "ListAccessKeys", "ListSecretVersionIds", "GetUser", "ListPoliciesForUser",
        "ListGroupsForUser", "ListAccessKeys", "GetLoginProfile", "ListSecretVersionIds"]),
    "new-console": (None, event(mode="console"), "console", None, [
        "ListSecretVersionIds", "GetUser", "ListUsers", "DescribeSecret", "CreateSecret", "ListSecretVersionIds",
        "GetUser", "DescribeSecret", "GetAccountAlias", "CreateUser", "AddUserToGroup", "DescribeSecret",
        "GetPasswordPolicy", "CreateSecret", "CreateLoginProfile", "ListSecretVersionIds",
        "ListSecretVersionIds", "GetUser", "ListPoliciesForUser", "ListGroupsForUser", "ListAccessKeys",
        "GetLoginProfile", "ListSecretVersionIds"]),
    "rehire-programmatic": (_rehire(_setup_programmatic), event(event_id="r1", occurredAt=REHIRE_AT),
                            "programmatic", None, [
        "ListSecretVersionIds", "GetUser", "DescribeSecret", "PutSecretValue", "ListSecretVersionIds",
        "GetUser", "DescribeSecret", "UpdateUser", "ListPoliciesForUser", "ListGroupsForUser",
        "AddUserToGroup", "GetLoginProfile", "RestoreSecret", "ListAccessKeys", "DeleteAccessKey",
        "CreateAccessKey", "PutSecretValue", "ListAccessKeys", "ListSecretVersionIds", "GetUser",
        "ListPoliciesForUser", "ListGroupsForUser", "ListAccessKeys", "GetLoginProfile",
        "ListSecretVersionIds"]),
    "rehire-console": (_rehire(_setup_console), event(mode="console", event_id="r2", occurredAt=REHIRE_AT),
                       "console", None, [
        "ListSecretVersionIds", "GetUser", "DescribeSecret", "PutSecretValue", "ListSecretVersionIds",
        "GetUser", "DescribeSecret", "UpdateUser", "ListPoliciesForUser", "ListGroupsForUser",
        "AddUserToGroup", "ListAccessKeys", "DescribeSecret", "GetLoginProfile", "RestoreSecret",
        "GetPasswordPolicy", "PutSecretValue", "CreateLoginProfile", "ListSecretVersionIds",
        "ListSecretVersionIds", "GetUser", "ListPoliciesForUser", "ListGroupsForUser", "ListAccessKeys",
        "GetLoginProfile", "ListSecretVersionIds"]),
    "switch-to-console": (_setup_programmatic, event(mode="console", event_id="s1"), "console", None, [
        "ListSecretVersionIds", "GetUser", "DescribeSecret", "PutSecretValue", "ListSecretVersionIds",
        "GetUser", "DescribeSecret", "ListPoliciesForUser", "ListGroupsForUser", "ListAccessKeys",
        "DeleteAccessKey", "DescribeSecret", "GetLoginProfile", "ListSecretVersionIds", "GetPasswordPolicy",
        "PutSecretValue", "CreateLoginProfile", "ListSecretVersionIds", "ListSecretVersionIds", "GetUser",
        "ListPoliciesForUser", "ListGroupsForUser", "ListAccessKeys", "GetLoginProfile",
        "ListSecretVersionIds"]),
    "switch-to-programmatic": (_setup_console, event(event_id="s2"), "programmatic", None, [
        "ListSecretVersionIds", "GetUser", "DescribeSecret", "PutSecretValue", "ListSecretVersionIds",
        "GetUser", "DescribeSecret", "ListPoliciesForUser", "ListGroupsForUser", "GetLoginProfile",
        "DeleteLoginProfile", "ListSecretVersionIds", "ListAccessKeys", "CreateAccessKey", "PutSecretValue",
        "ListAccessKeys", "ListSecretVersionIds", "GetUser", "ListPoliciesForUser", "ListGroupsForUser",
        "ListAccessKeys", "GetLoginProfile", "ListSecretVersionIds"]),
    "mover": (_setup_programmatic, event(level="full", event_id="m1"), "programmatic", FULL, [
        "ListSecretVersionIds", "GetUser", "DescribeSecret", "PutSecretValue", "ListSecretVersionIds",
        "GetUser", "DescribeSecret", "ListPoliciesForUser", "ListGroupsForUser", "AddUserToGroup",
        "RemoveUserFromGroup", "GetLoginProfile", "ListSecretVersionIds", "ListAccessKeys",
        "ListSecretVersionIds", "GetUser", "ListPoliciesForUser", "ListGroupsForUser", "ListAccessKeys",
        "GetLoginProfile", "ListSecretVersionIds"]),
    # full -> read-only: out of the higher group first (a moment with none is fail-closed)
    "mover-down": (_setup_full, event(level="read-only", event_id="m2"), "programmatic", None, [
        "ListSecretVersionIds", "GetUser", "DescribeSecret", "PutSecretValue", "ListSecretVersionIds",
        "GetUser", "DescribeSecret", "ListPoliciesForUser", "ListGroupsForUser", "RemoveUserFromGroup",
        "AddUserToGroup", "GetLoginProfile", "ListSecretVersionIds", "ListAccessKeys", "ListSecretVersionIds",
        "GetUser", "ListPoliciesForUser", "ListGroupsForUser", "ListAccessKeys", "GetLoginProfile",
        "ListSecretVersionIds"]),
    # a direct attachment of an earlier version moves to the group: into it, then detached
    "migrate-direct": (_setup_direct_attachment, event(event_id="g1"), "programmatic", None, [
        "ListSecretVersionIds", "GetUser", "DescribeSecret", "PutSecretValue", "ListSecretVersionIds",
        "GetUser", "DescribeSecret", "ListPoliciesForUser", "ListGroupsForUser", "AddUserToGroup",
        "DetachPolicyFromUser", "GetLoginProfile", "ListSecretVersionIds", "ListAccessKeys",
        "ListSecretVersionIds", "GetUser", "ListPoliciesForUser", "ListGroupsForUser", "ListAccessKeys",
        "GetLoginProfile", "ListSecretVersionIds"]),
}

FAULTS = {
    "permanent-error": lambda f, a: f.fail(a, "NoPermission", 403, times=1),
    "transient-persistent": lambda f, a: f.fail(a, "ServiceUnavailable", 503, times=None),
    "throttled-once": lambda f, a: f.throttle(a, times=1),
    "lost-answer-once": lambda f, a: f.drop(a, after=True, times=1),
    "lost-answer-always": lambda f, a: f.drop(a, after=True, times=None),
    "connection-dropped-always": lambda f, a: f.drop(a, after=False, times=None),
}


def _cases():
    for flow, (_, _, _, _, sequence) in FLOWS.items():
        for action in dict.fromkeys(sequence):
            for fault in FAULTS:
                yield pytest.param(flow, action, fault, id=f"{flow}-{action}-{fault}")


def _converged(cloud, ram, kms, flow):
    _, _, mode, policy, _ = FLOWS[flow]
    check = assert_converged_programmatic if mode == "programmatic" else assert_converged_console
    return check(cloud, ram, kms, policy=policy or "AliyunARMSReadOnlyAccess")


def _no_key_outside_kms(ram, kms):
    s = user_state(ram, kms, "alice.wang")
    assert all(key_id == s["current"] for key_id, _ in s["keys"]), (s["keys"], s["current"])


def _redeliver_and_check(cloud, ram, kms, flow):
    ev = FLOWS[flow][1]
    result = invoke(ev)
    assert result["status"] in ("provisioned", "already-provisioned"), result
    _converged(cloud, ram, kms, flow)
    mark = cloud.calls.mark()
    assert invoke(ev)["status"] == "already-provisioned"
    assert cloud.calls.mutating(mark, ok_only=False) == []


@pytest.mark.parametrize("flow", FLOWS)
def test_flow_call_sequences(cloud, ram, kms, flow):
    """The calls each flow makes when nothing fails (the figures in the closing note)."""
    setup, ev, _, _, sequence = FLOWS[flow]
    if setup:
        setup(ram, kms)
    mark = cloud.calls.mark()
    invoke(ev)
    assert [c.action for c in cloud.calls.since(mark)] == sequence
    _converged(cloud, ram, kms, flow)


@pytest.mark.parametrize("flow,action,fault", list(_cases()))
def test_fault_at_each_step_then_redelivery_converges(cloud, ram, kms, flow, action, fault):
    setup, ev, _, _, _ = FLOWS[flow]
    if setup:
        setup(ram, kms)
    FAULTS[fault](cloud.faults, action)
    try:
        result = invoke(ev)
    except TransientError as err:
        cloud.faults.clear()
        assert fault in ("transient-persistent", "lost-answer-always", "connection-dropped-always")
        assert "AccessKeySecret" not in str(err)
    else:
        cloud.faults.clear()
        # the event is complete (no FC retry will come): no AccessKey may be outside KMS now
        _no_key_outside_kms(ram, kms)
        if fault in ("throttled-once", "lost-answer-once"):
            assert result["status"] in ("provisioned", "already-provisioned"), result
        else:
            assert result["status"] in ("failed", "provisioned", "already-provisioned"), result
    _redeliver_and_check(cloud, ram, kms, flow)


class _Crash(BaseException):
    """The instance died (BaseException: nothing in the function may catch it)."""


@pytest.mark.parametrize("flow,k", [pytest.param(flow, k, id=f"{flow}-after-{k}-{seq[k - 1]}")
                                    for flow, (_, _, _, _, seq) in FLOWS.items() for k in range(1, len(seq) + 1)])
def test_crash_after_each_call_then_redelivery_converges(cloud, ram, kms, mocker, flow, k):
    setup, ev, _, _, _ = FLOWS[flow]
    if setup:
        setup(ram, kms)
    real_call = Cloud.call
    made = []

    def crash_after_k(self, service, action, params):
        try:
            return real_call(self, service, action, params)
        finally:   # answered (success or error): the instance dies right after the k-th call
            made.append(action)
            if len(made) == k:
                raise _Crash()  # noqa: B012

    patch = mocker.patch.object(Cloud, "call", crash_after_k)
    with pytest.raises(_Crash):
        invoke(ev)
    mocker.stop(patch)
    _redeliver_and_check(cloud, ram, kms, flow)


def test_kms_failing_persistently_leaves_no_access_key(cloud, ram, kms):
    for action in ("CreateSecret", "PutSecretValue", "ListSecretVersionIds"):      # the credential's secret
        cloud.faults.fail(action, "ServiceUnavailable", 503, times=None, where={"SecretName": "ram-user/alice.wang"})
    with pytest.raises(TransientError):
        invoke(event())
    cloud.faults.clear()
    s = user_state(ram, kms, "alice.wang")
    assert s["user"] is not None and s["keys"] == [] and s["secret"] is None
    _redeliver_and_check(cloud, ram, kms, "new-programmatic")


def test_kms_unreachable_leaves_no_access_key(cloud, ram, kms):
    for action in ("CreateSecret", "PutSecretValue", "ListSecretVersionIds"):      # the credential's secret
        cloud.faults.drop(action, times=None, where={"SecretName": "ram-user/alice.wang"})
    with pytest.raises(TransientError):
        invoke(event())
    cloud.faults.clear()
    assert user_state(ram, kms, "alice.wang")["keys"] == []


def test_secret_write_lost_answer_keeps_the_stored_key(cloud, ram, kms):
    """CreateSecret landed, every answer was lost: the key KMS holds is kept, not deleted."""
    cloud.faults.drop("CreateSecret", after=True, times=None, where={"SecretName": "ram-user/alice.wang"})
    cloud.faults.drop("PutSecretValue", after=True, times=None, where={"SecretName": "ram-user/alice.wang"})
    with pytest.raises(TransientError):
        invoke(event())
    cloud.faults.clear()
    _no_key_outside_kms(ram, kms)
    assert len(user_state(ram, kms, "alice.wang")["keys"]) == 1
    _redeliver_and_check(cloud, ram, kms, "new-programmatic")


def test_retried_create_access_key_leaves_no_second_key(cloud, ram, kms):
    cloud.faults.drop("CreateAccessKey", after=True, times=1)
    assert invoke(event())["status"] == "provisioned"
    assert len([c for c in cloud.calls.since(0) if c.action == "CreateAccessKey" and c.ok]) == 2
    assert_converged_programmatic(cloud, ram, kms)


def test_orphan_key_made_by_hand_is_removed(cloud, ram, kms):
    from alibabacloud_ram20150501 import models as rm
    invoke(event())
    ram.create_access_key(rm.CreateAccessKeyRequest(user_name="alice.wang"))
    assert invoke(event())["status"] == "provisioned"
    assert_converged_programmatic(cloud, ram, kms)
