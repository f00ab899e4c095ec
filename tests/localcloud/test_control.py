"""The clock, holds, callers, state views and the control API, on an in-process LocalCloud,
driven through the official SDK over HTTP and through ``localcloud.control.ControlClient``.

Each test gets its own LocalCloud: callers and clocks are cloud-wide configuration."""
import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from alibabacloud_kms20160120 import models as km
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_ram20150501 import models as rm
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

from localcloud import Clock, LocalCloud
from localcloud.control import ControlClient, ControlError
from localcloud.controlapi import ControlAPI, is_loopback

T0 = datetime(2030, 3, 1, 9, 0, 0, tzinfo=timezone.utc)
ONLY_CREATE_AND_GET = {"Version": "1", "Statement": [
    {"Effect": "Allow", "Action": ["ram:CreateUser", "ram:GetUser"], "Resource": "acs:ram:*:*:user/*"}]}


@pytest.fixture
def cloud():
    with LocalCloud(account_alias="corp") as fresh:
        yield fresh


@pytest.fixture
def ram(cloud):
    return RamClient(cloud.client_config())


@pytest.fixture
def kms(cloud):
    return KmsClient(cloud.client_config())


@pytest.fixture
def control(cloud):
    return ControlClient(cloud.endpoint)


def sdk_code(call):
    with pytest.raises(AlibabaCloudException) as info:
        call()
    return info.value.code, info.value.status_code


def in_thread(work):
    """Run ``work()`` on a thread; return (thread, outcome dict filled with "value" or "error")."""
    outcome = {}

    def run():
        try:
            outcome["value"] = work()
        except Exception as error:   # reported to the test through outcome
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


# -- the clock -------------------------------------------------------------------------------------
def test_one_clock_moves_ram_and_kms_dates_while_signatures_stay_on_real_time(cloud, ram, kms):
    cloud.clock.set(T0, frozen=True)                   # four years ahead: the SDK still signs with real time
    user = ram.create_user(rm.CreateUserRequest(user_name="alice")).body.user
    assert user.create_date == "2030-03-01T09:00:00Z"
    secret = kms.create_secret(km.CreateSecretRequest(secret_name="app/db", version_id="v1",
                                                      secret_data="value-one")).body
    described = kms.describe_secret(km.DescribeSecretRequest(secret_name=secret.secret_name)).body
    assert described.create_time == "2030-03-01T09:00:00Z"
    cloud.clock.advance(hours=2)
    updated = ram.update_user(rm.UpdateUserRequest(user_name="alice", new_comments="x")).body.user
    assert updated.update_date == "2030-03-01T11:00:00Z"
    key = ram.create_access_key(rm.CreateAccessKeyRequest(user_name="alice")).body.access_key
    assert key.create_date == "2030-03-01T11:00:00Z"
    assert cloud.calls.since()[-1].at == (T0 + timedelta(hours=2)).timestamp()
    assert cloud.clock.reset() - datetime.now(timezone.utc) < timedelta(seconds=5)


def test_kms_advance_is_an_alias_of_the_one_clock(cloud, ram):
    cloud.clock.set(T0, frozen=True)
    cloud.kms.advance(days=1, hours=1)
    assert cloud.clock.now() == T0 + timedelta(days=1, hours=1)
    assert cloud.kms.clock_offset == pytest.approx(cloud.clock.offset, abs=1)
    assert ram.create_user(rm.CreateUserRequest(user_name="bob")).body.user.create_date == "2030-03-02T10:00:00Z"


def test_reset_returns_the_own_clock_to_real_time(cloud):
    cloud.clock.advance(days=40)
    cloud.reset()
    assert abs(cloud.clock.offset) < 1 and not cloud.clock.frozen


class FakeClock:
    """Any object with an aware now(): what the functions' clock seam would hand over."""

    def __init__(self, when):
        self.when = when

    def now(self):
        return self.when


def test_use_clock_accepts_any_object_with_now(cloud, ram, kms):
    shared = FakeClock(T0)
    assert cloud.use_clock(shared) is shared and cloud.clock is shared
    assert ram.create_user(rm.CreateUserRequest(user_name="carol")).body.user.create_date == "2030-03-01T09:00:00Z"
    kms.create_secret(km.CreateSecretRequest(secret_name="app/x", version_id="v1", secret_data="value-one"))
    kms.delete_secret(km.DeleteSecretRequest(secret_name="app/x", recovery_window_in_days="7"))
    shared.when = T0 + timedelta(days=7, seconds=1)           # moved where it lives: the window is over
    assert cloud.kms.secret_state("app/x") is None
    cloud.reset()
    assert cloud.clock is shared                               # reset leaves an installed clock alone
    cloud.use_clock(None)
    assert isinstance(cloud.clock, Clock) and abs(cloud.clock.offset) < 1


