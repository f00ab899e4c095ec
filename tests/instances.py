"""Simulated FC instances, each its own OS process with its own AccessKey, for exact interleavings.

    with Instances(cloud, n=2) as fc:                              # cloud: the test's localcloud
        h = cloud.hold(fc[0].key, "CreateAccessKey", when="after") # park instance 0 there ...
        a = fc[0].start("onboarding", joiner)                      # ... it runs up to that point
        assert a.until_held(h)
        assert fc[1].run("offboarding", leaver)["status"] == "disabled"   # instance 1, to completion
        cloud.release(h)
        a.result()                                                 # instance 0 goes on and answers

- Every instance is a process started with ``spawn`` running ``tests/fc_instance.py``; it calls the
  deployed handlers with FC-shaped bytes (the event as JSON bytes) and an FC-like context, through
  the official SDKs over HTTP to the test's localcloud, with its own AccessKey held to
  ``policies/function-role-policy.json`` (as every FC instance runs under the execution role) and
  the environment ``cloud`` fixture gives the in-process functions (``RETRY_BASE_SECONDS=0``,
  ``WEBHOOK_SIGNING_KEY``, ``ACCOUNT_ID``), plus ``env`` given here.
- Processes are pooled for the session: ``Instances`` configures (environment, policy, a cold
  start) the first ``n`` of them and spawns only what is missing, so a search over hundreds of
  schedules pays for process start-up once.
- Time: ``now`` (an aware datetime, per ``Instances`` or per call) is the instant the functions'
  clock stands at during the invocation; localcloud keeps its own clock.
- Everything an instance returns, raises or writes is handed to ``tests/leakcheck.py``: the guard
  searches child output for credentials like the test's own.
- Every invocation is recorded (``fc.history``) so ``fc.deliver_again()`` delivers each event once
  more, sequentially, as FC's redelivery would.
"""
from __future__ import annotations

import atexit
import itertools
import json
import multiprocessing
import secrets
import time
from datetime import datetime
from typing import Any

from tests import fc_instance, leakcheck
from tests.concurrency_invariants import MAX_EVENT_AGE_DAYS
from tests.conftest import role_policy

HOLD_WAIT = 20.0               # seconds to wait for a held call / an answer before calling it a hang
ANSWER_TIMEOUT = 60.0

_context = multiprocessing.get_context("spawn")
_POOL: list[_Process] = []
_ids = itertools.count(1)


class InstanceError(AssertionError):
    """The driver or the process failed (not the function): a harness problem, reported as such."""


class Raised(Exception):
    """The handler raised; ``type_name`` and ``message`` are what it raised (e.g. TransientError)."""

    def __init__(self, type_name, message):
        super().__init__(f"{type_name}: {message}")
        self.type_name, self.message = type_name, message


class _Process:
    """One pooled child process and its AccessKey (the secret is generated here, never printed)."""

    def __init__(self):
        self.key = "LTAIfcinstance" + secrets.token_hex(6)
        self._secret = secrets.token_urlsafe(24)
        self.conn, child = _context.Pipe()
        self.proc = _context.Process(target=fc_instance.main, args=(child,), daemon=True,
                                     name=f"fc-instance-{next(_ids)}")
        self.proc.start()
        child.close()
        self.busy = False

    def alive(self):
        return self.proc.is_alive()

    def send(self, command):
        self.conn.send(command)

    def receive(self, timeout):
        if not self.conn.poll(timeout):
            raise InstanceError(f"instance {self.proc.name} gave no answer within {timeout:g} s (a hold never "
                                "released, or a hang)")
        try:
            return self.conn.recv()
        except EOFError:
            raise InstanceError(f"instance {self.proc.name} died (exit code {self.proc.exitcode})") from None

    def close(self):
        try:
            self.conn.send(("exit",))
        except (OSError, ValueError):
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)


def _shutdown():
    while _POOL:
        _POOL.pop().close()


atexit.register(_shutdown)


