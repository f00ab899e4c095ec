"""A reusable checker of DESIGN.md invariants 1-6 over localcloud's state.

Everything here reads the emulator's backends directly (``cloud.ram`` / ``cloud.kms`` inspection
helpers, never the call log except where the log *is* the evidence), so a check costs no API call
and cannot itself disturb the call log a test asserts on.

- ``no_leak``                      invariant 1: no minted credential in any text the functions produced
- ``credentials_only_in_kms``      invariant 2: every AccessKey of a managed user is the one its secret holds
- ``onboarded`` / ``disabled`` /
  ``deleted``                      invariants 2 and 3 for the state an event or a sweep must leave
- ``Bystanders``                   invariant 4: users (and secrets) we did not create are never touched
- ``normalized``                   invariants 5 and 6: "the same as one clean run", modulo generated ids
- ``Counter``                      a tiny pytest plugin that prints schedule / example counts at the end
"""
import json
import os

from provisioner.domain import ownership
from provisioner.domain.access import ARMS_POLICIES, DEFAULT_GROUPS

RAM_SECRET_PREFIX = "acs/ram/user/"
GENERIC_PREFIX = "ram-user/"
PASSWORD_VERSION_PREFIX = "pw-"


class InvariantViolation(AssertionError):
    """An invariant does not hold; the message says which and where (never a credential)."""


def _fail(invariant, message):
    raise InvariantViolation(f"invariant {invariant}: {message}")


# -- invariant 1 ---------------------------------------------------------------------------------
def minted(cloud):
    """Every credential localcloud minted or stored (8+ characters, as tests/leakcheck.py uses)."""
    return {c for c in cloud.minted_credentials() if c and len(c) >= 8}


def no_leak(cloud, texts):
    """``texts``: (where, text) pairs. Fails naming where a credential appeared, never which."""
    secrets = minted(cloud)
    places = sorted({where for where, text in texts if any(s in text for s in secrets)})
    if places:
        _fail(1, "a minted credential appeared in " + ", ".join(places) + " (value withheld)")


# -- reading state ---------------------------------------------------------------------------------
def secret_names(user_name, prefix=GENERIC_PREFIX):
    return [prefix + user_name, RAM_SECRET_PREFIX + user_name]


def key_ids_in(value):
    """The AccessKeyIds a secret value holds (Generic: one; RAMCredentials: a list)."""
    if not isinstance(value, dict):
        return set()
    if isinstance(value.get("AccessKeys"), list):
        return {k.get("AccessKeyId") for k in value["AccessKeys"] if isinstance(k, dict)}
    return {value["AccessKeyId"]} if value.get("AccessKeyId") else set()


def owned_secrets(cloud, user_name, employee_id, prefix=GENERIC_PREFIX):
    """The user's secrets tagged ours for ``employee_id`` (kms inspection view, values included)."""
    found = []
    for name in secret_names(user_name, prefix):
        state = cloud.kms.secret_state(name)
        if state is None:
            continue
        tags = state["tags"]
        if ownership.secret_owned_by([{"TagKey": k, "TagValue": v} for k, v in tags.items()], employee_id):
            found.append(state)
    return found


# -- invariant 2 -------------------------------------------------------------------------------------
def keys_outside_kms(cloud, user_name, prefix=GENERIC_PREFIX):
    """AccessKeyIds of the managed user ``user_name`` that no secret of its holds (empty when unmanaged)."""
    state = cloud.ram.user_state(user_name)
    marker = ownership.parse(state["user"]["Comments"]) if state else None
    if marker is None:
        return set()                             # absent, or not managed: invariant 4's business
    # A disabled user's secret may already be in its recovery window (the sweep schedules a RAMCredentials
    # secret before deleting the user's keys): it still holds the value, restorable; an active user's may not.
    held = set()
    for secret in owned_secrets(cloud, user_name, marker.employee_id, prefix):
        if not secret["deleting"] or marker.state == ownership.DISABLED:
            held |= key_ids_in(secret["current"])
    return {k["AccessKeyId"] for k in state["access_keys"]} - held


