"""What access an event can grant: the two ARMS system policies, and nothing else, ever.

A level is granted one of two ways (``GRANT_MODE``):

- ``group`` (the default, CIS 1.16 "attach policies only to groups or roles"): the user is a member
  of the RAM group of its level (``GROUP_READ_ONLY`` / ``GROUP_FULL``, made with their ARMS policy
  by ``hrctl setup``); no policy is attached to the user;
- ``user`` (the seed's way): the ARMS policy of its level is attached to the user directly.

A *grant* is one of those: a membership of one of our groups, or a direct ARMS attachment. What
else a user holds (another group, another policy) is not ours: it is never touched here (the
audit reports it as drift).

The swap rule (``plan_grants``), for a mover, a mode switch and the migration of a direct
attachment: **never more access than either event implies, at any moment**.

1. grants of a level *above* the target go first (full → read-only: a moment with nothing is
   fail-closed);
2. then the target grant is added;
3. then every other grant goes (read-only → full: the moment with both is full, what the newer
   event implies; a direct attachment of the same level goes once the group holds the level).

A user who must not be active (disable) holds no grant in group mode (``plan_revoke``).
"""
from __future__ import annotations

from dataclasses import dataclass

ARMS_POLICIES: dict[str, str] = {"read-only": "AliyunARMSReadOnlyAccess", "full": "AliyunARMSFullAccess"}
# The RAM groups that hold them (issue 13): the defaults of the GROUP_READ_ONLY / GROUP_FULL
# settings and of `hrctl setup --read-only-group / --full-group`, kept here once.
DEFAULT_GROUPS: dict[str, str] = {"read-only": "hr-arms-read-only", "full": "hr-arms-full"}
LEVELS: tuple[str, ...] = ("read-only", "full")        # in increasing order of access

GROUP, USER = "group", "user"                          # GRANT_MODE values
GRANT_MODES = (GROUP, USER)

ADD, REMOVE = "add", "remove"


def policy_for(level: str) -> str:
    return ARMS_POLICIES[level]


@dataclass(frozen=True, order=True)
class Grant:
    """One way a user holds an ARMS level: ``kind`` GROUP (membership of our group of that level)
    or USER (the level's policy attached directly)."""
    kind: str
    level: str


def held_grants(policy_names: set[str], group_names: set[str], groups: dict[str, str]) -> set[Grant]:
    """The ARMS grants a user holds, from its directly attached policy names and its group names
    (``groups``: level -> our group name). Anything else is not ours and not a grant."""
    held = {Grant(USER, level) for level, policy in ARMS_POLICIES.items() if policy in policy_names}
    held |= {Grant(GROUP, level) for level, group in groups.items() if group in group_names}
    return held


def plan_grants(held: set[Grant], target: Grant) -> list[tuple[str, Grant]]:
    """The ordered (ADD | REMOVE, grant) operations that take ``held`` to exactly ``{target}``
    under the swap rule of the module docstring. Empty when nothing is to be done."""
    rank = LEVELS.index(target.level)
    above = sorted(g for g in held if LEVELS.index(g.level) > rank)
    rest = sorted(g for g in held if g != target and g not in above)
    plan = [(REMOVE, g) for g in above]
    if target not in held:
        plan.append((ADD, target))
    return plan + [(REMOVE, g) for g in rest]


def plan_revoke(held: set[Grant]) -> list[tuple[str, Grant]]:
    """Every grant removed (a leaver in group mode), highest level first."""
    return [(REMOVE, g) for g in sorted(held, key=lambda g: (-LEVELS.index(g.level), g.kind))]
