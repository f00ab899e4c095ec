"""Tell people what happened: one message per invocation to a DingTalk or Lark custom robot.

Why robot webhooks and not EventBridge PutEvents (README, "Notifications"): the standard
library is enough (no new runtime dependency, no new emulated service), the people who act on an
outcome live in the team's chat, and a robot is set up in a minute. An EventBridge bus remains the
way to fan out to mail/SMS later; this module is the one place to add it.

Signing, as the robots' documentation specifies:
- DingTalk: ``timestamp`` (ms) and ``sign`` = URL-encoded base64(HMAC-SHA256(key=secret,
  msg="<timestamp>\\n<secret>")) as query parameters of the webhook URL.
- Lark / Feishu: ``timestamp`` (s) and ``sign`` = base64(HMAC-SHA256(key="<timestamp>\\n<secret>",
  msg="")) in the JSON body.

Rules: a message is built from an allow-list of result fields (identifiers, statuses, error
codes), never from the event or a credential; delivery has a short timeout and no retry; any
failure is logged (``alert="notification-failed"``) and swallowed: a notification never fails,
delays much, or repeats provisioning. Redeliveries answer ``already-provisioned`` and are not
announced again.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

from . import log
from .settings import Settings, is_loopback

DINGTALK, LARK = "dingtalk", "lark"
# Outcomes that reach people (``already-provisioned`` and ``rejected`` do not: a redelivery is no
# news, and invalid input is the sender's to fix, answered to it directly).
ANNOUNCED = ("provisioned", "disabled", "deleted", "scheduled", "failed", "conflict", "not-found")
FIELDS = ("userName", "logonPrincipal", "accessMode", "policies", "lastWorkingDay", "deleteAfter", "reason")
MAX_LINES = 30


def _line(result: dict[str, Any]) -> str:
    status = str(result.get("status") or result.get("action"))      # a sweep row names its action
    if status == "provisioned" and result.get("rehired"):
        status = "rehired"
    parts = [f"{status}: {result.get('userName') or result.get('eventId') or '?'}"]
    for key in FIELDS[1:]:
        value = result.get(key)
        if value:
            parts.append(f"{key}={','.join(map(str, value)) if isinstance(value, list) else value}")
    error = result.get("error")
    if isinstance(error, dict):
        parts.append("error=" + " ".join(str(error[k]) for k in ("action", "code", "requestId") if error.get(k)))
    return " ".join(parts)


def outcome_lines(results: Iterable[Any]) -> list[str]:
    """One line per announced result (identifiers only)."""
    return [_line(r) for r in results if isinstance(r, dict) and r.get("status") in ANNOUNCED]


def sweep_lines(report: dict[str, Any]) -> list[str]:
    """A sweep that changed something, failed somewhere, or hit the brake (dry runs: only the brake)."""
    if report.get("status") != "swept":
        return outcome_lines([report])
    counts = report.get("counts") or {}
    lines = []
    if report.get("brake"):
        brake = report["brake"]
        lines.append(f"mass-deletion brake engaged: {brake.get('pending')} deletion(s) held back "
                     f"(limit {brake.get('limit')} per run)")
    if report.get("dryRun"):
        return lines
    for row in report.get("users") or []:
        if isinstance(row, dict) and row.get("action") in ("disabled", "deleted", "failed"):
            lines.append(_line(row))
    if not lines and any(counts.get(k) for k in ("disabled", "deleted", "failed")):
        lines.append("sweep: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    return lines


def _sign_dingtalk(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _sign_lark(secret: str, timestamp_s: int) -> str:
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def request(settings: Settings, text: str, now: float | None = None) -> urllib.request.Request:
    """The HTTP request the robot expects (signed when a secret is configured)."""
    now = time.time() if now is None else now
    url, secret = settings.notify_webhook_url, settings.notify_webhook_secret
    if settings.notify_kind == LARK:
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
        if secret:
            stamp = int(now)
            body.update(timestamp=str(stamp), sign=_sign_lark(secret, stamp))
    else:
        body = {"msgtype": "text", "text": {"content": text}}
        if secret:
            stamp = int(now * 1000)
            query = urllib.parse.urlencode({"timestamp": stamp, "sign": _sign_dingtalk(secret, stamp)})
            url += ("&" if "?" in url else "?") + query
    # the scheme is https (or http to loopback): Settings refuses anything else
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8"}
    return urllib.request.Request(url, data=data, method="POST", headers=headers)  # noqa: S310


def _accepted(answer: Any) -> bool:
    """DingTalk answers ``{"errcode": 0}``, Lark ``{"code": 0}`` (older: ``{"StatusCode": 0}``)."""
    if not isinstance(answer, dict):
        return False
    for key in ("errcode", "code", "StatusCode"):
        if key in answer:
            return answer[key] == 0
    return False


def send(settings: Settings, lines: list[str], context: str) -> bool:
    """Deliver one message; True when the robot accepted it. Never raises."""
    if not settings.notify_webhook_url or not lines:
        return False
    shown = lines[:MAX_LINES] + ([f"... and {len(lines) - MAX_LINES} more"] if len(lines) > MAX_LINES else [])
    text = f"[hr-ram-provisioner] {context}\n" + "\n".join(shown)
    try:
        # a loopback receiver (tests) is reached directly, whatever proxy the environment names
        direct = is_loopback(urllib.parse.urlsplit(settings.notify_webhook_url).netloc)
        opener = urllib.request.build_opener(*([urllib.request.ProxyHandler({})] if direct else []))
        with opener.open(request(settings, text), timeout=settings.notify_timeout_ms / 1000) as response:
            answer = json.loads(response.read(65536).decode("utf-8") or "null")
        if _accepted(answer):
            log.info("notified", kind=settings.notify_kind, lines=len(lines))
            return True
        reason = f"robot refused: {json.dumps(answer)[:200]}"
    except urllib.error.HTTPError as err:
        reason = f"HTTP {err.code}"
    except (OSError, ValueError) as err:      # refused, timed out, DNS, unreadable answer
        reason = f"{type(err).__name__}: {err}"[:200]
    except Exception as err:  # noqa: BLE001 - a notification must never fail provisioning
        reason = f"{type(err).__name__}"
    log.alert(logging.WARNING, "notification failed", log.NOTIFICATION_FAILED_ALERT, kind=settings.notify_kind,
              reason=reason, lines=len(lines))
    return False


def outcomes(settings: Settings, results: Iterable[Any], function: str) -> bool:
    """After an invocation's results are final: announce the ones people must know about."""
    try:
        return send(settings, outcome_lines(results), function)
    except Exception:  # noqa: BLE001 - belt and braces: nothing here may fail the invocation
        return False


def sweep(settings: Settings, report: Any) -> bool:
    try:
        return send(settings, sweep_lines(report) if isinstance(report, dict) else [], "offboarding sweep")
    except Exception:  # noqa: BLE001
        return False
