"""The execution role's policy against what the code really does.

Granted = called, per role: each deployed function runs with the role of its job (``ROLES``: the
lifecycle functions share the execution role, the rotation and the audit functions have their own), and every RAM/KMS
action a function can reach (statically, function by function from the workflows its entry file
names, following wrappers and planned steps; and at run time, from localcloud's call log over the
whole session, per key) is granted in its role's policy, and every granted action is reached by one
of the role's functions. Plus the two actions Function Compute itself performs with
the role because s.yaml asks it to (logConfig, async onFailure destination). No wildcard action,
no action that could widen anyone's permissions, and resources scoped wherever RAM/KMS allow.
"""
import json
import re
from datetime import timedelta

import pytest
from provisioner.platform import clock
from provisioner.platform.settings import Settings

from tests.conftest import (
    FUNCTION_ACTIONS,
    ROTATION_ACTIONS,
    as_bytes,
    function_actions,
    hr_time,
    set_clock,
    use_user_mode,
)
from tests.deploy_helpers import ROOT, actions_by_function, actions_called, load_s_yaml

POLICY_PATH = ROOT / "policies" / "function-role-policy.json"
# GRANT_MODE=user: the same document with AttachPolicyToUser (the two ARMS policies) in place of
# AddUserToGroup (the two ARMS groups).
USER_MODE_POLICY_PATH = ROOT / "policies" / "function-role-policy.user-mode.json"
POLICY_PATHS = {"group": POLICY_PATH, "user": USER_MODE_POLICY_PATH}
ROTATION_POLICY_PATH = ROOT / "policies" / "rotation-role-policy.json"
AUDIT_POLICY = ROOT / "policies" / "audit-role-policy.json"
AUDIT_FIX_POLICY = ROOT / "policies" / "audit-fix-role-policy.json"     # attached only when AUDIT_FIXES=true
# each deployed function (its entry file under functions/) -> the policy documents of the role it runs with
# (the lifecycle functions': GRANT_MODE=group's; user mode's is checked against the same code below)
ROLES = {"onboarding": (POLICY_PATH,), "offboarding": (POLICY_PATH,), "rotation": (ROTATION_POLICY_PATH,),
         "audit": (AUDIT_POLICY, AUDIT_FIX_POLICY)}
OUR_GROUPS = {"acs:ram:*:*:group/hr-arms-read-only", "acs:ram:*:*:group/hr-arms-full"}
DOCUMENTS = sorted({path for paths in ROLES.values() for path in paths} | {USER_MODE_POLICY_PATH})
ARMS_POLICIES = {"AliyunARMSReadOnlyAccess", "AliyunARMSFullAccess"}
# The actions only one mode calls (workflows/steps.py grant_step): every other action both modes call.
MODE_ONLY = {"group": {"ram:AddUserToGroup"}, "user": {"ram:AttachPolicyToUser"}}
# Performed by Function Compute with the role, not by our code: writing the function's logs
# (logConfig) and delivering failed async events to the queue (asyncInvokeConfig.onFailure).
PLATFORM_ACTIONS = {"log:PostLogStoreLogs", "mns:SendMessage"}
# Actions that may keep Resource "*": reads of account-level settings and listings without
# resource-level authorization. Nothing that writes.
STAR_RESOURCE_OK = {"ram:GetAccountAlias", "ram:GetPasswordPolicy", "ram:ListUsers", "kms:ListSecrets"}
# Anything that could make the role (or anyone) more powerful than it is.
ESCALATION = [
    r"ram:(Create|Update|Delete)Policy(Version)?", r"ram:SetDefaultPolicyVersion",
    r"ram:\w*Role\w*", r"ram:AttachPolicyTo(Group|Role)", r"ram:(Create|Update|Delete)Group",
    r"ram:UpdateLoginProfile", r"ram:Set\w+", r"ram:(Create|Delete)AccountAlias", r"ram:(Bind|Create)\w*MFA\w*",
    r"sts:\w+", r"ims:\w+", r"resourcemanager:\w+", r"kms:GetSecretValue", r"kms:SetSecretPolicy",
    r"kms:\w*(Decrypt|KeyPolicy|CreateKey|Grant)\w*", r"kms:UpdateSecret(VersionStage)?",  # rotation off: allowed
]


