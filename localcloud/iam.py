"""Caller authorization: RAM policies attached to an AccessKey, evaluated like RAM does.

Attach the function role's policy to the key the functions use and every
suite then proves the policy is enough (a missing permission fails the call
with the real ``NoPermission`` 403) — something no call count can show.

Evaluation: an explicit Deny wins; otherwise some Allow must match the action
and every resource the request touches. Actions and resources match with
``*``/``?`` wildcards, actions case-insensitively. Statements with a
``Condition`` are not evaluated (an Allow with a Condition never matches; a
Deny with one always does): the conservative reading. Keys without an
attached policy are unrestricted (the account's root key); a RAM-minted AccessKey without one
is held to its user's (and its groups') attached policies (``localcloud/userkeys.py``) and to
what a test attached to ``user/<UserName>`` with ``attach_user_policy``; with none it may do
nothing (the ARMS system policies grant no RAM or KMS action).
"""
import fnmatch
import json
import re
import threading

from .exceptions import ApiError

DENIED = {
    "ram": ("NoPermission", "You are not authorized to do this action. You should be authorized by RAM."),
    "kms": ("Forbidden.NoPermission", "This operation is forbidden by permission system."),
}


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _match(pattern, value, ignore_case=False):
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    return re.fullmatch(fnmatch.translate(pattern), value) is not None


def resources(service, action, params, account):
    """The ARNs a request touches (what a policy's Resource must cover)."""
    acct, region = account.account_id, account.region
    if service == "kms":
        name = params.get("SecretName")
        if name == "$Auto":
            try:
                name = "acs/ram/user/" + json.loads(params.get("ExtendedConfig") or "{}").get("UserName", "")
            except ValueError:
                name = None
        return [f"acs:kms:{region}:{acct}:secret/{name}"] if name else [f"acs:kms:{region}:{acct}:*"]
    arns = []
    if params.get("UserName"):
        arns.append(f"acs:ram:*:{acct}:user/{params['UserName']}")
    if params.get("PolicyName"):      # every policy action; CreatePolicyVersion & co. name Custom ones only
        owner = "system" if params.get("PolicyType") == "System" else acct
        arns.append(f"acs:ram:*:{owner}:policy/{params['PolicyName']}")
    if params.get("RoleName"):
        arns.append(f"acs:ram:*:{acct}:role/{params['RoleName']}")
    if params.get("GroupName"):
        arns.append(f"acs:ram:*:{acct}:group/{params['GroupName']}")
    serial = params.get("SerialNumber") or ""
    if serial:
        arns.append(f"acs:ram:*:{acct}:mfa/{serial.rsplit('/', 1)[-1]}")
    elif params.get("VirtualMFADeviceName"):
        arns.append(f"acs:ram:*:{acct}:mfa/{params['VirtualMFADeviceName']}")
    return arns or [f"acs:ram:*:{acct}:*"]


class Authorizer:
    def __init__(self):
        self._policies = {}
        self._lock = threading.Lock()
        self.user_keys = None      # localcloud/userkeys.UserKeys: what a RAM-minted key may do

    def attach(self, access_key_id, document):
        """Restrict ``access_key_id`` to ``document`` (a RAM policy dict or JSON string)."""
        if isinstance(document, str):
            document = json.loads(document)
        if not isinstance(document, dict) or not isinstance(document.get("Statement", []), (list, dict)):
            raise ValueError('a RAM policy document is an object with a "Statement" list')
        with self._lock:
            self._policies.setdefault(access_key_id, []).extend(_as_list(document.get("Statement", [])))

    @staticmethod
    def user_principal(user_name):
        """The key under which a RAM user's policies are kept (its AccessKeys come and go)."""
        return f"user/{user_name}"

    def detach_all(self, access_key_id=None):
        with self._lock:
            if access_key_id is None:
                self._policies.clear()
            else:
                self._policies.pop(access_key_id, None)

    def policies(self):
        """``{AccessKeyId: [statements]}`` of every restricted key (a copy)."""
        with self._lock:
            return {key: json.loads(json.dumps(statements)) for key, statements in self._policies.items()}

    def restore(self, policies):
        with self._lock:
            self._policies = {key: list(statements) for key, statements in policies.items()}

    def check(self, access_key_id, service, action, params, account):
        with self._lock:
            statements = self._policies.get(access_key_id)
        if statements is None and self.user_keys is not None:
            statements = self.user_keys.statements(access_key_id)
            owner = self.user_keys.owner(access_key_id) if statements is not None else None
            if owner is not None:              # plus what a test attached to that user
                with self._lock:
                    statements = statements + self._policies.get(self.user_principal(owner), [])
        if statements is None:
            return
        full_action = f"{service}:{action}"
        arns = resources(service, action, params, account)

        def applies(statement, arn):
            return (any(_match(a, full_action, ignore_case=True) for a in _as_list(statement.get("Action", [])))
                    and any(_match(r, arn) for r in _as_list(statement.get("Resource", []))))

        for arn in arns:
            denied = any(s.get("Effect") == "Deny" and applies(s, arn) for s in statements)
            allowed = any(s.get("Effect") == "Allow" and "Condition" not in s and applies(s, arn)
                          for s in statements)
            if denied or not allowed:
                code, message = DENIED[service]
                raise ApiError(code, f"{message} Action: {full_action}, Resource: {arn}", 403)
