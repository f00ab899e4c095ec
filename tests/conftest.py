"""Fixtures shared by the function suites: one localcloud per session, fresh state per test,
the function environment pointing at it, and official SDK clients for inspection."""
import itertools
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from provisioner.domain.access import DEFAULT_GROUPS

from localcloud import LocalCloud

ROLE_POLICY = Path(__file__).resolve().parent.parent / "policies" / "function-role-policy.json"
# GRANT_MODE=user needs AttachPolicyToUser instead of AddUserToGroup: its own document (README).
ROLE_POLICY_USER_MODE = ROLE_POLICY.with_name("function-role-policy.user-mode.json")
ROLE_POLICIES = {"group": ROLE_POLICY, "user": ROLE_POLICY_USER_MODE}


@pytest.fixture(scope="session")
def localcloud_server():
    """The functions' key is held to the execution role's policy, enforced as RAM would: every
    suite proves the policy grants enough (a missing grant fails with NoPermission 403)."""
    with LocalCloud(account_alias="corp") as cloud:
        yield cloud


def role_policy(secret_prefix="ram-user/", mode="group"):
    """The execution role's policy of GRANT_MODE ``mode``, with its secret ARNs moved to
    ``secret_prefix`` as the README tells operators who change SECRET_PREFIX to do."""
    text = ROLE_POLICIES[mode].read_text(encoding="utf-8")
    return json.loads(text.replace("secret/ram-user/", f"secret/{secret_prefix}"))


def make_groups(cloud, groups=None):
    """The two ARMS groups with their policies, as ``hrctl setup`` leaves an account."""
    from hrctl.target import set_up_groups
    set_up_groups(cloud, groups or DEFAULT_GROUPS)


def use_user_mode(cloud, monkeypatch):
    """GRANT_MODE=user for the rest of the test: the environment and the execution role's policy
    of that mode (AttachPolicyToUser, no AddUserToGroup)."""
    from provisioner.platform import runtime
    monkeypatch.setenv("GRANT_MODE", "user")
    cloud.detach_caller_policies(cloud.access_key_id)
    cloud.attach_caller_policy(role_policy(mode="user"))
    runtime.reset()


@pytest.fixture
def user_mode(cloud, monkeypatch):
    use_user_mode(cloud, monkeypatch)
    return cloud


@pytest.fixture
def cloud(localcloud_server, monkeypatch):
    """A clean localcloud, and the functions' environment aimed at it (fast retries)."""
    from provisioner.platform import runtime
    localcloud_server.reset()
    make_groups(localcloud_server)
    localcloud_server.detach_caller_policies()
    # GRANT_MODE=user in the shell runs a suite in user mode, under that mode's role policy
    localcloud_server.attach_caller_policy(role_policy(mode=os.environ.get("GRANT_MODE") or "group"))
    for key, value in localcloud_server.function_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RETRY_BASE_SECONDS", "0")
    monkeypatch.setenv("WEBHOOK_SIGNING_KEY", "test-webhook-key")
    monkeypatch.setenv("ACCOUNT_ID", localcloud_server.account_id)
    runtime.reset()
    # One clock: localcloud reads the functions' clock seam, so a test that stands it (set_clock)
    # moves the functions and the emulator (KMS delete windows, dates) together.
    from provisioner.platform import clock
    clock.install(AnchoredClock())
    localcloud_server.use_clock(FunctionsClock())
    yield localcloud_server
    localcloud_server.use_clock(None)
    runtime.reset()


class FunctionsClock:
    """localcloud's view of time: whatever provisioner.platform.clock says now."""

    def now(self):
        from provisioner.platform import clock
        return clock.now()


# Tests inspect and arrange state with their own AccessKey, so that the call log tells the
# functions' calls (the key in function_env()) from the tests' (tests/test_role_policy.py).
INSPECTOR_KEY_ID = "LTAItestinspector000000"
INSPECTOR_KEY_SECRET = "test-inspector-secret-not-a-credential"


def inspector_config(cloud):
    """tea-openapi ``Config`` for test-side SDK clients: same endpoint, the inspector's key."""
    cloud.authenticator.credentials[INSPECTOR_KEY_ID] = INSPECTOR_KEY_SECRET
    return cloud.client_config(access_key_id=INSPECTOR_KEY_ID, access_key_secret=INSPECTOR_KEY_SECRET,
                               security_token=None)


@pytest.fixture
def ram(cloud):
    from alibabacloud_ram20150501.client import Client
    return Client(inspector_config(cloud))


@pytest.fixture
def kms(cloud):
    from alibabacloud_kms20160120.client import Client
    return Client(inspector_config(cloud))


