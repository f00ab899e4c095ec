"""Strict settings (issue 11): every value checked, a bad one is ONE ERROR line naming it and a ``failed``
answer with ``ConfigError.<SETTING>``: no traceback, no half-processed event, no cloud call.

Before issue 11: OFFBOARD_DRY_RUN fell open (``'true '``, ``'ture'``, ``'y'``, ``'enabled'`` meant a
real sweep), ``REGION=""`` became cn-hangzhou, ``REGION="   "`` an endpoint ``kms.   .aliyuncs.com``,
an empty SECRET_PREFIX named secrets outside the role's grant, no credentials at all was a transient
ConnectionError (retried, never explained), a bad setting a 32-line traceback, and with no alias and
no account id the logon name became ``bob@account.onaliyun.com``.
"""
import base64
import json
from types import SimpleNamespace

import offboarding
import onboarding
import pytest
from provisioner.adapters import webhook
from provisioner.platform import runtime
from provisioner.platform.settings import ConfigError, Settings

from tests.conftest import as_bytes
from tests.offboarding_support import make_user, marker, set_clock, timer
from tests.onboarding_support import event

KEY = "test-webhook-key"


def config_lines(out):
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("alert") == "config-error"]


def assert_config_error(capsys, answer, setting, events=1, sender=False):
    """``answer``'s results all failed with ConfigError.<setting>; exactly one ERROR line says so (with
    the message; an anonymous webhook sender gets the setting's name only)."""
    results = answer if isinstance(answer, list) else [answer]
    assert len(results) == events
    for result in results:
        assert result["status"] == "failed", result
        assert result["error"]["code"] == f"ConfigError.{setting}" and result["error"]["setting"] == setting
        assert ("message" not in result["error"]) if sender else (setting in result["error"]["message"])
    out, err = capsys.readouterr()
    (line,) = config_lines(out)
    assert line["level"] == "ERROR" and line["setting"] == setting and setting in line["message"]
    assert "Traceback" not in out + err
    return line


def set_env(monkeypatch, **values):
    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    runtime.reset()


# -- booleans: true or false, nothing else ------------------------------------------------------------------
@pytest.mark.parametrize("value", ["true ", " true", "ture", "y", "yes", "1", "on", "enabled", "", "t", "0", "no"])
def test_a_dry_run_switch_that_is_not_true_or_false_stops_the_sweep(cloud, ram, kms, mocker, monkeypatch, capsys,
                                                                   value):
    """Before: every one of these turned the dry run OFF and the sweep deleted the due users."""
    make_user(ram, kms, "due.user", "E1", comments=marker("E1", "disabled", at="2026-01-01T00:00:00Z"))
    set_clock(mocker, "2026-11-28T02:00:00Z")
    set_env(monkeypatch, OFFBOARD_DRY_RUN=value, OFFBOARD_GRACE_DAYS="0")
    capsys.readouterr()
    mark = cloud.calls.mark()
    answer = offboarding.handler(as_bytes(timer()), None)
    assert cloud.calls.since(mark) == []
    assert_config_error(capsys, answer, "OFFBOARD_DRY_RUN")
    assert cloud.ram.user_state("due.user") is not None


@pytest.mark.parametrize("value, dry", [("true", True), ("TRUE", True), ("True", True), ("false", False),
                                        ("FALSE", False), (None, False)])
def test_the_dry_run_switch_spellings(cloud, ram, kms, mocker, monkeypatch, value, dry):
    make_user(ram, kms, "due.user", "E1", comments=marker("E1", "disabled", at="2026-01-01T00:00:00Z"))
    set_clock(mocker, "2026-11-28T02:00:00Z")
    set_env(monkeypatch, OFFBOARD_DRY_RUN=value, OFFBOARD_GRACE_DAYS="0")
    report = offboarding.handler(as_bytes(timer()), None)
    assert report["dryRun"] is dry and report["counts"]["deleted"] == 1
    assert (cloud.ram.user_state("due.user") is not None) is dry


