"""The daily audit as deployed (functions/audit.py): the timer through the handler, against localcloud,
with its own AccessKey held to policies/audit-role-policy.json (and audit-fix-role-policy.json when
AUDIT_FIXES=true), as its FC role would be. One test per rule is in tests/test_audit.py; here: the
reads it makes (and does not make), the report, the alert lines, the fixes, dry-run, the roles."""
import json
from datetime import datetime, timedelta, timezone

import pytest
from alibabacloud_kms20160120 import models as km
from alibabacloud_ram20150501 import models as rm
from alibabacloud_ram20150501.client import Client as RamClient

from tests.conftest import ROLE_POLICY, as_bytes, set_clock
from tests.onboarding_support import event, invoke

POLICIES = ROLE_POLICY.parent
AUDIT_KEY, AUDIT_SECRET = "LTAItestauditfunction00", "audit-function-test-secret-not-a-credential"
T0 = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
READS = ("Get", "List", "Describe")


def policy_doc(*names):
    docs = [json.loads((POLICIES / name).read_text(encoding="utf-8")) for name in names]
    return {"Version": "1", "Statement": [s for d in docs for s in d["Statement"]]}


@pytest.fixture
def as_audit(cloud, monkeypatch):
    """Switch the functions' environment to the audit function's own key and role."""
    from provisioner.platform import runtime

    def use(fixes=False, fix_policy=None):
        if AUDIT_KEY in cloud.authenticator.credentials:
            cloud.remove_caller(AUDIT_KEY)
        names = ["audit-role-policy.json"] + (["audit-fix-role-policy.json"] if (fixes if fix_policy is None
                                                                               else fix_policy) else [])
        cloud.add_caller(AUDIT_KEY, AUDIT_SECRET, policy=policy_doc(*names))
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", AUDIT_KEY)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", AUDIT_SECRET)
        monkeypatch.setenv("AUDIT_FIXES", "true" if fixes else "false")
        runtime.reset()
    yield use
    if AUDIT_KEY in cloud.authenticator.credentials:
        cloud.remove_caller(AUDIT_KEY)
    runtime.reset()


def run_audit(payload=None):
    import audit
    timer = {"triggerTime": "2027-03-11T03:00:00Z", "triggerName": "daily-audit",
             "payload": json.dumps(payload) if payload is not None else ""}
    return audit.handler(as_bytes(timer), None)


def by_user(report):
    return {row["userName"]: {f["alert"]: f for f in row.get("findings", [])} for row in report["users"]}


def alert_lines(capsys):
    out = capsys.readouterr()
    lines = []
    for text in (out.out + out.err).splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("alert"):
            lines.append(line)
    return lines


@pytest.fixture
def people(cloud, ram):
    """At T0: a programmatic and a console user of ours, and a user we did not create; then 100 days pass."""
    set_clock(T0)
    assert invoke(event(logon="pa.key", employee_id="E1"))["status"] == "provisioned"
    assert invoke(event(mode="console", logon="co.user", employee_id="E2"))["status"] == "provisioned"
    ram.create_user(rm.CreateUserRequest(user_name="ops.admin"))
    ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type="System", policy_name="AdministratorAccess",
                                                           user_name="ops.admin"))
    set_clock(T0 + timedelta(days=100))
    return cloud


def test_report_only_by_default_reads_only_our_users_and_logs_one_alert_per_finding(people, ram, as_audit, capsys):
    ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type="System", policy_name="AdministratorAccess",
                                                           user_name="pa.key"))           # drift, by hand
    as_audit()
    capsys.readouterr()
    mark = people.calls.mark()
    report = run_audit()
    assert (report["status"], report["fixes"], report["dryRun"]) == ("audited", "disabled", False)
    assert (report["scanned"], report["managed"]) == (3, 2)
    found = by_user(report)
    assert set(found["pa.key"]) == {"key-rotation-due", "key-unused", "foreign-policy"}
    assert set(found["co.user"]) == {"console-without-mfa", "console-unused"}
    assert found["co.user"]["console-unused"]["fixStatus"] == "suggested"
    assert found["co.user"]["console-without-mfa"]["cis"] == "1.4"
    assert [f["alert"] for f in report["account"]["findings"]] == ["password-policy-weak"]
    assert report["counts"]["findings"] == 6 and report["counts"]["byRule"]["foreign-policy"] == 1
    calls = people.calls.since(mark)
    assert {c.access_key_id for c in calls} == {AUDIT_KEY}
    assert all(c.action.startswith(READS) for c in calls)                       # zero changes
    assert not [c for c in calls if c.params.get("UserName") == "ops.admin"]     # not ours: no call about it
    assert people.ram_user("co.user")["LoginProfile"] is not None
    lines = alert_lines(capsys)
    audit_lines = [line for line in lines if line["alert"] in ("key-rotation-due", "key-unused", "foreign-policy",
                                                             "console-without-mfa", "console-unused",
                                                             "password-policy-weak")]
    assert len(audit_lines) == 6 and all(line["level"] == "WARNING" for line in audit_lines)
    assert {line.get("userName") for line in audit_lines} == {"pa.key", "co.user", None}


