"""What access an event can grant: the two ARMS system policies, and nothing else, ever."""
from __future__ import annotations

ARMS_POLICIES: dict[str, str] = {"read-only": "AliyunARMSReadOnlyAccess", "full": "AliyunARMSFullAccess"}


def policy_for(level: str) -> str:
    return ARMS_POLICIES[level]
