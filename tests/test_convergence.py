"""Invariant 6, by search: random fault schedules over whole API-call sequences, then redelivery.

A *schedule* is one flow (onboarding of every kind, a leaver event, a sweep that disables or deletes)
plus up to three faulted deliveries, each carrying up to three faults placed at logical API call k of
that delivery (k counts ``Cloud.call``, i.e. what the workflow asks for; in-invocation retries happen
inside one call):

- an error code: transient once or in a burst (retried inside the invocation), a persistent transient
  outage (the invocation raises TransientError), a permanent code (the event answers ``failed``);
- a lost answer (``faults.drop(action, after=True)``: the action ran, the caller never heard) or a
  connection dropped before the action ran;
- a throttling burst, latency;
- a crash: the instance dies (a BaseException nothing may catch) right before or right after call k.

Faults are armed in localcloud at the moment call k goes out, so they hit the wire exactly there.
Then the event is redelivered without faults until it succeeds (at most three more times) and
``tests/invariants.py`` checks the end state: no credential leaked (1), every AccessKey in KMS (2),
the right ARMS policy only (3), bystanders untouched (4), the same state and result as one clean
run, and one more delivery changes nothing (5, 6). After every delivery that *returned* (the event
is complete as far as FC is concerned: no retry will follow) invariant 4 must already hold, and 2:
after a success no AccessKey is outside KMS; after a permanent failure (answered ``failed``) no *new*
one is (a key an earlier crashed delivery left may stay when the failure stops the run before it
could clean up; the next delivery removes it).

Hypothesis is derandomized (the same schedules on every run). ``CONVERGENCE_SCHEDULES`` (default
1000) sets the total; the count run is printed in the terminal summary.
"""
import itertools
import os
from datetime import datetime, timedelta, timezone
from unittest import mock

import offboarding
import onboarding
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from provisioner.cloud.clients import Cloud
from provisioner.cloud.errors import TransientError
from provisioner.domain import ownership
from provisioner.domain.access import ARMS_POLICIES
from provisioner.platform import runtime

from tests import invariants as inv
from tests import leakcheck
from tests.conftest import as_bytes, make_groups
from tests.onboarding_support import REHIRE_AT
from tests.onboarding_support import event as onboarding_event

TOTAL = int(os.environ.get("CONVERGENCE_SCHEDULES", "1000"))
SHARES = {"onboarding": 0.6, "leaver": 0.2, "sweep": 0.2}
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
USER, EMPLOYEE = "alice.wang", "E10023"
RETRY_ATTEMPTS = 5          # the default RETRY_MAX_ATTEMPTS

TRANSIENT = [("ServiceUnavailable", 503), ("InternalError", 500), ("InternalFailure", 500),
             ("Throttling.User", 400), ("Throttling.Api", 400), ("UnknownError", 500)]
PERMANENT = [("NoPermission", 403), ("Forbidden.RAM", 403), ("InvalidParameter", 400)]


class Crash(BaseException):
    """The function instance died (nothing in the function may catch a BaseException)."""


# -- flows -----------------------------------------------------------------------------------------
def _onboard(**kw):
    return onboarding.handler(as_bytes(onboarding_event(**kw)), None)


def _leaver(last_day=None, event_id="leaver-1"):
    ev = {"eventId": event_id, "eventType": "employee.offboarded", "occurredAt": "2026-12-01T09:00:00Z",
          "employee": {"employeeId": EMPLOYEE, "logonName": USER}}
    if last_day:
        ev["lastWorkingDay"] = last_day
    return offboarding.handler(as_bytes(ev), None)


_TICKS = itertools.count()


def _sweep():
    """A scheduled run: each delivery its own tick. (A run of a tick whose deletions another run of
    it claimed only disables; a redelivery after a crash is then finished by the next tick.)"""
    tick = f"2026-12-01T02:00:00.{next(_TICKS):06d}Z"
    return offboarding.handler(as_bytes({"triggerTime": tick, "triggerName": "sweep", "payload": ""}), None)


