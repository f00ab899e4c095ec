"""Decode what FC hands a function into events, whatever trigger delivered them.

Shapes (DESIGN.md): a direct event or a JSON array of them (batch);
EventBridge CloudEvents 1.0 (``data`` as object or JSON string; an array in
event-streaming mode); the HTTP trigger (signed HR webhook); the timer
trigger. Undecodable input becomes a problem list, never an exception.

Every JSON text is read by ``jsonlimits``: a webhook body of at most MAX_BODY_BYTES,
any other event of at most MAX_BODY_BYTES + 64 KiB (``max_direct_bytes``); per event
at most 32 levels and 64 arrays/objects, checked before parsing (a batch element over
a limit is rejected alone); repeated object names in an envelope are problems (inside
an event, ``validation`` reports them).
"""
import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field

from . import jsonlimits

MAX_BATCH = 100
EVENT_OVERHEAD_BYTES = 65_536     # an HTTP-trigger event's headers, path and request context
SIGNATURE_HEADER = "X-HR-Signature"


@dataclass
class Item:
    """One event to process, or the reason it could not be decoded."""
    event: object = None
    problems: list = field(default_factory=list)
    source: str = "direct"


@dataclass
class Decoded:
    kind: str                      # "direct" | "batch" | "eventbridge" | "http" | "timer" | "invalid"
    items: list = field(default_factory=list)
    batch: bool = False            # the caller gets a list of results
    timer_payload: dict = None
    http_status: int = 0           # set when the HTTP request is refused before any event is read
    http_message: str = ""


def _problem(path, message):
    return {"path": path, "message": message}


def _loads(raw, split_arrays=0):
    """Raises ValueError (jsonlimits.JsonProblem, with a sentence) when ``raw`` cannot be read."""
    return jsonlimits.loads(raw, split_arrays=split_arrays)


def _duplicates(obj, path, skip=None):
    """Problems for repeated names in an envelope (not below ``skip``, the event it carries)."""
    base = [] if path == "$" else [int(path[2:-1])]
    return [_problem(p, jsonlimits.DUPLICATE_MESSAGE) for p in jsonlimits.duplicates(obj, base, skip)]


def _is_cloudevent(obj):
    return isinstance(obj, dict) and "specversion" in obj and "data" in obj


def _is_http(obj):
    return isinstance(obj, dict) and "requestContext" in obj and "body" in obj and "headers" in obj


def _is_timer(obj):
    return isinstance(obj, dict) and "triggerTime" in obj and "triggerName" in obj


def _from_cloudevent(ce, path):
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