def test_a_used_key_and_a_bound_mfa_and_a_recent_logon_clear_their_findings(people, ram, kms, as_audit):
    value = json.loads(kms.get_secret_value(km.GetSecretValueRequest(secret_name="ram-user/pa.key")).body.secret_data)
    own = RamClient(people.client_config(access_key_id=value["AccessKeyId"],
                                         access_key_secret=value["AccessKeySecret"]))
    with pytest.raises(Exception):              # noqa: B017 - an ARMS user may not read RAM: still a use
        own.get_user(rm.GetUserRequest(user_name="pa.key"))
    people.bind_mfa("co.user")
    people.set_last_login("co.user", T0 + timedelta(days=99))
    as_audit()
    found = by_user(run_audit())
    assert set(found["pa.key"]) == {"key-rotation-due"}                          # old, but used yesterday... now
    assert "co.user" not in found


def test_fixes_disable_an_unused_console_logon_only_when_enabled_and_not_in_a_dry_run(people, as_audit):
    as_audit(fixes=True)
    dry = by_user(run_audit({"dryRun": True}))
    assert dry["co.user"]["console-unused"]["fixStatus"] == "dry-run"
    assert people.ram_user("co.user")["LoginProfile"] is not None
    report = run_audit()
    assert report["fixes"] == "enabled"
    fixed = by_user(report)["co.user"]["console-unused"]
    assert (fixed["fixStatus"], fixed["fix"]) == ("applied", "delete-login-profile")
    assert people.ram_user("co.user")["LoginProfile"] is None
    assert people.ram_user("co.user")["Comments"].startswith("hrrp:v1;emp=E2;st=active")   # still an active user
    again = by_user(run_audit())
    assert "console-unused" not in again.get("co.user", {})


def test_the_read_only_role_cannot_fix(people, as_audit):
    """AUDIT_FIXES=true without the fix policy on the role: the fix fails (NoPermission), reported, nothing changed."""
    as_audit(fixes=True, fix_policy=False)
    finding = by_user(run_audit())["co.user"]["console-unused"]
    assert finding["fixStatus"] == "failed" and "NoPermission" in finding["fixDetail"]
    assert people.ram_user("co.user")["LoginProfile"] is not None


def test_a_missing_secret_is_found(people, kms, as_audit):
    kms.delete_secret(km.DeleteSecretRequest(secret_name="ram-user/pa.key", force_delete_without_recovery="true"))
    as_audit()
    assert "secret-missing" in by_user(run_audit())["pa.key"]


