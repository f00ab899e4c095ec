"""Request authentication as the OpenAPI gateway performs it.

V3 (``ACS3-HMAC-SHA256``, what tea-openapi sends) rebuilds the canonical
request from the headers the client lists in ``SignedHeaders``; RPC V2
(``Signature``/``SignatureMethod=HMAC-SHA1`` query parameters) is accepted too
so older clients work. Both refuse stale timestamps and reused nonces.
"""
import base64
import hashlib
import hmac
import threading
import time
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote

from .exceptions import ApiError

CLOCK_SKEW_SECONDS = 15 * 60


def _pct(value):
    return quote(value, safe="~", encoding="utf-8")


def canonical_query(query):
    return "&".join(f"{_pct(k)}={_pct(v)}" for k, v in sorted(query.items()))


def _parse_time(value):
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=timezone.utc).timestamp()
        except (TypeError, ValueError):
            continue
    return None


class Authenticator:
    """Knows the accepted credentials; remembers nonces for the skew window.

    Freshness is checked against the real wall time (``wall_time``), never the cloud's
    movable clock: the official SDK signs with the real time (see ``localcloud/clock.py``).
    """

    wall_time = staticmethod(time.time)

    def __init__(self, credentials, security_tokens=None):
        self.credentials = dict(credentials)          # AccessKeyId -> secret
        self.security_tokens = dict(security_tokens or {})  # AccessKeyId -> token
        self._nonces = {}
        self._lock = threading.Lock()
        # AccessKeys RAM minted for its users sign requests too, while Active (set by the gateway:
        # ``key_lookup(id)`` -> the key's secret, None when unknown; raises for an Inactive key).
        self.key_lookup = None

    def _secret_for(self, access_key_id):
        secret = self.credentials.get(access_key_id)
        if secret is None and self.key_lookup is not None:
            secret = self.key_lookup(access_key_id)
        if secret is None:
            raise ApiError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        return secret

    def _check_token(self, access_key_id, token):
        expected = self.security_tokens.get(access_key_id)
        if expected is None and token:
            raise ApiError("InvalidSecurityToken.MismatchWithAccessKey",
                           "The Security Token does not match the AccessKeyId.", 400)
        if expected is not None:
            if not token:
                raise ApiError("InvalidSecurityToken.Malformed",
                               "The Security Token is missing or malformed.", 400)
            if not hmac.compare_digest(expected, token):
                raise ApiError("InvalidSecurityToken.MismatchWithAccessKey",
                               "The Security Token does not match the AccessKeyId.", 400)

    def _check_fresh(self, timestamp, nonce):
        when = _parse_time(timestamp)
        if when is None:
            raise ApiError("InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.", 400)
        now = self.wall_time()
        if abs(now - when) > CLOCK_SKEW_SECONDS:
            raise ApiError("InvalidTimeStamp.Expired",
                           "Specified time stamp or date value is expired.", 400)
        if not nonce:
            raise ApiError("MissingSignatureNonce", "SignatureNonce is mandatory for this action.", 400)
        with self._lock:
            if len(self._nonces) > 100_000:
                self._nonces = {n: t for n, t in self._nonces.items() if now - t < CLOCK_SKEW_SECONDS}
            if nonce in self._nonces:
                raise ApiError("SignatureNonceUsed", "Specified signature nonce was used already.", 400)
            self._nonces[nonce] = now

    def authenticate(self, method, path, query, headers, body):
        """Return the caller's AccessKeyId or raise the gateway's error."""
        auth = headers.get("authorization")
        if auth:
            return self._v3(method, path, query, headers, body, auth)
        form = {}   # RPC V2 POST carries its parameters, Signature included, in a form body
        if body and "application/x-www-form-urlencoded" in headers.get("content-type", ""):
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        if "Signature" in query or "Signature" in form:
            return self._v2(method, query, form)
        raise ApiError("IncompleteSignature", "The request signature does not conform to Aliyun standards.", 400)

    def _v3(self, method, path, query, headers, body, auth):
        algorithm, _, rest = auth.partition(" ")
        if algorithm != "ACS3-HMAC-SHA256":
            raise ApiError("IncompleteSignature", f"Unsupported signature algorithm: {algorithm}", 400)
        fields = {}
        for part in rest.split(","):
            key, _, value = part.strip().partition("=")
            fields[key] = value
        access_key_id = fields.get("Credential", "")
        signed = fields.get("SignedHeaders", "")
        signature = fields.get("Signature", "")
        secret = self._secret_for(access_key_id)
        self._check_token(access_key_id, headers.get("x-acs-security-token"))
        names = [n for n in signed.split(";") if n]
        if "host" not in names or "x-acs-date" not in names:
            raise ApiError("IncompleteSignature", "SignedHeaders must include host and x-acs-date.", 400)
        payload_hash = hashlib.sha256(body).hexdigest()
        if headers.get("x-acs-content-sha256", payload_hash) != payload_hash:
            raise ApiError("SignatureDoesNotMatch", "The request body does not match x-acs-content-sha256.", 400)
        canonical_headers = "".join(f"{n}:{headers.get(n, '').strip()}\n" for n in names)
        canonical = "\n".join([method, path or "/", canonical_query(query), canonical_headers,
                               ";".join(names), headers.get("x-acs-content-sha256", payload_hash)])
        to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
        expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise ApiError("SignatureDoesNotMatch",
                           "Specified signature is not matched with our calculation.", 400)
        self._check_fresh(headers.get("x-acs-date"), headers.get("x-acs-signature-nonce"))
        return access_key_id

    def _v2(self, method, query, body):
        params = dict(query)
        params.update(body)
        signature = params.pop("Signature")
        access_key_id = params.get("AccessKeyId", "")
        secret = self._secret_for(access_key_id)
        self._check_token(access_key_id, params.get("SecurityToken"))
        if params.get("SignatureMethod", "HMAC-SHA1") != "HMAC-SHA1":
            raise ApiError("IncompleteSignature", "Unsupported SignatureMethod.", 400)
        to_sign = f"{method}&{_pct('/')}&{_pct(canonical_query(params))}"
        expected = base64.b64encode(
            hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(expected, signature):
            raise ApiError("SignatureDoesNotMatch",
                           "Specified signature is not matched with our calculation.", 400)
        self._check_fresh(params.get("Timestamp"), params.get("SignatureNonce"))
        return access_key_id
