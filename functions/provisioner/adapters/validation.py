"""Validate events against the JSON Schemas in ``schemas/`` and say what is wrong in words.

Every problem is reported, each with its JSON path (``$.employee.logonName``)
and a sentence a person understands; values are echoed only in short form.
"""
import json
import os
import re
from datetime import date, datetime
from functools import cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# Deployed: <root>/provisioner/adapters + <root>/schemas. Repository: functions/provisioner/adapters + schemas/.
_SCHEMA_DIRS = [Path(os.environ["SCHEMA_DIR"])] if os.environ.get("SCHEMA_DIR") else []
_SCHEMA_DIRS += [_HERE.parents[1] / "schemas", _HERE.parents[2] / "schemas"]
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

SCHEMAS = {"employee.onboarded": "onboarding-event.schema.json",
           "employee.offboarded": "offboarding-event.schema.json"}
SWEEP_PAYLOAD_SCHEMA = "sweep-payload.schema.json"


def schema_path(name):
    for folder in _SCHEMA_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"schema {name} not found in {[str(d) for d in _SCHEMA_DIRS]}")


def parse_datetime(value):
    """An RFC 3339 timestamp as an aware datetime (to the microsecond), or None when it is not one.

    python3.10's fromisoformat takes only 3 or 6 fraction digits and no "Z"; RFC 3339 allows any
    number (Java and Go send 9). The pattern checks the fraction; the date, time and offset ranges
    are left to fromisoformat, without the fraction."""
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if not match:
        return None
    zone = match.group(2)
    try:
        parsed = datetime.fromisoformat(value[:19] + ("+00:00" if zone in ("Z", "z") else zone))
    except ValueError:
        return None
    fraction = (match.group(1) or ".")[1:7]        # HR order needs sub-second precision: to the µs
    return parsed.replace(microsecond=int(fraction.ljust(6, "0"))) if fraction else parsed


def _is_datetime(value):
    return parse_datetime(value) is not None


def _is_date(value):
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _ecma_anchored(pattern):
    """JSON Schema patterns are ECMA-262, where ``$`` is the end of the input; in Python ``$`` also
    matches before a final newline ("alice\\n" would pass ``^[a-z]+$``). ``\\Z`` is the ECMA ``$``."""
    return pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern


def _strict_pattern(validator, pattern, instance, schema):
    from jsonschema.exceptions import ValidationError
    if validator.is_type(instance, "string") and not re.search(_ecma_anchored(pattern), instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _validator(name):
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.validators import extend
    checker = FormatChecker(formats=())
    checker.checks("date-time")(lambda v: not isinstance(v, str) or _is_datetime(v))
    checker.checks("date")(lambda v: not isinstance(v, str) or _is_date(v))
    checker.checks("email")(lambda v: not isinstance(v, str) or bool(_EMAIL.fullmatch(v)))
    schema = json.loads(schema_path(name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    strict = extend(Draft202012Validator, {"pattern": _strict_pattern})
    return strict(schema, format_checker=checker)


def _path(parts, root="$"):
    out = root
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _short(value):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _message(error):
    v, schema = error.validator, error.schema
    if v == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        return "is required", missing.group(1) if missing else None
    if v == "additionalProperties":
        # the names from the event itself: jsonschema's message holds their repr, not the names
        known = schema.get("properties") or {}
        extra = [k for k in error.instance if k not in known] if isinstance(error.instance, dict) else None
        return "is not a known field (unknown fields are rejected)", extra
    if v == "type":
        return f"must be of type {error.validator_value}, got {_short(error.instance)}", None
    if v in ("enum", "const"):
        allowed = error.validator_value if v == "enum" else [error.validator_value]
        return f"must be one of {', '.join(json.dumps(a) for a in allowed)}, got {_short(error.instance)}", None
    if v == "pattern":
        hint = schema.get("description") or f"the pattern {error.validator_value}"
        return f"{_short(error.instance)} is not valid: {hint}", None
    if v in ("minLength", "maxLength"):
        n = len(error.instance) if isinstance(error.instance, str) else 0
        bound = "at least" if v == "minLength" else "at most"
        return f"must be {bound} {error.validator_value} characters long, got {n}", None
    if v in ("minimum", "maximum"):
        bound = "at least" if v == "minimum" else "at most"
        return f"must be {bound} {error.validator_value}, got {_short(error.instance)}", None
    if v == "format":
        return f"{_short(error.instance)} is not a valid {error.validator_value}", None
    return error.message, None


def _problems(name, instance, root="$"):
    problems = []
    for error in _validator(name).iter_errors(instance):
        if error.validator in ("if", "then"):
            continue
        message, extra = _message(error)
        base = list(error.absolute_path)
        if error.validator == "required" and extra:
            problems.append({"path": _path(base + [extra], root), "message": message})
        elif error.validator == "additionalProperties" and extra:
            problems.extend({"path": _path(base + [field], root), "message": message} for field in extra)
        elif error.validator == "const" and base[-1:] == ["mode"]:
            problems.append({"path": "$.access.console",
                             "message": "is allowed only with access.mode \"console\""})
        else:
            problems.append({"path": _path(base, root), "message": message})
    problems.sort(key=lambda p: p["path"])
    return problems


def validate_sweep_payload(payload):
    """Problems of a timer payload (already parsed), with paths under ``$.payload``."""
    return _problems(SWEEP_PAYLOAD_SCHEMA, payload, "$.payload")


def validate(event, event_type=None):
    """Return a list of ``{"path", "message"}`` problems (empty when the event is valid)."""
    if not isinstance(event, dict):
        return [{"path": "$", "message": f"an event must be a JSON object, got {type(event).__name__}"}]
    event_type = event_type or event.get("eventType")
    name = SCHEMAS.get(event_type)
    if name is None:
        return [{"path": "$.eventType",
                 "message": f"must be one of {', '.join(json.dumps(t) for t in SCHEMAS)}, got {_short(event_type)}"}]
    return _problems(name, event)
