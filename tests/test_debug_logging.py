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


# -- the log layer's survivors of the mutation run (bench/MUTATION.md): each test below fails on one ---
# The cuts are the contract (module docstring): spelled out here, not read from the module.
FIELD_CHARS, FIELD_ITEMS = 4096, 100


def _json_lines(debug_lines):
    return [json.loads(line) for line in debug_lines()]


def test_a_json_escaped_secret_leaves_no_character_behind(debug_lines):
    """The JSON line carries the secret escaped (\\" and \\\\): its escaped form is scrubbed whole, not
    one character short at either end."""
    from provisioner.platform import log as structured_log
    with structured_log.credential_scope():
        structured_log.register_secret(SECRET)
        structured_log.warning(f"<{SECRET}>")
    assert [line["message"] for line in _json_lines(debug_lines)] == [f"<{structured_log.REDACTED}>"]


def test_long_fields_and_lists_are_cut_exactly_at_the_limits(debug_lines):
    from provisioner.platform import log as structured_log
    structured_log.info("cuts", exact="a" * FIELD_CHARS, over="b" * (FIELD_CHARS + 1), far="c" * (FIELD_CHARS + 5000),
                        items=list(range(FIELD_ITEMS)), items_over=list(range(FIELD_ITEMS + 1)),
                        items_far=list(range(FIELD_ITEMS + 150)))
    [line] = _json_lines(debug_lines)
    assert line["exact"] == "a" * FIELD_CHARS
    assert line["over"] == "b" * FIELD_CHARS + "...[1 more characters]"
    assert line["far"] == "c" * FIELD_CHARS + "...[5000 more characters]"
    assert line["items"] == list(range(FIELD_ITEMS))
    assert line["items_over"] == [*range(FIELD_ITEMS), "...[1 more items]"]
    assert line["items_far"] == [*range(FIELD_ITEMS), "...[150 more items]"]


def test_an_exception_is_logged_as_its_type_and_message(debug_lines):
    """Raised and caught, or handed over as an instance never raised (no traceback): the line says
    which exception and what it said; without one, no exception field."""
    from provisioner.platform import log as structured_log
    try:
        raise ValueError("boom")
    except ValueError:
        structured_log.logger.exception("raised")
    structured_log.logger.error("handed over", exc_info=KeyError("never raised"))
    structured_log.logger.error("none")
    lines = _json_lines(debug_lines)
    assert [line.get("exception") for line in lines] == ["ValueError: boom", "KeyError: 'never raised'", None]


def test_non_ascii_text_is_written_as_it_is(debug_lines):
    """Employees' names in Chinese are readable in the log, not \\u escapes."""
    from provisioner.platform import log as structured_log
    structured_log.info("入职 张伟", displayName="张伟")
    [raw] = debug_lines()
    assert '"message": "入职 张伟"' in raw and '"displayName": "张伟"' in raw


def test_a_line_that_cannot_be_written_never_breaks_the_caller(debug_lines, capsys):
    from provisioner.platform import log as structured_log

    class Unprintable:
        def __str__(self):
            raise RuntimeError("cannot print")

    structured_log.info("unprintable", field=Unprintable())      # must not raise into the function
    structured_log.info("after")
    assert [line["message"] for line in _json_lines(debug_lines)] == ["after"]


def test_a_third_party_record_that_cannot_be_formatted_is_left_to_logging():
    """The filter neither raises nor drops it: logging's own error handling deals with it."""
    from provisioner.platform import log as structured_log
    record = logging.LogRecord("urllib3.connectionpool", logging.DEBUG, __file__, 1, "%d", ("not a number",), None)
    assert structured_log.RedactingFilter().filter(record) is True
    assert (record.msg, record.args) == ("%d", ("not a number",))


def test_a_line_is_written_once_not_again_through_the_root_logger(root_debug, debug_lines):
    """FC's runtime has a handler on the root logger: our lines must not reach it a second time."""
    from provisioner.platform import log as structured_log
    structured_log.warning("once")
    assert len(debug_lines()) == 1
    assert [name for name, _ in root_debug.lines if name == structured_log.logger.name] == []


def test_appended_keys_ride_on_the_later_lines_of_the_block_and_none_is_left_out(debug_lines):
    from provisioner.platform import log as structured_log
    with structured_log.keys(eventId="ev-1"):
        structured_log.append_keys(employeeId="E1", userName=None)
        structured_log.info("inside")
    structured_log.info("outside")
    inside, outside = _json_lines(debug_lines)
    assert (inside["eventId"], inside["employeeId"], "userName" in inside) == ("ev-1", "E1", False)
    assert "eventId" not in outside and "employeeId" not in outside


def test_only_an_instances_first_invocation_is_a_cold_start():
    """A fresh interpreter is a fresh FC instance: its first invocation says coldStart true, the next
    false (a process of its own: the test process imported the module long ago)."""
    import subprocess
    import sys
    from pathlib import Path

    from provisioner.platform import log as structured_log
    code = ("import types\nfrom provisioner.platform import log\n"
            "ctx = types.SimpleNamespace(request_id='req-1', function=types.SimpleNamespace(name='onboarding'))\n"
            "for _ in range(2):\n"
            "    with log.invocation(ctx):\n"
            "        log.alert(30, 'line', 'config-error')\n")
    functions = Path(structured_log.__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(functions)}, capture_output=True,
                          text=True, timeout=60, check=True)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(line["coldStart"], line["requestId"], line["functionName"]) for line in lines] == [
        (True, "req-1", "onboarding"), (False, "req-1", "onboarding")]