def credentials_only_in_kms(cloud, user_name, prefix=GENERIC_PREFIX):
    """Every AccessKey of the managed user ``user_name`` is the one the current value of its secret holds,
    and the secret's current version is named after it (how the functions know what KMS holds)."""
    outside = keys_outside_kms(cloud, user_name, prefix)
    if outside:
        _fail(2, f"{len(outside)} AccessKey(s) of {user_name} not held in its KMS secret: {sorted(outside)}")
    state = cloud.ram.user_state(user_name)
    keys = {k["AccessKeyId"] for k in state["access_keys"]} if state else set()
    if len(keys) > 1:
        _fail(2, f"{user_name} has {len(keys)} AccessKeys; exactly one is ever minted: {sorted(keys)}")
    if keys:
        (key,) = keys
        marker = ownership.parse(state["user"]["Comments"])
        if not any(s["current_version"] == key for s in owned_secrets(cloud, user_name, marker.employee_id, prefix)):
            _fail(2, f"the current version of {user_name}'s secret is not named after its AccessKey {key}")


# -- invariant 3: the ARMS level, granted the GRANT_MODE way ----------------------------------------
def grant_mode(env=None):
    """The GRANT_MODE (and level -> group names) the functions run with in this test's environment."""
    env = os.environ if env is None else env
    groups = {"read-only": env.get("GROUP_READ_ONLY") or DEFAULT_GROUPS["read-only"],
              "full": env.get("GROUP_FULL") or DEFAULT_GROUPS["full"]}
    return env.get("GRANT_MODE") or "group", groups


def granted(state, level, env=None):
    """Fails unless ``state`` (``cloud.ram.user_state``) holds exactly ``level``'s ARMS grant, the way
    the mode says: group mode, the level's group of ours and no ARMS policy attached; user mode, the
    level's policy attached and none of our groups. Other groups and policies are not looked at."""
    mode, groups = grant_mode(env)
    name = state["user"]["UserName"]
    arms = [p for p in state["policies"] if p in ARMS_POLICIES.values()]
    ours = [g for g in state["groups"] if g in groups.values()]
    wanted = ([], [groups[level]]) if mode == "group" else ([ARMS_POLICIES[level]], [])
    if (arms, ours) != wanted:
        _fail(3, f"{name} ({mode} mode) has ARMS policies {arms} and groups {ours}, wanted {wanted[0]} and "
                 f"{wanted[1]}")


def no_grant(state, env=None):
    """A disabled user is in none of our groups (both modes)."""
    _, groups = grant_mode(env)
    ours = [g for g in state["groups"] if g in groups.values()]
    if ours:
        _fail(3, f"disabled user {state['user']['UserName']} is still in our group(s) {ours}")


