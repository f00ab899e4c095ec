"""RAM semantics through the official SDK over HTTP: every action, every error code."""
import pytest
from alibabacloud_ram20150501 import models as rm
from alibabacloud_tea_openapi.exceptions import ClientException

from localcloud import LocalCloud

ARMS_RO = "AliyunARMSReadOnlyAccess"
ARMS_FULL = "AliyunARMSFullAccess"
GOOD_PASSWORD = "Str0ngPassw0rd"


def expect(code, status, call, *args, **kwargs):
    """Run ``call(*args, **kwargs)``; it must raise ClientException with ``code`` and HTTP ``status``."""
    with pytest.raises(ClientException) as info:
        call(*args, **kwargs)
    assert info.value.code == code, info.value.message
    assert info.value.status_code == status
    assert info.value.statusCode == status
    return info.value


def mkuser(ram, name="alice", **kw):
    return ram.create_user(rm.CreateUserRequest(user_name=name, **kw)).body.user


def mkkey(ram, user="alice"):
    return ram.create_access_key(rm.CreateAccessKeyRequest(user_name=user)).body.access_key


def attach(ram, user="alice", policy=ARMS_RO, policy_type="System"):
    return ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(user_name=user, policy_name=policy,
                                                                  policy_type=policy_type))


def detach(ram, user="alice", policy=ARMS_RO, policy_type="System"):
    return ram.detach_policy_from_user(rm.DetachPolicyFromUserRequest(user_name=user, policy_name=policy,
                                                                      policy_type=policy_type))


def login(ram, user="alice", password=GOOD_PASSWORD, **kw):
    return ram.create_login_profile(rm.CreateLoginProfileRequest(user_name=user, password=password, **kw))


def mfa_device(ram, name="dev1"):
    return ram.create_virtual_mfadevice(rm.CreateVirtualMFADeviceRequest(virtual_mfadevice_name=name)).body


def bind(ram, serial, user="alice", code1="123456", code2="654321"):
    return ram.bind_mfadevice(rm.BindMFADeviceRequest(serial_number=serial, user_name=user,
                                                      authentication_code_1=code1, authentication_code_2=code2))


# -- users ------------------------------------------------------------------------------
def test_create_and_get_user(ram, cloud):
    created = mkuser(ram, "alice.wang", display_name="Alice Wang 王", comments="managed-by=hr",
                     mobile_phone="86-13800000000", email="alice.wang@example.com")
    assert created.user_name == "alice.wang"
    assert created.user_id.isdigit() and len(created.user_id) == 16
    assert created.display_name == "Alice Wang 王"
    assert created.create_date.endswith("Z")
    got = ram.get_user(rm.GetUserRequest(user_name="alice.wang")).body.user
    assert (got.user_id, got.comments, got.email, got.mobile_phone) == (
        created.user_id, "managed-by=hr", "alice.wang@example.com", "86-13800000000")
    assert got.update_date
    assert cloud.ram.users["alice.wang"]["UserId"] == created.user_id == cloud.ram.users["alice.wang"].user_id


def test_display_name_defaults_to_user_name(ram):
    assert mkuser(ram, "bob").display_name == "bob"


@pytest.mark.parametrize("name,code", [
    ("bad name", "InvalidParameter.UserName.InvalidChars"),
    ("bad/name", "InvalidParameter.UserName.InvalidChars"),
    ("名字", "InvalidParameter.UserName.InvalidChars"),
    ("a" * 65, "InvalidParameter.UserName.Length"),
])
def test_create_user_bad_name(ram, name, code):
    expect(code, 400, mkuser, ram, name)


def test_create_user_name_limits_accepted(ram):
    assert mkuser(ram, "A" * 64).user_name == "A" * 64
    assert mkuser(ram, "a.b-c_D9").user_name == "a.b-c_D9"


@pytest.mark.parametrize("kw,code", [
    ({"display_name": "x" * 129}, "InvalidParameter.DisplayName.Length"),
    ({"comments": "x" * 129}, "InvalidParameter.Comments.Length"),
    ({"mobile_phone": "13800000000"}, "InvalidParameter.MobilePhone.Format"),
    ({"mobile_phone": "86-abc"}, "InvalidParameter.MobilePhone.Format"),
    ({"email": "not-an-email"}, "InvalidParameter.Email.Format"),
    ({"email": "a@b"}, "InvalidParameter.Email.Format"),
])
def test_create_user_bad_fields(ram, cloud, kw, code):
    expect(code, 400, mkuser, ram, "alice", **kw)
    assert "alice" not in cloud.ram.users


