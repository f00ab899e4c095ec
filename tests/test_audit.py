"""The access review's rules (domain/audit.py): pure functions of a user's read model and an instant."""
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

from provisioner.domain import audit, lifecycle
from provisioner.domain.audit import AccessKeyView, SecretView, UserView
from provisioner.domain.credentials import Version, Versions
from provisioner.domain.ownership import Marker

NOW = datetime(2027, 3, 1, 12, tzinfo=timezone.utc)
ACTIVE = Marker("E1")


def key(key_id="LTAIkey1", days=1, status="Active"):
    return AccessKeyView(key_id, status, NOW - timedelta(days=days))


def ours(version="LTAIkey1", name="ram-user/u"):
    return SecretView(name, owned=True, versions=Versions(Version(version, None)) if version else None)


def programmatic(**kw):
    base = dict(user_name="u", marker=ACTIVE, policies=("AliyunARMSReadOnlyAccess",), access_keys=(key(),),
                secrets=(ours(),))
    return UserView(**{**base, **kw})


def codes(view):
    return [f["alert"] for f in audit.findings(view, NOW)]


def test_a_clean_programmatic_user_has_no_finding():
    assert codes(programmatic()) == []
    assert audit.level(programmatic()) == "read-only" and audit.credential_kind(programmatic()) == "programmatic"


GROUPS = {"read-only": "hr-arms-read-only", "full": "hr-arms-full"}
GROUP_MODE = audit.AuditPolicy(group_mode=True, groups=GROUPS)


def console(**kw):
    base = dict(access_keys=(), console=True, console_created=NOW - timedelta(days=30),
                last_login=NOW - timedelta(days=1), secrets=(ours("pw-1"),))
    return programmatic(**{**base, **kw})


def test_rule_console_without_mfa_after_the_grace_days():
    """CIS 1.4: a console user without MFA, once MFA_GRACE_DAYS have passed since its console access."""
    assert codes(console()) == [audit.CONSOLE_WITHOUT_MFA]
    (finding,) = audit.findings(console(), NOW)
    assert (finding["cis"], finding["severity"]) == ("1.4", audit.HIGH)
    assert codes(console(mfa=True)) == []
    fresh = console(console_created=NOW - timedelta(days=6))
    assert codes(fresh) == []                                          # inside the default 7-day grace
    assert codes(console(console_created=NOW - timedelta(days=7))) == [audit.CONSOLE_WITHOUT_MFA]
    assert audit.findings(fresh, NOW, audit.AuditPolicy(mfa_grace_days=0))[0]["alert"] == audit.CONSOLE_WITHOUT_MFA
    assert codes(programmatic()) == []                                 # no console: nothing to protect


def test_rule_console_unused_for_90_days():
    """CIS 1.5: no console logon for 90 days (never logged on: since the login profile was made)."""
    idle = console(mfa=True, last_login=NOW - timedelta(days=90))
    (finding,) = audit.findings(idle, NOW)
    assert (finding["alert"], finding["cis"], finding["fix"]) == (
        audit.CONSOLE_UNUSED, "1.5", audit.FIX_DISABLE_CONSOLE)
    assert codes(console(mfa=True, last_login=NOW - timedelta(days=89))) == []
    never = console(mfa=True, last_login=None, console_created=NOW - timedelta(days=120))
    assert codes(never) == [audit.CONSOLE_UNUSED] and "no console logon" in audit.findings(never, NOW)[0]["message"]
    assert codes(console(mfa=True, last_login=None, console_created=NOW - timedelta(days=10))) == []


def test_rule_access_key_unused_for_90_days():
    """AccessKey governance: an Active key unused for 90 days; never used counts from its creation."""
    used = AccessKeyView("LTAIkey1", "Active", NOW - timedelta(days=200), last_used=NOW - timedelta(days=91))
    assert audit.KEY_UNUSED in codes(programmatic(access_keys=(used,)))
    recent = replace(used, last_used=NOW - timedelta(days=3))
    assert audit.KEY_UNUSED not in codes(programmatic(access_keys=(recent,)))
    assert codes(programmatic(access_keys=(key(days=89),))) == []                     # never used, 89 days
    never = programmatic(access_keys=(key(days=90),))
    assert codes(never) == [audit.KEY_UNUSED] and "never used" in audit.findings(never, NOW)[0]["message"]
    assert codes(programmatic(access_keys=(key(days=400, status="Inactive"),))) == []   # not a usable key


