"""The access review's rules (domain/audit.py): pure functions of a user's read model and an instant."""
from datetime import date, datetime, timedelta, timezone

from provisioner.domain import audit, lifecycle
from provisioner.domain.audit import AccessKeyView, SecretView, UserView
from provisioner.domain.ownership import Marker

NOW = datetime(2027, 3, 1, 12, tzinfo=timezone.utc)
ACTIVE = Marker("E1")


def key(key_id="LTAIkey1", days=1, status="Active"):
    return AccessKeyView(key_id, status, NOW - timedelta(days=days))


def ours(version="LTAIkey1", name="ram-user/u"):
    return SecretView(name, owned=True, current_version=version)


def programmatic(**kw):
    base = dict(user_name="u", marker=ACTIVE, policies=("AliyunARMSReadOnlyAccess",), access_keys=(key(),),
                secrets=(ours(),))
    return UserView(**{**base, **kw})


def codes(view):
    return [f["alert"] for f in audit.findings(view, NOW)]


def test_a_clean_programmatic_user_has_no_finding():
    assert codes(programmatic()) == []
    assert audit.level(programmatic()) == "read-only" and audit.credential_kind(programmatic()) == "programmatic"


def test_console_user_without_mfa_is_flagged_and_with_mfa_is_not():
    console = programmatic(access_keys=(), console=True, mfa_bind_required=False, secrets=(ours("pw-1"),))
    assert codes(console) == [audit.CONSOLE_WITHOUT_MFA]
    assert audit.findings(console, NOW)[0]["severity"] == audit.HIGH
    pending = programmatic(access_keys=(), console=True, mfa_bind_required=True, secrets=(ours("pw-1"),))
    assert audit.findings(pending, NOW)[0]["severity"] == audit.MEDIUM      # bound at next logon
    assert codes(programmatic(access_keys=(), console=True, mfa=True, secrets=(ours("pw-1"),))) == []


def test_key_older_than_90_days():
    assert codes(programmatic(access_keys=(key(days=90),))) == []
    assert codes(programmatic(access_keys=(key(days=91),))) == [audit.KEY_TOO_OLD]
    assert codes(programmatic(access_keys=(key(days=400, status="Inactive"),))) == []   # not a usable key
    assert audit.key_age_days(programmatic(access_keys=(key(days=91),)), NOW) == 91
    assert audit.key_age_bucket(91) == "> 90 days" and audit.key_age_bucket(90) == "30-90 days"
    assert audit.key_age_bucket(29) == "< 30 days" and audit.key_age_bucket(None) == audit.NO_KEY


def test_any_policy_but_the_two_arms_ones_is_flagged():
    view = programmatic(policies=("AliyunARMSReadOnlyAccess", "AdministratorAccess"))
    assert codes(view) == [audit.FOREIGN_POLICY]
    assert "AdministratorAccess" in audit.findings(view, NOW)[0]["message"]
    assert audit.level(programmatic(policies=("AliyunARMSReadOnlyAccess", "AliyunARMSFullAccess"))) == "mixed"


def test_missing_foreign_and_mismatched_secrets():
    assert codes(programmatic(secrets=())) == [audit.SECRET_MISSING]
    foreign = SecretView("ram-user/u", owned=False)
    assert sorted(codes(programmatic(secrets=(foreign,)))) == [audit.SECRET_FOREIGN, audit.SECRET_MISSING]
    assert codes(programmatic(secrets=(ours("LTAIother"),))) == [audit.KEY_NOT_IN_KMS]
    deleting = SecretView("ram-user/u", owned=True, current_version="LTAIkey1", planned_delete_time="2027-03-09")
    assert codes(programmatic(secrets=(deleting,))) == [audit.SECRET_MISSING]
    # a disabled user's secret is on its way out: no finding for its absence
    disabled = Marker("E1", state="disabled", disabled_at=NOW)
    assert codes(programmatic(marker=disabled, access_keys=(), secrets=())) == []
    assert codes(programmatic(marker=disabled, secrets=())) == [audit.DISABLED_WITH_CREDENTIAL]


def test_next_action_follows_the_sweep_rules_in_the_hr_time_zone():
    leaver = Marker("E1", leave_date=date(2027, 3, 5))
    action, when = audit.next_action(leaver, NOW, "Asia/Shanghai", 30)
    assert action == "disable" and when == datetime(2027, 3, 5, 16, tzinfo=timezone.utc)   # 00:00 +08:00 on 3-6
    assert lifecycle.due(leaver, when - timedelta(seconds=1), "Asia/Shanghai", 30) is None
    assert lifecycle.due(leaver, when, "Asia/Shanghai", 30) == lifecycle.Due.DISABLE
    contractor = Marker("E1", end_date=date(2027, 3, 3), leave_date=date(2027, 4, 1))
    assert audit.next_action(contractor, NOW, "UTC", 30) == ("disable", datetime(2027, 3, 4, tzinfo=timezone.utc))
    disabled = Marker("E1", state="disabled", disabled_at=NOW - timedelta(days=2))
    action, when = audit.next_action(disabled, NOW, "UTC", 30)
    assert action == "delete" and when == NOW + timedelta(days=28)
    assert lifecycle.due(disabled, when, "UTC", 30) == lifecycle.Due.DELETE
    assert audit.next_action(ACTIVE, NOW, "UTC", 30) is None


def test_row_and_summary_never_hold_more_than_identifiers():
    rows = [audit.row(programmatic(), NOW, "UTC", 30),
            audit.row(programmatic(user_name="v", access_keys=(key(days=120),)), NOW, "UTC", 30),
            audit.row(programmatic(user_name="w", marker=Marker("E3", state="disabled", disabled_at=NOW),
                                   access_keys=(), secrets=()), NOW, "UTC", 30)]
    assert rows[1]["findings"][0]["alert"] == audit.KEY_TOO_OLD and rows[1]["keyAge"] == "> 90 days"
    assert rows[2]["nextAction"] == "delete" and rows[2]["credential"] == "none"
    summary = audit.summary(rows)
    assert summary["users"] == 3 and summary["byState"] == {"active": 2, "disabled": 1}
    assert summary["byKeyAge"] == {"< 30 days": 1, "30-90 days": 0, "> 90 days": 1, audit.NO_KEY: 1}
    assert summary["withFindings"] == 1 and summary["byFinding"] == {audit.KEY_TOO_OLD: 1}