# -- the cloud actions the function code really calls, over the whole session ------------------
FUNCTION_ACTIONS = {}   # "ram:CreateUser" -> node id of the first test whose functions called it
# The rotation function runs with its own role (policies/rotation-role-policy.json) and its own key in
# the suites (tests/test_rotation.py): what it calls is recorded apart, against its own policy.
ROTATION_KEY_ID = "LTAItestrotationfn000000"
ROTATION_POLICY = Path(__file__).resolve().parent.parent / "policies" / "rotation-role-policy.json"
ROTATION_ACTIONS = {}


def function_actions(server):
    """Actions in the call log made with the functions' own key (not the tests', not in-process)."""
    return {f"{c.service}:{c.action}" for c in server.calls
            if c.service and c.action and c.access_key_id == server.access_key_id}


@pytest.fixture(autouse=True)
def _record_function_actions(request):
    yield
    if "localcloud_server" in request.fixturenames:
        server = request.getfixturevalue("localcloud_server")
        for action in function_actions(server):
            FUNCTION_ACTIONS.setdefault(action, request.node.nodeid)
        for call in server.calls:
            if call.access_key_id == ROTATION_KEY_ID and call.service and call.action:
                ROTATION_ACTIONS.setdefault(f"{call.service}:{call.action}", request.node.nodeid)


def pytest_configure(config):
    config.addinivalue_line("markers", "after_suite: run after every other test (sees the whole session)")


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: item.get_closest_marker("after_suite") is not None)   # stable


def as_bytes(obj):
    """What FC passes a Python handler: the event as bytes."""
    return json.dumps(obj).encode("utf-8")



class ManualClock:
    """A clock that stands still until moved: the one seam for time (provisioner.platform.clock)."""

    def __init__(self, when):
        self.when = when

    def now(self):
        return self.when

    def set(self, when):
        self.when = when
        return when


class AnchoredClock:
    """Runs at real speed from a fixed instant: the suites' events (2026-11-28, rehires 2026-12-02)
    stay within MAX_EVENT_AGE_DAYS whatever day the suite runs."""
    ANCHOR = datetime(2026, 12, 3, tzinfo=timezone.utc)

    def __init__(self, anchor=ANCHOR):
        import time
        self.anchor, self.started, self._monotonic = anchor, time.monotonic(), time.monotonic

    def now(self):
        return self.anchor + timedelta(seconds=self._monotonic() - self.started)


_HR_SEQUENCE = itertools.count()
HR_BASE = datetime(2026, 11, 28, 9, tzinfo=timezone.utc)


_HR_TIMES = {}
_HR_LAST = None


@pytest.fixture(autouse=True)
def _fresh_hr_times():
    global _HR_LAST
    _HR_TIMES.clear()
    _HR_LAST = None
    yield


def hr_time(key=None):
    """An ``occurredAt`` for a test event: each new event 1 ms later than the last (events made later
    in a test happen later in HR order; the same ``key`` within a test is the same event, delivered
    again), near 2026-11-28T09:00Z, or an hour before the functions' clock when a test stands it far
    from there (so the event is not refused as stale)."""
    if key is not None:
        if key not in _HR_TIMES:
            _HR_TIMES[key] = hr_time()
        return _HR_TIMES[key]
    global _HR_LAST
    from provisioner.platform import clock
    now, base = clock.now(), HR_BASE
    if isinstance(clock._source, ManualClock):
        base = now - timedelta(minutes=30)     # a test that stood the clock: events happen near it
    when = max(base, _HR_LAST + timedelta(milliseconds=1)) if _HR_LAST else base
    _HR_LAST = when
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def set_clock(when):
    """Stand the functions' clock at ``when`` (an aware datetime) for the rest of the test."""
    from provisioner.platform import clock
    source = ManualClock(when)
    clock.install(source)
    return source


@pytest.fixture(autouse=True)
def _system_clock_after_each_test():
    from provisioner.platform import clock
    yield
    clock.install(None)


@pytest.fixture(autouse=True)
def _no_emulator_bugs():
    """An exception inside localcloud is answered InternalError 500 (as the real gateway would);
    any such answer during a test is an emulator bug and fails the test."""
    from localcloud.core import INTERNAL_ERRORS
    before = len(INTERNAL_ERRORS)
    yield
    assert INTERNAL_ERRORS[before:] == [], "localcloud raised internally"


@pytest.fixture(scope="session")
def s_engine(tmp_path_factory):
    """The README's deploy commands run by the real Serverless Devs engine on a copy of s.yaml
    (tests/s_engine). Skipped only where the CLI is not installed and CI is not set."""
    from tests import s_engine as engine
    if not engine.installed():
        message = f"Serverless Devs CLI not installed ({engine.S_BIN.relative_to(engine.ROOT)}): run `make tools`"
        if engine.in_ci():
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    return engine.deploy_runs(tmp_path_factory.mktemp("s-engine"))


def outside_ledger(calls):
    """Calls that are not the per-employee event ledger's (docs/concurrency.md): what a test about
    RAM users and their credentials asserts on."""
    return [c for c in calls if not str(c.params.get("SecretName", "")).startswith("ram-user/ledger/")]