def test_rule_key_rotation_due_after_key_max_age_days():
    """CIS 1.6: an Active key older than KEY_MAX_AGE_DAYS (90) is due for rotation."""
    def aged(days):
        return programmatic(access_keys=(AccessKeyView("LTAIkey1", "Active", NOW - timedelta(days=days),
                                                       last_used=NOW),))
    assert codes(aged(90)) == []
    assert codes(aged(91)) == [audit.KEY_TOO_OLD] and audit.findings(aged(91), NOW)[0]["cis"] == "1.6"
    assert codes(aged(31)) == [] and audit.findings(aged(31), NOW, audit.AuditPolicy(key_max_age_days=30))
    assert audit.key_age_days(aged(91), NOW) == 91
    assert audit.key_age_bucket(91) == "> 90 days" and audit.key_age_bucket(90) == "30-90 days"
    assert audit.key_age_bucket(29) == "< 30 days" and audit.key_age_bucket(None) == audit.NO_KEY


def test_rule_more_than_one_active_key_outside_a_rotation():
    old = AccessKeyView("LTAIkey1", "Active", NOW - timedelta(days=10), last_used=NOW)
    rotating = AccessKeyView("LTAIkey2", "Active", NOW - timedelta(hours=2), last_used=NOW)
    window = 24 + audit.ROTATION_RUN_HOURS        # the default overlap, then the next daily run ends it
    stuck = replace(rotating, created=NOW - timedelta(hours=window + 1))
    assert audit.MULTIPLE_ACTIVE_KEYS not in codes(programmatic(access_keys=(old, rotating)))
    assert audit.MULTIPLE_ACTIVE_KEYS in codes(programmatic(access_keys=(old, stuck)))
    ended = replace(rotating, created=NOW - timedelta(hours=window))
    assert audit.MULTIPLE_ACTIVE_KEYS in codes(programmatic(access_keys=(old, ended)))     # the overlap is over
    assert audit.MULTIPLE_ACTIVE_KEYS not in [f["alert"] for f in audit.findings(   # KEY_ROTATION_OVERLAP_HOURS
        programmatic(access_keys=(old, ended)), NOW, audit.AuditPolicy(rotation_overlap_hours=48))]
    assert audit.MULTIPLE_ACTIVE_KEYS not in codes(programmatic(access_keys=(old, replace(stuck, status="Inactive"))))


def test_rule_drift_policies_and_groups_beyond_ours_never_fixed():
    view = programmatic(policies=("AliyunARMSReadOnlyAccess", "AdministratorAccess"))
    assert codes(view) == [audit.FOREIGN_POLICY]
    assert "AdministratorAccess" in audit.findings(view, NOW)[0]["message"]
    assert "fix" not in audit.findings(view, NOW)[0]
    assert audit.level(programmatic(policies=("AliyunARMSReadOnlyAccess", "AliyunARMSFullAccess"))) == "mixed"
    in_ours = programmatic(policies=(), groups=("hr-arms-read-only",))
    assert codes(in_ours) == [audit.FOREIGN_GROUP]                     # user mode: no group is ours
    assert audit.findings(in_ours, NOW, GROUP_MODE) == []
    admins = programmatic(policies=(), groups=("hr-arms-read-only", "admins"))
    assert [f["alert"] for f in audit.findings(admins, NOW, GROUP_MODE)] == [audit.FOREIGN_GROUP]
    both = programmatic(policies=(), groups=("hr-arms-read-only", "hr-arms-full"), group_levels=("read-only", "full"))
    assert [f["alert"] for f in audit.findings(both, NOW, GROUP_MODE)] == [audit.FOREIGN_GROUP]
    in_ours = replace(in_ours, group_levels=("read-only",))
    assert audit.level(both) == "mixed" and audit.level(in_ours) == "read-only"


