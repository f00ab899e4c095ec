"""FC3 entry point: leaver events (direct, batch, EventBridge, signed webhook) and the timer sweep.

One call: ``provisioner.app`` decodes, validates, runs ``workflows.offboarding`` (a leaver) or
``workflows.sweep`` (the timer) and answers (docs/architecture.md).
"""
from typing import Any

from provisioner import app
from provisioner.workflows import offboarding, sweep

FUNCTION = app.Function("employee.offboarded", offboarding.run, timer=sweep.run)


def handler(event: Any, context: Any) -> Any:
    return app.handle(event, FUNCTION, context)
