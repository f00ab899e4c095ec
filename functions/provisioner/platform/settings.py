"""Settings from environment variables, read once per instance and validated."""
import ipaddress
import os
from dataclasses import dataclass

_TRUE = ("1", "true", "yes", "on")


class ConfigError(ValueError):
    """A setting is invalid; the message names the variable, never a secret value."""


def is_loopback(endpoint):
    host = endpoint.rsplit("://", 1)[-1].split("/", 1)[0]
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _number(env, name, default, low, high, kind=int):
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise ConfigError(f"{name} must be {noun}, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _int(env, name, default, low, high):
    return _number(env, name, default, low, high, int)


def _float(env, name, default, low, high):
    return _number(env, name, default, low, high, float)


_ROBOT_HOSTS = {"oapi.dingtalk.com": "dingtalk", "open.feishu.cn": "lark", "open.larksuite.com": "lark"}


def _notify(env):
    """NOTIFY_WEBHOOK_URL (a DingTalk or Lark custom robot; empty: no notifications) and its kind."""
    from urllib.parse import urlsplit
    url = env.get("NOTIFY_WEBHOOK_URL", "").strip()
    kind = (env.get("NOTIFY_KIND") or "").strip().lower()
    if not url:
        return "", kind or "dingtalk"
    split = urlsplit(url)
    if not split.netloc or split.scheme not in ("https", "http"):
        raise ConfigError("NOTIFY_WEBHOOK_URL must be an https:// URL of a DingTalk or Lark custom robot")
    if split.scheme == "http" and not is_loopback(split.netloc):
        raise ConfigError("NOTIFY_WEBHOOK_URL must use https (http is allowed only for loopback receivers)")
    kind = kind or _ROBOT_HOSTS.get(split.hostname or "", "")
    if kind not in ("dingtalk", "lark"):
        raise ConfigError("NOTIFY_KIND must be dingtalk or lark (it cannot be told from NOTIFY_WEBHOOK_URL's host)")
    return url, kind


@dataclass(frozen=True)
class Settings:
    region: str = "cn-hangzhou"
    ram_endpoint: str = "ram.aliyuncs.com"
    kms_endpoint: str = "kms.cn-hangzhou.aliyuncs.com"
    protocol: str = "https"
    secret_prefix: str = "ram-user/"  # noqa: S105 - a secret's name prefix, not a secret
    secret_type: str = "Generic"  # noqa: S105 - a KMS secret type name
    kms_encryption_key_id: str = ""
    kms_instance_id: str = ""
    webhook_signing_key: str = ""
    webhook_tolerance_seconds: int = 300
    max_body_bytes: int = 262_144
    log_level: str = "INFO"
    hr_timezone: str = "UTC"
    offboard_grace_days: int = 30
    offboard_max_deletions_per_run: int = 20
    offboard_dry_run: bool = False
    secret_recovery_days: int = 30
    connect_timeout_ms: int = 3_000
    read_timeout_ms: int = 10_000
    retry_max_attempts: int = 5
    retry_max_seconds: float = 20.0
    retry_base_seconds: float = 0.2
    retry_cap_seconds: float = 1.0
    batch_concurrency: int = 4
    max_event_age_days: int = 7
    max_clock_skew_seconds: int = 300
    notify_webhook_url: str = ""
    notify_webhook_secret: str = ""
    notify_kind: str = "dingtalk"
    notify_timeout_ms: int = 3_000

    @classmethod
    def from_env(cls, env=None):
        env = os.environ if env is None else env
        region = env.get("REGION") or env.get("ALIBABA_CLOUD_REGION_ID") or env.get("FC_REGION") or cls.region
        protocol = (env.get("OPENAPI_PROTOCOL") or "https").lower()
        ram = env.get("RAM_ENDPOINT") or "ram.aliyuncs.com"
        kms = env.get("KMS_ENDPOINT") or f"kms.{region}.aliyuncs.com"
        if protocol not in ("https", "http"):
            raise ConfigError(f"OPENAPI_PROTOCOL must be https or http, got {protocol!r}")
        if protocol == "http" and not (is_loopback(ram) and is_loopback(kms)):
            raise ConfigError("OPENAPI_PROTOCOL=http is allowed only for loopback endpoints "
                              "(RAM_ENDPOINT/KMS_ENDPOINT); use https for real accounts")
        secret_type = env.get("SECRET_TYPE") or "Generic"
        if secret_type not in ("Generic", "RAMCredentials"):
            raise ConfigError(f"SECRET_TYPE must be Generic or RAMCredentials, got {secret_type!r}")
        prefix = env.get("SECRET_PREFIX", cls.secret_prefix)
        if prefix.startswith("acs/") or any(not (c.isascii() and (c.isalnum() or c in "_/+=.@-")) for c in prefix):
            raise ConfigError("SECRET_PREFIX may hold only letters, digits and _/+=.@- and may not start with acs/")
        level = (env.get("LOG_LEVEL") or "INFO").upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
        tz = env.get("HR_TIMEZONE") or "UTC"
        try:
            from zoneinfo import ZoneInfo
            ZoneInfo(tz)
        except Exception:  # noqa: BLE001 - any failure means the name is unusable
            raise ConfigError(f"HR_TIMEZONE is not a known IANA time zone: {tz!r}") from None
        recovery = _int(env, "SECRET_RECOVERY_DAYS", 30, 7, 30)
        grace = _int(env, "OFFBOARD_GRACE_DAYS", 30, 0, 3650)
        max_age = _int(env, "MAX_EVENT_AGE_DAYS", 7, 1, 3650)
        if max_age > recovery + grace:
            # the ledger (the history a stale event is judged by) outlives a deleted user by
            # SECRET_RECOVERY_DAYS; anything older than that must be refused by age alone
            raise ConfigError(f"MAX_EVENT_AGE_DAYS must be at most SECRET_RECOVERY_DAYS + OFFBOARD_GRACE_DAYS "
                              f"({recovery + grace}), got {max_age}")
        notify_url, notify_kind = _notify(env)
        return cls(
            notify_webhook_url=notify_url, notify_kind=notify_kind,
            notify_webhook_secret=env.get("NOTIFY_WEBHOOK_SECRET", ""),
            notify_timeout_ms=_int(env, "NOTIFY_TIMEOUT_MS", 3_000, 100, 10_000),
            region=region, ram_endpoint=ram, kms_endpoint=kms, protocol=protocol,
            secret_prefix=prefix, secret_type=secret_type,
            kms_encryption_key_id=env.get("KMS_ENCRYPTION_KEY_ID", ""),
            kms_instance_id=env.get("KMS_INSTANCE_ID", ""),
            webhook_signing_key=env.get("WEBHOOK_SIGNING_KEY", ""),
            webhook_tolerance_seconds=_int(env, "WEBHOOK_TOLERANCE_SECONDS", 300, 1, 3600),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 262_144, 1_024, 6_291_456),
            log_level=level, hr_timezone=tz,
            offboard_grace_days=grace,
            offboard_max_deletions_per_run=_int(env, "OFFBOARD_MAX_DELETIONS_PER_RUN", 20, 0, 100_000),
            offboard_dry_run=(env.get("OFFBOARD_DRY_RUN", "").lower() in _TRUE),
            secret_recovery_days=recovery,
            connect_timeout_ms=_int(env, "OPENAPI_CONNECT_TIMEOUT_MS", 3_000, 100, 60_000),
            read_timeout_ms=_int(env, "OPENAPI_READ_TIMEOUT_MS", 10_000, 100, 120_000),
            retry_max_attempts=_int(env, "RETRY_MAX_ATTEMPTS", 5, 1, 20),
            retry_max_seconds=_float(env, "RETRY_MAX_SECONDS", 20.0, 0.0, 600.0),
            retry_base_seconds=_float(env, "RETRY_BASE_SECONDS", 0.2, 0.0, 10.0),
            retry_cap_seconds=_float(env, "RETRY_CAP_SECONDS", 1.0, 0.0, 60.0),
            batch_concurrency=_int(env, "BATCH_CONCURRENCY", 4, 1, 32),
            max_event_age_days=max_age,
            max_clock_skew_seconds=_int(env, "MAX_CLOCK_SKEW_SECONDS", 300, 0, 86_400),
        )

    def secret_name(self, logon_name):
        return f"{self.secret_prefix}{logon_name}"