def load_policy(path=POLICY_PATH):
    return json.loads(path.read_text(encoding="utf-8"))


def as_list(value):
    return value if isinstance(value, list) else [value]


def grants(policy=None):
    """{action: [resources...]} over the Allow statements."""
    out = {}
    for statement in (policy or load_policy())["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        for action in as_list(statement["Action"]):
            out.setdefault(action, []).extend(as_list(statement["Resource"]))
    return out


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_document_shape(path):
    policy = load_policy(path)
    assert policy["Version"] == "1"
    assert set(policy) == {"Version", "Statement"}
    for statement in policy["Statement"]:
        assert statement["Effect"] in ("Allow", "Deny")
        assert "NotAction" not in statement and "NotResource" not in statement
        for action in as_list(statement["Action"]):
            assert re.fullmatch(r"[a-z]+:[A-Z][A-Za-z0-9]+", action), f"not one exact action: {action!r}"


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_no_wildcard_action_and_no_escalation(path):
    granted = grants(load_policy(path))
    assert not [a for a in granted if "*" in a or "?" in a]
    bad = sorted(a for a in granted if any(re.fullmatch(p, a) for p in ESCALATION)
                 and not (a == "kms:UpdateSecretVersionStage"
                          and set(granted[a]) <= set(granted.get("kms:PutSecretValue", []))))
    assert not bad, f"actions that could grant more than the role has: {bad}"
    # moving a stage between versions of a secret is less than PutSecretValue on it (which can make any value
    # current): allowed only on the secrets the role already writes (the rotation gives a credential another
    # writer stored back its ACSCurrent, workflows/rotation.py)
    # joining a group is a grant: only into our two groups (they hold one ARMS policy each, hrctl setup)
    assert set(granted.get("ram:AddUserToGroup", [])) <= OUR_GROUPS | {"acs:ram:*:*:user/*"}


def test_attach_is_limited_to_the_two_arms_policies():
    resources = grants(load_policy(USER_MODE_POLICY_PATH))["ram:AttachPolicyToUser"]
    policies = [r for r in resources if ":policy/" in r]
    assert {r.rsplit("/", 1)[1] for r in policies} == ARMS_POLICIES
    assert all(r.startswith("acs:ram:*:system:policy/") for r in policies)
    assert [r for r in resources if ":policy/" not in r] == ["acs:ram:*:*:user/*"]


def test_group_mode_attaches_no_policy_to_anyone():
    """CIS 1.16: in group mode the role cannot attach any policy to a user (nor to a group or role)."""
    granted = grants(load_policy(POLICY_PATH))
    assert not [a for a in granted if a.startswith("ram:AttachPolicyTo")]
    assert "ram:AttachPolicyToUser" in grants(load_policy(USER_MODE_POLICY_PATH))       # the check above can fail


def test_add_user_to_group_is_limited_to_the_two_arms_groups():
    """RAM's resource for a group: acs:ram:*:<account>:group/<GroupName>; only our two (the default
    GROUP_READ_ONLY / GROUP_FULL: changing them means changing the policy, as the README says)."""
    settings = Settings()
    resources = grants(load_policy(POLICY_PATH))["ram:AddUserToGroup"]
    assert sorted(r for r in resources if ":group/" in r) == sorted(
        f"acs:ram:*:*:group/{name}" for name in settings.groups.values())
    assert [r for r in resources if ":group/" not in r] == ["acs:ram:*:*:user/*"]
    assert "ram:AddUserToGroup" not in grants(load_policy(USER_MODE_POLICY_PATH))


def test_the_two_documents_differ_only_in_how_a_level_is_granted():
    """One source of truth: the user-mode document is the group-mode one with the AddUserToGroup
    statement replaced by the AttachPolicyToUser one, nothing else."""
    group, user = load_policy(POLICY_PATH)["Statement"], load_policy(USER_MODE_POLICY_PATH)["Statement"]
    assert len(group) == len(user)
    differ = [(g, u) for g, u in zip(group, user) if g != u]
    assert len(differ) == 1
    (g, u), = differ
    assert (g["Action"], u["Action"]) == ("ram:AddUserToGroup", "ram:AttachPolicyToUser")


@pytest.mark.parametrize("mode", ["group", "user"])
def test_resources_are_scoped(mode):
    prefix = Settings().secret_prefix
    for action, resources in grants(load_policy(POLICY_PATHS[mode])).items():
        if "*" in resources:
            assert action in STAR_RESOURCE_OK, f"{action} on every resource"
            assert resources == ["*"]
            continue
        service = action.split(":")[0]
        assert all(r.startswith(f"acs:{service}:") for r in resources), (action, resources)
        if service == "kms":
            # changing SECRET_PREFIX means changing this ARN (README says so); acs/ram/user/ is
            # the name KMS itself gives RAMCredentials secrets (SECRET_TYPE=RAMCredentials), which
            # offboarding also looks up, so it must be readable whatever SECRET_TYPE is now.
            if action == "kms:UpdateSecretRotationPolicy":      # only RAMCredentials secrets rotate
                assert resources == ["acs:kms:*:*:secret/acs/ram/user/*"], (action, resources)
                continue
            assert resources == [f"acs:kms:*:*:secret/{prefix}*", "acs:kms:*:*:secret/acs/ram/user/*"], (
                action, resources)


def test_secret_prefix_in_s_yaml_matches_the_policy(s_engine):
    spec = s_engine.spec("deploy")          # as the Serverless Devs engine resolves s.yaml
    for resource in spec["resources"].values():
        assert resource["props"]["environmentVariables"]["SECRET_PREFIX"] == Settings().secret_prefix


def test_platform_grants_match_s_yaml(s_engine):
    granted = grants()
    props = s_engine.spec("deploy")["resources"]["onboarding"]["props"]
    log = props["logConfig"]
    assert granted["log:PostLogStoreLogs"] == [f"acs:log:*:*:project/{log['project']}/logstore/{log['logstore']}"]
    queue = props["asyncInvokeConfig"]["destinationConfig"]["onFailure"]["destination"]
    assert queue.split(":", 4)[4] == granted["mns:SendMessage"][0].split(":", 4)[4]


def test_every_deployed_function_has_a_role():
    handlers = {r["props"]["handler"].split(".")[0] for r in load_s_yaml()["resources"].values()}
    assert handlers == set(ROLES) == set(actions_by_function())
    roles = {r["props"]["handler"].split(".")[0]: r["props"]["role"] for r in load_s_yaml()["resources"].values()}
    assert roles["onboarding"] == roles["offboarding"] != roles["rotation"] != roles["audit"] != roles["onboarding"]


def test_every_action_the_code_calls_is_granted_and_nothing_else():
    """Per role; the lifecycle role per GRANT_MODE: what its functions reach, less what only the
    other mode calls (MODE_ONLY)."""
    _, unresolved = actions_called()
    assert not unresolved, f"action names the scan cannot see (use literals): {unresolved}"
    reached = actions_by_function()
    for paths in sorted(set(ROLES.values()) - {(POLICY_PATH,)}):      # the lifecycle role: per mode, below
        functions = [f for f, p in ROLES.items() if p == paths]
        called = {a: where for f in functions for a, where in reached[f].items()}
        granted = {a for path in paths for a in grants(load_policy(path))}
        names = "+".join(path.name for path in paths)
        missing = {a: where for a, where in called.items() if a not in granted}
        assert not missing, f"{names}: called by {functions} but not granted: {missing}"
        unused = sorted(granted - set(called) - PLATFORM_ACTIONS)
        assert not unused, f"{names}: granted but never called by {functions}: {unused}"
    lifecycle = {**reached["onboarding"], **reached["offboarding"]}
    assert MODE_ONLY["group"] | MODE_ONLY["user"] <= set(lifecycle)
    for mode, path in POLICY_PATHS.items():
        other = next(m for m in MODE_ONLY if m != mode)
        called = {a: where for a, where in lifecycle.items() if a not in MODE_ONLY[other]}
        granted = set(grants(load_policy(path)))
        assert not {a: w for a, w in called.items() if a not in granted}, f"{mode} mode: called, not granted"
        assert not sorted(granted - set(called) - PLATFORM_ACTIONS), f"{mode} mode: granted, never called"


def test_the_rotation_role_is_the_rotation_and_nothing_more():
    """Least privilege per job: no user, policy, login profile or secret is created or deleted; only the
    credential secrets (never the event ledgers, never KMS's own RAM secrets) get a new version."""
    granted = grants(load_policy(ROTATION_POLICY_PATH))
    assert set(granted) - PLATFORM_ACTIONS == {
        "ram:GetUser", "ram:ListAccessKeys", "ram:CreateAccessKey", "ram:UpdateAccessKey", "ram:DeleteAccessKey",
        "ram:GetAccountAlias", "ram:ListUsers", "kms:DescribeSecret", "kms:ListSecretVersionIds",
        "kms:PutSecretValue", "kms:UpdateSecretVersionStage"}
    for action, resources in granted.items():
        if action.startswith("kms:"):
            assert resources == [f"acs:kms:*:*:secret/{Settings().secret_prefix}*"], (action, resources)
        elif action.startswith("ram:") and resources != ["*"]:
            assert resources == ["acs:ram:*:*:user/*"], (action, resources)
        elif resources == ["*"]:
            assert action in STAR_RESOURCE_OK, action
    denied = [s for s in load_policy(ROTATION_POLICY_PATH)["Statement"] if s["Effect"] == "Deny"]
    assert denied and denied[0]["Resource"] == f"acs:kms:*:*:secret/{Settings().secret_prefix}ledger/*"


# -- run time ---------------------------------------------------------------------------------
def _exercise(cloud, ram, mocker):
    """One whole lifecycle through the handlers, touching every kind of call the code makes."""
    import offboarding
    from alibabacloud_ram20150501 import models as rm

    from tests.onboarding_support import event, invoke

    assert invoke(event(logon="pol.alice", employee_id="P1"))["status"] == "provisioned"
    assert invoke(event(logon="pol.alice", employee_id="P1", level="full"))["status"] == "provisioned"
    assert invoke(event(mode="console", logon="pol.bob", employee_id="P2"))["status"] == "provisioned"
    assert invoke(event(mode="console", logon="pol.alice", employee_id="P1", level="full"))["status"] \
        == "provisioned"
    ram.create_group(rm.CreateGroupRequest(group_name="pol-group"))
    ram.add_user_to_group(rm.AddUserToGroupRequest(group_name="pol-group", user_name="pol.alice"))
    for logon, employee_id in (("pol.alice", "P1"), ("pol.bob", "P2")):
        leaver = {"eventId": f"leave-{employee_id}", "eventType": "employee.offboarded",
                  "occurredAt": hr_time(), "employee": {"employeeId": employee_id, "logonName": logon}}
        assert offboarding.handler(as_bytes(leaver), None)["status"] in ("disabled", "scheduled")
    later = clock.now() + timedelta(days=Settings().offboard_grace_days + 5)
    set_clock(later)
    timer = {"triggerTime": later.strftime("%Y-%m-%dT%H:%M:%SZ"), "triggerName": "daily-sweep",
             "payload": json.dumps({"dryRun": False})}
    return offboarding.handler(as_bytes(timer), None)


@pytest.mark.after_suite
@pytest.mark.parametrize("mode", ["group", "user"])
def test_actions_called_at_run_time_are_granted(cloud, ram, mocker, monkeypatch, capsys, mode):
    if mode == "user":
        use_user_mode(cloud, monkeypatch)
    mark = cloud.calls.mark()
    sweep = _exercise(cloud, ram, mocker)
    assert sweep is not None
    here = {f"{c.service}:{c.action}" for c in cloud.calls.since(mark)
            if c.service and c.action and c.access_key_id == cloud.access_key_id}
    assert here <= set(grants(load_policy(POLICY_PATHS[mode]))), "called at run time, not granted in this mode"
    other = next(m for m in MODE_ONLY if m != mode)
    assert MODE_ONLY[mode] <= here and not MODE_ONLY[other] & here, (mode, sorted(here))
    seen = dict(FUNCTION_ACTIONS)
    for action in function_actions(cloud):
        seen.setdefault(action, "tests/test_role_policy.py (lifecycle)")
    granted = set(grants(load_policy(POLICY_PATH))) | set(grants(load_policy(USER_MODE_POLICY_PATH)))
    assert not {a: t for a, t in seen.items() if a not in granted}, "called at run time, not granted"
    reached = actions_by_function()
    static = {**reached["onboarding"], **reached["offboarding"]}
    assert not {a: t for a, t in seen.items() if a not in static}, "called at run time, invisible to the scan"
    assert {"ram:CreateUser", "kms:CreateSecret", "ram:DeleteUser"} | MODE_ONLY[mode] <= set(seen)
    rotation_granted = set(grants(load_policy(ROTATION_POLICY_PATH)))
    assert not {a: t for a, t in ROTATION_ACTIONS.items() if a not in rotation_granted}, \
        "called by the rotation function at run time, not granted to its role"
    assert not {a: t for a, t in ROTATION_ACTIONS.items() if a not in reached["rotation"]}, \
        "called by the rotation function at run time, invisible to the scan"
    with capsys.disabled():
        not_seen = sorted(set(static) - set(seen))
        print(f"\nrole policy ({mode} mode): {len(granted)} actions granted, {len(seen)} seen at run time"
              f"{', not exercised: ' + ', '.join(not_seen) if not_seen else ''}")


# -- the audit function (functions/audit.py): its own, read-only role -------------------------------


def test_the_audit_role_only_reads_and_the_fix_role_only_fixes():
    for doc in (load_policy(AUDIT_POLICY), load_policy(AUDIT_FIX_POLICY)):
        assert doc["Version"] == "1" and all(s["Effect"] == "Allow" for s in doc["Statement"])
    reads = grants(load_policy(AUDIT_POLICY))
    assert all(re.fullmatch(r"(ram|kms):(Get|List|Describe)\w+", a) for a in reads), sorted(reads)
    assert "kms:GetSecretValue" not in reads                                   # metadata, never a value
    for action, resources in reads.items():
        if "*" in resources:
            assert action in STAR_RESOURCE_OK and resources == ["*"], action
    fixes = grants(load_policy(AUDIT_FIX_POLICY))
    assert set(fixes) == {"ram:DeleteLoginProfile", "ram:AddUserToGroup", "ram:DetachPolicyFromUser"}
    assert set(fixes["ram:AddUserToGroup"]) == {"acs:ram:*:*:user/*"} | OUR_GROUPS
    assert {r.rsplit("/", 1)[1] for r in fixes["ram:DetachPolicyFromUser"] if ":policy/" in r} == ARMS_POLICIES
    assert not [a for a in fixes if "*" in a or (a != "ram:AddUserToGroup" and any(re.fullmatch(p, a)
                                                                                  for p in ESCALATION))]
