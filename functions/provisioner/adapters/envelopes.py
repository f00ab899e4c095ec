"""Decode what FC hands a function into events, whatever trigger delivered them.

Shapes (docs/architecture.md): a direct event or a JSON array of them (batch);
EventBridge CloudEvents 1.0 (``data`` as object or JSON string; an array in
event-streaming mode); the HTTP trigger (signed HR webhook); the timer
trigger. Undecodable input becomes a problem list, never an exception.

Limits hold by construction (``jsonlimits``): every FC event is at most
MAX_BODY_BYTES * 6 + 64 KiB (a webhook carrying its body as an escaped
string), any other event at most MAX_BODY_BYTES + 64 KiB; each event is read
within MAX_DEPTH levels and MAX_CONTAINERS arrays/objects (a batch element over
a limit is rejected alone); repeated object names in an envelope are problems
(inside an event, ``validation`` reports them).

Each shape is a ``Trigger`` in ``TRIGGERS`` (first match wins): it recognises
its envelope, decodes it, and shapes the answer for its caller. A new trigger
is one class here; nothing else changes.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..cloud.errors import TransientError
from ..domain.results import Problem, Result, http_status, is_config_failure
from . import jsonlimits
from .webhook import SIGNATURE_HEADER, verify_signature

if TYPE_CHECKING:
    from ..platform.settings import Settings

MAX_BATCH = 100
EVENT_OVERHEAD_BYTES = 65_536     # an HTTP-trigger event's headers, path and request context


@dataclass
class Item:
    """One event to process, or the reason it could not be decoded."""
    event: object = None
    problems: list = field(default_factory=list)
    source: str = "direct"


@dataclass
class Decoded:
    trigger: Trigger
    items: list = field(default_factory=list)
    batch: bool = False            # the caller gets a list of results
    timer_payload: Any = None      # the timer's payload (parsed), when the timer delivered it
    tick: str = ""                 # the timer's triggerTime: one scheduled run, however often delivered
    answer: Any = None             # an answer decided before any event was read (a refused request)
    refusal: str = ""              # why, for the log

    @property
    def kind(self) -> str:
        return self.trigger.name


class Trigger:
    """One delivery shape. ``answer`` turns per-item results (a dict, or the TransientError that
    item raised) into what the caller gets."""
    name = "direct"

    def matches(self, obj: Any) -> bool:
        return True

    def decode(self, obj: Any, settings: Settings) -> Decoded:
        return Decoded(self, items=[Item(event=obj)])

    def answer(self, decoded: Decoded, results: list[Result | TransientError]) -> Any:
        transient = [r for r in results if isinstance(r, TransientError)]
        if transient:
            raise TransientError(
                f"{len(transient)} of {len(results)} events hit transient errors "
                f"({len(results) - len(transient)} done; redelivery is safe): {transient[0]}")
        return results if decoded.batch else results[0]


def _problem(path: str, message: str) -> Problem:
    return {"path": path, "message": message}


def _loads(raw: bytes | bytearray | str, split_arrays: int = 0) -> Any:
    """Raises ValueError (jsonlimits.JsonProblem, with a sentence) when ``raw`` cannot be read."""
    return jsonlimits.loads(raw, split_arrays=split_arrays)


def _duplicates(obj: Any, path: str, skip: Any = None) -> list[Problem]:
    """Problems for repeated names in an envelope (not below ``skip``, the event it carries)."""
    base: list[str | int] = [] if path == "$" else [int(path[2:-1])]
    return [_problem(p, jsonlimits.DUPLICATE_MESSAGE) for p in jsonlimits.duplicates(obj, base, skip)]


def _is_cloudevent(obj: Any) -> bool:
    return isinstance(obj, dict) and "specversion" in obj and "data" in obj


def _from_cloudevent(ce: dict[str, Any], path: str) -> Item:
    data = ce.get("data")
    repeated = _duplicates(ce, path, skip=data)
    if repeated:
        return Item(problems=repeated, source="eventbridge")
    if isinstance(data, (str, bytes)):
        try:
            data = _loads(data)
        except ValueError as why:
            return Item(problems=[_problem(f"{path}.data", str(why))], source="eventbridge")
    return Item(event=data, source="eventbridge")


def _http(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json", **(headers or {})},
            "body": json.dumps(body, ensure_ascii=False)}


class HttpTrigger(Trigger):
    """The signed HR webhook. Refusals (405, 400, 413, 401) are answered before any event is read."""
    name = "http"

    def matches(self, obj: Any) -> bool:
        return isinstance(obj, dict) and "requestContext" in obj and "body" in obj and "headers" in obj

    def refuse(self, status: int, message: str) -> Decoded:
        return Decoded(self, answer=_http(status, {"status": "refused", "message": message}), refusal=message)

    def decode(self, obj: Any, settings: Settings) -> Decoded:
        headers = {str(k).lower(): v for k, v in (obj.get("headers") or {}).items()}
        method = ((obj.get("requestContext") or {}).get("http") or {}).get("method", "POST").upper()
        if method != "POST":
            return self.refuse(405, "only POST is accepted")
        body = obj.get("body") or ""
        try:
            raw = base64.b64decode(body, validate=True) if obj.get("isBase64Encoded") else body.encode("utf-8")
        except (ValueError, TypeError, AttributeError):     # not base64, or a body that is not a string
            return self.refuse(400, "body is not valid base64" if isinstance(body, str) else "body is not a string")
        if len(raw) > settings.max_body_bytes:
            return self.refuse(413, f"body exceeds {settings.max_body_bytes} bytes")
        reason = verify_signature(settings.webhook_signing_key, headers.get(SIGNATURE_HEADER.lower()), raw,
                                  settings.webhook_tolerance_seconds)
        if reason:
            return self.refuse(401, reason)
        repeated = _duplicates(obj, "$")
        if repeated:
            return Decoded(self, items=[Item(problems=repeated, source="http")])
        try:
            payload = _loads(raw)
        except ValueError as why:
            return Decoded(self, items=[Item(problems=[_problem("$", f"body {why}")], source="http")])
        if _is_cloudevent(payload):
            return Decoded(self, items=[_from_cloudevent(payload, "$")])
        return Decoded(self, items=[Item(event=payload, source="http")])

    def answer(self, decoded: Decoded, results: list[Result | TransientError]) -> Any:
        result = results[0]
        if isinstance(result, Exception):
            return _http(503, {"status": "failed", "message": "temporarily unavailable, retry later"},
                         {"Retry-After": "30"})
        if is_config_failure(result):   # the fix is ours: the sender retries until an operator fixed it
            return config_error_http(result)
        return _http(http_status(result), result)


def config_error_http(result: Result) -> dict[str, Any]:
    """A webhook sender is anonymous: it learns which setting is wrong, not what it says; 503 makes it
    retry until the setting is fixed."""
    body = {**result, "error": {k: v for k, v in result["error"].items() if k != "message"}}
    return _http(503, body, {"Retry-After": "300"})


class TimerTrigger(Trigger):
    """The offboarding sweep's schedule; ``payload`` is a JSON string (empty means {})."""
    name = "timer"

    def matches(self, obj: Any) -> bool:
        return isinstance(obj, dict) and "triggerTime" in obj and "triggerName" in obj

    def decode(self, obj: Any, settings: Settings) -> Decoded:
        payload = obj.get("payload") or {}
        repeated = _duplicates(obj, "$")
        if repeated:
            return Decoded(self, items=[Item(problems=repeated)])
        if isinstance(payload, str):
            try:
                payload = _loads(payload) if payload.strip() else {}
            except ValueError as why:
                return Decoded(self, items=[Item(problems=[_problem("$.payload", str(why))])])
            repeated = [_problem(p.replace("$", "$.payload", 1), jsonlimits.DUPLICATE_MESSAGE)
                        for p in jsonlimits.duplicates(payload)]
            if repeated:
                return Decoded(self, items=[Item(problems=repeated)])
        if not isinstance(payload, dict):
            return Decoded(self, items=[Item(problems=[_problem("$.payload", "must be a JSON object")])])
        return Decoded(self, timer_payload=payload, tick=str(obj.get("triggerTime") or ""))


