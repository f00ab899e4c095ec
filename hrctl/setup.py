"""``hrctl setup``: the one-time bootstrap of an account, run by an administrator (issue 13).

What it makes true (reads first, then a plan of steps; dry-run, execution and report are the
same plan, as the functions' own plans are: ``provisioner.workflows.steps``):

- two RAM groups (``--read-only-group`` / ``--full-group``, defaults in
  ``provisioner.domain.access.DEFAULT_GROUPS``, the same as the functions' GROUP_* settings),
  each holding its ARMS System policy. Any other policy on them is a finding; it is detached
  only with ``--detach-extra``;
- one RAM role per entry of ``ROLES`` whose policy file exists in ``policies/`` (the execution
  role always; rotation / audit roles when their files are there), each with the trust policy
  for Function Compute (``Service: fc.aliyuncs.com``; a different trust policy is replaced) and a
  Custom policy of the same name holding the file's document: a document that differs from the
  policy's default version becomes a new default version (the oldest non-default version is
  deleted first when the policy has the five RAM allows). Any other policy on the role is a
  finding (``--detach-extra`` detaches it);
- a report of the account's password policy against CIS 1.7-1.14
  (``provisioner.domain.password_policy``); ``--apply-password-policy`` sets it, never weakening
  a stricter value.

Invariants: every decision is made on reads; a second run finds nothing to do and makes no
mutating call; ``--dry-run`` makes no mutating call. Setup runs with the caller's own
credentials (an administrator's), never the functions': the execution role's policy grants
none of these actions and must not.
Exit codes (as every hrctl command): 0 done (or nothing to do), 1 findings left (password policy
not CIS-compliant and not applied, extra policies not detached) or a cloud refusal, 2 usage or
configuration errors.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provisioner.domain import password_policy
from provisioner.domain.access import ARMS_POLICIES, DEFAULT_GROUPS

__all__ = ["DEFAULT_GROUPS", "FUNCTION_ROLE", "ROLES", "SetupError", "execute", "options", "plan"]
from provisioner.workflows import steps
from provisioner.workflows.steps import Step

POLICIES_DIR = Path(__file__).resolve().parent.parent / "policies"

# The trust policy of every role setup makes: Function Compute may assume it, nothing else.
FC_TRUST_POLICY: dict[str, Any] = {
    "Version": "1",
    "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": ["fc.aliyuncs.com"]}}],
}


@dataclass(frozen=True)
class RoleSpec:
    """One role setup ensures: its default name, and the policy file (under policies/) that is its
    Custom policy (of the same name). ``required``: a missing file is a usage error, else skipped."""
    key: str
    default_name: str
    policy_file: str
    description: str
    required: bool = False


FUNCTION_ROLE = "hr-ram-provisioner-fn"        # s.yaml's default (HR_PROVISIONER_ROLE_NAME)

# Data, not code: a job with its own role is one more line here and one policy file.
ROLES: tuple[RoleSpec, ...] = (
    RoleSpec("function", FUNCTION_ROLE, "function-role-policy.json",
             "hr-ram-provisioner: the onboarding and offboarding functions' execution role", required=True),
    RoleSpec("rotation", "hr-ram-provisioner-rotation", "rotation-role-policy.json",
             "hr-ram-provisioner: the AccessKey rotation function's execution role"),
    RoleSpec("audit", "hr-ram-provisioner-audit", "audit-role-policy.json",
             "hr-ram-provisioner: the daily audit function's execution role"),
)

GROUP_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}\Z")
ROLE_NAME = re.compile(r"^[A-Za-z0-9.-]{1,64}\Z")
MAX_POLICY_VERSIONS = 5
DOCUMENT_PARAMS = ("PolicyDocument", "AssumeRolePolicyDocument", "NewAssumeRolePolicyDocument")


class SetupError(Exception):
    """A usage or configuration error (exit 2): one line."""


@dataclass(frozen=True)
class Planned:
    """A step of the plan and why it is needed (for the report)."""
    step: Step
    why: str
    source: str = ""             # the policy file a document comes from, shown instead of the text

    def describe(self) -> dict[str, Any]:
        shown = {k: (self.source or "(document)") if k in DOCUMENT_PARAMS else v for k, v in self.step.params.items()}
        return {"action": self.step.action, **shown, "why": self.why}


@dataclass(frozen=True)
class Role:
    name: str
    policy_name: str
    document: dict[str, Any]
    source: str                  # policies/<file>
    description: str


@dataclass
class Options:
    groups: dict[str, str]       # level -> group name
    roles: list[Role]
    apply_password_policy: bool = False
    detach_extra: bool = False


@dataclass
class Plan:
    steps: list[Planned]
    findings: list[dict[str, Any]]      # what is wrong and stays wrong after the plan
    password: list[dict[str, Any]]      # the CIS report, one row per control


# -- options -> what to ensure ------------------------------------------------------------------
def load_document(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SetupError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SetupError(f"{path}: cannot read ({err})") from None
    except ValueError as err:
        raise SetupError(f"{path}: not valid JSON ({getattr(err, 'msg', err)})") from None
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), list):
        raise SetupError(f"{path}: not a RAM policy document (an object with a Statement list)")
    return document


# GRANT_MODE=user's execution role: the same document with AttachPolicyToUser in place of AddUserToGroup
USER_MODE_POLICY_FILE = "function-role-policy.user-mode.json"
# AUDIT_FIXES=true: the audit role's Custom policy also holds the fixes' statements
AUDIT_FIX_POLICY_FILE = "audit-fix-role-policy.json"


def options(read_only_group: str, full_group: str, role_name: str, policies_dir: Path | None = None,
            apply_password_policy: bool = False, detach_extra: bool = False, grant_mode: str = "group",
            audit_fixes: bool = False) -> Options:
    """Validated options (SetupError on a bad name or policy file). ``grant_mode`` picks the
    execution role's document (the functions' GRANT_MODE); ``audit_fixes`` adds the audit's fix
    statements to its role's policy (the functions' AUDIT_FIXES)."""
    if grant_mode not in ("group", "user"):
        raise SetupError(f"--grant-mode {grant_mode!r}: group or user")
    directory = policies_dir or POLICIES_DIR
    groups = {"read-only": read_only_group, "full": full_group}
    for level, name in groups.items():
        if not GROUP_NAME.match(name):
            raise SetupError(f"--{level}-group {name!r}: 1-64 letters, digits, '.', '_' or '-'")
    if read_only_group == full_group:
        raise SetupError("--read-only-group and --full-group must differ")
    roles = []
    for spec in ROLES:
        policy_file = USER_MODE_POLICY_FILE if spec.key == "function" and grant_mode == "user" else spec.policy_file
        path = directory / policy_file
        if not spec.required and not path.exists():
            continue
        name = role_name if spec.key == "function" else spec.default_name
        if not ROLE_NAME.match(name):
            raise SetupError(f"--role-name {name!r}: 1-64 letters, digits, '.' or '-'")
        document, source = load_document(path), f"policies/{policy_file}"
        if spec.key == "audit" and audit_fixes:
            fixes = load_document(directory / AUDIT_FIX_POLICY_FILE)
            document = {**document, "Statement": [*document["Statement"], *fixes["Statement"]]}
            source += f" + policies/{AUDIT_FIX_POLICY_FILE}"
        roles.append(Role(name, name, document, source, spec.description))
    if len({r.name for r in roles}) != len(roles):
        raise SetupError(f"--role-name {role_name!r} is the name of another role setup makes")
    return Options(groups, roles, apply_password_policy, detach_extra)


# -- reads ------------------------------------------------------------------------------------------
def _all(cloud: Any, action: str, outer: str, inner: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged RAM listing."""
    items: list[dict[str, Any]] = []
    marker = None
    while True:
        body = cloud.ram(action, MaxItems=1000, Marker=marker, **params)
        items += (body.get(outer) or {}).get(inner) or []
        if not body.get("IsTruncated"):
            return items
        marker = body.get("Marker")


