"""FC3 entry point: the AccessKey rotation (CIS 1.6) of Generic secrets, on its own timer.

Its own function with its own role (``policies/rotation-role-policy.json``): it may create, disable and
delete AccessKeys and put a new version into the credential secrets, and nothing the lifecycle
functions need (no user, policy, login profile or secret creation or deletion). It takes no HR event:
an event is answered ``rejected`` (no cloud call). One call: ``provisioner.app`` decodes the timer,
validates its payload (``schemas/rotation-payload.schema.json``) and runs ``workflows.rotation``
(docs/architecture.md).
"""
from typing import Any

from provisioner import app
from provisioner.adapters.validation import ROTATION_PAYLOAD_SCHEMA
from provisioner.workflows import rotation

FUNCTION = app.Function("rotation.timer", app.timer_only("rotation"), timer=rotation.run,
                        timer_schema=ROTATION_PAYLOAD_SCHEMA)


def handler(event: Any, context: Any) -> Any:
    return app.handle(event, FUNCTION, context)
