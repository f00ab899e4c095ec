"""The shared shape of both handlers: decode, validate, run, answer.

Handlers stay thin: they name their event type and workflow and call
``handle``. Here lives what every trigger needs: per-item results for
batches (one failure never fails the others), bounded concurrency with
events for the same user kept in order, HTTP answers with the right status,
and the error policy (permanent → returned, transient → raised after the
whole batch ran, so FC's async retry redelivers it).

Every outcome that is not a success is logged as an alert line (WARNING or ERROR,
a stable ``alert`` field, written whatever LOG_LEVEL says): ``ALERTS`` below. A
configuration error (``ConfigError.<SETTING>``) is answered ``failed`` for every
event of the invocation and logged once, with no traceback and no cloud call.
Permanent failures are returned, never raised: raising would only buy FC's async
retries of a deterministic failure before the on-failure queue (README, "Alerts").
"""
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context

from . import envelopes, runtime
from . import structured_log as log
from .config import ConfigError, Settings
from .errors import CloudError, TransientError
from .validation import bounded, validate

# A permanent failure is 422, not 5xx: webhook senders retry 5xx, and a poison event must not loop
# (the body names the API error and its RequestId; transient failures are 503 with Retry-After).
HTTP_STATUS = {"provisioned": 200, "already-provisioned": 200, "disabled": 200, "scheduled": 200,
               "deleted": 200, "rejected": 400, "conflict": 409, "failed": 422}

# status -> (alert name, level). The names are stable: the SLS alert rule (README) keys on them.
ALERTS = {"rejected": ("event-rejected", logging.WARNING), "conflict": ("user-conflict", logging.WARNING),
          "not-found": ("leaver-not-found", logging.WARNING), "failed": ("provisioning-failed", logging.ERROR)}
CONFIG_ALERT, TRANSIENT_ALERT, REFUSED_ALERT = "config-error", "transient-failure", "webhook-refused"
MAX_ECHO = 256            # characters of a path or message in an answer
MAX_LISTED = 20           # event ids or user names listed in one alert line


def rejected(event_id, problems):
    return {"eventId": event_id, "status": "rejected", "errors": _bounded(problems)}


def _cut(text):
    text = str(text)
    return text if len(text) <= MAX_ECHO else text[:MAX_ECHO - 3] + "..."


def _bounded(problems):
    """Whatever produced them (envelope, schema, timer payload): few, and each short."""
    return bounded([{"path": _cut(p.get("path", "$")), "message": _cut(p.get("message", ""))} for p in problems])


def log_result(result):
    """One line per result: INFO for a success, an alert line for anything else."""
    fields = {k: v for k, v in result.items() if k != "eventId"}
    alert, level = ALERTS.get(result.get("status"), (None, logging.INFO))
    if alert is None:
        log.info("result", **fields)
    else:
        log.alert(level, "result", alert, **fields)


def config_failed(event_id, err):
    """The answer for an event that met a configuration error (logged once per invocation by handle)."""
    return {"eventId": event_id, "status": "failed",
            "error": {"code": err.code, "setting": err.setting, "message": str(err)}}


def _for_the_sender(result):
    """A webhook sender is anonymous: it learns which setting is wrong, not what it says."""
    return {**result, "error": {k: v for k, v in result["error"].items() if k != "message"}}


def _log_config_error(err, event_ids):
    ids = [i for i in event_ids if i]
    log.alert(logging.ERROR, f"configuration error: {err}", CONFIG_ALERT, setting=err.setting, code=err.code,
              events=len(event_ids), eventIds=ids[:MAX_LISTED])


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
        log.alert(logging.WARNING, "rejected", ALERTS["rejected"][0], status="rejected", errors=result["errors"])
        return result
    problems = validate(event, event_type)
    if problems:
        result = rejected(_event_id(event), problems)
        with log.keys(eventId=result["eventId"]):
            log.alert(logging.WARNING, "rejected", ALERTS["rejected"][0], status="rejected", errors=result["errors"])
        return result
    employee = event["employee"]
    with log.keys(eventId=event["eventId"], employeeId=employee["employeeId"], userName=employee["logonName"]):
        try:
            result = workflow(event, runtime.get())
        except ConfigError as err:  # no credentials, no account id: logged once for the invocation
            return config_failed(event["eventId"], err)
        except CloudError as err:   # permanent: returned, logged once, never retried
            result = {"eventId": event["eventId"], "status": "failed", "userName": employee["logonName"],
                      "error": {"code": err.code, "action": err.action, "requestId": err.request_id}}
        except TransientError as err:
            log.alert(logging.ERROR, "transient failure, left for FC's async retry", TRANSIENT_ALERT,
                      status="failed", error=str(err))
            raise
        log_result(result)
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


