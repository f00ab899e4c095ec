"""Settings from environment variables, read once per instance and validated.

Every value is checked; nothing is silently corrected. The rules:

- unset: the documented default. Set: used exactly as written, so a value with a space at either
  end is an error (``'true '``), and so is an empty one, except where the README documents empty
  as "none" (KMS_ENDPOINT, KMS_ENCRYPTION_KEY_ID, KMS_INSTANCE_ID, WEBHOOK_SIGNING_KEY, ACCOUNT_ID).
- booleans (OFFBOARD_DRY_RUN, AUDIT_FIXES): ``true`` or ``false``, in any letter case; nothing else (not ``1``,
  ``yes``, ``y``, ``on``, ``enabled``): a typo must not turn the dry run off.
- numbers: decimal digits (and one ``.`` for the seconds), inside the documented range.
- REGION (else FC_REGION, else ALIBABA_CLOUD_REGION_ID, else cn-hangzhou): lower-case words and
  digits joined by ``-``, e.g. ``cn-hangzhou``, ``ap-southeast-1``.
- SECRET_PREFIX: 1-48 characters of letters, digits and ``_/+=.@-`` (KMS's secret-name characters),
  ending with ``/``, not starting with ``/`` or ``acs/`` (KMS's own namespace), no empty segment.
  The role policy grants ``secret/<prefix>*`` only: changing the prefix means changing
  policies/function-role-policy.json with it (README).
- WEBHOOK_SIGNING_KEY: empty (every webhook refused) or at least 16 characters.
- GRANT_MODE: ``group`` (default: the level's RAM group) or ``user`` (the ARMS policy attached to
  the user). GROUP_READ_ONLY / GROUP_FULL: RAM group names (CreateGroup's rule: 1-64 of letters,
  digits, ``.``, ``_``, ``-``), different from each other (compared ignoring letter case). The role
  policy grants AddUserToGroup on the default names only: changing them means changing
  policies/function-role-policy.json with them (README).

A bad value raises ConfigError naming the variable (``ConfigError.<SETTING>`` is the result's error
code); a secret's value is never echoed.
"""
from __future__ import annotations

import ipaddress
import os
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from ..domain.access import DEFAULT_GROUPS, GRANT_MODES, GROUP

_TRUE, _FALSE = "true", "false"
_REGION_CHARS = frozenset(string.ascii_lowercase + string.digits)
_SECRET_PREFIX_CHARS = frozenset(string.ascii_letters + string.digits + "_/+=.@-")
_HOST_CHARS = frozenset(string.ascii_letters + string.digits + ".-:[]")
_KEY_ID_CHARS = frozenset(string.ascii_letters + string.digits + "-_:/.")
_INSTANCE_ID_CHARS = frozenset(string.ascii_letters + string.digits + "-_")
_GROUP_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "._-")
MAX_GROUP_NAME = 64
MAX_SECRET_PREFIX = 48
MIN_WEBHOOK_KEY = 16
EMPTY_MEANS_NONE = frozenset({"KMS_ENDPOINT", "KMS_ENCRYPTION_KEY_ID", "KMS_INSTANCE_ID", "WEBHOOK_SIGNING_KEY",
                              "ACCOUNT_ID", "NOTIFY_WEBHOOK_URL", "NOTIFY_WEBHOOK_SECRET", "NOTIFY_KIND"})
SECRET_SETTINGS = frozenset({"WEBHOOK_SIGNING_KEY", "NOTIFY_WEBHOOK_SECRET"})

Env = Mapping[str, str]          # os.environ, or a dict in tests
_Num = TypeVar("_Num", int, float)


