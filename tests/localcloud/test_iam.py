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
