"""The control API: reset, faults, clock, state, call log, callers and holds over HTTP.

Served by the same loopback server as RAM and KMS, under ``/_localcloud/``
(no SDK request uses that path: RPC-style APIs are served at ``/``). JSON in,
JSON out; answered to loopback clients asking for a loopback ``Host`` only
(anything else gets 403: another machine, or a web page that DNS-rebinds its
name to 127.0.0.1). It
never returns a credential, except ``GET /_localcloud/minted-credentials``,
which exists for leak checks and says so in its name.

Errors: ``{"error": {"code": ..., "message": ...}}`` with 400 (bad input),
404 (unknown path or object), 405 (wrong method), 409 (not possible now).
The route table below is the reference; docs/localcloud.md lists it too.
``localcloud.control.ControlClient`` is its Python client.
"""
import ipaddress
import json
import re
from urllib.parse import parse_qsl

from .clock import describe as describe_clock
from .clock import iso, parse_time
from .exceptions import ApiError

CONTROL_PREFIX = "/_localcloud"
MAX_WAIT_SECONDS = 120.0


class ControlError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _bad(message):
    return ControlError(400, "BadRequest", message)


def _not_found(message):
    return ControlError(404, "NotFound", message)


def is_loopback(host):
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def loopback_host_header(value):
    """A ``Host`` naming a loopback address (``127.0.0.1:8080``, ``[::1]:8080``, ``localhost``): a page
    that DNS-rebinds its own name to 127.0.0.1 sends its own name and is refused."""
    host = (value or "").strip()
    if host.startswith("["):
        host = host[1:host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    return host.lower() == "localhost" or is_loopback(host)


def _field(body, name, kind, default=..., allow_none=False):
    """``body[name]`` of type ``kind`` (a type or tuple); ``default`` when absent (``...``: required)."""
    if name not in body or (body[name] is None and not allow_none):
        if default is ...:
            raise _bad(f"{name} is required")
        return default
    value = body[name]
    if value is None and allow_none:
        return None
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise _bad(f"{name} must be a number")
    if not isinstance(value, kind):
        raise _bad(f"{name} has the wrong type")
    return value


_NUMBER = (int, float)


class ControlAPI:
    def __init__(self, cloud):
        self.cloud = cloud
        self.routes = [(method, re.compile(CONTROL_PREFIX + pattern + r"/?\Z"), handler)
                       for method, pattern, handler in self._table()]

    def _table(self):
        return [
            ("GET", "", self.info), ("GET", "/info", self.info),
            ("POST", "/reset", self.reset),
            ("GET", "/faults", self.faults),
            ("POST", "/faults/fail", self.fault_fail), ("POST", "/faults/throttle", self.fault_throttle),
            ("POST", "/faults/drop", self.fault_drop), ("POST", "/faults/latency", self.fault_latency),
            ("POST", "/faults/rate-limit", self.fault_rate_limit),
            ("POST", "/faults/clear", self.faults_clear), ("DELETE", "/faults", self.faults_clear),
            ("GET", "/clock", self.clock), ("POST", "/clock/set", self.clock_set),
            ("POST", "/clock/advance", self.clock_advance), ("POST", "/clock/reset", self.clock_reset),
            ("GET", "/state", self.state), ("POST", "/state/save", self.state_save),
            ("GET", "/state/ram/users", self.ram_users), ("GET", "/state/ram/user", self.ram_user),
            ("GET", "/state/ram/account", self.ram_account),
            ("GET", "/state/kms/secrets", self.kms_secrets), ("GET", "/state/kms/secret", self.kms_secret),
            ("POST", "/ram/quotas", self.ram_quotas), ("POST", "/ram/custom-policies", self.ram_custom_policy),
            ("POST", "/ram/last-login", self.ram_last_login), ("POST", "/ram/key-last-used", self.ram_key_last_used),
            ("POST", "/ram/mfa", self.ram_mfa),
            ("POST", "/kms/tick", self.kms_tick),
            ("GET", "/calls", self.calls), ("GET", "/calls/mark", self.calls_mark),
            ("GET", "/callers", self.callers), ("POST", "/callers", self.caller_add),
            ("DELETE", "/callers/policies", self.caller_policies_detach_all),
            ("DELETE", r"/callers/(?P<key>[^/]+)", self.caller_remove),
            ("POST", r"/callers/(?P<key>[^/]+)/policies", self.caller_policy_attach),
            ("DELETE", r"/callers/(?P<key>[^/]+)/policies", self.caller_policies_detach),
            ("GET", "/holds", self.holds), ("POST", "/holds", self.hold_add),
            ("POST", "/holds/release-all", self.holds_release_all), ("DELETE", "/holds", self.holds_clear),
            ("GET", r"/holds/(?P<hold>[^/]+)", self.hold_get),
            ("POST", r"/holds/(?P<hold>[^/]+)/wait", self.hold_wait),
            ("POST", r"/holds/(?P<hold>[^/]+)/release", self.hold_release),
            ("GET", "/minted-credentials", self.minted_credentials),
        ]

    # -- dispatch ------------------------------------------------------------------------------
    def handle(self, method, path, query, body, client_host, host_header="127.0.0.1"):
        """Return ``(status, json_dict)``."""
        try:
            if not is_loopback(client_host):
                raise ControlError(403, "Forbidden", "the control API answers loopback clients only")
            if not loopback_host_header(host_header):
                raise ControlError(403, "Forbidden", "the control API answers requests for a loopback Host only")
            allowed = False
            for route_method, pattern, handler in self.routes:
                match = pattern.match(path)
                if match is None:
                    continue
                allowed = True
                if route_method != method:
                    continue
                payload = self._json(body)
                result = handler(match.groupdict(), dict(parse_qsl(query, keep_blank_values=True)), payload)
                return (200, result) if not isinstance(result, tuple) else result
            if allowed:
                raise ControlError(405, "MethodNotAllowed", f"{method} is not allowed on {path}")
            raise _not_found(f"no control endpoint {path}")
        except ControlError as error:
            return error.status, {"error": {"code": error.code, "message": error.message}}
        except (KeyError, ValueError, TypeError) as error:
            message = error.args[0] if error.args else str(error)
            status = 404 if isinstance(error, KeyError) else 400
            return status, {"error": {"code": "NotFound" if status == 404 else "BadRequest", "message": str(message)}}

    @staticmethod
    def _json(body):
        if not body:
            return {}
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _bad("the body must be a JSON object") from None
        if not isinstance(payload, dict):
            raise _bad("the body must be a JSON object")
        return payload

    # -- general -------------------------------------------------------------------------------
    def info(self, path, query, body):
        cloud = self.cloud
        return {"endpoint": cloud.endpoint, "region": cloud.region, "accountId": cloud.account_id,
                "accountAlias": cloud.account.alias, "accessKeyId": cloud.access_key_id,
                "services": {s.name: s.version for s in cloud.gateway.services.values()},
                "stateFile": cloud.state_file, "holdTimeout": cloud.holds.default_timeout}

    def reset(self, path, query, body):
        self.cloud.reset()
        return {"reset": True}

    # -- faults ----------------------------------------------------------------------------------
    def faults(self, path, query, body):
        return {"rules": self.cloud.faults.rules()}

    def _action(self, body, required=True):
        return _field(body, "action", str, ... if required else None, allow_none=not required)

    def _times(self, body, default=1):
        times = _field(body, "times", int, default, allow_none=True)
        if times is not None and times < 1:
            raise _bad("times must be >= 1 (or null: always)")
        return times

    def fault_fail(self, path, query, body):
        probability = float(_field(body, "probability", _NUMBER, 1.0))
        if not 0 < probability <= 1:
            raise _bad("probability must be in (0, 1]")
        status = _field(body, "status", int, 500)
        if not 400 <= status <= 599:
            raise _bad("status must be an HTTP error status (400-599)")
        self.cloud.faults.fail(self._action(body, required=False), _field(body, "code", str), status=status,
                               times=self._times(body), probability=probability,
                               seed=_field(body, "seed", int, 0), message=_field(body, "message", str, None))
        return {"rules": self.cloud.faults.rules()}

    def fault_throttle(self, path, query, body):
        self.cloud.faults.throttle(self._action(body), times=self._times(body))
        return {"rules": self.cloud.faults.rules()}

    def fault_drop(self, path, query, body):
        self.cloud.faults.drop(self._action(body), times=self._times(body), after=_field(body, "after", bool, False))
        return {"rules": self.cloud.faults.rules()}

    def fault_latency(self, path, query, body):
        seconds = float(_field(body, "seconds", _NUMBER))
        if not 0 <= seconds <= 60:
            raise _bad("seconds must be in [0, 60]")
        self.cloud.faults.latency(seconds, action=self._action(body, required=False),
                                  times=self._times(body, default=None))
        return {"rules": self.cloud.faults.rules()}

    def fault_rate_limit(self, path, query, body):
        qps = _field(body, "qps", int)
        if qps < 1:
            raise _bad("qps must be >= 1")
        self.cloud.faults.rate_limit(self._action(body), qps)
        return {"rules": self.cloud.faults.rules()}

    def faults_clear(self, path, query, body):
        self.cloud.faults.clear()
        return {"rules": []}

    # -- clock -------------------------------------------------------------------------------------
    def clock(self, path, query, body):
        return describe_clock(self.cloud.clock)

    def _controllable(self):
        clock = self.cloud.clock
        if not all(callable(getattr(clock, m, None)) for m in ("set", "advance", "reset")):
            raise ControlError(409, "ClockNotControllable",
                               "the clock installed with use_clock() has no set/advance/reset; move it where it lives")
        return clock

    def clock_set(self, path, query, body):
        when = body.get("now", body.get("time"))
        if when is None:
            raise _bad('give "now" (RFC 3339, e.g. 2027-01-01T00:00:00Z) or "time" (epoch seconds)')
        try:
            when = parse_time(when)
        except (TypeError, ValueError) as error:
            raise _bad(f"cannot read the time: {error}") from None
        clock = self._controllable()
        if _field(body, "frozen", bool, False):
            clock.set(when, frozen=True)
        else:
            clock.set(when)
        self.cloud._changed()
        return describe_clock(clock)

    def clock_advance(self, path, query, body):
        parts = {name: float(_field(body, name, _NUMBER, 0)) for name in ("seconds", "minutes", "hours", "days")}
        clock = self._controllable()
        clock.advance(parts["seconds"] + 60 * parts["minutes"] + 3600 * parts["hours"] + 86400 * parts["days"])
        self.cloud._changed()
        return describe_clock(clock)

    def clock_reset(self, path, query, body):
        clock = self._controllable()
        clock.reset()
        self.cloud._changed()
        return describe_clock(clock)

    # -- state -------------------------------------------------------------------------------------
    def state(self, path, query, body):
        return self.cloud.inspect()

    def state_save(self, path, query, body):
        if self.cloud.state_file is None:
            raise ControlError(409, "NoStateFile", "this localcloud runs without --state")
        self.cloud.save_state()
        return {"saved": True, "stateFile": self.cloud.state_file}

    @staticmethod
    def _name(query):
        name = query.get("name")
        if not name:
            raise _bad("give ?name=")
        return name

    def ram_users(self, path, query, body):
        return {"users": self.cloud.ram_users()}

    def ram_user(self, path, query, body):
        user = self.cloud.ram_user(self._name(query))
        if user is None:
            raise _not_found(f"no RAM user {query['name']}")
        return user

    def ram_account(self, path, query, body):
        return self.cloud.ram_account()

    def kms_secrets(self, path, query, body):
        return {"secrets": self.cloud.kms_secrets()}

    def kms_secret(self, path, query, body):
        secret = self.cloud.kms_secret(self._name(query))
        if secret is None:
            raise _not_found(f"no KMS secret {query['name']}")
        return secret

    def ram_quotas(self, path, query, body):
        ram = self.cloud.ram
        for name, value in body.items():
            if name not in ram.quotas:
                raise _bad(f"unknown quota {name}; one of {', '.join(sorted(ram.quotas))}")
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise _bad(f"{name} must be an integer >= 0")
        with ram.lock:
            ram.quotas.update(body)
        self.cloud._changed()
        return {"quotas": dict(ram.quotas)}

    def ram_custom_policy(self, path, query, body):
        self.cloud.ram.add_custom_policy(_field(body, "name", str), _field(body, "description", str, ""))
        self.cloud._changed()
        return {"added": body["name"]}

    # -- usage: last logon, key last use, MFA (issue 13) -------------------------------------------
    @staticmethod
    def _when(body):
        if "when" not in body:
            raise _bad('give "when": RFC 3339 (e.g. 2027-01-01T00:00:00Z), epoch seconds, or null (never)')
        when = body["when"]
        if when is None:
            return None
        if isinstance(when, bool):
            raise _bad("when must be a time or null")
        try:
            return parse_time(when)
        except (TypeError, ValueError) as error:
            raise _bad(f"cannot read the time: {error}") from None

    @staticmethod
    def _ram_call(fn, *args):
        try:
            return fn(*args)
        except ApiError as error:
            raise ControlError(error.status, error.code, error.message) from None

    def ram_last_login(self, path, query, body):
        name, when = _field(body, "userName", str), self._when(body)
        self._ram_call(self.cloud.set_last_login, name, when)
        return {"userName": name, "lastLoginDate": iso(when.timestamp()) if when else None}

    def ram_key_last_used(self, path, query, body):
        key, when = _field(body, "accessKeyId", str), self._when(body)
        self._ram_call(self.cloud.set_key_last_used, key, when)
        return {"accessKeyId": key, "lastUsedDate": iso(when.timestamp()) if when else None}

    def ram_mfa(self, path, query, body):
        name, bound = _field(body, "userName", str), _field(body, "bound", bool)
        serial = self._ram_call(self.cloud.bind_mfa if bound else self.cloud.unbind_mfa, name)
        return {"userName": name, "bound": bound, "serialNumber": serial}

    def kms_tick(self, path, query, body):
        """What is due on the clock now, done now: scheduled deletions, RAM secret rotations."""
        rotated = self.cloud.kms.tick()
        self.cloud._changed()
        return {"rotated": rotated}

    # -- call log ---------------------------------------------------------------------------------
    def calls(self, path, query, body):
        try:
            since = int(query.get("since", "0"))
        except ValueError:
            raise _bad("since must be an integer (a mark)") from None
        since = max(since, 0)
        calls = self.cloud.calls.since(since)
        return {"calls": [c.to_json() for c in calls], "mark": since + len(calls)}

    def calls_mark(self, path, query, body):
        return {"mark": self.cloud.calls.mark()}

    # -- callers ----------------------------------------------------------------------------------
    def callers(self, path, query, body):
        return {"callers": self.cloud.callers()}

    def caller_add(self, path, query, body):
        key = _field(body, "accessKeyId", str)
        secret = _field(body, "accessKeySecret", str)
        if not key or not secret:
            raise _bad("accessKeyId and accessKeySecret must not be empty")
        if key == self.cloud.access_key_id:
            raise ControlError(409, "Conflict", "that is this cloud's own AccessKeyId")
        policy = _field(body, "policy", (dict, str), None)
        self.cloud.add_caller(key, secret, policy=policy, security_token=_field(body, "securityToken", str, None))
        return {"accessKeyId": key}

    def caller_remove(self, path, query, body):
        if path["key"] == self.cloud.access_key_id:
            raise ControlError(409, "Conflict", "this cloud's own AccessKeyId cannot be removed")
        self.cloud.remove_caller(path["key"])
        return {"removed": path["key"]}

    def _known_caller(self, key):
        if key not in self.cloud.authenticator.credentials:
            raise _not_found(f"no caller {key}")
        return key

    def caller_policy_attach(self, path, query, body):
        key = self._known_caller(path["key"])
        self.cloud.attach_caller_policy(_field(body, "document", (dict, str)), access_key_id=key)
        return {"accessKeyId": key, "statements": self.cloud.gateway.authorizer.policies().get(key, [])}

    def caller_policies_detach(self, path, query, body):
        self.cloud.detach_caller_policies(self._known_caller(path["key"]))
        return {"accessKeyId": path["key"], "statements": []}

    def caller_policies_detach_all(self, path, query, body):
        self.cloud.detach_caller_policies()
        return {"callers": self.cloud.callers()}

    # -- holds ------------------------------------------------------------------------------------
    def holds(self, path, query, body):
        return {"holds": self.cloud.holds.list(), "expired": self.cloud.holds.expired()}

    def hold_add(self, path, query, body):
        hold_id = self.cloud.hold(_field(body, "accessKeyId", str, None, allow_none=True), _field(body, "action", str),
                                  when=_field(body, "when", str, "before"), nth=_field(body, "nth", int, 1),
                                  timeout=_field(body, "timeout", _NUMBER, None, allow_none=True))
        return self.cloud.holds.get(hold_id)

    def hold_get(self, path, query, body):
        return self.cloud.holds.get(path["hold"])

    def hold_wait(self, path, query, body):
        timeout = float(_field(body, "timeout", _NUMBER, 10.0))
        if not 0 <= timeout <= MAX_WAIT_SECONDS:
            raise _bad(f"timeout must be in [0, {MAX_WAIT_SECONDS:g}] seconds")
        held = self.cloud.wait_held(path["hold"], timeout)
        return {"held": held, "hold": self.cloud.holds.get(path["hold"])}

    def hold_release(self, path, query, body):
        return self.cloud.release(path["hold"])

    def holds_release_all(self, path, query, body):
        self.cloud.holds.release_all()
        return {"holds": self.cloud.holds.list()}

    def holds_clear(self, path, query, body):
        self.cloud.holds.clear()
        return {"holds": []}

    # -- leak checks: the one endpoint that returns credentials ---------------------------------
    def minted_credentials(self, path, query, body):
        return {"credentials": sorted(self.cloud.minted_credentials())}