def test_the_direct_arms_attachment_moves_to_its_group(people, ram, as_audit, capsys):
    """Group mode's fix (GRANT_MODE=group, the default; the account's two groups exist as `hrctl
    setup` leaves them), called as the run calls it."""
    from provisioner.cloud import directory
    from provisioner.platform import runtime
    from provisioner.workflows import audit as workflow
    as_audit(fixes=True)
    rt = runtime.get()
    pol = workflow.policy(rt.settings)
    assert pol.group_mode and pol.groups == {"read-only": "hr-arms-read-only", "full": "hr-arms-full"}
    for user in ("pa.key", "co.user"):           # as an earlier version (user mode) left them: attached directly
        ram.remove_user_from_group(rm.RemoveUserFromGroupRequest(group_name="hr-arms-read-only", user_name=user))
        ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type="System", user_name=user,
                                                               policy_name="AliyunARMSReadOnlyAccess"))
    capsys.readouterr()
    report = run_audit({"dryRun": True})                       # the run reports it (and its alert line)
    moved = by_user(report)["pa.key"]["direct-arms-attachment"]
    assert (moved["armsLevel"], moved["fixStatus"]) == ("read-only", "dry-run")
    assert [line["armsLevel"] for line in alert_lines(capsys) if line["alert"] == "direct-arms-attachment"] == [
        "read-only", "read-only"]
    assert people.ram_user("pa.key")["Groups"] == []                              # a dry-run changes nothing
    managed = {m.user_name: m for m in directory.list_users(rt.cloud).managed}
    view = workflow.read_user(rt, managed["pa.key"])
    (finding,) = [f for f in workflow.audit.findings(view, T0, pol) if f["alert"] == "direct-arms-attachment"]
    assert workflow._fix(rt, view, finding, pol, T0)[0] == "applied"
    state = people.ram_user("pa.key")
    assert [p["PolicyName"] for p in state["Policies"]] == [] and [g["GroupName"] for g in state["Groups"]] == [
        "hr-arms-read-only"]
    # a user already in the other level's group (a mover converging) is left alone
    ram.add_user_to_group(rm.AddUserToGroupRequest(group_name="hr-arms-full", user_name="co.user"))
    view = workflow.read_user(rt, managed["co.user"])
    (finding,) = [f for f in workflow.audit.findings(view, T0, pol) if f["alert"] == "direct-arms-attachment"]
    assert workflow._fix(rt, view, finding, pol, T0)[0] == "skipped"
    assert [p["PolicyName"] for p in people.ram_user("co.user")["Policies"]] == ["AliyunARMSReadOnlyAccess"]


def test_it_takes_only_its_timer(cloud, as_audit):
    import audit
    as_audit()
    answer = audit.handler(as_bytes(event()), None)
    assert answer["status"] == "rejected"
    bad = run_audit({"maxDeletions": 5})
    assert bad["status"] == "rejected" and bad["errors"][0]["path"] == "$.payload.maxDeletions"


def test_an_hr_event_racing_the_console_fix_is_not_undone(people, as_audit, ram):
    """Two processes on one user: the audit (fixes on) is parked just before it re-reads the login
    profile; meanwhile instance 0 disables and rehires the employee (a fresh login profile). The
    audit then finds the console access changed since it judged it, and leaves it."""
    from tests.instances import Instances
    from tests.offboarding_support import leaver
    with Instances(people, n=2, env={"AUDIT_FIXES": "true", "MAX_EVENT_AGE_DAYS": "7"},
                   now=T0 + timedelta(days=100)) as fc:
        auditor = fc[1]
        people.detach_caller_policies(auditor.key)
        people.attach_caller_policy(policy_doc("audit-role-policy.json", "audit-fix-role-policy.json"), auditor.key)
        hold = people.hold(auditor.key, "GetLoginProfile", when="before", nth=2)   # 1: the read, 2: the fix's re-read
        timer = {"triggerTime": "2027-03-11T03:00:00Z", "triggerName": "daily-audit", "payload": ""}
        running = auditor.start("audit", timer)
        assert running.until_held(hold)
        before = people.ram_user("co.user")["LoginProfile"]["CreateDate"]
        assert fc[0].run("offboarding", leaver("co.user", "E2"))["status"] == "disabled"
        set_clock(T0 + timedelta(days=100, minutes=5))
        rehire = event(mode="console", logon="co.user", employee_id="E2", event_id="rehire-co-user")
        assert fc[0].run("onboarding", rehire, now=T0 + timedelta(days=100, minutes=5))["status"] == "provisioned"
        assert people.ram_user("co.user")["LoginProfile"]["CreateDate"] != before
        people.release(hold)
        report = running.result()
    finding = by_user(report)["co.user"]["console-unused"]
    assert (finding["fixStatus"], finding["fixDetail"]) == ("skipped", "the console access changed since it was read")
    assert people.ram_user("co.user")["LoginProfile"] is not None              # the rehire's logon stands