def _config_error_answer(event, err):
    """A configuration error before anything was decoded: one ERROR line, a ``failed`` answer in the
    shape the trigger expects (events read with the default limits only to count and name them)."""
    decoded = envelopes.decode(event, Settings())
    ids = [_event_id(item.event) for item in decoded.items]
    _log_config_error(err, ids or [None])
    if decoded.kind == "http":
        # the fix is ours, not the sender's: 503 makes a webhook sender retry until it is fixed
        return _http(503, _for_the_sender(config_failed(None, err)), {"Retry-After": "300"})
    results = [config_failed(i, err) for i in ids] or [config_failed(None, err)]
    return results if decoded.batch else results[0]


def _run_timer(timer, payload):
    try:
        report = timer(payload, runtime.get())
    except ConfigError as err:
        _log_config_error(err, [None])
        return config_failed(None, err)
    except CloudError as err:   # permanent, outside any one user's work (e.g. ListUsers refused)
        result = {"status": "failed",
                  "error": {"code": err.code, "action": err.action, "requestId": err.request_id}}
        log.alert(logging.ERROR, "sweep failed", ALERTS["failed"][0], **result)
        return result
    except TransientError as err:
        log.alert(logging.ERROR, "sweep hit transient errors, left for FC's async retry", TRANSIENT_ALERT,
                  error=str(err))
        raise
    if report.get("status") == "rejected":        # built with ``rejected``: already bounded
        log.alert(logging.WARNING, "rejected", ALERTS["rejected"][0], status="rejected", errors=report["errors"])
        return report
    failed = [row.get("userName") for row in report.get("users") or [] if row.get("action") == "failed"]
    if failed:
        log.alert(logging.ERROR, "sweep: users failed", ALERTS["failed"][0], failed=len(failed),
                  users=failed[:MAX_LISTED])
    return report


def handle(event, event_type, workflow, timer=None, context=None):
    runtime.note_context(context)
    try:
        settings = runtime.settings()
    except ConfigError as err:
        return _config_error_answer(event, err)
    decoded = envelopes.decode(event, settings)
    log.append_keys(trigger=decoded.kind)
    if decoded.kind == "timer":
        if timer is None or decoded.items:
            problems = decoded.items[0].problems if decoded.items else [
                {"path": "$", "message": "this function has no timer trigger"}]
            result = rejected(None, problems)
            log.alert(logging.WARNING, "rejected", ALERTS["rejected"][0], status="rejected", errors=result["errors"])
            return result
        return _run_timer(timer, decoded.timer_payload)
    if decoded.http_status:
        log.alert(logging.WARNING, "http request refused", REFUSED_ALERT, httpStatus=decoded.http_status,
                  reason=decoded.http_message)
        return _http(decoded.http_status, {"status": "refused", "message": decoded.http_message})
    results = run_items(decoded.items, event_type, workflow, settings.batch_concurrency)
    config_errors = [r for r in results if isinstance(r, dict) and str(
        (r.get("error") or {}).get("code", "")).startswith("ConfigError.")]
    if config_errors:
        first = config_errors[0]["error"]
        _log_config_error(ConfigError(first["setting"], first["message"]), [r["eventId"] for r in config_errors])
    transient = [r for r in results if isinstance(r, TransientError)]
    if decoded.kind == "http":
        result = results[0]
        if isinstance(result, TransientError):
            return _http(503, {"status": "failed", "message": "temporarily unavailable, retry later"},
                         {"Retry-After": "30"})
        if config_errors:           # the fix is ours: the sender retries until an operator fixed it
            return _http(503, _for_the_sender(result), {"Retry-After": "300"})
        return _http(HTTP_STATUS.get(result["status"], 500), result)
    if transient:
        done = len(results) - len(transient)
        raise TransientError(f"{len(transient)} of {len(results)} events hit transient errors "
                             f"({done} done; redelivery is safe): {transient[0]}")
    return results if decoded.batch else results[0]
