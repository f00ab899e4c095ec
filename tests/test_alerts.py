"""Failures reach a human (issue 11): every outcome that is not a success is an alert line — WARNING or
ERROR, a stable ``alert`` name — written whatever LOG_LEVEL says (the README's SLS alert rule keys on
it). Before: a permanent ``failed`` and an offboarding ``conflict`` were INFO lines, gone at
LOG_LEVEL=WARNING or ERROR, which the README offers.
"""
import json
import logging
import re
from pathlib import Path

import offboarding
import onboarding
import pytest
from alibabacloud_ram20150501 import models as rm
from provisioner.adapters import webhook
from provisioner.platform import log, runtime

from tests.conftest import as_bytes
from tests.offboarding_support import make_user, marker, set_clock, timer
from tests.onboarding_support import event

ROOT = Path(__file__).resolve().parent.parent
LEVELS = ["WARNING", "ERROR"]


def lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def alerts(capsys):
    return [(line["alert"], line["level"]) for line in lines(capsys) if "alert" in line]


@pytest.fixture(params=LEVELS)
def quiet(request, cloud, monkeypatch, capsys):
    """The functions at LOG_LEVEL=WARNING or ERROR; nothing captured yet."""
    monkeypatch.setenv("LOG_LEVEL", request.param)
    runtime.reset()
    capsys.readouterr()
    return request.param


def leaver(logon):
    return {"eventId": "l-1", "eventType": "employee.offboarded", "occurredAt": "2026-11-28T18:00:00Z",
            "employee": {"employeeId": "E10023", "logonName": logon}}


def test_a_success_is_no_alert_and_silent_above_info(quiet, capsys):
    assert onboarding.handler(as_bytes(event()), None)["status"] == "provisioned"
    assert lines(capsys) == []


def test_a_rejected_event(quiet, capsys):
    assert onboarding.handler(as_bytes(event(level="admin")), None)["status"] == "rejected"
    assert alerts(capsys) == [("event-rejected", "WARNING")]


def test_a_conflict_when_onboarding(quiet, ram, capsys):
    ram.create_user(rm.CreateUserRequest(user_name="alice.wang", comments="made by hand"))
    assert onboarding.handler(as_bytes(event()), None)["status"] == "conflict"
    assert ("user-conflict", "WARNING") in alerts(capsys)


def test_a_conflict_when_offboarding(quiet, ram, capsys):
    ram.create_user(rm.CreateUserRequest(user_name="bob", comments="made by hand"))
    assert offboarding.handler(as_bytes(leaver("bob")), None)["status"] == "conflict"
    assert alerts(capsys) == [("user-conflict", "WARNING")]


def test_a_permanent_failure(quiet, cloud, capsys):
    cloud.faults.fail("CreateUser", "InvalidParameter.DisplayName.Length", 400)
    result = onboarding.handler(as_bytes(event()), None)
    assert result["status"] == "failed"
    (line,) = [line for line in lines(capsys) if line.get("alert")]
    assert (line["alert"], line["level"]) == ("provisioning-failed", "ERROR")
    assert line["error"]["code"] == "InvalidParameter.DisplayName.Length" and line["eventId"] == result["eventId"]


def test_a_transient_failure_left_for_fc(quiet, cloud, monkeypatch, capsys):
    monkeypatch.setenv("RETRY_MAX_ATTEMPTS", "1")
    runtime.reset()
    cloud.faults.fail("GetUser", "InternalError", 500, times=10)
    with pytest.raises(Exception, match="transient"):
        onboarding.handler(as_bytes(event()), None)
    assert ("transient-failure", "ERROR") in alerts(capsys)


def test_a_refused_webhook(quiet, capsys):
    raw = as_bytes(event())
    req = {"version": "v1", "rawPath": "/", "headers": {"X-HR-Signature": webhook.sign("not-the-key", raw)},
           "queryParameters": {}, "body": raw.decode(), "isBase64Encoded": False,
           "requestContext": {"http": {"method": "POST"}}}
    assert onboarding.handler(as_bytes(req), None)["statusCode"] == 401
    assert alerts(capsys) == [("webhook-refused", "WARNING")]


def test_a_config_error(quiet, monkeypatch, capsys):
    monkeypatch.setenv("SECRET_PREFIX", "")
    runtime.reset()
    assert onboarding.handler(as_bytes(event()), None)["error"]["code"] == "ConfigError.SECRET_PREFIX"
    assert alerts(capsys) == [("config-error", "ERROR")]


def test_a_rejected_timer_payload(quiet, capsys):
    assert offboarding.handler(as_bytes(timer({"dryrun": True})), None)["status"] == "rejected"
    assert ("event-rejected", "WARNING") in alerts(capsys)


@pytest.fixture
def due(quiet, ram, kms, mocker, monkeypatch):
    """Two managed users past their grace period, the sweep for real."""
    for name in ("gone.one", "gone.two"):
        make_user(ram, kms, name, name.upper().replace(".", ""),
                  comments=marker(name.upper().replace(".", ""), "disabled", at="2026-01-01T00:00:00Z"))
    set_clock(mocker, "2026-11-28T02:00:00Z")
    monkeypatch.setenv("OFFBOARD_GRACE_DAYS", "0")
    runtime.reset()


def test_the_mass_deletion_brake(due, monkeypatch, capsys):
    monkeypatch.setenv("OFFBOARD_MAX_DELETIONS_PER_RUN", "1")
    runtime.reset()
    report = offboarding.handler(as_bytes(timer()), None)
    assert report["counts"]["pending"] == 1
    assert ("mass-deletion-brake", "ERROR") in alerts(capsys)


def test_a_user_the_sweep_could_not_delete(due, cloud, capsys):
    cloud.faults.fail("DeleteUser", "DeleteConflict.User.Group", 409, times=2)
    report = offboarding.handler(as_bytes(timer()), None)
    assert report["counts"]["failed"] == 2
    (line,) = [line for line in lines(capsys) if line.get("alert") == "provisioning-failed"]
    assert line["level"] == "ERROR" and sorted(line["users"]) == ["gone.one", "gone.two"]


def test_the_alert_name_sets_are_disjoint_and_all_in_alert_names():
    """A result status's alert, the named alerts and the audit's finding codes never share a name (one
    name, one meaning), and ALERT_NAMES holds every one of them."""
    statuses = {a for a, _ in log.ALERTS.values()}
    named = {log.CONFIG_ALERT, log.TRANSIENT_ALERT, log.REFUSED_ALERT, log.LOGON_NAME_MISMATCH_ALERT,
             log.MASS_DELETION_BRAKE_ALERT, log.SWEEP_TICK_OWNED_ALERT, log.NOTIFICATION_FAILED_ALERT,
             log.ROTATION_SKIPPED_ALERT}
    audit = set(log.AUDIT_ALERTS)
    assert not (statuses & named) and not (statuses & audit) and not (named & audit)
    assert log.ALERT_NAMES == statuses | named | audit


def test_every_alert_name_is_documented_with_its_level():
    """The README's alert table lists every name the code can log, and says at which level."""
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "functions").rglob("*.py"))
    names = set(re.findall(r'alert="([a-z-]+)"', code)) | {a for a, _ in log.ALERTS.values()}
    names |= set(log.ALERT_NAMES)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in names:
        row = re.search(rf"^\| `{name}` \| (WARNING|ERROR) \|", readme, re.M)
        assert row, f"alert {name} is not in the README's alert table"
    assert log.ALERTS["not-found"] == ("leaver-not-found", logging.WARNING)
