"""What one function instance builds once and reuses: settings, clients, caches."""
import threading

from . import log
from .settings import Settings

_lock = threading.Lock()
_settings = None
_runtime = None


def settings():
    """Settings from the environment, validated once per instance."""
    global _settings
    with _lock:
        if _settings is None:
            _settings = Settings.from_env()
            log.set_level(_settings.log_level)
        return _settings


class Runtime:
    def __init__(self, settings_):
        from ..cloud.clients import Cloud
        from ..cloud.secret_store import SecretStore
        self.settings = settings_
        self.cloud = Cloud(settings_)
        self.secrets = SecretStore(self.cloud, settings_)
        self._alias = None
        self._alias_lock = threading.Lock()

    def logon_suffix(self):
        """``<alias>.onaliyun.com``, or the account id when no alias is set; cached per instance."""
        with self._alias_lock:
            if self._alias is None:
                alias = (self.cloud.ram("GetAccountAlias").get("AccountAlias") or "").strip()
                self._alias = alias or self._account_id()
            return f"{self._alias}.onaliyun.com"

    def _account_id(self):
        # FC exposes the account id as FC_ACCOUNT_ID; without it, the caller identity is unknown
        # to RAM's API, so fall back to the configured ACCOUNT_ID.
        import os
        return os.environ.get("FC_ACCOUNT_ID") or os.environ.get("ACCOUNT_ID") or "account"


def get():
    """The instance's Runtime, built on first use (so invalid events never import an SDK)."""
    global _runtime
    s = settings()
    with _lock:
        if _runtime is None:
            _runtime = Runtime(s)
        return _runtime


def reset():
    """Forget settings and clients (tests switch environments between cases)."""
    global _settings, _runtime
    with _lock:
        _settings = None
        _runtime = None