def test_rule_direct_arms_attachment_in_group_mode():
    """CIS 1.16: in group mode an ARMS policy attached to the user directly; fixed by moving it to its group."""
    direct = programmatic(policies=("AliyunARMSFullAccess",))
    assert codes(direct) == []                                          # user mode: that is how we grant
    (finding,) = audit.findings(direct, NOW, GROUP_MODE)
    assert (finding["alert"], finding["cis"], finding["fix"], finding["armsLevel"]) == (
        audit.DIRECT_ARMS_ATTACHMENT, "1.16", audit.FIX_MOVE_TO_GROUP, "full")
    assert "hr-arms-full" in finding["message"]


def test_rule_password_policy_against_cis_1_7_to_1_14():
    strong = {"RequireUppercaseCharacters": True, "RequireLowercaseCharacters": True, "RequireSymbols": True,
              "RequireNumbers": True, "MinimumPasswordLength": 14, "PasswordReusePrevention": 5,
              "MaxPasswordAge": 90, "MaxLoginAttemps": 5, "HardExpiry": False}
    assert audit.password_policy_findings(strong) == []
    (finding,) = audit.password_policy_findings({**strong, "MinimumPasswordLength": 8, "MaxPasswordAge": 0,
                                                 "RequireSymbols": False})
    assert (finding["alert"], finding["cis"], finding["items"]) == (audit.PASSWORD_POLICY, "1.7-1.14",
                                                                    ["1.9", "1.11", "1.13"])
    localcloud_default = {"RequireUppercaseCharacters": True, "RequireLowercaseCharacters": True,
                          "RequireSymbols": False, "RequireNumbers": True, "MinimumPasswordLength": 8,
                          "PasswordReusePrevention": 0, "MaxPasswordAge": 0, "MaxLoginAttemps": 5}
    assert audit.password_policy_findings(localcloud_default)[0]["items"] == ["1.9", "1.11", "1.12", "1.13"]


def test_every_rule_id_is_an_alert_name_and_has_a_readme_row():
    """Its README alert row: tests/test_alerts.py (every name in ALERT_NAMES); its row in the report
    page's legend: here."""
    from provisioner.platform import log

    from hrctl.report import RULE_TEXT
    assert audit.RULE_IDS <= log.ALERT_NAMES
    assert set(audit.FIXES) <= audit.RULE_IDS
    assert {code for code, _, _ in RULE_TEXT} == audit.RULE_IDS              # the report page's legend


def test_account_rule_one_employee_one_active_user():
    """Two active users of one employee (the open race of docs/concurrency.md) are one finding for the
    account naming both; a disabled one does not count; three are one finding naming three."""
    assert audit.multiple_active_users({}) == []
    (finding,) = audit.multiple_active_users({"kim.lee": Marker("E12"), "kim.l": Marker("E12")})
    assert (finding["alert"], finding["cis"], finding["severity"]) == (audit.MULTIPLE_ACTIVE_USERS, None, audit.HIGH)
    assert (finding["employeeId"], finding["userNames"]) == ("E12", ["kim.l", "kim.lee"])
    assert "fix" not in finding                                          # never fixed: a human decides
    assert "E12" in finding["message"] and "kim.l," in finding["message"] and "kim.lee" in finding["message"]
    disabled = Marker("E12", state="disabled", disabled_at=NOW)
    assert audit.multiple_active_users({"kim.lee": disabled, "kim.l": Marker("E12")}) == []
    assert audit.multiple_active_users({"kim.lee": Marker("E12"), "ann.lee": Marker("E13")}) == []
    leaving = Marker("E12", leave_date=date(2027, 3, 31))               # a scheduled leave is still active
    (three,) = audit.multiple_active_users({"kim.lee": Marker("E12"), "kim.l": leaving, "k.lee": Marker("E12"),
                                            "ann.lee": Marker("E13"), "ann.old": Marker("E13", state="disabled")})
    assert (three["employeeId"], three["userNames"]) == ("E12", ["k.lee", "kim.l", "kim.lee"])
    assert "3 active users (k.lee, kim.l, kim.lee)" in three["message"]
    both = audit.multiple_active_users({"b1": Marker("E2"), "a1": Marker("E1"), "b2": Marker("E2"),
                                        "a2": Marker("E1")})
    assert [(f["employeeId"], f["userNames"]) for f in both] == [("E1", ["a1", "a2"]), ("E2", ["b1", "b2"])]


