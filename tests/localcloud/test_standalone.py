"""A standalone ``python -m localcloud --state FILE --port 0`` process, driven only through its
control API (``ControlClient``) and the official SDK clients, as another process (an FC
instance in the cross-process harness) would drive it. Loopback only."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from alibabacloud_kms20160120 import models as km
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_ram20150501 import models as rm
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

from localcloud.control import ControlClient

ROOT = Path(__file__).resolve().parents[2]
ROLE_POLICY = json.loads((ROOT / "policies" / "function-role-policy.json").read_text(encoding="utf-8"))


class Standalone:
    """One ``python -m localcloud`` process: its printed line, a ControlClient, SDK clients."""

    def __init__(self, state_file, *extra):
        self.state_file = state_file
        self.stderr = open(state_file.with_suffix(".stderr"), "ab")     # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen([sys.executable, "-m", "localcloud", "--state", str(state_file),
                                      "--port", "0", *extra], cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=self.stderr)
        line = {}
        reader = threading.Thread(target=lambda: line.setdefault("text", self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(30)
        if not line.get("text"):
            self.stop()
            raise RuntimeError("python -m localcloud printed nothing within 30 s")
        self.printed = json.loads(line["text"])
        host = self.printed["endpoint"].rsplit(":", 1)[0]
        assert host == "127.0.0.1"                                    # loopback only
        self.control = ControlClient(self.printed["endpoint"])

    def config(self, access_key_id=None, access_key_secret=None):
        return self.control.client_config(access_key_id or self.printed["accessKeyId"],
                                          access_key_secret or self.printed["accessKeySecret"])

    def ram(self, *key):
        return RamClient(self.config(*key))

    def kms(self, *key):
        return KmsClient(self.config(*key))

    def minted_credentials(self):
        """For the suite's leak guard (tests/leakcheck.py), while the process runs."""
        try:
            return self.control.minted_credentials() if self.proc.poll() is None else set()
        except OSError:
            return set()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        self.proc.stdout.close()
        self.stderr.close()
        return self.proc.returncode


@pytest.fixture
def cloud(tmp_path):
    """Named ``cloud`` so that the suite-wide leak guard checks these tests too."""
    server = Standalone(tmp_path / "state.json")
    yield server
    server.stop()


def code_of(call):
    with pytest.raises(AlibabaCloudException) as info:
        call()
    return info.value.code, info.value.status_code


def test_prints_its_endpoint_and_serves_loopback_only(cloud):
    assert set(cloud.printed) >= {"endpoint", "accessKeyId", "accessKeySecret", "region", "accountId", "control"}
    assert cloud.printed["control"] == f"http://{cloud.printed['endpoint']}/_localcloud"
    info = cloud.control.info()
    assert info["stateFile"] == str(cloud.state_file) and info["accessKeyId"] == cloud.printed["accessKeyId"]
    assert "accessKeySecret" not in json.dumps(info) and cloud.printed["accessKeySecret"] not in json.dumps(info)


def test_fault_injected_through_the_control_api_is_seen_by_the_sdk(cloud):
    ram = cloud.ram()
    cloud.control.faults.fail("CreateAccessKey", "ServiceUnavailable", status=503, times=2)
    ram.create_user(rm.CreateUserRequest(user_name="alice"))
    for _ in range(2):
        assert code_of(lambda: ram.create_access_key(rm.CreateAccessKeyRequest(user_name="alice"))) == (
            "ServiceUnavailable", 503)
    assert cloud.control.ram_user("alice")["AccessKeys"] == []          # a fault fires before the action
    ram.create_access_key(rm.CreateAccessKeyRequest(user_name="alice"))
    assert len(cloud.control.ram_user("alice")["AccessKeys"]) == 1
    assert [(c.action, c.code) for c in cloud.control.calls.since(0)] == [
        ("CreateUser", ""), ("CreateAccessKey", "ServiceUnavailable"), ("CreateAccessKey", "ServiceUnavailable"),
        ("CreateAccessKey", "")]
    cloud.control.faults.drop("GetUser")
    with pytest.raises(Exception) as info:
        ram.get_user(rm.GetUserRequest(user_name="alice"))
    assert not isinstance(info.value, AlibabaCloudException)               # no answer at all
    cloud.control.faults.clear()
    assert ram.get_user(rm.GetUserRequest(user_name="alice")).body.user.user_name == "alice"


