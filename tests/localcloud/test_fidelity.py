"""localcloud against Alibaba Cloud's own API metadata (issue 2, item 5).

For every action localcloud implements (RAM and KMS), a realistic scenario
calls it through the official SDK. For each answer:

- the JSON on the wire fits ``apis.<Action>.responses["200"].schema`` of
  tests/reference/openapi-meta/ (every field exists in the schema, with
  the schema's type and nesting);
- the SDK's response model parsed it with no field lost or changed
  (``resp.body.to_map()`` equals the raw JSON);
- across the scenario, every field the schema documents was returned, unless
  it is listed in ``NOT_RETURNED`` with the reason localcloud never returns it.

Coverage is checked both ways: an implemented action without a scenario (or a
scenario for an action that does not exist) fails ``test_every_action_has_a_scenario``.

KMS errors: every error code localcloud emits for a KMS action must be listed,
with the same HTTP status, in that action's ``errorCodes``. Gateway-level
errors (signature, credentials, timestamps, nonces, throttling, unknown
action/version, injected faults) are the gateway's and exempt. The check runs
here over driven error paths and, through ``audit_kms_errors``, after every
test of test_kms.py.
"""
import json
from dataclasses import dataclass

import pytest
from alibabacloud_kms20160120 import models as km
from alibabacloud_ram20150501 import models as rm
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

from localcloud.kms.responses import SERVICE as KMS_SERVICE
from localcloud.ram.responses import SERVICE as RAM_SERVICE
from tests.reference import KMS_META, RAM_META

# the vendored copy (tests/reference/README.md): the same on every machine, ../shared or not
META = {"ram": json.loads(RAM_META.read_text(encoding="utf-8")),
        "kms": json.loads(KMS_META.read_text(encoding="utf-8"))}
SERVICES = {"ram": RAM_SERVICE, "kms": KMS_SERVICE}
VERSIONS = {RAM_SERVICE.version: "ram", KMS_SERVICE.version: "kms"}
IMPLEMENTED = [("ram", a) for a in sorted(RAM_SERVICE.actions)] + [("kms", a) for a in sorted(KMS_SERVICE.actions)]

# Error codes the gateway answers for any action of any product (exempt from per-action errorCodes).
GATEWAY_CODE_PREFIXES = ("InvalidAccessKeyId", "InvalidSecurityToken", "InvalidTimeStamp", "MissingSignatureNonce",
                         "SignatureNonceUsed", "IncompleteSignature", "SignatureDoesNotMatch", "Throttling",
                         "InvalidAction", "InvalidVersion", "MissingParameter.Action", "ConnectionDropped")

# Documented response fields localcloud never returns, and why. Keep it short and true:
# test_not_returned_list_is_honest fails when an entry is returned after all.
NOT_RETURNED = {
    ("ram", "GetPolicy"): {"Policy.PolicyDocument": "deprecated by the reference; the document is in "
                                                    "DefaultPolicyVersion"},
}

PASSWORD = "Hr-Prov1sioner!2026"
PHONE, EMAIL = "86-13800000000", "alice.wang@example.com"


# -- schema checking ---------------------------------------------------------------------------
_PY_TYPES = {"string": (str,), "integer": (int,), "boolean": (bool,), "number": (int, float)}


def _kind(schema):
    return schema.get("type") or ("object" if "properties" in schema else None)


def schema_problems(value, schema, path="$"):
    """Every place ``value`` does not fit ``schema`` (names, nesting, types)."""
    kind = _kind(schema)
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        properties = schema.get("properties")
        if properties is None:
            return []
        problems = []
        for key, inner in value.items():
            if key not in properties:
                problems.append(f"{path}.{key}: not in the schema")
            else:
                problems += schema_problems(inner, properties[key], f"{path}.{key}")
        return problems
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {type(value).__name__}"]
        items = schema.get("items", {})
        return [p for i, item in enumerate(value) for p in schema_problems(item, items, f"{path}[{i}]")]
    if kind in _PY_TYPES:
        ok = isinstance(value, _PY_TYPES[kind]) and not (kind in ("integer", "number") and isinstance(value, bool))
        return [] if ok else [f"{path}: expected {kind}, got {type(value).__name__} {value!r:.40}"]
    return []


def value_paths(value, prefix=""):
    """Leaf paths present in a JSON value: ``Users.User[].UserName``, ``VersionStages.VersionStage[]``."""
    if isinstance(value, dict):
        paths = set()
        for key, inner in value.items():
            paths |= value_paths(inner, f"{prefix}.{key}" if prefix else key)
        return paths
    if isinstance(value, list):
        paths = set()
        for item in value:
            paths |= value_paths(item, prefix + "[]")
        return paths
    return {prefix}


def schema_paths(schema, prefix=""):
    kind = _kind(schema)
    if kind == "object" and schema.get("properties"):
        paths = set()
        for key, inner in schema["properties"].items():
            paths |= schema_paths(inner, f"{prefix}.{key}" if prefix else key)
        return paths
    if kind == "array":
        return schema_paths(schema.get("items", {}), prefix + "[]")
    return {prefix}


def response_schema(service, action):
    return META[service]["apis"][action]["responses"]["200"]["schema"]


# The metadata lists no error codes at all for these; localcloud answers them with the codes the
# neighbouring secret actions document (UpdateSecret's), which is what is checked.
UNDOCUMENTED_ERRORS_LIKE = {"UpdateSecretRotationPolicy": "UpdateSecret"}


def documented_errors(action):
    """{code: {statuses}} from the KMS metadata for ``action``."""
    codes = {}
    action = UNDOCUMENTED_ERRORS_LIKE.get(action, action)
    for status, entries in (META["kms"]["apis"][action].get("errorCodes") or {}).items():
        for entry in entries:
            codes.setdefault(entry["errorCode"], set()).add(int(status))
    return codes


def is_gateway_code(code):
    return code.startswith(GATEWAY_CODE_PREFIXES)


