"""Suite-wide guard for invariant 1: no credential in any output, ever.

After every test, everything the test produced is searched for every
credential the session's localcloud minted (AccessKeySecrets, passwords,
secret values): the test's captured stdout/stderr, every line our JSON
logger formatted, every value a handler returned and every exception
message a handler raised. A hit fails the test; the failure message says
where, never what.
"""
from urllib.parse import quote, quote_plus

import pytest

_seen = []


def _record(kind, value):
    _seen.append((kind, value if isinstance(value, str) else repr(value)))


@pytest.fixture(autouse=True)
def _credential_leak_spy(mocker):
    """Spies (observe only) on the log formatter and the shared handler entry point."""
    _seen.clear()
    from provisioner import app
    from provisioner.platform import log as structured_log

    real_format = structured_log.JsonFormatter.format

    def format_spy(self, record):
        line = real_format(self, record)
        _record("log line", line)
        return line

    mocker.patch.object(structured_log.JsonFormatter, "format", format_spy)
    real_handle = app.handle

    def handle_spy(*args, **kwargs):
        try:
            result = real_handle(*args, **kwargs)
        except Exception as exc:
            _record("handler exception", f"{type(exc).__name__}: {exc}")
            raise
        _record("handler return value", result)
        return result

    mocker.patch.object(app, "handle", handle_spy)
    yield


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
    # URL-encoded too: a query string (an SDK's debug line, an HTTP error) carries them that way
    minted = minted | {quote(c, safe="") for c in minted} | {quote_plus(c) for c in minted}
    places = [("captured stdout", report.capstdout), ("captured stderr", report.capstderr)] + list(_seen)
    leaks = sorted({where for where, text in places if any(secret in text for secret in minted)})
    if leaks:
        report.outcome = "failed"
        report.longrepr = ("credential leak: a credential minted by localcloud appeared in "
                           + ", ".join(leaks) + " (value withheld)")
