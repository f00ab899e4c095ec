"""Python client for localcloud's control API (``/_localcloud/...``).

Drives a standalone ``python -m localcloud`` (another process) the way tests
drive an in-process ``LocalCloud``, with the same method names where they
make sense::

    control = ControlClient("127.0.0.1:8080")
    control.reset()
    control.faults.fail("CreateAccessKey", "ServiceUnavailable", status=503, times=2)
    control.clock.advance(days=7)
    key_id, secret = control.add_caller(policy=role_policy)       # one simulated FC instance
    hold = control.hold(key_id, "CreateAccessKey", when="after")
    assert control.wait_held(hold, timeout=10)
    control.release(hold)
    control.calls.actions(mark)                                    # the call log
    control.ram_user("alice")                                      # state, never a credential

Standard library only (no ``requests``), proxies ignored (loopback is never proxied).
"""
import json
import secrets
import urllib.error
import urllib.request
from urllib.parse import quote, urlsplit

from .clock import parse_time
from .core import Call

PREFIX = "/_localcloud"


class ControlError(Exception):
    """The control API refused a request: ``status``, ``code`` and ``message`` say why."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class ControlClient:
    def __init__(self, endpoint, timeout=30.0):
        """``endpoint``: ``host:port`` as ``python -m localcloud`` prints it (or an http:// URL)."""
        if "://" not in endpoint:
            endpoint = "http://" + endpoint
        split = urlsplit(endpoint)
        self.endpoint = split.netloc                 # host:port, what the SDK's Config wants
        self.base = f"{split.scheme}://{split.netloc}{PREFIX}"
        self.timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.faults = RemoteFaults(self)
        self.clock = RemoteClock(self)
        self.calls = RemoteCallLog(self)
        self.holds = RemoteHolds(self)

    # -- transport --------------------------------------------------------------------------
    def request(self, method, path, body=None, timeout=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with self._opener.open(req, timeout=timeout or self.timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            try:
                detail = json.loads(error.read().decode("utf-8")).get("error", {})
            except ValueError:
                detail = {}
            raise ControlError(error.code, detail.get("code", "HTTPError"), detail.get("message", str(error))) from None

    def _get(self, path):
        return self.request("GET", path)

    def _post(self, path, body=None, timeout=None):
        return self.request("POST", path, body if body is not None else {}, timeout=timeout)

    # -- general ------------------------------------------------------------------------------
    def info(self):
        """Endpoint, region, account id and alias, this cloud's own AccessKeyId, state file, hold timeout."""
        return self._get("/info")

    def reset(self):
        """Fresh RAM and KMS state, empty call log, no faults, no holds, own clock at real time."""
        self._post("/reset")

    def client_config(self, access_key_id, access_key_secret, **overrides):
        """tea-openapi ``Config`` for the official SDK clients, aimed at this localcloud."""
        from alibabacloud_tea_openapi.models import Config
        kwargs = dict(access_key_id=access_key_id, access_key_secret=access_key_secret, endpoint=self.endpoint,
                      protocol="http", region_id=self.info()["region"], connect_timeout=5000, read_timeout=10000)
        kwargs.update(overrides)
        return Config(**kwargs)

    # -- holds ----------------------------------------------------------------------------------
    def hold(self, access_key_id, action, when="before", nth=1, timeout=None):
        """Park the ``nth`` call of ``action`` by ``access_key_id`` (None: any caller); return the hold id."""
        return self._post("/holds", {"accessKeyId": access_key_id, "action": action, "when": when, "nth": nth,
                                     "timeout": timeout})["id"]

    def wait_held(self, hold_id, timeout=10.0):
        """True once the hold's call is parked; False if not within ``timeout`` seconds."""
        return self._post(f"/holds/{quote(hold_id, safe='')}/wait", {"timeout": timeout},
                          timeout=timeout + self.timeout)["held"]

    def release(self, hold_id):
        return self._post(f"/holds/{quote(hold_id, safe='')}/release")

    # -- callers --------------------------------------------------------------------------------
    def add_caller(self, access_key_id=None, access_key_secret=None, policy=None, security_token=None):
        """Register one more AccessKey pair (generated here if not given: the secret never comes back
        from the server) and optionally hold it to a RAM ``policy``; return ``(id, secret)``."""
        access_key_id = access_key_id or "LTAI" + secrets.token_hex(10)
        access_key_secret = access_key_secret or secrets.token_urlsafe(24)
        body = {"accessKeyId": access_key_id, "accessKeySecret": access_key_secret}
        if policy is not None:
            body["policy"] = policy
        if security_token:
            body["securityToken"] = security_token
        self._post("/callers", body)
        return access_key_id, access_key_secret

    def remove_caller(self, access_key_id):
        self.request("DELETE", f"/callers/{quote(access_key_id, safe='')}")

    def callers(self):
        return self._get("/callers")["callers"]

    def attach_caller_policy(self, document, access_key_id=None):
        """Hold a caller (default: this cloud's own key) to a RAM policy document."""
        key = access_key_id or self.info()["accessKeyId"]
        self._post(f"/callers/{quote(key, safe='')}/policies", {"document": document})

    def detach_caller_policies(self, access_key_id=None):
        """Lift the policies of one caller (None: of every caller)."""
        if access_key_id is None:
            self.request("DELETE", "/callers/policies")
        else:
            self.request("DELETE", f"/callers/{quote(access_key_id, safe='')}/policies")

    # -- state (never a credential) -----------------------------------------------------------------
    def inspect(self):
        return self._get("/state")

    def ram_users(self):
        return self._get("/state/ram/users")["users"]

    def ram_user(self, user_name):
        """The user with keys, login profile, policies, groups and MFA device; None if absent."""
        return self._maybe(f"/state/ram/user?name={quote(user_name, safe='')}")

    def ram_account(self):
        return self._get("/state/ram/account")

    def kms_secrets(self):
        return self._get("/state/kms/secrets")["secrets"]

    def kms_secret(self, secret_name):
        """The secret with versions, stages, tags and planned delete time (no value); None if absent."""
        return self._maybe(f"/state/kms/secret?name={quote(secret_name, safe='')}")

    def _maybe(self, path):
        try:
            return self._get(path)
        except ControlError as error:
            if error.status == 404:
                return None
            raise

    def set_quotas(self, **quotas):
        """Adjust RAM quotas (``users``, ``access_keys_per_user``, ...)."""
        return self._post("/ram/quotas", quotas)["quotas"]

    def add_custom_policy(self, policy_name, description=""):
        self._post("/ram/custom-policies", {"name": policy_name, "description": description})

    def kms_tick(self):
        """Run what is due on the cloud's clock now (RAM secret rotations, scheduled deletions); the names
        of the secrets rotated. KMS also does it lazily on every action."""
        return self._post("/kms/tick")["rotated"]

    def save_state(self):
        return self._post("/state/save")

    # -- usage: last logon, key last use, MFA (issue 13) --------------------------------------------
    @staticmethod
    def _when(when):
        return None if when is None else when.isoformat() if hasattr(when, "isoformat") else when

    def set_last_login(self, user_name, when):
        """The user's LastLoginDate (datetime, RFC 3339 text or epoch seconds; None: never logged on)."""
        return self._post("/ram/last-login", {"userName": user_name, "when": self._when(when)})

    def set_key_last_used(self, access_key_id, when):
        """An AccessKey's last use as GetAccessKeyLastUsed reports it (None: never used)."""
        return self._post("/ram/key-last-used", {"accessKeyId": access_key_id, "when": self._when(when)})

    def bind_mfa(self, user_name):
        """Bind a new virtual MFA device to the user; its serial number."""
        return self._post("/ram/mfa", {"userName": user_name, "bound": True})["serialNumber"]

    def unbind_mfa(self, user_name):
        """Unbind and delete the user's MFA device; its serial number."""
        return self._post("/ram/mfa", {"userName": user_name, "bound": False})["serialNumber"]

    def minted_credentials(self):
        """Every credential the cloud minted or stored: the ONE endpoint that returns credentials
        (leak checks search outputs for them). Never print what it returns."""
        return set(self._get("/minted-credentials")["credentials"])


class RemoteFaults:
    """``cloud.faults`` over HTTP: the same methods and arguments."""

    def __init__(self, client):
        self._client = client

    def fail(self, action, code, status=500, times=1, probability=1.0, seed=0, message=None):
        self._client._post("/faults/fail", {"action": action, "code": code, "status": status, "times": times,
                                            "probability": probability, "seed": seed, "message": message})

    def throttle(self, action, times=1):
        self._client._post("/faults/throttle", {"action": action, "times": times})

    def drop(self, action, times=1, after=False):
        self._client._post("/faults/drop", {"action": action, "times": times, "after": after})

    def latency(self, seconds, action=None, times=None):
        self._client._post("/faults/latency", {"seconds": seconds, "action": action, "times": times})

    def rate_limit(self, action, qps):
        self._client._post("/faults/rate-limit", {"action": action, "qps": qps})

    def clear(self):
        self._client._post("/faults/clear")

    def rules(self):
        return self._client._get("/faults")["rules"]


class RemoteClock:
    """The server's clock, usable as a clock object itself (``now()`` is one HTTP round trip)."""

    def __init__(self, client):
        self._client = client

    def describe(self):
        return self._client._get("/clock")

    def now(self):
        return parse_time(self.describe()["time"])

    def time(self):
        return self.describe()["time"]

    def set(self, when, frozen=False):
        when = parse_time(when).isoformat()
        return self._client._post("/clock/set", {"now": when, "frozen": frozen})

    def advance(self, seconds=0, *, days=0, hours=0, minutes=0):
        return self._client._post("/clock/advance", {"seconds": seconds, "minutes": minutes, "hours": hours,
                                                     "days": days})

    def reset(self):
        return self._client._post("/clock/reset")


class RemoteCallLog:
    """``cloud.calls`` over HTTP: ``core.Call`` objects, the same queries."""

    def __init__(self, client):
        self._client = client

    def mark(self):
        return self._client._get("/calls/mark")["mark"]

    def since(self, mark=0):
        return [Call.from_json(c) for c in self._client._get(f"/calls?since={int(mark)}")["calls"]]

    def __iter__(self):
        return iter(self.since(0))

    def __len__(self):
        return self.mark()

    def actions(self, mark=0, ok_only=False):
        return [c.action for c in self.since(mark) if c.ok or not ok_only]

    def mutating(self, mark=0, ok_only=True):
        return [c for c in self.since(mark) if c.mutating and (c.ok or not ok_only)]

    def errors(self, code=None, mark=0):
        return [c for c in self.since(mark) if not c.ok and (code is None or c.code == code)]


class RemoteHolds:
    """``cloud.holds`` over HTTP (place holds with ``ControlClient.hold``)."""

    def __init__(self, client):
        self._client = client

    def list(self):
        return self._client._get("/holds")["holds"]

    def get(self, hold_id):
        return self._client._get(f"/holds/{quote(hold_id, safe='')}")

    def expired(self):
        return self._client._get("/holds")["expired"]

    def release_all(self):
        self._client._post("/holds/release-all")

    def clear(self):
        self._client.request("DELETE", "/holds")