def test_a_ram_secret_kms_rotated_days_ago_is_not_multiple_active_keys(cloud, as_audit, monkeypatch):
    """SECRET_TYPE=RAMCredentials: KMS rotated the user's secret 3 days ago. The audit must not report the
    two keys KMS holds (ACSCurrent and ACSPrevious) as a second Active key outside a rotation."""
    from provisioner.platform import runtime
    monkeypatch.setenv("SECRET_TYPE", "RAMCredentials")
    monkeypatch.setenv("KEY_MAX_AGE_DAYS", "30")
    runtime.reset()
    set_clock(T0)
    assert invoke(event(logon="pa.key", employee_id="E1"))["status"] == "provisioned"
    set_clock(T0 + timedelta(days=30, minutes=1))
    assert cloud.kms.tick() == ["acs/ram/user/pa.key"]
    set_clock(T0 + timedelta(days=33))
    as_audit()
    found = by_user(run_audit())
    assert "multiple-active-keys" not in found.get("pa.key", {}), found


def test_a_ram_secret_in_kms_s_own_rotation_is_not_multiple_active_keys(cloud, as_audit, monkeypatch):
    """KMS's automatic rotation of a RAM secret takes about two days, whatever KEY_ROTATION_OVERLAP_HOURS
    (the Generic rotation's overlap) says: a day and a half into it, its two keys are not a finding."""
    from provisioner.platform import runtime
    monkeypatch.setenv("SECRET_TYPE", "RAMCredentials")
    monkeypatch.setenv("KEY_MAX_AGE_DAYS", "30")
    monkeypatch.setenv("KEY_ROTATION_OVERLAP_HOURS", "1")
    runtime.reset()
    set_clock(T0)
    assert invoke(event(logon="pa.key", employee_id="E1"))["status"] == "provisioned"
    set_clock(T0 + timedelta(days=30, minutes=1))
    assert cloud.kms.tick() == ["acs/ram/user/pa.key"]
    set_clock(T0 + timedelta(days=31, hours=12))
    as_audit()
    found = by_user(run_audit())
    assert {"multiple-active-keys", "key-rotation-due"}.isdisjoint(found.get("pa.key", {})), found


def test_an_employee_with_two_active_users_is_one_account_finding_logged_and_reported(cloud, ram, kms, as_audit,
                                                                                    capsys):
    """The state the open race of docs/concurrency.md leaves (test_11e): kim.lee provisioned for E12, and
    kim.l made for E12 too, active, as the interleaved joiner would have made it. A disabled third user
    of E12 is not named. The scheduled audit logs one WARNING line with that alert and reports it as the
    account's (``hrctl report``: tests/test_hrctl_standalone.py). Nothing is fixed."""
    from tests.offboarding_support import make_user, marker
    set_clock(T0)
    assert invoke(event(logon="kim.lee", employee_id="E12"))["status"] == "provisioned"
    make_user(ram, kms, "kim.l", "E12", login=False, groups=())
    make_user(ram, kms, "kim.old", "E12", comments=marker("E12", state="disabled", at="2026-11-20T09:00:00Z"),
              keys=0, login=False, groups=(), secret=None)
    assert invoke(event(logon="ann.lee", employee_id="E13"))["status"] == "provisioned"
    as_audit(fixes=True)
    capsys.readouterr()
    mark = cloud.calls.mark()
    report = run_audit()
    (finding,) = [f for f in report["account"]["findings"] if f["alert"] == "employee-multiple-active-users"]
    assert (finding["employeeId"], finding["userNames"], finding["severity"], finding["cis"]) == (
        "E12", ["kim.l", "kim.lee"], "high", None)
    assert "fix" not in finding and "fixStatus" not in finding
    assert report["counts"]["byRule"]["employee-multiple-active-users"] == 1
    lines = [line for line in alert_lines(capsys) if line["alert"] == "employee-multiple-active-users"]
    assert len(lines) == 1 and lines[0]["level"] in ("WARNING", "ERROR"), lines
    assert (lines[0]["employeeId"], lines[0]["userNames"]) == ("E12", ["kim.l", "kim.lee"])
    assert "E12" in lines[0]["message"] and "kim.l, kim.lee" in lines[0]["message"]
    assert all(c.action.startswith(READS) for c in cloud.calls.since(mark))     # even with AUDIT_FIXES: never fixed
    assert [cloud.ram_user(n)["Comments"].split(";")[2] for n in ("kim.lee", "kim.l")] == ["st=active"] * 2


# -- issue 15: found by surviving mutants of cloud/directory.py (listing pages, the read model) -------------
def _calls(cloud, mark, action):
    return [c for c in cloud.calls.since(mark) if c.action == action]