def _check_own_key(proc, output, value):
    """The instance's own AccessKeySecret (not minted by localcloud, so not in leakcheck's list)."""
    if proc._secret in output or proc._secret in json.dumps(value, default=str):
        raise InstanceError(f"{proc.proc.name}'s own AccessKeySecret appeared in its output (value withheld)")


def _record(kind, text):
    leakcheck._record(kind, text)


class Invocation:
    """One invocation in flight on one instance."""

    def __init__(self, instance: Instance, function: str, payload: Any):
        self.instance, self.function, self.payload = instance, function, payload
        self._answer = None

    def done(self) -> bool:
        return self._answer is not None or self.instance._proc.conn.poll(0)

    def _collect(self, timeout=ANSWER_TIMEOUT):
        if self._answer is None:
            outcome, value, output = self.instance._proc.receive(timeout)
            self.instance._proc.busy = False
            _check_own_key(self.instance._proc, output, value)
            if output:
                _record("fc instance output", output)
            if outcome == "error":
                raise InstanceError(f"the instance driver failed: {value}")
            if outcome == "raised":
                _record("fc instance exception", f"{value[0]}: {value[1]}")
                self.instance.fleet.raised.append((self.function, value[0]))
            else:
                _record("fc instance return value", json.dumps(value, ensure_ascii=False, default=str))
            self._answer = (outcome, value, output)
        return self._answer

    def result(self, timeout=ANSWER_TIMEOUT):
        """The handler's return value; ``Raised`` if it raised (e.g. TransientError for FC's retry)."""
        outcome, value, _ = self._collect(timeout)
        if outcome == "raised":
            raise Raised(*value)
        return value

    def outcome(self, timeout=ANSWER_TIMEOUT):
        """``("returned", value)`` or ``("raised", [type, message])``, never raising."""
        outcome, value, _ = self._collect(timeout)
        return outcome, value

    def output(self, timeout=ANSWER_TIMEOUT) -> str:
        """Everything the instance wrote during this invocation (log lines)."""
        return self._collect(timeout)[2]

    def until_held(self, hold_id, timeout=HOLD_WAIT) -> bool:
        """Wait until ``hold_id`` parks this invocation's call (True), or the invocation finished without
        reaching it (False; the hold is then cancelled so it cannot catch a later call)."""
        cloud = self.instance.cloud
        deadline = time.monotonic() + timeout
        while True:
            if cloud.wait_held(hold_id, 0.005):
                return True
            if self.done():
                if cloud.wait_held(hold_id, 0):
                    return True
                cloud.release(hold_id)
                return False
            if time.monotonic() > deadline:
                raise InstanceError(f"{self.function} on {self.instance} neither reached hold {hold_id} nor "
                                    f"finished within {timeout:g} s")


