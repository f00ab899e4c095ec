"""localcloud: a local Alibaba Cloud RAM + KMS emulator for tests, demo and benchmarks.

    from localcloud import LocalCloud
    with LocalCloud() as cloud:
        Config(access_key_id=cloud.access_key_id, access_key_secret=cloud.access_key_secret,
               endpoint=cloud.endpoint, protocol="http")

Never deployed: it exists so every promise the functions make is tested
against something as strict as the real services.
"""
import secrets
from dataclasses import dataclass

from . import views
from .clock import Clock, parse_time
from .controlapi import CONTROL_PREFIX, ControlAPI
from .core import Gateway
from .holds import DEFAULT_TIMEOUT as DEFAULT_HOLD_TIMEOUT
from .holds import Holds
from .server import Server
from .signing import Authenticator
from .state import StateFile
from .userkeys import UserKeys

__all__ = ["LocalCloud", "Account", "Clock"]


@dataclass
class Account:
    account_id: str
    region: str
    alias: str = ""

    def host_for(self, service):
        name = service.name if service else "openapi"
        return f"{name}.{self.region}.aliyuncs.com" if name == "kms" else f"{name}.aliyuncs.com"


def _services():
    from .kms.responses import SERVICE as KMS
    from .ram.responses import SERVICE as RAM
    return [RAM, KMS]