# -- every setting is checked -------------------------------------------------------------------------------
BAD = [
    ("REGION", ""), ("REGION", "   "), ("REGION", "cn hangzhou"), ("REGION", "CN-HANGZHOU"), ("REGION", "hangzhou"),
    ("REGION", "cn--hangzhou"), ("RAM_ENDPOINT", ""), ("RAM_ENDPOINT", "https://ram.aliyuncs.com"),
    ("KMS_ENDPOINT", "   "), ("KMS_ENDPOINT", "kms. .aliyuncs.com"), ("OPENAPI_PROTOCOL", "ftp"),
    ("OPENAPI_PROTOCOL", ""), ("SECRET_PREFIX", ""), ("SECRET_PREFIX", "ram-user"), ("SECRET_PREFIX", "/ram-user/"),
    ("SECRET_PREFIX", "acs/ram/user/"), ("SECRET_PREFIX", "a//b/"), ("SECRET_PREFIX", "x" * 48 + "/"),
    ("SECRET_PREFIX", "ram user/"), ("SECRET_TYPE", "generic"), ("SECRET_TYPE", ""),
    ("KMS_ENCRYPTION_KEY_ID", "key 1"), ("KMS_INSTANCE_ID", "kst/1"), ("WEBHOOK_SIGNING_KEY", "short-key"),
    ("WEBHOOK_SIGNING_KEY", " test-webhook-key"), ("WEBHOOK_TOLERANCE_SECONDS", "0"),
    ("WEBHOOK_TOLERANCE_SECONDS", "300s"), ("MAX_BODY_BYTES", "1_000_000"), ("MAX_BODY_BYTES", " 262144"),
    ("MAX_BODY_BYTES", ""), ("LOG_LEVEL", "verbose"), ("LOG_LEVEL", ""), ("HR_TIMEZONE", "Mars/Olympus"),
    ("HR_TIMEZONE", ""), ("OFFBOARD_GRACE_DAYS", "-1"), ("OFFBOARD_MAX_DELETIONS_PER_RUN", "1e3"),
    ("SECRET_RECOVERY_DAYS", "3"), ("OPENAPI_CONNECT_TIMEOUT_MS", "nan"), ("OPENAPI_READ_TIMEOUT_MS", "inf"),
    ("RETRY_MAX_ATTEMPTS", "5.0"), ("RETRY_MAX_SECONDS", "nan"), ("RETRY_BASE_SECONDS", "1e-3"),
    ("RETRY_CAP_SECONDS", "1.2.3"), ("BATCH_CONCURRENCY", "٤"), ("ACCOUNT_ID", "acme"), ("FC_ACCOUNT_ID", "12 34"),
    ("FC_REGION", ""), ("SCHEMA_DIR", "/nonexistent"), ("SCHEMA_DIR", ""),
    # main's ordering settings (issue 10), held to the same rules
    ("MAX_EVENT_AGE_DAYS", "0"), ("MAX_EVENT_AGE_DAYS", "61"), ("MAX_EVENT_AGE_DAYS", "7 "),
    ("MAX_CLOCK_SKEW_SECONDS", "-1"), ("MAX_CLOCK_SKEW_SECONDS", "300s"), ("MAX_CLOCK_SKEW_SECONDS", ""),
    # issue 14's notification settings
    ("NOTIFY_WEBHOOK_URL", "ftp://robot.example/send"), ("NOTIFY_WEBHOOK_URL", "http://robot.example/send"),
    ("NOTIFY_WEBHOOK_URL", " https://oapi.dingtalk.com/robot/send"), ("NOTIFY_KIND", "slack"),
    ("NOTIFY_TIMEOUT_MS", "0"), ("NOTIFY_TIMEOUT_MS", "3s"), ("NOTIFY_WEBHOOK_SECRET", " SEC0123456789 "),
    # issue 13's audit settings
    ("AUDIT_FIXES", "yes"), ("AUDIT_FIXES", "1"), ("AUDIT_FIXES", ""), ("AUDIT_FIXES", "true "),
    ("MFA_GRACE_DAYS", "-1"), ("MFA_GRACE_DAYS", "366"), ("MFA_GRACE_DAYS", "7d"),
    # issue 13's rotation settings: CIS 1.6 caps the key age at 90 days; the overlap ends before the next rotation
    ("KEY_MAX_AGE_DAYS", "91"), ("KEY_MAX_AGE_DAYS", "0"), ("KEY_MAX_AGE_DAYS", "90d"), ("KEY_MAX_AGE_DAYS", ""),
    ("KEY_ROTATION_OVERLAP_HOURS", "0"), ("KEY_ROTATION_OVERLAP_HOURS", "24h"),
    ("KEY_ROTATION_OVERLAP_HOURS", "721"),
    # issue 13's grants through groups
    ("GRANT_MODE", "groups"), ("GRANT_MODE", ""), ("GROUP_READ_ONLY", "arms ro"), ("GROUP_READ_ONLY", ""),
    ("GROUP_FULL", "x" * 65), ("GROUP_FULL", "hr-arms-read-only"),
]


@pytest.mark.parametrize("name, value", BAD, ids=[f"{n}={v!r}" for n, v in BAD])
def test_a_bad_setting_is_one_error_line_and_a_failed_answer(cloud, monkeypatch, capsys, name, value):
    if name == "FC_REGION":
        monkeypatch.delenv("REGION")
    set_env(monkeypatch, **{name: value})
    capsys.readouterr()
    mark = cloud.calls.mark()
    answer = onboarding.handler(as_bytes(event()), None)
    assert cloud.calls.since(mark) == []
    line = assert_config_error(capsys, answer, name)
    if name == "WEBHOOK_SIGNING_KEY":
        assert value.strip() not in json.dumps(line) + json.dumps(answer)


