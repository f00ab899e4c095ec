"""Grants through groups (issue 13, CIS 1.16 "attach policies only to groups or roles").

GRANT_MODE=group (the default): the user joins our RAM group of its ARMS level (GROUP_READ_ONLY /
GROUP_FULL, made by ``hrctl setup``); no policy is attached to it. Shown end to end through the
handlers, with the functions' key held to the group-mode role policy (which grants no
AttachPolicyToUser at all): joiner, mover both ways (in the order of the swap rule,
``provisioner.domain.access``), leaver (disable leaves the group, deletion), rehire; the migration
of a direct attachment from an earlier version; a missing group; user mode's way back; and a mover
and a leaver of the same user interleaved exactly across two FC instances.
"""
import json
from datetime import timedelta

import offboarding
import pytest
from alibabacloud_ram20150501 import models as rm
from provisioner.domain.access import (
    ADD,
    DEFAULT_GROUPS,
    GROUP,
    REMOVE,
    USER,
    Grant,
    held_grants,
    plan_grants,
    plan_revoke,
)
from provisioner.platform.settings import ConfigError, Settings

from tests import concurrency_invariants as inv8
from tests.concurrency_support import T0, at, joiner, leaver, seed_bystanders, settle
from tests.conftest import as_bytes, outside_ledger, use_user_mode
from tests.instances import Instances
from tests.offboarding_support import set_clock, timer, utc
from tests.onboarding_support import REHIRE_AT, event, invoke, user_state

RO, FULL = DEFAULT_GROUPS["read-only"], DEFAULT_GROUPS["full"]
RO_POLICY, FULL_POLICY = "AliyunARMSReadOnlyAccess", "AliyunARMSFullAccess"


def grants_state(ram, kms, name="alice.wang"):
    s = user_state(ram, kms, name)
    return s["policies"], s["groups"]


def mutating(cloud, mark):
    return [(c.action, c.params.get("GroupName") or c.params.get("PolicyName"))
            for c in outside_ledger(cloud.calls.mutating(mark, ok_only=False))
            if c.action in ("AddUserToGroup", "RemoveUserFromGroup", "AttachPolicyToUser", "DetachPolicyFromUser")]


def lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


# -- the rule ------------------------------------------------------------------------------------------------
def test_swap_rule_never_holds_more_than_either_event_implies():
    ro, full = Grant(GROUP, "read-only"), Grant(GROUP, "full")
    assert plan_grants(set(), ro) == [(ADD, ro)]
    assert plan_grants({ro}, ro) == []
    assert plan_grants({ro}, full) == [(ADD, full), (REMOVE, ro)]          # up: the overlap is the new level
    assert plan_grants({full}, ro) == [(REMOVE, full), (ADD, ro)]          # down: the gap is fail-closed
    legacy_ro, legacy_full = Grant(USER, "read-only"), Grant(USER, "full")
    assert plan_grants({legacy_ro}, ro) == [(ADD, ro), (REMOVE, legacy_ro)]     # migration: in, then detached
    assert plan_grants({legacy_full}, ro) == [(REMOVE, legacy_full), (ADD, ro)]
    assert plan_grants({legacy_ro, full}, ro) == [(REMOVE, full), (ADD, ro), (REMOVE, legacy_ro)]
    assert plan_grants({ro}, legacy_ro) == [(ADD, legacy_ro), (REMOVE, ro)]     # user mode: back to direct
    assert plan_revoke({ro, legacy_full}) == [(REMOVE, legacy_full), (REMOVE, ro)]
    assert held_grants({RO_POLICY, "AdministratorAccess"}, {FULL, "oncall"}, DEFAULT_GROUPS) == {legacy_ro, full}


def test_the_access_review_reads_the_level_from_our_groups():
    from provisioner.domain import audit, ownership
    view = audit.UserView("alice.wang", ownership.Marker("E1"), groups=("oncall", RO), group_levels=("read-only",))
    assert audit.level(view) == "read-only"
    assert audit.level(audit.UserView("a", ownership.Marker("E1"), policies=(FULL_POLICY,),
                                      group_levels=("read-only",))) == "mixed"
    assert audit.level(audit.UserView("a", ownership.Marker("E1"), groups=("oncall",))) is None


