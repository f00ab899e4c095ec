"""Library shared by the onboarding and offboarding functions.

Importing it (or the handlers) must stay cheap: the SDKs are imported lazily
in ``clients`` so that rejecting an invalid event never pays for them.
"""
MANAGED_BY = "hr-ram-provisioner"
ARMS_POLICIES = {"read-only": "AliyunARMSReadOnlyAccess", "full": "AliyunARMSFullAccess"}