def test_create_user_boundaries_accepted(ram):
    user = mkuser(ram, "alice", display_name="x" * 128, comments="y" * 128)
    assert len(user.display_name) == 128 and len(user.comments) == 128


def test_create_user_missing_name(ram):
    expect("MissingParameter.UserName", 400, ram.create_user, rm.CreateUserRequest())


def test_create_user_twice(ram):
    mkuser(ram)
    expect("EntityAlreadyExists.User", 409, mkuser, ram)


def test_user_quota(ram, cloud):
    cloud.ram.quotas["users"] = 2
    mkuser(ram, "u1")
    mkuser(ram, "u2")
    expect("LimitExceeded.User", 409, mkuser, ram, "u3")


def test_get_missing_user(ram):
    expect("EntityNotExist.User", 404, ram.get_user, rm.GetUserRequest(user_name="ghost"))


def test_update_user_fields(ram):
    created = mkuser(ram)
    updated = ram.update_user(rm.UpdateUserRequest(
        user_name="alice", new_display_name="Alice W", new_comments="c2", new_mobile_phone="1-5550000",
        new_email="a@corp.example.com")).body.user
    assert (updated.display_name, updated.comments, updated.mobile_phone, updated.email) == (
        "Alice W", "c2", "1-5550000", "a@corp.example.com")
    assert updated.user_id == created.user_id


def test_update_user_rename_keeps_attachments(ram, cloud):
    created = mkuser(ram)
    key = mkkey(ram)
    attach(ram)
    renamed = ram.update_user(rm.UpdateUserRequest(user_name="alice", new_user_name="alice2")).body.user
    assert renamed.user_name == "alice2" and renamed.user_id == created.user_id
    expect("EntityNotExist.User", 404, ram.get_user, rm.GetUserRequest(user_name="alice"))
    state = cloud.ram.user_state("alice2")
    assert state["policies"] == [ARMS_RO]
    assert [k["AccessKeyId"] for k in state["access_keys"]] == [key.access_key_id]


def test_update_user_errors(ram):
    mkuser(ram)
    mkuser(ram, "bob")
    update = ram.update_user
    expect("EntityNotExist.User", 404, update, rm.UpdateUserRequest(user_name="ghost", new_comments="x"))
    expect("EntityAlreadyExists.User", 409, update, rm.UpdateUserRequest(user_name="alice", new_user_name="bob"))
    for kw, code in [({"new_user_name": "a b"}, "InvalidParameter.NewUserName.InvalidChars"),
                     ({"new_user_name": "a" * 65}, "InvalidParameter.NewUserName.Length"),
                     ({"new_display_name": "d" * 129}, "InvalidParameter.NewDisplayName.Length"),
                     ({"new_comments": "c" * 129}, "InvalidParameter.NewComments.Length"),
                     ({"new_mobile_phone": "12345"}, "InvalidParameter.NewMobilePhone.Format"),
                     ({"new_email": "nope"}, "InvalidParameter.NewEmail.Format")]:
        expect(code, 400, update, rm.UpdateUserRequest(user_name="alice", **kw))


def test_delete_user(ram, cloud):
    mkuser(ram)
    ram.delete_user(rm.DeleteUserRequest(user_name="alice"))
    assert "alice" not in cloud.ram.users
    expect("EntityNotExist.User", 404, ram.delete_user, rm.DeleteUserRequest(user_name="alice"))


def test_list_users_paging(ram, cloud):
    names = [f"user{i:03d}" for i in range(250)]
    for name in reversed(names):
        mkuser(ram, name)
    pages, marker = [], None
    while True:
        body = ram.list_users(rm.ListUsersRequest(max_items=100, marker=marker)).body
        pages.append([u.user_name for u in body.users.user])
        if not body.is_truncated:
            assert not body.marker
            break
        assert body.marker
        marker = body.marker
    assert [len(p) for p in pages] == [100, 100, 50]
    assert sum(pages, []) == names
    # stable: a second pass gives the same pages
    again = ram.list_users(rm.ListUsersRequest(max_items=100)).body
    assert [u.user_name for u in again.users.user] == pages[0]


