"""Service-independent machinery: parameters, call log, faults, dispatch.

moto-style split: per service, ``models`` hold state and semantics,
``responses`` map wire parameters to model calls and shape the JSON. This
module glues them to one endpoint and is shared by the HTTP server and the
in-process mode (``LocalCloud.invoke``).
"""
import random
import threading
import time
import uuid
from dataclasses import dataclass, field

from .clock import Clock, check_clock, timestamp
from .exceptions import ApiError, invalid_action, invalid_version, missing_parameter, throttling
from .holds import Holds
from .iam import Authorizer

# Parameters whose values are credentials; never stored in the call log.
SECRET_PARAMETERS = frozenset({"AccessKeySecret", "Password", "NewPassword", "SecretData",
                               "OldPassword", "Signature", "SecurityToken"})
READ_PREFIXES = ("Get", "List", "Describe")
# Reads that still change state worth keeping (--state): what they hand out joins minted_credentials.
MINTING_READS = frozenset({"GetRandomPassword"})
# Exceptions raised inside any emulator backend (emulator bugs), answered InternalError 500.
# Never cleared, so a test suite can check that none happened during a test.
INTERNAL_ERRORS = []


def new_request_id():
    return str(uuid.uuid4()).upper()


def _invalid_parameter(name, message):
    return ApiError(f"InvalidParameter.{name}", message, 400)