def audit_kms_errors(calls):
    """Problems: KMS errors in ``calls`` (a CallLog slice) whose code/status the action's errorCodes lack."""
    problems = []
    for call in calls:
        if call.service != "kms" or call.ok or is_gateway_code(call.code):
            continue
        allowed = documented_errors(call.action)
        if call.status not in allowed.get(call.code, ()):
            problems.append(f"{call.action}: {call.code} ({call.status}) not in errorCodes "
                            f"{sorted((c, sorted(s)) for c, s in allowed.items())}")
    return problems


# -- capturing the wire ------------------------------------------------------------------------
@dataclass
class Answer:
    service: str
    action: str
    status: int
    body: dict


@pytest.fixture
def wire(cloud):
    """Every answer the gateway gives during the test, as the JSON that went on the wire."""
    answers = []
    gateway = cloud.gateway
    real = gateway.handle

    def spy(action, version, params, auth=None):
        status, body = real(action, version, params, auth)
        answers.append(Answer(VERSIONS.get(version, ""), action, status,
                              json.loads(json.dumps(body, ensure_ascii=False))))
        return status, body

    gateway.handle = spy
    yield answers
    del gateway.handle


# -- scenarios: realistic calls for every action -----------------------------------------------
SCENARIOS = {}


def scenario(service, action):
    def register(fn):
        SCENARIOS[(service, action)] = fn
        return fn
    return register


def new_user(ram, name="alice.wang", **kw):
    fields = {"display_name": "Alice Wang", "mobile_phone": PHONE, "email": EMAIL, "comments": "managed-by=hr"}
    fields.update(kw)
    return ram.create_user(rm.CreateUserRequest(user_name=name, **fields))


def new_key(ram, user="alice.wang"):
    return ram.create_access_key(rm.CreateAccessKeyRequest(user_name=user)).body.access_key


def new_device(ram, name="alice-mfa"):
    return ram.create_virtual_mfadevice(rm.CreateVirtualMFADeviceRequest(virtual_mfadevice_name=name))


def bind(ram, serial, user="alice.wang"):
    return ram.bind_mfadevice(rm.BindMFADeviceRequest(serial_number=serial, user_name=user,
                                                      authentication_code_1="123456",
                                                      authentication_code_2="654321"))


def attach(ram, policy, user="alice.wang"):
    return ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type="System", policy_name=policy,
                                                                  user_name=user))


@scenario("ram", "CreateUser")
def _(cloud, ram, kms):
    return [new_user(ram), new_user(ram, "bob", display_name="鲍勃", comments=None, email=None, mobile_phone=None)]


@scenario("ram", "GetUser")
def _(cloud, ram, kms):
    new_user(ram)
    ram.update_user(rm.UpdateUserRequest(user_name="alice.wang", new_comments="updated"))
    cloud.set_last_login("alice.wang", "2026-11-20T08:00:00Z")      # no console here: a test sets it
    return ram.get_user(rm.GetUserRequest(user_name="alice.wang"))


@scenario("ram", "UpdateUser")
def _(cloud, ram, kms):
    new_user(ram)
    return ram.update_user(rm.UpdateUserRequest(user_name="alice.wang", new_user_name="alice.w",
                                                new_display_name="Alice W", new_mobile_phone="86-13900000000",
                                                new_email="alice.w@example.com", new_comments="renamed"))


@scenario("ram", "DeleteUser")
def _(cloud, ram, kms):
    new_user(ram)
    return ram.delete_user(rm.DeleteUserRequest(user_name="alice.wang"))


@scenario("ram", "ListUsers")
def _(cloud, ram, kms):
    for name in ("alice.wang", "bob", "carol"):
        new_user(ram, name)
    ram.update_user(rm.UpdateUserRequest(user_name="bob", new_comments="changed"))
    first = ram.list_users(rm.ListUsersRequest(max_items=2))
    assert first.body.is_truncated and first.body.marker
    rest = ram.list_users(rm.ListUsersRequest(max_items=2, marker=first.body.marker))
    assert not rest.body.is_truncated
    return [first, rest]


@scenario("ram", "CreateLoginProfile")
def _(cloud, ram, kms):
    new_user(ram)
    return ram.create_login_profile(rm.CreateLoginProfileRequest(user_name="alice.wang", password=PASSWORD,
                                                                 password_reset_required=True, mfabind_required=True))


@scenario("ram", "GetLoginProfile")
def _(cloud, ram, kms):
    _profile(ram)
    return ram.get_login_profile(rm.GetLoginProfileRequest(user_name="alice.wang"))


def _profile(ram):
    new_user(ram)
    ram.create_login_profile(rm.CreateLoginProfileRequest(user_name="alice.wang", password=PASSWORD,
                                                          password_reset_required=True))


@scenario("ram", "UpdateLoginProfile")
def _(cloud, ram, kms):
    _profile(ram)
    return ram.update_login_profile(rm.UpdateLoginProfileRequest(user_name="alice.wang", password=PASSWORD + "x",
                                                                 password_reset_required=False,
                                                                 mfabind_required=True))


@scenario("ram", "DeleteLoginProfile")
def _(cloud, ram, kms):
    _profile(ram)
    return ram.delete_login_profile(rm.DeleteLoginProfileRequest(user_name="alice.wang"))


@scenario("ram", "CreateAccessKey")
def _(cloud, ram, kms):
    new_user(ram)
    return [ram.create_access_key(rm.CreateAccessKeyRequest(user_name="alice.wang")) for _ in range(2)]


@scenario("ram", "UpdateAccessKey")
def _(cloud, ram, kms):
    new_user(ram)
    key = new_key(ram)
    return ram.update_access_key(rm.UpdateAccessKeyRequest(user_name="alice.wang",
                                                           user_access_key_id=key.access_key_id, status="Inactive"))


@scenario("ram", "DeleteAccessKey")
def _(cloud, ram, kms):
    new_user(ram)
    key = new_key(ram)
    return ram.delete_access_key(rm.DeleteAccessKeyRequest(user_name="alice.wang",
                                                           user_access_key_id=key.access_key_id))


