"""AccessKey rotation (CIS 1.6, issue 13): the rotation function through its handler and timer envelope,
with its own key held to policies/rotation-role-policy.json, against localcloud.

- the whole rotation (create, write, overlap, disable + delete the old key), then a redelivered
  onboarding event: ``already-provisioned``, zero mutating calls;
- a crash after every call of every step (everything after it fails, as if the process died), then
  the next runs converge; at every moment at most two keys and KMS's current version an Active key;
- a reader (its own test-only key, the helpdesk policy) that polls the secret and signs a RAM call with
  the key it read never fails, during any of it (localcloud refuses Inactive and deleted keys);
- dry-run = the plan, no change; leavers, console users, foreign secrets are never touched;
- one run over users in every state at once: the whole report (every count and row, scanned, managed)
  and the skipped alert (the first MAX_LISTED of them);
- another writer between the rotation's steps (a version written before or after its key, around its
  write; the old key changed; a write whose answer was lost), with version ids sorting before and after
  every AccessKeyId.
"""
import dataclasses
import json
import threading
from datetime import datetime, timedelta, timezone
from itertools import permutations

import pytest
from alibabacloud_kms20160120 import models as km
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_ram20150501 import models as rm
from alibabacloud_ram20150501.client import Client as RamClient
from provisioner.domain.credentials import (
    FINISH,
    IN_FLIGHT_SECONDS,
    NO_KEY,
    NOT_DUE,
    ROTATE,
    WAIT,
    Held,
    Key,
    RotationPlan,
    Version,
    Versions,
    held_keys,
    rotation_plan,
)
from provisioner.platform import clock, runtime

from tests import concurrency_invariants as inv8
from tests.conftest import ROTATION_KEY_ID, ROTATION_POLICY, as_bytes, hr_time, set_clock
from tests.onboarding_support import event, invoke

USER = "alice.wang"
SECRET = f"ram-user/{USER}"
READER = json.loads((ROTATION_POLICY.parent / "credential-reader-policy.json").read_text(encoding="utf-8"))
ROTATION_SECRET = "test-rotation-fn-secret-not-a-credential"   # noqa: S105 - a test caller's key
MUTATING_PREFIXES = ("Get", "List", "Describe")


def timer(payload=None):
    return {"triggerTime": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"), "triggerName": "daily-rotation",
            "payload": json.dumps(payload if payload is not None else {})}


@pytest.fixture
def env(cloud, monkeypatch):
    """A key a day old is due, the overlap is an hour (the defaults are 90 days and 24 hours)."""
    monkeypatch.setenv("KEY_MAX_AGE_DAYS", "1")
    monkeypatch.setenv("KEY_ROTATION_OVERLAP_HOURS", "1")
    runtime.reset()
    cloud.add_caller(ROTATION_KEY_ID, ROTATION_SECRET, policy=json.loads(ROTATION_POLICY.read_text("utf-8")))
    yield cloud
    cloud.remove_caller(ROTATION_KEY_ID)


class AsRotation:
    """Run the rotation function as FC would: its own instance (settings, clients) and its own role's key."""

    def __init__(self, cloud, monkeypatch):
        self.cloud, self.monkeypatch = cloud, monkeypatch

    def __call__(self, payload=None, expect_raise=False):
        import rotation
        key_id, key_secret = self.cloud.access_key_id, self.cloud.access_key_secret
        self.monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", ROTATION_KEY_ID)
        self.monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ROTATION_SECRET)
        runtime.reset()
        try:
            return rotation.handler(as_bytes(timer(payload)), None)
        finally:
            self.monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", key_id)
            self.monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", key_secret)
            runtime.reset()


@pytest.fixture
def rotate(env, monkeypatch):
    return AsRotation(env, monkeypatch)


def keys(cloud, user=USER):
    return [(k["AccessKeyId"], k["Status"]) for k in cloud.ram.access_keys(user)]


def kms_current(cloud, name=SECRET):
    state = cloud.kms.secret_state(name)
    return state and state["current_version"]


def kms_previous(cloud, name=SECRET):
    state = cloud.kms.secret_state(name) or {"versions": []}
    return next((v["version_id"] for v in state["versions"] if "ACSPrevious" in v["stages"]), None)


def assert_safe(cloud):
    """What must hold at every instant: at most two keys, KMS's current version an Active key of the user."""
    held = keys(cloud)
    assert len(held) <= 2, held
    assert (kms_current(cloud), "Active") in held, (kms_current(cloud), held)


def assert_one_key_in_kms(cloud):
    held = keys(cloud)
    assert len(held) == 1 and held[0] == (kms_current(cloud), "Active"), (held, kms_current(cloud))
    assert cloud.kms.secret_state(SECRET)["current"]["AccessKeyId"] == held[0][0]


def later(**delta):
    return set_clock(clock.now() + timedelta(**delta))


class Reader:
    """A reader of the credential (an application that reads its key from KMS at run time): its own test
    key held to the helpdesk's policy reads the secret, then signs ram:GetUser with the key it read.
    Runs in a thread until stopped; ``pause()`` holds it between two cycles (while a test moves the clock:
    a reader reads at least once per overlap)."""

    def __init__(self, cloud):
        self.cloud = cloud
        key_id, key_secret = cloud.add_caller(policy=READER)
        self.key_id = key_id
        self.kms = KmsClient(cloud.client_config(access_key_id=key_id, access_key_secret=key_secret,
                                                 security_token=None))
        cloud.attach_user_policy(USER, {"Version": "1", "Statement": [
            {"Effect": "Allow", "Action": "ram:GetUser", "Resource": f"acs:ram:*:*:user/{USER}"}]})
        self.failures, self.cycles, self.keys_seen = [], 0, set()
        self._stop, self._running = threading.Event(), threading.Event()
        self._idle = threading.Event()
        self._running.set()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def cycle(self):
        value = json.loads(self.kms.get_secret_value(km.GetSecretValueRequest(secret_name=SECRET)).body.secret_data)
        config = self.cloud.client_config(access_key_id=value["AccessKeyId"],
                                          access_key_secret=value["AccessKeySecret"], security_token=None)
        try:
            RamClient(config).get_user(rm.GetUserRequest(user_name=USER))
        except Exception as exc:  # noqa: BLE001 - recorded, the test fails on it
            self.failures.append((value["AccessKeyId"], getattr(exc, "code", type(exc).__name__)))
        self.keys_seen.add(value["AccessKeyId"])
        self.cycles += 1

    def _loop(self):
        while not self._stop.is_set():
            if not self._running.is_set():
                self._idle.set()
                self._running.wait(0.05)
                continue
            self._idle.clear()
            self.cycle()

    def __enter__(self):
        self.thread.start()
        return self

    def pause(self):
        self._running.clear()
        assert self._idle.wait(10)

    def resume(self):
        before = self.cycles
        self._running.set()
        while self.cycles < before + 1 and self.thread.is_alive():     # it has read once since
            threading.Event().wait(0.005)

    def __exit__(self, *exc):
        self._stop.set()
        self._running.set()
        self.thread.join(10)
        self.cloud.detach_caller_policies(f"user/{USER}")
        self.cloud.remove_caller(self.key_id)


def move(reader, **delta):
    """Move the shared clock while the reader is between two cycles; it reads again before going on."""
    reader.pause()
    later(**delta)
    reader.resume()