# -- settings ------------------------------------------------------------------------------------------------
def test_settings_default_to_group_mode_and_the_default_groups():
    s = Settings.from_env({})
    assert (s.grant_mode, s.groups) == ("group", {"read-only": "hr-arms-read-only", "full": "hr-arms-full"})
    s = Settings.from_env({"GRANT_MODE": "user", "GROUP_READ_ONLY": "Ops.RO_1", "GROUP_FULL": "ops-full"})
    assert (s.grant_mode, s.groups) == ("user", {"read-only": "Ops.RO_1", "full": "ops-full"})


@pytest.mark.parametrize("env, setting", [
    ({"GRANT_MODE": "groups"}, "GRANT_MODE"), ({"GRANT_MODE": "Group"}, "GRANT_MODE"),
    ({"GRANT_MODE": ""}, "GRANT_MODE"), ({"GRANT_MODE": " group"}, "GRANT_MODE"),
    ({"GROUP_READ_ONLY": ""}, "GROUP_READ_ONLY"), ({"GROUP_READ_ONLY": "a b"}, "GROUP_READ_ONLY"),
    ({"GROUP_READ_ONLY": "x" * 65}, "GROUP_READ_ONLY"), ({"GROUP_FULL": "arms/full"}, "GROUP_FULL"),
    ({"GROUP_FULL": "grüppe"}, "GROUP_FULL"), ({"GROUP_FULL": "HR-ARMS-READ-ONLY"}, "GROUP_FULL"),
    ({"GROUP_READ_ONLY": "same", "GROUP_FULL": "same"}, "GROUP_FULL"),
])
def test_bad_group_settings_are_configuration_errors(env, setting):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert caught.value.setting == setting


# -- end to end in group mode --------------------------------------------------------------------------------
def test_joiner_mover_both_ways_leaver_rehire_and_deletion(cloud, ram, kms, mocker):
    mark = cloud.calls.mark()
    assert invoke(event())["status"] == "provisioned"
    assert mutating(cloud, mark) == [("AddUserToGroup", RO)]
    assert grants_state(ram, kms) == ([], [RO])

    mark = cloud.calls.mark()
    assert invoke(event(level="full", event_id="up"))["policies"] == [FULL_POLICY]
    assert mutating(cloud, mark) == [("AddUserToGroup", FULL), ("RemoveUserFromGroup", RO)]
    assert grants_state(ram, kms) == ([], [FULL])

    mark = cloud.calls.mark()
    assert invoke(event(level="read-only", event_id="down"))["status"] == "provisioned"
    assert mutating(cloud, mark) == [("RemoveUserFromGroup", FULL), ("AddUserToGroup", RO)]
    assert grants_state(ram, kms) == ([], [RO])
    mark = cloud.calls.mark()
    assert invoke(event(level="read-only", event_id="down"))["status"] == "already-provisioned"
    assert cloud.calls.mutating(mark, ok_only=False) == []

    leave = {"eventId": "leave-1", "eventType": "employee.offboarded", "occurredAt": "2026-12-01T10:00:00Z",
             "employee": {"employeeId": "E10023", "logonName": "alice.wang"}}
    mark = cloud.calls.mark()
    answer = offboarding.handler(as_bytes(leave), None)
    assert answer["status"] == "disabled"
    assert {"action": "RemoveUserFromGroup", "UserName": "alice.wang", "GroupName": RO} in answer["actions"]
    assert grants_state(ram, kms) == ([], [])
    assert offboarding.handler(as_bytes(leave), None)["status"] == "disabled"      # again: nothing to do
    assert [c.action for c in outside_ledger(cloud.calls.mutating(mark))].count("RemoveUserFromGroup") == 1

    assert invoke(event(level="full", event_id="rehire", occurredAt=REHIRE_AT))["rehired"] is True
    assert grants_state(ram, kms) == ([], [FULL])

    leave2 = {**leave, "eventId": "leave-2", "occurredAt": "2026-12-02T12:00:00Z"}
    set_clock(mocker, "2026-12-02T12:00:00Z")
    assert offboarding.handler(as_bytes(leave2), None)["status"] == "disabled"
    set_clock(mocker, utc("2026-12-02T12:00:00Z") + timedelta(days=31))
    mark = cloud.calls.mark()
    assert offboarding.handler(as_bytes(timer({"dryRun": False})), None)["counts"]["deleted"] == 1
    assert cloud.ram.user_state("alice.wang") is None
    assert not [c for c in cloud.calls.since(mark) if c.code.startswith("DeleteConflict")]
    # never a policy attached to the user, at any point
    assert not [c for c in cloud.calls.since(0) if c.action == "AttachPolicyToUser"]


