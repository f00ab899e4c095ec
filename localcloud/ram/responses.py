"""RAM wire protocol: parameters in, JSON shaped like the real API out.

Every handler takes ``(backend, Params)`` and returns the 200 body without
``RequestId`` (the gateway adds it). Shapes follow
``apis.<Action>.responses["200"].schema`` of the RAM 2015-05-01 metadata:
lists are wrapped the XML way (``Users.User[]``, ``AccessKeys.AccessKey[]``,
``Policies.Policy[]``, ``Groups.Group[]``).
"""
from dataclasses import fields

from ..clock import iso
from ..core import Service
from .models import BLANK_PNG, PasswordPolicy, RamBackend, _camel


def _user(user, with_update=True):
    body = {"UserName": user.user_name, "UserId": user.user_id, "DisplayName": user.display_name,
            "Email": user.email, "MobilePhone": user.mobile_phone, "Comments": user.comments,
            "CreateDate": iso(user.created)}
    if with_update:
        body["UpdateDate"] = iso(user.updated)
    return body


# -- users ------------------------------------------------------------------------
def create_user(backend, p):
    user = backend.create_user(p.required("UserName"), display_name=p.get("DisplayName"),
                               comments=p.get("Comments"), mobile_phone=p.get("MobilePhone"), email=p.get("Email"))
    return {"User": _user(user, with_update=False)}


def get_user(backend, p):
    user = backend.get_user(p.required("UserName"))
    body = _user(user)
    if user.last_login is not None:          # only GetUser's schema has it; only once set (tests)
        body["LastLoginDate"] = iso(user.last_login)
    return {"User": body}


def update_user(backend, p):
    user = backend.update_user(p.required("UserName"), new_user_name=p.get("NewUserName"),
                               new_display_name=p.get("NewDisplayName"), new_comments=p.get("NewComments"),
                               new_mobile_phone=p.get("NewMobilePhone"), new_email=p.get("NewEmail"))
    return {"User": _user(user)}


def delete_user(backend, p):
    backend.delete_user(p.required("UserName"))
    return {}


def list_users(backend, p):
    users, truncated, marker = backend.list_users(p.get("Marker"), p.get_int("MaxItems", 100, low=1, high=1000))
    body = {"IsTruncated": truncated, "Users": {"User": [_user(u) for u in users]}}
    if truncated:
        body["Marker"] = marker
    return body


# -- login profiles -------------------------------------------------------------------
def _login_profile(user_and_profile):
    user, profile = user_and_profile
    return {"UserName": user.user_name, "PasswordResetRequired": profile.password_reset_required,
            "MFABindRequired": profile.mfa_bind_required, "CreateDate": iso(profile.created)}


def create_login_profile(backend, p):
    created = backend.create_login_profile(p.required("UserName"), p.required("Password"),
                                           password_reset_required=p.get_bool("PasswordResetRequired", False),
                                           mfa_bind_required=p.get_bool("MFABindRequired", False))
    return {"LoginProfile": _login_profile(created)}


def get_login_profile(backend, p):
    return {"LoginProfile": _login_profile(backend.get_login_profile(p.required("UserName")))}


def update_login_profile(backend, p):
    backend.update_login_profile(p.required("UserName"), password=p.get("Password"),
                                 password_reset_required=p.get_bool("PasswordResetRequired"),
                                 mfa_bind_required=p.get_bool("MFABindRequired"))
    return {}


def delete_login_profile(backend, p):
    backend.delete_login_profile(p.required("UserName"))
    return {}


# -- access keys ----------------------------------------------------------------------
def _access_key(key):
    return {"AccessKeyId": key.access_key_id, "Status": key.status, "CreateDate": iso(key.created)}


def create_access_key(backend, p):
    key = backend.create_access_key(p.required("UserName"))
    return {"AccessKey": {"AccessKeyId": key.access_key_id, "AccessKeySecret": key.secret, "Status": key.status,
                          "CreateDate": iso(key.created)}}


def update_access_key(backend, p):
    backend.update_access_key(p.required("UserName"), p.required("UserAccessKeyId"), p.required("Status"))
    return {}


def delete_access_key(backend, p):
    backend.delete_access_key(p.required("UserName"), p.required("UserAccessKeyId"))
    return {}


def list_access_keys(backend, p):
    return {"AccessKeys": {"AccessKey": [_access_key(k) for k in backend.list_access_keys(p.required("UserName"))]}}


