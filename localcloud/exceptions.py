"""Errors as the Alibaba Cloud gateway reports them.

Every error carries the real code and HTTP status so SDK callers see exactly
what production would raise (``ClientException.code`` / ``.status_code``).
"""


class ApiError(Exception):
    def __init__(self, code, message, status=400, recommend=None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.recommend = recommend


# Gateway-level errors, shared by every service.
def invalid_action(action):
    return ApiError("InvalidAction.NotFound",
                    f"Specified api is not found, please check your url and method. Action={action}", 404)


def invalid_version(version):
    return ApiError("InvalidVersion", f"Specified parameter Version is not valid. Version={version}", 400)


def missing_parameter(name):
    return ApiError(f"MissingParameter.{name}" if name else "MissingParameter",
                    f"The input parameter \"{name}\" that is mandatory for processing this request "
                    "is not supplied.", 400)


def throttling():
    return ApiError("Throttling.User", "Request was denied due to user flow control.", 400)
