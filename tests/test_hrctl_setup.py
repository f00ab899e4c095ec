"""``hrctl setup`` (issue 13) against localcloud, through ``--endpoint`` and the official SDK, as an
administrator's key (no policy: like the account's root), while the functions' own key stays held
to policies/function-role-policy.json, which grants none of setup's actions.

What it shows: two runs, the second with zero mutating calls (the call log); a dry-run prints the
plan and makes zero mutating calls; a changed policy file becomes a new default policy version
(the oldest non-default version deleted at RAM's five); the password policy reported against CIS
1.7-1.14 and applied without weakening a stricter value; a foreign policy on a group reported
(and detached only with --detach-extra); a role's wrong trust policy replaced; optional roles
from their policy files; usage errors exit 2; the functions' key cannot run setup at all.
"""
import json
import shutil
from pathlib import Path

import pytest
from provisioner.domain import password_policy
from provisioner.domain.access import ARMS_POLICIES, DEFAULT_GROUPS

from hrctl import setup as bootstrap
from hrctl.cli import main
from tests.conftest import role_policy

POLICIES = Path(__file__).resolve().parent.parent / "policies"
FUNCTION_POLICY = json.loads((POLICIES / "function-role-policy.json").read_text(encoding="utf-8"))
ROLE = "hr-ram-provisioner-fn"
RO, FULL = DEFAULT_GROUPS["read-only"], DEFAULT_GROUPS["full"]
# the groups, then each role whose policy file the repository ships (the functions', the audit's, ...)
SHIPPED_ROLES = [spec for spec in bootstrap.ROLES if (POLICIES / spec.policy_file).is_file()]
FIRST_RUN = ["CreateGroup", "AttachPolicyToGroup", "CreateGroup", "AttachPolicyToGroup",
             *["CreateRole", "CreatePolicy", "AttachPolicyToRole"] * len(SHIPPED_ROLES)]


@pytest.fixture
def account(localcloud_server, monkeypatch):
    """A clean localcloud; the functions' key held to the role policy (as in every suite); hrctl
    aimed at it with an administrator's key of its own."""
    server = localcloud_server
    server.reset()
    server.detach_caller_policies()
    server.attach_caller_policy(role_policy())
    admin_id, admin_secret = server.add_caller()
    for key, value in server.function_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", admin_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", admin_secret)
    monkeypatch.setenv("WEBHOOK_SIGNING_KEY", "test-webhook-key")
    monkeypatch.setenv("RETRY_BASE_SECONDS", "0")
    server.admin_id = admin_id
    yield server
    server.remove_caller(admin_id)


def setup(server, capsys, *args, as_json=True):
    """Run ``hrctl setup`` against ``server``: (exit code, JSON body or the text printed)."""
    capsys.readouterr()
    code = main(["setup", "--endpoint", server.endpoint, *(["--json"] if as_json else []), *args])
    out = capsys.readouterr().out
    return code, (json.loads(out) if as_json else out)


def actions(body):
    return [step["action"] for step in body["plan"]]


def default_document(server, name=ROLE):
    policy, default, _ = server.ram.get_policy("Custom", name)
    return json.loads(default.document), policy.default_version