def test_migration_of_a_direct_attachment_to_the_group(cloud, ram, kms):
    """A user of an earlier version (its ARMS policy attached directly, set up through the SDK): its next
    event moves it into the group, then detaches the policy; the same event again changes nothing."""
    assert invoke(event())["status"] == "provisioned"
    ram.remove_user_from_group(rm.RemoveUserFromGroupRequest(group_name=RO, user_name="alice.wang"))
    ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type="System", policy_name=RO_POLICY,
                                                          user_name="alice.wang"))
    assert grants_state(ram, kms) == ([RO_POLICY], [])
    mark = cloud.calls.mark()
    assert invoke(event(event_id="next"))["status"] == "provisioned"
    assert mutating(cloud, mark) == [("AddUserToGroup", RO), ("DetachPolicyFromUser", RO_POLICY)]
    assert grants_state(ram, kms) == ([], [RO])
    mark = cloud.calls.mark()
    assert invoke(event(event_id="next"))["status"] == "already-provisioned"
    assert cloud.calls.mutating(mark, ok_only=False) == []


def test_migration_of_a_higher_direct_attachment_on_a_mover_down(cloud, ram, kms):
    assert invoke(event())["status"] == "provisioned"
    ram.remove_user_from_group(rm.RemoveUserFromGroupRequest(group_name=RO, user_name="alice.wang"))
    ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type="System", policy_name=FULL_POLICY,
                                                          user_name="alice.wang"))
    mark = cloud.calls.mark()
    assert invoke(event(event_id="next"))["status"] == "provisioned"
    assert mutating(cloud, mark) == [("DetachPolicyFromUser", FULL_POLICY), ("AddUserToGroup", RO)]


def test_a_migration_cut_short_then_a_mover_up_ends_with_the_full_group_only(cloud, ram, kms):
    """A user left holding both the read-only group and the read-only policy (a migration cut short
    between AddUserToGroup and DetachPolicyFromUser), then moved up: it joins the full group, then loses
    both read-only grants (two grants to remove after the add: the plan orders them, group first)."""
    assert invoke(event())["status"] == "provisioned"
    ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type="System", policy_name=RO_POLICY,
                                                          user_name="alice.wang"))
    assert grants_state(ram, kms) == ([RO_POLICY], [RO])
    mark = cloud.calls.mark()
    assert invoke(event(level="full", event_id="up"))["status"] == "provisioned"
    assert mutating(cloud, mark) == [("AddUserToGroup", FULL), ("RemoveUserFromGroup", RO),
                                     ("DetachPolicyFromUser", RO_POLICY)]
    assert grants_state(ram, kms) == ([], [FULL])


def test_a_leaver_of_an_earlier_version_loses_the_direct_attachment(cloud, ram, kms):
    """Group mode: the leaver's event is the legacy user's next event: no ARMS grant stays."""
    assert invoke(event())["status"] == "provisioned"
    ram.remove_user_from_group(rm.RemoveUserFromGroupRequest(group_name=RO, user_name="alice.wang"))
    ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type="System", policy_name=RO_POLICY,
                                                          user_name="alice.wang"))
    leave = {"eventId": "leave-1", "eventType": "employee.offboarded", "occurredAt": "2026-12-01T10:00:00Z",
             "employee": {"employeeId": "E10023", "logonName": "alice.wang"}}
    assert offboarding.handler(as_bytes(leave), None)["status"] == "disabled"
    assert grants_state(ram, kms) == ([], [])


def test_groups_and_policies_that_are_not_ours_are_left_alone(cloud, ram, kms, mocker, capsys):
    """A manual membership of a managed user is drift (the audit reports it): events never touch it; only
    deletion removes it, because RAM refuses DeleteUser before (DeleteConflict.User.Group), and says so."""
    assert invoke(event())["status"] == "provisioned"
    ram.create_group(rm.CreateGroupRequest(group_name="oncall"))
    ram.add_user_to_group(rm.AddUserToGroupRequest(group_name="oncall", user_name="alice.wang"))
    ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type="System", policy_name="ReadOnlyAccess",
                                                          user_name="alice.wang"))
    assert invoke(event(level="full", event_id="up"))["status"] == "provisioned"
    assert grants_state(ram, kms) == (["ReadOnlyAccess"], [FULL, "oncall"])
    leave = {"eventId": "leave-1", "eventType": "employee.offboarded", "occurredAt": "2026-12-01T10:00:00Z",
             "employee": {"employeeId": "E10023", "logonName": "alice.wang"}}
    set_clock(mocker, "2026-12-01T10:00:00Z")
    assert offboarding.handler(as_bytes(leave), None)["status"] == "disabled"
    assert grants_state(ram, kms) == (["ReadOnlyAccess"], ["oncall"])
    set_clock(mocker, utc("2026-12-01T10:00:00Z") + timedelta(days=31))
    capsys.readouterr()
    report = offboarding.handler(as_bytes(timer({"dryRun": False})), None)
    assert report["counts"]["deleted"] == 1 and cloud.ram.user_state("alice.wang") is None
    logged = [line for line in lines(capsys) if line.get("foreignGroup")]
    assert [line["foreignGroup"] for line in logged] == ["oncall"]


