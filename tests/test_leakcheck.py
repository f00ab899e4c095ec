"""The suite-wide leak guard (tests/leakcheck.py) really fails a leaking test.

A guard that never fires looks exactly like one that works, so this runs a small suite in a separate
pytest process, with the same plugin and fixtures, in which tests deliberately leak a credential that
localcloud minted through each channel the guard watches: captured stdout, captured stderr, a log line
of our JSON logger, a handler's return value and a handler's exception message. Each must fail with
"credential leak" and the place named; a test that leaks nothing must pass; and the report must not
show the value in the guard's own message.
"""
import os
import re
import sys
from pathlib import Path

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent

CONFTEST = "from tests.conftest import *  # noqa: F401,F403 - the real fixtures (cloud, ...)\n"

LEAKY_SUITE = '''
import base64
import json
import logging
import sys
from urllib.parse import quote

import onboarding
import pytest
from provisioner import app
from provisioner.platform import log


def minted(cloud):
    """An AccessKeySecret localcloud minted (in-process: no call log entry needed)."""
    cloud.ram.create_user("leaky.user")
    return cloud.ram.create_access_key("leaky.user")["AccessKeySecret"]


EVENT = {"eventId": "e1", "eventType": "employee.onboarded", "occurredAt": "2026-11-28T09:00:00Z",
         "employee": {"employeeId": "E1", "logonName": "leaky.user", "displayName": "Leaky"},
         "access": {"mode": "programmatic", "level": "read-only"}}


def test_leak_stdout(cloud):
    print("debug:", minted(cloud))


def test_leak_stderr(cloud):
    print(minted(cloud), file=sys.stderr)


def test_leak_log_line(cloud):
    log.error("oops", detail="secret is " + minted(cloud))


def test_leak_return_value(cloud, monkeypatch):
    secret = minted(cloud)
    monkeypatch.setattr(onboarding, "FUNCTION", app.Function(
        "employee.onboarded", lambda event, rt: {"eventId": "e1", "status": "provisioned", "note": secret}))
    onboarding.handler(json.dumps(EVENT).encode(), None)


def test_leak_exception_message(cloud, monkeypatch):
    secret = minted(cloud)

    def boom(event, rt):
        raise RuntimeError("failed with " + secret)
    monkeypatch.setattr(onboarding, "FUNCTION", app.Function("employee.onboarded", boom))
    with pytest.raises(RuntimeError):
        onboarding.handler(json.dumps(EVENT).encode(), None)


def test_leak_password_in_stdout(cloud):
    cloud.ram.create_user("pw.user")
    cloud.ram.create_login_profile("pw.user", "Sh0uld-N3ver!Leak")
    print("Sh0uld-N3ver!Leak")


def test_leak_debug_record_during_a_handler_call(cloud, monkeypatch):
    secret = minted(cloud)

    def run(event, rt):        # a library logging its request line at DEBUG, as urllib3 does
        logging.getLogger("some.http.library").debug("POST /?Password=%s", secret)
        return {"eventId": "e1", "status": "provisioned"}
    monkeypatch.setattr(onboarding, "FUNCTION", app.Function("employee.onboarded", run))
    onboarding.handler(json.dumps(EVENT).encode(), None)


def test_leak_percent_encoded_in_stdout(cloud):
    cloud.ram.create_user("pe.user")
    cloud.ram.create_login_profile("pe.user", "Pct!Enc0ded/Pass+word")
    print("POST /?Password=" + quote("Pct!Enc0ded/Pass+word", safe=""))


def test_leak_base64_in_a_log_line(cloud):
    log.info("blob", data=base64.b64encode(b"xy" + minted(cloud).encode() + b"z").decode())


def test_leak_json_escaped_in_stdout(cloud):
    cloud.ram.create_user("js.user")
    cloud.ram.create_login_profile("js.user", 'Js0n"Esc\\\\aped!')
    print(json.dumps({"p": 'Js0n"Esc\\\\aped!'}))


def test_no_leak(cloud):
    minted(cloud)
    print("nothing to see")
    log.info("fine", detail="an AccessKeyId is not a secret")
'''

EXPECTED = {"test_leak_stdout": "captured stdout", "test_leak_stderr": "captured stderr",
            "test_leak_log_line": "log line", "test_leak_return_value": "handler return value",
            "test_leak_exception_message": "handler exception", "test_leak_password_in_stdout": "captured stdout",
            # issue 11: any logger at the root's DEBUG, and every encoded form
            "test_leak_debug_record_during_a_handler_call": "log record (some.http.library)",
            "test_leak_percent_encoded_in_stdout": "captured stdout",
            "test_leak_base64_in_a_log_line": "log line", "test_leak_json_escaped_in_stdout": "captured stdout"}


def test_leak_guard_fails_every_leaking_test_and_only_those(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_leaky=LEAKY_SUITE)
    env_path = os.pathsep.join([str(ROOT), str(ROOT / "functions"), os.environ.get("PYTHONPATH", "")])
    pytester._monkeypatch.setenv("PYTHONPATH", env_path)
    result = pytester.run(sys.executable, "-m", "pytest", "-p", "tests.leakcheck", "-p", "no:cacheprovider",
                          "-p", "no:randomly", "-rf", "-q", "test_leaky.py", timeout=300)
    text = "\n".join(result.outlines)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == len(EXPECTED) and outcomes.get("passed") == 1, text[-3000:]
    verdicts, test = {}, None
    for line in result.outlines:
        header = re.match(r"^_+ (test_\w+) _+$", line)
        if header:
            test = header.group(1)
        elif test and line.startswith("credential leak"):
            verdicts[test] = line
    assert set(verdicts) == set(EXPECTED), (sorted(verdicts), text[-3000:])
    for test, where in EXPECTED.items():
        assert where in verdicts[test], (test, verdicts[test])
        # the guard's own message withholds the value (30 alphanumerics is an AccessKeySecret's shape)
        assert "value withheld" in verdicts[test] and not re.search(r"[A-Za-z0-9]{30}", verdicts[test])