def test_list_users_default_and_deletion_between_pages(ram):
    for i in range(120):
        mkuser(ram, f"u{i:03d}")
    first = ram.list_users(rm.ListUsersRequest()).body
    assert len(first.users.user) == 100 and first.is_truncated
    ram.delete_user(rm.DeleteUserRequest(user_name="u050"))   # already seen
    ram.delete_user(rm.DeleteUserRequest(user_name="u110"))   # not yet seen
    rest = ram.list_users(rm.ListUsersRequest(marker=first.marker)).body
    assert [u.user_name for u in rest.users.user] == [f"u{i:03d}" for i in range(100, 120) if i != 110]
    assert rest.is_truncated is False


def test_list_users_empty_and_bad_params(ram):
    body = ram.list_users(rm.ListUsersRequest()).body
    assert body.users.user == [] and body.is_truncated is False
    expect("InvalidParameter.MaxItems", 400, ram.list_users, rm.ListUsersRequest(max_items=0))
    expect("InvalidParameter.MaxItems", 400, ram.list_users, rm.ListUsersRequest(max_items=1001))
    expect("InvalidParameter.Marker", 400, ram.list_users, rm.ListUsersRequest(marker="%%%"))
    assert len(ram.list_users(rm.ListUsersRequest(max_items=1000)).body.users.user) == 0


# -- DeleteUser conflicts -----------------------------------------------------------------
def _with_access_key(ram):
    key = mkkey(ram)
    return lambda: ram.delete_access_key(rm.DeleteAccessKeyRequest(user_name="alice",
                                                                    user_access_key_id=key.access_key_id))


def _with_login_profile(ram):
    login(ram)
    return lambda: ram.delete_login_profile(rm.DeleteLoginProfileRequest(user_name="alice"))


def _with_policy(ram):
    attach(ram)
    return lambda: detach(ram)


def _with_group(ram):
    ram.create_group(rm.CreateGroupRequest(group_name="devs"))
    ram.add_user_to_group(rm.AddUserToGroupRequest(user_name="alice", group_name="devs"))
    return lambda: ram.remove_user_from_group(rm.RemoveUserFromGroupRequest(user_name="alice", group_name="devs"))


def _with_mfa(ram):
    bind(ram, mfa_device(ram).virtual_mfadevice.serial_number)
    return lambda: ram.unbind_mfadevice(rm.UnbindMFADeviceRequest(user_name="alice"))


@pytest.mark.parametrize("setup,code", [
    (_with_access_key, "DeleteConflict.User.AccessKey"),
    (_with_login_profile, "DeleteConflict.User.LoginProfile"),
    (_with_policy, "DeleteConflict.User.Policy"),
    (_with_group, "DeleteConflict.User.Group"),
    (_with_mfa, "DeleteConflict.User.MFADevice"),
])
def test_delete_user_conflicts(ram, cloud, setup, code):
    mkuser(ram)
    undo = setup(ram)
    expect(code, 409, ram.delete_user, rm.DeleteUserRequest(user_name="alice"))
    assert "alice" in cloud.ram.users
    undo()
    ram.delete_user(rm.DeleteUserRequest(user_name="alice"))
    assert "alice" not in cloud.ram.users


def test_delete_user_with_everything_needs_everything_removed(ram, cloud):
    mkuser(ram)
    undos = [s(ram) for s in (_with_access_key, _with_login_profile, _with_policy, _with_group, _with_mfa)]
    for undo in undos:
        with pytest.raises(ClientException) as info:
            ram.delete_user(rm.DeleteUserRequest(user_name="alice"))
        assert info.value.code.startswith("DeleteConflict.User.")
        undo()
    ram.delete_user(rm.DeleteUserRequest(user_name="alice"))
    assert cloud.ram.user_state("alice") is None


