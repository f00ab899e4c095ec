"""The one path of every invocation: decode, validate, run, answer.

Handlers stay one call (``handle(event, context, FUNCTION)``). Here lives what
every trigger needs: per-item results for batches (one failure never fails the
others), bounded concurrency with events for the same user kept in order, and
the error policy (permanent → returned as a result, transient → raised after
the whole batch ran, so FC's async retry redelivers it). How each trigger's
answer is shaped is the trigger's business (``adapters.envelopes``).

Every outcome that is not a success is logged as an alert line (WARNING or ERROR,
a stable ``alert`` field, written whatever LOG_LEVEL says): ``log.ALERTS``, one
line per result, written here. A configuration error (``ConfigError.<SETTING>``)
is answered ``failed`` for every event of the invocation and logged once, with no
traceback and no cloud call. Permanent failures are returned, never raised:
raising would only buy FC's async retries of a deterministic failure before the
on-failure queue (README, "Alerts").
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass
from typing import Any

from .adapters import envelopes
from .adapters.envelopes import Item
from .adapters.validation import SWEEP_PAYLOAD_SCHEMA, validate, validate_sweep_payload
from .cloud.errors import CloudError, TransientError
from .domain.results import Result, Status, config_failed, failed, is_config_failure, rejected
from .platform import log, notify, runtime
from .platform.runtime import Runtime
from .platform.settings import ConfigError, Settings

Workflow = Callable[[dict[str, Any], Runtime], Result]
TimerWorkflow = Callable[..., Result]      # (payload, runtime, tick=, invocation=)


MAX_LISTED = 20           # event ids or user names listed in one alert line


@dataclass(frozen=True)
class Function:
    """What a handler is: the event type it accepts, its workflow, and its timer work (if any)."""
    event_type: str
    workflow: Workflow
    timer: TimerWorkflow | None = None
    timer_schema: str = SWEEP_PAYLOAD_SCHEMA     # what its timer payload may hold (schemas/)


def _event_id(event: object) -> str | None:
    value = event.get("eventId") if isinstance(event, dict) else None
    return value if isinstance(value, str) and len(value) <= 128 else None


def _logon(event: object) -> str | None:
    employee = event.get("employee") if isinstance(event, dict) else None
    value = employee.get("logonName") if isinstance(employee, dict) else None
    return value if isinstance(value, str) else None     # not validated yet: may be a list or an object


def timer_only(name: str) -> Workflow:
    """The event workflow of a function that takes its timer only (the audit, the rotation): an HR
    event sent to it is ``rejected`` without a cloud call."""
    def refuse(event: dict[str, Any], rt: Runtime) -> Result:
        return rejected(_event_id(event), [{"path": "$", "message": f"the {name} function takes its timer only, "
                                                                   "not HR events"}])
    return refuse


def log_result(answer: Result) -> None:
    """One line per result: INFO for a success, the status's alert line (``log.ALERTS``) for anything else."""
    fields = {k: v for k, v in answer.items() if k not in ("eventId", "status")}
    status = answer.get("status")
    if status in log.ALERTS:
        log.alert_result("result" if status != Status.REJECTED.value else "rejected", str(status), **fields)
    else:
        log.info("result", status=status, **fields)


def _log_config_error(err: ConfigError, event_ids: list[str | None]) -> None:
    ids = [i for i in event_ids if i]
    log.alert(logging.ERROR, f"configuration error: {err}", log.CONFIG_ALERT, setting=err.setting, code=err.code,
              events=len(event_ids), eventIds=ids[:MAX_LISTED])


def run_one(item: Item, function: Function) -> Result:
    """One event to one result. Raises TransientError only."""
    event = item.event
    problems = item.problems or validate(event, function.event_type)
    if problems:
        answer = rejected(_event_id(event), problems)
        with log.keys(eventId=answer["eventId"]):
            log_result(answer)
        return answer
    assert isinstance(event, dict)  # noqa: S101 - validated: an object
    employee = event["employee"]
    with log.keys(eventId=event["eventId"], employeeId=employee["employeeId"], userName=employee["logonName"]), \
            log.credential_scope():
        try:
            answer = function.workflow(event, runtime.get())
        except ConfigError as err:  # no credentials, no account id: logged once for the invocation (handle)
            return config_failed(event["eventId"], err)
        except CloudError as err:   # permanent: returned, logged once, never retried
            answer = failed(event["eventId"], employee["logonName"], err)
        except TransientError as err:
            log.alert(logging.ERROR, "transient failure, left for FC's async retry", log.TRANSIENT_ALERT,
                      status=Status.FAILED.value, error=str(err))
            raise
        log_result(answer)
        return answer