def test_every_setting_has_a_case_above():
    import dataclasses
    names = {n for n, _ in BAD} | {"OFFBOARD_DRY_RUN"}       # the dry-run switch has its own tests above
    fields = {f.name.upper() for f in dataclasses.fields(Settings)}
    fields -= {"RAM_ENDPOINT", "KMS_ENDPOINT", "PROTOCOL", "ACCOUNT_ID"}
    fields |= {"OPENAPI_PROTOCOL", "OPENAPI_CONNECT_TIMEOUT_MS", "OPENAPI_READ_TIMEOUT_MS"}
    fields -= {"CONNECT_TIMEOUT_MS", "READ_TIMEOUT_MS"}
    assert fields <= names, sorted(fields - names)


def test_the_defaults_and_the_documented_empty_values_are_valid(monkeypatch):
    assert Settings.from_env({}) == Settings()
    env = {"KMS_ENDPOINT": "", "KMS_ENCRYPTION_KEY_ID": "", "KMS_INSTANCE_ID": "", "WEBHOOK_SIGNING_KEY": "",
           "ACCOUNT_ID": "", "FC_REGION": "ap-southeast-1"}
    settings = Settings.from_env(env)
    assert settings.region == "ap-southeast-1" and settings.kms_endpoint == "kms.ap-southeast-1.aliyuncs.com"


def test_a_config_error_names_the_setting_in_its_code():
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"REGION": "   "})
    assert caught.value.code == "ConfigError.REGION" and caught.value.setting == "REGION"


# -- one line, the right shape, whatever the envelope ---------------------------------------------------------
def http(raw):
    return {"version": "v1", "rawPath": "/", "queryParameters": {}, "isBase64Encoded": True,
            "headers": {"X-HR-Signature": webhook.sign(KEY, raw)}, "body": base64.b64encode(raw).decode(),
            "requestContext": {"http": {"method": "POST", "path": "/"}}}


def test_a_config_error_answers_every_envelope_in_its_own_shape(cloud, monkeypatch, capsys):
    set_env(monkeypatch, REGION="")
    capsys.readouterr()
    mark = cloud.calls.mark()
    batch = [event(event_id=f"e{i}", logon=f"u{i}") for i in range(3)]
    answer = onboarding.handler(as_bytes(batch), None)
    line = assert_config_error(capsys, answer, "REGION", events=3)
    assert [r["eventId"] for r in answer] == ["e0", "e1", "e2"] and line["eventIds"] == ["e0", "e1", "e2"]
    answer = onboarding.handler(as_bytes(http(as_bytes(event()))), None)
    assert answer["statusCode"] == 503 and answer["headers"]["Retry-After"]      # the sender retries later
    assert_config_error(capsys, json.loads(answer["body"]), "REGION", sender=True)
    assert_config_error(capsys, offboarding.handler(as_bytes(timer({"dryRun": True})), None), "REGION")
    assert cloud.calls.since(mark) == []


# -- credentials ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("missing", ["ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"])
def test_no_credentials_is_a_config_error_not_a_network_failure(cloud, monkeypatch, capsys, missing):
    """Before: the SDK's default chain ended at the ECS metadata server: TransientError (ConnectionError),
    raised for FC's retries, after the whole retry budget."""
    set_env(monkeypatch, **{missing: None, "ALIBABA_CLOUD_SECURITY_TOKEN": None})
    capsys.readouterr()
    mark = cloud.calls.mark()
    batch = [event(event_id=f"e{i}", logon=f"u{i}") for i in range(3)]
    answer = onboarding.handler(as_bytes(batch), None)
    assert cloud.calls.since(mark) == []
    assert_config_error(capsys, answer, missing, events=3)
    # an invalid event is still just rejected: it would never have needed the cloud
    assert onboarding.handler(as_bytes(event(level="admin")), None)["status"] == "rejected"


# -- the logon principal --------------------------------------------------------------------------------------
def test_without_alias_or_account_id_the_event_fails_instead_of_inventing_a_principal(cloud, monkeypatch, capsys):
    """Before: provisioned as alice.wang@account.onaliyun.com."""
    cloud.ram.alias = ""
    set_env(monkeypatch, ACCOUNT_ID=None, FC_ACCOUNT_ID=None)
    capsys.readouterr()
    mark = cloud.calls.mark()
    answer = onboarding.handler(as_bytes(event()), None)
    assert cloud.calls.mutating(mark, ok_only=False) == []
    assert_config_error(capsys, answer, "ACCOUNT_ID")
    assert "account.onaliyun.com" not in json.dumps(answer)


@pytest.mark.parametrize("source", ["context", "FC_ACCOUNT_ID", "ACCOUNT_ID"])
def test_the_account_id_comes_from_fc(cloud, monkeypatch, source):
    cloud.ram.alias = ""
    env = {"ACCOUNT_ID": None, "FC_ACCOUNT_ID": None}
    if source != "context":
        env[source] = "5550001112223334"
    set_env(monkeypatch, **env)
    context = SimpleNamespace(account_id="5550001112223334", request_id="r-1") if source == "context" else None
    answer = onboarding.handler(as_bytes(event()), context)
    assert answer["status"] == "provisioned"
    assert answer["logonPrincipal"] == "alice.wang@5550001112223334.onaliyun.com"