def policies_dir(tmp_path, document=None, **extra_files):
    """A copy of policies/ with the function role's document replaced (and more files added)."""
    directory = tmp_path / "policies"
    if not directory.exists():
        shutil.copytree(POLICIES, directory)
    if document is not None:
        (directory / "function-role-policy.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    for name, content in extra_files.items():
        (directory / (name.replace("_", "-") + ".json")).write_text(json.dumps(content), encoding="utf-8")
    return directory


def with_action(action):
    """The function role's document with one more statement."""
    return {**FUNCTION_POLICY, "Statement": [*FUNCTION_POLICY["Statement"],
                                             {"Effect": "Allow", "Action": action, "Resource": "*"}]}


# -- twice: the second run makes no mutating call ----------------------------------------------------
def test_setup_twice_the_second_run_makes_no_mutating_call(account, capsys):
    mark = account.calls.mark()
    code, body = setup(account, capsys, "--apply-password-policy")
    assert code == 0, body
    assert actions(body) == [*FIRST_RUN, "SetPasswordPolicy"] and body["stepsDone"] == len(FIRST_RUN) + 1
    assert body["findings"] == []
    # the account is as setup makes it
    for level, group in DEFAULT_GROUPS.items():
        assert account.ram.group_policy_names(group) == [("System", ARMS_POLICIES[level])]
    role = account.ram.get_role(ROLE)
    assert json.loads(role.assume_role_policy_document) == bootstrap.FC_TRUST_POLICY
    assert [(p.policy_type, p.policy_name) for p, _ in account.ram.list_policies_for_role(ROLE)] == [("Custom", ROLE)]
    assert default_document(account) == (FUNCTION_POLICY, "v1")
    assert password_policy.findings(_api(account)) == []
    # every call was the administrator's; none the functions'
    assert {c.access_key_id for c in account.calls.since(mark)} == {account.admin_id}

    mark = account.calls.mark()
    code, body = setup(account, capsys, "--apply-password-policy")
    assert code == 0 and body["plan"] == [] and body["stepsDone"] == 0 and body["findings"] == []
    assert account.calls.since(mark), "the second run reads"
    assert account.calls.mutating(mark, ok_only=False) == []
    code, text = setup(account, capsys, as_json=False)
    assert code == 0 and "nothing to do" in text
    assert account.calls.mutating(mark, ok_only=False) == []


def _api(server):
    """The password policy under the API's names (GetPasswordPolicy's)."""
    from localcloud.ram.responses import _password_policy
    return _password_policy(server.ram.get_password_policy())


# -- dry-run --------------------------------------------------------------------------------------------
def test_dry_run_prints_the_plan_and_makes_no_mutating_call(account, capsys):
    mark = account.calls.mark()
    code, body = setup(account, capsys, "--dry-run", "--apply-password-policy")
    assert code == 0 and body["dryRun"] and body["stepsDone"] == 0
    assert actions(body) == [*FIRST_RUN, "SetPasswordPolicy"]
    create_policy = body["plan"][5]
    assert create_policy["PolicyDocument"] == "policies/function-role-policy.json"      # the file, not its text
    code, text = setup(account, capsys, "--dry-run", as_json=False)
    assert code == 1                                               # the password policy fails CIS, not applied
    assert "dry-run: nothing changed" in text and "CreateRole" in text and "RoleName=hr-ram-provisioner-fn" in text
    assert "CIS 1.11: MinimumPasswordLength is 8, expected >= 14" in text
    assert account.calls.since(mark)
    assert account.calls.mutating(mark, ok_only=False) == []
    assert account.ram.groups() == {} and account.ram.roles == {}


# -- a changed policy file: a new default version; RAM's five versions -----------------------------------------
def test_a_changed_policy_document_becomes_the_new_default_version(account, capsys, tmp_path):
    assert setup(account, capsys, "--apply-password-policy")[0] == 0
    same_text_other_layout = policies_dir(tmp_path, document=json.loads(json.dumps(FUNCTION_POLICY)))
    mark = account.calls.mark()
    assert setup(account, capsys, "--policies-dir", str(same_text_other_layout))[1]["plan"] == []   # indent: same
    assert account.calls.mutating(mark, ok_only=False) == []

    for n in range(2, 6):                         # v2..v5: each change a new default version, none deleted
        changed = with_action(f"ram:GetGroup{n}")
        code, body = setup(account, capsys, "--policies-dir", str(policies_dir(tmp_path, changed)))
        assert code == 0 and actions(body) == ["CreatePolicyVersion"], body
        assert body["plan"][0]["SetAsDefault"] is True
        assert default_document(account) == (changed, f"v{n}")
    assert [v.version_id for v, _ in account.ram.list_policy_versions("Custom", ROLE)] == ["v5", "v4", "v3", "v2", "v1"]

    changed = with_action("ram:GetGroup6")
    code, body = setup(account, capsys, "--policies-dir", str(policies_dir(tmp_path, changed)))
    assert code == 0 and actions(body) == ["DeletePolicyVersion", "CreatePolicyVersion"]
    assert body["plan"][0]["VersionId"] == "v1"                    # the oldest non-default one
    assert default_document(account) == (changed, "v6")
    assert [v.version_id for v, _ in account.ram.list_policy_versions("Custom", ROLE)] == ["v6", "v5", "v4", "v3", "v2"]

    # back to the repository's file: a new version again (v2, the oldest non-default, makes room)
    code, body = setup(account, capsys)
    assert actions(body) == ["DeletePolicyVersion", "CreatePolicyVersion"] and body["plan"][0]["VersionId"] == "v2"
    assert default_document(account) == (FUNCTION_POLICY, "v7")
    mark = account.calls.mark()
    assert setup(account, capsys)[1]["plan"] == []
    assert account.calls.mutating(mark, ok_only=False) == []


def test_documents_are_compared_by_meaning_not_spelling():
    spelled = {"Statement": [{"Principal": {"Service": "fc.aliyuncs.com"}, "Effect": "Allow",
                              "Action": ["sts:AssumeRole"]}], "Version": "1"}
    assert bootstrap._same(json.dumps(spelled, indent=4), bootstrap.FC_TRUST_POLICY)
    two = {**FUNCTION_POLICY, "Statement": list(reversed(FUNCTION_POLICY["Statement"]))}
    assert bootstrap._same(json.dumps(two), FUNCTION_POLICY)
    assert not bootstrap._same(json.dumps(with_action("ram:GetGroup")), FUNCTION_POLICY)
    other = {**spelled, "Statement": [{**spelled["Statement"][0], "Principal": {"Service": "ecs.aliyuncs.com"}}]}
    assert not bootstrap._same(json.dumps(other), bootstrap.FC_TRUST_POLICY)
    assert not bootstrap._same("{not json", bootstrap.FC_TRUST_POLICY) and not bootstrap._same(None, {})


# -- the password policy ------------------------------------------------------------------------------------
def test_password_policy_report_then_apply_keeps_stricter_values(account, capsys):
    account.ram.set_password_policy(minimum_password_length=20, require_lowercase_characters=True,
                                    require_uppercase_characters=True, require_numbers=True, require_symbols=False,
                                    hard_expiry=True, max_password_age=30, password_reuse_prevention=10,
                                    max_login_attemps=3)
    code, body = setup(account, capsys)
    assert code == 1
    assert [(f["kind"], f["cis"], f["field"]) for f in body["findings"]] == [
        ("password-policy", "1.9", "RequireSymbols")]
    assert "SetPasswordPolicy" not in actions(body)
    assert [row["cis"] for row in body["passwordPolicy"]] == ["1.7", "1.8", "1.9", "1.10", "1.11", "1.12", "1.13",
                                                              "1.14"]

    code, body = setup(account, capsys, "--apply-password-policy")
    assert code == 0 and actions(body) == ["SetPasswordPolicy"] and body["findings"] == []
    assert _api(account) == {"MinimumPasswordLength": 20, "RequireLowercaseCharacters": True,
                             "RequireUppercaseCharacters": True, "RequireNumbers": True, "RequireSymbols": True,
                             "HardExpiry": True, "MaxPasswordAge": 30, "PasswordReusePrevention": 10,
                             "MaxLoginAttemps": 3}
    mark = account.calls.mark()
    code, body = setup(account, capsys, "--apply-password-policy")
    assert code == 0 and body["plan"] == [] and all(row["compliant"] for row in body["passwordPolicy"])
    assert account.calls.mutating(mark, ok_only=False) == []


@pytest.mark.parametrize(("current", "expected"), [
    ({"MinimumPasswordLength": 8, "MaxPasswordAge": 0, "PasswordReusePrevention": 0, "MaxLoginAttemps": 0},
     {"MinimumPasswordLength": 14, "MaxPasswordAge": 90, "PasswordReusePrevention": 5, "MaxLoginAttemps": 5}),
    ({"MinimumPasswordLength": 32, "MaxPasswordAge": 1, "PasswordReusePrevention": 24, "MaxLoginAttemps": 1},
     {"MinimumPasswordLength": 32, "MaxPasswordAge": 1, "PasswordReusePrevention": 24, "MaxLoginAttemps": 1}),
    ({"MinimumPasswordLength": 13, "MaxPasswordAge": 91, "PasswordReusePrevention": 4, "MaxLoginAttemps": 6},
     {"MinimumPasswordLength": 14, "MaxPasswordAge": 90, "PasswordReusePrevention": 5, "MaxLoginAttemps": 5}),
])
def test_cis_values_never_weaken_a_stricter_setting(current, expected):
    policy = {**dict.fromkeys(("RequireLowercaseCharacters", "RequireUppercaseCharacters", "RequireNumbers",
                               "RequireSymbols"), False), "HardExpiry": False, **current}
    values = password_policy.compliant_values(policy)
    assert {k: values[k] for k in expected} == expected
    assert password_policy.findings(values) == []
    assert set(values) == set(password_policy.FIELDS)                 # every field: none falls back to a default


REQUIRE = ("RequireUppercaseCharacters", "RequireLowercaseCharacters", "RequireSymbols", "RequireNumbers")


@pytest.mark.parametrize("field", REQUIRE)
@pytest.mark.parametrize("value", [False, None, 1, 2, "true"])
def test_a_require_control_is_met_by_true_only(field, value):
    """1.7-1.10: only the boolean true complies (not 1, not a string, not a missing field), and the
    value to set is true."""
    policy = {**dict.fromkeys(REQUIRE, True), "MinimumPasswordLength": 14, "PasswordReusePrevention": 5,
              "MaxPasswordAge": 90, "MaxLoginAttemps": 5, field: value}
    assert [row["field"] for row in password_policy.findings(policy)] == [field]
    assert password_policy.compliant_values(policy)[field] is True
    assert password_policy.findings({**policy, field: True}) == []


def test_a_missing_or_non_number_field_fails_its_control_and_hard_expiry_defaults_to_off():
    """What GetPasswordPolicy never omits, handled anyway: a missing field, a string or a boolean where
    a number belongs fails its control (a missing expiry is not "1 day"), and the fix is the
    benchmark's value; a missing HardExpiry is set off, as SetPasswordPolicy's default."""
    numbers = ["MinimumPasswordLength", "PasswordReusePrevention", "MaxPasswordAge", "MaxLoginAttemps"]
    assert [row["field"] for row in password_policy.findings(dict.fromkeys(REQUIRE, True))] == numbers
    for odd in ("30", True, None):
        policy = {**dict.fromkeys(REQUIRE, True), **dict.fromkeys(numbers, odd)}
        assert [row["field"] for row in password_policy.findings(policy)] == numbers
        values = password_policy.compliant_values(policy)
        assert {k: values[k] for k in numbers} == {"MinimumPasswordLength": 14, "PasswordReusePrevention": 5,
                                                   "MaxPasswordAge": 90, "MaxLoginAttemps": 5}
    assert password_policy.compliant_values({})["HardExpiry"] is False
    assert password_policy.compliant_values({"HardExpiry": True})["HardExpiry"] is True


def test_a_control_is_a_value():
    with pytest.raises(AttributeError):
        password_policy.CONTROLS[0].field = "MaxPasswordAge"  # type: ignore[misc]


# -- what is not ours -----------------------------------------------------------------------------------------
def test_a_foreign_policy_on_a_group_is_reported_and_detached_only_when_asked(account, capsys):
    account.ram.create_group(FULL)
    account.ram.attach_policy_to_group("System", "AdministratorAccess", FULL)
    code, body = setup(account, capsys, "--apply-password-policy")
    assert code == 1
    assert [(f["kind"], f["target"], f["policy"]) for f in body["findings"]] == [
        ("extra-policy", f"group {FULL}", "System:AdministratorAccess")]
    assert [s["GroupName"] for s in body["plan"] if s["action"] == "CreateGroup"] == [RO]
    assert sorted(account.ram.group_policy_names(FULL)) == [("System", "AdministratorAccess"),
                                                            ("System", "AliyunARMSFullAccess")]
    code, text = setup(account, capsys, as_json=False)
    assert code == 1 and "AdministratorAccess is attached to group hr-arms-full" in text

    mark = account.calls.mark()
    code, body = setup(account, capsys, "--detach-extra")
    assert code == 0 and [s["action"] for s in body["plan"]] == ["DetachPolicyFromGroup"]
    assert account.ram.group_policy_names(FULL) == [("System", "AliyunARMSFullAccess")]
    assert [c.action for c in account.calls.mutating(mark)] == ["DetachPolicyFromGroup"]


def test_a_role_with_another_trust_policy_or_a_foreign_policy(account, capsys):
    ecs_trust = json.dumps({"Version": "1", "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow",
                                                           "Principal": {"Service": ["ecs.aliyuncs.com"]}}]})
    account.ram.create_role(ROLE, ecs_trust)
    account.ram.attach_policy_to_role("System", "AliyunECSFullAccess", ROLE)
    code, body = setup(account, capsys, "--apply-password-policy")
    assert code == 1
    assert "UpdateRole" in actions(body) and actions(body).count("CreateRole") == len(SHIPPED_ROLES) - 1
    assert json.loads(account.ram.get_role(ROLE).assume_role_policy_document) == bootstrap.FC_TRUST_POLICY
    assert [(f["target"], f["policy"]) for f in body["findings"]] == [(f"role {ROLE}", "System:AliyunECSFullAccess")]