def test_a_whole_rotation_then_a_redelivered_event_is_already_provisioned(cloud, rotate):
    joiner = event()
    assert invoke(joiner)["status"] == "provisioned"
    (old, _), = keys(cloud)
    set_clock(clock.now())
    with Reader(cloud) as reader:
        reader.resume()
        report = rotate()
        assert report["counts"]["notDue"] == 1 and report["users"] == []
        move(reader, days=1, minutes=1)
        report = rotate()
        assert report["status"] == "rotated" and report["counts"]["rotated"] == 1, report
        (row,) = report["users"]
        assert row["action"] == "rotated" and row["previousAccessKeyId"] == old
        new = row["accessKeyId"]
        assert kms_current(cloud) == new and kms_previous(cloud) == old
        assert sorted(keys(cloud)) == sorted([(old, "Active"), (new, "Active")])     # the overlap
        assert rotate()["counts"]["overlap"] == 1                                   # not yet
        assert sorted(keys(cloud)) == sorted([(old, "Active"), (new, "Active")])
        move(reader, hours=1, minutes=1)
        report = rotate()
        assert report["counts"]["finished"] == 1, report
        assert [c.action for c in cloud.calls if c.access_key_id == ROTATION_KEY_ID and c.action in (
            "UpdateAccessKey", "DeleteAccessKey")][-2:] == ["UpdateAccessKey", "DeleteAccessKey"]
        assert_one_key_in_kms(cloud)
        assert keys(cloud) == [(new, "Active")]
        reader.pause()
        assert reader.failures == [] and {old, new} <= reader.keys_seen, (reader.failures, reader.keys_seen)
    # the event again (FC's redelivery): the new key is the credential, nothing to do
    mark = cloud.calls.mark()
    answer = invoke(joiner)
    assert answer["status"] == "already-provisioned", answer
    assert [c.action for c in cloud.calls.mutating(mark)] == []
    assert keys(cloud) == [(new, "Active")]


def test_an_event_during_the_overlap_keeps_both_keys(cloud, rotate):
    """A redelivery while the old key still serves readers: zero mutating calls, both keys stay."""
    joiner = event()
    invoke(joiner)
    later(days=1, minutes=1)
    rotate()
    before = sorted(keys(cloud))
    mark = cloud.calls.mark()
    assert invoke(joiner)["status"] == "already-provisioned"
    assert cloud.calls.mutating(mark) == []
    assert sorted(keys(cloud)) == before


def test_dry_run_reports_the_plan_and_changes_nothing(cloud, rotate):
    invoke(event())
    later(days=1, minutes=1)
    mark = cloud.calls.mark()
    report = rotate({"dryRun": True})
    assert report["dryRun"] is True
    (row,) = report["users"]
    assert row["action"] == "planned" and row["next"] == "rotate"
    assert [s["action"] for s in row["steps"]] == ["CreateAccessKey", "PutSecretValue"]
    assert cloud.calls.mutating(mark) == []
    assert rotate({"maxDeletions": 1})["status"] == "rejected"          # the sweep's payload is not its


def test_never_touches_leavers_console_users_or_foreign_secrets(cloud, rotate, kms):
    import offboarding
    invoke(event(logon="leaver.one", employee_id="E1"))
    invoke(event(mode="console", logon="console.one", employee_id="E2"))
    invoke(event(logon="foreign.one", employee_id="E3"))
    kms.untag_resource(km.UntagResourceRequest(secret_name="ram-user/foreign.one", tag_keys='["managed-by"]'))
    leaver = {"eventId": "l1", "eventType": "employee.offboarded", "occurredAt": hr_time(),
              "employee": {"employeeId": "E1", "logonName": "leaver.one"}}
    assert offboarding.handler(as_bytes(leaver), None)["status"] == "disabled"
    later(days=2)
    mark = cloud.calls.mark()
    report = rotate()
    assert report["counts"]["rotated"] == 0 and report["users"] == [], report
    assert [c for c in cloud.calls.mutating(mark)] == []


@pytest.mark.parametrize("secret_type", ["ECS", "Rds"])        # sorting before and after "Generic"
def test_a_secret_of_another_type_at_the_users_name_is_never_rotated(cloud, rotate, secret_type):
    """KMS's other secret types (ECS, Rds, Redis, PolarDB) take any name: one at the user's secret name,
    tagged ours, is not a credential of ours to rotate (PutSecretValue writes Generic secrets only). Set
    up in localcloud's backend: its API refuses to create those types."""
    invoke(event())
    cloud.kms.secrets[SECRET].secret_type = secret_type
    later(days=1, minutes=1)                                    # the key is due
    mark = cloud.calls.mark()
    report = rotate()
    assert report["users"] == [] and report["managed"] == 1, report
    assert report["counts"] == {"rotated": 0, "finished": 0, "inProgress": 0, "overlap": 0, "notDue": 0,
                                "skipped": 0, "failed": 0, "strays": 0}, report["counts"]
    assert cloud.calls.mutating(mark) == []


# -- a crash after every call ---------------------------------------------------------------------------------
def _successful_calls(cloud, rotate):
    """The rotation's calls, in order, as (action, n-th of that action), over create/write and finish."""
    invoke(event())
    later(days=1, minutes=1)
    mark = cloud.calls.mark()
    rotate()
    later(hours=1, minutes=1)
    rotate()
    calls, seen = [], {}
    for c in cloud.calls.since(mark):
        if c.access_key_id == ROTATION_KEY_ID:
            seen[c.action] = seen.get(c.action, 0) + 1
            calls.append((c.action, seen[c.action]))
    return calls


def _crash_points():
    return [("CreateAccessKey", 1), ("GetUser", 1), ("ListSecretVersionIds", 2), ("ListAccessKeys", 2),
            ("PutSecretValue", 1), ("GetUser", 2), ("UpdateAccessKey", 1), ("DeleteAccessKey", 1)]


LAST_CALLS = {("GetUser", 2), ("DeleteAccessKey", 1)}      # a run's last call: nothing follows to fail


def test_the_crash_points_are_the_calls_a_rotation_makes(cloud, rotate):
    calls = _successful_calls(cloud, rotate)
    mutating = [c for c in calls if not c[0].startswith(MUTATING_PREFIXES)]
    assert mutating == [("CreateAccessKey", 1), ("PutSecretValue", 1), ("UpdateAccessKey", 1),
                        ("DeleteAccessKey", 1)], calls
    assert set(_crash_points()) <= set(calls)