def test_missing_foreign_and_mismatched_secrets():
    assert codes(programmatic(secrets=())) == [audit.SECRET_MISSING]
    foreign = SecretView("ram-user/u", owned=False)
    assert sorted(codes(programmatic(secrets=(foreign,)))) == [audit.SECRET_FOREIGN, audit.SECRET_MISSING]
    assert codes(programmatic(secrets=(ours("LTAIother"),))) == [audit.KEY_NOT_IN_KMS]


def test_during_a_rotation_the_previous_key_is_kms_s_and_a_stray_is_not():
    """The rotation's overlap: KMS's ACSPrevious key stays Active and is no finding; a third key
    that KMS does not hold and no rotation is making (older than its in-flight time) is."""
    old, new = key("LTAIold", days=91), key("LTAInew", days=0)
    rotating = SecretView("ram-user/u", owned=True, versions=Versions(Version("LTAInew", NOW - timedelta(hours=1)),
                                                                      Version("LTAIold", NOW - timedelta(days=91))))
    assert audit.KEY_NOT_IN_KMS not in codes(programmatic(access_keys=(old, new), secrets=(rotating,)))
    stray = key("LTAIstray", days=1)
    found = audit.findings(programmatic(access_keys=(new, stray), secrets=(rotating,)), NOW)
    assert [f["message"] for f in found if f["alert"] == audit.KEY_NOT_IN_KMS] == [
        "AccessKey LTAIstray is not the key KMS holds"]
    deleting = SecretView("ram-user/u", owned=True, versions=Versions(Version("LTAIkey1", None)),
                          planned_delete_time="2027-03-09")
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
            audit.row(programmatic(user_name="v", access_keys=(replace(key(days=120), last_used=NOW),)),
                      NOW, "UTC", 30),
            audit.row(programmatic(user_name="w", marker=Marker("E3", state="disabled", disabled_at=NOW),
                                   access_keys=(), secrets=()), NOW, "UTC", 30)]
    assert rows[1]["findings"][0]["alert"] == audit.KEY_TOO_OLD and rows[1]["keyAge"] == "> 90 days"
    assert rows[2]["nextAction"] == "delete" and rows[2]["credential"] == "none"
    summary = audit.summary(rows)
    assert summary["users"] == 3 and summary["byState"] == {"active": 2, "disabled": 1}
    assert summary["byKeyAge"] == {"< 30 days": 1, "30-90 days": 0, "> 90 days": 1, audit.NO_KEY: 1}
    assert summary["withFindings"] == 1 and summary["byFinding"] == {audit.KEY_TOO_OLD: 1}


def test_rule_key_rotation_due_spares_the_previous_key_of_a_rotation_in_its_overlap():
    """The rotation made a new key (KMS's current) hours ago; the old one, 91 days old, is KMS's ACSPrevious
    until the overlap ends: it is rotated already, not due. The same key outside any rotation is due."""
    old = AccessKeyView("LTAIold", "Active", NOW - timedelta(days=91), last_used=NOW)
    new = AccessKeyView("LTAInew", "Active", NOW - timedelta(hours=3), last_used=NOW)
    secret = SecretView("ram-user/u", owned=True, versions=Versions(Version("LTAInew", NOW - timedelta(hours=3)),
                                                                    Version("LTAIold", NOW - timedelta(days=91))))
    assert codes(programmatic(access_keys=(old, new), secrets=(secret,))) == []
    assert codes(programmatic(access_keys=(old,), secrets=(ours("LTAIold"),))) == [audit.KEY_TOO_OLD]
    stuck = replace(secret, versions=Versions(Version("LTAInew", NOW - timedelta(days=3)),
                                              Version("LTAIold", NOW - timedelta(days=91))))
    assert audit.KEY_TOO_OLD in codes(programmatic(access_keys=(old, replace(new, created=NOW - timedelta(days=3))),
                                                   secrets=(stuck,)))          # an overlap never finished


