"""FC3 entry point: the daily audit of every managed user (timer trigger; issue 13).

One call: ``provisioner.app`` decodes the timer envelope, validates its payload against
``schemas/audit-payload.schema.json`` and runs ``workflows.audit`` (docs/architecture.md). It has
no event workflow: an HR event sent here is answered ``rejected``. Its role is read-only
(``policies/audit-role-policy.json``); the safe fixes need ``policies/audit-fix-role-policy.json``
and ``AUDIT_FIXES=true``.
"""
from typing import Any

from provisioner import app
from provisioner.adapters.validation import AUDIT_PAYLOAD_SCHEMA
from provisioner.workflows import audit

FUNCTION = app.Function("audit.timer", app.timer_only("audit"), timer=audit.run, timer_schema=AUDIT_PAYLOAD_SCHEMA)


def handler(event: Any, context: Any) -> Any:
    return app.handle(event, FUNCTION, context)
