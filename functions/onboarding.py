"""FC3 entry point: HR "employee.onboarded" events → RAM user with ARMS access, credential in KMS.

One call: ``provisioner.app`` decodes, validates, runs ``workflows.onboarding`` and answers
(docs/architecture.md). Importing this module imports no SDK.
"""
from typing import Any

from provisioner import app
from provisioner.workflows import onboarding

FUNCTION = app.Function("employee.onboarded", onboarding.run)


def handler(event: Any, context: Any) -> Any:
    return app.handle(event, FUNCTION, context)
