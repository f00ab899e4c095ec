"""JSON-lines logging with correlation keys and credential redaction.

Like powertools' Logger: keys appended once (eventId, employeeId, userName)
ride on every line of that event. Secrets minted during an event are
registered here and scrubbed from anything logged, as a second line of
defence behind code that never logs them in the first place.
"""
import contextlib
import contextvars
import json
import logging
import sys
import threading
import time

_keys = contextvars.ContextVar("log_keys", default={})  # noqa: B039 - never mutated, only replaced  # noqa: B039 - never mutated: writers set a new dict
_secrets = set()
_secrets_lock = threading.Lock()
REDACTED = "[REDACTED]"
SECRET_FIELDS = frozenset({"AccessKeySecret", "Password", "NewPassword", "SecretData", "password",
                           "accessKeySecret", "secret", "signature"})


def register_secret(value):
    """Make sure ``value`` never reaches a log line from now on."""
    if value:
        with _secrets_lock:
            _secrets.add(value)


def scrub(text):
    with _secrets_lock:
        known = list(_secrets)
    for value in known:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def _redact_fields(obj):
    if isinstance(obj, dict):
        return {k: (REDACTED if k in SECRET_FIELDS else _redact_fields(v)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_redact_fields(v) for v in obj]
    return obj


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                + f".{int(record.msecs):03d}Z",
                "level": record.levelname, "message": record.getMessage()}
        line.update(_keys.get())
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return scrub(json.dumps(_redact_fields(line), ensure_ascii=False, default=str))


class _StdoutHandler(logging.Handler):
    """Writes to whatever ``sys.stdout`` is at emit time (FC collects stdout; tests capture it)."""

    def emit(self, record):
        try:
            sys.stdout.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never break the function
            self.handleError(record)


def _build_logger():
    logger = logging.getLogger("hr-ram-provisioner")
    if not logger.handlers:
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
    return logger


logger = _build_logger()


def set_level(level):
    logger.setLevel(level)


@contextlib.contextmanager
def keys(**values):
    """Append correlation keys to every line logged inside the block."""
    token = _keys.set({**_keys.get(), **{k: v for k, v in values.items() if v is not None}})
    try:
        yield
    finally:
        _keys.reset(token)


def append_keys(**values):
    _keys.set({**_keys.get(), **{k: v for k, v in values.items() if v is not None}})


def info(message, **fields):
    logger.info(message, extra={"fields": fields})


def warning(message, **fields):
    logger.warning(message, extra={"fields": fields})


def error(message, **fields):
    logger.error(message, extra={"fields": fields})


def debug(message, **fields):
    logger.debug(message, extra={"fields": fields})
