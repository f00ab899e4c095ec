"""One vocabulary of results: every answer the functions give is built here.

A result is a plain dict (it is returned to FC, serialized to HTTP bodies and logged as it is);
``Status`` names every value ``status`` can take. Never a credential: builders take identifiers
and error codes only.
"""
from __future__ import annotations

from enum import Enum
from typing import Any

Result = dict[str, Any]
Problem = dict[str, str]


class Status(str, Enum):
    PROVISIONED = "provisioned"
    ALREADY_PROVISIONED = "already-provisioned"
    REJECTED = "rejected"            # invalid input; ``errors`` lists {path, message}
    CONFLICT = "conflict"            # the user or secret exists and is not ours (for this employee)
    DISABLED = "disabled"
    SCHEDULED = "scheduled"
    DELETED = "deleted"
    NOT_FOUND = "not-found"          # a leaver we cannot find: never reported as deleted
    FAILED = "failed"                # permanent cloud error; ``error`` names code, action, RequestId
    SWEPT = "swept"                  # the timer's report
    AUDITED = "audited"              # the audit's report (functions/audit.py)
    ROTATED = "rotated"              # the rotation function's report (workflows/rotation.py)

    def __str__(self) -> str:
        return self.value


# Statuses that need a person's attention: logged at WARNING/ERROR with an ``alert`` field.
NON_SUCCESS = frozenset({Status.REJECTED, Status.CONFLICT, Status.NOT_FOUND, Status.FAILED})

# A permanent failure is 422, not 5xx: webhook senders retry 5xx, and a poison event must not loop
# (transient failures are 503 with Retry-After, decided where they are caught).
HTTP_STATUS = {Status.PROVISIONED: 200, Status.ALREADY_PROVISIONED: 200, Status.DISABLED: 200,
               Status.SCHEDULED: 200, Status.DELETED: 200, Status.NOT_FOUND: 404, Status.REJECTED: 400,
               Status.CONFLICT: 409, Status.FAILED: 422, Status.SWEPT: 200,
               Status.ROTATED: 200}


def result(status: Status, event_id: str | None = None, user_name: str | None = None,
           **fields: Any) -> Result:
    body: Result = {"eventId": event_id, "status": status.value}
    if user_name is not None:
        body["userName"] = user_name
    body.update(fields)
    return body


MAX_PROBLEMS = 20         # problems listed in one answer; the rest are counted in one last problem
MAX_ECHO = 256            # characters of a path or message in an answer


def bounded(problems: list[Problem], omitted: int = 0) -> list[Problem]:
    """At most MAX_PROBLEMS problems; the rest are counted in a last one (an answer stays small)."""
    if len(problems) + omitted <= MAX_PROBLEMS:
        return problems
    rest = len(problems) + omitted - (MAX_PROBLEMS - 1)
    return problems[:MAX_PROBLEMS - 1] + [
        {"path": "$", "message": f"and {rest} more problems (only the first {MAX_PROBLEMS - 1} are listed)"}]


def _cut(text: object) -> str:
    text = str(text)
    return text if len(text) <= MAX_ECHO else text[:MAX_ECHO - 3] + "..."


def rejected(event_id: str | None, problems: list[Problem]) -> Result:
    """Whatever produced the problems (envelope, schema, timer payload, ledger): few, and each short."""
    return result(Status.REJECTED, event_id, errors=bounded(
        [{"path": _cut(p.get("path", "$")), "message": _cut(p.get("message", ""))} for p in problems]))


def failed(event_id: str | None, user_name: str | None, error: Any) -> Result:
    """``error`` is a CloudError (code, action, request_id) or any object with those attributes."""
    return result(Status.FAILED, event_id, user_name, error=error_fields(error))


def config_failed(event_id: str | None, error: Any) -> Result:
    """An event that met a configuration error (``error`` is a ConfigError: setting, code, message)."""
    return result(Status.FAILED, event_id,
                  error={"code": error.code, "setting": error.setting, "message": str(error)})


def is_config_failure(body: object) -> bool:
    return isinstance(body, dict) and str((body.get("error") or {}).get("code", "")).startswith("ConfigError.")


def error_fields(error: Any) -> dict[str, Any]:
    hint = getattr(error, "hint", None)
    return {"code": error.code, "action": error.action, "requestId": error.request_id,
            **({"hint": hint} if hint else {})}


def http_status(body: Result) -> int:
    try:
        return HTTP_STATUS[Status(body.get("status"))]
    except ValueError:
        return 500
