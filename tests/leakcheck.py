"""Suite-wide guard for invariant 1: no credential in any output, ever.

After every test, everything the test produced is searched for every
credential the session's localcloud minted (AccessKeySecrets, passwords,
secret values): the test's captured stdout/stderr, every line our JSON
logger formatted, every record ANY logger emitted (urllib3, the SDKs, ...),
every value a handler returned and every exception message a handler raised.
A hit fails the test; the failure message says where, never what.

Every handler call runs with the logging an operator turns on when something is
wrong: the root logger at DEBUG and ``DEBUG=sdk`` (the SDKs' troubleshooting
switch), so a library that logs request lines (query strings carry Password) is
caught. Only around the handler: the tests' own SDK clients (arranging state
with passwords) are not the functions' output. ``LEAKCHECK_ROOT_LEVEL`` (default
DEBUG) changes the level.

Each credential is searched in every form it can take on the way out: raw,
percent-encoded (``quote``, ``quote_plus``), JSON-escaped, and base64 (standard
and URL-safe, at each of the three byte alignments inside a longer encoding).
"""
import base64
import json
import logging
import os
from urllib.parse import quote, quote_plus

import pytest

_seen = []
ROOT_LEVEL = os.environ.get("LEAKCHECK_ROOT_LEVEL", "DEBUG")


class _AnyLoggerSpy(logging.Handler):
    """On the root logger: every record of every (propagating) logger, formatted with its exception."""

    def __init__(self):
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record):
        try:
            _record(f"log record ({record.name})", self.format(record))
        except Exception:  # noqa: BLE001 - a record that cannot be formatted cannot leak through a handler
            pass


def forms(secret):
    """Every text form ``secret`` can take in output (see the module docstring)."""
    found = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret), json.dumps(secret)[1:-1]}
    raw = secret.encode("utf-8")
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for shift in range(3):
            text = encode(b"\0" * shift + raw).decode("ascii").rstrip("=")
            # drop the characters that depend on the bytes around the secret in a longer encoding
            start = (shift * 4 + 2) // 3
            end = len(text) - (1 if (shift + len(raw)) % 3 else 0)
            core = text[start:end]
            if len(core) >= 8:
                found.add(core)
    return found


def _record(kind, value):
    _seen.append((kind, value if isinstance(value, str) else repr(value)))


class _OperatorDebugging:
    """The root logger at ROOT_LEVEL and DEBUG=sdk, for the duration of a handler call."""

    def __enter__(self):
        root = logging.getLogger()
        self.level, self.debug = root.level, os.environ.get("DEBUG")
        root.setLevel(ROOT_LEVEL)
        os.environ["DEBUG"] = "sdk"

    def __exit__(self, *exc):
        logging.getLogger().setLevel(self.level)
        if self.debug is None:
            os.environ.pop("DEBUG", None)
        else:
            os.environ["DEBUG"] = self.debug


@pytest.fixture(autouse=True)
def _credential_leak_spy(mocker):
    """Spies (observe only) on the log formatter, every logger and the shared handler entry point;
    handler calls run with the root logger at DEBUG and DEBUG=sdk."""
    _seen.clear()
    from provisioner import app
    from provisioner.platform import log as structured_log

    root = logging.getLogger()
    spy = _AnyLoggerSpy()
    root.addHandler(spy)

    real_format = structured_log.JsonFormatter.format

    def format_spy(self, record):
        line = real_format(self, record)
        _record("log line", line)
        return line

    mocker.patch.object(structured_log.JsonFormatter, "format", format_spy)
    real_handle = app.handle

    def handle_spy(*args, **kwargs):
        try:
            with _OperatorDebugging():
                result = real_handle(*args, **kwargs)
        except Exception as exc:
            _record("handler exception", f"{type(exc).__name__}: {exc}")
            raise
        _record("handler return value", result)
        return result

    mocker.patch.object(app, "handle", handle_spy)
    yield
    root.removeHandler(spy)


def _minted(item):
    cloud = item.funcargs.get("cloud") or item.funcargs.get("localcloud_server")
    if cloud is None or not hasattr(cloud, "minted_credentials"):
        return set()
    try:
        return {c for c in cloud.minted_credentials() if c and len(c) >= 8}
    except Exception:
        return set()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call":
        return
    minted = _minted(item)
    if not minted:
        return
    # encoded too: a query string (an SDK's debug line, an HTTP error) carries them percent-encoded,
    # a JSON document escaped, a blob base64-encoded
    minted = {f for c in minted for f in forms(c)}
    places = {}
    for where, text in [("captured stdout", report.capstdout), ("captured stderr", report.capstderr)] + _seen:
        places.setdefault(where, []).append(text)
    # one search per form and place (a credential never holds NUL, so none spans two texts)
    blobs = {where: "\0".join(texts) for where, texts in places.items()}
    leaks = sorted(where for where, blob in blobs.items() if any(secret in blob for secret in minted))
    if leaks:
        report.outcome = "failed"
        report.longrepr = ("credential leak: a credential minted by localcloud appeared in "
                           + ", ".join(leaks) + " (value withheld)")
