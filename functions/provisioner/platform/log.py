"""JSON-lines logging with correlation keys and credential redaction.

Like powertools' Logger: keys appended once ride on every line of that
invocation or event — FC's request id, the function name and a cold-start
flag (``invocation``), then eventId, employeeId, userName (``keys``).

Credentials minted during an event are registered here and scrubbed from
anything logged, as a second line of defence behind code that never logs
them in the first place. The registry is scoped to one event
(``credential_scope``): a warm instance keeps no credential in memory after
the event that minted it, and a line scans only its own event's values.

Alert lines (``alert(...)``) carry a stable ``alert`` field and are written
whatever LOG_LEVEL says: they are how a failure reaches a human. The names are
in ``ALERTS`` (by result status) and the constants below it: one place. Every
string field is cut at ``MAX_FIELD_CHARS`` (after scrubbing), so no input makes
a log line large. ``RedactingFilter`` scrubs third-party loggers (urllib3 logs
each request line, query string included, at DEBUG; RAM and KMS take Password
and SecretData in the query).
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from ..domain.audit import RULE_IDS as AUDIT_ALERTS  # the audit's finding codes (pure rules, no import back)

_keys: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "log_keys", default={})  # noqa: B039 - never mutated: writers set a new dict
_secrets: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("log_secrets", default=frozenset())
_cold = True
REDACTED = "[REDACTED]"
SECRET_FIELDS = frozenset({"AccessKeySecret", "Password", "NewPassword", "SecretData", "password",
                           "accessKeySecret", "secret", "signature"})
MAX_FIELD_CHARS = 4096
MAX_FIELD_ITEMS = 100
# name=value pairs of those names in a query string or form body (linear: literal names, then a
# negated class); values end at &, whitespace, a quote or a bracket
_SECRET_PARAMS = re.compile(r"(?i)\b(AccessKeySecret|Password|NewPassword|OldPassword|SecretData|SecurityToken"
                            r"|Signature)=[^&\s\"'<>]*")

# result status -> (alert name, level). The names are stable: the SLS alert rule (README) keys on them.
# app.py (results) and workflows/converge.py (the ledger's refusals) both take them from here.
ALERTS: dict[str, tuple[str, int]] = {
    "rejected": ("event-rejected", logging.WARNING), "conflict": ("user-conflict", logging.WARNING),
    "not-found": ("leaver-not-found", logging.WARNING), "failed": ("provisioning-failed", logging.ERROR)}
CONFIG_ALERT, TRANSIENT_ALERT, REFUSED_ALERT = "config-error", "transient-failure", "webhook-refused"
LOGON_NAME_MISMATCH_ALERT = "logon-name-mismatch"     # a leaver found by employee id under another name
MASS_DELETION_BRAKE_ALERT = "mass-deletion-brake"     # the sweep stopped deleting (ERROR)
SWEEP_TICK_OWNED_ALERT = "sweep-tick-owned"           # another run owns this tick's deletions
NOTIFICATION_FAILED_ALERT = "notification-failed"     # a robot message was not delivered (never retried)
ROTATION_SKIPPED_ALERT = "rotation-skipped"           # a due user's key was not rotated (workflows/rotation.py)
ALERT_NAMES = frozenset({name for name, _ in ALERTS.values()} | {
    CONFIG_ALERT, TRANSIENT_ALERT, REFUSED_ALERT, LOGON_NAME_MISMATCH_ALERT, MASS_DELETION_BRAKE_ALERT,
    SWEEP_TICK_OWNED_ALERT, NOTIFICATION_FAILED_ALERT, ROTATION_SKIPPED_ALERT}
    | AUDIT_ALERTS)   # the audit: one per finding (WARNING)


def alert_for(status: str) -> str:
    """The alert name of a non-success result status (``ALERTS``)."""
    return ALERTS[str(status)][0]


def register_secret(value: str | None) -> None:
    """Make sure ``value`` never reaches a log line for the rest of this event."""
    if value:
        # as written on the wire too: a query string or a JSON document carries it encoded
        forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
        _secrets.set(_secrets.get() | {f for f in forms if f})


@contextlib.contextmanager
def credential_scope() -> Iterator[None]:
    """Credentials registered inside the block are forgotten when it ends (one event)."""
    token = _secrets.set(frozenset())
    try:
        yield
    finally:
        _secrets.reset(token)


def scrub(text: str) -> str:
    for value in _secrets.get():
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def _redact_fields(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: (REDACTED if k in SECRET_FIELDS else _redact_fields(v)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [_redact_fields(v) for v in obj[:MAX_FIELD_ITEMS]]
        return items + ([f"...[{len(obj) - MAX_FIELD_ITEMS} more items]"] if len(obj) > MAX_FIELD_ITEMS else [])
    if isinstance(obj, str) and len(obj) > MAX_FIELD_CHARS:
        text = scrub(obj)           # before cutting: a cut must never leave part of a secret
        return text[:MAX_FIELD_CHARS] + f"...[{len(text) - MAX_FIELD_CHARS} more characters]"
    return obj


def redact_text(text: str) -> str:
    """Registered secrets and the values of secret-named parameters (``Password=...``) removed."""
    return _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}={REDACTED}", scrub(text))


class RedactingFilter(logging.Filter):
    """Rewrites a third-party record's message without secrets (installed on the HTTP stack's loggers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is left to logging
            return True
        clean = redact_text(text)
        if clean != text:
            record.msg, record.args = clean, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                + f".{int(record.msecs):03d}Z",
                "level": record.levelname, "message": record.getMessage()}
        line.update(_keys.get())
        line.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return scrub(json.dumps(_redact_fields(line), ensure_ascii=False, default=str))