def get_access_key_last_used(backend, p):
    used = backend.get_access_key_last_used(p.required("UserName"), p.required("UserAccessKeyId"))
    return {"AccessKeyLastUsed": {"LastUsedDate": iso(used)} if used is not None else {}}


# -- policies ---------------------------------------------------------------------------
def attach_policy_to_user(backend, p):
    backend.attach_policy_to_user(p.required("PolicyType"), p.required("PolicyName"), p.required("UserName"))
    return {}


def detach_policy_from_user(backend, p):
    backend.detach_policy_from_user(p.required("PolicyType"), p.required("PolicyName"), p.required("UserName"))
    return {}


def list_policies_for_user(backend, p):
    return {"Policies": {"Policy": [
        {"PolicyName": policy.policy_name, "PolicyType": policy.policy_type, "Description": policy.description,
         "DefaultVersion": policy.default_version, "AttachDate": iso(attached)}
        for policy, attached in backend.list_policies_for_user(p.required("UserName"))]}}


# -- groups -------------------------------------------------------------------------------
def create_group(backend, p):
    group = backend.create_group(p.required("GroupName"), p.get("Comments"))
    return {"Group": {"GroupName": group.group_name, "GroupId": group.group_id, "Comments": group.comments,
                      "CreateDate": iso(group.created)}}


def add_user_to_group(backend, p):
    backend.add_user_to_group(p.required("UserName"), p.required("GroupName"))
    return {}


def remove_user_from_group(backend, p):
    backend.remove_user_from_group(p.required("UserName"), p.required("GroupName"))
    return {}


def list_groups_for_user(backend, p):
    return {"Groups": {"Group": [
        {"GroupName": group.group_name, "GroupId": group.group_id, "Comments": group.comments,
         "JoinDate": iso(joined)} for group, joined in backend.list_groups_for_user(p.required("UserName"))]}}


# -- MFA ------------------------------------------------------------------------------------
def create_virtual_mfa_device(backend, p):
    device = backend.create_virtual_mfa_device(p.required("VirtualMFADeviceName"))
    return {"VirtualMFADevice": {"SerialNumber": device.serial_number, "Base32StringSeed": device.seed,
                                 "QRCodePNG": BLANK_PNG}}


def bind_mfa_device(backend, p):
    backend.bind_mfa_device(p.required("SerialNumber"), p.required("UserName"), p.required("AuthenticationCode1"),
                            p.required("AuthenticationCode2"))
    return {}


def get_user_mfa_info(backend, p):
    device = backend.get_user_mfa_info(p.required("UserName"))
    return {"MFADevice": {"SerialNumber": device.serial_number, "Type": "VMFA"}}


def unbind_mfa_device(backend, p):
    return {"MFADevice": {"SerialNumber": backend.unbind_mfa_device(p.required("UserName")).serial_number}}


def delete_virtual_mfa_device(backend, p):
    backend.delete_virtual_mfa_device(p.required("SerialNumber"))
    return {}


# -- account ----------------------------------------------------------------------------------
PASSWORD_POLICY_FIELDS = [f.name for f in fields(PasswordPolicy)]
_INT_FIELDS = ("minimum_password_length", "max_password_age", "password_reuse_prevention", "max_login_attemps")


def _password_policy(policy):
    return {_camel(name): getattr(policy, name) for name in PASSWORD_POLICY_FIELDS}


def get_account_alias(backend, p):
    return {"AccountAlias": backend.get_account_alias()}


def set_account_alias(backend, p):
    backend.set_account_alias(p.required("AccountAlias"))
    return {}


def get_password_policy(backend, p):
    return {"PasswordPolicy": _password_policy(backend.get_password_policy())}


def set_password_policy(backend, p):
    values = {name: p.get_int(_camel(name)) for name in _INT_FIELDS}      # integers first, as before
    values.update({name: p.get_bool(_camel(name)) for name in PASSWORD_POLICY_FIELDS if name not in _INT_FIELDS})
    return {"PasswordPolicy": _password_policy(backend.set_password_policy(**values))}


# -- groups' and roles' policies, roles, custom policies and versions (hrctl setup) ---------------
def _attached(pairs):
    return {"Policies": {"Policy": [
        {"PolicyName": policy.policy_name, "PolicyType": policy.policy_type, "Description": policy.description,
         "DefaultVersion": policy.default_version, "AttachDate": iso(attached)} for policy, attached in pairs]}}