# -- issue 15's triage of domain.audit's surviving mutants: exact boundaries and the operator's texts --
def _alerts(view, code, policy=None):
    return [f for f in audit.findings(view, NOW, policy) if f["alert"] == code]


def test_the_rotation_window_is_the_overlap_plus_one_daily_run_to_the_second():
    """Two Active keys are a rotation while the newer is younger than the overlap (24 h by default) plus
    the daily run (24 h): 47:59:59 is one, 48:00:00 is not. A RAMCredentials secret KMS rotates: its own
    48 h plus the run, 72 h. Any other secret type (here an Rds secret tagged ours) has no KMS rotation."""
    old = AccessKeyView("LTAIold", "Active", NOW - timedelta(days=10), last_used=NOW)

    def two(hours, seconds=0, secret_type="Generic"):
        newer = AccessKeyView("LTAInew", "Active", NOW - timedelta(hours=hours, seconds=seconds), last_used=NOW)
        secret = SecretView("ram-user/u", owned=True, secret_type=secret_type,
                            versions=Versions(Version("LTAInew", newer.created)))
        return programmatic(access_keys=(old, newer), secrets=(secret,))
    assert _alerts(two(47, 3599), audit.MULTIPLE_ACTIVE_KEYS) == []
    (finding,) = _alerts(two(48), audit.MULTIPLE_ACTIVE_KEYS)
    assert finding["message"] == "2 Active AccessKeys (LTAIold, LTAInew) outside a rotation: one is allowed"
    assert finding["severity"] == audit.HIGH
    assert _alerts(two(71, 3599, "RAMCredentials"), audit.MULTIPLE_ACTIVE_KEYS) == []
    assert len(_alerts(two(72, 0, "RAMCredentials"), audit.MULTIPLE_ACTIVE_KEYS)) == 1
    assert _alerts(two(47, 3599, "Rds"), audit.MULTIPLE_ACTIVE_KEYS) == []
    assert len(_alerts(two(48, 0, "Rds"), audit.MULTIPLE_ACTIVE_KEYS)) == 1


def test_key_age_buckets_at_their_bounds():
    """The report's chart: under 30 days, 30 to 90 days (both included), over 90 days."""
    assert [audit.key_age_bucket(d) for d in (0, 29, 30, 90, 91, 4000)] == [
        "< 30 days", "< 30 days", "30-90 days", "30-90 days", "> 90 days", "> 90 days"]


def test_the_read_model_and_the_policy_are_immutable_values():
    """One UserView is shared by every rule, the fixes and the row, and one AuditPolicy by every user of
    a run: no rule can change what the next one reads (derived views are made with dataclasses.replace)."""
    import dataclasses

    import pytest
    view = programmatic()
    for obj, name, value in ((view, "console", True), (view.access_keys[0], "status", "Inactive"),
                             (view.secret, "owned", False), (audit.AuditPolicy(), "unused_days", 1)):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, value)
    assert hash(view) == hash(programmatic())                        # a value: equal views hash alike


def test_level_unions_direct_and_group_grants():
    """The same level granted directly and through our group is that level, not none; no grant is None."""
    both_ways = programmatic(policies=("AliyunARMSReadOnlyAccess",), groups=("hr-arms-read-only",),
                             group_levels=("read-only",))
    assert audit.level(both_ways) == "read-only"
    assert audit.level(programmatic(policies=())) is None
    assert audit.level(programmatic(policies=(), group_levels=("full",))) == "full"


def test_console_without_mfa_message_names_the_days_or_a_question_mark():
    """The operator reads the age since the console access was made; unknown (no date at all): '?'."""
    (finding,) = audit.findings(console(), NOW)
    assert finding["message"] == ("console user without an MFA device 30 days after its console access was "
                                  "created (grace 7)")
    (unknown,) = audit.findings(console(console_created=None, created=None, mfa_bind_required=True), NOW)
    assert unknown["message"] == ("console user without an MFA device ? days after its console access was "
                                  "created (grace 7) (MFA binding is required at next logon)")