def test_roles_are_data_the_optional_ones_come_with_their_policy_files(account, capsys, tmp_path):
    audit_policy = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ram:ListUsers", "Resource": "*"}]}
    directory = policies_dir(tmp_path, audit_role_policy=audit_policy)
    (directory / "rotation-role-policy.json").unlink()
    code, body = setup(account, capsys, "--policies-dir", str(directory), "--apply-password-policy")
    assert code == 0
    assert [s["RoleName"] for s in body["plan"] if s["action"] == "CreateRole"] == [ROLE, "hr-ram-provisioner-audit"]
    assert default_document(account, "hr-ram-provisioner-audit") == (audit_policy, "v1")
    assert "hr-ram-provisioner-rotation" not in account.ram.roles            # no rotation-role-policy.json


def test_the_grant_mode_and_audit_fixes_pick_the_documents(account, capsys):
    """GRANT_MODE=user installs the user-mode execution role document; AUDIT_FIXES=true gives the
    audit role its fix statements too. Switching back is one more default version, nothing else."""
    user_mode = json.loads((POLICIES / "function-role-policy.user-mode.json").read_text(encoding="utf-8"))
    audit_only = json.loads((POLICIES / "audit-role-policy.json").read_text(encoding="utf-8"))
    fixes = json.loads((POLICIES / "audit-fix-role-policy.json").read_text(encoding="utf-8"))
    code, body = setup(account, capsys, "--grant-mode", "user", "--audit-fixes", "--apply-password-policy")
    assert code == 0
    assert default_document(account) == (user_mode, "v1")
    document, _ = default_document(account, "hr-ram-provisioner-audit")
    assert document["Statement"] == audit_only["Statement"] + fixes["Statement"]
    code, body = setup(account, capsys, "--apply-password-policy")           # back to group mode, no fixes
    assert code == 0 and actions(body) == ["CreatePolicyVersion", "CreatePolicyVersion"]
    assert default_document(account) == (FUNCTION_POLICY, "v2")
    assert default_document(account, "hr-ram-provisioner-audit") == (audit_only, "v2")