class Params:
    """The request's parameters (query and form merged), all strings as on the wire."""

    def __init__(self, values):
        self.values = dict(values)

    def get(self, name, default=None):
        value = self.values.get(name)
        return default if value is None or value == "" else value

    def required(self, name):
        value = self.get(name)
        if value is None:
            raise missing_parameter(name)
        return value

    def get_bool(self, name, default=None, invalid=None):
        """``invalid(name, message)`` builds the service's own error (RAM and KMS differ)."""
        value = self.get(name)
        if value is None:
            return default
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise (invalid or _invalid_parameter)(name, f"{name} must be true or false.")

    def get_int(self, name, default=None, low=None, high=None, code=None, invalid=None):
        value = self.get(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or (low is not None and number < low) or (high is not None and number > high):
            bound = f"{low}-{high}" if high is not None else f">= {low}"
            if invalid is not None:
                raise invalid(name, f"{name} must be an integer ({bound}).")
            raise ApiError(code or f"InvalidParameter.{name}", f"The parameter {name} is invalid ({bound}).", 400)
        return number


@dataclass
class Service:
    """One product API: its version, backend factory and action table."""
    name: str
    version: str
    backend_factory: object
    actions: dict
    include_http_status: bool = False   # KMS error bodies also carry HttpStatus


@dataclass
class Call:
    seq: int
    service: str
    action: str
    params: dict
    status: int
    code: str
    request_id: str
    access_key_id: str
    at: float = field(default_factory=time.time)

    @property
    def mutating(self):
        return not self.action.startswith(READ_PREFIXES)

    @property
    def ok(self):
        return self.status < 400

    def to_json(self):
        """The call as the control API reports it (params are already redacted)."""
        return {"seq": self.seq, "service": self.service, "action": self.action, "params": self.params,
                "status": self.status, "code": self.code, "requestId": self.request_id,
                "accessKeyId": self.access_key_id, "at": self.at}

    @classmethod
    def from_json(cls, data):
        return cls(seq=data["seq"], service=data["service"], action=data["action"], params=data["params"],
                   status=data["status"], code=data["code"], request_id=data["requestId"],
                   access_key_id=data["accessKeyId"], at=data["at"])


class CallLog:
    """Every request the gateway answered, credentials redacted."""

    def __init__(self):
        self._calls = []
        self._lock = threading.Lock()

    def record(self, **kwargs):
        params = {k: ("***" if k in SECRET_PARAMETERS else v) for k, v in kwargs.pop("params").items()}
        with self._lock:
            call = Call(seq=len(self._calls) + 1, params=params, **kwargs)
            self._calls.append(call)
            return call

    def __iter__(self):
        with self._lock:
            return iter(list(self._calls))

    def __len__(self):
        return len(self._calls)

    def clear(self):
        with self._lock:
            self._calls.clear()

    def mark(self):
        """A position to pass to ``since``: what happened after this point."""
        return len(self._calls)

    def since(self, mark=0):
        with self._lock:
            return list(self._calls[mark:])

    def actions(self, mark=0, ok_only=False):
        return [c.action for c in self.since(mark) if c.ok or not ok_only]

    def mutating(self, mark=0, ok_only=True):
        return [c for c in self.since(mark) if c.mutating and (c.ok or not ok_only)]

    def errors(self, code=None, mark=0):
        return [c for c in self.since(mark) if not c.ok and (code is None or c.code == code)]


@dataclass
class _Rule:
    action: object          # an action name, or None for every action
    kind: str               # "error" | "drop" | "latency"
    code: str = ""
    status: int = 500
    message: str = ""
    times: object = None    # remaining count, or None for unlimited
    probability: float = 1.0
    rng: object = None
    seconds: float = 0.0
    after: bool = False     # drop: execute the action first, then drop (lost response)
    where: object = None    # {parameter: value} the request must carry, or None for any request

    def matches(self, action, params=None):
        if self.action is not None and self.action != action:
            return False
        if self.where and any((params or {}).get(k) != v for k, v in self.where.items()):
            return False
        if self.times is not None and self.times <= 0:
            return False
        if self.probability < 1.0 and self.rng.random() >= self.probability:
            return False
        if self.times is not None:
            self.times -= 1
        return True


class DropConnection(Exception):
    """Raised inside dispatch to make the server close the socket without answering."""

    def __init__(self, executed):
        super().__init__("connection dropped")
        self.executed = executed


class Faults:
    """Scripted failures, latency, dropped connections and per-action QPS limits."""

    def __init__(self):
        self._rules = []
        self._limits = {}
        self._lock = threading.Lock()

    def fail(self, action, code, status=500, times=1, probability=1.0, seed=0, message=None, where=None):
        """Answer ``action`` with ``code``/``status`` the next ``times`` calls (None: always),
        each with ``probability`` (seeded, reproducible); ``where``: only requests carrying these
        parameter values (e.g. ``{"SecretName": "ram-user/alice"}``)."""
        with self._lock:
            self._rules.append(_Rule(action, "error", code=code, status=status, times=times,
                                     probability=probability, rng=random.Random(seed),
                                     message=message or f"Injected fault: {code}", where=where))

    def throttle(self, action, times=1):
        self.fail(action, "Throttling.User", 400, times=times,
                  message="Request was denied due to user flow control.")

    def drop(self, action, times=1, after=False, where=None):
        """Close the connection without an answer; ``after=True`` executes the action first,
        so the change happens but the caller never learns of it. ``where`` as for ``fail``."""
        with self._lock:
            self._rules.append(_Rule(action, "drop", times=times, after=after, rng=random.Random(0), where=where))

    def latency(self, seconds, action=None, times=None):
        with self._lock:
            self._rules.append(_Rule(action, "latency", seconds=seconds, times=times, rng=random.Random(0)))

    def rate_limit(self, action, qps):
        """At most ``qps`` calls of ``action`` per second (sliding window); the rest get Throttling.User."""
        with self._lock:
            self._limits[action] = (qps, [])

    def clear(self):
        with self._lock:
            self._rules.clear()
            self._limits.clear()

    def rules(self):
        """The scripted rules in order (``times``: what is left), and the rate limits."""
        with self._lock:
            rules = [{"kind": r.kind, "action": r.action, "code": r.code, "status": r.status, "times": r.times,
                      "probability": r.probability, "seconds": r.seconds, "after": r.after}
                     for r in self._rules]
            limits = [{"kind": "rate_limit", "action": action, "qps": qps} for action, (qps, _) in self._limits.items()]
        return rules + limits

    def before(self, action, params=None):
        """Apply latency, limits and pre-execution faults; return the post-execution drop, if any."""
        delay = 0.0
        error = drop_after = None
        with self._lock:
            for rule in self._rules:
                if rule.kind == "latency" and rule.matches(action):
                    delay += rule.seconds
            limit = self._limits.get(action)
            if limit is not None:
                qps, stamps = limit
                now = time.monotonic()
                while stamps and now - stamps[0] >= 1.0:
                    stamps.pop(0)
                if len(stamps) >= qps:
                    error = throttling()
                else:
                    stamps.append(now)
            if error is None:
                for rule in self._rules:
                    if rule.kind in ("error", "drop") and rule.matches(action, params):
                        if rule.kind == "error":
                            error = ApiError(rule.code, rule.message, rule.status)
                        elif rule.after:
                            drop_after = rule
                        else:
                            error = DropConnection(executed=False)
                        break
        if delay:
            time.sleep(delay)
        if error is not None:
            raise error
        return drop_after


class Gateway:
    """One endpoint for several services: routing, auth, holds, faults, logging.

    ``handle`` is the whole request path minus HTTP framing, so the HTTP server
    and in-process callers share the exact same semantics.
    """

    def __init__(self, services, authenticator, account, clock=None, holds=None):
        self.services = {s.version: s for s in services}
        self.authenticator = authenticator
        self.account = account
        self.own_clock = Clock()
        self.clock = check_clock(clock) if clock is not None else self.own_clock
        self.calls = CallLog()
        self.faults = Faults()
        self.holds = holds or Holds()
        self.authorizer = Authorizer()   # caller policies are account configuration: kept across reset()
        self.on_change = None            # called after every call that changed state (--state saves)
        self.backends = {}
        # RAM users' own AccessKeys authenticate while Active (a reader signing with the key it read
        # from KMS); what they may do is ``authorizer``'s user policies (none: nothing).
        self.authenticator.key_lookup = self._ram_user_key_secret
        self.reset()

    def _ram_user_key_secret(self, access_key_id):
        ram = self.backends.get("ram")
        found = ram.gateway_secret(access_key_id) if ram is not None else None
        return found[1] if found is not None else None

    def ram_key_owner(self, access_key_id):
        """The RAM user owning ``access_key_id`` when it is a RAM user's key (not a gateway caller)."""
        if access_key_id in self.authenticator.credentials:
            return None
        ram = self.backends.get("ram")
        return ram.access_key_owner(access_key_id) if ram is not None else None

    def use_clock(self, clock=None):
        """Read time from ``clock`` (any object with an aware ``now()``); None: this cloud's own Clock."""
        self.clock = check_clock(clock) if clock is not None else self.own_clock
        for backend in self.backends.values():
            backend.clock = self.clock
        return self.clock

    def reset(self):
        """Fresh backends, empty call log, no faults, no holds (parked calls are released);
        this cloud's own clock back to real time (a clock installed by ``use_clock`` is its owner's)."""
        self.holds.clear()
        if self.clock is self.own_clock:
            self.own_clock.reset()
        self.backends = {s.name: s.backend_factory(self.account, self.clock) for s in self.services.values()}
        for backend in self.backends.values():   # e.g. KMS checks RAMCredentials against RAM state
            link = getattr(backend, "link_peers", None)
            if link is not None:
                link(self.backends)
        self.calls.clear()
        self.faults.clear()

    def _record(self, **kwargs):
        return self.calls.record(at=timestamp(self.clock), **kwargs)

    def _changed(self, call):
        if self.on_change is None or not (call.mutating or call.action in MINTING_READS):
            return
        try:
            self.on_change()
        except Exception as exc:  # a state file that cannot be written is an emulator failure, not the caller's
            INTERNAL_ERRORS.append(f"saving state after {call.action}: {type(exc).__name__}: {exc}")

    def handle(self, action, version, params, auth=None):
        """Return ``(status, body_dict)``; raise DropConnection to drop the socket."""
        request_id = new_request_id()
        service = self.services.get(version)
        access_key_id = ""
        caught = ()
        try:
            if auth is not None:
                access_key_id = self.authenticator.authenticate(*auth)
            if not action:
                raise missing_parameter("Action")
            if service is None:
                raise invalid_version(version)
            handler = service.actions.get(action)
            if handler is None:
                raise invalid_action(action)
            caught = self.holds.enter(access_key_id, action, request_id)
            if caught:
                self.holds.park(caught, "before")
            if auth is not None:
                self.authorizer.check(access_key_id, service.name, action, params, self.account,
                                      user_name=self.ram_key_owner(access_key_id))
            drop_after = self.faults.before(action, params)
            body = handler(self.backends[service.name], Params(params))
            body = dict(body)
            body["RequestId"] = request_id
            call = self._record(service=service.name, action=action, params=params, status=200,
                                code="", request_id=request_id, access_key_id=access_key_id)
            self._changed(call)
            result = DropConnection(executed=True) if drop_after is not None else (200, body)
        except DropConnection as drop:
            if not drop.executed:
                self._record(service=service.name, action=action, params=params, status=599,
                             code="ConnectionDropped", request_id=request_id, access_key_id=access_key_id)
            result = drop
        except ApiError as err:
            result = self._error(err, service, action, params, request_id, access_key_id)
        except Exception as exc:  # an emulator bug: answer like the real gateway would, and keep it
            INTERNAL_ERRORS.append(f"{action}: {type(exc).__name__}: {exc}")
            err = ApiError("InternalError", "The request processing has failed due to some unknown error.", 500)
            result = self._error(err, service, action, params, request_id, access_key_id)
        if caught:
            self.holds.park(caught, "after")       # the action ran (or failed); its answer waits
        if isinstance(result, DropConnection):
            raise result
        return result

    def _error(self, err, service, action, params, request_id, access_key_id):
        self._record(service=service.name if service else "", action=action or "",
                     params=params, status=err.status, code=err.code,
                     request_id=request_id, access_key_id=access_key_id)
        body = {"RequestId": request_id, "HostId": self.account.host_for(service),
                "Code": err.code, "Message": err.message,
                "Recommend": err.recommend or
                f"https://api.aliyun.com/troubleshoot?q={err.code}&product="
                f"{service.name.upper() if service else ''}&requestId={request_id}"}
        if service is not None and service.include_http_status:
            body["HttpStatus"] = err.status
        return err.status, body
