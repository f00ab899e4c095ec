"""RAM semantics for what ``hrctl setup`` uses (issue 13): groups' policies, roles and their trust
policy, custom policies and their versions (the five-version limit), DeleteGroup's conflicts, the
System policy catalogue, and persistence of all of it across a ``--state`` restart."""
import json

from alibabacloud_ram20150501 import models as rm

from localcloud import LocalCloud
from tests.localcloud.test_ram import ARMS_FULL, ARMS_RO, expect, mkuser

TRUST = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                   "Principal": {"Service": ["fc.aliyuncs.com"]}}]})


def doc(action="ram:GetUser"):
    return json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})


def mkgroup(ram, name="readers"):
    return ram.create_group(rm.CreateGroupRequest(group_name=name))


def mkrole(ram, name="hr-fn", trust=TRUST, **kw):
    return ram.create_role(rm.CreateRoleRequest(role_name=name, assume_role_policy_document=trust, **kw)).body.role


def mkpolicy(ram, name="hr-fn", document=None):
    return ram.create_policy(rm.CreatePolicyRequest(policy_name=name, policy_document=document or doc())).body.policy


def new_version(ram, name="hr-fn", document=None, **kw):
    return ram.create_policy_version(rm.CreatePolicyVersionRequest(
        policy_name=name, policy_document=document or doc(), **kw)).body.policy_version


def versions(ram, name="hr-fn"):
    listed = ram.list_policy_versions(rm.ListPolicyVersionsRequest(policy_type="Custom", policy_name=name))
    return [(v.version_id, v.is_default_version) for v in listed.body.policy_versions.policy_version]


# -- groups' policies -----------------------------------------------------------------------------
def test_group_policies_attach_list_detach_and_their_errors(ram):
    mkgroup(ram)
    attach = rm.AttachPolicyToGroupRequest(policy_type="System", policy_name=ARMS_RO, group_name="readers")
    ram.attach_policy_to_group(attach)
    expect("EntityAlreadyExists.Group.Policy", 409, ram.attach_policy_to_group, attach)
    expect("EntityNotExist.Group", 404, ram.attach_policy_to_group, rm.AttachPolicyToGroupRequest(
        policy_type="System", policy_name=ARMS_RO, group_name="nobody"))
    expect("EntityNotExist.Policy", 404, ram.attach_policy_to_group, rm.AttachPolicyToGroupRequest(
        policy_type="Custom", policy_name=ARMS_RO, group_name="readers"))       # the ARMS ones are System
    expect("InvalidParameter.PolicyType", 400, ram.attach_policy_to_group, rm.AttachPolicyToGroupRequest(
        policy_type="Managed", policy_name=ARMS_RO, group_name="readers"))
    listed = ram.list_policies_for_group(rm.ListPoliciesForGroupRequest(group_name="readers")).body.policies.policy
    assert [(p.policy_name, p.policy_type) for p in listed] == [(ARMS_RO, "System")]
    detach = rm.DetachPolicyFromGroupRequest(policy_type="System", policy_name=ARMS_RO, group_name="readers")
    ram.detach_policy_from_group(detach)
    expect("EntityNotExist.Group.Policy", 404, ram.detach_policy_from_group, detach)
    assert ram.list_policies_for_group(rm.ListPoliciesForGroupRequest(group_name="readers")).body.policies.policy == []


def test_delete_group_refuses_while_it_has_members_or_policies(ram, cloud):
    mkgroup(ram)
    mkuser(ram)
    ram.add_user_to_group(rm.AddUserToGroupRequest(user_name="alice", group_name="readers"))
    ram.attach_policy_to_group(rm.AttachPolicyToGroupRequest(policy_type="System", policy_name=ARMS_RO,
                                                             group_name="readers"))
    expect("DeleteConflict.Group.User", 409, ram.delete_group, rm.DeleteGroupRequest(group_name="readers"))
    ram.remove_user_from_group(rm.RemoveUserFromGroupRequest(user_name="alice", group_name="readers"))
    expect("DeleteConflict.Group.Policy", 409, ram.delete_group, rm.DeleteGroupRequest(group_name="readers"))
    ram.detach_policy_from_group(rm.DetachPolicyFromGroupRequest(policy_type="System", policy_name=ARMS_RO,
                                                                 group_name="readers"))
    ram.delete_group(rm.DeleteGroupRequest(group_name="readers"))
    expect("EntityNotExist.Group", 404, ram.get_group, rm.GetGroupRequest(group_name="readers"))
    assert cloud.ram.groups() == {}