@pytest.mark.parametrize("action, nth", _crash_points(), ids=[f"{a}#{n}" for a, n in _crash_points()])
def test_a_crash_after_any_call_then_the_next_runs_converge(cloud, rotate, action, nth):
    """Call ``nth`` of ``action`` runs, then everything fails (the process is gone, as far as the cloud
    can tell); the state is safe right then, and the following runs finish the rotation."""
    invoke(event())
    (old, _), = keys(cloud)
    with Reader(cloud) as reader:
        reader.resume()
        move(reader, days=1, minutes=1)
        in_finish = action in ("UpdateAccessKey", "DeleteAccessKey")
        if in_finish:
            rotate()
            move(reader, hours=1, minutes=1)
        hold = cloud.hold(ROTATION_KEY_ID, action, when="after", nth=nth)
        outcome = {}

        def run():
            try:
                outcome["report"] = rotate()
            except Exception as exc:  # noqa: BLE001 - TransientError, for FC's retry
                outcome["raised"] = type(exc).__name__
        thread = threading.Thread(target=run)
        thread.start()
        assert cloud.wait_held(hold, 20), f"{action}#{nth} never called"
        reader.pause()                  # the injected faults are everybody's: the reader waits them out
        assert_safe(cloud)
        cloud.faults.fail(None, "ServiceUnavailable", 503, times=None)      # from here on: the crash
        cloud.release(hold)
        thread.join(60)
        # TransientError for FC's retry; or a report when the held call was the run's last
        assert outcome.get("raised") == "TransientError" or (action, nth) in LAST_CALLS, outcome
        cloud.faults.clear()
        reader.resume()
        assert_safe(cloud)
        # the next scheduled runs (a key left in flight is an orphan once IN_FLIGHT_SECONDS have passed)
        move(reader, seconds=IN_FLIGHT_SECONDS + 60)
        for _ in range(3):
            rotate()
            assert_safe(cloud)
            move(reader, hours=1, minutes=1)
        assert_one_key_in_kms(cloud)
        assert keys(cloud)[0][0] != old, "the key was not rotated"
        reader.pause()
        assert reader.failures == [], reader.failures


# -- two processes, interleaved exactly (tests/instances.py, localcloud holds) -----------------------------------
def _fleet(cloud):
    from tests.instances import Instances
    rotation_role = json.loads(ROTATION_POLICY.read_text(encoding="utf-8"))
    return Instances(cloud, 2, env={"KEY_MAX_AGE_DAYS": "1", "KEY_ROTATION_OVERLAP_HOURS": "1"},
                     policies={1: rotation_role})


