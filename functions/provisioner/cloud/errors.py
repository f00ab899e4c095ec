"""Which cloud errors are transient, which mean "not found" or "already there".

Decisions are driven by lists of real error codes kept here and nowhere else
(the terraform-provider-alicloud way), so a new code is a one-line change.
"""
from __future__ import annotations

TRANSIENT_CODES = frozenset({
    "Throttling", "Throttling.User", "Throttling.Api", "Throttling.AllocationQuota",
    "ServiceUnavailable", "ServiceUnavailableTemporary", "SerivceUnvailableTemporary",
    "InternalError", "InternalFailure", "UnknownError", "Rejected.Throttling",
    "OperationConflict", "ConcurrentUpdate", "InvalidTimeStamp.Expired", "SignatureNonceUsed",
})

NOT_FOUND_CODES = frozenset({
    "EntityNotExist.User", "EntityNotExist.User.LoginProfile", "EntityNotExist.User.AccessKey",
    "EntityNotExist.User.Policy", "EntityNotExist.User.Group", "EntityNotExist.User.MFADevice",
    "EntityNotExist.VirtualMFADevice", "EntityNotExist.Group", "Forbidden.ResourceNotFound",
})

ALREADY_EXISTS_CODES = frozenset({
    "EntityAlreadyExists.User", "EntityAlreadyExists.User.Policy",
    "EntityAlreadyExists.User.LoginProfile", "EntityAlreadyExists.User.Group",
    "Rejected.ResourceExist",
})

# AddUserToGroup into a group that does not exist: ``hrctl setup`` was not run (a not-found code
# too, but never "already done" for an addition).
GROUP_MISSING_CODES = frozenset({"EntityNotExist.Group"})

IN_DELETE_WINDOW_CODES = frozenset({"Rejected.ResourceInDeleteWindow"})

# CreateSecret of a RAMCredentials secret whose AccessKeys are not the RAM user's exact key set
# (another instance made or deleted a key meanwhile).
RAM_SECRET_KEYS_CHANGED = frozenset({"InvalidParameter"})

# UpdateSecretVersionStage with a RemoveFromVersion that no longer holds the stage: another writer moved it
# meanwhile (a newer version is current), so the move is not ours to make.
STAGE_MOVED_CODES = frozenset({"Rejected.InvalidRequest"})

# RestoreSecret on a secret that is not in its delete window (any more): already restored.
RESTORED_CODES = frozenset({"Rejected.ResourceInUse"})


class CloudError(Exception):
    """An API call failed. The message names action, code, status and RequestId only:
    the SDK's own text can echo request data, so it is never passed on."""

    step: dict | None = None     # set by workflows.steps.execute: the planned step that failed
    done: int = 0                # and how many steps before it were done
    hint: str | None = None      # what a human should do (our own words, never the API's text)

    def __init__(self, action: str, code: str | None, status: int | None = None,
                 request_id: str | None = None) -> None:
        self.action, self.code, self.status, self.request_id = action, code, status, request_id
        detail = f"HTTP {status}" if status else "no response"
        super().__init__(f"{action} failed: {code} ({detail}, RequestId {request_id or '-'})")

    @property
    def transient(self) -> bool:
        return is_transient(self.code, self.status)

    @property
    def throttled(self) -> bool:
        return (self.code or "").startswith("Throttling") or self.code == "Rejected.Throttling"

    @property
    def not_found(self) -> bool:
        return self.code in NOT_FOUND_CODES

    @property
    def already_exists(self) -> bool:
        return self.code in ALREADY_EXISTS_CODES

    @property
    def group_missing(self) -> bool:
        return self.code in GROUP_MISSING_CODES

    @property
    def in_delete_window(self) -> bool:
        return self.code in IN_DELETE_WINDOW_CODES


class TransientError(Exception):
    """Still failing after the in-invocation retries: raised so FC's async retry takes over."""

    step: dict | None = None
    done: int = 0


def is_transient(code: str | None, status: int | None) -> bool:
    if code in TRANSIENT_CODES or (code or "").startswith("Throttling"):
        return True
    if code == "ConnectionError":
        return True
    return status is not None and status >= 500


def from_sdk_exception(action: str, exc: BaseException) -> CloudError:
    """Translate anything the SDK raised into a CloudError without keeping its message."""
    code = getattr(exc, "code", None)
    status = getattr(exc, "status_code", None) or getattr(exc, "statusCode", None)
    request_id = getattr(exc, "request_id", None)
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        request_id = request_id or data.get("RequestId")
        code = code or data.get("Code")
    if code in (None, "", "None") or status is None:
        request_id = request_id if request_id != "None" else None
        if _no_answer(exc):         # connection refused/reset/dropped, timeouts: worth retrying
            return CloudError(action, "ConnectionError", None, request_id)
        # Failed before anything was sent (e.g. the SDK's own parameter validation): retrying
        # cannot help, so it is permanent.
        return CloudError(action, f"ClientError.{type(exc).__name__}", None, request_id)
    return CloudError(action, str(code), int(status), request_id)


# What the SDK stack raises when no HTTP answer came back (darabonba wraps requests/aiohttp errors).
NO_ANSWER_EXCEPTIONS = frozenset({"UnretryableException", "RetryError", "RequestException", "ConnectionError",
                                  "Timeout", "ConnectTimeout", "ReadTimeout", "ChunkedEncodingError",
                                  "RemoteDisconnected", "ProtocolError", "ClientConnectionError"})


def _no_answer(exc: BaseException) -> bool:
    return isinstance(exc, OSError) or any(c.__name__ in NO_ANSWER_EXCEPTIONS for c in type(exc).__mro__)