def test_moving_the_clock_ends_a_kms_deletion_window(cloud):
    kms = cloud.kms()
    kms.create_secret(km.CreateSecretRequest(secret_name="app/db", version_id="v1", secret_data="first-value"))
    planned = kms.delete_secret(km.DeleteSecretRequest(secret_name="app/db", recovery_window_in_days="7")).body
    assert cloud.control.kms_secret("app/db")["PlannedDeleteTime"] == planned.planned_delete_time
    cloud.control.clock.advance(days=6, hours=23)
    assert code_of(lambda: kms.create_secret(km.CreateSecretRequest(
        secret_name="app/db", version_id="v1", secret_data="second-value"))) == (
        "Rejected.ResourceInDeleteWindow", 409)
    cloud.control.clock.advance(hours=1, seconds=1)                        # the SDK still signs with real time
    assert cloud.control.kms_secret("app/db") is None
    assert code_of(lambda: kms.describe_secret(km.DescribeSecretRequest(secret_name="app/db"))) == (
        "Forbidden.ResourceNotFound", 404)
    kms.create_secret(km.CreateSecretRequest(secret_name="app/db", version_id="v1", secret_data="second-value"))
    created = kms.describe_secret(km.DescribeSecretRequest(secret_name="app/db")).body.create_time
    assert created == cloud.control.kms_secret("app/db")["CreateTime"] >= planned.planned_delete_time
    cloud.control.clock.reset()
    assert abs(cloud.control.clock.describe()["offset"]) < 5


def test_reset_through_the_control_api(cloud):
    ram, kms = cloud.ram(), cloud.kms()
    ram.create_user(rm.CreateUserRequest(user_name="bob"))
    kms.create_secret(km.CreateSecretRequest(secret_name="app/bob", version_id="v1", secret_data="bob-value"))
    cloud.control.faults.throttle("ListUsers", times=5)
    cloud.control.clock.advance(days=3)
    cloud.control.reset()
    assert code_of(lambda: ram.get_user(rm.GetUserRequest(user_name="bob"))) == ("EntityNotExist.User", 404)
    assert ram.list_users(rm.ListUsersRequest()).body.users.user == []     # the throttle went too
    assert cloud.control.inspect() == {"ram": {"account": cloud.control.ram_account(), "users": []},
                                       "kms": {"secrets": []}}
    assert abs(cloud.control.clock.describe()["offset"]) < 5
    assert [c.action for c in cloud.control.calls] == ["GetUser", "ListUsers"]


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_state_survives_a_restart(tmp_path, how):
    """Saved after every change: even a kill -9 loses nothing that was answered."""
    state = tmp_path / "state.json"
    first = Standalone(state)
    try:
        caller = first.control.add_caller(policy=ROLE_POLICY)
        first.control.clock.advance(days=2)
        ram, kms = first.ram(), first.kms()                               # SDK changes last: each one is saved
        ram.create_user(rm.CreateUserRequest(user_name="carol", comments="managed"))
        key = ram.create_access_key(rm.CreateAccessKeyRequest(user_name="carol")).body.access_key
        ram.create_login_profile(rm.CreateLoginProfileRequest(user_name="carol", password="Car0l-Passw0rd"))
        kms.create_secret(km.CreateSecretRequest(secret_name="ram-user/carol", version_id=key.access_key_id,
                                                 secret_data=json.dumps({"AccessKeySecret": key.access_key_secret})))
        kms.delete_secret(km.DeleteSecretRequest(secret_name="ram-user/carol", recovery_window_in_days="7"))
        before = first.control.inspect()
        minted = first.control.minted_credentials()
        clock = first.control.clock.describe()["offset"]
    finally:
        first.stop(getattr(signal, how))
    assert state.stat().st_mode & 0o777 == 0o600
    text = state.read_text(encoding="utf-8")
    assert key.access_key_secret in text                                  # credentials are state (test data)
    second = Standalone(state)
    try:
        assert second.printed["accessKeyId"] == first.printed["accessKeyId"]
        assert second.control.inspect() == before
        assert second.control.minted_credentials() == minted
        assert second.control.clock.describe()["offset"] == pytest.approx(clock, abs=5)
        ram = second.ram()                                                # the same printed credentials work
        assert ram.get_user(rm.GetUserRequest(user_name="carol")).body.user.comments == "managed"
        listed = ram.list_access_keys(rm.ListAccessKeysRequest(user_name="carol")).body.access_keys.access_key
        assert [k.access_key_id for k in listed] == [key.access_key_id]
        assert code_of(lambda: ram.delete_user(rm.DeleteUserRequest(user_name="carol"))) == (
            "DeleteConflict.User.AccessKey", 409)
        kms = second.kms()
        kms.restore_secret(km.RestoreSecretRequest(secret_name="ram-user/carol"))
        value = kms.get_secret_value(km.GetSecretValueRequest(secret_name="ram-user/carol")).body.secret_data
        assert json.loads(value)["AccessKeySecret"] == key.access_key_secret
        instance = second.ram(*caller)                                     # a registered caller and its policy
        instance.list_users(rm.ListUsersRequest())
        assert code_of(lambda: instance.create_group(rm.CreateGroupRequest(group_name="g"))) == ("NoPermission", 403)
    finally:
        second.stop()


