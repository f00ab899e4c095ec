"""The HR webhook's signature: ``X-HR-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>.<raw body>")>``.

Constant-time comparison, a tolerance window around ``t`` (``WEBHOOK_TOLERANCE_SECONDS``, inclusive),
several ``v1`` values accepted (key rotation on the sender's side). Reasons never echo the key or a MAC.
"""
from __future__ import annotations

import hashlib
import hmac

from ..platform import clock

SIGNATURE_HEADER = "X-HR-Signature"


def _mac(key: str, timestamp: int, body: bytes) -> str:
    return hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(key: str, body: bytes, timestamp: float | None = None) -> str:
    """The ``X-HR-Signature`` value an HR system sends for ``body`` (bytes)."""
    t = int(clock.now().timestamp() if timestamp is None else timestamp)
    return f"t={t},v1={_mac(key, t, body)}"


def verify_signature(key: str, header: object, body: bytes, tolerance: int, now: float | None = None) -> str | None:
    """Return None when valid, else the reason (never echoing the key or the MAC)."""
    if not key:
        return "webhook signing key is not configured; unsigned requests are refused"
    if not header:
        return f"missing {SIGNATURE_HEADER} header"
    if not isinstance(header, str):
        return "malformed signature header"
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    try:
        t = int(fields.get("t", [""])[0])
    except ValueError:
        return "malformed signature header"
    now = clock.now().timestamp() if now is None else now
    if abs(now - t) > tolerance:
        return "signature timestamp outside the allowed window"
    expected = _mac(key, t, body)
    # bytes: compare_digest raises TypeError for a str with non-ASCII characters
    if not any(hmac.compare_digest(expected.encode(), mac.encode("utf-8", "surrogatepass"))
               for mac in fields.get("v1", [])):
        return "signature does not match"
    return None
