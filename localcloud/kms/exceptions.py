"""KMS error codes and HTTP statuses, in one place.

Every code here is listed in ``errorCodes`` of the action that raises it in
Alibaba Cloud's KMS 2016-01-20 metadata; ``tests/localcloud/test_fidelity.py``
checks that for every code the emulator emits. Messages follow the metadata's
``errorMessage`` with the detail appended.

Missing required parameters are reported as ``InvalidParameter`` (the metadata
lists no ``MissingParameter`` code for any KMS secret action).
"""
from ..exceptions import ApiError


def invalid_parameter(detail):
    return ApiError("InvalidParameter", f"The specified parameter is not valid. {detail}".strip(), 400)


def missing(name):
    return invalid_parameter(f"The parameter {name} is required.")


def not_found(name):
    return ApiError("Forbidden.ResourceNotFound", f"The resource is not found: {name}", 404)


def exists(what):
    return ApiError("Rejected.ResourceExist", f"The resource already exists: {what}", 409)


def invalid_request(detail):
    return ApiError("Rejected.InvalidRequest", f"param mismatch: {detail}", 400)


def in_delete_window(name):
    return ApiError("Rejected.ResourceInDeleteWindow", f"The secret is planned to be deleted: {name}", 409)


def in_use(name):
    return ApiError("Rejected.ResourceInUse", f"The secret is not scheduled for deletion: {name}", 409)


def dkms_instance_not_found(instance_id):
    return ApiError("Forbidden.DKMSInstanceNotFound", f"The specified DKMS Instance is not found: {instance_id}", 403)


def limit_exceeded(detail):
    return ApiError("Rejected.LimitExceeded", f"The request was rejected because a limit was exceeded. {detail}", 400)


def unsupported(secret_type):
    return ApiError("UnsupportedOperation", "This action is not supported. localcloud emulates Generic and "
                    f"RAMCredentials secrets only, not {secret_type}.", 400)