def test_a_missing_group_is_a_permanent_failure_that_says_to_run_setup(cloud, ram, kms, capsys):
    with cloud.ram.lock:                      # an account where `hrctl setup` was not run
        del cloud.ram.groups_by_name[RO]
    capsys.readouterr()
    answer = invoke(event())
    assert answer["status"] == "failed"
    assert answer["error"]["code"] == "EntityNotExist.Group" and answer["error"]["action"] == "AddUserToGroup"
    assert "hrctl setup" in answer["error"]["hint"] and RO in answer["error"]["hint"]
    alert = [line for line in lines(capsys) if line.get("alert")]
    assert [(a["alert"], a["level"]) for a in alert] == [("provisioning-failed", "ERROR")]
    assert "hrctl setup" in json.dumps(alert[0])
    # once the group exists (hrctl setup), redelivery converges
    ram.create_group(rm.CreateGroupRequest(group_name=RO))
    assert invoke(event())["status"] == "provisioned"
    assert grants_state(ram, kms) == ([], [RO])


def test_settings_name_the_groups(cloud, ram, kms, monkeypatch):
    """GROUP_READ_ONLY / GROUP_FULL name the groups (the role policy must name them too: README)."""
    from provisioner.platform import runtime

    from tests.conftest import make_groups, role_policy
    groups = {"read-only": "team-arms-ro", "full": "team-arms-full"}
    make_groups(cloud, groups)
    policy = json.loads(json.dumps(role_policy()).replace("group/hr-arms-", "group/team-arms-").replace(
        "team-arms-read-only", "team-arms-ro"))
    cloud.detach_caller_policies(cloud.access_key_id)
    cloud.attach_caller_policy(policy)
    monkeypatch.setenv("GROUP_READ_ONLY", groups["read-only"])
    monkeypatch.setenv("GROUP_FULL", groups["full"])
    runtime.reset()
    assert invoke(event(level="full"))["status"] == "provisioned"
    assert grants_state(ram, kms) == ([], ["team-arms-full"])


# -- user mode -----------------------------------------------------------------------------------------------
def test_user_mode_attaches_directly_and_moves_a_member_back(cloud, ram, kms, monkeypatch):
    """GRANT_MODE=user (the seed's way, with its own role policy): the policy attached; a user in one of
    our groups (from group mode) moves back to a direct attachment, symmetric to the migration."""
    assert invoke(event())["status"] == "provisioned"                   # group mode first
    use_user_mode(cloud, monkeypatch)
    mark = cloud.calls.mark()
    assert invoke(event(event_id="next"))["status"] == "provisioned"
    assert mutating(cloud, mark) == [("AttachPolicyToUser", RO_POLICY), ("RemoveUserFromGroup", RO)]
    assert grants_state(ram, kms) == ([RO_POLICY], [])
    assert invoke(event(logon="bob.li", employee_id="E2"))["status"] == "provisioned"
    assert grants_state(ram, kms, "bob.li") == ([RO_POLICY], [])
    leave = {"eventId": "leave-1", "eventType": "employee.offboarded", "occurredAt": "2026-12-01T10:00:00Z",
             "employee": {"employeeId": "E10023", "logonName": "alice.wang"}}
    assert offboarding.handler(as_bytes(leave), None)["status"] == "disabled"
    assert grants_state(ram, kms) == ([RO_POLICY], [])               # user mode: stays until deletion