def test_the_previous_key_is_spared_strictly_inside_the_window():
    """At exactly the overlap plus the run (48 h) after KMS's current version was written the rotation
    is over: its ACSPrevious key, 91 days old, is due again; one second earlier it is spared."""
    old = AccessKeyView("LTAIold", "Active", NOW - timedelta(days=91), last_used=NOW)

    def at(hours, seconds=0):
        written = NOW - timedelta(hours=hours, seconds=seconds)
        new = AccessKeyView("LTAInew", "Active", written, last_used=NOW)
        secret = SecretView("ram-user/u", owned=True, versions=Versions(Version("LTAInew", written),
                                                                        Version("LTAIold", old.created)))
        return programmatic(access_keys=(old, new), secrets=(secret,))
    assert _alerts(at(47, 3599), audit.KEY_TOO_OLD) == []
    assert [f["message"] for f in _alerts(at(48), audit.KEY_TOO_OLD)] == [
        "AccessKey LTAIold is 91 days old (more than 90): rotation due"]


def _kms_versions(written):
    """A secret's versions under ids of KMS's own (not AccessKeyIds): as KMS writes a RAMCredentials secret."""
    return Versions(Version("kms-v2", written), Version("kms-v1", NOW - timedelta(days=91)))


def test_only_a_ram_credentials_secret_is_matched_to_keys_by_creation_time():
    """A RAMCredentials secret KMS rotated names its versions itself: it holds the newest key created up
    to its current version, and the one before is its ACSPrevious (spared, and no finding). A secret of
    any other type whose versions name none of the user's keys holds neither: both are reported. The
    type is DescribeSecret's SecretType, read from the response (a string built at run time)."""
    import json
    written = NOW - timedelta(hours=3)
    old = AccessKeyView("LTAIold", "Active", NOW - timedelta(days=91), last_used=NOW)
    new = AccessKeyView("LTAInew", "Active", written - timedelta(minutes=1), last_used=NOW)
    ram_type = json.loads('{"SecretType": "RAMCredentials"}')["SecretType"]
    kms = SecretView("ram-user/u", owned=True, secret_type=ram_type, versions=_kms_versions(written))
    assert audit.findings(programmatic(access_keys=(old, new), secrets=(kms,)), NOW) == []
    for other in ("Generic", "Rds"):
        view = programmatic(access_keys=(old, new), secrets=(replace(kms, secret_type=other),))
        assert [f["message"] for f in _alerts(view, audit.KEY_NOT_IN_KMS)] == [
            "AccessKey LTAIold is not the key KMS holds", "AccessKey LTAInew is not the key KMS holds"]
        assert [f["message"] for f in _alerts(view, audit.KEY_TOO_OLD)] == [
            "AccessKey LTAIold is 91 days old (more than 90): rotation due"]


def test_the_current_key_of_a_rotation_in_its_overlap_is_still_judged():
    """Sparing the ACSPrevious key (listed first) does not skip the key after it: with KEY_MAX_AGE_DAYS=2
    and a 47-hour overlap, KMS's current key made 72 h 1 min ago (its version written a minute later,
    inside the 72-hour window) is 3 days old: due."""
    policy = audit.AuditPolicy(key_max_age_days=2, rotation_overlap_hours=47)
    written = NOW - timedelta(hours=71, minutes=59)
    previous = AccessKeyView("LTAIprev", "Active", NOW - timedelta(days=10), last_used=NOW)
    current = AccessKeyView("LTAIcur", "Active", NOW - timedelta(hours=72, minutes=1), last_used=NOW)
    kms = SecretView("ram-user/u", owned=True, secret_type="RAMCredentials", versions=_kms_versions(written))
    view = programmatic(access_keys=(previous, current), secrets=(kms,))
    assert [f["message"] for f in _alerts(view, audit.KEY_TOO_OLD, policy)] == [
        "AccessKey LTAIcur is 3 days old (more than 2): rotation due"]