@scenario("ram", "ListAccessKeys")
def _(cloud, ram, kms):
    new_user(ram)
    key = new_key(ram)
    new_key(ram)
    ram.update_access_key(rm.UpdateAccessKeyRequest(user_name="alice.wang", user_access_key_id=key.access_key_id,
                                                    status="Inactive"))
    listed = ram.list_access_keys(rm.ListAccessKeysRequest(user_name="alice.wang"))
    assert len(listed.body.access_keys.access_key) == 2
    return listed


@scenario("ram", "GetAccessKeyLastUsed")
def _(cloud, ram, kms):
    new_user(ram)
    attach(ram, "AliyunRAMReadOnlyAccess")
    key = new_key(ram)
    never = ram.get_access_key_last_used(rm.GetAccessKeyLastUsedRequest(user_name="alice.wang",
                                                                        user_access_key_id=key.access_key_id))
    from alibabacloud_ram20150501.client import Client as RamClient
    own = RamClient(cloud.client_config(access_key_id=key.access_key_id, access_key_secret=key.access_key_secret))
    own.get_user(rm.GetUserRequest(user_name="alice.wang"))           # signed with the key: a use
    used = ram.get_access_key_last_used(rm.GetAccessKeyLastUsedRequest(user_name="alice.wang",
                                                                       user_access_key_id=key.access_key_id))
    assert used.body.access_key_last_used.last_used_date
    return [never, used]


@scenario("ram", "AttachPolicyToUser")
def _(cloud, ram, kms):
    new_user(ram)
    return attach(ram, "AliyunARMSReadOnlyAccess")


@scenario("ram", "DetachPolicyFromUser")
def _(cloud, ram, kms):
    new_user(ram)
    attach(ram, "AliyunARMSFullAccess")
    return ram.detach_policy_from_user(rm.DetachPolicyFromUserRequest(
        policy_type="System", policy_name="AliyunARMSFullAccess", user_name="alice.wang"))


@scenario("ram", "ListPoliciesForUser")
def _(cloud, ram, kms):
    new_user(ram)
    attach(ram, "AliyunARMSReadOnlyAccess")
    attach(ram, "AliyunRAMFullAccess")
    listed = ram.list_policies_for_user(rm.ListPoliciesForUserRequest(user_name="alice.wang"))
    assert len(listed.body.policies.policy) == 2
    return listed


@scenario("ram", "CreateGroup")
def _(cloud, ram, kms):
    return [ram.create_group(rm.CreateGroupRequest(group_name="arms-readers", comments="ARMS read-only")),
            ram.create_group(rm.CreateGroupRequest(group_name="plain"))]


def _group_member(ram):
    new_user(ram)
    ram.create_group(rm.CreateGroupRequest(group_name="arms-readers", comments="ARMS read-only"))
    ram.add_user_to_group(rm.AddUserToGroupRequest(user_name="alice.wang", group_name="arms-readers"))


@scenario("ram", "AddUserToGroup")
def _(cloud, ram, kms):
    new_user(ram)
    ram.create_group(rm.CreateGroupRequest(group_name="arms-readers"))
    return ram.add_user_to_group(rm.AddUserToGroupRequest(user_name="alice.wang", group_name="arms-readers"))


@scenario("ram", "RemoveUserFromGroup")
def _(cloud, ram, kms):
    _group_member(ram)
    return ram.remove_user_from_group(rm.RemoveUserFromGroupRequest(user_name="alice.wang",
                                                                    group_name="arms-readers"))


@scenario("ram", "ListGroupsForUser")
def _(cloud, ram, kms):
    _group_member(ram)
    listed = ram.list_groups_for_user(rm.ListGroupsForUserRequest(user_name="alice.wang"))
    assert len(listed.body.groups.group) == 1
    return listed


@scenario("ram", "CreateVirtualMFADevice")
def _(cloud, ram, kms):
    return new_device(ram)


@scenario("ram", "BindMFADevice")
def _(cloud, ram, kms):
    new_user(ram)
    return bind(ram, new_device(ram).body.virtual_mfadevice.serial_number)


@scenario("ram", "GetUserMFAInfo")
def _(cloud, ram, kms):
    new_user(ram)
    bind(ram, new_device(ram).body.virtual_mfadevice.serial_number)
    return ram.get_user_mfainfo(rm.GetUserMFAInfoRequest(user_name="alice.wang"))


@scenario("ram", "UnbindMFADevice")
def _(cloud, ram, kms):
    new_user(ram)
    bind(ram, new_device(ram).body.virtual_mfadevice.serial_number)
    return ram.unbind_mfadevice(rm.UnbindMFADeviceRequest(user_name="alice.wang"))


@scenario("ram", "DeleteVirtualMFADevice")
def _(cloud, ram, kms):
    serial = new_device(ram).body.virtual_mfadevice.serial_number
    return ram.delete_virtual_mfadevice(rm.DeleteVirtualMFADeviceRequest(serial_number=serial))


@scenario("ram", "GetAccountAlias")
def _(cloud, ram, kms):
    answer = ram.get_account_alias()
    assert answer.body.account_alias == "corp"
    return answer


@scenario("ram", "SetAccountAlias")
def _(cloud, ram, kms):
    return ram.set_account_alias(rm.SetAccountAliasRequest(account_alias="hr-corp"))


@scenario("ram", "GetPasswordPolicy")
def _(cloud, ram, kms):
    return ram.get_password_policy()


@scenario("ram", "SetPasswordPolicy")
def _(cloud, ram, kms):
    return ram.set_password_policy(rm.SetPasswordPolicyRequest(
        minimum_password_length=12, require_lowercase_characters=True, require_uppercase_characters=True,
        require_numbers=True, require_symbols=True, hard_expiry=False, max_password_age=90,
        password_reuse_prevention=5, max_login_attemps=5))


