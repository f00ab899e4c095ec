"""JSON-lines logging with correlation keys and credential redaction.

Like powertools' Logger: keys appended once ride on every line of that
invocation or event — FC's request id, the function name and a cold-start
flag (``invocation``), then eventId, employeeId, userName (``keys``).

Credentials minted during an event are registered here and scrubbed from
anything logged, as a second line of defence behind code that never logs
them in the first place. The registry is scoped to one event
(``credential_scope``): a warm instance keeps no credential in memory after
the event that minted it, and a line scans only its own event's values.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

_keys: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "log_keys", default={})  # noqa: B039 - never mutated: writers set a new dict
_secrets: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("log_secrets", default=frozenset())
_cold = True
REDACTED = "[REDACTED]"
SECRET_FIELDS = frozenset({"AccessKeySecret", "Password", "NewPassword", "SecretData", "password",
                           "accessKeySecret", "secret", "signature"})


def register_secret(value: str | None) -> None:
    """Make sure ``value`` never reaches a log line for the rest of this event."""
    if value:
        _secrets.set(_secrets.get() | {value})


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
        return [_redact_fields(v) for v in obj]
    return obj


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
