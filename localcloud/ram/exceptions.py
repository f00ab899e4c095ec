"""RAM error codes and HTTP statuses, in one place.

Codes and messages follow the RAM 2015-05-01 API reference ("Error messages"
page and the per-action error lists). Where the reference names no code for a
check this emulator makes, the guess is marked ``# guess`` and listed in the
models docstring.
"""
from ..exceptions import ApiError


def _err(code, message, status):
    return ApiError(code, message, status)


# -- 400: parameters -------------------------------------------------------
def invalid_chars(name):
    return _err(f"InvalidParameter.{name}.InvalidChars", f'The parameter - "{name}" contains invalid chars.', 400)


def too_long(name):
    return _err(f"InvalidParameter.{name}.Length", f'The parameter - "{name}" beyond the length limit.', 400)


def bad_format(name):
    return _err(f"InvalidParameter.{name}.Format", f'The format of the parameter - "{name}" is incorrect.', 400)


def out_of_range(name, low, high):
    return _err(f"InvalidParameter.{name}.Range", f'The parameter - "{name}" MUST be in the range of {low} and {high}.',
                400)


def invalid_value(name, allowed):
    return _err(f"InvalidParameter.{name}", f'The parameter - "{name}" is incorrect. Valid values: {allowed}.', 400)


def policy_type():
    return _err("InvalidParameter.PolicyType", 'The parameter - "PolicyType" is incorrect.', 400)


def password_too_weak():
    return _err("InvalidParameter.Password.TooWeak",
                'The parameter - "Password" is not compliant with the password policy.', 400)


def authentication_code_format():
    return _err("InvalidParameter.AuthenticationCode.Format",
                'The parameter - "AuthenticationCode" MUST be 6 numbers.', 400)


def invalid_marker():
    return _err("InvalidParameter.Marker", 'The parameter - "Marker" is invalid.', 400)  # guess


def account_alias_length():
    return _err("InvalidParameter.AccountAlias.Length",
                'The parameter - "AccountAlias" MUST be in the range of 3 and 32.', 400)


def account_alias_format():
    return _err("InvalidParameter.AccountAlias.Format", 'The format of parameter - "AccountAlias" is incorrect.', 400)


# -- 404: not found --------------------------------------------------------
def no_user(name):
    return _err("EntityNotExist.User", f"The user does not exist: {name}", 404)


def no_access_key(key_id):
    return _err("EntityNotExist.User.AccessKey", f"The user access key does not exist: {key_id}", 404)


def no_login_profile(name):
    return _err("EntityNotExist.User.LoginProfile", f"The user login profile does not exist: {name}", 404)


def no_policy(policy_type, name):
    return _err("EntityNotExist.Policy", f"The policy does not exist: {policy_type} {name}", 404)


def no_user_policy(name):
    return _err("EntityNotExist.User.Policy", f"The indicate policy of the user does not exist: {name}", 404)


def no_group(name):
    return _err("EntityNotExist.Group", f"The group does not exist: {name}", 404)


def no_user_group(user, group):
    return _err("EntityNotExist.User.Group", f"The user has not joined the group: {user} {group}", 404)


def no_mfa_device(serial):
    return _err("EntityNotExist.VirtualMFADevice", f"The virtual mfa device does not exist: {serial}", 404)


def no_user_mfa(name):
    return _err("EntityNotExist.User.MFADevice", f"The user has not bound any MFA device: {name}", 404)


# -- 409: conflicts and limits ---------------------------------------------
def user_exists(name):
    return _err("EntityAlreadyExists.User", f"The user does already EXIST: {name}", 409)


def login_profile_exists(name):
    return _err("EntityAlreadyExists.User.LoginProfile", f"The user login profile does already EXIST: {name}", 409)


def user_policy_exists(name):
    return _err("EntityAlreadyExists.User.Policy", f"The user has already been attached this policy: {name}", 409)


def group_exists(name):
    return _err("EntityAlreadyExists.Group", f"The group does already EXIST: {name}", 409)


def user_group_exists(user, group):
    return _err("EntityAlreadyExists.User.Group", f"The user has already joined the group: {user} {group}", 409)


def mfa_device_exists(name):
    return _err("EntityAlreadyExists.VirtualMFADevice", f"The virtual mfa device does already EXIST: {name}", 409)


def user_mfa_exists(name):
    return _err("EntityAlreadyExists.User.MFADevice", f"The user has already bound a MFA device: {name}", 409)


def mfa_device_bound(serial):
    return _err("EntityAlreadyExists.VirtualMFADevice.User",
                f"The virtual mfa device does already been bound to a user: {serial}", 409)


def delete_conflict(kind):
    what = {"AccessKey": "has any access key", "LoginProfile": "has any login profile",
            "Policy": "has any attached policy", "Group": "be in any group", "MFADevice": "has any mfa device"}[kind]
    return _err(f"DeleteConflict.User.{kind}", f"The user CAN NOT {what} while deleting the user.", 409)


def mfa_delete_conflict(serial):
    return _err("DeleteConflict.VirtualMFADevice.User",
                f"The virtual mfa device CAN NOT been bound to any user while deleting it: {serial}", 409)


def limit(kind, detail):
    return _err(f"LimitExceeded.{kind}", detail, 409)


# -- roles, custom policies and versions, groups' and roles' policies (hrctl setup) -------------
# The RAM 2015-05-01 metadata lists no error codes for these actions; the codes follow the RAM
# error centre's naming (``<Kind>.<Entity>[.<Sub>]``); the ones not seen there are marked guesses.
def malformed_policy_document(name):
    return _err(f"InvalidParameter.{name}.Format",            # guess
                f'The parameter - "{name}" is not a valid policy document.', 400)


def no_role(name):
    return _err("EntityNotExist.Role", f"The role does not exist: {name}", 404)


def role_exists(name):
    return _err("EntityAlreadyExists.Role", f"The role does already EXIST: {name}", 409)


def policy_exists(name):
    return _err("EntityAlreadyExists.Policy", f"The policy does already EXIST: {name}", 409)


def no_policy_version(name, version_id):
    return _err("EntityNotExist.Policy.Version",               # guess
                f"The policy version does not exist: {name} {version_id}", 404)


def policy_version_delete_conflict(version_id):
    return _err("DeleteConflict.Policy.Version",
                f"The default version of the policy CAN NOT be deleted: {version_id}", 409)


def attached_policy_exists(kind, name):
    """``kind``: Group | Role."""
    return _err(f"EntityAlreadyExists.{kind}.Policy",
                f"The {kind.lower()} has already been attached this policy: {name}", 409)


def no_attached_policy(kind, name):
    return _err(f"EntityNotExist.{kind}.Policy", f"The indicate policy of the {kind.lower()} does not exist: {name}",
                404)


def group_delete_conflict(kind):
    """``kind``: User (the group has members) | Policy (it holds policies)."""
    what = {"User": "has any user", "Policy": "has any attached policy"}[kind]
    return _err(f"DeleteConflict.Group.{kind}", f"The group CAN NOT {what} while deleting the group.", 409)