def test_every_user_is_listed_once_in_ceil_n_over_1000_listusers_pages(cloud, as_audit):
    """ListUsers pages of MaxItems 1000 at the boundaries: exactly one full page (1000 users), one over
    (1001: a page of one), several with a partial last page (2500). Each managed user (the last of the
    first page, the page of one, the first and the last of the third page) is read exactly once."""
    from tests.offboarding_support import marker
    cloud.ram.quotas["users"] = 2600                           # RAM's default quota is 1,000 users
    ours = {999, 1000, 2000, 2499}
    made = 0
    as_audit()
    for total, pages in ((1000, 1), (1001, 2), (2500, 3)):
        for i in range(made, total):                           # fixture data straight into the backend
            name = f"u{i:04d}"
            cloud.ram.create_user(name, comments=marker(f"E{i}") if i in ours else "created by the platform team")
        made = total
        managed = sorted(f"u{i:04d}" for i in ours if i < total)
        mark = cloud.calls.mark()
        report = run_audit()
        assert (report["scanned"], report["managed"]) == (total, len(managed))
        assert [c.params.get("MaxItems") for c in _calls(cloud, mark, "ListUsers")] == ["1000"] * pages
        assert sorted(c.params.get("UserName") for c in _calls(cloud, mark, "ListAccessKeys")) == managed


def test_every_secret_is_indexed_once_in_ceil_n_over_100_listsecrets_pages(cloud, kms, ram, as_audit):
    """The audit looks every secret up in ListSecrets pages of 100 (never one DescribeSecret per name),
    at the boundaries: 100 secrets (one full page), 101 (a page of one), 250 (a partial third page).
    Each managed user's secret is the last one made at its step (the 100th, the 101st, the 250th):
    one missed page and its user's credential would have no secret (``secret-missing``)."""
    from tests.offboarding_support import make_user

    def fillers(n):
        for _ in range(n):                                     # someone else's secrets, untagged
            cloud.kms.create_secret(f"team/other-{len(cloud.kms.secret_names()):03d}", "v1", "not ours")

    as_audit()
    fillers(99)
    users = []
    for total, pages, before in ((100, 1, 0), (101, 2, 0), (250, 3, 148)):
        fillers(before)
        users.append(f"m.user{len(users)}")
        make_user(ram, kms, users[-1], f"E{len(users)}", login=False)
        assert len(cloud.kms.secret_names()) == total
        mark = cloud.calls.mark()
        report = run_audit()
        assert report["managed"] == len(users)
        assert "secret-missing" not in report["counts"]["byRule"], report
        assert [c.params.get("PageSize") for c in _calls(cloud, mark, "ListSecrets")] == ["100"] * pages
        assert _calls(cloud, mark, "DescribeSecret") == []


def test_a_secret_in_its_deletion_window_holds_no_credential(people, kms, as_audit):
    """A user's secret scheduled for deletion (in its recovery window, still listed) is a missing secret."""
    kms.delete_secret(km.DeleteSecretRequest(secret_name="ram-user/pa.key", recovery_window_in_days="7"))
    as_audit()
    assert "secret-missing" in by_user(run_audit())["pa.key"]


def test_the_access_review_shows_the_display_name_the_level_of_the_configured_groups_and_mfa_binding(
        cloud, ram, as_audit, monkeypatch):
    """What ``hrctl users`` shows of a managed user (read as the audit reads it): its display name, the
    ARMS level of the groups GROUP_READ_ONLY / GROUP_FULL name (not the default names), and that a
    console user without MFA must bind one at the next logon."""
    from hrctl.cli import _collect
    from tests.offboarding_support import marker
    set_clock(T0)
    ram.create_user(rm.CreateUserRequest(user_name="kim.lee", display_name="Kim Lee", comments=marker("E12")))
    ram.create_group(rm.CreateGroupRequest(group_name="team-arms-ro"))
    ram.add_user_to_group(rm.AddUserToGroupRequest(group_name="team-arms-ro", user_name="kim.lee"))
    ram.create_login_profile(rm.CreateLoginProfileRequest(user_name="kim.lee", password="Str0ng!Passw0rd-review",
                                                          mfabind_required=True))
    set_clock(T0 + timedelta(days=100))
    monkeypatch.setenv("GROUP_READ_ONLY", "team-arms-ro")
    monkeypatch.setenv("GROUP_FULL", "team-arms-full")
    as_audit()
    [row] = _collect()
    assert (row["userName"], row["displayName"], row["level"]) == ("kim.lee", "Kim Lee", "read-only")
    [mfa] = [f for f in row["findings"] if f["alert"] == "console-without-mfa"]
    assert mfa["message"].endswith("(MFA binding is required at next logon)"), mfa


