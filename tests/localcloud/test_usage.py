"""localcloud's model of logon, AccessKey use and MFA (issue 13): LastLoginDate on GetUser,
GetAccessKeyLastUsed fed by the gateway authenticating calls signed with RAM-minted keys on the
shared clock, and the test controls (in-process and over the control API's HTTP)."""
from datetime import datetime, timedelta, timezone

import pytest
from alibabacloud_ram20150501 import models as rm
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

from localcloud import LocalCloud
from localcloud.control import ControlClient, ControlError

T0 = datetime(2030, 3, 1, 9, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def cloud():
    with LocalCloud(account_alias="corp") as fresh:
        fresh.clock.set(T0, frozen=True)
        yield fresh


@pytest.fixture
def ram(cloud):
    return RamClient(cloud.client_config())


def sdk_error(call, *args):
    with pytest.raises(AlibabaCloudException) as info:
        call(*args)
    return info.value


def user_with_key(ram, name="alice", policy=None):
    ram.create_user(rm.CreateUserRequest(user_name=name))
    if policy:
        ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type="System", policy_name=policy,
                                                               user_name=name))
    return ram.create_access_key(rm.CreateAccessKeyRequest(user_name=name)).body.access_key


def last_used(ram, name, key_id):
    body = ram.get_access_key_last_used(rm.GetAccessKeyLastUsedRequest(user_name=name, user_access_key_id=key_id))
    return body.body.access_key_last_used.last_used_date


# -- LastLoginDate --------------------------------------------------------------------------------
def test_last_login_date_is_absent_until_set_and_only_on_get_user(cloud, ram):
    ram.create_user(rm.CreateUserRequest(user_name="alice"))
    assert ram.get_user(rm.GetUserRequest(user_name="alice")).body.user.last_login_date is None
    cloud.set_last_login("alice", T0 - timedelta(days=3))
    assert ram.get_user(rm.GetUserRequest(user_name="alice")).body.user.last_login_date == "2030-02-26T09:00:00Z"
    listed = ram.list_users(rm.ListUsersRequest()).body.users.user[0].to_map()
    assert "LastLoginDate" not in listed          # ListUsers' schema has no such field
    cloud.set_last_login("alice", None)
    assert ram.get_user(rm.GetUserRequest(user_name="alice")).body.user.last_login_date is None
    assert cloud.ram_user("alice")["LastLoginDate"] is None


# -- GetAccessKeyLastUsed -------------------------------------------------------------------------
def test_a_key_never_used_has_no_last_used_date(cloud, ram):
    key = user_with_key(ram)
    body = ram.get_access_key_last_used(rm.GetAccessKeyLastUsedRequest(user_name="alice",
                                                                       user_access_key_id=key.access_key_id))
    assert body.body.to_map()["AccessKeyLastUsed"] == {}


def test_a_call_signed_with_the_key_records_its_last_use_on_the_cloud_clock(cloud, ram):
    key = user_with_key(ram, policy="AliyunRAMReadOnlyAccess")
    own = RamClient(cloud.client_config(access_key_id=key.access_key_id, access_key_secret=key.access_key_secret))
    cloud.clock.set(T0 + timedelta(days=10), frozen=True)
    assert own.get_user(rm.GetUserRequest(user_name="alice")).body.user.user_name == "alice"
    assert last_used(ram, "alice", key.access_key_id) == "2030-03-11T09:00:00Z"
    assert cloud.ram_user("alice")["AccessKeys"][0]["LastUsedDate"] == "2030-03-11T09:00:00Z"
    # the cloud's own key is a caller, not a RAM key: its calls record nothing on alice's key
    cloud.clock.advance(days=1)
    ram.get_user(rm.GetUserRequest(user_name="alice"))
    assert last_used(ram, "alice", key.access_key_id) == "2030-03-11T09:00:00Z"


def test_a_user_key_may_do_what_its_users_policies_grant_and_a_refused_call_is_still_a_use(cloud, ram):
    key = user_with_key(ram, policy="AliyunARMSReadOnlyAccess")     # nothing in RAM or KMS
    own = RamClient(cloud.client_config(access_key_id=key.access_key_id, access_key_secret=key.access_key_secret))
    error = sdk_error(own.get_user, rm.GetUserRequest(user_name="alice"))
    assert (error.code, error.status_code) == ("NoPermission", 403)
    assert last_used(ram, "alice", key.access_key_id) == "2030-03-01T09:00:00Z"
    ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type="System", policy_name="AdministratorAccess",
                                                           user_name="alice"))
    assert own.create_user(rm.CreateUserRequest(user_name="bob")).body.user.user_name == "bob"