class Flow:
    """One flow: how to arrange the world, the event under test, what a success looks like, and what
    state it must leave."""

    def __init__(self, name, family, mode, level, secret_type, console_flags):
        self.name, self.family, self.mode, self.level = name, family, mode, level
        self.secret_type, self.console_flags = secret_type, console_flags
        self.other_mode = "console" if mode == "programmatic" else "programmatic"
        self.other_level = "full" if level == "read-only" else "read-only"
        self.rehire_at = REHIRE_AT

    def __repr__(self):
        return f"Flow{self.key}"

    @property
    def key(self):
        return (self.name, self.mode, self.level, self.secret_type, str(self.console_flags))

    @property
    def secret_name(self):
        if self.secret_type == "RAMCredentials" and self.mode == "programmatic":
            return inv.RAM_SECRET_PREFIX + USER
        return inv.GENERIC_PREFIX + USER

    def _event_kwargs(self, **over):
        kw = {"mode": self.mode, "level": self.level, "event_id": f"{self.name}-1", **over}
        if self.name.startswith("onboard-rehire") and "event_id" not in over:
            kw["occurredAt"] = self.rehire_at                 # a rehire happens after the leave
        if kw["mode"] == "console" and self.console_flags is not None:
            kw["access_console"] = self.console_flags
        return kw

    def setup(self, clock):
        """Arrange the world (no faults): what existed before the event under test."""
        n = self.name
        if n == "onboard-again":
            _ok(_onboard_kw(self._event_kwargs()))
        elif n == "onboard-mover":
            _ok(_onboard_kw(self._event_kwargs(level=self.other_level, event_id="setup-1")))
        elif n == "onboard-switch":
            _ok(_onboard_kw(self._event_kwargs(mode=self.other_mode, event_id="setup-1")))
        elif n in ("onboard-rehire", "onboard-rehire-after-delete", "leaver-disable", "leaver-scheduled",
                   "sweep-delete"):
            _ok(_onboard_kw(self._event_kwargs(event_id="setup-1")))
            if n in ("onboard-rehire", "onboard-rehire-after-delete", "sweep-delete"):
                assert _leaver()["status"] == "disabled"
            if n in ("onboard-rehire-after-delete", "sweep-delete"):
                clock[0] = T0 + timedelta(days=31)             # the grace period is over
            if n == "onboard-rehire-after-delete":
                report = _sweep()
                assert report["counts"]["deleted"] == 1, report
            # the rehire occurs now: after the leave, and within MAX_EVENT_AGE_DAYS of the clock
            self.rehire_at = (clock[0] - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif n == "sweep-end-date":
            clock[0] = T0 - timedelta(days=2)                # onboarded while the contract ran
            _ok(_onboard_kw(self._event_kwargs(event_id="setup-1", endDate="2026-11-30")))
            clock[0] = T0

    def deliver(self):
        if self.family == "onboarding":
            return _onboard_kw(self._event_kwargs())
        if self.name == "leaver-disable":
            return _leaver()
        if self.name == "leaver-scheduled":
            return _leaver(last_day="2026-12-20")
        return _sweep()

    def succeeded(self, result):
        if self.family == "onboarding":
            return result.get("status") in ("provisioned", "already-provisioned")
        if self.family == "leaver":
            return result.get("status") == ("scheduled" if self.name == "leaver-scheduled" else "disabled")
        return result.get("status") == "swept" and result["counts"]["failed"] == 0

    def check_final(self, cloud):
        """The state this flow must leave (invariants 2 and 3)."""
        if self.family == "onboarding":
            inv.onboarded(cloud, USER, EMPLOYEE, self.mode, self.level, secret_name=self.secret_name,
                          secret_type=self.secret_type, console=self.console_flags)
        elif self.name in ("leaver-disable", "sweep-end-date"):
            inv.disabled(cloud, USER, EMPLOYEE)
        elif self.name == "leaver-scheduled":
            marker = ownership.parse(cloud.ram.user_state(USER)["user"]["Comments"])
            assert marker.state == "active" and marker.leave_date.isoformat() == "2026-12-20"
            inv.credentials_only_in_kms(cloud, USER)
        elif self.name == "sweep-delete":
            inv.deleted(cloud, USER, self.secret_name)

    def comparable(self, result):
        """The result modulo what legitimately differs after faults (see the module docstring)."""
        if self.family == "onboarding":
            out = {k: v for k, v in result.items() if k not in ("eventId", "rehired")}
            out["status"] = "ok" if out["status"] in ("provisioned", "already-provisioned") else out["status"]
            return out
        if self.family == "leaver":
            return {k: v for k, v in result.items() if k != "actions"}
        return {"status": result["status"], "failed": result["counts"]["failed"]}


def _onboard_kw(kw):
    flags = kw.pop("access_console", None)
    ev = onboarding_event(**kw)
    if flags is not None:
        ev["access"]["console"] = flags
    return onboarding.handler(as_bytes(ev), None)


def _ok(result):
    assert result["status"] in ("provisioned", "already-provisioned"), result
    return result


ONBOARDING = ["onboard-new", "onboard-again", "onboard-mover", "onboard-switch", "onboard-rehire",
              "onboard-rehire-after-delete"]
LEAVER = ["leaver-disable", "leaver-scheduled"]
SWEEP = ["sweep-delete", "sweep-end-date"]


@st.composite
def flows(draw, names, family):
    name = draw(st.sampled_from(names))
    mode = draw(st.sampled_from(["programmatic", "console"]))
    level = draw(st.sampled_from(["read-only", "full"]))
    # RAMCredentials occasionally (KMS RAM secrets hold AccessKeys only; mode switches keep Generic)
    ram_secret = mode == "programmatic" and name != "onboard-switch" and draw(st.integers(0, 4)) == 0
    flags = None
    if mode == "console" and family == "onboarding":
        flags = draw(st.sampled_from([None, {"passwordResetRequired": False, "mfaBindRequired": True},
                                      {"passwordResetRequired": True, "mfaBindRequired": False}]))
    return Flow(name, family, mode, level, "RAMCredentials" if ram_secret else "Generic", flags)


# -- faults ---------------------------------------------------------------------------------------------
KINDS = ["transient-once", "transient-burst", "transient-persistent", "permanent", "lost-answer",
         "connection-dropped", "throttle-burst", "latency", "crash-before", "crash-after"]


@st.composite
def faults(draw, calls):
    kind = draw(st.sampled_from(KINDS))
    k = draw(st.integers(1, calls + 2))
    code, status = draw(st.sampled_from(PERMANENT if kind == "permanent" else TRANSIENT))
    times = {"transient-once": 1, "permanent": 1,
             "transient-burst": draw(st.integers(2, RETRY_ATTEMPTS - 1)),
             "transient-persistent": draw(st.sampled_from([RETRY_ATTEMPTS, None])),
             "lost-answer": draw(st.sampled_from([1, 2, None])),
             "connection-dropped": draw(st.sampled_from([1, 2, None])),
             "throttle-burst": draw(st.integers(1, RETRY_ATTEMPTS + 2)),
             "latency": draw(st.integers(1, 3))}.get(kind)
    return (kind, k, code, status, times)


def _arm(cloud, fault, action):
    kind, _, code, status, times = fault
    f = cloud.faults
    if kind in ("transient-once", "transient-burst", "transient-persistent", "permanent"):
        f.fail(action, code, status, times=times)
    elif kind == "lost-answer":
        f.drop(action, after=True, times=times)
    elif kind == "connection-dropped":
        f.drop(action, after=False, times=times)
    elif kind == "throttle-burst":
        f.throttle(action, times=times)
    elif kind == "latency":
        f.latency(0.002, action=action, times=times)


ARMED = {}     # fault kind -> how many times it reached its call (printed in the summary)


def deliver(cloud, flow, schedule):
    """One delivery with ``schedule``'s faults armed at their call; returns (outcome, result, texts)."""
    at = {}
    for fault in schedule:
        at.setdefault(fault[1], []).append(fault)
    real_call = Cloud.call
    count = [0]

    def call(self, service, action, params):
        count[0] += 1
        here = at.get(count[0], ())
        for fault in here:
            ARMED[fault[0]] = ARMED.get(fault[0], 0) + 1
        if any(f[0] == "crash-before" for f in here):
            raise Crash()
        for fault in here:
            _arm(cloud, fault, action)
        try:
            return real_call(self, service, action, params)
        finally:
            if any(f[0] == "crash-after" for f in here):
                raise Crash()  # noqa: B012 - the instance dies whatever the call answered

    texts = []
    try:
        with mock.patch.object(Cloud, "call", call):
            result = flow.deliver()
        outcome = "returned"
    except TransientError as err:
        outcome, result = "transient", None
        texts.append(("TransientError message", str(err)))
    except Crash:
        outcome, result = "crash", None
    finally:
        cloud.faults.clear()
    return outcome, result, texts


# -- the world ---------------------------------------------------------------------------------------------
BYSTANDERS = ("admin", "ops.bot", "carol.li")


def seed_bystanders(cloud):
    """Users this system must never touch: a foreign administrator, a foreign ARMS user, and a user we
    manage for another employee (active, not due), with its secret."""
    ram = cloud.ram
    ram.create_user("admin", display_name="Break-glass admin", comments="created by hand")
    ram.attach_policy_to_user("System", "AdministratorAccess", "admin")
    ram.create_access_key("admin")
    ram.create_login_profile("admin", "Adm1n!Passw0rd-bystander", True, True)
    ram.create_user("ops.bot", display_name="ops bot", comments="hrrp:v2;emp=E10023;st=active")
    ram.attach_policy_to_user("System", "AliyunARMSFullAccess", "ops.bot")
    ram.create_access_key("ops.bot")
    ram.create_user("carol.li", display_name="Carol Li", comments=ownership.Marker("E20001").render())
    ram.add_user_to_group("carol.li", "hr-arms-read-only")
    key = ram.create_access_key("carol.li")
    cloud.kms.create_secret("ram-user/carol.li", key.access_key_id, inv.dump(
        {"UserName": "carol.li", "LogonPrincipal": "carol.li@corp.onaliyun.com",
         "AccessKeyId": key.access_key_id, "AccessKeySecret": key.secret}),
        tags=[(t["TagKey"], t["TagValue"]) for t in ownership.secret_tags("E20001", "carol.li")])
    return inv.Bystanders(cloud, BYSTANDERS, ["ram-user/carol.li"])


class World:
    """A clean localcloud for one schedule: environment, clock, bystanders, the flow's setup."""

    def __init__(self, cloud, monkeypatch, clock):
        self.cloud, self.monkeypatch, self.clock = cloud, monkeypatch, clock

    def start(self, flow):
        self.cloud.reset()
        make_groups(self.cloud)
        self.monkeypatch.setenv("SECRET_TYPE", flow.secret_type)
        runtime.reset()
        self.clock[0] = T0
        bystanders = seed_bystanders(self.cloud)
        flow.setup(self.clock)
        leakcheck._seen.clear()
        return bystanders


REFERENCES = {}


def reference(world, flow):
    """One clean run of the flow: its result, the state it leaves, and how many calls it makes."""
    if flow.key not in REFERENCES:
        world.start(flow)
        mark = world.cloud.calls.mark()
        outcome, result, _ = deliver(world.cloud, flow, [])
        assert outcome == "returned" and flow.succeeded(result), (flow.key, result)
        flow.check_final(world.cloud)
        REFERENCES[flow.key] = (flow.comparable(result), inv.normalized(world.cloud),
                                len(world.cloud.calls.since(mark)))
    return REFERENCES[flow.key]


def run_schedule(world, flow, deliveries, counts):
    cloud = world.cloud
    expected_result, expected_state, _ = reference(world, flow)
    bystanders = world.start(flow)
    texts = []
    outcomes = []
    result = None
    for schedule in list(deliveries) + [[]] * 3:
        if outcomes and outcomes[-1] == "returned" and flow.succeeded(result) and not schedule:
            break
        outside_before = inv.keys_outside_kms(cloud, USER)
        outcome, result, more = deliver(cloud, flow, schedule)
        outcomes.append(outcome)
        texts += more
        counts.add("convergence deliveries", outcome if outcome != "returned" or flow.succeeded(result)
                   else "returned-failed")
        if outcome == "returned":
            texts.append(("handler result", inv.dump(result)))
            bystanders.check()
            # complete as far as FC is concerned (no retry follows): a success leaves every key in KMS; a
            # permanent failure may leave what an earlier crashed delivery left, but never a new one
            if flow.succeeded(result):
                inv.credentials_only_in_kms(cloud, USER)
            else:
                new = inv.keys_outside_kms(cloud, USER) - outside_before
                assert not new, f"invariant 2: a delivery answered {result} and left AccessKeys outside KMS: {new}"
    assert outcomes[-1] == "returned" and flow.succeeded(result), (
        f"no convergence after {len(outcomes)} deliveries: {outcomes}, last result {result}")
    # invariants 1-4
    inv.no_leak(cloud, texts + [(kind, text) for kind, text in leakcheck._seen])
    flow.check_final(cloud)
    bystanders.check()
    # invariants 5 and 6: the same as one clean run, and once more changes nothing
    inv.same_as_clean_run(inv.normalized(cloud), expected_state)
    assert flow.comparable(result) == expected_result, (flow.comparable(result), expected_result)
    mark = cloud.calls.mark()
    outcome, again, _ = deliver(cloud, flow, [])
    assert outcome == "returned" and flow.succeeded(again), again
    extra = [c.action for c in cloud.calls.mutating(mark, ok_only=False)]
    assert extra == [], f"one more delivery made mutating calls: {extra}"
    if flow.family == "onboarding":
        assert again["status"] == "already-provisioned", again
    inv.same_as_clean_run(inv.normalized(cloud), expected_state)
    inv.no_leak(cloud, [(kind, text) for kind, text in leakcheck._seen])
    leakcheck._seen.clear()
    counts.add("convergence schedules", flow.family)
    counts.lines["convergence faults reaching their call"] = dict(ARMED)


@pytest.fixture
def world(cloud, monkeypatch, mocker):
    from provisioner.platform import clock as function_clock
    clock = [T0]

    class ListClock:              # the world moves time by assigning clock[0]
        def now(self):
            return clock[0]

    function_clock.install(ListClock())
    return World(cloud, monkeypatch, clock)


def _settings(family):
    return settings(max_examples=max(1, round(TOTAL * SHARES[family])), derandomize=True, database=None,
                    deadline=None, phases=[Phase.explicit, Phase.generate, Phase.shrink],
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


def _deliveries(data, world, flow):
    calls = reference(world, flow)[2]
    return data.draw(st.lists(st.lists(faults(calls), min_size=1, max_size=3), min_size=1, max_size=3),
                     label="faulted deliveries")


@_settings("onboarding")
@given(data=st.data())
def test_onboarding_converges_under_any_fault_schedule(world, request, data):
    flow = data.draw(flows(ONBOARDING, "onboarding"), label="flow")
    run_schedule(world, flow, _deliveries(data, world, flow), inv.counter(request.config))


@_settings("leaver")
@given(data=st.data())
def test_leaver_converges_under_any_fault_schedule(world, request, data):
    flow = data.draw(flows(LEAVER, "leaver"), label="flow")
    run_schedule(world, flow, _deliveries(data, world, flow), inv.counter(request.config))


@_settings("sweep")
@given(data=st.data())
def test_sweep_converges_under_any_fault_schedule(world, request, data):
    flow = data.draw(flows(SWEEP, "sweep"), label="flow")
    run_schedule(world, flow, _deliveries(data, world, flow), inv.counter(request.config))


def test_every_flow_has_a_clean_reference(world):
    """Each flow succeeds on a clean run and leaves the state it must (the references the schedules
    are compared with), for both secret types where they apply."""
    for family, names in (("onboarding", ONBOARDING), ("leaver", LEAVER), ("sweep", SWEEP)):
        for name in names:
            for mode in ("programmatic", "console"):
                for secret_type in ("Generic", "RAMCredentials"):
                    if secret_type == "RAMCredentials" and (mode == "console" or name == "onboard-switch"):
                        continue
                    flow = Flow(name, family, mode, "read-only", secret_type, None)
                    reference(world, flow)


def test_policies_are_the_arms_pair():
    assert set(ARMS_POLICIES.values()) == {"AliyunARMSReadOnlyAccess", "AliyunARMSFullAccess"}


def test_failed_secret_write_whose_cleanup_also_fails_leaves_no_key_outside_kms(world, request):
    """Two faults in one delivery: the secret write is refused for good (the event will answer
    ``failed``: FC does not retry that) and deleting the fresh AccessKey fails too. The event is
    then complete with a key outside KMS unless the function hands it back to FC's retry."""
    flow = Flow("onboard-new", "onboarding", "programmatic", "read-only", "Generic", None)
    world.start(flow)
    mark = world.cloud.calls.mark()
    deliver(world.cloud, flow, [])
    actions = [c.action for c in world.cloud.calls.since(mark)]
    k_write = actions.index("CreateSecret") + 1
    schedule = [("permanent", k_write, "NoPermission", 403, 1),
                ("transient-persistent", k_write + 2, "ServiceUnavailable", 503, None)]
    run_schedule(world, flow, [schedule], inv.counter(request.config))


@pytest.mark.parametrize("action", ["ListUsers", "ListSecrets"])
def test_sweep_whose_listing_is_refused_answers_failed_and_the_next_tick_finishes(world, request, action):
    """A permanent error outside any one user's work (the role may not list users or secrets) escaped
    the timer handler as a raw CloudError; the error policy answers ``failed`` and logs it once."""
    flow = Flow("sweep-delete", "sweep", "programmatic", "read-only", "Generic", None)
    world.start(flow)
    world.cloud.faults.fail(action, "NoPermission", 403, times=1)
    report = _sweep()
    world.cloud.faults.clear()
    assert report["status"] == "failed" and report["error"]["code"] == "NoPermission", report
    assert report["error"]["action"] == action
    run_schedule(world, flow, [], inv.counter(request.config))