# -- issue 15: found by surviving mutants of workflows/audit.py (the run's counts, the fixes' re-checks) ------
def test_the_report_counts_every_finding_fix_and_failed_read_exactly(cloud, ram, as_audit, capsys):
    """Five managed users: a.fail (E1) whose reads fail (the first one read), b.dup (E2, nothing to find),
    two idle console users and an idle key. The whole ``counts`` block, exactly: two findings of one rule
    on two users, an account rule on two employees, each fix status, the failed read, the users after it
    still audited; the same with ``{"dryRun": true}`` (fixes off: still ``suggested``) and with fixes on."""
    from tests.offboarding_support import marker
    set_clock(T0)
    assert invoke(event(logon="pa.key", employee_id="E1"))["status"] == "provisioned"
    assert invoke(event(mode="console", logon="co.user", employee_id="E2"))["status"] == "provisioned"
    assert invoke(event(mode="console", logon="co.two", employee_id="E3"))["status"] == "provisioned"
    for name, employee in (("a.fail", "E1"), ("b.dup", "E2")):    # two employees with two active users each
        ram.create_user(rm.CreateUserRequest(user_name=name, comments=marker(employee)))
    set_clock(T0 + timedelta(days=100))
    suggested = {"fixStatus": "suggested", "fixDetail": "AUDIT_FIXES=true applies it"}
    dry = {"fixStatus": "dry-run", "fixDetail": "not applied: dry run"}
    by_rule = {"console-without-mfa": 2, "console-unused": 2, "key-rotation-due": 1, "key-unused": 1,
               "password-policy-weak": 1, "employee-multiple-active-users": 2}
    for fixes, payload, fix, status in ((False, None, suggested, "suggested"),
                                        (False, {"dryRun": True}, suggested, "suggested"),
                                        (True, {"dryRun": True}, dry, "dry-run")):
        as_audit(fixes=fixes)
        cloud.faults.fail("ListAccessKeys", "NoPermission", status=403, times=1)     # a.fail's read, the first
        capsys.readouterr()
        report = run_audit(payload)
        assert (report["status"], report["dryRun"], report["scanned"], report["managed"]) == (
            "audited", payload is not None, 5, 5)
        assert report["counts"] == {
            "usersWithFindings": 3, "failed": 1, "findings": 9, "byRule": by_rule,
            "fixes": {"applied": 0, "skipped": 0, "failed": 0, "suggested": 0, "dry-run": 0, status: 2}}
        assert [row["userName"] for row in report["users"]] == ["a.fail", "co.two", "co.user", "pa.key"]
        failed = report["users"][0]
        assert (failed["employeeId"], failed["action"], failed["error"]["code"], failed["error"]["action"]) == (
            "E1", "failed", "NoPermission", "ListAccessKeys")
        found = by_user(report)
        for name in ("co.two", "co.user"):
            assert set(found[name]) == {"console-without-mfa", "console-unused"}
            unused = found[name]["console-unused"]
            assert {k: unused[k] for k in ("fixStatus", "fixDetail")} == fix
        assert set(found["pa.key"]) == {"key-rotation-due", "key-unused"}
        assert sorted((f["alert"], f.get("employeeId")) for f in report["account"]["findings"]) == [
            ("employee-multiple-active-users", "E1"), ("employee-multiple-active-users", "E2"),
            ("password-policy-weak", None)]
        lines = alert_lines(capsys)
        assert [(line["failed"], line["users"]) for line in lines if line["alert"] == "provisioning-failed"] == [
            (1, ["a.fail"])]
        assert sorted(line.get("userName", "") for line in lines if line["alert"] == "console-unused") == [
            "co.two", "co.user"]
    assert cloud.ram_user("co.user")["LoginProfile"] is not None and cloud.ram_user("co.two")["LoginProfile"]