# -- invariants 2 and 3 for a finished event --------------------------------------------------------
def onboarded(cloud, user_name, employee_id, mode, level, *, secret_name, secret_type="Generic",
              end_date=None, console=None, prefix=GENERIC_PREFIX):
    """The state one onboarding event implies, exactly."""
    state = cloud.ram.user_state(user_name)
    if state is None:
        _fail(3, f"{user_name} does not exist")
    marker = ownership.parse(state["user"]["Comments"])
    if marker is None or marker.employee_id != employee_id:
        _fail(4, f"{user_name} does not carry our marker for {employee_id}")
    if marker.state != ownership.ACTIVE or (marker.end_date and marker.end_date.isoformat()) != (end_date or None):
        _fail(3, f"{user_name}'s marker is {state['user']['Comments']!r}, wanted active with endDate {end_date}")
    granted(state, level)
    if grant_mode()[0] == "group" and state["policies"]:
        _fail(3, f"{user_name} has policies {state['policies']} attached, wanted none (group mode)")
    if grant_mode()[0] == "user" and state["policy_types"] != {ARMS_POLICIES[level]: "System"}:
        _fail(3, f"{user_name} has policies {state['policies']}, wanted exactly [{ARMS_POLICIES[level]}]")
    credentials_only_in_kms(cloud, user_name, prefix)
    secret = cloud.kms.secret_state(secret_name)
    if secret is None or secret["deleting"]:
        _fail(2, f"{user_name}'s secret {secret_name} is missing or scheduled for deletion")
    tags = secret["tags"]
    if (tags.get(ownership.TAG_MANAGED_BY), tags.get(ownership.TAG_EMPLOYEE), tags.get(ownership.TAG_USER)) != (
            "hr-ram-provisioner", employee_id, user_name):
        _fail(4, f"{secret_name} is not tagged ours for {employee_id}/{user_name}: {tags}")
    keys = state["access_keys"]
    if mode == "programmatic":
        if len(keys) != 1 or keys[0]["Status"] != "Active":
            _fail(2, f"{user_name} should hold exactly one Active AccessKey, has {keys}")
        if state["login_profile"]:
            _fail(3, f"programmatic user {user_name} still has a login profile")
        if secret["type"] != secret_type:
            _fail(2, f"{secret_name} is a {secret['type']} secret, wanted {secret_type}")
        value = secret["current"]
        if secret_type == "RAMCredentials":
            if key_ids_in(value) != {keys[0]["AccessKeyId"]}:
                _fail(2, f"{secret_name} does not list exactly {user_name}'s AccessKey")
        elif (value or {}).get("UserName") != user_name or value.get("AccessKeyId") != keys[0]["AccessKeyId"]:
            _fail(2, f"{secret_name}'s current value is not {user_name}'s AccessKey")
    else:
        if keys:
            _fail(2, f"console user {user_name} has AccessKeys {keys}")
        if not state["login_profile"]:
            _fail(3, f"console user {user_name} has no login profile")
        if not (secret["current_version"] or "").startswith(PASSWORD_VERSION_PREFIX):
            _fail(2, f"{secret_name}'s current version {secret['current_version']} is not a password")
        value = secret["current"] or {}
        if set(value) != {"UserName", "LogonPrincipal", "Password"} or value["UserName"] != user_name:
            _fail(2, f"{secret_name}'s current value has fields {sorted(value)}")
        passwords = [c for c in cloud.ram.minted_credentials() if not (len(c) == 30 and c.isalnum())]
        if not passwords or passwords[-1] != value["Password"]:
            _fail(2, f"the login profile's password of {user_name} is not the one KMS holds as current")
        settings = state["login_profile_settings"]
        console = console or {}
        wanted_flags = (console.get("passwordResetRequired", True), console.get("mfaBindRequired", True))
        if (settings["PasswordResetRequired"], settings["MFABindRequired"]) != wanted_flags:
            _fail(3, f"{user_name}'s login profile flags are {settings}, wanted {wanted_flags}")
    return state


def disabled(cloud, user_name, employee_id, prefix=GENERIC_PREFIX):
    """A leaver (or a due contractor) after disabling: no login, keys Inactive (and still in KMS)."""
    state = cloud.ram.user_state(user_name)
    if state is None:
        _fail(3, f"{user_name} was deleted, not disabled")
    marker = ownership.parse(state["user"]["Comments"])
    if marker is None or marker.employee_id != employee_id or marker.state != ownership.DISABLED:
        _fail(3, f"{user_name}'s marker is {state['user']['Comments']!r}, wanted disabled")
    if state["login_profile"]:
        _fail(3, f"disabled user {user_name} still has a login profile")
    active = [k for k in state["access_keys"] if k["Status"] != "Inactive"]
    if active:
        _fail(3, f"disabled user {user_name} still has Active AccessKeys {active}")
    no_grant(state)
    credentials_only_in_kms(cloud, user_name, prefix)
    return state


def deleted(cloud, user_name, secret_name):
    """After the grace period: the user is gone, its secret scheduled for deletion (recoverable)."""
    if cloud.ram.user_state(user_name) is not None:
        _fail(3, f"{user_name} still exists")
    secret = cloud.kms.secret_state(secret_name)
    if secret is None or not secret["deleting"]:
        _fail(2, f"{secret_name} is not scheduled for deletion")


# -- invariant 4 -----------------------------------------------------------------------------------------
class Bystanders:
    """Users (and secrets) that events may not touch, snapshotted before and compared after.

    ``check`` also searches the call log: a *mutating* call naming a bystander is a violation even
    when it failed (an attempt is already one too many)."""

    def __init__(self, cloud, user_names, secret_names_=()):
        self.cloud = cloud
        self.user_names = tuple(user_names)
        self.secret_names = tuple(secret_names_)
        self.before = self._snapshot()

    def _snapshot(self):
        return ({n: self.cloud.ram.user_state(n) for n in self.user_names},
                {n: self.cloud.kms.secret_state(n) for n in self.secret_names})

    def check(self, mark=0):
        after = self._snapshot()
        for name in self.user_names:
            if after[0][name] != self.before[0][name]:
                _fail(4, f"user {name} was modified")
        for name in self.secret_names:
            if after[1][name] != self.before[1][name]:
                _fail(4, f"secret {name} was modified")
        touched = sorted({f"{c.action}({c.params.get('UserName') or c.params.get('SecretName')})"
                          for c in self.cloud.calls.since(mark) if c.mutating
                          and (c.params.get("UserName") in self.user_names
                               or c.params.get("SecretName") in self.secret_names)})
        if touched:
            _fail(4, f"mutating calls named a bystander: {touched}")