class Instance:
    """A simulated FC instance: ``key`` is its AccessKeyId (what ``cloud.hold`` matches on)."""

    def __init__(self, fleet: Instances, index: int, proc: _Process):
        self.fleet, self.index, self._proc = fleet, index, proc
        self.cloud = fleet.cloud
        self.key = proc.key

    def __repr__(self):
        return f"fc[{self.index}]"

    def start(self, function: str, event: Any, now: datetime | None = None, raw: bool = False,
              record: bool = True) -> Invocation:
        """Start ``function`` ("onboarding" | "offboarding" | "rotation") on ``event`` (an object sent as
        FC's JSON bytes; ``raw=True``: ``event`` is the bytes). Returns at once; one invocation at a time
        per instance."""
        if self._proc.busy:
            raise InstanceError(f"{self} is still running an invocation (FC instances run one at a time)")
        payload = event if raw else json.dumps(event).encode("utf-8")
        when = now or self.fleet.now
        self._proc.busy = True
        self._proc.send(("invoke", function, payload, when.isoformat() if when else None))
        invocation = Invocation(self, function, payload)
        if record:
            self.fleet.history.append((function, payload))
        return invocation

    def run(self, function: str, event: Any, now: datetime | None = None, raw: bool = False) -> Any:
        """Run to completion and return the handler's value (``Raised`` if it raised)."""
        return self.start(function, event, now, raw).result()

    def start_parked(self, function: str, event: Any, k: int, when: str = "before", now: datetime | None = None,
                     raw: bool = False) -> tuple[Invocation, str | None]:
        """Start ``function`` and park it at its ``k``-th API call, whatever the action: ``before`` it runs
        or ``after`` it ran (answer withheld). Returns ``(invocation, hold id)``; the hold id is None when
        the invocation finished with fewer than ``k`` calls. ``cloud.release(hold)`` lets it go on.

        How: before each call, one hold per action the role may call (nth=1) is armed; the call that
        parks on one of them is the next call; the others are cancelled, and the next set is armed
        before the parked call is let go (a parked call was counted already, so it cannot count twice)."""
        cloud = self.cloud
        invocation = None
        previous = None
        for step in range(1, k + 1):
            holds = {cloud.hold(self.key, action, when=when if step == k else "before"): action
                     for action in role_actions()}
            if invocation is None:
                invocation = self.start(function, event, now, raw)
            else:
                cloud.release(previous)
            caught = _wait_any(cloud, list(holds), invocation)
            for hold in holds:
                if hold != caught:
                    cloud.release(hold)                  # cancels an armed hold
            if caught is None:
                return invocation, None
            previous = caught
        return invocation, previous

    def sweep(self, payload: dict | None = None, now: datetime | None = None) -> Invocation:
        """Start the offboarding timer (the scheduled sweep) with ``payload``."""
        return self.start("offboarding", timer(payload), now)


def role_actions() -> list[str]:
    """Every RAM / KMS action the execution role may call (policies/function-role-policy.json)."""
    if not _ROLE_ACTIONS:
        for statement in role_policy()["Statement"] + role_policy(mode="user")["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            _ROLE_ACTIONS.extend(a.split(":", 1)[1] for a in actions
                                 if a.split(":", 1)[0] in ("ram", "kms") and a.split(":", 1)[1] not in _ROLE_ACTIONS)
    return list(_ROLE_ACTIONS)


_ROLE_ACTIONS: list[str] = []


def _wait_any(cloud, holds, invocation, timeout=HOLD_WAIT):
    """The hold (of ``holds``) that parked the invocation's call, or None if the invocation finished."""
    deadline = time.monotonic() + timeout
    while True:
        for hold in holds:
            if cloud.wait_held(hold, 0):
                return hold
        if invocation.done():
            return next((h for h in holds if cloud.wait_held(h, 0)), None)
        if time.monotonic() > deadline:
            raise InstanceError(f"{invocation.function} on {invocation.instance} neither made another call nor "
                                f"finished within {timeout:g} s")
        time.sleep(0.001)


def timer(payload=None, trigger_time="2026-12-01T02:00:00Z"):
    return {"triggerTime": trigger_time, "triggerName": "offboarding-sweep",
            "payload": json.dumps(payload) if payload is not None else ""}


