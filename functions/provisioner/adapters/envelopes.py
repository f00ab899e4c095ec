"""Decode what FC hands a function into events, whatever trigger delivered them.

Shapes (docs/architecture.md): a direct event or a JSON array of them (batch);
EventBridge CloudEvents 1.0 (``data`` as object or JSON string; an array in
event-streaming mode); the HTTP trigger (signed HR webhook); the timer
trigger. Undecodable input becomes a problem list, never an exception.

Each shape is a ``Trigger`` in ``TRIGGERS`` (first match wins): it recognises
its envelope, decodes it, and shapes the answer for its caller. A new trigger
is one class here; nothing else changes.
"""
import base64
import json
from dataclasses import dataclass, field
from typing import Any

from ..cloud.errors import TransientError
from ..domain.results import http_status
from .webhook import SIGNATURE_HEADER, verify_signature

MAX_BATCH = 100


@dataclass
class Item:
    """One event to process, or the reason it could not be decoded."""
    event: object = None
    problems: list = field(default_factory=list)
    source: str = "direct"


@dataclass
class Decoded:
    trigger: "Trigger"
    items: list = field(default_factory=list)
    batch: bool = False            # the caller gets a list of results
    timer_payload: Any = None      # the timer's payload (parsed), when the timer delivered it
    tick: str = ""                 # the timer's triggerTime: one scheduled run, however often delivered
    answer: Any = None             # an answer decided before any event was read (a refused request)
    refusal: str = ""              # why, for the log

    @property
    def kind(self):
        return self.trigger.name


class Trigger:
    """One delivery shape. ``answer`` turns per-item results (a dict, or the TransientError that
    item raised) into what the caller gets."""
    name = "direct"

    def matches(self, obj):
        return True

    def decode(self, obj, settings):
        return Decoded(self, items=[Item(event=obj)])

    def answer(self, decoded, results):
        transient = [r for r in results if isinstance(r, TransientError)]
        if transient:
            raise TransientError(
                f"{len(transient)} of {len(results)} events hit transient errors "
                f"({len(results) - len(transient)} done; redelivery is safe): {transient[0]}")
        return results if decoded.batch else results[0]


def _problem(path, message):
    return {"path": path, "message": message}


def _loads(raw):
    if isinstance(raw, (bytes, bytearray)):
        raw = bytes(raw).decode("utf-8")
    return json.loads(raw)


def _is_cloudevent(obj):
    return isinstance(obj, dict) and "specversion" in obj and "data" in obj


def _from_cloudevent(ce, path):
    data = ce.get("data")
    if isinstance(data, (str, bytes)):
        try:
            data = _loads(data)
        except (ValueError, UnicodeDecodeError):
            return Item(problems=[_problem(f"{path}.data", "is not valid JSON")], source="eventbridge")
    return Item(event=data, source="eventbridge")


def _http(status, body, headers=None):
    return {"statusCode": status, "headers": {"Content-Type": "application/json", **(headers or {})},
            "body": json.dumps(body, ensure_ascii=False)}


