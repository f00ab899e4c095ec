"""RAM-minted AccessKeys as gateway credentials, and their last use (issue 13).

Before this, only the keys registered as callers (the cloud's own, ``add_caller``) could sign
requests; an AccessKey that ``CreateAccessKey`` minted was data only. Now a request signed with
a RAM user's Active AccessKey is accepted like the real gateway accepts it, and each
authenticated call records the key's last use on the cloud's clock (``GetAccessKeyLastUsed``).

- An Inactive key is refused with ``InvalidAccessKeyId.Inactive`` (400), before the signature
  is checked; a deleted key is unknown (``InvalidAccessKeyId.NotFound``).
- Authorization (``localcloud/iam.py``): a caller policy attached to the key (tests may attach
  one) wins; otherwise the key may do what the policies attached to its user grant, read from a
  small catalogue of the system policies' effect on RAM and KMS (``SYSTEM_STATEMENTS``): e.g.
  ``AdministratorAccess`` everything, ``AliyunARMSReadOnlyAccess`` nothing here. A user with no
  policy may do nothing (a RAM user, unlike the root key, has no implicit rights).
- Last use is recorded once the signature verified, whether the call is then authorized or not
  (the key *was* used), and for calls the registered callers make nothing is recorded.
"""
from .exceptions import ApiError

_READ = ["ram:Get*", "ram:List*", "kms:Describe*", "kms:List*"]
SYSTEM_STATEMENTS = {
    "AdministratorAccess": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    "ReadOnlyAccess": [{"Effect": "Allow", "Action": _READ, "Resource": "*"}],
    "AliyunRAMFullAccess": [{"Effect": "Allow", "Action": "ram:*", "Resource": "*"}],
    "AliyunRAMReadOnlyAccess": [{"Effect": "Allow", "Action": ["ram:Get*", "ram:List*"], "Resource": "*"}],
    "AliyunKMSFullAccess": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}],
}


def inactive():
    return ApiError("InvalidAccessKeyId.Inactive", "Specified access key is disabled.", 400)


class UserKeys:
    """Looks RAM-minted keys up in the current RAM backend (``ram()``: it changes on reset)."""

    def __init__(self, ram):
        self._ram = ram

    def secret(self, access_key_id):
        """The key's secret if it is an Active RAM-minted key; None if RAM never minted it."""
        found = self._ram().gateway_key(access_key_id)
        if found is None:
            return None
        secret, status, _ = found
        if status != "Active":
            raise inactive()
        return secret

    def used(self, access_key_id):
        self._ram().record_key_use(access_key_id)

    def owner(self, access_key_id):
        """The user name a RAM-minted key belongs to (None: not a RAM-minted key)."""
        found = self._ram().gateway_key(access_key_id)
        return None if found is None else found[2]

    def statements(self, access_key_id):
        """The statements that govern a RAM-minted key (None: not a RAM-minted key)."""
        found = self._ram().gateway_key(access_key_id)
        if found is None:
            return None
        statements = []
        for name in self._ram().policy_names_of(found[2]):
            statements.extend(SYSTEM_STATEMENTS.get(name, []))
        return statements