def test_list_users_for_group_and_groups_page_with_markers(ram):
    for name in ("g1", "g2", "g3"):
        mkgroup(ram, name)
    page = ram.list_groups(rm.ListGroupsRequest(max_items=2)).body
    assert page.is_truncated
    ram.create_group(rm.CreateGroupRequest(group_name="g0"))          # before the marker: never repeated
    rest = ram.list_groups(rm.ListGroupsRequest(marker=page.marker)).body
    assert [g.group_name for g in page.groups.group + rest.groups.group] == ["g1", "g2", "g3"]
    expect("InvalidParameter.Marker", 400, ram.list_groups, rm.ListGroupsRequest(marker="bm90LWEtbWFya2Vy"))
    mkuser(ram)
    ram.add_user_to_group(rm.AddUserToGroupRequest(user_name="alice", group_name="g1"))
    members = ram.list_users_for_group(rm.ListUsersForGroupRequest(group_name="g1")).body.users.user
    assert [u.user_name for u in members] == ["alice"]
    expect("EntityNotExist.Group", 404, ram.list_users_for_group, rm.ListUsersForGroupRequest(group_name="nope"))


# -- roles -----------------------------------------------------------------------------------------
def test_role_create_get_update_and_errors(ram, cloud):
    role = mkrole(ram, "HR-Fn", description="execution role")
    assert role.arn == f"acs:ram::{cloud.account_id}:role/hr-fn"           # the ARN's name is lower case
    assert role.max_session_duration == 3600
    expect("EntityAlreadyExists.Role", 409, mkrole, ram, "HR-Fn")
    expect("InvalidParameter.RoleName.InvalidChars", 400, mkrole, ram, "hr_fn")     # no underscore in role names
    expect("InvalidParameter.RoleName.Length", 400, mkrole, ram, "r" * 65)
    expect("InvalidParameter.AssumeRolePolicyDocument.Format", 400, mkrole, ram, "bad", trust="{not json")
    expect("InvalidParameter.MaxSessionDuration.Range", 400, mkrole, ram, "short", max_session_duration=60)
    expect("MissingParameter.AssumeRolePolicyDocument", 400, ram.create_role, rm.CreateRoleRequest(role_name="x"))
    expect("EntityNotExist.Role", 404, ram.get_role, rm.GetRoleRequest(role_name="nobody"))
    trust = json.dumps({"Version": "1", "Statement": []})
    updated = ram.update_role(rm.UpdateRoleRequest(role_name="HR-Fn", new_assume_role_policy_document=trust)).body.role
    assert updated.assume_role_policy_document == trust and updated.description == "execution role"
    got = ram.get_role(rm.GetRoleRequest(role_name="HR-Fn")).body.role
    assert got.assume_role_policy_document == trust
    expect("EntityNotExist.Role", 404, ram.update_role, rm.UpdateRoleRequest(role_name="nobody",
                                                                            new_description="x"))


def test_role_policies(ram):
    mkrole(ram)
    mkpolicy(ram)
    attach = rm.AttachPolicyToRoleRequest(policy_type="Custom", policy_name="hr-fn", role_name="hr-fn")
    ram.attach_policy_to_role(attach)
    expect("EntityAlreadyExists.Role.Policy", 409, ram.attach_policy_to_role, attach)
    expect("EntityNotExist.Role", 404, ram.attach_policy_to_role, rm.AttachPolicyToRoleRequest(
        policy_type="Custom", policy_name="hr-fn", role_name="nobody"))
    listed = ram.list_policies_for_role(rm.ListPoliciesForRoleRequest(role_name="hr-fn")).body.policies.policy
    assert [(p.policy_name, p.policy_type, p.default_version) for p in listed] == [("hr-fn", "Custom", "v1")]
    got = ram.get_policy(rm.GetPolicyRequest(policy_type="Custom", policy_name="hr-fn")).body
    assert got.policy.attachment_count == 1
    detach = rm.DetachPolicyFromRoleRequest(policy_type="Custom", policy_name="hr-fn", role_name="hr-fn")
    ram.detach_policy_from_role(detach)
    expect("EntityNotExist.Role.Policy", 404, ram.detach_policy_from_role, detach)


# -- custom policies and versions --------------------------------------------------------------------
def test_create_policy_and_its_errors(ram):
    created = mkpolicy(ram)
    assert (created.policy_type, created.default_version) == ("Custom", "v1")
    expect("EntityAlreadyExists.Policy", 409, mkpolicy, ram)
    expect("InvalidParameter.PolicyName.InvalidChars", 400, mkpolicy, ram, "no_underscores")
    expect("InvalidParameter.PolicyDocument.Length", 400, mkpolicy, ram, "big",
           json.dumps({"Statement": [], "Pad": "x" * 6144}))
    expect("InvalidParameter.PolicyDocument.Format", 400, mkpolicy, ram, "bad", "[1, 2]")
    got = ram.get_policy(rm.GetPolicyRequest(policy_type="Custom", policy_name="hr-fn")).body
    assert got.default_policy_version.policy_document == doc() and got.default_policy_version.is_default_version


