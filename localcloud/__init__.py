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

from .core import Gateway
from .server import Server
from .signing import Authenticator

__all__ = ["LocalCloud", "Account"]


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
    """RAM 2015-05-01 and KMS 2016-01-20 on one loopback endpoint (or in-process)."""

    def __init__(self, access_key_id=None, access_key_secret=None, region="cn-hangzhou",
                 account_id="1234567890123456", account_alias="", host="127.0.0.1", port=0,
                 security_token=None):
        self.access_key_id = access_key_id or "LTAI" + secrets.token_hex(10)
        self.access_key_secret = access_key_secret or secrets.token_urlsafe(24)
        self.security_token = security_token
        self.region = region
        self.account_id = account_id
        self.account = Account(account_id=account_id, region=region, alias=account_alias)
        tokens = {self.access_key_id: security_token} if security_token else {}
        self.authenticator = Authenticator({self.access_key_id: self.access_key_secret}, tokens)
        self.gateway = Gateway(_services(), self.authenticator, self.account)
        self._host, self._port = host, port
        self._server = None

    # -- lifecycle ---------------------------------------------------------
    def start(self):
        self._server = Server(self.gateway, self._host, self._port)
        self._server.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def endpoint(self):
        if self._server is None:
            raise RuntimeError("LocalCloud is not started")
        return self._server.address

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
        """Fresh RAM and KMS state, empty call log, no faults."""
        self.gateway.reset()
        self.account.alias = self.account.alias  # the alias is account config, kept

    def attach_caller_policy(self, document, access_key_id=None):
        """Restrict a caller (default: this cloud's own key, the one ``function_env`` hands the
        functions) to a RAM policy document, enforced on every request like RAM does."""
        self.gateway.authorizer.attach(access_key_id or self.access_key_id, document)

    def detach_caller_policies(self, access_key_id=None):
        self.gateway.authorizer.detach_all(access_key_id)

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
