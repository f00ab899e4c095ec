"""The per-employee ledger: HR order that outlives the RAM user, written with KMS's conditional write.

One Generic secret per employee, ``<SECRET_PREFIX>ledger/<employeeId>`` (an employee id holds no
``/``, a logon name holds no ``/``: no ledger name is ever a credential secret's name). Each accepted
event is one version whose id is its ``domain.ordering.Entry``; the value is the event's id and
logon name (never a credential). KMS's PutSecretValue is write-once per version id (the same value
again is an idempotent success, another value ``Rejected.ResourceExist``), so concurrent instances
append without losing each other's entries, and the head (the greatest version id) only moves
forward. Every event is appended, an older one too (the desired state is the fold of all of
them in HR order), while the ledger holds fewer than ``KMS_MAX_VERSIONS - 1`` versions. KMS keeps 10
versions and rolls off the oldest *written*, not the oldest in HR order: older events appended to a
full ledger would push out newer ones, after ten of them the head itself (a leaver's, and the user
would be provisioned again). So an event older than the head that arrives once the ledger holds 9
versions is not recorded; it converges to the head like any older event (workflows/converge.py).
Newer events always are: the eleventh then drops the first written.

The ledger is scheduled for deletion with the user its head names (``SECRET_RECOVERY_DAYS``; an
employee's earlier logon name is deleted without it, workflows/offboarding.py): while it is in its
delete window it still answers, so a stale event cannot resurrect a deleted leaver; after it is
gone, ``MAX_EVENT_AGE_DAYS`` (at most ``SECRET_RECOVERY_DAYS``) refuses anything that old.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..domain import ownership
from ..domain.ordering import Entry
from .clients import listed
from .errors import RESTORED_CODES, CloudError

if TYPE_CHECKING:
    from ..platform.runtime import Runtime

LEDGER_DIR = "ledger/"
KMS_MAX_VERSIONS = 10       # KMS keeps this many versions of a Generic secret and rolls off the oldest written
TAG_KIND, KIND_LEDGER = "hrrp-kind", "ledger"


def user_tag(user_hash: str) -> str:
    """The tag that names the logon name behind an entry's user hash (KMS allows 20 tags a secret:
    one employee's logon names are few)."""
    return f"u.{user_hash}"


def active_before_tag(user_hash: str) -> str:
    """The tag that says the user behind ``user_hash`` was active before its ledger began (a user
    made by a version without a ledger): the fold then starts active for it."""
    return f"a.{user_hash}"


def ledger_name(secret_prefix: str, employee_id: str) -> str:
    return f"{secret_prefix}{LEDGER_DIR}{employee_id}"