# -- access keys ----------------------------------------------------------------------------
def test_access_key_lifecycle(ram, cloud):
    mkuser(ram)
    key = mkkey(ram)
    assert key.access_key_id.startswith("LTAI") and key.status == "Active" and key.create_date
    assert len(key.access_key_secret) >= 30
    assert key.access_key_secret in cloud.minted_credentials()
    listed = ram.list_access_keys(rm.ListAccessKeysRequest(user_name="alice")).body.access_keys.access_key
    assert [(k.access_key_id, k.status) for k in listed] == [(key.access_key_id, "Active")]
    ram.update_access_key(rm.UpdateAccessKeyRequest(user_name="alice", user_access_key_id=key.access_key_id,
                                                    status="Inactive"))
    assert cloud.ram.access_keys("alice")[0]["Status"] == "Inactive"
    ram.update_access_key(rm.UpdateAccessKeyRequest(user_name="alice", user_access_key_id=key.access_key_id,
                                                    status="Active"))
    assert cloud.ram.user_state("alice")["access_keys"] == [{"AccessKeyId": key.access_key_id, "Status": "Active"}]
    assert cloud.ram.gateway_key(key.access_key_id)[1:] == ("Active", "alice")
    ram.delete_access_key(rm.DeleteAccessKeyRequest(user_name="alice", user_access_key_id=key.access_key_id))
    assert cloud.ram.access_keys("alice") == []
    assert key.access_key_secret in cloud.minted_credentials()   # minted stays minted


def test_secret_only_from_create(ram, cloud):
    mkuser(ram)
    key = mkkey(ram)
    mark = cloud.calls.mark()
    resp = ram.list_access_keys(rm.ListAccessKeysRequest(user_name="alice"))
    assert key.access_key_secret not in str(resp.body.to_map())
    assert "AccessKeySecret" not in str(resp.body.to_map())
    listed = resp.body.access_keys.access_key[0]
    assert not hasattr(listed, "access_key_secret") or listed.access_key_secret is None
    assert cloud.calls.actions(mark) == ["ListAccessKeys"]


def test_two_access_keys_per_user(ram):
    mkuser(ram)
    first = mkkey(ram)
    mkkey(ram)
    expect("LimitExceeded.User.AccessKey", 409, mkkey, ram)
    ram.delete_access_key(rm.DeleteAccessKeyRequest(user_name="alice", user_access_key_id=first.access_key_id))
    assert mkkey(ram).access_key_id != first.access_key_id


def test_access_key_errors(ram):
    mkuser(ram)
    mkuser(ram, "bob")
    bobs = mkkey(ram, "bob")
    expect("EntityNotExist.User", 404, mkkey, ram, "ghost")
    expect("EntityNotExist.User", 404, ram.list_access_keys, rm.ListAccessKeysRequest(user_name="ghost"))
    for req in (rm.DeleteAccessKeyRequest(user_name="alice", user_access_key_id="LTAI5tnotthere"),
                rm.DeleteAccessKeyRequest(user_name="alice", user_access_key_id=bobs.access_key_id)):
        expect("EntityNotExist.User.AccessKey", 404, ram.delete_access_key, req)
    expect("EntityNotExist.User.AccessKey", 404, ram.update_access_key,
           rm.UpdateAccessKeyRequest(user_name="alice", user_access_key_id=bobs.access_key_id, status="Inactive"))
    expect("InvalidParameter.Status", 400, ram.update_access_key,
           rm.UpdateAccessKeyRequest(user_name="bob", user_access_key_id=bobs.access_key_id, status="Disabled"))
    expect("MissingParameter.UserName", 400, ram.create_access_key, rm.CreateAccessKeyRequest())


# -- login profiles -----------------------------------------------------------------------------
def test_login_profile_lifecycle(ram, cloud):
    mkuser(ram)
    created = login(ram, password_reset_required=True, mfabind_required=True).body.login_profile
    assert (created.user_name, created.password_reset_required, created.mfabind_required) == ("alice", True, True)
    assert GOOD_PASSWORD in cloud.minted_credentials()
    got = ram.get_login_profile(rm.GetLoginProfileRequest(user_name="alice")).body.login_profile
    assert got.create_date and got.password_reset_required is True
    ram.update_login_profile(rm.UpdateLoginProfileRequest(user_name="alice", password="An0therGood",
                                                          password_reset_required=False))
    got = ram.get_login_profile(rm.GetLoginProfileRequest(user_name="alice")).body.login_profile
    assert (got.password_reset_required, got.mfabind_required) == (False, True)
    assert "An0therGood" in cloud.minted_credentials()
    ram.delete_login_profile(rm.DeleteLoginProfileRequest(user_name="alice"))
    assert cloud.ram.user_state("alice")["login_profile"] is False


def test_login_profile_defaults(ram):
    mkuser(ram)
    profile = login(ram).body.login_profile
    assert (profile.password_reset_required, profile.mfabind_required) == (False, False)