class LocalCloud:
    """RAM 2015-05-01 and KMS 2016-01-20 on one loopback endpoint (or in-process).

    ``clock``: any object with a ``now()`` returning an aware datetime (default: this cloud's own
    ``Clock``, real time until moved). ``hold_timeout``: seconds a parked call waits for
    ``release`` before it is let go and reported. ``state_file``: keep state across restarts
    (loaded if it exists, saved after every change; it holds credentials: mode 0600).
    """

    def __init__(self, access_key_id=None, access_key_secret=None, region="cn-hangzhou",
                 account_id="1234567890123456", account_alias="", host="127.0.0.1", port=0,
                 security_token=None, clock=None, hold_timeout=DEFAULT_HOLD_TIMEOUT, state_file=None):
        self._state = StateFile(state_file) if state_file else None
        saved = self._state.load() if self._state else None
        if saved is not None:                    # the saved account is the one its state belongs to
            account = saved["account"]
            region, account_id, account_alias = account["region"], account["accountId"], account["alias"]
            if access_key_id is None and access_key_secret is None:
                access_key_id = saved["primaryAccessKeyId"]
                access_key_secret = saved["credentials"][access_key_id]
                security_token = saved["securityTokens"].get(access_key_id)
        self.access_key_id = access_key_id or "LTAI" + secrets.token_hex(10)
        self.access_key_secret = access_key_secret or secrets.token_urlsafe(24)
        self.security_token = security_token
        self.region = region
        self.account_id = account_id
        self.account = Account(account_id=account_id, region=region, alias=account_alias)
        tokens = {self.access_key_id: security_token} if security_token else {}
        self.authenticator = Authenticator({self.access_key_id: self.access_key_secret}, tokens)
        self.gateway = Gateway(_services(), self.authenticator, self.account, clock=clock,
                               holds=Holds(default_timeout=hold_timeout))
        self.user_keys = UserKeys(lambda: self.gateway.backends["ram"])
        self.authenticator.user_keys = self.gateway.authorizer.user_keys = self.user_keys
        self._fingerprint_key = secrets.token_hex(32)
        self._host, self._port = host, port
        self._server = None
        if saved is not None:
            self._restore(saved)
        if self._state is not None:
            self.gateway.on_change = self.save_state
            self.save_state()

    # -- lifecycle ---------------------------------------------------------
    def start(self):
        self._server = Server(self.gateway, self._host, self._port, control=ControlAPI(self))
        self._server.start()
        return self

    def stop(self):
        self.gateway.holds.release_all()         # a parked request must not outlive the server
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._state is not None:
            self.save_state()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def endpoint(self):
        if self._server is None:
            raise RuntimeError("LocalCloud is not started")
        return self._server.address

    @property
    def control_endpoint(self):
        """Base URL of the control API (``/_localcloud``) on this cloud's server."""
        return f"http://{self.endpoint}{CONTROL_PREFIX}"

    # -- inspection and control -------------------------------------------
    @property
    def ram(self):
        return self.gateway.backends["ram"]

    @property
    def kms(self):
        return self.gateway.backends["kms"]

    @property
    def calls(self):
        return self.gateway.calls

    @property
    def faults(self):
        return self.gateway.faults

    def reset(self):
        """Fresh RAM and KMS state, empty call log, no faults, no holds (parked calls are released),
        this cloud's own clock back to real time. Callers and their policies are kept."""
        self.gateway.reset()
        self._changed()

    # -- the clock ------------------------------------------------------------
    @property
    def clock(self):
        """The clock every time-dependent part of localcloud reads (see ``localcloud/clock.py``)."""
        return self.gateway.clock

    def use_clock(self, clock=None):
        """Read time from ``clock`` (any object with ``now()`` returning an aware datetime), e.g. the
        one the functions under test read; None returns to this cloud's own ``Clock``."""
        used = self.gateway.use_clock(clock)
        self._changed()
        return used

    # -- holds ------------------------------------------------------------------
    @property
    def holds(self):
        return self.gateway.holds

    def hold(self, access_key_id, action, when="before", nth=1, timeout=None):
        """Park the ``nth`` call of ``action`` by ``access_key_id`` (None: any caller) ``before`` it
        runs or ``after`` it ran (answer withheld); return the hold's id. See ``localcloud/holds.py``."""
        return self.gateway.holds.add(access_key_id, action, when=when, nth=nth, timeout=timeout)

    def wait_held(self, hold_id, timeout=10.0):
        """True once the hold's call is parked; False if that did not happen within ``timeout``."""
        return self.gateway.holds.wait_held(hold_id, timeout)

    def release(self, hold_id):
        """Let the parked call go on (or cancel the hold if nothing is parked yet); return the hold."""
        return self.gateway.holds.release(hold_id)

    # -- callers (gateway credentials) -----------------------------------------
    def attach_caller_policy(self, document, access_key_id=None):
        """Restrict a caller (default: this cloud's own key, the one ``function_env`` hands the
        functions) to a RAM policy document, enforced on every request like RAM does."""
        self.gateway.authorizer.attach(access_key_id or self.access_key_id, document)
        self._changed()

    def attach_user_policy(self, user_name, document):
        """Let a RAM user's own AccessKeys (whatever their ids, across rotations) call what
        ``document`` allows; without one they authenticate but may do nothing (NoPermission)."""
        self.gateway.authorizer.attach(self.gateway.authorizer.user_principal(user_name), document)
        self._changed()

    def detach_caller_policies(self, access_key_id=None):
        """Lift the policies of one caller (None: of every caller)."""
        self.gateway.authorizer.detach_all(access_key_id)
        self._changed()

    def add_caller(self, access_key_id=None, access_key_secret=None, policy=None, security_token=None):
        """Accept one more AccessKey pair (e.g. one simulated FC instance), optionally held to a RAM
        ``policy`` document; return ``(access_key_id, access_key_secret)``."""
        access_key_id = access_key_id or "LTAI" + secrets.token_hex(10)
        access_key_secret = access_key_secret or secrets.token_urlsafe(24)
        if access_key_id == self.access_key_id:
            raise ValueError("that is this cloud's own AccessKeyId")
        if policy is not None:                   # validate before registering anything
            self.gateway.authorizer.attach(access_key_id, policy)
        self.authenticator.credentials[access_key_id] = access_key_secret
        if security_token:
            self.authenticator.security_tokens[access_key_id] = security_token
        else:
            self.authenticator.security_tokens.pop(access_key_id, None)
        self._changed()
        return access_key_id, access_key_secret

    def remove_caller(self, access_key_id):
        """Forget a caller added with ``add_caller`` (and its policies)."""
        if access_key_id == self.access_key_id:
            raise ValueError("this cloud's own AccessKeyId cannot be removed")
        if self.authenticator.credentials.pop(access_key_id, None) is None:
            raise KeyError(f"no caller {access_key_id}")
        self.authenticator.security_tokens.pop(access_key_id, None)
        self.gateway.authorizer.detach_all(access_key_id)
        self._changed()

    def callers(self):
        """Every accepted AccessKeyId (never a secret), whether it is this cloud's own and its policy."""
        policies = self.gateway.authorizer.policies()
        return [{"accessKeyId": key, "primary": key == self.access_key_id,
                 "securityToken": key in self.authenticator.security_tokens,
                 "restricted": key in policies, "statements": policies.get(key, [])}
                for key in sorted(self.authenticator.credentials)]

    # -- usage: last logon, key last use, MFA (issue 13; the control API serves the same) ----
    @staticmethod
    def _epoch(when):
        return None if when is None else parse_time(when).timestamp()

    def set_last_login(self, user_name, when):
        """A user's LastLoginDate (a datetime, RFC 3339 text or epoch seconds; None: never)."""
        self.ram.set_last_login(user_name, self._epoch(when))
        self._changed()

    def set_key_last_used(self, access_key_id, when):
        """An AccessKey's last use, as GetAccessKeyLastUsed reports it (None: never used)."""
        self.ram.set_key_last_used(access_key_id, self._epoch(when))
        self._changed()

    def bind_mfa(self, user_name):
        """Bind a new virtual MFA device to the user, as the user does at logon; its serial number."""
        serial = self.ram.bind_mfa_for_test(user_name)
        self._changed()
        return serial

    def unbind_mfa(self, user_name):
        """Unbind and delete the user's MFA device; its serial number."""
        serial = self.ram.unbind_mfa_for_test(user_name)
        self._changed()
        return serial

    # -- state views (no credentials; the control API serves the same) ---------
    def fingerprint(self, value):
        """HMAC-SHA256 of ``value`` under this cloud's key, 16 hex digits (see ``localcloud/views.py``)."""
        return views.Fingerprinter(self._fingerprint_key)(value)

    def ram_user(self, user_name):
        return views.ram_user(self.ram, user_name, self.fingerprint)

    def ram_users(self):
        return views.ram_users(self.ram, self.fingerprint)

    def ram_account(self):
        return views.ram_account(self.ram)

    def kms_secret(self, secret_name):
        return views.kms_secret(self.kms, secret_name, self.fingerprint)

    def kms_secrets(self):
        return views.kms_secrets(self.kms, self.fingerprint)

    def inspect(self):
        """All of RAM and KMS as the control API's ``GET /_localcloud/state`` shows it."""
        return {"ram": {"account": self.ram_account(), "users": self.ram_users()},
                "kms": {"secrets": self.kms_secrets()}}

    # -- persistence --------------------------------------------------------------
    @property
    def state_file(self):
        return self._state.path if self._state else None

    def _changed(self):
        if self._state is not None:
            self.save_state()

    def save_state(self):
        """Write the state file now (atomic); a no-op without ``state_file``."""
        if self._state is not None:
            self._state.save(self._snapshot)

    def _snapshot(self):
        clock = self.gateway.own_clock.snapshot()
        return {"account": {"accountId": self.account_id, "region": self.region, "alias": self.account.alias},
                "primaryAccessKeyId": self.access_key_id,
                "credentials": dict(self.authenticator.credentials),
                "securityTokens": dict(self.authenticator.security_tokens),
                "callerPolicies": self.gateway.authorizer.policies(),
                "clock": clock, "fingerprintKey": self._fingerprint_key,
                "ram": self.ram.snapshot(), "kms": self.kms.snapshot()}

    def _restore(self, saved):
        primary = self.access_key_id     # an explicitly given key replaces the saved primary's secret
        for key, secret in saved["credentials"].items():
            if key != primary:
                self.authenticator.credentials[key] = secret
        for key, token in saved["securityTokens"].items():
            if key != primary:
                self.authenticator.security_tokens[key] = token
        self.gateway.authorizer.restore(saved.get("callerPolicies", {}))
        self.gateway.own_clock.restore(saved.get("clock", {}))
        self._fingerprint_key = saved.get("fingerprintKey", self._fingerprint_key)
        self.ram.restore(saved["ram"])
        self.kms.restore(saved["kms"])

    # -- SDK and functions ------------------------------------------------------------
    def invoke(self, action, params=None, version=None):
        """In-process mode: same backends and semantics, no HTTP, no signature."""
        if version is None:
            version = next(v for v, s in self.gateway.services.items()
                           if action in s.actions) if any(
                action in s.actions for s in self.gateway.services.values()) else ""
        return self.gateway.handle(action, version, {k: str(v) for k, v in (params or {}).items()})

    def client_config(self, **overrides):
        """tea-openapi ``Config`` for the official SDK clients."""
        from alibabacloud_tea_openapi.models import Config
        kwargs = dict(access_key_id=self.access_key_id, access_key_secret=self.access_key_secret,
                      security_token=self.security_token, endpoint=self.endpoint, protocol="http",
                      region_id=self.region, connect_timeout=5000, read_timeout=10000)
        kwargs.update(overrides)
        return Config(**kwargs)

    def function_env(self):
        """Environment the functions read to talk to this emulator."""
        env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": self.access_key_id,
               "ALIBABA_CLOUD_ACCESS_KEY_SECRET": self.access_key_secret,
               "REGION": self.region, "RAM_ENDPOINT": self.endpoint,
               "KMS_ENDPOINT": self.endpoint, "OPENAPI_PROTOCOL": "http"}
        if self.security_token:
            env["ALIBABA_CLOUD_SECURITY_TOKEN"] = self.security_token
        return env

    def minted_credentials(self):
        """Every AccessKeySecret and password this cloud has seen or minted (for leak checks)."""
        found = set(self.ram.minted_credentials())
        found.update(self.kms.minted_credentials())
        return found
