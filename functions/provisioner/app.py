"""The one path of every invocation: decode, validate, run, answer.

Handlers stay one call (``handle(event, context, FUNCTION)``). Here lives what
every trigger needs: per-item results for batches (one failure never fails the
others), bounded concurrency with events for the same user kept in order, and
the error policy (permanent → returned as a result, transient → raised after
the whole batch ran, so FC's async retry redelivers it). How each trigger's
answer is shaped is the trigger's business (``adapters.envelopes``).
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass
from typing import Any

from .adapters import envelopes
from .adapters.envelopes import Item
from .adapters.validation import validate, validate_sweep_payload
from .cloud.errors import CloudError, TransientError
from .domain.results import Result, Status, failed, rejected
from .platform import log, notify, runtime
from .platform.runtime import Runtime

Workflow = Callable[[dict[str, Any], Runtime], Result]
TimerWorkflow = Callable[..., Result]      # (payload, runtime, tick=, invocation=)


@dataclass(frozen=True)
class Function:
    """What a handler is: the event type it accepts, its workflow, and its timer work (if any)."""
    event_type: str
    workflow: Workflow
    timer: TimerWorkflow | None = None


def _event_id(event: object) -> str | None:
    value = event.get("eventId") if isinstance(event, dict) else None
    return value if isinstance(value, str) and len(value) <= 128 else None


def _logon(event: object) -> str | None:
    employee = event.get("employee") if isinstance(event, dict) else None
    value = employee.get("logonName") if isinstance(employee, dict) else None
    return value if isinstance(value, str) else None     # not validated yet: may be a list or an object


def run_one(item: Item, function: Function) -> Result:
    """One event to one result. Raises TransientError only."""
    event = item.event
    problems = item.problems or validate(event, function.event_type)
    if problems:
        answer = rejected(_event_id(event), problems)
        with log.keys(eventId=answer["eventId"]):
            log.warning("rejected", status=Status.REJECTED.value, errors=problems)
        return answer
    assert isinstance(event, dict)  # noqa: S101 - validated: an object
    employee = event["employee"]
    with log.keys(eventId=event["eventId"], employeeId=employee["employeeId"], userName=employee["logonName"]), \
            log.credential_scope():
        try:
            answer = function.workflow(event, runtime.get())
        except CloudError as err:   # permanent: returned, logged once, never retried
            answer = failed(event["eventId"], employee["logonName"], err)
        except TransientError as err:
            log.error("transient failure, left for FC's async retry", status=Status.FAILED.value, error=str(err))
            raise
        log.info("result", **{k: v for k, v in answer.items() if k != "eventId"})
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

    if len(groups) == 1 or concurrency == 1:
        for indexes in groups.values():
            run_group(indexes)
    else:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(groups))) as pool:
            for future in [pool.submit(copy_context().run, run_group, g) for g in groups.values()]:
                future.result()
    return [r for r in results if r is not None]


def run_timer(payload: dict[str, Any], function: Function, tick: str, invocation: str) -> Result:
    if function.timer is None:
        return rejected(None, [{"path": "$", "message": "this function has no timer trigger"}])
    problems = validate_sweep_payload(payload)
    if problems:
        log.warning("rejected", status=Status.REJECTED.value, errors=problems)
        return rejected(None, problems)
    try:
        return function.timer(payload, runtime.get(), tick=tick, invocation=invocation)
    except CloudError as err:   # permanent, outside any one user's work (e.g. ListUsers refused)
        answer = failed(None, None, err)
        log.error("sweep failed", **{k: v for k, v in answer.items() if k != "eventId"})
        return answer


def handle(event: Any, function: Function, context: Any = None) -> Any:
    """Everything one FC invocation does; ``context`` is FC's (request id, function name)."""
    with log.invocation(context):
        settings = runtime.settings()
        decoded = envelopes.decode(event, settings)
        log.append_keys(trigger=decoded.kind)
        if decoded.answer is not None:
            log.warning("request refused", reason=decoded.refusal)
            return decoded.answer
        if decoded.kind == "timer" and not decoded.items:
            invocation = getattr(context, "request_id", None) or uuid.uuid4().hex
            report = run_timer(decoded.timer_payload, function, decoded.tick, invocation)
            notify.sweep(settings, report)             # after the result is final; never raises
            return report
        results = run_items(decoded.items, function, settings.batch_concurrency)
        notify.outcomes(settings, results, function.event_type)   # final results only; never raises
        return decoded.trigger.answer(decoded, results)
