"""What access an event can grant: the two ARMS system policies, and nothing else, ever."""
from __future__ import annotations

ARMS_POLICIES: dict[str, str] = {"read-only": "AliyunARMSReadOnlyAccess", "full": "AliyunARMSFullAccess"}

# The RAM groups that hold them (issue 13): the defaults of the GROUP_READ_ONLY / GROUP_FULL
# settings and of `hrctl setup --read-only-group / --full-group`, kept here once.
DEFAULT_GROUPS: dict[str, str] = {"read-only": "hr-arms-read-only", "full": "hr-arms-full"}


def policy_for(level: str) -> str:
    return ARMS_POLICIES[level]