def run_items(items: list[Item], function: Function, concurrency: int) -> list[Result | TransientError]:
    """Results in input order; a TransientError marks an item that must be redelivered."""
    results: list[Result | TransientError | None] = [None] * len(items)
    groups: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(_logon(item.event) or f"#{index}", []).append(index)

    def run_group(indexes: list[int]) -> None:
        for index in indexes:
            try:
                results[index] = run_one(items[index], function)
            except TransientError as err:
                results[index] = err

    if len(groups) <= 1 or concurrency == 1:        # an empty batch answers [] (nothing to run)
        for indexes in groups.values():
            run_group(indexes)
    else:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(groups))) as pool:
            for future in [pool.submit(copy_context().run, run_group, g) for g in groups.values()]:
                future.result()
    return [r for r in results if r is not None]


def run_timer(payload: dict[str, Any], function: Function, tick: str, invocation: str) -> Result:
    if function.timer is None:
        answer = rejected(None, [{"path": "$", "message": "this function has no timer trigger"}])
        log_result(answer)
        return answer
    problems = validate_sweep_payload(payload, function.timer_schema)
    if problems:
        answer = rejected(None, problems)
        log_result(answer)
        return answer
    try:
        report = function.timer(payload, runtime.get(), tick=tick, invocation=invocation)
    except ConfigError as err:
        _log_config_error(err, [None])
        return config_failed(None, err)
    except CloudError as err:   # permanent, outside any one user's work (e.g. ListUsers refused)
        answer = failed(None, None, err)
        log.alert_result("timer run failed", Status.FAILED.value, error=answer["error"])
        return answer
    except TransientError as err:
        log.alert(logging.ERROR, "timer run hit transient errors, left for FC's async retry", log.TRANSIENT_ALERT,
                  error=str(err))
        raise
    failed_users = [row.get("userName") for row in report.get("users") or [] if row.get("action") == "failed"]
    if failed_users:
        log.alert(logging.ERROR, "timer run: users failed", log.alert_for(Status.FAILED.value),
                  failed=len(failed_users), users=failed_users[:MAX_LISTED])
    return report


def _config_error_answer(event: Any, err: ConfigError) -> Any:
    """A configuration error before anything was decoded: one ERROR line, a ``failed`` answer in the
    shape the trigger expects (events read with the default limits only to count and name them)."""
    decoded = envelopes.decode(event, Settings())
    ids = [_event_id(item.event) for item in decoded.items]
    _log_config_error(err, ids or [None])
    if decoded.kind == envelopes.HTTP.name:
        return envelopes.config_error_http(config_failed(None, err))
    answers = [config_failed(i, err) for i in ids] or [config_failed(None, err)]
    return answers if decoded.batch else answers[0]


def handle(event: Any, function: Function, context: Any = None) -> Any:
    """Everything one FC invocation does; ``context`` is FC's (request id, function name)."""
    with log.invocation(context):
        runtime.note_context(context)
        try:
            settings = runtime.settings()
        except ConfigError as err:
            return _config_error_answer(event, err)
        decoded = envelopes.decode(event, settings)
        log.append_keys(trigger=decoded.kind)
        if decoded.answer is not None:
            log.alert(logging.WARNING, "http request refused", log.REFUSED_ALERT,
                      httpStatus=decoded.answer.get("statusCode"), reason=decoded.refusal)
            return decoded.answer
        if decoded.kind == "timer" and not decoded.items:
            invocation = getattr(context, "request_id", None) or uuid.uuid4().hex
            report = run_timer(decoded.timer_payload, function, decoded.tick, invocation)
            notify.sweep(settings, report)             # after the result is final; never raises
            return report
        results = run_items(decoded.items, function, settings.batch_concurrency)
        config_errors = [r for r in results if isinstance(r, dict) and is_config_failure(r)]
        if config_errors:
            first = config_errors[0]["error"]
            _log_config_error(ConfigError(first["setting"], first["message"]), [r["eventId"] for r in config_errors])
        notify.outcomes(settings, results, function.event_type)   # final results only; never raises
        return decoded.trigger.answer(decoded, results)