# -- errors -----------------------------------------------------------------------------------------------------
def test_usage_errors_exit_2_in_one_line(account, capsys, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "function-role-policy.json").write_text("{not json", encoding="utf-8")
    for args, expected in ((["--full-group", RO], "must differ"),
                           (["--role-name", "bad_name"], "--role-name 'bad_name'"),
                           (["--read-only-group", "no spaces"], "--read-only-group 'no spaces'"),
                           (["--policies-dir", str(bad)], "function-role-policy.json: not valid JSON"),
                           (["--policies-dir", str(tmp_path)], "function-role-policy.json: no such file")):
        mark = account.calls.mark()
        capsys.readouterr()
        assert main(["setup", "--endpoint", account.endpoint, *args]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and expected in err, err
        assert account.calls.since(mark) == []


def test_the_functions_key_cannot_run_setup(account, capsys, monkeypatch):
    """The execution role's policy grants none of setup's actions (its permissions do not grow):
    run with a key held to it, setup is refused at its first read and changes nothing. (A key of
    its own: the functions' key's calls are what tests/test_role_policy.py holds the policy to.)"""
    key_id, key_secret = account.add_caller(policy=role_policy())
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", key_secret)
    mark = account.calls.mark()
    capsys.readouterr()
    assert main(["setup", "--endpoint", account.endpoint]) == 1
    assert "NoPermission" in capsys.readouterr().err
    assert [c.code for c in account.calls.since(mark)] == ["NoPermission"]
    assert account.ram.groups() == {}
    account.remove_caller(key_id)


# -- as an operator runs it: a separate process against a standalone localcloud, across a restart ----
def test_setup_as_an_operator_runs_it_twice_across_a_restart_of_the_cloud(tmp_path):
    import os
    import subprocess
    import sys

    from tests.localcloud.test_standalone import Standalone
    root = POLICIES.parent
    state = tmp_path / "state.json"

    def run(server, *args):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ALIBABA_CLOUD_", "RAM_", "KMS_", "OPENAPI_", "HR_", "HRCTL_"))}
        env.update({"ALIBABA_CLOUD_ACCESS_KEY_ID": server.printed["accessKeyId"],
                    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": server.printed["accessKeySecret"],
                    "HRCTL_ENDPOINT": "http://" + server.printed["endpoint"]})
        done = subprocess.run([sys.executable, "-m", "hrctl", "setup", "--json", *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=180)
        assert "Traceback" not in done.stderr and server.printed["accessKeySecret"] not in done.stdout + done.stderr
        return done.returncode, json.loads(done.stdout)

    server = Standalone(state)
    try:
        code, body = run(server, "--apply-password-policy")
        assert code == 0 and actions(body) == [*FIRST_RUN, "SetPasswordPolicy"]
        assert body["stepsDone"] == len(FIRST_RUN) + 1
        assert server.stop() == 0
        server = Standalone(state)                      # the roles, policies and groups are in the state file
        mark = server.control.calls.mark()
        code, body = run(server, "--apply-password-policy")
        assert code == 0 and body["plan"] == [] and body["findings"] == []
        assert server.control.calls.since(mark)
        assert server.control.calls.mutating(mark, ok_only=False) == []
        account = server.control.ram_account()                       # the control API's view of it
        assert account["GroupPolicies"] == {RO: ["System:AliyunARMSReadOnlyAccess"],
                                            FULL: ["System:AliyunARMSFullAccess"]}
        assert [(r["RoleName"], r["Policies"]) for r in account["Roles"]] == [
            (spec.default_name, [f"Custom:{spec.default_name}"]) for spec in SHIPPED_ROLES]
        assert account["PasswordPolicy"]["MinimumPasswordLength"] == 14
    finally:
        server.stop()