class BatchTrigger(Trigger):
    """A JSON array: direct events, or CloudEvents in EventBridge's event-streaming mode."""
    name = "batch"

    def matches(self, obj: Any) -> bool:
        return isinstance(obj, list)

    def decode(self, obj: Any, settings: Settings) -> Decoded:
        if len(obj) > MAX_BATCH:
            return Decoded(self, batch=True, items=[Item(problems=[_problem(
                "$", f"a batch holds at most {MAX_BATCH} events, got {len(obj)}")])])
        items = [Item(problems=[_problem(f"$[{i}]", e.message)], source="batch")
                 if isinstance(e, jsonlimits.Unreadable) else
                 _from_cloudevent(e, f"$[{i}]") if _is_cloudevent(e) else Item(event=e, source="batch")
                 for i, e in enumerate(obj)]
        trigger = EVENTBRIDGE if obj and all(_is_cloudevent(e) for e in obj) else self
        return Decoded(trigger, items=items, batch=True)


class EventBridgeTrigger(Trigger):
    """One CloudEvents 1.0 event (``data`` as an object or a JSON string)."""
    name = "eventbridge"

    def matches(self, obj: Any) -> bool:
        return _is_cloudevent(obj)

    def decode(self, obj: Any, settings: Settings) -> Decoded:
        return Decoded(self, items=[_from_cloudevent(obj, "$")])