def test_user_mode_a_leaver_still_in_one_of_our_groups_leaves_it_at_the_disable(cloud, ram, kms, monkeypatch):
    """Provisioned in group mode, then GRANT_MODE=user, then its leaver (no event between): the disable
    takes the user out of our group (only a direct attachment stays until deletion in user mode)."""
    assert invoke(event())["status"] == "provisioned"                   # group mode: in the read-only group
    use_user_mode(cloud, monkeypatch)
    leave = {"eventId": "leave-1", "eventType": "employee.offboarded", "occurredAt": "2026-12-01T10:00:00Z",
             "employee": {"employeeId": "E10023", "logonName": "alice.wang"}}
    mark = cloud.calls.mark()
    assert offboarding.handler(as_bytes(leave), None)["status"] == "disabled"
    assert mutating(cloud, mark) == [("RemoveUserFromGroup", RO)]
    assert grants_state(ram, kms) == ([], [])


# -- a mover and a leaver of one user, interleaved exactly across two instances ----------------------------------
@pytest.mark.parametrize("parked, action, when", [
    ("mover", "ListGroupsForUser", "after"),        # the mover read "in read-only" before the leaver ran
    ("mover", "AddUserToGroup", "after"),           # the mover joined "full"; the leaver runs; then its rest
    ("mover", "RemoveUserFromGroup", "before"),     # the mover holds both groups while the leaver runs
    ("leaver", "ListGroupsForUser", "after"),       # the leaver read the groups; the mover runs through
    ("leaver", "RemoveUserFromGroup", "after"),     # the leaver left the group; the mover runs through
])
@pytest.mark.parametrize("order", ["mover-first", "leaver-first"])
def test_a_mover_and_a_leaver_at_once_never_leave_a_leaver_in_a_group(cloud, parked, action, when, order):
    """Joiner (read-only, Nov 20); a mover to full and a leaver, one parked at ``action`` while the other
    runs through. ``order``: which of the two is earlier in HR order (mover-first: the leaver is the last
    event, the user must end disabled in no group; leaver-first: the mover is a rehire, the user ends
    active in the full group only)."""
    bystanders = seed_bystanders(cloud)
    mover_at, leaver_at = (at(25), at(26)) if order == "mover-first" else (at(26), at(25))
    mover, leave = joiner("m1", mover_at, level="full"), leaver("l1", leaver_at)
    with Instances(cloud, 2, now=T0) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(20)))["status"] == "provisioned"
        first, second = fc[0], fc[1]
        parked_fn, parked_ev, other_fn, other_ev = (
            ("onboarding", mover, "offboarding", leave) if parked == "mover" else
            ("offboarding", leave, "onboarding", mover))
        h = cloud.hold(first.key, action, when=when)
        a = first.start(parked_fn, parked_ev)
        if not a.until_held(h):
            pytest.skip(f"{parked} makes no {action} in this order")
        second.start(other_fn, other_ev).outcome()
        cloud.release(h)
        a.outcome()
        settle(cloud, fc, bystanders=bystanders)
        user = cloud.ram_user("alice.wang")
        groups = [g["GroupName"] for g in user["Groups"]]
        assert groups == ([] if order == "mover-first" else [FULL]), groups
        assert user["Policies"] == []


def test_the_checker_catches_a_leaver_left_in_a_group(cloud):
    """The invariant can fail: a disabled user put back into our group by hand is caught."""
    with Instances(cloud, 1, now=T0) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(20)))["status"] == "provisioned"
        assert fc[0].run("offboarding", leaver("l1", at(26)))["status"] == "disabled"
        inv8.check(cloud)
        cloud.ram.add_user_to_group("alice.wang", RO)
        with pytest.raises(AssertionError, match="still in our group"):
            inv8.check(cloud)


# -- issue 15: found by surviving mutants of cloud/directory.py (grants) ----------------------------------------
def test_a_custom_policy_named_like_an_arms_policy_is_no_grant(cloud, ram, kms, monkeypatch):
    """Only System policies are ARMS grants: a Custom policy someone named AliyunARMSFullAccess (RAM keeps
    System and Custom names apart) attached to the user does not make a mover to full one already done.
    The System policy is attached (and read-only's detached); the Custom one is not ours and stays."""
    use_user_mode(cloud, monkeypatch)
    assert invoke(event())["status"] == "provisioned"
    cloud.ram.add_custom_policy(FULL_POLICY)
    ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type="Custom", policy_name=FULL_POLICY,
                                                          user_name="alice.wang"))
    assert invoke(event(level="full", event_id="up"))["status"] == "provisioned"
    held = ram.list_policies_for_user(rm.ListPoliciesForUserRequest(user_name="alice.wang")).body.to_map()
    assert sorted((p["PolicyType"], p["PolicyName"]) for p in held["Policies"]["Policy"]) == [
        ("Custom", FULL_POLICY), ("System", FULL_POLICY)]
