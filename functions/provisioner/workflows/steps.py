"""Plans as lists of steps: the same list is dry-run (reported), executed and reported alike.

A ``Step`` names one mutating API call. Plans are built by reads only; ``execute`` runs them in
order, each tolerating "not found", "already there" and "already in its delete window", so a crash
at any step is finished by running the (re-planned) rest later. One exception: AddUserToGroup into
a group that does not exist is a permanent failure whose error says to run ``hrctl setup``
(``GROUP_MISSING_HINT``), never "done".

``grant_step`` turns one operation of ``domain.access.plan_grants`` / ``plan_revoke`` into its step
(onboarding runs them one by one, offboarding plans them with the rest).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..cloud.errors import CloudError, TransientError
from ..domain.access import ADD, GROUP, Grant, policy_for

if TYPE_CHECKING:
    from ..platform.runtime import Runtime


@dataclass(frozen=True)
class Step:
    service: str                   # "ram" | "kms"
    action: str
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """As it appears in a report: action plus identifying parameters (never a value)."""
        shown = {k: v for k, v in self.params.items() if k != "NewComments"}
        if "NewComments" in self.params:
            shown["marker"] = self.params["NewComments"]
        return {"action": self.action, **shown}


def ram(action: str, **params: Any) -> Step:
    return Step("ram", action, params)


def kms(action: str, **params: Any) -> Step:
    return Step("kms", action, params)


def grant_step(op: str, grant: Grant, user_name: str, groups: dict[str, str]) -> Step:
    """The step of one grant operation (``groups``: ARMS level -> our group name)."""
    if grant.kind == GROUP:
        return ram("AddUserToGroup" if op == ADD else "RemoveUserFromGroup", UserName=user_name,
                   GroupName=groups[grant.level])
    return ram("AttachPolicyToUser" if op == ADD else "DetachPolicyFromUser", PolicyType="System",
               PolicyName=policy_for(grant.level), UserName=user_name)


GROUP_MISSING_HINT = ("the RAM group {group} does not exist: run `hrctl setup` (it creates GROUP_READ_ONLY and "
                      "GROUP_FULL with their ARMS policies), or set GRANT_MODE=user; then redeliver the event")


def describe(steps: list[Step]) -> list[dict[str, Any]]:
    return [s.describe() for s in steps]


def execute(rt: Runtime, steps: list[Step]) -> list[Step]:
    """Run steps in order; each tolerates "not found", "already there" and "already in its delete
    window" (but not a missing group to add to). A failure carries the step that failed and how many
    were done (``failure_fields``)."""
    done: list[Step] = []
    for step in steps:
        try:
            if step.service == "ram":
                rt.cloud.ram(step.action, **step.params)
            else:
                rt.cloud.kms(step.action, **step.params)
        except CloudError as err:
            if err.group_missing and step.action == "AddUserToGroup":
                err.hint = GROUP_MISSING_HINT.format(group=step.params.get("GroupName"))
            elif err.not_found or err.already_exists or err.in_delete_window:
                done.append(step)
                continue
            err.step, err.done = step.describe(), len(done)
            raise
        except TransientError as err:
            err.step, err.done = step.describe(), len(done)
            raise
        done.append(step)
    return done


def failure_fields(err: Exception) -> dict[str, Any]:
    step = getattr(err, "step", None)
    return {"failedStep": step, "stepsDone": getattr(err, "done", 0)} if step else {}
