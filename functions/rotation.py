"""FC3 entry point: the AccessKey rotation (CIS 1.6) of Generic secrets, on its own timer.

Its own function with its own role (``policies/rotation-role-policy.json``): it may create, disable and
delete AccessKeys and put a new version into the credential secrets, and nothing the lifecycle
functions need (no user, policy, login profile or secret creation or deletion). It takes no HR event:
an event is answered ``rejected`` (no cloud call). One call: ``provisioner.app`` decodes the timer,
validates its payload and runs ``workflows.rotation`` (docs/architecture.md).
"""
from typing import Any

from provisioner import app
from provisioner.adapters.validation import validate_rotation_payload
from provisioner.domain.results import Result, rejected
from provisioner.platform.runtime import Runtime
from provisioner.workflows import rotation


def _no_events(event: dict[str, Any], rt: Runtime) -> Result:
    return rejected(event.get("eventId"), [{"path": "$", "message": "the rotation function takes its timer only, "
                                                                   "not HR events"}])


FUNCTION = app.Function("rotation.timer", _no_events, timer=rotation.run,
                        timer_payload_problems=validate_rotation_payload)


def handler(event: Any, context: Any) -> Any:
    return app.handle(event, FUNCTION, context)