def test_the_grant_mode_decides_whether_a_direct_arms_attachment_is_a_finding(user_mode, as_audit, monkeypatch):
    """GRANT_MODE=user attaches the ARMS policy to the user: no finding. The same user audited with
    GRANT_MODE=group (set in the environment) is a direct attachment, to move to the level's group."""
    cloud = user_mode
    set_clock(T0)
    assert invoke(event(logon="pa.key", employee_id="E1"))["status"] == "provisioned"
    assert [p["PolicyName"] for p in cloud.ram_user("pa.key")["Policies"]] == ["AliyunARMSReadOnlyAccess"]
    as_audit()
    report = run_audit()
    assert "direct-arms-attachment" not in report["counts"]["byRule"], report["counts"]
    assert "direct-arms-attachment" not in by_user(report).get("pa.key", {})
    monkeypatch.setenv("GRANT_MODE", "group")
    as_audit()
    moved = by_user(run_audit())["pa.key"]["direct-arms-attachment"]
    assert (moved["armsLevel"], moved["fix"], moved["fixStatus"]) == ("read-only", "move-to-group", "suggested")


def test_only_active_keys_are_asked_their_last_use(people, ram, as_audit):
    """GetAccessKeyLastUsed for each Active key only: an Inactive key's use decides no rule."""
    inactive = ram.create_access_key(rm.CreateAccessKeyRequest(user_name="pa.key")).body.access_key.access_key_id
    ram.update_access_key(rm.UpdateAccessKeyRequest(user_name="pa.key", user_access_key_id=inactive,
                                                    status="Inactive"))
    active = [k["AccessKeyId"] for k in people.ram_user("pa.key")["AccessKeys"] if k["Status"] == "Active"]
    assert len(active) == 1 and inactive not in active
    as_audit()
    mark = people.calls.mark()
    run_audit()
    asked = [c.params.get("UserAccessKeyId") for c in _calls(people, mark, "GetAccessKeyLastUsed")]
    assert asked == active


def test_a_compliant_password_policy_is_no_finding(people, ram, as_audit):
    """The account's password policy read back: one that meets CIS 1.7-1.14 is no account finding."""
    ram.set_password_policy(rm.SetPasswordPolicyRequest(
        minimum_password_length=14, require_lowercase_characters=True, require_uppercase_characters=True,
        require_numbers=True, require_symbols=True, hard_expiry=False, max_password_age=90,
        password_reuse_prevention=5, max_login_attemps=5))
    as_audit()
    report = run_audit()
    assert [f["alert"] for f in report["account"]["findings"]] == []
    assert "password-policy-weak" not in report["counts"]["byRule"]


def _console_fix(people, rt, pol, now):
    """co.user's console-unused finding, read as the run reads it, and a fix of it."""
    from provisioner.cloud import directory
    from provisioner.workflows import audit as workflow
    managed = {m.user_name: m for m in directory.list_users(rt.cloud).managed}
    view = workflow.read_user(rt, managed["co.user"])
    (finding,) = [f for f in workflow.audit.findings(view, now, pol) if f["alert"] == "console-unused"]
    return view, finding, lambda: workflow._fix(rt, view, finding, pol, now)


def test_the_console_fix_skips_a_user_that_is_now_another_employee_s_or_not_ours(people, ram, as_audit):
    """Between the read and the fix co.user (E2) became E1's, E3's, or nobody's (its marker gone):
    each is skipped and its login profile kept; back to E2 the fix applies."""
    from provisioner.platform import runtime
    from provisioner.workflows import audit as workflow

    from tests.offboarding_support import marker
    as_audit(fixes=True)
    rt = runtime.get()
    now = T0 + timedelta(days=100)
    _, _, fix = _console_fix(people, rt, workflow.policy(rt.settings), now)
    for comments in (marker("E1"), marker("E3"), "created by the platform team"):
        ram.update_user(rm.UpdateUserRequest(user_name="co.user", new_comments=comments))
        assert fix() == ("skipped", "the user is gone or no longer ours"), comments
        assert people.ram_user("co.user")["LoginProfile"] is not None
    ram.update_user(rm.UpdateUserRequest(user_name="co.user", new_comments=marker("E2")))
    assert fix() == ("applied", "console logon disabled (login profile deleted)")
    assert people.ram_user("co.user")["LoginProfile"] is None


