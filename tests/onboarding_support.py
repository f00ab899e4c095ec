"""Helpers for the onboarding suites: events, invoking the handler as FC does, reading cloud state
through the official SDK."""
import copy
import json
from pathlib import Path

from tests.conftest import as_bytes, hr_time

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "events"

BASE_EVENT = {
    "eventId": "6f1c1e3a-2b7d-4d7e-9a51-0c2f3f0f9b10",
    "eventType": "employee.onboarded",
    "occurredAt": "2026-11-28T09:00:00Z",
    "employee": {"employeeId": "E10023", "logonName": "alice.wang", "displayName": "Alice Wang",
                 "email": "alice.wang@example.com", "mobilePhone": "86-13800000000"},
    "access": {"mode": "programmatic", "level": "read-only"},
}


# A rehire is an onboarding event that occurred after the offboarding (older ones are stale and
# leave the user disabled): later than every disable time the suites use.
REHIRE_AT = "2026-12-02T09:00:00Z"


def event(mode="programmatic", level="read-only", logon="alice.wang", employee_id="E10023", event_id=None,
          **extra):
    ev = copy.deepcopy(BASE_EVENT)
    # each new event later in HR order than the one before; the same arguments: the same event again
    ev["occurredAt"] = hr_time(repr((mode, level, logon, employee_id, event_id, sorted(extra.items()))))
    ev["employee"].update(logonName=logon, employeeId=employee_id)
    ev["access"] = {"mode": mode, "level": level}
    if event_id:
        ev["eventId"] = event_id
    ev.update(extra)
    return ev


def invoke(obj):
    import onboarding
    return onboarding.handler(as_bytes(obj), None)


def example(name):
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def _code(exc):
    return getattr(exc, "code", None) or (getattr(exc, "data", None) or {}).get("Code")


def user_state(ram, kms, user_name, secret_name=None):
    """Everything onboarding manages for ``user_name``, read with the official SDK."""
    from alibabacloud_kms20160120 import models as km
    from alibabacloud_ram20150501 import models as rm
    secret_name = secret_name or f"ram-user/{user_name}"
    try:
        user = ram.get_user(rm.GetUserRequest(user_name=user_name)).body.user.to_map()
        user.pop("UpdateDate", None)
    except Exception as exc:  # noqa: BLE001
        if _code(exc) != "EntityNotExist.User":
            raise
        user = None
    state = {"user": user, "keys": [], "profile": None, "policies": [], "groups": [], "secret": None, "current": None}
    if user is not None:
        keys = ram.list_access_keys(rm.ListAccessKeysRequest(user_name=user_name)).body.to_map()
        state["keys"] = [(k["AccessKeyId"], k["Status"]) for k in keys["AccessKeys"]["AccessKey"]]
        try:
            state["profile"] = ram.get_login_profile(
                rm.GetLoginProfileRequest(user_name=user_name)).body.login_profile.to_map()
        except Exception as exc:  # noqa: BLE001
            if _code(exc) != "EntityNotExist.User.LoginProfile":
                raise
        pols = ram.list_policies_for_user(rm.ListPoliciesForUserRequest(user_name=user_name)).body.to_map()
        state["policies"] = sorted(p["PolicyName"] for p in pols["Policies"]["Policy"])
        groups = ram.list_groups_for_user(rm.ListGroupsForUserRequest(user_name=user_name)).body.to_map()
        state["groups"] = sorted(g["GroupName"] for g in groups["Groups"]["Group"])
    try:
        desc = kms.describe_secret(km.DescribeSecretRequest(secret_name=secret_name, fetch_tags="true")).body
        state["secret"] = {k: v for k, v in desc.to_map().items() if k != "RequestId"}
        versions = kms.list_secret_version_ids(km.ListSecretVersionIdsRequest(secret_name=secret_name)).body
        for v in versions.to_map()["VersionIds"]["VersionId"]:
            if "ACSCurrent" in v["VersionStages"]["VersionStage"]:
                state["current"] = v["VersionId"]
    except Exception as exc:  # noqa: BLE001
        if _code(exc) != "Forbidden.ResourceNotFound":
            raise
    return state


def secret_value(cloud, name):
    """The current value KMS holds (test-side inspection of the emulator, never the function's view)."""
    found = cloud.kms.secret_state(name)
    return found and found["current"]


def assert_converged_programmatic(cloud, ram, kms, user_name="alice.wang", policy="AliyunARMSReadOnlyAccess"):
    """Invariants 2 and 3: exactly one Active key, the one KMS holds; the right policy; no profile."""
    s = user_state(ram, kms, user_name)
    assert s["user"] is not None
    assert len(s["keys"]) == 1, s["keys"]
    key_id, status = s["keys"][0]
    assert status == "Active"
    assert s["current"] == key_id
    value = secret_value(cloud, f"ram-user/{user_name}")
    assert value["AccessKeyId"] == key_id and value["UserName"] == user_name
    assert s["profile"] is None
    assert_grant(s, policy)
    return s


def assert_grant(s, policy):
    """The ARMS ``policy``'s level granted the GRANT_MODE way (tests.invariants.granted): group mode,
    our group of its level and no policy; user mode, the policy and none of our groups."""
    from provisioner.domain.access import ARMS_POLICIES

    from tests.invariants import grant_mode
    mode, groups = grant_mode()
    level = next(lvl for lvl, name in ARMS_POLICIES.items() if name == policy)
    if mode == "group":
        assert (s["policies"], s["groups"]) == ([], [groups[level]]), (s["policies"], s["groups"])
    else:
        assert s["policies"] == [policy] and not set(s["groups"]) & set(groups.values()), (s["policies"], s["groups"])


def assert_converged_console(cloud, ram, kms, user_name="alice.wang", policy="AliyunARMSReadOnlyAccess"):
    s = user_state(ram, kms, user_name)
    assert s["user"] is not None
    assert s["keys"] == []
    assert s["profile"] is not None
    assert s["current"].startswith("pw-")
    value = secret_value(cloud, f"ram-user/{user_name}")
    assert set(value) == {"UserName", "LogonPrincipal", "Password"}
    # The login profile's password is the one KMS holds: it is the last password RAM accepted.
    assert cloud.ram.minted_credentials()[-1] == value["Password"]
    assert_grant(s, policy)
    return s