def _attached(body: dict[str, Any]) -> set[tuple[str, str]]:
    return {(p["PolicyType"], p["PolicyName"]) for p in (body.get("Policies") or {}).get("Policy") or []}


def _normal(value: Any) -> Any:
    """A policy document's meaning, not its spelling: RAM may hand a document back reformatted,
    and in a policy ``"Action": "x"`` is ``"Action": ["x"]`` and list order does not matter."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        items = sorted({json.dumps(_normal(v), sort_keys=True) for v in value})
        return json.loads(items[0]) if len(items) == 1 else [json.loads(i) for i in items]
    return value


def _same(document: str | None, wanted: dict[str, Any]) -> bool:
    """Documents compared by meaning (formatting, key and list order, one-item lists do not matter)."""
    try:
        return document is not None and _normal(json.loads(document)) == _normal(wanted)
    except ValueError:
        return False


def _compact(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


# -- the plan --------------------------------------------------------------------------------------
def plan(cloud: Any, opts: Options) -> Plan:
    """Reads only: what must change, and what is wrong (findings)."""
    planned: list[Planned] = []
    findings: list[dict[str, Any]] = []

    def extra(kind: str, name: str, held: set[tuple[str, str]], ours: set[tuple[str, str]], detach: str) -> None:
        for ptype, pname in sorted(held - ours):
            if opts.detach_extra:
                planned.append(Planned(steps.ram(detach, PolicyType=ptype, PolicyName=pname, **{f"{kind}Name": name}),
                                       f"not ours on {kind.lower()} {name} (--detach-extra)"))
            else:
                findings.append({"kind": "extra-policy", "target": f"{kind.lower()} {name}",
                                 "policy": f"{ptype}:{pname}",
                                 "message": f"{ptype} policy {pname} is attached to {kind.lower()} {name}; setup "
                                            "attaches only its own (detach it, or rerun with --detach-extra)"})

    groups = {g["GroupName"] for g in _all(cloud, "ListGroups", "Groups", "Group")}
    for level, group in opts.groups.items():
        ours = {("System", ARMS_POLICIES[level])}
        if group not in groups:
            planned.append(Planned(steps.ram("CreateGroup", GroupName=group,
                                             Comments=f"hr-ram-provisioner: ARMS {level}"), "missing"))
            held: set[tuple[str, str]] = set()
        else:
            held = _attached(cloud.ram("ListPoliciesForGroup", GroupName=group))
        for ptype, pname in sorted(ours - held):
            planned.append(Planned(steps.ram("AttachPolicyToGroup", PolicyType=ptype, PolicyName=pname,
                                             GroupName=group), f"the group's {level} ARMS policy"))
        extra("Group", group, held, ours, "DetachPolicyFromGroup")

    roles = {r["RoleName"] for r in _all(cloud, "ListRoles", "Roles", "Role")}
    policies = {p["PolicyName"] for p in _all(cloud, "ListPolicies", "Policies", "Policy", PolicyType="Custom")}
    for role in opts.roles:
        ours = {("Custom", role.policy_name)}
        if role.name not in roles:
            planned.append(Planned(steps.ram("CreateRole", RoleName=role.name, Description=role.description,
                                             AssumeRolePolicyDocument=_compact(FC_TRUST_POLICY)),
                                   "missing", "trust: fc.aliyuncs.com"))
            held = set()
        else:
            got = cloud.ram("GetRole", RoleName=role.name).get("Role") or {}
            if not _same(got.get("AssumeRolePolicyDocument"), FC_TRUST_POLICY):
                planned.append(Planned(steps.ram("UpdateRole", RoleName=role.name,
                                                 NewAssumeRolePolicyDocument=_compact(FC_TRUST_POLICY)),
                                       "its trust policy is not Function Compute's alone", "trust: fc.aliyuncs.com"))
            held = _attached(cloud.ram("ListPoliciesForRole", RoleName=role.name))
        planned += _policy_steps(cloud, role, role.policy_name in policies)
        for ptype, pname in sorted(ours - held):
            planned.append(Planned(steps.ram("AttachPolicyToRole", PolicyType=ptype, PolicyName=pname,
                                             RoleName=role.name), "the role's own policy"))
        extra("Role", role.name, held, ours, "DetachPolicyFromRole")

    current = (cloud.ram("GetPasswordPolicy").get("PasswordPolicy") or {})
    report = password_policy.report(current)
    failing = [row for row in report if not row["compliant"]]
    if failing and opts.apply_password_policy:
        planned.append(Planned(steps.ram("SetPasswordPolicy", **password_policy.compliant_values(current)),
                               "CIS " + ", ".join(row["cis"] for row in failing) + " (--apply-password-policy)"))
    elif failing:
        findings += [{"kind": "password-policy", "target": "account", "cis": row["cis"], "field": row["field"],
                      "expected": row["expected"], "actual": row["actual"],
                      "message": f"CIS {row['cis']}: {row['field']} is {json.dumps(row['actual'])}, "
                                 f"expected {row['expected']} (rerun with --apply-password-policy)"} for row in failing]
    return Plan(planned, findings, report)


def _policy_steps(cloud: Any, role: Role, exists: bool) -> list[Planned]:
    """The role's Custom policy: created, or a new default version when the file changed."""
    document = _compact(role.document)
    if not exists:
        return [Planned(steps.ram("CreatePolicy", PolicyName=role.policy_name, PolicyDocument=document,
                                  Description=role.description), "missing", role.source)]
    got = cloud.ram("GetPolicy", PolicyType="Custom", PolicyName=role.policy_name)
    if _same((got.get("DefaultPolicyVersion") or {}).get("PolicyDocument"), role.document):
        return []
    out = []
    listed = cloud.ram("ListPolicyVersions", PolicyType="Custom", PolicyName=role.policy_name)
    versions = (listed.get("PolicyVersions") or {}).get("PolicyVersion") or []
    if len(versions) >= MAX_POLICY_VERSIONS:
        oldest = min((v for v in versions if not v.get("IsDefaultVersion")),
                     key=lambda v: (v.get("CreateDate") or "", int(str(v.get("VersionId", "v0"))[1:] or 0)))
        out.append(Planned(steps.ram("DeletePolicyVersion", PolicyName=role.policy_name,
                                     VersionId=oldest["VersionId"]),
                           f"RAM keeps {MAX_POLICY_VERSIONS} versions: the oldest non-default one makes room"))
    out.append(Planned(steps.ram("CreatePolicyVersion", PolicyName=role.policy_name, PolicyDocument=document,
                                 SetAsDefault=True), f"{role.source} differs from the default version", role.source))
    return out


def execute(rt: Any, the_plan: Plan) -> int:
    """Run the plan's steps in order (``steps.execute``: a failure names the step and how many
    were done; rerunning setup re-plans and finishes the rest)."""
    return len(steps.execute(rt, [p.step for p in the_plan.steps]))
