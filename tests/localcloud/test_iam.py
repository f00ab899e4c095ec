"""Caller policies: localcloud answers what RAM's authorization would, through the official SDK."""
import json

import pytest
from alibabacloud_kms20160120 import models as km
from alibabacloud_ram20150501 import models as rm

from localcloud.iam import resources

POLICY = {"Version": "1", "Statement": [
    {"Effect": "Allow", "Action": ["ram:GetUser", "ram:CreateUser"], "Resource": "acs:ram:*:*:user/*"},
    {"Effect": "Allow", "Action": "ram:AttachPolicyToUser",
     "Resource": ["acs:ram:*:*:user/*", "acs:ram:*:system:policy/AliyunARMSReadOnlyAccess"]},
    {"Effect": "Deny", "Action": "ram:CreateUser", "Resource": "acs:ram:*:*:user/root*"},
    {"Effect": "Allow", "Action": "kms:DescribeSecret", "Resource": "acs:kms:*:*:secret/ram-user/*"},
    {"Effect": "Allow", "Action": "ram:ListUsers", "Resource": "*", "Condition": {"Bool": {"acs:MFAPresent": "true"}}},
]}


@pytest.fixture
def restricted(cloud):
    cloud.attach_caller_policy(POLICY)
    yield cloud
    cloud.detach_caller_policies()


def _code(call):
    with pytest.raises(Exception) as info:
        call()
    return info.value.code, info.value.status_code


def test_allowed_actions_pass_and_others_get_no_permission(restricted, ram, kms):
    ram.create_user(rm.CreateUserRequest(user_name="alice"))
    assert ram.get_user(rm.GetUserRequest(user_name="alice")).body.user.user_name == "alice"
    assert _code(lambda: ram.delete_user(rm.DeleteUserRequest(user_name="alice"))) == ("NoPermission", 403)
    assert restricted.ram.users.get("alice") is not None   # refused before the service acted


def test_explicit_deny_wins(restricted, ram):
    assert _code(lambda: ram.create_user(rm.CreateUserRequest(user_name="rootish"))) == ("NoPermission", 403)


def test_every_resource_of_a_request_must_be_allowed(restricted, ram):
    ram.create_user(rm.CreateUserRequest(user_name="bob"))
    ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(
        user_name="bob", policy_name="AliyunARMSReadOnlyAccess", policy_type="System"))
    assert _code(lambda: ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(
        user_name="bob", policy_name="AdministratorAccess", policy_type="System"))) == ("NoPermission", 403)


def test_kms_secret_scope_and_code(restricted, kms):
    assert _code(lambda: kms.describe_secret(km.DescribeSecretRequest(secret_name="ram-user/x"))) == (
        "Forbidden.ResourceNotFound", 404)   # allowed: the service answers
    assert _code(lambda: kms.describe_secret(km.DescribeSecretRequest(secret_name="db/password"))) == (
        "Forbidden.NoPermission", 403)


def test_allow_with_condition_is_not_granted(restricted, ram):
    assert _code(lambda: ram.list_users(rm.ListUsersRequest())) == ("NoPermission", 403)


def test_unrestricted_keys_and_detach(cloud, ram):
    cloud.attach_caller_policy(POLICY, access_key_id="LTAIsomeoneelse")
    ram.create_user(rm.CreateUserRequest(user_name="root.ok"))   # the policy is on another key
    cloud.detach_caller_policies()


def test_resource_arns():
    from localcloud import Account
    acct = Account(account_id="123", region="cn-hangzhou")
    assert resources("ram", "AttachPolicyToUser", {"UserName": "a", "PolicyName": "P", "PolicyType": "System"},
                     acct) == ["acs:ram:*:123:user/a", "acs:ram:*:system:policy/P"]
    assert resources("ram", "DeleteVirtualMFADevice", {"SerialNumber": "acs:ram::123:mfa/dev"}, acct) == [
        "acs:ram:*:123:mfa/dev"]
    assert resources("kms", "CreateSecret", {"SecretName": "$Auto",
                                             "ExtendedConfig": json.dumps({"UserName": "bob"})}, acct) == [
        "acs:kms:cn-hangzhou:123:secret/acs/ram/user/bob"]
    assert resources("ram", "ListUsers", {}, acct) == ["acs:ram:*:123:*"]


def _as_user_key(cloud, key):
    from alibabacloud_ram20150501.client import Client as RamClient
    return RamClient(cloud.client_config(access_key_id=key.access_key_id, access_key_secret=key.access_key_secret,
                                         security_token=None))


def test_a_ram_users_key_signs_while_active_only(cloud, ram):
    """What a reader of a rotated secret relies on: the key it read signs while it is Active; an Inactive
    key is refused (InvalidAccessKeyId.Inactive), a deleted one is unknown (InvalidAccessKeyId.NotFound)."""
    ram.create_user(rm.CreateUserRequest(user_name="reader"))
    key = ram.create_access_key(rm.CreateAccessKeyRequest(user_name="reader")).body.access_key
    as_user = _as_user_key(cloud, key)
    # authenticated, and held to the user's policies: none yet, so nothing is allowed
    assert _code(lambda: as_user.get_user(rm.GetUserRequest(user_name="reader"))) == ("NoPermission", 403)
    cloud.attach_user_policy("reader", {"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "ram:GetUser", "Resource": "acs:ram:*:*:user/reader"}]})
    try:
        assert as_user.get_user(rm.GetUserRequest(user_name="reader")).body.user.user_name == "reader"
        assert _code(lambda: as_user.get_user(rm.GetUserRequest(user_name="other"))) == ("NoPermission", 403)
        ram.update_access_key(rm.UpdateAccessKeyRequest(user_name="reader", user_access_key_id=key.access_key_id,
                                                        status="Inactive"))
        assert _code(lambda: as_user.get_user(rm.GetUserRequest(user_name="reader"))) == (
            "InvalidAccessKeyId.Inactive", 400)
        ram.update_access_key(rm.UpdateAccessKeyRequest(user_name="reader", user_access_key_id=key.access_key_id,
                                                        status="Active"))
        assert as_user.get_user(rm.GetUserRequest(user_name="reader")).body.user.user_name == "reader"
        ram.delete_access_key(rm.DeleteAccessKeyRequest(user_name="reader", user_access_key_id=key.access_key_id))
        assert _code(lambda: as_user.get_user(rm.GetUserRequest(user_name="reader"))) == (
            "InvalidAccessKeyId.NotFound", 404)
    finally:
        cloud.detach_caller_policies("user/reader")