def test_login_profile_errors(ram):
    mkuser(ram)
    expect("EntityNotExist.User", 404, login, ram, "ghost")
    expect("EntityNotExist.User.LoginProfile", 404, ram.get_login_profile, rm.GetLoginProfileRequest(user_name="alice"))
    expect("EntityNotExist.User.LoginProfile", 404, ram.update_login_profile,
           rm.UpdateLoginProfileRequest(user_name="alice", password=GOOD_PASSWORD))
    expect("EntityNotExist.User.LoginProfile", 404, ram.delete_login_profile,
           rm.DeleteLoginProfileRequest(user_name="alice"))
    expect("MissingParameter.Password", 400, ram.create_login_profile, rm.CreateLoginProfileRequest(user_name="alice"))
    login(ram)
    expect("EntityAlreadyExists.User.LoginProfile", 409, login, ram)


@pytest.mark.parametrize("password", ["Sh0rt", "alllowercase1", "ALLUPPERCASE1", "NoDigitsHere"])
def test_weak_password_default_policy(ram, cloud, password):
    mkuser(ram)
    expect("InvalidParameter.Password.TooWeak", 400, login, ram, "alice", password)
    assert cloud.ram.user_state("alice")["login_profile"] is False


def test_weak_password_on_update(ram):
    mkuser(ram)
    login(ram)
    expect("InvalidParameter.Password.TooWeak", 400, ram.update_login_profile,
           rm.UpdateLoginProfileRequest(user_name="alice", password="weak"))


def test_password_policy_enforced(ram):
    mkuser(ram)
    ram.set_password_policy(rm.SetPasswordPolicyRequest(minimum_password_length=12, require_symbols=True,
                                                        require_lowercase_characters=True,
                                                        require_uppercase_characters=True, require_numbers=True))
    expect("InvalidParameter.Password.TooWeak", 400, login, ram, "alice", "Str0ngPassw0rd")    # no symbol
    expect("InvalidParameter.Password.TooWeak", 400, login, ram, "alice", "Sh0rt!Pass")        # 10 < 12
    login(ram, password="Str0ng!Passw0rd")
    ram.set_password_policy(rm.SetPasswordPolicyRequest(minimum_password_length=8, require_lowercase_characters=False,
                                                        require_uppercase_characters=False, require_numbers=False))
    mkuser(ram, "bob")
    login(ram, "bob", "abcdefgh")


# -- password policy and alias ---------------------------------------------------------------------
def test_password_policy_defaults_and_set(ram):
    pp = ram.get_password_policy().body.password_policy
    assert (pp.minimum_password_length, pp.require_lowercase_characters, pp.require_uppercase_characters,
            pp.require_numbers, pp.require_symbols, pp.hard_expiry, pp.max_password_age,
            pp.password_reuse_prevention, pp.max_login_attemps) == (8, True, True, True, False, False, 0, 0, 5)
    out = ram.set_password_policy(rm.SetPasswordPolicyRequest(
        minimum_password_length=14, require_symbols=True, hard_expiry=True, max_password_age=90,
        password_reuse_prevention=3, max_login_attemps=4)).body.password_policy
    assert (out.minimum_password_length, out.require_symbols, out.max_password_age) == (14, True, 90)
    got = ram.get_password_policy().body.password_policy
    assert got.to_map() == out.to_map()
    assert (got.hard_expiry, got.password_reuse_prevention, got.max_login_attemps) == (True, 3, 4)


@pytest.mark.parametrize("kw,code", [
    ({"minimum_password_length": 7}, "InvalidParameter.MinimumPasswordLength.Range"),
    ({"minimum_password_length": 33}, "InvalidParameter.MinimumPasswordLength.Range"),
    ({"max_password_age": 1096}, "InvalidParameter.MaxPasswordAge.Range"),
    ({"password_reuse_prevention": 25}, "InvalidParameter.PasswordReusePrevention.Range"),
    ({"max_login_attemps": 33}, "InvalidParameter.MaxLoginAttemps.Range"),
])
def test_password_policy_ranges(ram, kw, code):
    expect(code, 400, ram.set_password_policy, rm.SetPasswordPolicyRequest(**kw))
    assert ram.get_password_policy().body.password_policy.minimum_password_length == 8


def test_account_alias(ram):
    assert ram.get_account_alias().body.account_alias == "corp"   # the session cloud's configured alias
    ram.set_account_alias(rm.SetAccountAliasRequest(account_alias="my-corp-2"))
    assert ram.get_account_alias().body.account_alias == "my-corp-2"