class InvalidTrigger(Trigger):
    """What is not JSON at all (or too large to read): one rejected item."""
    name = "invalid"


EVENTBRIDGE = EventBridgeTrigger()
INVALID = InvalidTrigger()
HTTP = HttpTrigger()
TRIGGERS = [HTTP, TimerTrigger(), BatchTrigger(), EVENTBRIDGE, Trigger()]


def max_direct_bytes(settings: Settings) -> int:
    """The largest event that is not a webhook (direct, batch, EventBridge): MAX_BODY_BYTES + 64 KiB."""
    return settings.max_body_bytes + EVENT_OVERHEAD_BYTES


def max_event_bytes(settings: Settings) -> int:
    """The largest FC event read at all, whatever the trigger: an HTTP-trigger event carrying a body of
    MAX_BODY_BYTES as a JSON string (escaping can make each byte up to 6: ``\\u0000``), plus room for its
    headers. Reading that much costs only byte operations when it is a webhook (the body is one string);
    the body itself is then held to MAX_BODY_BYTES."""
    return settings.max_body_bytes * 6 + EVENT_OVERHEAD_BYTES


def _invalid(message: str) -> Decoded:
    return Decoded(INVALID, items=[Item(problems=[_problem("$", message)])])


def decode(event: Any, settings: Settings) -> Decoded:
    """Turn FC's ``event`` (bytes, str or already-parsed JSON) into a Decoded."""
    if isinstance(event, (bytes, bytearray, str)):
        if len(event) > max_event_bytes(settings):
            return _invalid(f"event is too large: at most {max_event_bytes(settings)} bytes (from MAX_BODY_BYTES)")
        # only a webhook's FC event may be larger than a direct one, and it has a handful of brackets:
        # a large event is never split into elements (the one step that sums the depth at every byte)
        large = len(event) > max_direct_bytes(settings)
        try:
            obj = _loads(event, split_arrays=0 if large else MAX_BATCH)
        except ValueError as why:
            return _invalid(f"event {why}")
        if large and not HTTP.matches(obj):
            return _invalid(f"event is too large: at most {max_direct_bytes(settings)} bytes (from MAX_BODY_BYTES)")
    else:
        obj = event
        if jsonlimits.tree_depth(obj) > jsonlimits.MAX_DEPTH:      # already parsed (not from FC)
            if not isinstance(obj, list):
                return _invalid(f"event {jsonlimits.too_deep_message()}")
            obj = [jsonlimits.Unreadable(jsonlimits.too_deep_message())
                   if jsonlimits.tree_depth(e) > jsonlimits.MAX_DEPTH else e for e in obj]
    return next(t for t in TRIGGERS if t.matches(obj)).decode(obj, settings)