class Ledger:
    def __init__(self, rt: Runtime, employee_id: str) -> None:
        self.rt, self.employee_id = rt, employee_id
        self.name = ledger_name(rt.settings.secret_prefix, employee_id)
        self.exists: bool | None = None        # as of the last listing

    def entries(self) -> list[Entry]:
        """Every entry KMS still holds, in HR order (the last is the head); [] without a ledger."""
        body = self.rt.cloud.try_kms("ListSecretVersionIds", SecretName=self.name, IncludeDeprecated="true",
                                     PageSize=100)
        self.exists = body is not None
        parsed = [Entry.parse(v.get("VersionId") or "") for v in listed(body, "VersionIds", "VersionId")]
        return sorted(e for e in parsed if e is not None)

    def head(self) -> Entry | None:
        """The latest entry in HR order, or None when there is no ledger (yet, or any more)."""
        entries = self.entries()
        return entries[-1] if entries else None

    def append(self, entry: Entry, logon_name: str, event_id: str, name_known: bool = False,
               active_before: bool = False) -> None:
        """Record ``entry``; safe to repeat (same version, same value) and to race (other versions).
        ``name_known``: the ledger already maps this logon name's hash (no tag to write);
        ``active_before``: the user was active before the ledger began (``active_before_tag``). Written
        only by the CreateSecret that begins the ledger: every instance appends before it makes a
        user, so a user seen active while the ledger did not exist yet was made without one; an
        instance whose CreateSecret finds the ledger made meanwhile writes no such tag (found by the
        cross-instance search: a leaver that read "no ledger", then met a joiner's user and ledger)."""
        value = json.dumps({"eventId": event_id, "logonName": logon_name}, sort_keys=True)
        extra = [{"TagKey": active_before_tag(entry.user_hash), "TagValue": "true"}] if active_before else []
        if not self.exists:
            try:
                self.rt.cloud.kms(
                    "CreateSecret", SecretName=self.name, VersionId=entry.version_id, SecretData=value,
                    SecretDataType="text", SecretType="Generic",
                    EncryptionKeyId=self.rt.settings.kms_encryption_key_id or None,
                    DKMSInstanceId=self.rt.settings.kms_instance_id or None,
                    Description=f"HR event ledger of employee {self.employee_id} (hr-ram-provisioner)",
                    Tags=json.dumps([{"TagKey": ownership.TAG_MANAGED_BY, "TagValue": ownership.MANAGED_BY},
                                     {"TagKey": ownership.TAG_EMPLOYEE, "TagValue": self.employee_id},
                                     {"TagKey": TAG_KIND, "TagValue": KIND_LEDGER},
                                     {"TagKey": user_tag(entry.user_hash), "TagValue": logon_name}, *extra]))
                self.exists = True
                return
            except CloudError as err:
                if not (err.already_exists or err.in_delete_window):   # created meanwhile, or a tombstone
                    raise
        try:
            self._put(entry, value)
        except CloudError as err:
            if not (err.not_found or err.in_delete_window):
                raise
            self.restore()                       # the tombstone of a deleted user: a rehire brings it back
            self._put(entry, value)
        self.exists = True
        if not name_known:
            self.rt.cloud.kms("TagResource", SecretName=self.name,
                              Tags=json.dumps([{"TagKey": user_tag(entry.user_hash), "TagValue": logon_name}]))

    def _put(self, entry: Entry, value: str) -> None:
        self.rt.cloud.kms("PutSecretValue", SecretName=self.name, VersionId=entry.version_id, SecretData=value,
                          SecretDataType="text")

    def restore(self) -> None:
        try:
            self.rt.cloud.kms("RestoreSecret", SecretName=self.name)
        except CloudError as err:
            if err.code not in RESTORED_CODES:
                raise

    def _tags(self) -> dict[str, str]:
        info = self.rt.secrets.describe(self.name)
        return {} if info is None else {str(t.get("TagKey")): str(t.get("TagValue")) for t in info.tags}

    def logon_name_of(self, entry: Entry) -> str | None:
        """The logon name an entry was written for: the ledger's ``u.<hash>`` tag (metadata: the
        function never reads a secret's value, the ledger's included)."""
        return self._tags().get(user_tag(entry.user_hash))

    def active_before(self, user_hash: str) -> bool:
        """Whether the user behind ``user_hash`` was active before this ledger began."""
        return self._tags().get(active_before_tag(user_hash)) == "true"


SWEEP_TICKS = LEDGER_DIR + ".sweep/ticks"      # never an employee's ledger: employee ids hold no "/"


def claim_tick(rt: Runtime, tick: str, invocation: str) -> bool:
    """Whether this run may delete in the scheduled tick ``tick``: the first run to write the tick's
    version (KMS write-once) owns it; a retry of the owner writes the same value again and is
    answered success (idempotent); any other run gets ``Rejected.ResourceExist``."""
    name = f"{rt.settings.secret_prefix}{SWEEP_TICKS}"
    version = "tick-" + "".join(c for c in tick if c.isalnum())[:59]
    value = json.dumps({"invocation": invocation})
    try:
        if rt.secrets.describe(name) is None:
            try:
                rt.cloud.kms("CreateSecret", SecretName=name, VersionId=version, SecretData=value,
                             SecretDataType="text", SecretType="Generic",
                             Description="Which sweep run owns each tick's deletions (hr-ram-provisioner)",
                             Tags=json.dumps([{"TagKey": ownership.TAG_MANAGED_BY, "TagValue": ownership.MANAGED_BY},
                                              {"TagKey": TAG_KIND, "TagValue": "sweep-ticks"}]))
                return True
            except CloudError as err:
                if not err.already_exists:
                    raise
        rt.cloud.kms("PutSecretValue", SecretName=name, VersionId=version, SecretData=value, SecretDataType="text")
        return True
    except CloudError as err:
        if not err.already_exists:
            raise
        return False