# RAM: groups' and roles' policies, roles, custom policies and versions (hrctl setup) ------------
FC_TRUST = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"Service": ["fc.aliyuncs.com"]}}]})
DOC = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ram:GetUser", "Resource": "*"}]})


def new_role(ram, name="hr-fn", **kw):
    return ram.create_role(rm.CreateRoleRequest(role_name=name, assume_role_policy_document=FC_TRUST, **kw))


def new_policy(ram, name="hr-fn", document=DOC, **kw):
    return ram.create_policy(rm.CreatePolicyRequest(policy_name=name, policy_document=document, **kw))


def arms_group(ram, name="arms-readers"):
    ram.create_group(rm.CreateGroupRequest(group_name=name, comments="ARMS read-only"))
    ram.attach_policy_to_group(rm.AttachPolicyToGroupRequest(policy_type="System",
                                                             policy_name="AliyunARMSReadOnlyAccess", group_name=name))


@scenario("ram", "GetGroup")
def _(cloud, ram, kms):
    ram.create_group(rm.CreateGroupRequest(group_name="arms-readers", comments="ARMS read-only"))
    return ram.get_group(rm.GetGroupRequest(group_name="arms-readers"))


@scenario("ram", "ListGroups")
def _(cloud, ram, kms):
    for name in ("a-team", "b-team", "c-team"):
        ram.create_group(rm.CreateGroupRequest(group_name=name, comments=name))
    first = ram.list_groups(rm.ListGroupsRequest(max_items=2))
    assert first.body.is_truncated and [g.group_name for g in first.body.groups.group] == ["a-team", "b-team"]
    rest = ram.list_groups(rm.ListGroupsRequest(marker=first.body.marker))
    assert [g.group_name for g in rest.body.groups.group] == ["c-team"] and not rest.body.is_truncated
    return [first, rest]


@scenario("ram", "ListUsersForGroup")
def _(cloud, ram, kms):
    _group_member(ram)
    new_user(ram, "bob")
    ram.add_user_to_group(rm.AddUserToGroupRequest(user_name="bob", group_name="arms-readers"))
    first = ram.list_users_for_group(rm.ListUsersForGroupRequest(group_name="arms-readers", max_items=1))
    rest = ram.list_users_for_group(rm.ListUsersForGroupRequest(group_name="arms-readers", marker=first.body.marker))
    assert [u.user_name for u in first.body.users.user + rest.body.users.user] == ["alice.wang", "bob"]
    return [first, rest]


@scenario("ram", "DeleteGroup")
def _(cloud, ram, kms):
    ram.create_group(rm.CreateGroupRequest(group_name="arms-readers"))
    return ram.delete_group(rm.DeleteGroupRequest(group_name="arms-readers"))


@scenario("ram", "AttachPolicyToGroup")
def _(cloud, ram, kms):
    ram.create_group(rm.CreateGroupRequest(group_name="arms-readers"))
    return ram.attach_policy_to_group(rm.AttachPolicyToGroupRequest(
        policy_type="System", policy_name="AliyunARMSReadOnlyAccess", group_name="arms-readers"))


@scenario("ram", "DetachPolicyFromGroup")
def _(cloud, ram, kms):
    arms_group(ram)
    return ram.detach_policy_from_group(rm.DetachPolicyFromGroupRequest(
        policy_type="System", policy_name="AliyunARMSReadOnlyAccess", group_name="arms-readers"))


@scenario("ram", "ListPoliciesForGroup")
def _(cloud, ram, kms):
    arms_group(ram)
    listed = ram.list_policies_for_group(rm.ListPoliciesForGroupRequest(group_name="arms-readers"))
    assert [p.policy_name for p in listed.body.policies.policy] == ["AliyunARMSReadOnlyAccess"]
    return listed


@scenario("ram", "CreateRole")
def _(cloud, ram, kms):
    return [new_role(ram, description="the provisioner's execution role", max_session_duration=3600),
            new_role(ram, "plain.role")]


@scenario("ram", "GetRole")
def _(cloud, ram, kms):
    new_role(ram, description="execution role")
    got = ram.get_role(rm.GetRoleRequest(role_name="hr-fn"))
    assert json.loads(got.body.role.assume_role_policy_document) == json.loads(FC_TRUST)
    return got


@scenario("ram", "ListRoles")
def _(cloud, ram, kms):
    for name in ("role-a", "role-b", "role-c"):
        new_role(ram, name, description=name)
    first = ram.list_roles(rm.ListRolesRequest(max_items=2))
    rest = ram.list_roles(rm.ListRolesRequest(marker=first.body.marker))
    assert [r.role_name for r in first.body.roles.role + rest.body.roles.role] == ["role-a", "role-b", "role-c"]
    return [first, rest]


@scenario("ram", "UpdateRole")
def _(cloud, ram, kms):
    new_role(ram)
    trust = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                       "Principal": {"Service": ["fc.aliyuncs.com"]}}]},
                       indent=1)
    return ram.update_role(rm.UpdateRoleRequest(role_name="hr-fn", new_assume_role_policy_document=trust,
                                                new_description="updated", new_max_session_duration=7200))


@scenario("ram", "AttachPolicyToRole")
def _(cloud, ram, kms):
    new_role(ram)
    new_policy(ram)
    return ram.attach_policy_to_role(rm.AttachPolicyToRoleRequest(policy_type="Custom", policy_name="hr-fn",
                                                                  role_name="hr-fn"))


@scenario("ram", "DetachPolicyFromRole")
def _(cloud, ram, kms):
    new_role(ram)
    new_policy(ram)
    ram.attach_policy_to_role(rm.AttachPolicyToRoleRequest(policy_type="Custom", policy_name="hr-fn",
                                                          role_name="hr-fn"))
    return ram.detach_policy_from_role(rm.DetachPolicyFromRoleRequest(policy_type="Custom", policy_name="hr-fn",
                                                                      role_name="hr-fn"))