def test_system_policies_are_listed_as_system_and_cannot_be_versioned(ram):
    system = ram.list_policies(rm.ListPoliciesRequest(policy_type="System", max_items=1000)).body.policies.policy
    assert {ARMS_RO, ARMS_FULL} <= {p.policy_name for p in system}
    assert {p.policy_type for p in system} == {"System"}
    assert ram.list_policies(rm.ListPoliciesRequest(policy_type="Custom")).body.policies.policy == []
    expect("InvalidParameter.PolicyType", 400, ram.list_policies, rm.ListPoliciesRequest(policy_type="Other"))
    expect("EntityNotExist.Policy", 404, new_version, ram, ARMS_RO)                  # System: not Custom
    got = ram.get_policy(rm.GetPolicyRequest(policy_type="System", policy_name=ARMS_FULL)).body
    assert got.policy.policy_type == "System" and json.loads(got.default_policy_version.policy_document)["Statement"]


def test_five_versions_at_most_and_the_rotate_strategy(ram):
    mkpolicy(ram)
    for n in range(2, 6):
        assert new_version(ram, document=doc(f"ram:Get{n}"), set_as_default=(n == 3)).version_id == f"v{n}"
    assert versions(ram) == [("v5", False), ("v4", False), ("v3", True), ("v2", False), ("v1", False)]
    expect("LimitExceeded.Policy.Version", 409, new_version, ram)
    expect("InvalidParameter.RotateStrategy", 400, new_version, ram, rotate_strategy="Oldest")
    rotated = new_version(ram, set_as_default=True, rotate_strategy="DeleteOldestNonDefaultVersionWhenLimitExceeded")
    assert rotated.version_id == "v6" and rotated.is_default_version
    assert versions(ram) == [("v6", True), ("v5", False), ("v4", False), ("v3", False), ("v2", False)]
    expect("DeleteConflict.Policy.Version", 409, ram.delete_policy_version,
           rm.DeletePolicyVersionRequest(policy_name="hr-fn", version_id="v6"))
    ram.delete_policy_version(rm.DeletePolicyVersionRequest(policy_name="hr-fn", version_id="v2"))
    expect("EntityNotExist.Policy.Version", 404, ram.delete_policy_version,
           rm.DeletePolicyVersionRequest(policy_name="hr-fn", version_id="v2"))
    expect("EntityNotExist.Policy.Version", 404, ram.get_policy_version,
           rm.GetPolicyVersionRequest(policy_type="Custom", policy_name="hr-fn", version_id="v2"))
    assert new_version(ram).version_id == "v7"                                    # ids are never reused
    ram.set_default_policy_version(rm.SetDefaultPolicyVersionRequest(policy_name="hr-fn", version_id="v4"))
    got = ram.get_policy_version(rm.GetPolicyVersionRequest(policy_type="Custom", policy_name="hr-fn",
                                                            version_id="v4")).body.policy_version
    assert got.is_default_version and got.policy_document == doc("ram:Get4")


# -- persistence ----------------------------------------------------------------------------------------
def test_roles_policies_and_group_policies_survive_a_restart(tmp_path):
    from alibabacloud_ram20150501.client import Client
    state = tmp_path / "state.json"
    with LocalCloud(state_file=str(state)) as first:
        ram = Client(first.client_config())
        mkgroup(ram)
        ram.attach_policy_to_group(rm.AttachPolicyToGroupRequest(policy_type="System", policy_name=ARMS_RO,
                                                                 group_name="readers"))
        mkrole(ram)
        mkpolicy(ram)
        new_version(ram, document=doc("ram:ListUsers"), set_as_default=True)
        ram.attach_policy_to_role(rm.AttachPolicyToRoleRequest(policy_type="Custom", policy_name="hr-fn",
                                                              role_name="hr-fn"))
    with LocalCloud(state_file=str(state)) as second:
        ram = Client(second.client_config())
        listed = ram.list_policies_for_group(rm.ListPoliciesForGroupRequest(group_name="readers")).body.policies.policy
        assert [p.policy_name for p in listed] == [ARMS_RO]
        assert ram.get_role(rm.GetRoleRequest(role_name="hr-fn")).body.role.assume_role_policy_document == TRUST
        assert versions(ram) == [("v2", True), ("v1", False)]
        assert new_version(ram).version_id == "v3"
        roles = ram.list_policies_for_role(rm.ListPoliciesForRoleRequest(role_name="hr-fn")).body.policies.policy
        assert [p.policy_name for p in roles] == ["hr-fn"]