class ConfigError(ValueError):
    """A setting is invalid; the message names the variable, never a secret value."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting

    @property
    def code(self) -> str:
        return f"ConfigError.{self.setting}"


def is_loopback(endpoint: str) -> bool:
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


def _shown(name: str, raw: str) -> str:
    return "(value withheld)" if name in SECRET_SETTINGS else repr(raw[:64])


def _raw(env: Env, name: str) -> str | None:
    """The variable as set (None when unset); a space at either end or an empty value is an error."""
    return _checked(name, env.get(name))


def _checked(name: str, raw: str | None) -> str | None:
    if raw is None:
        return None
    if raw != raw.strip():
        raise ConfigError(name, f"{name} has a space at the start or end: {_shown(name, raw)}")
    if raw == "":
        if name in EMPTY_MEANS_NONE:
            return None
        raise ConfigError(name, f"{name} is set but empty: unset it for the default, or give a value")
    return raw


def _number(env: Env, name: str, default: _Num, low: _Num, high: _Num,
            kind: Callable[[str], _Num] = int) -> _Num:
    raw = _raw(env, name)
    if raw is None:
        return default
    whole, dot, fraction = raw.partition(".") if kind is float else (raw, "", "")
    digits = whole + fraction
    if not (digits.isascii() and digits.isdigit() and "." not in fraction):
        noun = "an integer" if kind is int else "a number"
        raise ConfigError(name, f"{name} must be {noun} (decimal digits), got {raw[:64]!r}")
    value = kind(raw)
    if not low <= value <= high:
        raise ConfigError(name, f"{name} must be between {low} and {high}, got {value}")
    return value


def _int(env: Env, name: str, default: int, low: int, high: int) -> int:
    return _number(env, name, default, low, high, int)


def _float(env: Env, name: str, default: float, low: float, high: float) -> float:
    return _number(env, name, default, low, high, float)


def _bool(env: Env, name: str, default: bool) -> bool:
    raw = _raw(env, name)
    if raw is None:
        return default
    if raw.lower() not in (_TRUE, _FALSE):
        raise ConfigError(name, f"{name} must be true or false, got {raw[:64]!r}")
    return raw.lower() == _TRUE


def _region(env: Env) -> str:
    candidates = (("REGION", env.get("REGION")), ("FC_REGION", env.get("FC_REGION")),
                  ("ALIBABA_CLOUD_REGION_ID", env.get("ALIBABA_CLOUD_REGION_ID")))
    for name, value in candidates:
        raw = _checked(name, value)
        if raw is None:
            continue
        parts = raw.split("-")
        if (len(raw) > 32 or len(parts) < 2 or not all(p and _REGION_CHARS.issuperset(p) for p in parts)
                or not parts[0].isalpha()):
            raise ConfigError(name, f"{name} must be a region id such as cn-hangzhou, got {raw[:64]!r}")
        return raw
    return Settings.region


def _endpoint(env: Env, name: str, default: str) -> str:
    raw = _raw(env, name)
    if raw is None:
        return default
    if len(raw) > 253 or not _HOST_CHARS.issuperset(raw) or raw.startswith((".", "-", ":")):
        raise ConfigError(name, f"{name} must be a host name (and port), without scheme or path, got {raw[:64]!r}")
    return raw


def _identifier(env: Env, name: str, allowed: frozenset, longest: int) -> str:
    raw = _raw(env, name)
    if raw is None:
        return ""
    if len(raw) > longest or not allowed.issuperset(raw):
        raise ConfigError(name, f"{name} is not a valid id, got {raw[:64]!r}")
    return raw


def _secret_prefix(env: Env) -> str:
    raw = env.get("SECRET_PREFIX")
    if raw is None:
        return Settings.secret_prefix
    grant = "the role policy grants secret/ram-user/* only (policies/function-role-policy.json): change both together"
    if raw == "":
        raise ConfigError("SECRET_PREFIX", f"SECRET_PREFIX is empty: secrets would be named outside any grant; {grant}")
    if (len(raw) > MAX_SECRET_PREFIX or not _SECRET_PREFIX_CHARS.issuperset(raw) or not raw.endswith("/")
            or raw.startswith(("/", "acs/")) or "//" in raw):
        raise ConfigError("SECRET_PREFIX", f"SECRET_PREFIX must be 1-{MAX_SECRET_PREFIX} letters, digits and _/+=.@-, "
                          f"end with '/', and not start with '/' or acs/, got {raw[:64]!r}; {grant}")
    return raw


def _webhook_key(env: Env) -> str:
    raw = _raw(env, "WEBHOOK_SIGNING_KEY")
    if raw is None:
        return ""
    if len(raw) < MIN_WEBHOOK_KEY:
        raise ConfigError("WEBHOOK_SIGNING_KEY", f"WEBHOOK_SIGNING_KEY is shorter than {MIN_WEBHOOK_KEY} characters "
                          "(value withheld): use a long random key")
    return raw


def _grant_mode(env: Env) -> str:
    raw = _raw(env, "GRANT_MODE")
    if raw is None:
        return GROUP
    if raw not in GRANT_MODES:
        raise ConfigError("GRANT_MODE", f"GRANT_MODE must be {' or '.join(GRANT_MODES)}, got {raw[:64]!r}")
    return raw


def _group_name(env: Env, name: str, default: str) -> str:
    raw = _raw(env, name)
    if raw is None:
        return default
    if len(raw) > MAX_GROUP_NAME or not _GROUP_NAME_CHARS.issuperset(raw):
        raise ConfigError(name, f"{name} must be a RAM group name: 1-{MAX_GROUP_NAME} letters, digits, '.', '_' "
                          f"or '-', got {raw[:64]!r}; the role policy grants AddUserToGroup on the group names "
                          "(policies/function-role-policy.json): change both together")
    return raw


def _groups(env: Env) -> tuple[str, str]:
    read_only = _group_name(env, "GROUP_READ_ONLY", DEFAULT_GROUPS["read-only"])
    full = _group_name(env, "GROUP_FULL", DEFAULT_GROUPS["full"])
    if read_only.lower() == full.lower():
        raise ConfigError("GROUP_FULL", f"GROUP_FULL must differ from GROUP_READ_ONLY (both {full[:64]!r}): one group "
                          "per ARMS level")
    return read_only, full


SCHEMA_FILES = ("onboarding-event.schema.json", "offboarding-event.schema.json", "sweep-payload.schema.json",
                "audit-payload.schema.json", "rotation-payload.schema.json")


def _schema_dir(env: Env) -> None:
    """SCHEMA_DIR, when set, must hold the schemas (else the ones beside the code would be used silently)."""
    raw = _raw(env, "SCHEMA_DIR")
    if raw is not None and not all(os.path.isfile(os.path.join(raw, name)) for name in SCHEMA_FILES):
        raise ConfigError("SCHEMA_DIR", f"SCHEMA_DIR does not hold {' and '.join(SCHEMA_FILES)}: {raw[:64]!r}")


def _account_id(env: Env) -> str:
    for name, value in (("FC_ACCOUNT_ID", env.get("FC_ACCOUNT_ID")), ("ACCOUNT_ID", env.get("ACCOUNT_ID"))):
        raw = _checked(name, value)
        if raw is None:
            continue
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 32):
            raise ConfigError(name, f"{name} must be an Alibaba Cloud account id (digits), got {raw[:64]!r}")
        return raw
    return ""


_ROBOT_HOSTS = {"oapi.dingtalk.com": "dingtalk", "open.feishu.cn": "lark", "open.larksuite.com": "lark"}


def _notify(env: Env) -> tuple[str, str]:
    """NOTIFY_WEBHOOK_URL (a DingTalk or Lark custom robot; empty: no notifications) and its kind."""
    from urllib.parse import urlsplit
    url = _raw(env, "NOTIFY_WEBHOOK_URL") or ""
    kind = (_raw(env, "NOTIFY_KIND") or "").lower()
    if kind and kind not in ("dingtalk", "lark"):
        raise ConfigError("NOTIFY_KIND", f"NOTIFY_KIND must be dingtalk or lark, got {kind[:64]!r}")
    if not url:
        return "", kind or "dingtalk"
    split = urlsplit(url)
    if not split.netloc or split.scheme not in ("https", "http"):
        raise ConfigError("NOTIFY_WEBHOOK_URL",
                          "NOTIFY_WEBHOOK_URL must be an https:// URL of a DingTalk or Lark custom robot")
    if split.scheme == "http" and not is_loopback(split.netloc):
        raise ConfigError("NOTIFY_WEBHOOK_URL",
                          "NOTIFY_WEBHOOK_URL must use https (http is allowed only for loopback receivers)")
    kind = kind or _ROBOT_HOSTS.get(split.hostname or "", "")
    if kind not in ("dingtalk", "lark"):
        raise ConfigError("NOTIFY_KIND",
                          "NOTIFY_KIND must be dingtalk or lark (it cannot be told from NOTIFY_WEBHOOK_URL's host)")
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
    account_id: str = ""
    max_event_age_days: int = 7
    max_clock_skew_seconds: int = 300
    notify_webhook_url: str = ""
    notify_webhook_secret: str = ""
    notify_kind: str = "dingtalk"
    notify_timeout_ms: int = 3_000
    audit_fixes: bool = False          # the audit applies its safe fixes (AUDIT_FIXES; needs the fix policy)
    mfa_grace_days: int = 7            # days a console user may go without MFA (CIS 1.4)
    key_max_age_days: int = 90
    key_rotation_overlap_hours: int = 24
    grant_mode: str = GROUP
    group_read_only: str = DEFAULT_GROUPS["read-only"]
    group_full: str = DEFAULT_GROUPS["full"]

    @classmethod
    def from_env(cls, env: Env | None = None) -> Settings:
        env = os.environ if env is None else env
        region = _region(env)
        protocol_raw = _raw(env, "OPENAPI_PROTOCOL") or "https"
        protocol = protocol_raw.lower()
        ram = _endpoint(env, "RAM_ENDPOINT", "ram.aliyuncs.com")
        kms = _endpoint(env, "KMS_ENDPOINT", f"kms.{region}.aliyuncs.com")
        if protocol not in ("https", "http"):
            raise ConfigError("OPENAPI_PROTOCOL", f"OPENAPI_PROTOCOL must be https or http, got {protocol_raw[:64]!r}")
        if protocol == "http" and not (is_loopback(ram) and is_loopback(kms)):
            raise ConfigError("OPENAPI_PROTOCOL", "OPENAPI_PROTOCOL=http is allowed only for loopback endpoints "
                              "(RAM_ENDPOINT/KMS_ENDPOINT); use https for real accounts")
        secret_type = _raw(env, "SECRET_TYPE") or "Generic"
        if secret_type not in ("Generic", "RAMCredentials"):
            raise ConfigError("SECRET_TYPE", f"SECRET_TYPE must be Generic or RAMCredentials, got {secret_type[:64]!r}")
        prefix = _secret_prefix(env)
        level_raw = _raw(env, "LOG_LEVEL") or "INFO"
        level = level_raw.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError("LOG_LEVEL", f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level_raw[:64]!r}")
        tz = _raw(env, "HR_TIMEZONE") or "UTC"
        try:
            from zoneinfo import ZoneInfo
            ZoneInfo(tz)
        except Exception:  # noqa: BLE001 - any failure means the name is unusable
            raise ConfigError("HR_TIMEZONE", f"HR_TIMEZONE is not a known IANA time zone: {tz[:64]!r}") from None
        _schema_dir(env)
        recovery = _int(env, "SECRET_RECOVERY_DAYS", 30, 7, 30)
        grace = _int(env, "OFFBOARD_GRACE_DAYS", 30, 0, 3650)
        max_age = _int(env, "MAX_EVENT_AGE_DAYS", 7, 1, 3650)
        if max_age > recovery + grace:
            # the ledger (the history a stale event is judged by) outlives a deleted user by
            # SECRET_RECOVERY_DAYS; anything older than that must be refused by age alone
            raise ConfigError("MAX_EVENT_AGE_DAYS", f"MAX_EVENT_AGE_DAYS must be at most SECRET_RECOVERY_DAYS + "
                              f"OFFBOARD_GRACE_DAYS ({recovery + grace}), got {max_age}")
        notify_url, notify_kind = _notify(env)
        # CIS 1.6: AccessKeys rotated every 90 days or less (Generic: the rotation function; RAMCredentials:
        # KMS's own rotation interval). The old key overlaps the new one for KEY_ROTATION_OVERLAP_HOURS, which
        # must end well before the next rotation is due.
        key_max_age = _int(env, "KEY_MAX_AGE_DAYS", 90, 1, 90)
        overlap = _int(env, "KEY_ROTATION_OVERLAP_HOURS", 24, 1, 720)
        if overlap >= key_max_age * 24:
            raise ConfigError("KEY_ROTATION_OVERLAP_HOURS", f"KEY_ROTATION_OVERLAP_HOURS must be less than "
                              f"KEY_MAX_AGE_DAYS in hours ({key_max_age * 24}), got {overlap}")
        group_read_only, group_full = _groups(env)
        return cls(
            key_max_age_days=key_max_age, key_rotation_overlap_hours=overlap,
            grant_mode=_grant_mode(env), group_read_only=group_read_only, group_full=group_full,
            notify_webhook_url=notify_url, notify_kind=notify_kind,
            notify_webhook_secret=_raw(env, "NOTIFY_WEBHOOK_SECRET") or "",
            notify_timeout_ms=_int(env, "NOTIFY_TIMEOUT_MS", 3_000, 100, 10_000),
            region=region, ram_endpoint=ram, kms_endpoint=kms, protocol=protocol,
            secret_prefix=prefix, secret_type=secret_type,
            kms_encryption_key_id=_identifier(env, "KMS_ENCRYPTION_KEY_ID", _KEY_ID_CHARS, 256),
            kms_instance_id=_identifier(env, "KMS_INSTANCE_ID", _INSTANCE_ID_CHARS, 64),
            webhook_signing_key=_webhook_key(env),
            webhook_tolerance_seconds=_int(env, "WEBHOOK_TOLERANCE_SECONDS", 300, 1, 3600),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 262_144, 1_024, 6_291_456),
            log_level=level, hr_timezone=tz,
            offboard_grace_days=grace,
            offboard_max_deletions_per_run=_int(env, "OFFBOARD_MAX_DELETIONS_PER_RUN", 20, 0, 100_000),
            offboard_dry_run=_bool(env, "OFFBOARD_DRY_RUN", False),
            secret_recovery_days=recovery,
            connect_timeout_ms=_int(env, "OPENAPI_CONNECT_TIMEOUT_MS", 3_000, 100, 60_000),
            read_timeout_ms=_int(env, "OPENAPI_READ_TIMEOUT_MS", 10_000, 100, 120_000),
            retry_max_attempts=_int(env, "RETRY_MAX_ATTEMPTS", 5, 1, 20),
            retry_max_seconds=_float(env, "RETRY_MAX_SECONDS", 20.0, 0.0, 600.0),
            retry_base_seconds=_float(env, "RETRY_BASE_SECONDS", 0.2, 0.0, 10.0),
            retry_cap_seconds=_float(env, "RETRY_CAP_SECONDS", 1.0, 0.0, 60.0),
            batch_concurrency=_int(env, "BATCH_CONCURRENCY", 4, 1, 32),
            account_id=_account_id(env),
            max_event_age_days=max_age,
            max_clock_skew_seconds=_int(env, "MAX_CLOCK_SKEW_SECONDS", 300, 0, 86_400),
            audit_fixes=_bool(env, "AUDIT_FIXES", False),
            mfa_grace_days=_int(env, "MFA_GRACE_DAYS", 7, 0, 365),
        )

    @property
    def groups(self) -> dict[str, str]:
        """ARMS level -> the RAM group that grants it (GRANT_MODE=group)."""
        return {"read-only": self.group_read_only, "full": self.group_full}

    def secret_name(self, logon_name: str) -> str:
        return f"{self.secret_prefix}{logon_name}"
