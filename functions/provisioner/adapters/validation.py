"""Validate events against the JSON Schemas in ``schemas/`` and say what is wrong in words.

Every problem is reported, each with its JSON path (``$.employee.logonName``)
and a sentence a person understands; values are echoed only in short form.

Bounded by construction, whatever arrives: every string field of the schemas has a
``maxLength``, and a string over it gets only that problem (its pattern and format
are never run on it); the patterns have bounded repeats only and the e-mail and
display-name rules are single passes (``fieldrules``); repeated object names are
problems; at most ``MAX_PROBLEMS`` are listed, and unknown names are echoed cut.
"""
from __future__ import annotations

import heapq
import json
import os
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from ..domain.results import MAX_PROBLEMS, Problem, bounded
from . import fieldrules, jsonlimits

_HERE = Path(__file__).resolve().parent
# Deployed: <root>/provisioner/adapters + <root>/schemas. Repository: functions/provisioner/adapters + schemas/.
_SCHEMA_DIRS = [Path(os.environ["SCHEMA_DIR"])] if os.environ.get("SCHEMA_DIR") else []
_SCHEMA_DIRS += [_HERE.parents[1] / "schemas", _HERE.parents[2] / "schemas"]
# bounded repeats only (a fraction of 1-9 digits: RFC 3339 allows more, nobody sends them)
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_MESSAGE = 300         # characters of a message that is not ours (jsonschema's own text)

SCHEMAS = {"employee.onboarded": "onboarding-event.schema.json",
           "employee.offboarded": "offboarding-event.schema.json"}
SWEEP_PAYLOAD_SCHEMA = "sweep-payload.schema.json"
AUDIT_PAYLOAD_SCHEMA = "audit-payload.schema.json"
ROTATION_PAYLOAD_SCHEMA = "rotation-payload.schema.json"
# a jsonschema keyword function: (validator, value, instance, schema) -> its errors
_Keyword = Callable[[Any, Any, Any, dict[str, Any]], Iterator[Any]]


def schema_path(name: str) -> Path:
    for folder in _SCHEMA_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"schema {name} not found in {[str(d) for d in _SCHEMA_DIRS]}")


def parse_datetime(value: Any) -> datetime | None:
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


def _is_datetime(value: Any) -> bool:
    return parse_datetime(value) is not None


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _ecma_anchored(pattern: str) -> str:
    """JSON Schema patterns are ECMA-262, where ``$`` is the end of the input; in Python ``$`` also
    matches before a final newline ("alice\\n" would pass ``^[a-z]+$``). ``\\Z`` is the ECMA ``$``."""
    return pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern


def _over_max_length(instance: Any, schema: dict[str, Any]) -> bool:
    """A string longer than its schema allows gets the maxLength problem only: no pattern or format
    runs on it, so no rule ever sees more than ``maxLength`` characters."""
    return isinstance(instance, str) and len(instance) > schema.get("maxLength", len(instance))


