"""SDK clients (built once per instance) and the one way to call an API.

``Cloud.ram("CreateUser", UserName=...)`` maps an action to the official SDK
method, retries transient failures with exponential backoff and full jitter
(bounded in attempts and total time), logs one line per call with its
RequestId, and returns the response body as a dict with the API's own field
names. The SDKs are imported here, lazily, so cold paths that never call the
cloud never pay for them.
"""
from __future__ import annotations

import importlib
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from ..platform import log
from ..platform.settings import ConfigError, Settings
from .errors import CloudError, TransientError, from_sdk_exception

_SDK = {"ram": "alibabacloud_ram20150501", "kms": "alibabacloud_kms20160120"}


def listed(body: Mapping[str, Any] | None, outer: str, inner: str) -> list[dict[str, Any]]:
    """The items of a list in an API answer: ``listed(body, "Users", "User")`` for
    ``{"Users": {"User": [...]}}``; an absent or empty list is ``[]``."""
    return list(((body or {}).get(outer) or {}).get(inner) or [])


def api_time(value: Any) -> datetime | None:
    """An API timestamp (``2026-11-28T09:00:00Z``) as an aware datetime; None if absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return None


def _snake(action: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", action).lower()


def _credential_client() -> Any:
    """The credentials FC gives the function, through alibabacloud_credentials.

    FC sets ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET/SECURITY_TOKEN (python3.12 has no
    ``context.credentials``). The library's env provider snapshots them at import
    time, so they are read here explicitly; without them its default chain runs.
    """
    from alibabacloud_credentials.client import Client as CredentialClient
    from alibabacloud_credentials.models import Config as CredentialConfig
    ak = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID")
    secret = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    token = os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN")
    if ak and secret:
        if token:
            return CredentialClient(CredentialConfig(type="sts", access_key_id=ak,
                                                     access_key_secret=secret, security_token=token))
        return CredentialClient(CredentialConfig(type="access_key", access_key_id=ak, access_key_secret=secret))
    return CredentialClient()


CREDENTIAL_VARIABLES = ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET")


def check_credentials(env: Mapping[str, str] | None = None) -> None:
    """The execution role's credentials must be in the environment (FC puts them there when the
    function has a role). Without them the SDK's default chain would end at the ECS metadata server
    and every event would look like a network failure (retried, never explained): a ConfigError."""
    env = os.environ if env is None else env
    for name in CREDENTIAL_VARIABLES:
        value = env.get(name, "")
        if not value.strip():
            raise ConfigError(name, f"{name} is not set: the function has no credentials "
                                    "(give it an execution role: `role` in s.yaml)")
        if value != value.strip():
            raise ConfigError(name, f"{name} has leading or trailing whitespace")


# With DEBUG=sdk in the environment (the SDKs' documented troubleshooting switch) these loggers
# print every request URL, query included: RAM takes CreateLoginProfile's Password in the query.
_SDK_HTTP_DEBUG_LOGGERS = ("darabonba-core", "alibabacloud-tea")


# Loggers of the HTTP stack under the SDKs: with the root logger at DEBUG, urllib3 logs every request
# line, query string included ("POST /?...&Password=..."). Their records are scrubbed at the source.
_HTTP_STACK_LOGGERS = ("urllib3", "requests", "aiohttp", "charset_normalizer") + _SDK_HTTP_DEBUG_LOGGERS
_redacting_filter = log.RedactingFilter()


def _silence_sdk_http_debug() -> None:
    """The SDK modules set their loggers to DEBUG when imported: raise them above it afterwards. And
    whatever level anyone sets later (the root logger at DEBUG), every record of the HTTP stack's
    loggers is scrubbed of credentials before any handler sees it: a logger's filters run for the
    records logged on it, so the filter goes on every such logger that exists (the SDK is imported
    by now, so urllib3's module loggers do) and on the known names."""
    import logging
    for name in _SDK_HTTP_DEBUG_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    names = {n for n in logging.root.manager.loggerDict
             if n.split(".")[0] in _HTTP_STACK_LOGGERS}
    names |= {"urllib3.connectionpool", "urllib3.util.retry", "urllib3.connection", "urllib3.poolmanager",
              "urllib3.response", *_HTTP_STACK_LOGGERS}
    for name in names:
        target = logging.getLogger(name)
        if _redacting_filter not in target.filters:
            target.addFilter(_redacting_filter)


class Cloud:
    """RAM and KMS for one function instance."""

    def __init__(self, settings: Settings, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        self.settings = settings
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._credential: Any = None

    def _client(self, service: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                from alibabacloud_tea_openapi.models import Config
                if self._credential is None:
                    self._credential = _credential_client()
                s = self.settings
                endpoint = s.ram_endpoint if service == "ram" else s.kms_endpoint
                module = importlib.import_module(f"{_SDK[service]}.client")
                _silence_sdk_http_debug()
                client = module.Client(Config(
                    credential=self._credential, endpoint=endpoint, protocol=s.protocol,
                    region_id=s.region, connect_timeout=s.connect_timeout_ms, read_timeout=s.read_timeout_ms))
                self._clients[service] = client
            return client

    def ram(self, action: str, **params: Any) -> dict[str, Any]:
        return self.call("ram", action, params)

    def kms(self, action: str, **params: Any) -> dict[str, Any]:
        return self.call("kms", action, params)

    def call(self, service: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        client = self._client(service)
        models = importlib.import_module(f"{_SDK[service]}.models")
        request_class = getattr(models, f"{action}Request", None)
        method = getattr(client, f"{_snake(action)}_with_options")
        from darabonba.runtime import RuntimeOptions
        runtime = RuntimeOptions(autoretry=False, connect_timeout=self.settings.connect_timeout_ms,
                                 read_timeout=self.settings.read_timeout_ms)
        if request_class is None:   # actions without parameters (GetAccountAlias, GetPasswordPolicy)
            return self._with_retry(action, lambda: method(runtime))
        request = request_class().from_map({k: v for k, v in params.items() if v is not None})
        return self._with_retry(action, lambda: method(request, runtime))

    def _with_retry(self, action: str, send: Callable[[], Any]) -> dict[str, Any]:
        s = self.settings
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = send()
            except Exception as exc:  # noqa: BLE001 - every SDK failure is classified below
                err = exc if isinstance(exc, CloudError) else from_sdk_exception(action, exc)
            else:
                body: dict[str, Any] = response.body.to_map() if response.body is not None else {}
                log.info("api", action=action, requestId=body.get("RequestId"), outcome="ok", attempt=attempt)
                return body
            log.info("api", action=action, requestId=err.request_id, outcome=err.code, attempt=attempt,
                     status=err.status)
            if not err.transient:
                raise err
            # Full jitter, capped: quotas are per second, so a throttled caller that sleeps far
            # longer than the window only leaves capacity unused (bench/RESULTS.md, bulk).
            delay = self._rng.uniform(0, min(s.retry_cap_seconds, s.retry_base_seconds * (2 ** (attempt - 1))))
            # Throttling says "come back in a moment", not "broken": it is bounded by the time
            # budget (and a hard 10x attempts ceiling), other transient errors by attempts too.
            max_attempts = s.retry_max_attempts * (10 if err.throttled else 1)
            if attempt >= max_attempts or time.monotonic() - started + delay > s.retry_max_seconds:
                raise TransientError(str(err)) from None
            self._sleep(delay)

    def try_ram(self, action: str, **params: Any) -> dict[str, Any] | None:
        """Like ``ram`` but returns None where the API says the thing does not exist."""
        return self._try(self.ram, action, params)

    def try_kms(self, action: str, **params: Any) -> dict[str, Any] | None:
        return self._try(self.kms, action, params)

    @staticmethod
    def _try(call: Callable[..., dict[str, Any]], action: str, params: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return call(action, **params)
        except CloudError as err:
            if err.not_found:
                return None
            raise