@scenario("ram", "ListPoliciesForRole")
def _(cloud, ram, kms):
    new_role(ram)
    new_policy(ram, description="the provisioner's least privilege")
    ram.attach_policy_to_role(rm.AttachPolicyToRoleRequest(policy_type="Custom", policy_name="hr-fn",
                                                          role_name="hr-fn"))
    return ram.list_policies_for_role(rm.ListPoliciesForRoleRequest(role_name="hr-fn"))


@scenario("ram", "CreatePolicy")
def _(cloud, ram, kms):
    return [new_policy(ram, description="least privilege"), new_policy(ram, "other")]


@scenario("ram", "GetPolicy")
def _(cloud, ram, kms):
    new_policy(ram, description="least privilege")
    return [ram.get_policy(rm.GetPolicyRequest(policy_type="Custom", policy_name="hr-fn")),
            ram.get_policy(rm.GetPolicyRequest(policy_type="System", policy_name="AliyunARMSFullAccess"))]


@scenario("ram", "ListPolicies")
def _(cloud, ram, kms):
    new_policy(ram, "a-policy", description="a")
    new_policy(ram, "b-policy", description="b")
    first = ram.list_policies(rm.ListPoliciesRequest(policy_type="Custom", max_items=1))
    rest = ram.list_policies(rm.ListPoliciesRequest(policy_type="Custom", marker=first.body.marker))
    assert [p.policy_name for p in first.body.policies.policy + rest.body.policies.policy] == ["a-policy", "b-policy"]
    system = ram.list_policies(rm.ListPoliciesRequest(policy_type="System", max_items=1000))
    assert {"AliyunARMSReadOnlyAccess", "AliyunARMSFullAccess"} <= {p.policy_name for p in system.body.policies.policy}
    return [first, rest, system]


@scenario("ram", "CreatePolicyVersion")
def _(cloud, ram, kms):
    new_policy(ram)
    return [ram.create_policy_version(rm.CreatePolicyVersionRequest(policy_name="hr-fn", policy_document=DOC,
                                                                    set_as_default=True)),
            ram.create_policy_version(rm.CreatePolicyVersionRequest(policy_name="hr-fn", policy_document=DOC,
                                                                    rotate_strategy="None"))]


@scenario("ram", "GetPolicyVersion")
def _(cloud, ram, kms):
    new_policy(ram)
    return ram.get_policy_version(rm.GetPolicyVersionRequest(policy_type="Custom", policy_name="hr-fn",
                                                             version_id="v1"))


@scenario("ram", "ListPolicyVersions")
def _(cloud, ram, kms):
    new_policy(ram)
    ram.create_policy_version(rm.CreatePolicyVersionRequest(policy_name="hr-fn", policy_document=DOC))
    listed = ram.list_policy_versions(rm.ListPolicyVersionsRequest(policy_type="Custom", policy_name="hr-fn"))
    assert [(v.version_id, v.is_default_version) for v in listed.body.policy_versions.policy_version] == [
        ("v2", False), ("v1", True)]
    return listed


@scenario("ram", "DeletePolicyVersion")
def _(cloud, ram, kms):
    new_policy(ram)
    ram.create_policy_version(rm.CreatePolicyVersionRequest(policy_name="hr-fn", policy_document=DOC))
    return ram.delete_policy_version(rm.DeletePolicyVersionRequest(policy_name="hr-fn", version_id="v2"))


@scenario("ram", "SetDefaultPolicyVersion")
def _(cloud, ram, kms):
    new_policy(ram)
    ram.create_policy_version(rm.CreatePolicyVersionRequest(policy_name="hr-fn", policy_document=DOC))
    return ram.set_default_policy_version(rm.SetDefaultPolicyVersionRequest(policy_name="hr-fn", version_id="v2"))


# KMS ------------------------------------------------------------------------------------------
def tags_json(**tags):
    return json.dumps([{"TagKey": k, "TagValue": v} for k, v in tags.items()])


def generic(kms, name="ram-user/alice.wang", data='{"AccessKeyId":"LTAIx","AccessKeySecret":"fidelity-secret"}',
            **kw):
    kw.setdefault("tags", tags_json(**{"managed-by": "hr-ram-provisioner", "employee-id": "E10023"}))
    return kms.create_secret(km.CreateSecretRequest(secret_name=name, version_id="v1", secret_data=data,
                                                    description="alice's key", **kw))


def ram_secret(cloud, ram, kms, rotate=True):
    new_user(ram)
    key = new_key(ram)
    data = json.dumps({"AccessKeys": [{"AccessKeyId": key.access_key_id, "AccessKeySecret": key.access_key_secret}]})
    extra = {"enable_automatic_rotation": True, "rotation_interval": "30d"} if rotate else {}
    return kms.create_secret(km.CreateSecretRequest(
        secret_name="$Auto", version_id="v1", secret_data=data, secret_type="RAMCredentials",
        extended_config={"SecretSubType": "RamUserAccessKey", "UserName": "alice.wang",
                         "CustomData": {"owner": "hr"}},
        dkmsinstance_id="kst-hzz0001", encryption_key_id="key-hzz0001", **extra))


@scenario("kms", "CreateSecret")
def _(cloud, ram, kms):
    return [generic(kms, dkmsinstance_id="kst-hzz0001", encryption_key_id="key-hzz0001"),
            ram_secret(cloud, ram, kms)]


@scenario("kms", "GetSecretValue")
def _(cloud, ram, kms):
    generic(kms)
    name = ram_secret(cloud, ram, kms).body.secret_name
    kms.rotate_secret(km.RotateSecretRequest(secret_name=name, version_id="v2"))      # LastRotationDate
    return [kms.get_secret_value(km.GetSecretValueRequest(secret_name="ram-user/alice.wang")),
            kms.get_secret_value(km.GetSecretValueRequest(secret_name=name, fetch_extended_config=True))]


@scenario("kms", "PutSecretValue")
def _(cloud, ram, kms):
    generic(kms)
    return [kms.put_secret_value(km.PutSecretValueRequest(secret_name="ram-user/alice.wang", version_id="v2",
                                                          secret_data='{"AccessKeySecret":"rotated-secret"}')),
            kms.put_secret_value(km.PutSecretValueRequest(secret_name="ram-user/alice.wang", version_id="v3",
                                                          secret_data="staged-value",
                                                          version_stages='["ACSNext"]'))]