class Instances:
    """``n`` simulated FC instances of both functions on the test's localcloud (see the module docstring).

    ``env``: extra environment for every instance (e.g. ``SECRET_TYPE``, ``OFFBOARD_GRACE_DAYS``);
    ``now``: where the functions' clock stands (None: real time); ``secret_prefix``: the role policy's
    secret prefix (as operators who change SECRET_PREFIX are told to grant)."""

    def __init__(self, cloud, n=2, env: dict[str, str] | None = None, now: datetime | None = None,
                 secret_prefix="ram-user/", policies: dict[int, dict] | None = None):
        self.cloud, self.n, self.now = cloud, n, now
        self.env = dict(env or {})
        # instance index -> the role policy its key is held to (default: the execution role's); e.g. the
        # rotation function's own role (policies/rotation-role-policy.json)
        self.policies = dict(policies or {})
        self.secret_prefix = secret_prefix
        self.instances: list[Instance] = []
        self.history: list[tuple[str, bytes]] = []
        self.raised: list[tuple[str, str]] = []      # (function, exception type) of invocations that raised

    def __enter__(self):
        while len(_POOL) < self.n or any(not p.alive() for p in _POOL[:self.n]):
            for i, proc in enumerate(_POOL):
                if not proc.alive():
                    _POOL.pop(i).close()
                    break
            else:
                _POOL.append(_Process())
        self.instances = [Instance(self, i, proc) for i, proc in enumerate(_POOL[:self.n])]
        self.configure(self.env)
        self._expired = len(self.cloud.holds.expired())
        return self

    def __exit__(self, exc_type, *exc):
        expired = self.cloud.holds.expired()[self._expired:]
        self.cloud.holds.release_all()           # nothing parked may outlive the test
        for instance in self.instances:
            if instance._proc.busy:
                try:
                    _, value, output = instance._proc.receive(ANSWER_TIMEOUT)   # an answer nobody collected
                    _record("fc instance output", output)
                    _record("fc instance answer", json.dumps(value, ensure_ascii=False, default=str))
                except InstanceError:
                    instance._proc.close()
                instance._proc.busy = False
        if expired and exc_type is None:
            raise InstanceError(f"a parked call was never released (auto-released after its timeout): {expired}")

    def __getitem__(self, index) -> Instance:
        return self.instances[index]

    def __iter__(self):
        return iter(self.instances)

    def __len__(self):
        return len(self.instances)

    def function_env(self, proc: _Process) -> dict[str, str]:
        env = dict(self.cloud.function_env())
        env.update(ALIBABA_CLOUD_ACCESS_KEY_ID=proc.key, ALIBABA_CLOUD_ACCESS_KEY_SECRET=proc._secret,
                   RETRY_BASE_SECONDS="0", WEBHOOK_SIGNING_KEY="test-webhook-key",
                   ACCOUNT_ID=self.cloud.account_id,
                   # a parked call must stay parked, not turn into a read timeout and a retry
                   OPENAPI_READ_TIMEOUT_MS="60000")
        env.pop("ALIBABA_CLOUD_SECURITY_TOKEN", None)
        # the scenarios' events span November (concurrency_support.at) and run on 2026-12-01: within
        # the history the ledger keeps (MAX_EVENT_AGE_DAYS <= SECRET_RECOVERY_DAYS + OFFBOARD_GRACE_DAYS)
        env["MAX_EVENT_AGE_DAYS"] = str(MAX_EVENT_AGE_DAYS)
        env.update(self.env)
        return env

    def configure(self, env: dict[str, str] | None = None):
        """(Re)configure every instance: its key (re-registered and held to the role policy: the
        ``cloud`` fixture lifts every caller's policy), its environment, and a cold start."""
        self.env = dict(env if env is not None else self.env)
        for instance in self.instances:
            proc = instance._proc
            policy = self.policies.get(instance.index) or role_policy(self.secret_prefix,
                                                                      mode=self.env.get("GRANT_MODE", "group"))
            if proc.key in self.cloud.authenticator.credentials:
                self.cloud.detach_caller_policies(proc.key)
            self.cloud.add_caller(proc.key, proc._secret, policy=policy)
            proc.send(("configure", self.function_env(proc)))
            outcome, value, output = proc.receive(ANSWER_TIMEOUT)
            if output:
                _record("fc instance output", output)
            if outcome != "returned":
                raise InstanceError(f"configuring {instance} failed: {value}")

    def deliver_again(self, instance: int = 0, attempts: int = 3) -> list[tuple[str, Any]]:
        """Deliver every event started so far once more, sequentially on one instance, in the order
        first started (FC / EventBridge redelivery). An invocation that raises is delivered again (up to
        ``attempts`` times), as FC's async retry would. Returns ``(outcome, value)`` per event."""
        answers = []
        for function, payload in list(self.history):
            for _ in range(attempts):
                answer = self[instance].start(function, payload, raw=True, record=False).outcome()
                if answer[0] == "returned":
                    break
            answers.append(answer)
        return answers