def _page(body, truncated, marker):
    body["IsTruncated"] = truncated
    if truncated:
        body["Marker"] = marker
    return body


def _group(group):
    return {"GroupName": group.group_name, "GroupId": group.group_id, "Comments": group.comments,
            "CreateDate": iso(group.created), "UpdateDate": iso(group.created)}


def get_group(backend, p):
    return {"Group": _group(backend.get_group(p.required("GroupName")))}


def list_groups(backend, p):
    groups, truncated, marker = backend.list_groups(p.get("Marker"), p.get_int("MaxItems", 100, low=1, high=1000))
    return _page({"Groups": {"Group": [_group(g) for g in groups]}}, truncated, marker)


def list_users_for_group(backend, p):
    members, truncated, marker = backend.list_users_for_group(
        p.required("GroupName"), p.get("Marker"), p.get_int("MaxItems", 100, low=1, high=1000))
    return _page({"Users": {"User": [{"UserName": u.user_name, "DisplayName": u.display_name, "JoinDate": iso(at)}
                                     for u, at in members]}}, truncated, marker)


def delete_group(backend, p):
    backend.delete_group(p.required("GroupName"))
    return {}


def attach_policy_to_group(backend, p):
    backend.attach_policy_to_group(p.required("PolicyType"), p.required("PolicyName"), p.required("GroupName"))
    return {}


def detach_policy_from_group(backend, p):
    backend.detach_policy_from_group(p.required("PolicyType"), p.required("PolicyName"), p.required("GroupName"))
    return {}


def list_policies_for_group(backend, p):
    return _attached(backend.list_policies_for_group(p.required("GroupName")))


def _role(role, with_update=True, with_document=True):
    body = {"RoleName": role.role_name, "RoleId": role.role_id, "Arn": role.arn, "Description": role.description,
            "MaxSessionDuration": role.max_session_duration, "CreateDate": iso(role.created)}
    if with_document:
        body["AssumeRolePolicyDocument"] = role.assume_role_policy_document
    if with_update:
        body["UpdateDate"] = iso(role.updated)
    return body


def create_role(backend, p):
    role = backend.create_role(p.required("RoleName"), p.required("AssumeRolePolicyDocument"),
                               description=p.get("Description"), max_session_duration=p.get_int("MaxSessionDuration"))
    return {"Role": _role(role, with_update=False)}


def get_role(backend, p):
    return {"Role": _role(backend.get_role(p.required("RoleName")))}


def list_roles(backend, p):
    roles, truncated, marker = backend.list_roles(p.get("Marker"), p.get_int("MaxItems", 100, low=1, high=1000))
    return _page({"Roles": {"Role": [_role(r, with_document=False) for r in roles]}}, truncated, marker)


def update_role(backend, p):
    role = backend.update_role(p.required("RoleName"),
                               new_assume_role_policy_document=p.get("NewAssumeRolePolicyDocument"),
                               new_description=p.get("NewDescription"),
                               new_max_session_duration=p.get_int("NewMaxSessionDuration"))
    return {"Role": _role(role)}


def attach_policy_to_role(backend, p):
    backend.attach_policy_to_role(p.required("PolicyType"), p.required("PolicyName"), p.required("RoleName"))
    return {}


def detach_policy_from_role(backend, p):
    backend.detach_policy_from_role(p.required("PolicyType"), p.required("PolicyName"), p.required("RoleName"))
    return {}


def list_policies_for_role(backend, p):
    return _attached(backend.list_policies_for_role(p.required("RoleName")))


def _version(version, is_default):
    return {"VersionId": version.version_id, "IsDefaultVersion": is_default, "PolicyDocument": version.document,
            "CreateDate": iso(version.created)}


def create_policy(backend, p):
    policy = backend.create_policy(p.required("PolicyName"), p.required("PolicyDocument"), p.get("Description"))
    return {"Policy": {"PolicyName": policy.policy_name, "PolicyType": policy.policy_type,
                       "Description": policy.description, "DefaultVersion": policy.default_version,
                       "CreateDate": iso(policy.created)}}


def get_policy(backend, p):
    policy, default, attachments = backend.get_policy(p.required("PolicyType"), p.required("PolicyName"))
    return {"Policy": {"PolicyName": policy.policy_name, "PolicyType": policy.policy_type,
                       "Description": policy.description, "DefaultVersion": policy.default_version,
                       "AttachmentCount": attachments, "CreateDate": iso(policy.created),
                       "UpdateDate": iso(policy.updated)},
            "DefaultPolicyVersion": _version(default, True)}


