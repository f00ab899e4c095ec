"""JSON-lines logging with correlation keys and credential redaction.

Like powertools' Logger: keys appended once (eventId, employeeId, userName)
ride on every line of that event. Secrets minted during an event are
registered here and scrubbed from anything logged, as a second line of
defence behind code that never logs them in the first place.

Alert lines (``alert(...)``) carry a stable ``alert`` field and are written
whatever LOG_LEVEL says: they are how a failure reaches a human. Every string
field is cut at ``MAX_FIELD_CHARS`` (after scrubbing), so no input makes a log
line large. ``RedactingFilter`` scrubs third-party loggers (urllib3 logs each
request line, query string included, at DEBUG; RAM and KMS take Password and
SecretData in the query).
"""
import contextlib
import contextvars
import json
import logging
import re
import sys
import threading
import time
from urllib.parse import quote, quote_plus

_keys = contextvars.ContextVar("log_keys", default={})  # noqa: B039 - never mutated, only replaced  # noqa: B039 - never mutated: writers set a new dict
_secrets = set()
_secrets_lock = threading.Lock()
REDACTED = "[REDACTED]"
SECRET_FIELDS = frozenset({"AccessKeySecret", "Password", "NewPassword", "SecretData", "password",
                           "accessKeySecret", "secret", "signature"})
MAX_FIELD_CHARS = 4096
MAX_FIELD_ITEMS = 100
# name=value pairs of those names in a query string or form body (linear: literal names, then a
# negated class); values end at &, whitespace, a quote or a bracket
_SECRET_PARAMS = re.compile(r"(?i)\b(AccessKeySecret|Password|NewPassword|OldPassword|SecretData|SecurityToken"
                            r"|Signature)=[^&\s\"'<>]*")


def register_secret(value):
    """Make sure ``value`` never reaches a log line from now on."""
    if value:
        # as written on the wire too: a query string or a JSON document carries it encoded
        forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
        with _secrets_lock:
            _secrets.update(f for f in forms if f)


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
        items = [_redact_fields(v) for v in obj[:MAX_FIELD_ITEMS]]
        return items + ([f"...[{len(obj) - MAX_FIELD_ITEMS} more items]"] if len(obj) > MAX_FIELD_ITEMS else [])
    if isinstance(obj, str) and len(obj) > MAX_FIELD_CHARS:
        text = scrub(obj)           # before cutting: a cut must never leave part of a secret
        return text[:MAX_FIELD_CHARS] + f"...[{len(text) - MAX_FIELD_CHARS} more characters]"
    return obj


def redact_text(text):
    """Registered secrets and the values of secret-named parameters (``Password=...``) removed."""
    return _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}={REDACTED}", scrub(text))


class RedactingFilter(logging.Filter):
    """Rewrites a third-party record's message without secrets (installed on the HTTP stack's loggers)."""

    def filter(self, record):
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is left to logging
            return True
        clean = redact_text(text)
        if clean != text:
            record.msg, record.args = clean, None
        return True


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


def alert(level, message, alert, **fields):
    """A line for a human: at WARNING or ERROR with a stable ``alert`` name (the SLS alert rule's key),
    written whatever LOG_LEVEL says (only the logger's level is bypassed, not its handlers' filters)."""
    record = logger.makeRecord(logger.name, level, __file__, 0, message, None, None,
                               extra={"fields": {"alert": alert, **fields}})
    logger.handle(record)
