"""Leak safety at any logging configuration (issue 11).

RAM takes CreateLoginProfile's Password in the query string (its API metadata says ``in: query``, and
the SDK's ``create_login_profile_with_options`` puts it there), and urllib3 logs every request line at
DEBUG. With the root logger at DEBUG (an operator's first move when something is wrong) the password
went to the function's log, percent-encoded. The suite-wide guard (tests/leakcheck.py) now runs every
handler call that way; this shows the channel itself: the request line IS logged, and scrubbed.
"""
import logging
from urllib.parse import quote

import onboarding
import pytest

from tests.conftest import as_bytes
from tests.leakcheck import forms
from tests.onboarding_support import event


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.NOTSET)
        self.lines = []

    def emit(self, record):
        self.lines.append((record.name, record.getMessage()))


@pytest.fixture
def root_debug(monkeypatch):
    root, records = logging.getLogger(), Records()
    level = root.level
    root.addHandler(records)
    root.setLevel(logging.DEBUG)
    monkeypatch.setenv("DEBUG", "sdk")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    yield records
    root.removeHandler(records)
    root.setLevel(level)


@pytest.mark.parametrize("mode", ["console", "programmatic"])
def test_request_lines_are_logged_without_credentials(cloud, root_debug, mode):
    from provisioner.platform import runtime
    runtime.reset()
    assert onboarding.handler(as_bytes(event(mode=mode)), None)["status"] == "provisioned"
    http = [text for name, text in root_debug.lines if name.startswith("urllib3")]
    assert any('"POST /?' in text for text in http)                # the channel exists at DEBUG ...
    if mode == "console":
        assert any("Password=[REDACTED]" in text for text in http)  # ... and is scrubbed at the source
    minted = {f for c in cloud.minted_credentials() if len(c) >= 8 for f in forms(c)}
    assert minted
    assert not [name for name, text in root_debug.lines if any(f in text for f in minted)]


def test_the_filter_also_removes_registered_secrets_in_any_form():
    """Second line of defence: a minted credential is scrubbed from a third-party record even when it
    is not a named parameter (raw or percent-encoded)."""
    from provisioner.platform import log as structured_log
    secret = "Zq9!x/y+z=Secret-Value"
    structured_log.register_secret(secret)
    record = logging.LogRecord("urllib3.connectionpool", logging.DEBUG, __file__, 1, "%s %s", (
        secret, "Body=" + quote(secret, safe="")), None)
    structured_log.RedactingFilter().filter(record)
    assert secret not in record.getMessage() and quote(secret, safe="") not in record.getMessage()
