"""Plans as lists of steps: the same list is dry-run (reported), executed and reported alike.

A ``Step`` names one mutating API call. Plans are built by reads only; ``execute`` runs them in
order, each tolerating "not found" and "already in its delete window", so a crash at any step is
finished by running the (re-planned) rest later.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..cloud.errors import CloudError, TransientError

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


def describe(steps: list[Step]) -> list[dict[str, Any]]:
    return [s.describe() for s in steps]


def execute(rt: Runtime, steps: list[Step]) -> list[Step]:
    """Run steps in order; each tolerates "not found" and "already in its delete window".
    A failure carries the step that failed and how many were done (``failure_fields``)."""
    done: list[Step] = []
    for step in steps:
        try:
            if step.service == "ram":
                rt.cloud.try_ram(step.action, **step.params)
            else:
                rt.cloud.try_kms(step.action, **step.params)
        except CloudError as err:
            if not err.in_delete_window:
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