INSTANCE = textwrap.dedent("""
    # One simulated FC instance: its own process and AccessKey, the official SDK.
    import json, sys
    from alibabacloud_ram20150501 import models as rm
    from alibabacloud_ram20150501.client import Client
    from alibabacloud_tea_openapi.models import Config
    endpoint, key_id, key_secret, user = sys.argv[1:5]
    ram = Client(Config(access_key_id=key_id, access_key_secret=key_secret, endpoint=endpoint, protocol="http",
                        region_id="cn-hangzhou", read_timeout=60000))
    ram.create_user(rm.CreateUserRequest(user_name=user))
    key = ram.create_access_key(rm.CreateAccessKeyRequest(user_name=user)).body.access_key
    print(json.dumps({"AccessKeyId": key.access_key_id}))
""")


def test_a_hold_parks_one_instance_while_another_proceeds(cloud):
    """Instance A (its own process) is parked after CreateAccessKey ran; instance B (this thread)
    works meanwhile and sees A's key; A gets its answer only on release."""
    a_id, a_secret = cloud.control.add_caller(policy=ROLE_POLICY)
    b_id, b_secret = cloud.control.add_caller(policy=ROLE_POLICY)
    hold = cloud.control.hold(a_id, "CreateAccessKey", when="after")
    other = cloud.control.hold(b_id, "DeleteUser", when="before")       # armed, never reached: harmless
    instance_a = subprocess.Popen([sys.executable, "-c", INSTANCE, cloud.printed["endpoint"], a_id, a_secret,
                                   "dave"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert cloud.control.wait_held(hold, timeout=30)
        parked = cloud.control.ram_user("dave")["AccessKeys"]
        assert len(parked) == 1 and instance_a.poll() is None            # the key exists; A does not know yet
        ram_b = cloud.ram(b_id, b_secret)
        listed = ram_b.list_access_keys(rm.ListAccessKeysRequest(user_name="dave")).body.access_keys.access_key
        assert [k.access_key_id for k in listed] == [parked[0]["AccessKeyId"]]
        ram_b.update_access_key(rm.UpdateAccessKeyRequest(user_name="dave", user_access_key_id=listed[0].access_key_id,
                                                          status="Inactive"))
        assert cloud.control.holds.get(hold)["state"] == "held"
        time.sleep(0.2)
        assert instance_a.poll() is None
        cloud.control.release(hold)
        out, err = instance_a.communicate(timeout=60)
    finally:
        if instance_a.poll() is None:
            instance_a.kill()
            instance_a.communicate()
    assert instance_a.returncode == 0, err.decode()[-2000:]
    assert json.loads(out)["AccessKeyId"] == parked[0]["AccessKeyId"]
    assert cloud.control.ram_user("dave")["AccessKeys"][0]["Status"] == "Inactive"
    assert [(c.access_key_id == a_id, c.action) for c in cloud.control.calls.since(0)] == [
        (True, "CreateUser"), (True, "CreateAccessKey"), (False, "ListAccessKeys"), (False, "UpdateAccessKey")]
    states = {h["id"]: h["state"] for h in cloud.control.holds.list()}
    assert states == {hold: "released", other: "armed"} and cloud.control.holds.expired() == []


def test_a_forgotten_hold_does_not_hang_the_suite(cloud):
    hold = cloud.control.hold(None, "GetAccountAlias", timeout=0.5)
    started = time.monotonic()
    assert cloud.ram().get_account_alias().body.request_id                # answered once the hold gives up
    assert time.monotonic() - started >= 0.5
    assert cloud.control.holds.get(hold)["state"] == "expired"
    assert [h["id"] for h in cloud.control.holds.expired()] == [hold]
    cloud.stop()
    assert f"hold {hold}" in cloud.state_file.with_suffix(".stderr").read_text(encoding="utf-8")


def test_the_state_file_is_private_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        server = Standalone(tmp_path / "open.json")
    finally:
        os.umask(old)
    try:
        server.ram().create_user(rm.CreateUserRequest(user_name="erin"))
        assert (tmp_path / "open.json").stat().st_mode & 0o777 == 0o600
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".localcloud-")] == []   # no temp left
    finally:
        server.stop()
