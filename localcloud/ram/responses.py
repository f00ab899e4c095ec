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

SERVICE = Service(name="ram", version="2015-05-01", backend_factory=RamBackend, actions=ACTIONS)
