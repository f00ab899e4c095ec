"""FC3 entry point: HR "employee.onboarded" events → RAM user with ARMS access, credential in KMS.

Thin on purpose: decoding, validation, batching, HTTP answers and the error
policy live in ``provisioner.handling``; the steps in
``provisioner.onboarding_workflow``. Importing this module imports no SDK.
"""
from provisioner import handling, onboarding_workflow


def handler(event, context):
    return handling.handle(event, "employee.onboarded", onboarding_workflow.run, context=context)
