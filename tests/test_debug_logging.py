"""Leak safety at any logging configuration (issue 11).

RAM takes CreateLoginProfile's Password in the query string (its API metadata says ``in: query``, and
the SDK's ``create_login_profile_with_options`` puts it there), and urllib3 logs every request line at
DEBUG. With the root logger at DEBUG (an operator's first move when something is wrong) the password
went to the function's log, percent-encoded. The suite-wide guard (tests/leakcheck.py) now runs every
handler call that way; this shows the channel itself: the request line IS logged, and scrubbed.
"""
import json
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


# -- issue 15: the log layer itself, called with a registered secret and secret-named fields ---------
SECRET = 'Zq9!x/y+z=Se"cret\\Value'          # needs percent-, plus- and JSON-encoding
# The field names whose values are never logged (the contract; spelled out here, not imported).
SECRET_NAMED = ["AccessKeySecret", "Password", "NewPassword", "SecretData", "password", "accessKeySecret",
                "secret", "signature"]


@pytest.fixture
def debug_lines(root_debug, capsys):
    """Every JSON line the structured logger writes, with it and the root logger at DEBUG."""
    from provisioner.platform import log as structured_log
    before = structured_log.logger.level
    structured_log.set_level("DEBUG")
    capsys.readouterr()
    yield lambda: [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    structured_log.logger.setLevel(before)


def test_a_registered_secret_is_scrubbed_from_every_line_at_every_level(debug_lines):
    from provisioner.platform import log as structured_log
    forms_of_it = forms(SECRET) | {quote(SECRET, safe=""), json.dumps(SECRET)[1:-1]}
    with structured_log.credential_scope():
        structured_log.register_secret(SECRET)
        with structured_log.keys(note=f"key {SECRET}"):
            structured_log.debug(f"debug {SECRET}", field=SECRET)
            structured_log.info("info", nested={"deep": [f"in a list {SECRET}", {"x": quote(SECRET, safe="")}]})
            structured_log.warning("warning", text=json.dumps({"v": SECRET}))
            structured_log.error("error", long="x" * (structured_log.MAX_FIELD_CHARS - 20) + SECRET)
            structured_log.alert(logging.ERROR, f"alert {SECRET}", "provisioning-failed", detail=SECRET)
            try:
                raise RuntimeError(f"boom {SECRET}")
            except RuntimeError:
                structured_log.logger.exception("exception")
    lines = debug_lines()
    assert len(lines) == 6                                      # every call wrote its line, DEBUG included
    assert [json.loads(line)["level"] for line in lines] == ["DEBUG", "INFO", "WARNING", "ERROR", "ERROR", "ERROR"]
    leaked = [line for line in lines if any(f in line for f in forms_of_it)]
    assert leaked == []
    assert all(structured_log.REDACTED in line for line in lines)
    cut = json.loads(lines[3])["long"]                          # scrubbed before it is cut: no part is left
    assert cut.startswith("x" * (structured_log.MAX_FIELD_CHARS - 20)) and SECRET[:12] not in cut


def test_secret_named_fields_are_redacted_wherever_they_appear(debug_lines):
    from provisioner.platform import log as structured_log
    for name in SECRET_NAMED:
        value = f"value-of-{name}-0123456789"
        structured_log.debug("flat", **{name: value})
        structured_log.info("nested", outer={"inner": {name: value}}, items=[{name: value}])
        structured_log.alert(logging.WARNING, "alert", "user-conflict", **{name: value})
        lines = [json.loads(line) for line in debug_lines()]
        assert len(lines) == 3
        assert lines[0][name] == structured_log.REDACTED
        assert lines[1]["outer"]["inner"][name] == structured_log.REDACTED
        assert lines[1]["items"] == [{name: structured_log.REDACTED}]
        assert lines[2][name] == structured_log.REDACTED
        assert not [line for line in lines if value in json.dumps(line)]
    structured_log.info("plain", userName="alice.wang")         # other names are logged as they are
    assert json.loads(debug_lines()[0])["userName"] == "alice.wang"


def test_a_third_party_record_at_debug_is_scrubbed(cloud, root_debug):
    """With the root logger at DEBUG, a record on the HTTP stack's loggers reaches no handler with a
    registered secret or a secret-named parameter's value in it."""
    from provisioner.platform import log as structured_log
    from provisioner.platform import runtime
    runtime.reset()
    runtime.get().cloud.ram("GetAccountAlias")          # a client built: the filter is on those loggers
    seen = len(root_debug.lines)
    with structured_log.credential_scope():
        structured_log.register_secret(SECRET)
        logging.getLogger("urllib3.connectionpool").debug(
            '"POST /?UserName=a&Password=pw-in-query-123&Other=%s HTTP/1.1"', quote(SECRET, safe=""))
    http = [text for name, text in root_debug.lines[seen:] if name == "urllib3.connectionpool"]
    assert len(http) == 1
    assert "pw-in-query-123" not in http[0] and quote(SECRET, safe="") not in http[0]
    assert "Password=[REDACTED]" in http[0]


def test_a_secret_registered_twice_stays_registered(debug_lines):
    """Registering is idempotent (a credential may be registered by two steps of one event): the
    second registration never takes it out again (a surviving mutant of the mutation run)."""
    from provisioner.platform import log as structured_log
    with structured_log.credential_scope():
        structured_log.register_secret(SECRET)
        structured_log.register_secret(SECRET)
        structured_log.warning(f"twice {SECRET}", field=SECRET)
    lines = debug_lines()
    forms_of_it = forms(SECRET) | {quote(SECRET, safe=""), json.dumps(SECRET)[1:-1]}
    assert lines and not [line for line in lines if any(f in line for f in forms_of_it)]


def test_every_alert_constant_is_an_alert_name():
    """The SLS alert rule keys on ALERT_NAMES: every alert the code can raise is in it (a surviving
    mutant built it with & instead of |)."""
    from provisioner.domain import audit
    from provisioner.platform import log as structured_log
    constants = {value for name, value in vars(structured_log).items() if name.endswith("_ALERT")}
    assert len(constants) >= 8
    assert constants | {name for name, _ in structured_log.ALERTS.values()} | audit.RULE_IDS \
        == structured_log.ALERT_NAMES