def test_use_clock_refuses_what_is_not_a_clock(cloud):
    with pytest.raises(TypeError):
        cloud.use_clock(FakeClock(datetime(2030, 1, 1)))       # naive
    with pytest.raises(TypeError):
        cloud.use_clock(object())
    with pytest.raises(TypeError):
        LocalCloud(clock=FakeClock("2030-01-01"))


def test_clock_unit():
    wall = [1000.0]
    clock = Clock(wall=lambda: wall[0])
    assert clock.time() == 1000.0
    clock.advance(10, minutes=1)
    wall[0] += 5
    assert clock.time() == 1075.0 and clock.offset == 70
    clock.set("2030-03-01T09:00:00Z")
    wall[0] += 2
    assert clock.now() == T0 + timedelta(seconds=2)            # runs on from the time set
    clock.set(T0, frozen=True)
    wall[0] += 100
    assert clock.now() == T0 and clock.frozen
    clock.advance(days=1)
    assert clock.now() == T0 + timedelta(days=1)
    clock.reset()
    assert clock.time() == wall[0] and not clock.frozen
    with pytest.raises(ValueError):
        clock.set("2030-03-01T09:00:00")                       # naive: refused


# -- holds -------------------------------------------------------------------------------------------
def two_callers(cloud):
    """Two simulated FC instances: each its own AccessKey, both held to the same policy."""
    a = cloud.add_caller(policy=ONLY_CREATE_AND_GET)
    b = cloud.add_caller(policy=ONLY_CREATE_AND_GET)
    return (RamClient(cloud.client_config(access_key_id=a[0], access_key_secret=a[1])), a[0],
            RamClient(cloud.client_config(access_key_id=b[0], access_key_secret=b[1])), b[0])


def test_hold_before_parks_one_caller_while_another_proceeds(cloud):
    ram_a, key_a, ram_b, _ = two_callers(cloud)
    hold = cloud.hold(key_a, "CreateUser", when="before")
    thread, outcome = in_thread(lambda: ram_a.create_user(rm.CreateUserRequest(user_name="from-a")).body.user)
    assert cloud.wait_held(hold, timeout=10)
    assert ram_b.create_user(rm.CreateUserRequest(user_name="from-b")).body.user.user_name == "from-b"
    assert ram_b.get_user(rm.GetUserRequest(user_name="from-b")).body.user.user_name == "from-b"
    assert cloud.ram_user("from-a") is None and thread.is_alive()          # A's call has not run
    assert cloud.holds.get(hold)["state"] == "held"
    assert cloud.release(hold)["state"] == "released"
    thread.join(10)
    assert outcome["value"].user_name == "from-a"
    assert [(c.action, c.params["UserName"]) for c in cloud.calls] == [
        ("CreateUser", "from-b"), ("GetUser", "from-b"), ("CreateUser", "from-a")]


def test_hold_after_runs_the_action_and_withholds_the_answer(cloud):
    ram_a, key_a, ram_b, _ = two_callers(cloud)
    hold = cloud.hold(key_a, "CreateUser", when="after")
    thread, outcome = in_thread(lambda: ram_a.create_user(rm.CreateUserRequest(user_name="dora")).body.user)
    assert cloud.wait_held(hold, timeout=10)
    assert cloud.ram_user("dora") is not None and thread.is_alive()          # ran; A does not know yet
    assert sdk_code(lambda: ram_b.create_user(rm.CreateUserRequest(user_name="dora"))) == (
        "EntityAlreadyExists.User", 409)
    cloud.release(hold)
    thread.join(10)
    assert outcome["value"].user_id == cloud.ram_user("dora")["UserId"]


def test_hold_counts_the_callers_nth_call_only(cloud):
    ram_a, key_a, ram_b, key_b = two_callers(cloud)
    hold = cloud.hold(key_a, "CreateUser", nth=2)
    ram_a.create_user(rm.CreateUserRequest(user_name="first"))              # 1st: passes
    ram_b.create_user(rm.CreateUserRequest(user_name="other"))              # another caller: not counted
    thread, outcome = in_thread(lambda: ram_a.create_user(rm.CreateUserRequest(user_name="second")))
    assert cloud.wait_held(hold, timeout=10)
    assert cloud.holds.get(hold)["seen"] == 2 and cloud.ram_user("second") is None
    cloud.release(hold)
    thread.join(10)
    assert "error" not in outcome and cloud.ram_user("second") is not None