def test_the_console_fix_skips_a_login_profile_made_again_since_the_read(people, ram, as_audit):
    """co.user last logged on 95 days ago: still idle whatever its login profile. Its profile was made
    again after the read (later, or, the clock set back, earlier): the fix is skipped, the new profile
    kept. Read again, the fix applies."""
    from provisioner.platform import runtime
    from provisioner.workflows import audit as workflow
    people.set_last_login("co.user", T0 + timedelta(days=5))
    as_audit(fixes=True)
    rt = runtime.get()
    now = T0 + timedelta(days=100)
    pol = workflow.policy(rt.settings)
    view, _, fix = _console_fix(people, rt, pol, now)
    assert view.console_created is not None
    for when in (now, T0 - timedelta(days=1)):
        set_clock(when)
        ram.delete_login_profile(rm.DeleteLoginProfileRequest(user_name="co.user"))
        ram.create_login_profile(rm.CreateLoginProfileRequest(user_name="co.user", password="Str0ng!Passw0rd-again1"))
        set_clock(now)
        made = people.ram_user("co.user")["LoginProfile"]["CreateDate"]
        assert fix() == ("skipped", "the console access changed since it was read"), made
        assert people.ram_user("co.user")["LoginProfile"]["CreateDate"] == made
    _, _, fix = _console_fix(people, rt, pol, now)
    assert fix() == ("applied", "console logon disabled (login profile deleted)")
    assert people.ram_user("co.user")["LoginProfile"] is None


def test_a_user_in_its_level_s_group_and_attached_directly_is_only_detached(people, ram, as_audit):
    """pa.key is in hr-arms-read-only (group mode) and has AliyunARMSReadOnlyAccess attached too: the
    fix detaches the policy and leaves the group as it is."""
    assert [g["GroupName"] for g in people.ram_user("pa.key")["Groups"]] == ["hr-arms-read-only"]
    ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type="System", user_name="pa.key",
                                                           policy_name="AliyunARMSReadOnlyAccess"))
    as_audit(fixes=True)
    moved = by_user(run_audit())["pa.key"]["direct-arms-attachment"]
    assert (moved["fixStatus"], moved["fixDetail"]) == (
        "applied", "moved to group hr-arms-read-only; AliyunARMSReadOnlyAccess detached from the user")
    state = people.ram_user("pa.key")
    assert state["Policies"] == [] and [g["GroupName"] for g in state["Groups"]] == ["hr-arms-read-only"]


def _attached_directly(ram):
    """pa.key as user mode left it: out of the group, the ARMS policy on the user."""
    ram.remove_user_from_group(rm.RemoveUserFromGroupRequest(group_name="hr-arms-read-only", user_name="pa.key"))
    ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(policy_type="System", user_name="pa.key",
                                                           policy_name="AliyunARMSReadOnlyAccess"))


def test_a_user_who_joined_the_group_meanwhile_is_moved(people, ram, as_audit):
    """Two callers on pa.key: the audit's AddUserToGroup is parked; meanwhile pa.key joins the group
    (EntityAlreadyExists.User.Group for the audit): what the fix wanted, so it detaches the policy."""
    from concurrent.futures import ThreadPoolExecutor
    _attached_directly(ram)
    as_audit(fixes=True)
    hold = people.hold(AUDIT_KEY, "AddUserToGroup", when="before")
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(run_audit)
        assert people.wait_held(hold)
        ram.add_user_to_group(rm.AddUserToGroupRequest(group_name="hr-arms-read-only", user_name="pa.key"))
        people.release(hold)
        report = running.result(timeout=60)
    moved = by_user(report)["pa.key"]["direct-arms-attachment"]
    assert moved["fixStatus"] == "applied", moved
    assert people.calls.errors("EntityAlreadyExists.User.Group")
    state = people.ram_user("pa.key")
    assert state["Policies"] == [] and [g["GroupName"] for g in state["Groups"]] == ["hr-arms-read-only"]


def test_a_failed_join_keeps_the_direct_attachment(people, ram, as_audit):
    """AddUserToGroup refused (the group gone: EntityNotExist.Group): the fix fails and the policy stays
    attached, so the user never loses the access."""
    _attached_directly(ram)
    as_audit(fixes=True)
    people.faults.fail("AddUserToGroup", "EntityNotExist.Group", status=404, times=1)
    moved = by_user(run_audit())["pa.key"]["direct-arms-attachment"]
    assert (moved["fixStatus"], moved["fixDetail"]) == ("failed", "AddUserToGroup: EntityNotExist.Group")
    assert [p["PolicyName"] for p in people.ram_user("pa.key")["Policies"]] == ["AliyunARMSReadOnlyAccess"]
