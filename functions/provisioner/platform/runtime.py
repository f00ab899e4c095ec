"""What one function instance builds once and reuses: settings, clients, caches."""
from __future__ import annotations

import threading
from typing import Any

from . import log
from .settings import ConfigError, Settings

_lock = threading.Lock()
_settings: Settings | None = None
_runtime: Runtime | None = None
_context_account_id: str | None = None      # FC's context.account_id of the current invocation


def note_context(context: Any) -> None:
    """Remember what FC's ``context`` says about the account (FC3's python runtime: ``account_id``).
    One invocation at a time per instance (instanceConcurrency 1), so a module variable will do."""
    global _context_account_id
    value = getattr(context, "account_id", None) if context is not None else None
    _context_account_id = value if isinstance(value, str) and value.isascii() and value.isdigit() else None


def settings() -> Settings:
    """Settings from the environment, validated once per instance."""
    global _settings
    with _lock:
        if _settings is None:
            _settings = Settings.from_env()
            log.set_level(_settings.log_level)
        return _settings


class Runtime:
    def __init__(self, settings_: Settings) -> None:
        from ..cloud.clients import Cloud
        from ..cloud.secret_store import SecretStore
        self.settings = settings_
        self.cloud = Cloud(settings_)
        self.secrets = SecretStore(self.cloud, settings_)
        self._alias: str | None = None
        self._alias_lock = threading.Lock()

    def logon_suffix(self) -> str:
        """``<alias>.onaliyun.com``, or ``<account id>.onaliyun.com`` (RAM's default domain) when the
        account has no alias; cached per instance. Never a placeholder: with neither, ConfigError."""
        with self._alias_lock:
            if self._alias is None:
                alias = (self.cloud.ram("GetAccountAlias").get("AccountAlias") or "").strip()
                alias = alias or self.account_id()
                if not alias:
                    raise ConfigError("ACCOUNT_ID", "the account has no alias and its id is unknown (FC's "
                                      "context.account_id, FC_ACCOUNT_ID and ACCOUNT_ID are all unset): the "
                                      "logon name cannot be formed; set ACCOUNT_ID or an account alias")
                self._alias = alias
            return f"{self._alias}.onaliyun.com"

    def account_id(self) -> str:
        """The account id from FC's context, else FC_ACCOUNT_ID, else ACCOUNT_ID; "" when none is set."""
        return _context_account_id or self.settings.account_id


def get() -> Runtime:
    """The instance's Runtime, built on first use (so invalid events never import an SDK)."""
    global _runtime
    s = settings()
    with _lock:
        if _runtime is None:
            from ..cloud.clients import check_credentials
            check_credentials()
            _runtime = Runtime(s)
        return _runtime


def reset() -> None:
    """Forget settings and clients (tests switch environments between cases)."""
    global _settings, _runtime
    with _lock:
        _settings = None
        _runtime = None