def test_account_alias_empty_when_unset_and_reset_restores():
    cloud = LocalCloud()
    status, body = cloud.invoke("GetAccountAlias")
    assert (status, body["AccountAlias"]) == (200, "")
    cloud.invoke("SetAccountAlias", {"AccountAlias": "acme"})
    assert cloud.invoke("GetAccountAlias")[1]["AccountAlias"] == "acme"
    cloud.reset()
    assert cloud.invoke("GetAccountAlias")[1]["AccountAlias"] == ""


@pytest.mark.parametrize("alias,code", [
    ("ab", "InvalidParameter.AccountAlias.Length"),
    ("a" * 33, "InvalidParameter.AccountAlias.Length"),
    ("Upper", "InvalidParameter.AccountAlias.Format"),
    ("-lead", "InvalidParameter.AccountAlias.Format"),
    ("trail-", "InvalidParameter.AccountAlias.Format"),
    ("dou--ble", "InvalidParameter.AccountAlias.Format"),
    ("under_score", "InvalidParameter.AccountAlias.Format"),
])
def test_account_alias_invalid(ram, alias, code):
    expect(code, 400, ram.set_account_alias, rm.SetAccountAliasRequest(account_alias=alias))


# -- policies ---------------------------------------------------------------------------------------
def test_attach_list_detach(ram, cloud):
    mkuser(ram)
    attach(ram, policy=ARMS_RO)
    attach(ram, policy="AliyunKMSFullAccess")
    policies = ram.list_policies_for_user(rm.ListPoliciesForUserRequest(user_name="alice")).body.policies.policy
    assert [(p.policy_name, p.policy_type) for p in policies] == [(ARMS_RO, "System"),
                                                                  ("AliyunKMSFullAccess", "System")]
    assert all(p.attach_date and p.description and p.default_version for p in policies)
    detach(ram, policy=ARMS_RO)
    assert cloud.ram.user_state("alice")["policies"] == ["AliyunKMSFullAccess"]


@pytest.mark.parametrize("name", ["AliyunARMSFullAccess", "AliyunARMSReadOnlyAccess", "AdministratorAccess",
                                  "AliyunRAMFullAccess", "ReadOnlyAccess", "AliyunKMSFullAccess",
                                  "AliyunECSFullAccess"])
def test_system_catalogue(ram, cloud, name):
    mkuser(ram)
    attach(ram, policy=name)
    assert cloud.ram.user_state("alice")["policy_types"] == {name: "System"}


def test_custom_policy(ram, cloud):
    mkuser(ram)
    expect("EntityNotExist.Policy", 404, attach, ram, "alice", "my-policy", "Custom")
    cloud.ram.add_custom_policy("my-policy", "test policy")
    attach(ram, policy="my-policy", policy_type="Custom")
    expect("EntityNotExist.Policy", 404, attach, ram, "alice", "my-policy", "System")
    assert cloud.ram.user_state("alice")["policy_types"] == {"my-policy": "Custom"}


def test_policy_errors(ram):
    mkuser(ram)
    expect("EntityNotExist.Policy", 404, attach, ram, "alice", "AliyunNoSuchAccess")
    expect("InvalidParameter.PolicyType", 400, attach, ram, "alice", ARMS_RO, "Managed")
    expect("InvalidParameter.PolicyName.InvalidChars", 400, attach, ram, "alice", "bad name")
    expect("InvalidParameter.PolicyName.Length", 400, attach, ram, "alice", "p" * 129)
    expect("EntityNotExist.User", 404, attach, ram, "ghost")
    expect("EntityNotExist.User.Policy", 404, detach, ram, "alice", ARMS_FULL)
    expect("EntityNotExist.Policy", 404, detach, ram, "alice", "AliyunNoSuchAccess")
    expect("InvalidParameter.PolicyType", 400, detach, ram, "alice", ARMS_RO, "system")
    expect("EntityNotExist.User", 404, ram.list_policies_for_user, rm.ListPoliciesForUserRequest(user_name="ghost"))
    attach(ram)
    expect("EntityAlreadyExists.User.Policy", 409, attach, ram)


def test_policy_quota(ram, cloud):
    mkuser(ram)
    cloud.ram.quotas["system_policies_per_user"] = 1
    attach(ram)
    expect("LimitExceeded.User.Policy", 409, attach, ram, "alice", ARMS_FULL)


