"""FC handler: leaver events (direct, batch, EventBridge, signed webhook) and the timer sweep.

Thin by design: the shared ``handling`` decodes, validates, runs and answers;
the workflow lives in ``provisioner.offboarding_workflow``.
"""
from provisioner import handling, offboarding_workflow


def handler(event, context):
    return handling.handle(event, "employee.offboarded", offboarding_workflow.run,
                           timer=offboarding_workflow.sweep, context=context)