def test_an_error_answer_can_be_held_too(cloud):
    ram_a, key_a, _, _ = two_callers(cloud)
    hold = cloud.hold(key_a, "GetUser", when="after")
    thread, outcome = in_thread(lambda: ram_a.get_user(rm.GetUserRequest(user_name="ghost")))
    assert cloud.wait_held(hold, timeout=10)
    cloud.release(hold)
    thread.join(10)
    assert outcome["error"].code == "EntityNotExist.User"


def test_wait_held_times_out_when_nothing_comes(cloud):
    hold = cloud.hold("LTAInobody", "CreateUser")
    started = time.monotonic()
    assert cloud.wait_held(hold, timeout=0.2) is False
    assert time.monotonic() - started < 5
    assert cloud.release(hold)["state"] == "cancelled"


def test_a_forgotten_hold_is_auto_released_and_reported(cloud, ram, capsys):
    hold = cloud.hold(None, "GetAccountAlias", timeout=0.3)                 # None: any caller
    started = time.monotonic()
    assert ram.get_account_alias().body.account_alias == "corp"              # answered after the timeout
    assert 0.3 <= time.monotonic() - started < 10
    assert cloud.holds.get(hold)["state"] == "expired"
    assert [h["id"] for h in cloud.holds.expired()] == [hold]
    assert f"hold {hold}" in capsys.readouterr().err


def test_reset_releases_parked_calls(cloud):
    ram_a, key_a, _, _ = two_callers(cloud)
    hold = cloud.hold(key_a, "GetUser")
    thread, outcome = in_thread(lambda: ram_a.get_user(rm.GetUserRequest(user_name="x")))
    assert cloud.wait_held(hold, timeout=10)
    cloud.reset()
    thread.join(10)
    assert not thread.is_alive() and outcome["error"].code == "EntityNotExist.User"
    assert cloud.holds.list() == []


def test_hold_arguments_are_checked(cloud):
    for kwargs in ({"when": "during"}, {"nth": 0}, {"timeout": 0}, {"timeout": 7200}):
        with pytest.raises(ValueError):
            cloud.hold("LTAIx", "CreateUser", **kwargs)
    with pytest.raises(KeyError):
        cloud.release("h999")


# -- callers -----------------------------------------------------------------------------------------
def test_added_callers_are_held_to_their_policy_and_can_be_removed(cloud):
    key_id, secret = cloud.add_caller(policy=ONLY_CREATE_AND_GET)
    instance = RamClient(cloud.client_config(access_key_id=key_id, access_key_secret=secret))
    instance.create_user(rm.CreateUserRequest(user_name="erin"))
    assert sdk_code(lambda: instance.delete_user(rm.DeleteUserRequest(user_name="erin"))) == ("NoPermission", 403)
    listed = {c["accessKeyId"]: c for c in cloud.callers()}
    assert listed[key_id]["restricted"] and not listed[cloud.access_key_id]["restricted"]
    assert secret not in json.dumps(cloud.callers())
    cloud.remove_caller(key_id)
    assert sdk_code(lambda: instance.get_user(rm.GetUserRequest(user_name="erin"))) == (
        "InvalidAccessKeyId.NotFound", 404)
    with pytest.raises(ValueError):
        cloud.remove_caller(cloud.access_key_id)
    with pytest.raises(ValueError):
        cloud.add_caller(policy={"Statement": "not a list"})


