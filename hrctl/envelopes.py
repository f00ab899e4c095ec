"""Wrap events the way each FC trigger delivers them (the inverse of provisioner.envelopes)."""
import json
import time
import uuid

from provisioner.adapters.webhook import SIGNATURE_HEADER, sign

ENVELOPES = ("direct", "batch", "eventbridge", "eventbridge-streaming", "http", "timer")


def _cloudevent(event):
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "hr.system",
            "type": event.get("eventType", "unknown"), "time": event.get("occurredAt"),
            "datacontenttype": "application/json", "data": event}


def wrap(events, envelope, signing_key=None, timer_payload=None):
    """``events``: a list of event dicts. Returns the bytes FC would pass the handler."""
    if envelope == "direct":
        obj = events[0] if len(events) == 1 else events
    elif envelope == "batch":
        obj = list(events)
    elif envelope == "eventbridge":
        obj = _cloudevent(events[0]) if len(events) == 1 else [_cloudevent(e) for e in events]
    elif envelope == "eventbridge-streaming":
        obj = [_cloudevent(e) for e in events]
    elif envelope == "http":
        body = json.dumps(events[0], ensure_ascii=False).encode("utf-8")
        obj = {"version": "v1", "rawPath": "/hr/webhook", "body": body.decode("utf-8"), "isBase64Encoded": False,
               "headers": {"Content-Type": "application/json",
                           SIGNATURE_HEADER: sign(signing_key or "", body)},
               "queryParameters": {},
               "requestContext": {"accountId": "local", "requestId": str(uuid.uuid4()),
                                  "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                  "http": {"method": "POST", "path": "/hr/webhook", "protocol": "HTTP/1.1",
                                           "sourceIp": "127.0.0.1", "userAgent": "hrctl"}}}
    elif envelope == "timer":
        obj = {"triggerTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "triggerName": "daily-offboarding-sweep", "payload": json.dumps(timer_payload or {})}
    else:
        raise ValueError(f"unknown envelope {envelope!r}; choose one of {', '.join(ENVELOPES)}")
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")