@scenario("kms", "DescribeSecret")
def _(cloud, ram, kms):
    generic(kms, dkmsinstance_id="kst-hzz0001", encryption_key_id="key-hzz0001")
    kms.delete_secret(km.DeleteSecretRequest(secret_name="ram-user/alice.wang", recovery_window_in_days="7"))
    name = ram_secret(cloud, ram, kms).body.secret_name
    kms.rotate_secret(km.RotateSecretRequest(secret_name=name, version_id="v2"))      # LastRotationDate
    return [kms.describe_secret(km.DescribeSecretRequest(secret_name="ram-user/alice.wang", fetch_tags="true")),
            kms.describe_secret(km.DescribeSecretRequest(secret_name=name))]


@scenario("kms", "UpdateSecret")
def _(cloud, ram, kms):
    generic(kms)
    name = ram_secret(cloud, ram, kms).body.secret_name
    return [kms.update_secret(km.UpdateSecretRequest(secret_name="ram-user/alice.wang", description="rotated")),
            kms.update_secret(km.UpdateSecretRequest(
                secret_name=name, extended_config=km.UpdateSecretRequestExtendedConfig(custom_data={"team": "sre"})))]


@scenario("kms", "RotateSecret")
def _(cloud, ram, kms):
    name = ram_secret(cloud, ram, kms).body.secret_name
    return [kms.rotate_secret(km.RotateSecretRequest(secret_name=name, version_id="v2")),
            kms.rotate_secret(km.RotateSecretRequest(secret_name=name, version_id="v2"))]     # a repeat


@scenario("kms", "UpdateSecretVersionStage")
def _(cloud, ram, kms):
    generic(kms)
    kms.put_secret_value(km.PutSecretValueRequest(secret_name="ram-user/alice.wang", version_id="v2",
                                                  secret_data="second-value"))
    return [kms.update_secret_version_stage(km.UpdateSecretVersionStageRequest(
                secret_name="ram-user/alice.wang", version_stage="ACSCurrent", remove_from_version="v2",
                move_to_version="v1"))]


@scenario("kms", "UpdateSecretRotationPolicy")
def _(cloud, ram, kms):
    name = ram_secret(cloud, ram, kms).body.secret_name
    return [kms.update_secret_rotation_policy(km.UpdateSecretRotationPolicyRequest(
                secret_name=name, enable_automatic_rotation=False)),
            kms.update_secret_rotation_policy(km.UpdateSecretRotationPolicyRequest(
                secret_name=name, enable_automatic_rotation=True, rotation_interval="7d"))]


@scenario("kms", "ListSecrets")
def _(cloud, ram, kms):
    generic(kms)
    generic(kms, name="ram-user/bob")
    kms.delete_secret(km.DeleteSecretRequest(secret_name="ram-user/bob"))
    filters = json.dumps([{"Key": "TagKey", "Values": ["managed-by"]}])
    return [kms.list_secrets(km.ListSecretsRequest(fetch_tags="true", page_size=10, filters=filters)),
            kms.list_secrets(km.ListSecretsRequest(page_number=2, page_size=1))]


@scenario("kms", "ListSecretVersionIds")
def _(cloud, ram, kms):
    generic(kms)
    for version in ("v2", "v3"):
        kms.put_secret_value(km.PutSecretValueRequest(secret_name="ram-user/alice.wang", version_id=version,
                                                      secret_data=f"value-{version}"))
    return kms.list_secret_version_ids(km.ListSecretVersionIdsRequest(secret_name="ram-user/alice.wang",
                                                                      include_deprecated="true"))


@scenario("kms", "DeleteSecret")
def _(cloud, ram, kms):
    generic(kms)
    generic(kms, name="ram-user/bob")
    return [kms.delete_secret(km.DeleteSecretRequest(secret_name="ram-user/alice.wang", recovery_window_in_days="7")),
            kms.delete_secret(km.DeleteSecretRequest(secret_name="ram-user/bob",
                                                     force_delete_without_recovery="true"))]


@scenario("kms", "RestoreSecret")
def _(cloud, ram, kms):
    generic(kms)
    kms.delete_secret(km.DeleteSecretRequest(secret_name="ram-user/alice.wang"))
    return kms.restore_secret(km.RestoreSecretRequest(secret_name="ram-user/alice.wang"))


@scenario("kms", "TagResource")
def _(cloud, ram, kms):
    generic(kms)
    return kms.tag_resource(km.TagResourceRequest(secret_name="ram-user/alice.wang",
                                                  tags=tags_json(lifecycle="scheduled")))


@scenario("kms", "UntagResource")
def _(cloud, ram, kms):
    generic(kms)
    return kms.untag_resource(km.UntagResourceRequest(secret_name="ram-user/alice.wang",
                                                      tag_keys='["employee-id"]'))


@scenario("kms", "GetRandomPassword")
def _(cloud, ram, kms):
    return [kms.get_random_password(km.GetRandomPasswordRequest()),
            kms.get_random_password(km.GetRandomPasswordRequest(password_length="24", exclude_punctuation="true",
                                                                require_each_included_type="true"))]


# -- the tests ---------------------------------------------------------------------------------
def test_every_action_has_a_scenario():
    missing = [f"{s}:{a}" for s, a in IMPLEMENTED if (s, a) not in SCENARIOS]
    unknown = [f"{s}:{a}" for s, a in SCENARIOS if (s, a) not in IMPLEMENTED]
    assert not missing, f"implemented actions without a fidelity scenario: {missing}"
    assert not unknown, f"scenarios for actions localcloud does not implement: {unknown}"
    assert len(IMPLEMENTED) == len(RAM_SERVICE.actions) + len(KMS_SERVICE.actions)