# -- state views: everything to assert on, no credential -------------------------------------------------
def test_views_show_state_and_fingerprints_never_credentials(cloud, ram, kms):
    ram.create_user(rm.CreateUserRequest(user_name="frank", comments="managed"))
    ram.create_login_profile(rm.CreateLoginProfileRequest(user_name="frank", password="Str0ngPassw0rd!"))
    key = ram.create_access_key(rm.CreateAccessKeyRequest(user_name="frank")).body.access_key
    ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(user_name="frank", policy_type="System",
                                                           policy_name="AliyunARMSReadOnlyAccess"))
    value = {"UserName": "frank", "AccessKeyId": key.access_key_id, "AccessKeySecret": key.access_key_secret,
             "Password": "Str0ngPassw0rd!"}
    kms.create_secret(km.CreateSecretRequest(secret_name="ram-user/frank", version_id=key.access_key_id,
                                             secret_data=json.dumps(value), tags='[{"TagKey":"k","TagValue":"v"}]'))
    kms.delete_secret(km.DeleteSecretRequest(secret_name="ram-user/frank", recovery_window_in_days="7"))
    user, secret = cloud.ram_user("frank"), cloud.kms_secret("ram-user/frank")
    assert user["Comments"] == "managed" and [p["PolicyName"] for p in user["Policies"]] == [
        "AliyunARMSReadOnlyAccess"]
    assert [k["AccessKeyId"] for k in user["AccessKeys"]] == [key.access_key_id]
    assert secret["Deleting"] and secret["PlannedDeleteTime"] and secret["Tags"] == {"k": "v"}
    version = secret["Versions"][0]
    assert version["VersionStages"] == ["ACSCurrent"] and version["AccessKeyIds"] == [key.access_key_id]
    # the same credential, seen in RAM and in KMS, without either being shown
    assert version["CredentialFingerprints"]["AccessKeySecret"] == user["AccessKeys"][0]["SecretFingerprint"]
    assert version["CredentialFingerprints"]["Password"] == user["LoginProfile"]["PasswordFingerprint"]
    assert cloud.fingerprint("something else") != user["LoginProfile"]["PasswordFingerprint"]
    shown = json.dumps(cloud.inspect())
    assert cloud.minted_credentials() and not any(c in shown for c in cloud.minted_credentials())


# -- the control API --------------------------------------------------------------------------------------
def test_control_client_mirrors_the_in_process_cloud(cloud, control, ram):
    control.faults.fail("GetAccountAlias", "ServiceUnavailable", status=503, times=1)
    assert [r["code"] for r in control.faults.rules()] == ["ServiceUnavailable"]
    assert sdk_code(ram.get_account_alias) == ("ServiceUnavailable", 503)
    assert ram.get_account_alias().body.account_alias == "corp"
    mark = control.calls.mark()
    ram.create_user(rm.CreateUserRequest(user_name="gina"))
    assert control.calls.actions(mark) == ["CreateUser"] and len(control.calls) == mark + 1
    assert [c.code for c in control.calls.errors()] == ["ServiceUnavailable"]
    assert control.ram_user("gina")["UserName"] == "gina" and control.ram_user("nobody") is None
    assert control.ram_users() == cloud.ram_users() and control.kms_secrets() == []
    control.clock.set(T0, frozen=True)
    assert control.clock.now() == T0 == cloud.clock.now()
    control.clock.advance(days=1)
    assert cloud.clock.now() == T0 + timedelta(days=1)
    control.clock.reset()
    assert not cloud.clock.frozen
    control.set_quotas(users=1)
    assert sdk_code(lambda: ram.create_user(rm.CreateUserRequest(user_name="hank"))) == ("LimitExceeded.User", 409)
    control.reset()
    assert cloud.ram.users == {} and control.faults.rules() == [] and len(cloud.calls) == 0


def test_control_callers_and_holds_over_http(cloud, control):
    key_id, secret = control.add_caller(policy=ONLY_CREATE_AND_GET)
    instance = RamClient(control.client_config(key_id, secret))
    assert sdk_code(lambda: instance.list_users(rm.ListUsersRequest())) == ("NoPermission", 403)
    control.detach_caller_policies(key_id)
    instance.list_users(rm.ListUsersRequest())
    hold = control.hold(key_id, "CreateUser", when="before")
    thread, outcome = in_thread(lambda: instance.create_user(rm.CreateUserRequest(user_name="ivy")))
    assert control.wait_held(hold, timeout=10)
    assert control.holds.get(hold)["state"] == "held" and control.ram_user("ivy") is None
    control.release(hold)
    thread.join(10)
    assert "error" not in outcome and control.ram_user("ivy") is not None
    control.remove_caller(key_id)
    assert key_id not in {c["accessKeyId"] for c in control.callers()}