# -- groups -------------------------------------------------------------------------------------------
def test_groups(ram, cloud):
    mkuser(ram)
    group = ram.create_group(rm.CreateGroupRequest(group_name="Dev-Team", comments="developers")).body.group
    assert (group.group_name, group.comments) == ("Dev-Team", "developers") and group.group_id and group.create_date
    ram.add_user_to_group(rm.AddUserToGroupRequest(user_name="alice", group_name="Dev-Team"))
    groups = ram.list_groups_for_user(rm.ListGroupsForUserRequest(user_name="alice")).body.groups.group
    assert [(g.group_name, g.comments, g.group_id) for g in groups] == [("Dev-Team", "developers", group.group_id)]
    assert groups[0].join_date
    ram.remove_user_from_group(rm.RemoveUserFromGroupRequest(user_name="alice", group_name="Dev-Team"))
    assert cloud.ram.user_state("alice")["groups"] == []
    assert "Dev-Team" in cloud.ram.groups()


def test_group_errors(ram, cloud):
    mkuser(ram)
    create = ram.create_group
    expect("InvalidParameter.GroupName.InvalidChars", 400, create, rm.CreateGroupRequest(group_name="dev team"))
    expect("InvalidParameter.GroupName.Length", 400, create, rm.CreateGroupRequest(group_name="g" * 65))
    expect("InvalidParameter.Comments.Length", 400, create, rm.CreateGroupRequest(group_name="g", comments="c" * 129))
    create(rm.CreateGroupRequest(group_name="devs"))
    expect("EntityAlreadyExists.Group", 409, create, rm.CreateGroupRequest(group_name="devs"))
    add, remove = ram.add_user_to_group, ram.remove_user_from_group
    expect("EntityNotExist.Group", 404, add, rm.AddUserToGroupRequest(user_name="alice", group_name="ops"))
    expect("EntityNotExist.User", 404, add, rm.AddUserToGroupRequest(user_name="ghost", group_name="devs"))
    expect("EntityNotExist.User.Group", 404, remove,
           rm.RemoveUserFromGroupRequest(user_name="alice", group_name="devs"))
    expect("EntityNotExist.Group", 404, remove, rm.RemoveUserFromGroupRequest(user_name="alice", group_name="ops"))
    add(rm.AddUserToGroupRequest(user_name="alice", group_name="devs"))
    expect("EntityAlreadyExists.User.Group", 409, add, rm.AddUserToGroupRequest(user_name="alice", group_name="devs"))
    expect("EntityNotExist.User", 404, ram.list_groups_for_user, rm.ListGroupsForUserRequest(user_name="ghost"))
    cloud.ram.quotas["groups_per_user"] = 1
    create(rm.CreateGroupRequest(group_name="ops"))
    expect("LimitExceeded.User.Group", 409, add, rm.AddUserToGroupRequest(user_name="alice", group_name="ops"))


# -- MFA --------------------------------------------------------------------------------------------------
def test_mfa_lifecycle(ram, cloud):
    mkuser(ram)
    device = mfa_device(ram, "alice-phone").virtual_mfadevice
    assert device.serial_number == f"acs:ram::{cloud.account_id}:mfa/alice-phone"
    assert len(device.base_32string_seed) == 64 and device.qrcode_png
    assert device.base_32string_seed in cloud.minted_credentials()
    bind(ram, device.serial_number)
    info = ram.get_user_mfainfo(rm.GetUserMFAInfoRequest(user_name="alice")).body.mfadevice
    assert (info.serial_number, info.type) == (device.serial_number, "VMFA")
    assert cloud.ram.user_state("alice")["mfa_bound"] is True
    expect("DeleteConflict.VirtualMFADevice.User", 409, ram.delete_virtual_mfadevice,
           rm.DeleteVirtualMFADeviceRequest(serial_number=device.serial_number))
    unbound = ram.unbind_mfadevice(rm.UnbindMFADeviceRequest(user_name="alice")).body.mfadevice
    assert unbound.serial_number == device.serial_number
    ram.delete_virtual_mfadevice(rm.DeleteVirtualMFADeviceRequest(serial_number=device.serial_number))
    assert cloud.ram.mfa_devices() == {}