def _strict_pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError
    if _over_max_length(instance, schema):
        return
    if validator.is_type(instance, "string") and not re.search(_ecma_anchored(pattern), instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _additional_properties(base: _Keyword) -> _Keyword:
    """``additionalProperties: false`` without jsonschema's message, which sorts and quotes every
    unknown name (tens of thousands in a hostile body); ``_message`` names them from the instance."""
    def additional_properties(validator: Any, allowed: Any, instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
        from jsonschema.exceptions import ValidationError
        if allowed is not False or not validator.is_type(instance, "object"):
            yield from base(validator, allowed, instance, schema)
            return
        known = schema.get("properties") or {}
        if any(name not in known for name in instance):
            yield ValidationError("unknown fields")
    return additional_properties


def _bounded_format(base: _Keyword) -> _Keyword:
    def format_(validator: Any, fmt: Any, instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
        if not _over_max_length(instance, schema):
            yield from base(validator, fmt, instance, schema)
    return format_


@cache
def _validator(name: str) -> Any:
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.validators import extend
    checker = FormatChecker(formats=())
    checker.checks("date-time")(lambda v: not isinstance(v, str) or _is_datetime(v))
    checker.checks("date")(lambda v: not isinstance(v, str) or _is_date(v))
    checker.checks("email")(lambda v: not isinstance(v, str) or fieldrules.ram_email(v))
    # the empty string is minLength's problem, not the format's
    checker.checks("ram-display-name")(lambda v: not isinstance(v, str) or not v or fieldrules.ram_display_name(v))
    schema = json.loads(schema_path(name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    base = Draft202012Validator.VALIDATORS
    strict = extend(Draft202012Validator, {
        "pattern": _strict_pattern, "format": _bounded_format(base["format"]),
        "additionalProperties": _additional_properties(base["additionalProperties"])})
    return strict(schema, format_checker=checker)


def _path(parts: list[str | int], root: str = "$") -> str:
    return jsonlimits.path_of(parts, root)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _message(error: Any) -> tuple[str, Any]:
    v, schema = error.validator, error.schema
    if v == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        return "is required", missing.group(1) if missing else None
    if v == "additionalProperties":
        # the names from the event itself
        known = schema.get("properties") or {}
        unknown = error.instance.keys() - known.keys() if isinstance(error.instance, dict) else set()
        # (the count, and the first MAX_PROBLEMS + 1 in path order, i.e. as echoed: only those can be listed)
        return "is not a known field (unknown fields are rejected)", (len(unknown), heapq.nsmallest(
            MAX_PROBLEMS + 1, unknown, key=jsonlimits.echo_name))
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
    if v == "format" and schema.get("description") and error.validator_value not in ("date", "date-time"):
        return f"{_short(error.instance)} is not valid: {schema['description']}", None
    if v == "format":
        return f"{_short(error.instance)} is not a valid {error.validator_value}", None
    text = error.message
    return (text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 3] + "..."), None


def _problems(name: str, instance: Any, root: str = "$", extra: list[Problem] | None = None) -> list[Problem]:
    problems: list[Problem] = list(extra or [])
    omitted = 0             # problems counted but not built (beyond what can be listed)
    for error in _validator(name).iter_errors(instance):
        if error.validator in ("if", "then"):
            continue
        message, detail = _message(error)
        base = list(error.absolute_path)
        if error.validator == "required" and detail:
            problems.append({"path": _path(base + [detail], root), "message": message})
        elif error.validator == "additionalProperties" and detail[1]:
            count, names = detail
            problems.extend({"path": _path(base + [field], root), "message": message} for field in names)
            omitted += count - len(names)
        elif error.validator == "const" and base[-1:] == ["mode"]:
            problems.append({"path": "$.access.console",
                             "message": "is allowed only with access.mode \"console\""})
        else:
            problems.append({"path": _path(base, root), "message": message})
    problems.sort(key=lambda p: p["path"])
    return bounded(problems, omitted)


def validate_sweep_payload(payload: Any, schema: str = SWEEP_PAYLOAD_SCHEMA) -> list[Problem]:
    """Problems of a timer payload (already parsed) against its function's schema (the sweep's,
    ``AUDIT_PAYLOAD_SCHEMA`` or ``ROTATION_PAYLOAD_SCHEMA``), with paths under ``$.payload``."""
    return _problems(schema, payload, "$.payload")


def validate(event: Any, event_type: Any = None) -> list[Problem]:
    """Return a list of ``{"path", "message"}`` problems (empty when the event is valid)."""
    if not isinstance(event, dict):
        return [{"path": "$", "message": f"an event must be a JSON object, got {type(event).__name__}"}]
    event_type = event_type or event.get("eventType")
    name = SCHEMAS.get(event_type)
    if name is None:
        return [{"path": "$.eventType",
                 "message": f"must be one of {', '.join(json.dumps(t) for t in SCHEMAS)}, got {_short(event_type)}"}]
    duplicates = [{"path": path, "message": jsonlimits.DUPLICATE_MESSAGE} for path in jsonlimits.duplicates(event)]
    return _problems(name, event, extra=duplicates)