def test_control_errors_are_json_with_the_right_status(cloud, control):
    cases = [(lambda: control.request("GET", "/nowhere"), 404), (lambda: control.request("POST", "/info"), 405),
             (lambda: control._post("/faults/fail", {"action": "X"}), 400),          # no code
             (lambda: control._post("/clock/set", {"now": "2030-01-01T00:00:00"}), 400),   # naive
             (lambda: control._post("/holds", {"action": "CreateUser", "when": "later"}), 400),
             (lambda: control.release("h404"), 404), (lambda: control.remove_caller(cloud.access_key_id), 409),
             (lambda: control.save_state(), 409), (lambda: control.set_quotas(unknown=1), 400)]
    for call, status in cases:
        with pytest.raises(ControlError) as info:
            call()
        assert info.value.status == status, info.value


def test_control_clock_of_a_foreign_object_is_read_only(cloud, control):
    cloud.use_clock(FakeClock(T0))
    assert control.clock.now() == T0
    with pytest.raises(ControlError) as info:
        control.clock.advance(days=1)
    assert (info.value.status, info.value.code) == (409, "ClockNotControllable")


def test_control_api_answers_loopback_clients_only(cloud):
    api = ControlAPI(cloud)
    assert api.handle("GET", "/_localcloud/info", "", b"", "127.0.0.1")[0] == 200
    assert api.handle("GET", "/_localcloud/info", "", b"", "::1")[0] == 200
    status, body = api.handle("GET", "/_localcloud/info", "", b"", "192.168.1.20")
    assert (status, body["error"]["code"]) == (403, "Forbidden")
    assert api.handle("POST", "/_localcloud/reset", "", b"", "10.0.0.1")[0] == 403
    assert is_loopback("127.8.0.1") and is_loopback("::ffff:127.0.0.1") and not is_loopback("localhost.evil")
    for host in ("127.0.0.1:8080", "localhost:1", "[::1]:8080", "127.0.0.1"):
        assert api.handle("GET", "/_localcloud/info", "", b"", "127.0.0.1", host)[0] == 200, host
    for host in ("evil.example:8080", "", "127.0.0.1.evil.example", "[::2]:80"):       # DNS rebinding
        assert api.handle("GET", "/_localcloud/info", "", b"", "127.0.0.1", host)[0] == 403, host


def test_control_api_refuses_a_rebound_host_over_http(cloud):
    import requests
    url = f"http://{cloud.endpoint}/_localcloud/info"
    assert requests.get(url, timeout=10).status_code == 200
    refused = requests.get(url, headers={"Host": "attacker.example"}, timeout=10)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "Forbidden")


def test_minted_credentials_is_the_only_endpoint_with_credentials(cloud, control, ram, kms):
    ram.create_user(rm.CreateUserRequest(user_name="jo"))
    ram.create_login_profile(rm.CreateLoginProfileRequest(user_name="jo", password="An0ther-Passw0rd"))
    ram.create_access_key(rm.CreateAccessKeyRequest(user_name="jo"))
    kms.create_secret(km.CreateSecretRequest(secret_name="app/jo", version_id="v1", secret_data="plain-secret-value"))
    minted = control.minted_credentials()
    assert minted == cloud.minted_credentials() and "An0ther-Passw0rd" in minted
    answers = [control.inspect(), control.ram_users(), control.ram_account(), control.kms_secrets(),
               control.kms_secret("app/jo"), control.ram_user("jo"), control.callers(), control.info(),
               [c.to_json() for c in control.calls.since(0)], control.holds.list(), control.faults.rules(),
               control.clock.describe()]
    text = json.dumps(answers)
    assert not [c for c in minted if c in text]


def test_kms_tick_rotates_the_ram_secrets_that_are_due(cloud, ram, kms, control):
    """The clock moved through the control API; ``kms_tick`` runs the RAM secret rotation KMS owes now."""
    ram.create_user(rm.CreateUserRequest(user_name="tick.user"))
    key = ram.create_access_key(rm.CreateAccessKeyRequest(user_name="tick.user")).body.access_key
    data = json.dumps({"AccessKeys": [{"AccessKeyId": key.access_key_id, "AccessKeySecret": key.access_key_secret}]})
    name = kms.create_secret(km.CreateSecretRequest(
        secret_name="$Auto", version_id=key.access_key_id, secret_data=data, secret_type="RAMCredentials",
        extended_config={"SecretSubType": "RamUserAccessKey", "UserName": "tick.user"},
        enable_automatic_rotation=True, rotation_interval="1d")).body.secret_name
    assert control.kms_tick() == []
    control.clock.advance(days=1, seconds=1)
    assert control.kms_tick() == [name]
    assert len(control.ram_user("tick.user")["AccessKeys"]) == 2
    assert control.kms_secret(name)["CurrentVersionId"] != key.access_key_id
