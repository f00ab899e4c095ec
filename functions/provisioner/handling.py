"""The shared shape of both handlers: decode, validate, run, answer.

Handlers stay thin: they name their event type and workflow and call
``handle``. Here lives what every trigger needs: per-item results for
batches (one failure never fails the others), bounded concurrency with
events for the same user kept in order, HTTP answers with the right status,
and the error policy (permanent → returned, transient → raised after the
whole batch ran, so FC's async retry redelivers it).
"""
import json
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context

from . import envelopes, runtime
from . import structured_log as log
from .errors import CloudError, TransientError
from .validation import validate

# A permanent failure is 422, not 5xx: webhook senders retry 5xx, and a poison event must not loop
# (the body names the API error and its RequestId; transient failures are 503 with Retry-After).
HTTP_STATUS = {"provisioned": 200, "already-provisioned": 200, "disabled": 200, "scheduled": 200,
               "deleted": 200, "rejected": 400, "conflict": 409, "failed": 422}


def rejected(event_id, problems):
    return {"eventId": event_id, "status": "rejected", "errors": problems}


def _event_id(event):
    value = event.get("eventId") if isinstance(event, dict) else None
    return value if isinstance(value, str) and len(value) <= 128 else None


def _logon(event):
    employee = event.get("employee") if isinstance(event, dict) else None
    value = employee.get("logonName") if isinstance(employee, dict) else None
    return value if isinstance(value, str) else None     # not validated yet: may be a list or an object


def run_one(item, event_type, workflow):
    """One event to one result. Raises TransientError only."""
    event = item.event
    if item.problems:
        result = rejected(_event_id(event), item.problems)
        log.warning("rejected", status="rejected", errors=result["errors"])
        return result
    problems = validate(event, event_type)
    if problems:
        result = rejected(_event_id(event), problems)
        with log.keys(eventId=result["eventId"]):
            log.warning("rejected", status="rejected", errors=problems)
        return result
    employee = event["employee"]
    with log.keys(eventId=event["eventId"], employeeId=employee["employeeId"], userName=employee["logonName"]):
        try:
            result = workflow(event, runtime.get())
        except CloudError as err:   # permanent: returned, logged once, never retried
            result = {"eventId": event["eventId"], "status": "failed", "userName": employee["logonName"],
                      "error": {"code": err.code, "action": err.action, "requestId": err.request_id}}
        except TransientError as err:
            log.error("transient failure, left for FC's async retry", status="failed", error=str(err))
            raise
        log.info("result", **{k: v for k, v in result.items() if k != "eventId"})
        return result


def run_items(items, event_type, workflow, concurrency):
    """Results in input order; TransientError marks items that must be redelivered."""
    results = [None] * len(items)
    groups = {}
    for index, item in enumerate(items):
        groups.setdefault(_logon(item.event) or f"#{index}", []).append(index)

    def run_group(indexes):
        for index in indexes:
            try:
                results[index] = run_one(items[index], event_type, workflow)
            except TransientError as err:
                results[index] = err

    if len(groups) == 1 or concurrency == 1:
        for indexes in groups.values():
            run_group(indexes)
    else:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(groups))) as pool:
            for future in [pool.submit(copy_context().run, run_group, g) for g in groups.values()]:
                future.result()
    return results


def _http(status, body, headers=None):
    return {"statusCode": status, "headers": {"Content-Type": "application/json", **(headers or {})},
            "body": json.dumps(body, ensure_ascii=False)}


def handle(event, event_type, workflow, timer=None):
    settings = runtime.settings()
    decoded = envelopes.decode(event, settings)
    log.append_keys(trigger=decoded.kind)
    if decoded.kind == "timer":
        if timer is None or decoded.items:
            problems = decoded.items[0].problems if decoded.items else [
                {"path": "$", "message": "this function has no timer trigger"}]
            return rejected(None, problems)
        try:
            return timer(decoded.timer_payload, runtime.get())
        except CloudError as err:   # permanent, outside any one user's work (e.g. ListUsers refused)
            result = {"status": "failed",
                      "error": {"code": err.code, "action": err.action, "requestId": err.request_id}}
            log.error("sweep failed", **result)
            return result
    if decoded.http_status:
        log.warning("http request refused", httpStatus=decoded.http_status, reason=decoded.http_message)
        return _http(decoded.http_status, {"status": "refused", "message": decoded.http_message})
    results = run_items(decoded.items, event_type, workflow, settings.batch_concurrency)
    transient = [r for r in results if isinstance(r, TransientError)]
    if decoded.kind == "http":
        result = results[0]
        if isinstance(result, TransientError):
            return _http(503, {"status": "failed", "message": "temporarily unavailable, retry later"},
                         {"Retry-After": "30"})
        return _http(HTTP_STATUS.get(result["status"], 500), result)
    if transient:
        done = len(results) - len(transient)
        raise TransientError(f"{len(transient)} of {len(results)} events hit transient errors "
                             f"({done} done; redelivery is safe): {transient[0]}")
    return results if decoded.batch else results[0]