def _joiner_and_due(cloud, fc):
    """fc[0] (the lifecycle role) onboards; the shared clock then moves a day on: the key is due."""
    from tests.concurrency_support import joiner
    start = clock.now().replace(microsecond=0)
    set_clock(start)
    joined = joiner("j1", (start - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert fc[0].run("onboarding", joined, now=start)["status"] == "provisioned"
    (old, _), = keys(cloud)
    due = set_clock(start + timedelta(days=1, minutes=1)).now()
    return joined, old, due


def _leaver(due):
    from tests.concurrency_support import leaver
    return leaver("l1", (due - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _timer_at(due):
    return {"triggerTime": due.strftime("%Y-%m-%dT%H:%M:%SZ"), "triggerName": "daily-rotation", "payload": "{}"}


def test_rotation_holding_after_its_new_key_while_a_leaver_disables(cloud, env):
    """Rotation (fc[1], its own role) parked right after CreateAccessKey; the leaver (fc[0]) disables the
    user meanwhile; then the rotation goes on. It sees the user disabled, deletes its key and writes
    nothing: no Active key, and KMS holds exactly what the leaver path leaves (the old key, current)."""
    with _fleet(cloud) as fc:
        _, old, due = _joiner_and_due(cloud, fc)
        versions_before = [v["version_id"] for v in cloud.kms.secret_state(SECRET)["versions"]]
        hold = cloud.hold(fc[1].key, "CreateAccessKey", when="after")
        rotation = fc[1].start("rotation", _timer_at(due), now=due)
        assert rotation.until_held(hold)
        assert len(keys(cloud)) == 2                         # the rotation's new key exists, Active
        assert fc[0].run("offboarding", _leaver(due), now=due)["status"] == "disabled"
        cloud.release(hold)
        report = rotation.result()
        (row,) = report["users"]
        assert row["action"] == "skipped" and "disabled" in row["reason"], row
        assert report["counts"] == counts(skipped=1)
        assert keys(cloud) == [(old, "Inactive")]
        assert kms_current(cloud) == old
        assert [v["version_id"] for v in cloud.kms.secret_state(SECRET)["versions"]] == versions_before
        assert not [c for c in cloud.calls if c.access_key_id == fc[1].key and c.action == "PutSecretValue"]
        inv8.check(cloud)                          # invariant 8: disabled, no Active key, every key KMS's


def test_rotation_holding_before_its_write_while_a_leaver_disables(cloud, env):
    """Rotation parked after its re-check, right before PutSecretValue; the leaver disables (both keys,
    it sees the new one too). The write lands, then the rotation sees the user disabled: the new key is
    KMS's current and Inactive, the old one deleted. No Active key; one key, KMS's."""
    with _fleet(cloud) as fc:
        _, old, due = _joiner_and_due(cloud, fc)
        hold = cloud.hold(fc[1].key, "PutSecretValue", when="before")
        rotation = fc[1].start("rotation", _timer_at(due), now=due)
        assert rotation.until_held(hold)
        assert fc[0].run("offboarding", _leaver(due), now=due)["status"] == "disabled"
        assert [s for _, s in keys(cloud)] == ["Inactive", "Inactive"]
        cloud.release(hold)
        report = rotation.result()
        (key, status), = keys(cloud)
        assert report["users"] == [_row(action="skipped", accessKeyId=key, reason="the user was disabled during the "
                                        "rotation: the new key is Inactive, the previous one deleted")], report
        assert report["counts"] == counts(skipped=1)
        assert status == "Inactive" and key == kms_current(cloud) != old
        inv8.check(cloud)
        assert not [c for c in cloud.calls if c.access_key_id == fc[1].key and c.action == "UpdateAccessKey"
                    and c.params.get("Status") == "Active"]


@pytest.mark.parametrize("action, when", [("CreateAccessKey", "after"), ("PutSecretValue", "after")])
def test_an_onboarding_redelivery_during_a_rotation_changes_nothing(cloud, env, action, when):
    """Rotation parked with its new key made (not yet in KMS), or just written (the old key KMS's
    previous): the joiner delivered again (fc[0]) answers already-provisioned with zero mutating calls
    (no third key, neither key deleted); the rotation then completes."""
    with _fleet(cloud) as fc:
        joined, old, due = _joiner_and_due(cloud, fc)
        hold = cloud.hold(fc[1].key, action, when=when)
        rotation = fc[1].start("rotation", _timer_at(due), now=due)
        assert rotation.until_held(hold)
        before = sorted(keys(cloud))
        mark = cloud.calls.mark()
        answer = fc[0].run("onboarding", joined, now=due)
        assert answer["status"] == "already-provisioned", answer
        assert [c.action for c in cloud.calls.mutating(mark) if c.access_key_id == fc[0].key] == []
        assert sorted(keys(cloud)) == before
        cloud.release(hold)
        (row,) = rotation.result()["users"]
        assert row["action"] == "rotated", row
        assert kms_previous(cloud) == old and (kms_current(cloud), "Active") in keys(cloud)
        mark = cloud.calls.mark()
        assert fc[0].run("onboarding", joined, now=due)["status"] == "already-provisioned"
        assert [c.action for c in cloud.calls.mutating(mark) if c.access_key_id == fc[0].key] == []


# -- RAMCredentials: KMS rotates, the product stays idempotent -------------------------------------------------
RAM_SECRET = f"acs/ram/user/{USER}"


def test_a_ram_secret_rotated_by_kms_then_a_redelivered_event_is_already_provisioned(cloud, kms, monkeypatch):
    """Onboarding turns KMS's rotation on with KEY_MAX_AGE_DAYS as the interval; KMS rotates on its clock
    (version ids of its own), and on demand (RotateSecret); each time the joiner delivered again is
    already-provisioned with zero mutating calls (no re-mint: KMS holds both of the user's keys)."""
    import offboarding
    monkeypatch.setenv("SECRET_TYPE", "RAMCredentials")
    monkeypatch.setenv("KEY_MAX_AGE_DAYS", "1")
    monkeypatch.setenv("KEY_ROTATION_OVERLAP_HOURS", "1")
    runtime.reset()
    joiner = event()
    assert invoke(joiner)["status"] == "provisioned"
    state = cloud.kms.secret_state(RAM_SECRET)
    assert state["rotation_interval"] == 86400
    (first, _), = keys(cloud)
    described = kms.describe_secret(km.DescribeSecretRequest(secret_name=RAM_SECRET)).body
    assert described.automatic_rotation == "Enabled" and described.rotation_interval == "86400s"
    for turn in range(2):
        set_clock(clock.now() + timedelta(days=1, minutes=1))
        assert cloud.kms.tick() == [RAM_SECRET]
        current = kms_current(cloud, RAM_SECRET)
        assert current not in [k for k, _ in keys(cloud)]                   # not an AccessKeyId any more
        assert len(keys(cloud)) == 2
        mark = cloud.calls.mark()
        assert invoke(joiner)["status"] == "already-provisioned", turn
        assert cloud.calls.mutating(mark) == [], [c.action for c in cloud.calls.mutating(mark)]
    assert first not in [k for k, _ in keys(cloud)]                          # KMS deleted the key before
    kms.rotate_secret(km.RotateSecretRequest(secret_name=RAM_SECRET, version_id="manual-rotation-1"))
    mark = cloud.calls.mark()
    assert invoke(joiner)["status"] == "already-provisioned"
    assert cloud.calls.mutating(mark) == []
    # the leaver: both keys Inactive, and KMS's rotation of our RAM secret stopped (no key comes back)
    leaver = {"eventId": "l1", "eventType": "employee.offboarded", "occurredAt": hr_time(),
              "employee": {"employeeId": "E10023", "logonName": USER}}
    assert offboarding.handler(as_bytes(leaver), None)["status"] == "disabled"
    assert [s for _, s in keys(cloud)] == ["Inactive", "Inactive"]
    set_clock(clock.now() + timedelta(days=3))
    # no new rotation; the one under way ended (its old key deleted): one key, Inactive
    assert cloud.kms.tick() == [] and [s for _, s in keys(cloud)] == ["Inactive"]


def test_a_key_made_after_kms_rotated_is_not_taken_for_kms_s(cloud, ram, monkeypatch):
    """After a KMS rotation the version id names no key: the key KMS holds is told by time. A key made
    afterwards outside KMS (and older than IN_FLIGHT_SECONDS) is a stray, deleted; the rest stays."""
    monkeypatch.setenv("SECRET_TYPE", "RAMCredentials")
    monkeypatch.setenv("KEY_MAX_AGE_DAYS", "1")
    monkeypatch.setenv("KEY_ROTATION_OVERLAP_HOURS", "1")
    runtime.reset()
    joiner = event()
    invoke(joiner)
    set_clock(clock.now() + timedelta(days=1, minutes=1))
    cloud.kms.tick()
    (_, _), (kms_key, _) = keys(cloud)
    ram.delete_access_key(rm.DeleteAccessKeyRequest(user_name=USER, user_access_key_id=keys(cloud)[0][0]))
    set_clock(clock.now() + timedelta(minutes=1))
    stray = ram.create_access_key(rm.CreateAccessKeyRequest(user_name=USER)).body.access_key.access_key_id
    set_clock(clock.now() + timedelta(seconds=IN_FLIGHT_SECONDS + 60))
    answer = invoke(joiner)
    assert answer["status"] == "provisioned", answer
    assert keys(cloud) == [(kms_key, "Active")] and stray != kms_key


def test_a_refused_write_fails_the_user_with_an_alert_and_leaves_no_key_outside_kms(cloud, rotate, capsys):
    old = _a_key_due(cloud)
    cloud.faults.fail("PutSecretValue", "Forbidden.NoPermission", 403, times=1)
    capsys.readouterr()
    report = rotate()
    (row,) = report["users"]
    assert row["action"] == "failed" and row["error"]["code"] == "Forbidden.NoPermission", row
    assert keys(cloud) == [(old, "Active")] and kms_current(cloud) == old       # the new key is gone again
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(line.get("alert") == "provisioning-failed" and line.get("users") == [USER] for line in lines)
    assert rotate()["counts"]["rotated"] == 1                                   # the next run rotates


def test_a_key_in_flight_is_left_to_its_run_then_taken_for_an_orphan(cloud, rotate, ram):
    """Another run's new key, not yet in KMS (made after KMS's current version, moments ago): this run
    leaves the user alone (in-progress, no change); once IN_FLIGHT_SECONDS have passed it is an orphan:
    deleted, and the rotation goes on."""
    old = _a_key_due(cloud)
    other = ram.create_access_key(rm.CreateAccessKeyRequest(user_name=USER)).body.access_key.access_key_id
    mark = cloud.calls.mark()
    (row,) = rotate()["users"]
    assert row["action"] == "in-progress" and row["accessKeyIds"] == [other], row
    assert cloud.calls.mutating(mark) == []
    later(seconds=IN_FLIGHT_SECONDS + 1)
    report = rotate()
    assert report["counts"]["strays"] == 1 and report["counts"]["rotated"] == 1, report
    assert other not in [k for k, _ in keys(cloud)] and kms_previous(cloud) == old


# -- review (issue 13): a re-mint that lands between the rotation's re-check and its write ---------------------
def test_rotation_holding_before_its_write_while_a_mover_switches_to_console(cloud, env):
    """Rotation parked after its re-check, right before PutSecretValue; a mover (programmatic -> console)
    runs to the end meanwhile: the keys deleted (the rotation's new one too), a password version
    written, a login profile. The rotation's write must not then name its (deleted) key as KMS's current
    version over the mover's password: the console user's credential stays KMS's current version."""
    from tests.concurrency_support import joiner
    with _fleet(cloud) as fc:
        _, old, due = _joiner_and_due(cloud, fc)
        hold = cloud.hold(fc[1].key, "PutSecretValue", when="before")
        rotation = fc[1].start("rotation", _timer_at(due), now=due)
        assert rotation.until_held(hold)
        mover = joiner("m1", (due - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ"), mode="console")
        assert fc[0].run("onboarding", mover, now=due)["status"] == "provisioned"
        password_version = kms_current(cloud)
        assert password_version.startswith("pw-") and keys(cloud) == []
        cloud.release(hold)
        report = rotation.result()
        assert report["users"] == [_row(action="skipped", reason=WRITTEN_MEANWHILE)], report
        assert report["counts"] == counts(skipped=1)
        assert keys(cloud) == []
        assert kms_current(cloud) == password_version, (kms_current(cloud), password_version)
        inv8.check(cloud)


def test_rotation_holding_before_its_write_while_a_leaver_then_a_rehire_run(cloud, env):
    """Rotation parked right before PutSecretValue; a leaver disables, a rehire re-mints (a fresh key,
    KMS's new current version, the others deleted). The rotation's write must not replace the rehire's
    key with its own (deleted) one: KMS's current version stays an Active key of the user."""
    from tests.concurrency_support import joiner
    with _fleet(cloud) as fc:
        _, old, due = _joiner_and_due(cloud, fc)
        hold = cloud.hold(fc[1].key, "PutSecretValue", when="before")
        rotation = fc[1].start("rotation", _timer_at(due), now=due)
        assert rotation.until_held(hold)
        assert fc[0].run("offboarding", _leaver(due), now=due)["status"] == "disabled"
        rehire = joiner("r1", (due - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        assert fc[0].run("onboarding", rehire, now=due)["status"] == "provisioned"
        (rehired, status), = keys(cloud)
        assert status == "Active" and kms_current(cloud) == rehired
        cloud.release(hold)
        report = rotation.result()
        assert report["users"] == [_row(action="skipped", reason=WRITTEN_MEANWHILE)], report
        assert report["counts"] == counts(skipped=1)
        assert kms_current(cloud) == rehired and (rehired, "Active") in keys(cloud), (kms_current(cloud), keys(cloud))
        inv8.check(cloud)


def test_a_version_holding_both_stages_has_no_previous_key():
    """A stage move that left ACSPrevious on the version it made current (a KMS that does not move
    ACSPrevious along): the current key is not also the overlap's previous one, so no finish deletes it."""
    now = clock.now()
    key = Key("LTAIcurrent", "Active", now - timedelta(days=2))
    version = Version("LTAIcurrent", now - timedelta(days=2))
    held = held_keys([key], Versions(version, version), now)
    assert held.current == key and held.previous is None
    assert rotation_plan(held, Versions(version, version), now, 90, 1).action != FINISH
    # as read from ListSecretVersionIds: two version entries, each id its own (equal) string object
    current_id, previous_id = "".join(["LTAI", "current"]), "".join(["LTAI", "current"])
    assert current_id == previous_id and current_id is not previous_id
    versions = Versions(Version(current_id, version.created), Version(previous_id, version.created))
    held = held_keys([key], versions, now)
    assert held.current == key and held.previous is None
    assert rotation_plan(held, versions, now, 90, 1).action != FINISH


@pytest.mark.parametrize("action", ["GetUser", "ListSecretVersionIds", "ListAccessKeys"])
def test_a_failed_test_step_leaves_no_key_outside_kms(cloud, rotate, action):
    """The test step's reads (after CreateAccessKey, before the write) refused: the new key must not stay
    outside KMS, Active and held by nobody, until a later run takes it for an orphan."""
    old = _a_key_due(cloud)
    hold = cloud.hold(ROTATION_KEY_ID, "CreateAccessKey", when="after")
    worker = threading.Thread(target=lambda: rotate())
    worker.start()
    assert cloud.wait_held(hold, 20)
    cloud.faults.fail(action, "Forbidden.NoPermission", 403, times=1)
    cloud.release(hold)
    worker.join(60)
    assert not worker.is_alive()
    assert keys(cloud) == [(old, "Active")] and kms_current(cloud) == old, keys(cloud)


def test_the_daily_run_after_the_overlap_finishes_it(cloud, rotate, monkeypatch):
    """Daily runs and a 24-hour overlap (the defaults' shape): the run that writes the new key reaches the
    user a minute after it started; the next day's run, exactly 24 hours after the first, finishes the
    rotation. The old key must not stay Active a second day (the audit allows the overlap plus one run)."""
    monkeypatch.setenv("KEY_MAX_AGE_DAYS", "2")
    monkeypatch.setenv("KEY_ROTATION_OVERLAP_HOURS", "24")
    runtime.reset()
    invoke(event())
    (old, _), = keys(cloud)
    tick = later(days=2, minutes=1).now()
    hold = cloud.hold(ROTATION_KEY_ID, "PutSecretValue", when="before")
    worker = threading.Thread(target=lambda: rotate())
    worker.start()
    assert cloud.wait_held(hold, 20)
    set_clock(tick + timedelta(minutes=1))          # the run is a minute in when it reaches this user
    cloud.release(hold)
    worker.join(60)
    assert kms_previous(cloud) == old
    set_clock(tick + timedelta(hours=24))           # the next daily tick
    report = rotate()
    assert report["counts"]["finished"] == 1, report["counts"]
    assert old not in [k for k, _ in keys(cloud)]


def test_kms_rotating_a_ram_secret_while_a_leaver_disables_leaves_no_active_key(cloud, monkeypatch):
    """RAMCredentials: KMS's rotation becomes due and runs while the leaver is between reading the keys and
    stopping the rotation (parked before its UpdateAccessKey): KMS's new key, Active, must not survive the
    leaver (invariant 8: a disabled user has no Active AccessKey). It does not: the leaver's re-check
    sees it and a second round sets it Inactive."""
    import offboarding
    monkeypatch.setenv("SECRET_TYPE", "RAMCredentials")
    monkeypatch.setenv("KEY_MAX_AGE_DAYS", "1")
    monkeypatch.setenv("KEY_ROTATION_OVERLAP_HOURS", "1")
    runtime.reset()
    assert invoke(event())["status"] == "provisioned"
    set_clock(clock.now() + timedelta(days=1, minutes=1))
    cloud.kms.tick()                                   # a first rotation: two keys from here on
    set_clock(clock.now() + timedelta(days=1, minutes=-1))  # the next one is due in a minute
    leaver = {"eventId": "l1", "eventType": "employee.offboarded", "occurredAt": hr_time(),
              "employee": {"employeeId": "E10023", "logonName": USER}}
    hold = cloud.hold(cloud.access_key_id, "UpdateAccessKey", when="before")
    results = []
    worker = threading.Thread(target=lambda: results.append(offboarding.handler(as_bytes(leaver), None)))
    worker.start()
    assert cloud.wait_held(hold, 20)
    set_clock(clock.now() + timedelta(minutes=2))
    assert cloud.kms.tick() == [RAM_SECRET]            # KMS rotates now: a new Active key
    cloud.release(hold)
    worker.join(60)
    assert results and results[0]["status"] == "disabled", results
    assert [s for _, s in keys(cloud)] == ["Inactive", "Inactive"], keys(cloud)     # the leaver's re-check
    assert cloud.kms.secret_state(RAM_SECRET)["rotation_interval"] is None            # and no more rotations
    set_clock(clock.now() + timedelta(days=3))
    # no new rotation; the one under way ended (its old key deleted): one key, Inactive
    assert cloud.kms.tick() == [] and [s for _, s in keys(cloud)] == ["Inactive"]



# -- the pure rules (domain/credentials.py) at their exact boundaries ----------------------------------
# Fixed instants; the 15 minutes are docs/concurrency.md's figure for IN_FLIGHT_SECONDS, written out (not
# the constant) so that a changed constant fails here.
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
FIFTEEN_MINUTES = timedelta(minutes=15)
SECOND = timedelta(seconds=1)


def test_a_key_made_after_kms_s_version_is_in_flight_for_fifteen_minutes_then_a_stray():
    """A key KMS does not hold, made after KMS's current version was written: another instance's
    mid-write while younger than 15 minutes, a stray from exactly 15 minutes on. One made at or before
    the write is no one's write in progress: a stray at once, however young."""
    current = Key("LTAIcurrent", "Active", T0 - timedelta(days=1))
    versions = Versions(Version("LTAIcurrent", T0))
    made = T0 + timedelta(minutes=1)
    other = Key("LTAIother", "Active", made)
    for age, in_flight in [(FIFTEEN_MINUTES - SECOND, True), (FIFTEEN_MINUTES, False),
                           (FIFTEEN_MINUTES + SECOND, False)]:
        held = held_keys([current, other], versions, made + age)
        assert held.current == current and held.previous is None, age
        assert (held.in_flight, held.strays) == (((other,), ()) if in_flight else ((), (other,))), age
    for made, in_flight in [(T0 - SECOND, False), (T0, False), (T0 + SECOND, True)]:
        other = Key("LTAIother", "Active", made)
        held = held_keys([current, other], versions, T0 + timedelta(minutes=1))
        assert (held.in_flight, held.strays) == (((other,), ()) if in_flight else ((), (other,))), made - T0


def test_a_version_naming_a_gone_key_holds_none_unless_kms_rotates_the_secret():
    """By default (a Generic secret: the rotation's call) a version is named after the key it holds: one
    naming a key that is gone holds none of the user's keys, even one made before it (nothing to rotate
    from: onboarding's repair). Only a secret KMS rotates holds the newest key made up to its version."""
    key = Key("LTAIlisted", "Active", T0 - timedelta(days=1))
    versions = Versions(Version("LTAIgone", T0))
    now = T0 + timedelta(days=1)
    held = held_keys([key], versions, now)
    assert held == Held(None, None, (), (key,))
    assert rotation_plan(held, versions, now, 90, 24) == RotationPlan(NO_KEY, held)
    assert held_keys([key], versions, now, ram_secret=True) == Held(key, None, (), ())


def test_a_kms_rotated_secret_holds_the_newest_key_made_up_to_its_version_in_any_listing_order():
    """RAMCredentials: KMS's version ids name no key; the current version holds the newest key made at or
    before its write, its ACSPrevious the one made just before that (not an older one: three keys, more
    than RAM lets a user have today, to tell them apart); a key made after the write is in flight, the
    rest are strays. ListAccessKeys' order is no creation order."""
    oldest = Key("LTAIoldest", "Inactive", T0 - timedelta(days=60))
    older = Key("LTAIolder", "Active", T0 - timedelta(days=30))
    newest = Key("LTAInewest", "Active", T0)                    # KMS makes the key, then the version
    after = Key("LTAIafter", "Active", T0 + SECOND)
    versions = Versions(Version("kms-v2", T0), Version("kms-v1", T0 - timedelta(days=30)))
    for keys in permutations([oldest, older, newest, after]):
        held = held_keys(list(keys), versions, T0 + timedelta(minutes=1), ram_secret=True)
        assert (held.current, held.previous, held.in_flight, held.strays) == (newest, older, (after,), (oldest,)), \
            [k.access_key_id for k in keys]


def test_no_active_key_in_kms_is_no_key_to_rotate_from():
    """No key KMS's current version holds, or that key Inactive: ``no-key-in-kms`` whatever the ages."""
    versions = Versions(Version("LTAIcurrent", T0 - timedelta(days=200)))
    for current in (None, Key("LTAIcurrent", "Inactive", T0 - timedelta(days=200))):
        held = Held(current, None, (), ())
        assert rotation_plan(held, versions, T0, 90, 24) == RotationPlan(NO_KEY, held), current


def test_the_overlap_finishes_fifteen_minutes_before_its_end_and_says_when_until_then():
    """The overlap counts from the new version's write (T0): with 24 hours it is finished from exactly
    24 hours less 15 minutes on (the run that wrote it may have reached this user up to 15 minutes in);
    until then ``overlap`` with the instant it ends, after it no due time."""
    new = Key("LTAInew", "Active", T0 - timedelta(minutes=1))
    old = Key("LTAIold", "Active", T0 - timedelta(days=90))
    versions = Versions(Version("LTAInew", T0), Version("LTAIold", T0 - timedelta(days=90)))
    held = held_keys([new, old], versions, T0)
    assert held == Held(new, old, (), ())
    ends = T0 + timedelta(hours=24)
    at = ends - FIFTEEN_MINUTES
    for now, plan in [(at - SECOND, RotationPlan(WAIT, held, ends)), (at, RotationPlan(FINISH, held, None)),
                      (at + SECOND, RotationPlan(FINISH, held, None))]:
        assert rotation_plan(held, versions, now, 90, 24) == plan, now - at


def test_a_key_is_due_fifteen_minutes_before_its_max_age_counted_from_its_creation():
    """A key is rotated from its max age less 15 minutes on, counted from the key's creation (here 10 days
    before the version holding it was written), or from the version's write when RAM gives no creation
    time; until then ``not-due`` with the instant it is due, after it no due time."""
    version = Version("LTAIkey", T0)
    for created, born in [(T0 - timedelta(days=10), T0 - timedelta(days=10)), (None, T0)]:
        key = Key("LTAIkey", "Active", created)
        held = held_keys([key], Versions(version), T0)
        assert held == Held(key, None, (), ())
        due = born + timedelta(days=90)
        at = due - FIFTEEN_MINUTES
        for now, plan in [(at - SECOND, RotationPlan(NOT_DUE, held, due)), (at, RotationPlan(ROTATE, held, None)),
                          (at + SECOND, RotationPlan(ROTATE, held, None))]:
            assert rotation_plan(held, Versions(version), now, 90, 24) == plan, (created, now - at)


def test_keys_versions_what_kms_holds_and_a_plan_are_values():
    """The rules' results are shared by the rotation's steps, its report and the audit: equal fields make
    equal (and equally hashed) values, and none can be changed after it is made."""
    def build():
        key = Key("LTAIkey", "Active", T0)
        version = Version("LTAIkey", T0)
        versions = Versions(version)
        held = held_keys([key], versions, T0)
        return [key, version, versions, held, rotation_plan(held, versions, T0, 90, 24)]
    for a, b in zip(build(), build(), strict=True):
        assert a == b and hash(a) == hash(b) and len({a, b}) == 1, type(a).__name__
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(a, dataclasses.fields(a)[0].name, None)


# -- one run over an account holding users in every state at once (issue 15: the whole report pinned) -----------
def _logged(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def _onboard_at(when, logon, employee_id, **kw):
    set_clock(when)
    assert invoke(event(logon=logon, employee_id=employee_id, **kw))["status"] == "provisioned", logon


def test_one_run_over_users_in_every_state_reports_each_exactly(cloud, rotate, ram, kms, capsys):
    """A finish, an overlap, a due key, a key not due, a stray beside a key not due, another run's key in
    flight, 21 users whose KMS version names no Active key (skipped), a refused read (failed), and users
    never rotated: a console user, a leaver, a secret tagged for another employee, one not tagged ours,
    one in its deletion window, no secret at all, a user not ours. The report (every count, every row,
    scanned and managed), the keys afterwards and the skipped alert (21 skipped, the first 20 listed)."""
    import offboarding

    from tests.offboarding_support import make_user
    run_at = clock.now().replace(microsecond=0) + timedelta(days=3)
    _onboard_at(run_at - timedelta(days=2), "a.finish", "E1")
    _onboard_at(run_at - timedelta(days=1, minutes=30), "b.overlap", "E2")
    _onboard_at(run_at - timedelta(days=1) + timedelta(minutes=10), "c.due", "E3")
    set_clock(run_at - timedelta(hours=1))
    assert rotate()["counts"]["rotated"] == 1                          # a.finish's new key
    set_clock(run_at - timedelta(minutes=20))
    assert rotate()["counts"]["rotated"] == 1                          # b.overlap's new key
    ids = {name: [k for k, _ in keys(cloud, name)] for name in ("a.finish", "b.overlap", "c.due")}
    a_new, b_new = kms_current(cloud, "ram-user/a.finish"), kms_current(cloud, "ram-user/b.overlap")
    a_old, b_old = kms_previous(cloud, "ram-user/a.finish"), kms_previous(cloud, "ram-user/b.overlap")
    assert sorted(ids["a.finish"]) == sorted([a_new, a_old]) and sorted(ids["b.overlap"]) == sorted([b_new, b_old])
    (c_old,) = ids["c.due"]
    for name, eid in [("d.notdue", "E4"), ("e.stray", "E5"), ("f.inflight", "E6"), ("h.leaver", "E8"),
                      ("i.other", "E9"), ("j.foreign", "E10"), ("k.deleting", "E11"), ("l.nosecret", "E12"),
                      ("n.refused", "E14")]:
        _onboard_at(run_at - timedelta(minutes=19), name, eid)
    _onboard_at(run_at - timedelta(minutes=19), "g.console", "E7", access={"mode": "console", "level": "read-only"})
    set_clock(run_at - timedelta(minutes=18))
    stray = ram.create_access_key(rm.CreateAccessKeyRequest(user_name="e.stray")).body.access_key.access_key_id
    set_clock(run_at - timedelta(minutes=5))
    in_flight = ram.create_access_key(rm.CreateAccessKeyRequest(user_name="f.inflight")).body.access_key.access_key_id
    leaver = {"eventId": "l-h", "eventType": "employee.offboarded", "occurredAt": hr_time(),
              "employee": {"employeeId": "E8", "logonName": "h.leaver"}}
    assert offboarding.handler(as_bytes(leaver), None)["status"] == "disabled"
    kms.tag_resource(km.TagResourceRequest(secret_name="ram-user/i.other",
                                           tags='[{"TagKey": "employee-id", "TagValue": "E999"}]'))
    kms.untag_resource(km.UntagResourceRequest(secret_name="ram-user/j.foreign", tag_keys='["managed-by"]'))
    kms.delete_secret(km.DeleteSecretRequest(secret_name="ram-user/k.deleting", recovery_window_in_days="7"))
    kms.delete_secret(km.DeleteSecretRequest(secret_name="ram-user/l.nosecret", force_delete_without_recovery="true"))
    ram.create_user(rm.CreateUserRequest(user_name="m.notours", comments="created by the platform team"))
    skipped = [f"s{i:02d}" for i in range(21)]
    skipped_keys = {name: make_user(ram, kms, name, f"E{100 + i}", login=False, groups=(), inactive_keys=True)[0]
                    for i, name in enumerate(skipped)}
    untouched = {name: sorted(keys(cloud, name)) for name in
                 ("d.notdue", "g.console", "h.leaver", "i.other", "j.foreign", "k.deleting", "l.nosecret", "n.refused")}
    d_key, = [k for k, _ in keys(cloud, "e.stray") if k != stray]
    set_clock(run_at)
    cloud.faults.fail("ListAccessKeys", "Forbidden.NoPermission", 403, times=1, where={"UserName": "n.refused"})
    capsys.readouterr()
    report = rotate()

    rows = {row["userName"]: row for row in report["users"]}
    assert [row["userName"] for row in report["users"]] == sorted(rows), report["users"]
    c_new = rows["c.due"]["accessKeyId"]
    assert {k: v for k, v in report.items() if k != "users"} == {
        "status": "rotated", "dryRun": False, "rotatedAt": run_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "keyMaxAgeDays": 1, "overlapHours": 1, "scanned": 35, "managed": 34,
        "counts": {"rotated": 1, "finished": 1, "inProgress": 1, "overlap": 1, "notDue": 2, "skipped": 21,
                   "failed": 1, "strays": 1}}, report
    secret = {name: {"userName": name, "employeeId": eid, "secretName": f"ram-user/{name}"}
              for name, eid in [("a.finish", "E1"), ("c.due", "E3"), ("e.stray", "E5"), ("f.inflight", "E6")]}
    expected = {
        "a.finish": {**secret["a.finish"], "action": "finished", "deletedAccessKeyId": a_old, "steps": [
            {"action": "UpdateAccessKey", "UserName": "a.finish", "UserAccessKeyId": a_old, "Status": "Inactive"},
            {"action": "DeleteAccessKey", "UserName": "a.finish", "UserAccessKeyId": a_old}]},
        "c.due": {**secret["c.due"], "action": "rotated", "accessKeyId": c_new, "previousAccessKeyId": c_old,
                  "previousDisabledAfter": (run_at + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")},
        "e.stray": {**secret["e.stray"], "action": "cleaned", "steps": [
            {"action": "DeleteAccessKey", "UserName": "e.stray", "UserAccessKeyId": stray}]},
        "f.inflight": {**secret["f.inflight"], "action": "in-progress", "reason": "a key not yet in KMS was made "
                       "moments ago by another run: left to it", "accessKeyIds": [in_flight]},
        **{name: {"userName": name, "employeeId": f"E{100 + i}", "secretName": f"ram-user/{name}",
                  "action": "skipped", "reason": "no Active AccessKey is KMS's current version: the next event "
                  "for this user repairs it (onboarding)"} for i, name in enumerate(skipped)},
    }
    failed = rows.pop("n.refused")
    assert rows == expected, rows
    assert (failed["employeeId"], failed["action"], failed["error"]["code"]) == ("E14", "failed",
                                                                                 "Forbidden.NoPermission"), failed
    # what the cloud holds afterwards
    assert keys(cloud, "a.finish") == [(a_new, "Active")]
    assert sorted(keys(cloud, "b.overlap")) == sorted([(b_new, "Active"), (b_old, "Active")])
    assert sorted(keys(cloud, "c.due")) == sorted([(c_old, "Active"), (c_new, "Active")])
    assert kms_current(cloud, "ram-user/c.due") == c_new
    assert keys(cloud, "e.stray") == [(d_key, "Active")]                # the stray deleted, the key kept
    f_current = kms_current(cloud, "ram-user/f.inflight")
    assert sorted(k for k, _ in keys(cloud, "f.inflight")) == sorted([in_flight, f_current])
    assert {name: sorted(keys(cloud, name)) for name in untouched} == untouched
    assert {name: keys(cloud, name) for name in skipped} == {
        name: [(skipped_keys[name], "Inactive")] for name in skipped}
    alerts = [line for line in _logged(capsys) if line.get("alert") == "rotation-skipped"]
    assert [(a["skipped"], a["users"]) for a in alerts] == [(21, skipped[:20])], alerts


# -- another writer between the rotation's steps (issue 15): version ids sorting before and after every
# AccessKeyId ("LTAI..."), so that no ordering of ids passes for "the same version" or "a different one" ----
ELSEWHERE = ["0-written-elsewhere", "z-written-elsewhere"]
KEYS_CHANGED = ("the user's keys changed during the rotation: the new key is deleted, nothing was written")
VERSION_CHANGED = ("KMS's current version changed during the rotation (an onboarding wrote a new credential): "
                   "the new key is deleted, nothing was written")
WRITTEN_MEANWHILE = ("another credential was written while the rotation wrote its key: that one stays KMS's "
                     "current version, the new key is deleted")


def counts(**nonzero):
    return {"rotated": 0, "finished": 0, "inProgress": 0, "overlap": 0, "notDue": 0, "skipped": 0, "failed": 0,
            "strays": 0, **nonzero}


def _rotate_parked_at(cloud, rotate, action, when, meanwhile):
    """One rotation run, parked at its ``action`` (``when``) while ``meanwhile()`` runs; its report, or
    what it raised."""
    hold = cloud.hold(ROTATION_KEY_ID, action, when=when)
    outcome = {}

    def run():
        try:
            outcome["report"] = rotate()
        except Exception as exc:  # noqa: BLE001 - asserted by the caller
            outcome["raised"] = exc
    worker = threading.Thread(target=run)
    worker.start()
    assert cloud.wait_held(hold, 20), f"{action} never called"
    meanwhile()
    cloud.release(hold)
    worker.join(60)
    assert not worker.is_alive()
    return outcome


def _write_version(kms, version_id):
    """Another writer's new current version of the user's secret (it names no key of the user's)."""
    kms.put_secret_value(km.PutSecretValueRequest(secret_name=SECRET, version_id=version_id,
                                                  secret_data=json.dumps({"UserName": USER})))


def _a_key_due(cloud):
    """The user provisioned with one key, then the clock a day and a minute on: the key is due."""
    invoke(event())
    (old, _), = keys(cloud)
    later(days=1, minutes=1)
    return old


def _row(**fields):
    return {"userName": USER, "employeeId": "E10023", "secretName": SECRET, **fields}


@pytest.mark.parametrize("version", ELSEWHERE)
def test_a_version_written_after_the_new_key_is_made_stops_the_rotation(cloud, rotate, kms, version):
    """Held right after CreateAccessKey, another writer's version becomes KMS's current: the test step
    sees KMS's current version changed, deletes the new key and writes nothing; that version stays."""
    old = _a_key_due(cloud)
    outcome = _rotate_parked_at(cloud, rotate, "CreateAccessKey", "after", lambda: _write_version(kms, version))
    report = outcome["report"]
    assert report["users"] == [_row(action="skipped", reason=VERSION_CHANGED)], report["users"]
    assert report["counts"] == counts(skipped=1)
    assert keys(cloud) == [(old, "Active")] and kms_current(cloud) == version and kms_previous(cloud) == old


@pytest.mark.parametrize("status", ["Inactive", "deleted"])
def test_the_old_key_changed_after_the_new_key_is_made_stops_the_rotation(cloud, rotate, ram, status):
    """Held right after CreateAccessKey, the key being rotated from is set Inactive, or deleted: the
    test step sees the keys changed, deletes the new key and writes nothing."""
    old = _a_key_due(cloud)

    def change():
        if status == "deleted":
            ram.delete_access_key(rm.DeleteAccessKeyRequest(user_name=USER, user_access_key_id=old))
        else:
            ram.update_access_key(rm.UpdateAccessKeyRequest(user_name=USER, user_access_key_id=old, status=status))
    outcome = _rotate_parked_at(cloud, rotate, "CreateAccessKey", "after", change)
    report = outcome.get("report")
    assert report and report["users"] == [_row(action="skipped", reason=KEYS_CHANGED)], outcome
    assert report["counts"] == counts(skipped=1)
    assert keys(cloud) == ([] if status == "deleted" else [(old, "Inactive")]) and kms_current(cloud) == old


@pytest.mark.parametrize("version", ELSEWHERE)
def test_a_version_written_just_before_the_rotation_s_write_stays_current(cloud, rotate, kms, version):
    """Held right before PutSecretValue (after the test step), another writer's version becomes current;
    the rotation's write lands over it: ACSPrevious is not the key rotated from, so that version is made
    current again and the new key deleted."""
    old = _a_key_due(cloud)
    outcome = _rotate_parked_at(cloud, rotate, "PutSecretValue", "before", lambda: _write_version(kms, version))
    report = outcome["report"]
    assert report["users"] == [_row(action="skipped", reason=WRITTEN_MEANWHILE)], report["users"]
    assert report["counts"] == counts(skipped=1)
    assert keys(cloud) == [(old, "Active")] and kms_current(cloud) == version


@pytest.mark.parametrize("version", ELSEWHERE)
def test_a_version_written_just_after_the_rotation_s_write_is_left_current(cloud, rotate, kms, version):
    """Held right after PutSecretValue, another writer's version becomes current on top of the rotation's:
    the later write is not undone (it stays current, the rotation's key its ACSPrevious and Active, the
    old key Active too); the rotation reports its own write."""
    old = _a_key_due(cloud)
    outcome = _rotate_parked_at(cloud, rotate, "PutSecretValue", "after", lambda: _write_version(kms, version))
    report = outcome["report"]
    (row,) = report["users"]
    new = row.get("accessKeyId")
    assert (row["action"], row["previousAccessKeyId"]) == ("rotated", old), row
    assert report["counts"] == counts(rotated=1)
    assert sorted(keys(cloud)) == sorted([(old, "Active"), (new, "Active")])
    assert kms_current(cloud) == version and kms_previous(cloud) == new


@pytest.mark.parametrize("version", ELSEWHERE)
def test_a_refused_write_after_another_version_landed_deletes_the_new_key(cloud, rotate, kms, version):
    """Held right before PutSecretValue, another writer's version becomes current, then the rotation's
    write is refused: KMS's current version is not the new key, so the new key goes (no key outside KMS)."""
    old = _a_key_due(cloud)

    def meanwhile():
        _write_version(kms, version)
        cloud.faults.fail("PutSecretValue", "Forbidden.NoPermission", 403, times=1)
    report = _rotate_parked_at(cloud, rotate, "PutSecretValue", "before", meanwhile)["report"]
    (row,) = report["users"]
    assert (row["action"], row["error"]["code"]) == ("failed", "Forbidden.NoPermission"), row
    assert report["counts"] == counts(failed=1)
    assert keys(cloud) == [(old, "Active")] and kms_current(cloud) == version


def test_a_write_that_landed_but_whose_answer_was_lost_keeps_the_new_key(cloud, rotate, capsys):
    """PutSecretValue runs but its answer is lost, and every retry fails (503): the write landed, so the
    new key is KMS's current version and must stay; the user is failed (transient), counted once, and
    the run raises TransientError for FC's retry; the next run sees the rotation written."""
    old = _a_key_due(cloud)
    cloud.faults.drop("PutSecretValue", times=1, after=True)
    cloud.faults.fail("PutSecretValue", "ServiceUnavailable", 503, times=None)
    capsys.readouterr()
    with pytest.raises(Exception) as raised:
        rotate()
    cloud.faults.clear()
    assert type(raised.value).__name__ == "TransientError", raised.value
    new = kms_current(cloud)
    assert new != old and kms_previous(cloud) == old
    assert sorted(keys(cloud)) == sorted([(old, "Active"), (new, "Active")])
    lines = _logged(capsys)
    (summary,) = [line for line in lines if line.get("message") == "rotation report"]
    assert summary["counts"] == counts(failed=1), summary
    (row,) = [line for line in lines if line.get("message") == "rotation user"]
    assert (row["userName"], row["action"], row["error"]["code"]) == (USER, "failed", "Transient"), row
    assert rotate()["counts"] == counts(overlap=1)