# -- invariants 5 and 6 ------------------------------------------------------------------------------------
def _shape(value, key_ids):
    """A secret value with credentials and generated ids replaced by placeholders."""
    if isinstance(value, dict):
        return {k: ("<credential>" if k in ("AccessKeySecret", "Password") else
                    "<key>" if k == "AccessKeyId" else _shape(v, key_ids))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v, key_ids) for v in value]
    return value


def normalized(cloud):
    """All of RAM and KMS as comparable data, modulo what a run generates (ids, dates, passwords).

    Two runs of the same events from the same start compare equal iff they left the same users,
    marker states, policies, groups, credential kinds, secret types/tags/shapes and deletion schedules."""
    users = {}
    key_ids = set()
    for name in sorted(cloud.ram.users):
        state = cloud.ram.user_state(name)
        key_ids |= {k["AccessKeyId"] for k in state["access_keys"]}
        settings = dict(state["login_profile_settings"] or {})
        settings.pop("CreateDate", None)
        user = {k: v for k, v in state["user"].items() if k not in ("UserId", "CreateDate", "UpdateDate")}
        users[name] = {"user": user, "policies": state["policy_types"], "groups": state["groups"],
                       "keys": sorted(k["Status"] for k in state["access_keys"]),
                       "login_profile": settings if state["login_profile"] else None,
                       "mfa": state["mfa_bound"]}
    secrets = {}
    for name in cloud.kms.secret_names():
        s = cloud.kms.secret_state(name)
        version = s["current_version"] or ""
        held = key_ids | key_ids_in(s["current"])
        secrets[name] = {"type": s["type"], "tags": s["tags"], "deleting": s["deleting"],
                         "description": s["description"], "extended_config": s["extended_config"],
                         "current": _shape(s["current"], key_ids),
                         "version": ("<key>" if version in held else
                                     "<password>" if version.startswith(PASSWORD_VERSION_PREFIX) else version)}
        if name.endswith("ledger/.sweep/ticks"):     # which run claimed which tick: a run's own ids
            secrets[name]["current"] = secrets[name]["version"] = "<claim>"
    return {"users": users, "secrets": secrets}


def diff(a, b, path="$"):
    """Where two normalized states differ (first few paths), for failure messages."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                out.append(f"{path}.{key}: {'missing' if key not in b else 'extra'}")
            else:
                out += diff(a[key], b[key], f"{path}.{key}")
        return out[:8]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def same_as_clean_run(actual, reference):
    problems = diff(actual, reference)
    if problems:
        _fail(6, "state differs from one clean run: " + "; ".join(problems))


# -- counts printed in the terminal summary --------------------------------------------------------------
class Counter:
    """Registered once per session by the suites that count things; prints in the terminal summary
    (so the figures show with or without ``-s``)."""

    NAME = "hr-ram-provisioner-counts"

    def __init__(self):
        self.lines = {}

    def add(self, section, key, n=1):
        self.lines.setdefault(section, {})
        self.lines[section][key] = self.lines[section].get(key, 0) + n

    def pytest_terminal_summary(self, terminalreporter):
        if not self.lines:
            return
        terminalreporter.section("schedules and examples")
        for section, counts in self.lines.items():
            total = sum(counts.values())
            detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            terminalreporter.write_line(f"{section}: {total} ({detail})")


def counter(config):
    """The session's Counter (registered on first use)."""
    plugin = config.pluginmanager.get_plugin(Counter.NAME)
    if plugin is None:
        plugin = Counter()
        config.pluginmanager.register(plugin, Counter.NAME)
    return plugin


def dump(obj):
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