class HttpTrigger(Trigger):
    """The signed HR webhook. Refusals (405, 400, 413, 401) are answered before any event is read."""
    name = "http"

    def matches(self, obj):
        return isinstance(obj, dict) and "requestContext" in obj and "body" in obj and "headers" in obj

    def refuse(self, status, message):
        return Decoded(self, answer=_http(status, {"status": "refused", "message": message}), refusal=message)

    def decode(self, obj, settings):
        headers = {str(k).lower(): v for k, v in (obj.get("headers") or {}).items()}
        method = ((obj.get("requestContext") or {}).get("http") or {}).get("method", "POST").upper()
        if method != "POST":
            return self.refuse(405, "only POST is accepted")
        body = obj.get("body") or ""
        try:
            raw = base64.b64decode(body, validate=True) if obj.get("isBase64Encoded") else body.encode("utf-8")
        except (ValueError, TypeError):
            return self.refuse(400, "body is not valid base64")
        if len(raw) > settings.max_body_bytes:
            return self.refuse(413, f"body exceeds {settings.max_body_bytes} bytes")
        reason = verify_signature(settings.webhook_signing_key, headers.get(SIGNATURE_HEADER.lower()), raw,
                                  settings.webhook_tolerance_seconds)
        if reason:
            return self.refuse(401, reason)
        try:
            payload = _loads(raw)
        except (ValueError, UnicodeDecodeError):
            return Decoded(self, items=[Item(problems=[_problem("$", "body is not valid JSON")], source="http")])
        if _is_cloudevent(payload):
            return Decoded(self, items=[_from_cloudevent(payload, "$")])
        return Decoded(self, items=[Item(event=payload, source="http")])

    def answer(self, decoded, results):
        result = results[0]
        if isinstance(result, Exception):
            return _http(503, {"status": "failed", "message": "temporarily unavailable, retry later"},
                         {"Retry-After": "30"})
        return _http(http_status(result), result)


class TimerTrigger(Trigger):
    """The offboarding sweep's schedule; ``payload`` is a JSON string (empty means {})."""
    name = "timer"

    def matches(self, obj):
        return isinstance(obj, dict) and "triggerTime" in obj and "triggerName" in obj

    def decode(self, obj, settings):
        payload = obj.get("payload") or {}
        if isinstance(payload, str):
            try:
                payload = json.loads(payload) if payload.strip() else {}
            except ValueError:
                return Decoded(self, items=[Item(problems=[_problem("$.payload", "is not valid JSON")])])
        if not isinstance(payload, dict):
            return Decoded(self, items=[Item(problems=[_problem("$.payload", "must be a JSON object")])])
        return Decoded(self, timer_payload=payload, tick=str(obj.get("triggerTime") or ""))


class BatchTrigger(Trigger):
    """A JSON array: direct events, or CloudEvents in EventBridge's event-streaming mode."""
    name = "batch"

    def matches(self, obj):
        return isinstance(obj, list)

    def decode(self, obj, settings):
        if len(obj) > MAX_BATCH:
            return Decoded(self, batch=True, items=[Item(problems=[_problem(
                "$", f"a batch holds at most {MAX_BATCH} events, got {len(obj)}")])])
        items = [_from_cloudevent(e, f"$[{i}]") if _is_cloudevent(e) else Item(event=e, source="batch")
                 for i, e in enumerate(obj)]
        trigger = EVENTBRIDGE if obj and all(_is_cloudevent(e) for e in obj) else self
        return Decoded(trigger, items=items, batch=True)


class EventBridgeTrigger(Trigger):
    """One CloudEvents 1.0 event (``data`` as an object or a JSON string)."""
    name = "eventbridge"

    def matches(self, obj):
        return _is_cloudevent(obj)

    def decode(self, obj, settings):
        return Decoded(self, items=[_from_cloudevent(obj, "$")])


class InvalidTrigger(Trigger):
    """What is not JSON at all (or too large to read): one rejected item."""
    name = "invalid"


EVENTBRIDGE = EventBridgeTrigger()
INVALID = InvalidTrigger()
TRIGGERS = [HttpTrigger(), TimerTrigger(), BatchTrigger(), EVENTBRIDGE, Trigger()]


def decode(event, settings):
    """Turn FC's ``event`` (bytes, str or already-parsed JSON) into a Decoded."""
    if isinstance(event, (bytes, bytearray, str)):
        if len(event) > max(settings.max_body_bytes, 6 * 1024 * 1024):
            return Decoded(INVALID, items=[Item(problems=[_problem("$", "event is too large")])])
        try:
            obj = _loads(event)
        except (ValueError, UnicodeDecodeError):
            return Decoded(INVALID, items=[Item(problems=[_problem("$", "event is not valid JSON")])])
    else:
        obj = event
    return next(t for t in TRIGGERS if t.matches(obj)).decode(obj, settings)