def test_every_action_is_in_the_metadata():
    for service, action in IMPLEMENTED:
        assert action in META[service]["apis"], f"{service}:{action} is not an API of {service}"


@pytest.mark.parametrize("service,action", IMPLEMENTED, ids=[f"{s}-{a}" for s, a in IMPLEMENTED])
def test_response_fits_metadata_and_sdk(service, action, cloud, ram, kms, wire):
    run = SCENARIOS.get((service, action))
    if run is None:
        pytest.fail(f"no fidelity scenario for {service}:{action}")
    responses = run(cloud, ram, kms)
    responses = responses if isinstance(responses, list) else [responses]
    by_request = {a.body.get("RequestId"): a for a in wire}
    problems = []

    # The SDK parsed each answer of the action under test with nothing lost or changed.
    for response in responses:
        assert response.status_code == 200
        answer = by_request[response.body.request_id]
        assert (answer.service, answer.action, answer.status) == (service, action, 200)
        parsed = response.body.to_map()
        if parsed != answer.body:
            lost = value_paths(answer.body) - value_paths(parsed)
            problems.append(f"SDK model lost/changed fields of {action}: {sorted(lost) or 'values differ'}")

    # Every successful answer in the scenario (set-up calls included) fits its action's schema.
    for answer in wire:
        assert answer.body.get("RequestId"), f"{answer.action}: no RequestId"
        if answer.status == 200:
            problems += [f"{answer.action}: {p}" for p in
                         schema_problems(answer.body, response_schema(answer.service, answer.action))]
        else:
            problems.append(f"{answer.action} failed in the scenario: {answer.body.get('Code')}")

    # The scenario exercised every documented field, except the ones localcloud never returns.
    returned = set().union(*(value_paths(a.body) for a in wire if a.action == action and a.status == 200))
    documented = schema_paths(response_schema(service, action))
    exempt = set(NOT_RETURNED.get((service, action), {}))
    never = documented - returned - exempt
    if never:
        problems.append(f"{action}: documented fields never returned in the scenario: {sorted(never)}")
    if exempt & returned:
        problems.append(f"{action}: NOT_RETURNED lists fields that are returned: {sorted(exempt & returned)}")
    assert not problems, "\n".join(problems)


def test_schema_checker_catches_mismatches():
    schema = response_schema("ram", "ListUsers")
    good = {"RequestId": "r", "IsTruncated": False, "Users": {"User": [{"UserName": "a", "UserId": "1"}]}}
    assert schema_problems(good, schema) == []
    assert schema_problems({"RequestId": "r", "Users": [{"UserName": "a"}]}, schema)            # nesting
    assert schema_problems({"RequestId": "r", "Users": {"User": [{"Name": "a"}]}}, schema)      # field name
    assert schema_problems({"RequestId": "r", "IsTruncated": "false"}, schema)                  # type
    assert schema_problems({"RequestId": "r", "Extra": 1}, schema)                              # unknown field
    assert schema_problems({"PageSize": True}, response_schema("kms", "ListSecrets"))          # bool is no int


# -- KMS error codes ---------------------------------------------------------------------------
def _expect_error(call):
    try:
        call()
    except AlibabaCloudException:
        return
    raise AssertionError("the call succeeded; an error path was expected")