def sign(key, body, timestamp=None):
    """The ``X-HR-Signature`` value an HR system sends for ``body`` (bytes)."""
    t = int(time.time() if timestamp is None else timestamp)
    mac = hmac.new(key.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_signature(key, header, body, tolerance, now=None):
    """Return None when valid, else the reason (never echoing the key or the MAC)."""
    if not key:
        return "webhook signing key is not configured; unsigned requests are refused"
    if not header:
        return f"missing {SIGNATURE_HEADER} header"
    if not isinstance(header, str):
        return "malformed signature header"
    fields = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    try:
        t = int(fields.get("t", [""])[0])
    except ValueError:
        return "malformed signature header"
    now = time.time() if now is None else now
    if abs(now - t) > tolerance:
        return "signature timestamp outside the allowed window"
    expected = hmac.new(key.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    # bytes: compare_digest raises TypeError for a str with non-ASCII characters
    if not any(hmac.compare_digest(expected.encode(), mac.encode("utf-8", "surrogatepass"))
               for mac in fields.get("v1", [])):
        return "signature does not match"
    return None


def _decode_http(obj, settings):
    headers = {str(k).lower(): v for k, v in (obj.get("headers") or {}).items()}
    method = ((obj.get("requestContext") or {}).get("http") or {}).get("method", "POST").upper()
    if method != "POST":
        return Decoded("http", http_status=405, http_message="only POST is accepted")
    body = obj.get("body") or ""
    try:
        raw = base64.b64decode(body, validate=True) if obj.get("isBase64Encoded") else body.encode("utf-8")
    except (ValueError, TypeError):
        return Decoded("http", http_status=400, http_message="body is not valid base64")
    if len(raw) > settings.max_body_bytes:
        return Decoded("http", http_status=413,
                       http_message=f"body exceeds {settings.max_body_bytes} bytes")
    reason = verify_signature(settings.webhook_signing_key, headers.get(SIGNATURE_HEADER.lower()), raw,
                              settings.webhook_tolerance_seconds)
    if reason:
        return Decoded("http", http_status=401, http_message=reason)
    repeated = _duplicates(obj, "$")
    if repeated:
        return Decoded("http", items=[Item(problems=repeated, source="http")])
    try:
        payload = _loads(raw)
    except ValueError as why:
        return Decoded("http", items=[Item(problems=[_problem("$", f"body {why}")], source="http")])
    if _is_cloudevent(payload):
        return Decoded("http", items=[_from_cloudevent(payload, "$")])
    return Decoded("http", items=[Item(event=payload, source="http")])


def max_direct_bytes(settings):
    """The largest event that is not a webhook (direct, batch, EventBridge): MAX_BODY_BYTES + 64 KiB."""
    return settings.max_body_bytes + EVENT_OVERHEAD_BYTES


def max_event_bytes(settings):
    """The largest FC event read at all, whatever the trigger: an HTTP-trigger event carrying a body of
    MAX_BODY_BYTES as a JSON string (escaping can make each byte up to 6: ``\\u0000``), plus room for its
    headers. Reading that much costs only byte operations when it is a webhook (the body is one string);
    the body itself is then held to MAX_BODY_BYTES."""
    return settings.max_body_bytes * 6 + EVENT_OVERHEAD_BYTES


def decode(event, settings):
    """Turn FC's ``event`` (bytes, str or already-parsed JSON) into a Decoded."""
    if isinstance(event, (bytes, bytearray, str)):
        if len(event) > max_event_bytes(settings):
            return Decoded("invalid", items=[Item(problems=[_problem(
                "$", f"event is too large: at most {max_event_bytes(settings)} bytes (from MAX_BODY_BYTES)")])])
        # only a webhook's FC event may be larger than a direct one, and it has a handful of brackets:
        # a large event is never split into elements (the one step that sums the depth at every byte)
        large = len(event) > max_direct_bytes(settings)
        try:
            obj = _loads(event, split_arrays=0 if large else MAX_BATCH)
        except ValueError as why:
            return Decoded("invalid", items=[Item(problems=[_problem("$", f"event {why}")])])
        if large and not _is_http(obj):
            return Decoded("invalid", items=[Item(problems=[_problem(
                "$", f"event is too large: at most {max_direct_bytes(settings)} bytes (from MAX_BODY_BYTES)")])])
    else:
        obj = event
        if jsonlimits.tree_depth(obj) > jsonlimits.MAX_DEPTH:      # already parsed (not from FC)
            if not isinstance(obj, list):
                problem = _problem("$", f"event {jsonlimits.too_deep_message()}")
                return Decoded("invalid", items=[Item(problems=[problem])])
            obj = [jsonlimits.Unreadable(jsonlimits.too_deep_message())
                   if jsonlimits.tree_depth(e) > jsonlimits.MAX_DEPTH else e for e in obj]
    if _is_http(obj):
        return _decode_http(obj, settings)
    if _is_timer(obj):
        payload = obj.get("payload") or {}
        repeated = _duplicates(obj, "$")
        if repeated:
            return Decoded("timer", items=[Item(problems=repeated)])
        if isinstance(payload, str):
            try:
                payload = _loads(payload) if payload.strip() else {}
            except ValueError as why:
                return Decoded("timer", items=[Item(problems=[_problem("$.payload", str(why))])])
            repeated = [_problem(p.replace("$", "$.payload", 1), jsonlimits.DUPLICATE_MESSAGE)
                        for p in jsonlimits.duplicates(payload)]
            if repeated:
                return Decoded("timer", items=[Item(problems=repeated)])
        if not isinstance(payload, dict):
            return Decoded("timer", items=[Item(problems=[_problem("$.payload", "must be a JSON object")])])
        return Decoded("timer", timer_payload=payload)
    if isinstance(obj, list):
        if len(obj) > MAX_BATCH:
            return Decoded("batch", batch=True, items=[Item(problems=[_problem(
                "$", f"a batch holds at most {MAX_BATCH} events, got {len(obj)}")])])
        items = [Item(problems=[_problem(f"$[{i}]", e.message)], source="batch")
                 if isinstance(e, jsonlimits.Unreadable) else
                 _from_cloudevent(e, f"$[{i}]") if _is_cloudevent(e) else Item(event=e, source="batch")
                 for i, e in enumerate(obj)]
        kind = "eventbridge" if obj and all(_is_cloudevent(e) for e in obj) else "batch"
        return Decoded(kind, items=items, batch=True)
    if _is_cloudevent(obj):
        return Decoded("eventbridge", items=[_from_cloudevent(obj, "$")])
    return Decoded("direct", items=[Item(event=obj)])