def test_drift_message_names_both_of_our_groups_only():
    view = programmatic(policies=(), groups=("hr-arms-read-only", "hr-arms-full", "admins"),
                        group_levels=("read-only", "full"))
    assert [f["message"] for f in audit.findings(view, NOW, GROUP_MODE)] == [
        "the user is in group admins, which is not ours",
        "the user is in both ARMS groups (hr-arms-full, hr-arms-read-only): one level is ours, the other drift"]


def test_secret_rule_messages_for_console_users():
    """A console user's missing secret (none at all, or only a foreign one), a console user's secret
    holding no password, a disabled console user: each finding and its exact text."""
    assert [(f["alert"], f["message"]) for f in audit.findings(console(mfa=True, secrets=()), NOW)] == [
        (audit.SECRET_MISSING, "no secret of ours holds this user's credential")]
    foreign = SecretView("ram-user/u", owned=False)
    assert [f["message"] for f in audit.findings(console(mfa=True, secrets=(foreign,)), NOW)] == [
        "secret ram-user/u is not tagged as this employee's",
        "no secret of ours holds this user's credential (ram-user/u foreign)"]
    assert [(f["alert"], f["message"]) for f in audit.findings(console(mfa=True, secrets=(ours("LTAIkey1"),)),
                                                               NOW)] == [
        (audit.KEY_NOT_IN_KMS, "KMS's current version is not a console password")]
    assert audit.findings(console(mfa=True), NOW) == []
    disabled = Marker("E1", state="disabled", disabled_at=NOW)
    assert [(f["alert"], f["message"]) for f in audit.findings(console(mfa=True, marker=disabled, secrets=()),
                                                               NOW)] == [
        (audit.DISABLED_WITH_CREDENTIAL, "disabled user still has a credential (console)")]


def test_markers_read_from_ram_comments_drive_the_rules():
    """The marker comes from the user's Comments (ownership.parse): its state is a string read at run
    time, and compares by value."""
    from provisioner.domain import ownership
    disabled = ownership.parse(Marker("E1", state="disabled", disabled_at=NOW).render())
    assert codes(programmatic(marker=disabled, secrets=())) == [audit.DISABLED_WITH_CREDENTIAL]
    leaver = ownership.parse(Marker("E1", leave_date=date(2027, 3, 5)).render())
    assert audit.next_action(leaver, NOW, "UTC", 30) == ("disable", datetime(2027, 3, 6, tzinfo=timezone.utc))


def test_findings_put_high_severity_first_and_keep_rule_order_otherwise():
    view = console(mfa=True, last_login=NOW - timedelta(days=100),
                   policies=("AliyunARMSReadOnlyAccess", "AdministratorAccess"))
    assert [(f["alert"], f["severity"]) for f in audit.findings(view, NOW)] == [
        (audit.FOREIGN_POLICY, audit.HIGH), (audit.CONSOLE_UNUSED, audit.MEDIUM)]


def test_row_due_from_the_instant_the_action_is_due_and_summary_counts():
    """``due``: the next action's instant is now or past (the next sweep acts); later: not due."""
    def disabled(days_ago):
        return programmatic(marker=Marker("E1", state="disabled", disabled_at=NOW - timedelta(days=days_ago)),
                            access_keys=(), secrets=())
    rows = [audit.row(disabled(30), NOW, "UTC", 30),          # due at exactly NOW
            audit.row(disabled(31), NOW, "UTC", 30),          # due a day ago
            audit.row(disabled(29), NOW, "UTC", 30),          # due tomorrow
            audit.row(programmatic(policies=()), NOW, "UTC", 30)]     # nothing scheduled
    assert [(r["nextAction"], r["nextActionAt"], r["due"]) for r in rows] == [
        ("delete", "2027-03-01T12:00:00Z", True), ("delete", "2027-02-28T12:00:00Z", True),
        ("delete", "2027-03-02T12:00:00Z", False), (None, None, False)]
    summary = audit.summary(rows)
    assert summary["due"] == 2
    assert summary["byLevel"] == {"read-only": 3, "none": 1}