class _StdoutHandler(logging.Handler):
    """Writes to whatever ``sys.stdout`` is at emit time (FC collects stdout; tests capture it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never break the function
            self.handleError(record)


def _build_logger() -> logging.Logger:
    logger = logging.getLogger("hr-ram-provisioner")
    if not logger.handlers:
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
    return logger


logger = _build_logger()


def set_level(level: str) -> None:
    logger.setLevel(level)


@contextlib.contextmanager
def keys(**values: Any) -> Iterator[None]:
    """Append correlation keys to every line logged inside the block."""
    token = _keys.set({**_keys.get(), **{k: v for k, v in values.items() if v is not None}})
    try:
        yield
    finally:
        _keys.reset(token)


def append_keys(**values: Any) -> None:
    _keys.set({**_keys.get(), **{k: v for k, v in values.items() if v is not None}})


@contextlib.contextmanager
def invocation(context: Any) -> Iterator[None]:
    """Keys of one FC invocation on every line: requestId, functionName, coldStart (the first
    invocation of this instance). ``context`` is FC's (``request_id``, ``function.name``); None
    outside FC."""
    global _cold
    function = getattr(context, "function", None)
    values = {"requestId": getattr(context, "request_id", None),
              "functionName": getattr(function, "name", None), "coldStart": _cold}
    _cold = False
    with keys(**values):
        yield


def info(message: str, **fields: Any) -> None:
    logger.info(message, extra={"fields": fields})


def warning(message: str, **fields: Any) -> None:
    logger.warning(message, extra={"fields": fields})


def error(message: str, **fields: Any) -> None:
    logger.error(message, extra={"fields": fields})


def debug(message: str, **fields: Any) -> None:
    logger.debug(message, extra={"fields": fields})


def alert(level: int, message: str, alert: str, **fields: Any) -> None:
    """A line for a human: at WARNING or ERROR with a stable ``alert`` name (the SLS alert rule's key),
    written whatever LOG_LEVEL says (only the logger's level is bypassed, not its handlers' filters)."""
    record = logger.makeRecord(logger.name, level, __file__, 0, message, (), None,
                               extra={"fields": {"alert": alert, **fields}})
    logger.handle(record)


def alert_result(message: str, status: str, **fields: Any) -> None:
    """The alert line of a non-success result (name and level from ``ALERTS``)."""
    name, level = ALERTS[str(status)]
    alert(level, message, name, status=str(status), **fields)