def test_mfa_errors(ram, cloud):
    mkuser(ram)
    mkuser(ram, "bob")
    serial = mfa_device(ram).virtual_mfadevice.serial_number
    expect("EntityAlreadyExists.VirtualMFADevice", 409, mfa_device, ram)
    expect("InvalidParameter.VirtualMFADeviceName.InvalidChars", 400, mfa_device, ram, "bad_name")
    expect("InvalidParameter.VirtualMFADeviceName.Length", 400, mfa_device, ram, "d" * 65)
    expect("EntityNotExist.VirtualMFADevice", 404, bind, ram, serial + "x")
    expect("EntityNotExist.User", 404, bind, ram, serial, "ghost")
    expect("InvalidParameter.AuthenticationCode.Format", 400, bind, ram, serial, "alice", "12345", "123456")
    expect("InvalidParameter.AuthenticationCode.Format", 400, bind, ram, serial, "alice", "123456", "abcdef")
    expect("EntityNotExist.User.MFADevice", 404, ram.get_user_mfainfo, rm.GetUserMFAInfoRequest(user_name="alice"))
    expect("EntityNotExist.User.MFADevice", 404, ram.unbind_mfadevice, rm.UnbindMFADeviceRequest(user_name="alice"))
    bind(ram, serial)
    second = mfa_device(ram, "dev2").virtual_mfadevice.serial_number
    expect("EntityAlreadyExists.User.MFADevice", 409, bind, ram, second)
    expect("EntityAlreadyExists.VirtualMFADevice.User", 409, bind, ram, serial, "bob")
    expect("EntityNotExist.VirtualMFADevice", 404, ram.delete_virtual_mfadevice,
           rm.DeleteVirtualMFADeviceRequest(serial_number=serial + "x"))
    cloud.ram.quotas["virtual_mfa_devices"] = 2
    expect("LimitExceeded.VirtualMFADevice", 409, mfa_device, ram, "dev3")


# -- cross-cutting -------------------------------------------------------------------------------------------
def test_minted_credentials_cover_everything(ram, cloud):
    mkuser(ram)
    key = mkkey(ram)
    login(ram)
    minted = cloud.ram.minted_credentials()
    assert key.access_key_secret in minted and GOOD_PASSWORD in minted
    assert key.access_key_secret in cloud.minted_credentials()


def test_call_log_redacts_credentials(ram, cloud):
    mkuser(ram)
    login(ram)
    ram.update_login_profile(rm.UpdateLoginProfileRequest(user_name="alice", password="An0therGood"))
    key = mkkey(ram)
    text = repr(list(cloud.calls))
    assert GOOD_PASSWORD not in text and "An0therGood" not in text and key.access_key_secret not in text
    calls = {c.action: c for c in cloud.calls}
    assert calls["CreateLoginProfile"].params["Password"] == "***"
    assert calls["UpdateLoginProfile"].params["Password"] == "***"


def test_errors_do_not_echo_passwords(ram):
    mkuser(ram)
    error = expect("InvalidParameter.Password.TooWeak", 400, login, ram, "alice", "weakpass")
    assert "weakpass" not in str(error) and "weakpass" not in str(error.data)


def test_every_action_registered():
    from localcloud.ram.responses import ACTIONS
    expected = ("CreateUser GetUser UpdateUser DeleteUser ListUsers CreateLoginProfile GetLoginProfile "
                "UpdateLoginProfile DeleteLoginProfile CreateAccessKey UpdateAccessKey DeleteAccessKey "
                "ListAccessKeys GetAccessKeyLastUsed AttachPolicyToUser DetachPolicyFromUser ListPoliciesForUser "
                "CreateGroup "
                "AddUserToGroup RemoveUserFromGroup ListGroupsForUser CreateVirtualMFADevice BindMFADevice "
                "GetUserMFAInfo UnbindMFADevice DeleteVirtualMFADevice GetAccountAlias SetAccountAlias "
                "GetPasswordPolicy SetPasswordPolicy").split()
    expected += ("GetGroup ListGroups ListUsersForGroup DeleteGroup AttachPolicyToGroup DetachPolicyFromGroup "
                 "ListPoliciesForGroup CreateRole GetRole ListRoles UpdateRole AttachPolicyToRole DetachPolicyFromRole "
                 "ListPoliciesForRole CreatePolicy GetPolicy ListPolicies CreatePolicyVersion GetPolicyVersion "
                 "ListPolicyVersions DeletePolicyVersion SetDefaultPolicyVersion").split()
    assert sorted(ACTIONS) == sorted(expected)