def test_kms_error_codes_are_documented(cloud, ram, kms):
    """Drive every KMS error path localcloud has; each code must be in the action's errorCodes."""
    generic(kms)
    generic(kms, name="deleting")
    kms.delete_secret(km.DeleteSecretRequest(secret_name="deleting"))
    new_user(ram)
    new_key(ram)
    mark = cloud.calls.mark()
    name = "ram-user/alice.wang"

    def create(**kw):
        kw.setdefault("secret_name", "new-secret")
        kw.setdefault("version_id", "v1")
        kw.setdefault("secret_data", "value-xxxxxxxx")
        return lambda: kms.create_secret(km.CreateSecretRequest(**kw))

    paths = [
        # CreateSecret
        create(secret_name=name), create(secret_name="deleting"), create(secret_name="acs/x"),
        create(secret_name="bad name"), create(version_id=None), create(secret_data=None), create(secret_name=None),
        create(tags="[1]"), create(tags=tags_json(aliyun="x")), create(secret_type="Rds"), create(secret_type="X"),
        create(dkmsinstance_id="bad"), create(secret_data_type="binary", secret_data="%%%"),
        create(secret_type="RAMCredentials", secret_name="$Auto",
               extended_config={"SecretSubType": "RamUserAccessKey", "UserName": "ghost"},
               secret_data='{"AccessKeys":[{"AccessKeyId":"a","AccessKeySecret":"b"}]}'),
        create(secret_type="RAMCredentials", secret_name="$Auto",
               extended_config={"SecretSubType": "RamUserAccessKey", "UserName": "alice.wang"},
               secret_data='{"AccessKeys":[{"AccessKeyId":"a","AccessKeySecret":"b"}]}'),
        create(secret_type="RAMCredentials", secret_name="$Auto"),
        # RotateSecret: a Generic secret, an unknown one, one in its delete window
        lambda: kms.rotate_secret(km.RotateSecretRequest(secret_name=name, version_id="v9")),
        lambda: kms.rotate_secret(km.RotateSecretRequest(secret_name="nope", version_id="v9")),
        lambda: kms.rotate_secret(km.RotateSecretRequest(secret_name="deleting", version_id="v9")),
        # UpdateSecretVersionStage: from a version that does not hold the stage, to an unknown version, an
        # unknown secret, one in its delete window, ACSCurrent only removed
        lambda: kms.update_secret_version_stage(km.UpdateSecretVersionStageRequest(
            secret_name=name, version_stage="ACSCurrent", remove_from_version="v0", move_to_version="v1")),
        lambda: kms.update_secret_version_stage(km.UpdateSecretVersionStageRequest(
            secret_name=name, version_stage="ACSCurrent", move_to_version="v9")),
        lambda: kms.update_secret_version_stage(km.UpdateSecretVersionStageRequest(
            secret_name="nope", version_stage="ACSCurrent", move_to_version="v1")),
        lambda: kms.update_secret_version_stage(km.UpdateSecretVersionStageRequest(
            secret_name="deleting", version_stage="ACSCurrent", move_to_version="v1")),
        lambda: kms.update_secret_version_stage(km.UpdateSecretVersionStageRequest(
            secret_name=name, version_stage="ACSCurrent", remove_from_version="v1")),
        # GetSecretValue
        lambda: kms.get_secret_value(km.GetSecretValueRequest(secret_name="nope")),
        lambda: kms.get_secret_value(km.GetSecretValueRequest(secret_name="deleting")),
        lambda: kms.get_secret_value(km.GetSecretValueRequest(secret_name=name, version_id="v9")),
        lambda: kms.get_secret_value(km.GetSecretValueRequest(secret_name=name, version_stage="ACSNext")),
        lambda: kms.get_secret_value(km.GetSecretValueRequest()),
        lambda: kms.get_secret_value(km.GetSecretValueRequest(secret_name="")),
        # PutSecretValue
        lambda: kms.put_secret_value(km.PutSecretValueRequest(secret_name="nope", version_id="v2", secret_data="x")),
        lambda: kms.put_secret_value(km.PutSecretValueRequest(secret_name="deleting", version_id="v2",
                                                              secret_data="x")),
        lambda: kms.put_secret_value(km.PutSecretValueRequest(secret_name=name, version_id="v1", secret_data="x")),
        lambda: kms.put_secret_value(km.PutSecretValueRequest(secret_name=name, version_id="v2")),
        lambda: kms.put_secret_value(km.PutSecretValueRequest(secret_name=name, version_id="v2", secret_data="x",
                                                              version_stages="[1]")),
        # DescribeSecret
        lambda: kms.describe_secret(km.DescribeSecretRequest(secret_name="nope")),
        lambda: kms.describe_secret(km.DescribeSecretRequest(secret_name=name, fetch_tags="maybe")),
        # UpdateSecretRotationPolicy
        lambda: kms.update_secret_rotation_policy(km.UpdateSecretRotationPolicyRequest(
            secret_name="nope", enable_automatic_rotation=False)),
        lambda: kms.update_secret_rotation_policy(km.UpdateSecretRotationPolicyRequest(
            secret_name=name, enable_automatic_rotation=False)),           # Generic: KMS does not rotate it
        # UpdateSecret
        lambda: kms.update_secret(km.UpdateSecretRequest(secret_name="nope", description="d")),
        lambda: kms.update_secret(km.UpdateSecretRequest(secret_name="deleting", description="d")),
        lambda: kms.update_secret(km.UpdateSecretRequest(
            secret_name=name, extended_config=km.UpdateSecretRequestExtendedConfig(custom_data={"a": "b"}))),
        # ListSecrets
        lambda: kms.list_secrets(km.ListSecretsRequest(page_size=101)),
        lambda: kms.list_secrets(km.ListSecretsRequest(filters='[{"Key":"Owner","Values":["x"]}]')),
        # ListSecretVersionIds
        lambda: kms.list_secret_version_ids(km.ListSecretVersionIdsRequest(secret_name="nope")),
        lambda: kms.list_secret_version_ids(km.ListSecretVersionIdsRequest(secret_name=name, page_number=0)),
        # DeleteSecret
        lambda: kms.delete_secret(km.DeleteSecretRequest(secret_name="nope")),
        lambda: kms.delete_secret(km.DeleteSecretRequest(secret_name="deleting")),
        lambda: kms.delete_secret(km.DeleteSecretRequest(secret_name=name, recovery_window_in_days="3")),
        # RestoreSecret
        lambda: kms.restore_secret(km.RestoreSecretRequest(secret_name="nope")),
        lambda: kms.restore_secret(km.RestoreSecretRequest(secret_name=name)),
        # TagResource / UntagResource
        lambda: kms.tag_resource(km.TagResourceRequest(secret_name="nope", tags=tags_json(a="1"))),
        lambda: kms.tag_resource(km.TagResourceRequest(key_id="key-1", tags=tags_json(a="1"))),
        lambda: kms.tag_resource(km.TagResourceRequest(secret_name=name, tags=tags_json(**{"acs:x": "1"}))),
        lambda: kms.untag_resource(km.UntagResourceRequest(secret_name="nope", tag_keys='["a"]')),
        lambda: kms.untag_resource(km.UntagResourceRequest(secret_name=name)),
        # GetRandomPassword
        lambda: kms.get_random_password(km.GetRandomPasswordRequest(password_length="7")),
        lambda: kms.get_random_password(km.GetRandomPasswordRequest(
            exclude_lowercase="true", exclude_uppercase="true", exclude_numbers="true", exclude_punctuation="true")),
    ]
    for path in paths:
        _expect_error(path)
    calls = cloud.calls.since(mark)
    assert len(calls) == len(paths) and not any(c.ok for c in calls)
    assert audit_kms_errors(calls) == []
    emitted = {(c.action, c.code) for c in calls}
    assert {a for a, _ in emitted} == set(KMS_SERVICE.actions), "every KMS action has a driven error path"
    assert {c for _, c in emitted} >= {
        "Rejected.ResourceExist", "Rejected.ResourceInDeleteWindow", "Forbidden.ResourceNotFound",
        "InvalidParameter", "Rejected.ResourceInUse", "UnsupportedOperation", "Forbidden.DKMSInstanceNotFound"}


def test_audit_flags_undocumented_codes(cloud):
    cloud.faults.fail("GetSecretValue", "Rejected.ResourceInDeleteWindow", 409)
    cloud.invoke("GetSecretValue", {"SecretName": "x"})
    cloud.faults.fail("GetSecretValue", "Throttling.User", 400)
    cloud.invoke("GetSecretValue", {"SecretName": "x"})
    problems = audit_kms_errors(cloud.calls)
    assert len(problems) == 1 and "Rejected.ResourceInDeleteWindow" in problems[0]