def list_policies(backend, p):
    found, truncated, marker = backend.list_policies(p.get("PolicyType"), p.get("Marker"),
                                                     p.get_int("MaxItems", 100, low=1, high=1000))
    return _page({"Policies": {"Policy": [
        {"PolicyName": policy.policy_name, "PolicyType": policy.policy_type, "Description": policy.description,
         "DefaultVersion": policy.default_version, "AttachmentCount": attachments,
         "CreateDate": iso(policy.created), "UpdateDate": iso(policy.updated)} for policy, attachments in found]}},
        truncated, marker)


def create_policy_version(backend, p):
    version, is_default = backend.create_policy_version(
        p.required("PolicyName"), p.required("PolicyDocument"), set_as_default=p.get_bool("SetAsDefault", False),
        rotate_strategy=p.get("RotateStrategy"))
    return {"PolicyVersion": _version(version, is_default)}


def get_policy_version(backend, p):
    return {"PolicyVersion": _version(*backend.get_policy_version(p.required("PolicyType"), p.required("PolicyName"),
                                                                  p.required("VersionId")))}


def list_policy_versions(backend, p):
    return {"PolicyVersions": {"PolicyVersion": [
        _version(v, d) for v, d in backend.list_policy_versions(p.required("PolicyType"), p.required("PolicyName"))]}}


def delete_policy_version(backend, p):
    backend.delete_policy_version(p.required("PolicyName"), p.required("VersionId"))
    return {}


def set_default_policy_version(backend, p):
    backend.set_default_policy_version(p.required("PolicyName"), p.required("VersionId"))
    return {}


SETUP_ACTIONS = {
    "GetGroup": get_group, "ListGroups": list_groups, "ListUsersForGroup": list_users_for_group,
    "DeleteGroup": delete_group, "AttachPolicyToGroup": attach_policy_to_group,
    "DetachPolicyFromGroup": detach_policy_from_group, "ListPoliciesForGroup": list_policies_for_group,
    "CreateRole": create_role, "GetRole": get_role, "ListRoles": list_roles, "UpdateRole": update_role,
    "AttachPolicyToRole": attach_policy_to_role, "DetachPolicyFromRole": detach_policy_from_role,
    "ListPoliciesForRole": list_policies_for_role,
    "CreatePolicy": create_policy, "GetPolicy": get_policy, "ListPolicies": list_policies,
    "CreatePolicyVersion": create_policy_version, "GetPolicyVersion": get_policy_version,
    "ListPolicyVersions": list_policy_versions, "DeletePolicyVersion": delete_policy_version,
    "SetDefaultPolicyVersion": set_default_policy_version,
}


ACTIONS = {
    "CreateUser": create_user, "GetUser": get_user, "UpdateUser": update_user, "DeleteUser": delete_user,
    "ListUsers": list_users,
    "CreateLoginProfile": create_login_profile, "GetLoginProfile": get_login_profile,
    "UpdateLoginProfile": update_login_profile, "DeleteLoginProfile": delete_login_profile,
    "CreateAccessKey": create_access_key, "UpdateAccessKey": update_access_key,
    "DeleteAccessKey": delete_access_key, "ListAccessKeys": list_access_keys,
    "GetAccessKeyLastUsed": get_access_key_last_used,
    "AttachPolicyToUser": attach_policy_to_user, "DetachPolicyFromUser": detach_policy_from_user,
    "ListPoliciesForUser": list_policies_for_user,
    "CreateGroup": create_group, "AddUserToGroup": add_user_to_group,
    "RemoveUserFromGroup": remove_user_from_group, "ListGroupsForUser": list_groups_for_user,
    "CreateVirtualMFADevice": create_virtual_mfa_device, "BindMFADevice": bind_mfa_device,
    "GetUserMFAInfo": get_user_mfa_info, "UnbindMFADevice": unbind_mfa_device,
    "DeleteVirtualMFADevice": delete_virtual_mfa_device,
    "GetAccountAlias": get_account_alias, "SetAccountAlias": set_account_alias,
    "GetPasswordPolicy": get_password_policy, "SetPasswordPolicy": set_password_policy,
}
ACTIONS.update(SETUP_ACTIONS)

SERVICE = Service(name="ram", version="2015-05-01", backend_factory=RamBackend, actions=ACTIONS)