def test_an_inactive_or_deleted_key_is_refused_and_not_recorded(cloud, ram):
    key = user_with_key(ram, policy="AdministratorAccess")
    own = RamClient(cloud.client_config(access_key_id=key.access_key_id, access_key_secret=key.access_key_secret))
    ram.update_access_key(rm.UpdateAccessKeyRequest(user_name="alice", user_access_key_id=key.access_key_id,
                                                    status="Inactive"))
    error = sdk_error(own.get_user, rm.GetUserRequest(user_name="alice"))
    assert (error.code, error.status_code) == ("InvalidAccessKeyId.Inactive", 400)
    assert last_used(ram, "alice", key.access_key_id) is None
    ram.delete_access_key(rm.DeleteAccessKeyRequest(user_name="alice", user_access_key_id=key.access_key_id))
    error = sdk_error(own.get_user, rm.GetUserRequest(user_name="alice"))
    assert (error.code, error.status_code) == ("InvalidAccessKeyId.NotFound", 404)


def test_get_access_key_last_used_error_codes(cloud, ram):
    user_with_key(ram)
    error = sdk_error(ram.get_access_key_last_used,
                      rm.GetAccessKeyLastUsedRequest(user_name="alice", user_access_key_id="LTAI5tNOPE"))
    assert (error.code, error.status_code) == ("EntityNotExist.User.AccessKey", 404)
    error = sdk_error(ram.get_access_key_last_used,
                      rm.GetAccessKeyLastUsedRequest(user_name="nobody", user_access_key_id="LTAI5tNOPE"))
    assert (error.code, error.status_code) == ("EntityNotExist.User", 404)
    error = sdk_error(ram.get_access_key_last_used, rm.GetAccessKeyLastUsedRequest(user_name="alice"))
    assert (error.code, error.status_code) == ("MissingParameter.UserAccessKeyId", 400)


# -- test controls: in-process and over HTTP ------------------------------------------------------
def test_control_api_sets_last_login_key_use_and_mfa(cloud, ram):
    key = user_with_key(ram)
    control = ControlClient(cloud.endpoint)
    control.set_last_login("alice", T0 - timedelta(days=100))
    control.set_key_last_used(key.access_key_id, "2030-01-01T00:00:00Z")
    assert ram.get_user(rm.GetUserRequest(user_name="alice")).body.user.last_login_date == "2029-11-21T09:00:00Z"
    assert last_used(ram, "alice", key.access_key_id) == "2030-01-01T00:00:00Z"
    serial = control.bind_mfa("alice")
    info = ram.get_user_mfainfo(rm.GetUserMFAInfoRequest(user_name="alice")).body.mfadevice
    assert info.serial_number == serial == control.ram_user("alice")["MFADevice"]["SerialNumber"]
    with pytest.raises(ControlError) as refused:
        control.bind_mfa("alice")
    assert refused.value.code == "EntityAlreadyExists.User.MFADevice"
    assert control.unbind_mfa("alice") == serial
    assert sdk_error(ram.get_user_mfainfo, rm.GetUserMFAInfoRequest(user_name="alice")).code \
        == "EntityNotExist.User.MFADevice"
    assert control.ram_account()["VirtualMFADevices"] == []          # unbound and deleted
    control.set_key_last_used(key.access_key_id, None)
    assert last_used(ram, "alice", key.access_key_id) is None


def test_control_api_refusals(cloud):
    control = ControlClient(cloud.endpoint)
    for call, args, status, code in (
            (control.set_last_login, ("nobody", T0), 404, "EntityNotExist.User"),
            (control.set_key_last_used, ("LTAI5tNOPE", T0), 404, "EntityNotExist.User.AccessKey"),
            (control.bind_mfa, ("nobody",), 404, "EntityNotExist.User"),
            (control.set_last_login, ("nobody", "yesterday"), 400, "BadRequest")):
        with pytest.raises(ControlError) as refused:
            call(*args)
        assert (refused.value.status, refused.value.code) == (status, code)
    with pytest.raises(ControlError) as refused:
        control.request("POST", "/ram/last-login", {"userName": "x"})
    assert refused.value.status == 400


def test_usage_survives_a_restart_with_state(tmp_path):
    path = tmp_path / "lc.json"
    with LocalCloud(state_file=str(path)) as first:
        ram = RamClient(first.client_config())
        key = user_with_key(ram, policy="AliyunRAMReadOnlyAccess")
        first.set_last_login("alice", T0)
        first.bind_mfa("alice")
        own = RamClient(first.client_config(access_key_id=key.access_key_id,
                                            access_key_secret=key.access_key_secret))
        own.get_user(rm.GetUserRequest(user_name="alice"))
        used = last_used(ram, "alice", key.access_key_id)
        first.save_state()
    with LocalCloud(state_file=str(path)) as second:
        ram = RamClient(second.client_config())
        assert ram.get_user(rm.GetUserRequest(user_name="alice")).body.user.last_login_date == "2030-03-01T09:00:00Z"
        assert last_used(ram, "alice", key.access_key_id) == used
        assert second.ram_user("alice")["MFADevice"] is not None
