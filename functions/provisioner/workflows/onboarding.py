"""Onboarding: one validated "employee.onboarded" event → the RAM user as the event implies.

Every run is a reconcile, not a script: it reads what exists, decides, and
makes only the changes still missing. That is what makes redelivery after a
fault or a crash at any step converge (DESIGN.md invariants 5 and 6), and an
event that finds everything in place answer ``already-provisioned`` without
a single mutating call.

Steps (reads first; nothing is changed before ownership is settled):

1. GetUser. Not ours (no marker) or another employee's → ``conflict``.
2. DescribeSecret. A secret by that name without our tags → ``conflict``.
3. CreateUser with the marker in ``Comments`` (lost answer / race:
   EntityAlreadyExists.User → read again and decide again), or, for a user we
   manage, UpdateUser when the marker must change (rehire: disabled → active;
   endDate set, changed or cleared).
4. The ARMS level is granted the way ``GRANT_MODE`` says (``domain.access``): group mode adds
   the user to our group of its level, user mode attaches the level's policy. Every other ARMS
   grant goes, in the order of the swap rule (``plan_grants``: a grant above the target level
   first, then the target, then the rest), so no moment holds more access than either event
   implies: a mover swaps groups, a direct attachment from an earlier version (or a membership,
   back in user mode) moves to the mode's way. Groups and policies that are not ours are never
   touched. A missing group is a permanent ``failed`` whose error says to run ``hrctl setup``.
5. Exactly one credential, of the event's kind, held in KMS:
   - programmatic: keys that are not the secret's current (Active) version are
     deleted first; CreateAccessKey; the secret is written (version id =
     AccessKeyId); keys left by a retried CreateAccessKey whose answer was lost
     are then deleted (before the write for a RAMCredentials secret, which KMS
     checks against the user's exact key set). A failure of CreateAccessKey or
     of the write deletes every key KMS does not hold as current (the new one
     included) before the error goes up; a rehire always gets a fresh key.
   - console: a CSPRNG password satisfying GetPasswordPolicy is written to KMS
     first, then CreateLoginProfile. A crash between the two leaves no login
     profile, so redelivery makes a new password (a new secret version) and
     then the profile: a login profile only ever exists with its password as
     the secret's current version.
   - the other kind is removed first (mode switch): console → programmatic deletes
     the login profile, programmatic → console deletes the AccessKeys.
   - console flags (PasswordResetRequired, MFABindRequired) apply when a
     profile is made; a redelivery never re-forces them on a profile in use.

Profile fields (DisplayName, Email, MobilePhone) are set by CreateUser only: a
later event changes the policy, the credential kind and the marker, nothing
else of an existing user.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from ..cloud import directory
from ..cloud.errors import RAM_SECRET_KEYS_CHANGED, RESTORED_CODES, CloudError, TransientError
from ..cloud.secret_store import RAM_CREDENTIALS, SecretInfo
from ..domain import ownership
from ..domain.access import Grant, plan_grants, policy_for
from ..domain.credentials import PROGRAMMATIC, Versions, held_keys, is_password_version, make_password
from ..domain.ordering import Entry
from ..domain.results import Result, Status, result
from ..platform import clock, log
from . import steps

if TYPE_CHECKING:
    from ..platform.runtime import Runtime


class Conflict(Exception):
    """The user or secret exists and is not ours (for this employee): nothing may be changed."""


class Again(Exception):
    """Another instance changed the same credential meanwhile: the round is run again, minting anew."""


class Onboarding:
    """Brings one user to an active state: the joiner ``head`` (the latest event in HR order) says
    which level, credential kind and contract end; ``event`` (the one being delivered, a joiner or
    a leaver) gives the profile fields a CreateUser needs and the console flags."""

    def __init__(self, event: dict[str, Any], rt: Runtime, head: Entry, user_name: str) -> None:
        self.rt, self.cloud, self.store = rt, rt.cloud, rt.secrets
        employee = event["employee"]
        self.event = event
        self.head = head
        self.employee_id = employee["employeeId"]
        self.user_name = user_name
        assert head.level is not None and head.mode is not None  # noqa: S101 - a joiner entry
        self.mode = head.mode
        self.policy = policy_for(head.level)
        self.groups = rt.settings.groups
        self.grant = Grant(rt.settings.grant_mode, head.level)
        console = (event.get("access") or {}).get("console") or {}
        self.reset_required = console.get("passwordResetRequired", True)
        self.mfa_required = console.get("mfaBindRequired", True)
        self.end_date = head.end_date
        self.force_new_credential = False
        # A scheduled leave in the marker stays (a mover keeps it) unless the ledger says this
        # joiner is a rehire or cancels nothing: converge sets it from domain.lifecycle.desired.
        self.keep_leave = True
        # SECRET_TYPE=RAMCredentials: AccessKeys go to a KMS RAM secret; passwords always to a Generic one.
        self.ram_secret = self.mode == PROGRAMMATIC and rt.settings.secret_type == RAM_CREDENTIALS
        self.secret_name = (self.store.ram_secret_name(self.user_name) if self.ram_secret
                            else self.store.name_for(self.user_name))
        self.changed = False
        self.principal: str | None = None

    # -- helpers -------------------------------------------------------------
    def ram(self, action: str, **params: Any) -> dict[str, Any]:
        self.changed = True
        return self.cloud.ram(action, **params)

    def kms(self, action: str, **params: Any) -> dict[str, Any]:
        self.changed = True
        return self.cloud.kms(action, **params)

    def _ignore(self, predicate: Callable[[CloudError], bool], action: str, **params: Any) -> dict[str, Any] | None:
        """A mutating RAM call whose "already done" answer counts as success."""
        try:
            return self.ram(action, **params)
        except CloudError as err:
            if predicate(err):
                return None
            raise

    def result(self, status: Status, **extra: Any) -> Result:
        fields: dict[str, Any] = {}
        if status in (Status.PROVISIONED, Status.ALREADY_PROVISIONED):
            fields.update(logonPrincipal=self.principal, accessMode=self.mode, policies=[self.policy],
                          secretName=self.secret_name)
        return result(status, self.event["eventId"], self.user_name, **fields, **extra)

    # -- steps -----------------------------------------------------------------
    def owned_marker(self, user: dict[str, Any]) -> ownership.Marker:
        marker = ownership.parse(user.get("Comments"))
        if marker is None:
            raise Conflict("a RAM user with this name exists and was not created by hr-ram-provisioner")
        if marker.employee_id != self.employee_id:
            raise Conflict("the RAM user is managed for another employee")
        return marker

    def get_user(self) -> dict[str, Any] | None:
        return directory.get_user(self.cloud, self.user_name)

    def create_user(self) -> bool:
        employee = self.event["employee"]
        comments = ownership.Marker(self.employee_id, end_date=self.end_date).render()
        try:
            self.ram("CreateUser", UserName=self.user_name, DisplayName=employee.get("displayName") or self.user_name,
                     Email=employee.get("email"), MobilePhone=employee.get("mobilePhone"), Comments=comments)
            return True
        except CloudError as err:
            if not err.already_exists:
                raise
        # Created meanwhile (our own earlier attempt whose answer was lost, or someone else): decide again.
        user = self.get_user()
        if user is None:
            raise TransientError("CreateUser: the user exists and vanished again; retry")
        self.reconcile_marker(self.owned_marker(user), user)
        return False

    def reconcile_marker(self, marker: ownership.Marker, user: dict[str, Any]) -> None:
        activated = marker.activated(self.end_date)
        wanted = (activated if self.keep_leave else replace(activated, leave_date=None)).render()
        if user.get("Comments") != wanted:
            self.ram("UpdateUser", UserName=self.user_name, NewComments=wanted)
            log.info("marker updated", step="marker", previousState=marker.state, endDate=self.end_date)

    def grants(self) -> set[Grant]:
        """The ARMS grants the user holds (our groups, direct ARMS attachments)."""
        return directory.grants(self.cloud, self.user_name, self.groups)

    def reconcile_policies(self, fresh: bool) -> None:
        """The level granted the mode's way, every other ARMS grant removed (swap rule)."""
        for op, grant in plan_grants(set() if fresh else self.grants(), self.grant):
            self.changed = True
            steps.execute(self.rt, [steps.grant_step(op, grant, self.user_name, self.groups)])
            log.info("grant changed", step="grant", op=op, grantKind=grant.kind, armsLevel=grant.level)

    def access_keys(self) -> list[dict[str, Any]]:
        return directory.access_keys(self.cloud, self.user_name)

    def delete_keys(self, keys: list[dict[str, Any]], keep: str | None = None) -> None:
        for key in keys:
            if key.get("AccessKeyId") != keep:
                self._ignore(lambda e: e.not_found, "DeleteAccessKey", UserName=self.user_name,
                             UserAccessKeyId=key["AccessKeyId"])

    def secret_state(self, secret: SecretInfo | None, fresh_credential: bool) -> str | None:
        """The secret's current version id (None when it has none we can use), restoring it if
        offboarding scheduled it for deletion."""
        return self.secret_versions(secret, fresh_credential).current_id

    def secret_versions(self, secret: SecretInfo | None, fresh_credential: bool) -> Versions:
        """The secret's current and previous versions (none when it has none we can use), restoring it
        if offboarding scheduled it for deletion."""
        if secret is None:
            return Versions()
        if secret.in_delete_window:
            try:
                self.kms("RestoreSecret", SecretName=self.secret_name)
            except CloudError as err:
                if err.code not in RESTORED_CODES:     # restored by a retry whose answer was lost
                    raise
            log.info("secret restored", step="secret")
        return Versions() if fresh_credential else self.store.versions(self.secret_name)

    def write_secret(self, secret_exists: bool, **credential: Any) -> str:
        version = self.store.write(self.secret_name, employee_id=self.employee_id, user_name=self.user_name,
                                   logon_principal=self.principal, exists=secret_exists, **credential)
        self.changed = True
        return version

    def programmatic(self, fresh: bool, secret: SecretInfo | None, rehire: bool) -> None:
        if not fresh and self.cloud.try_ram("GetLoginProfile", UserName=self.user_name):
            # the other kind goes first (mode switch console → programmatic): exactly one credential kind,
            # and a failure later never leaves a password that KMS no longer holds as current
            self._ignore(lambda e: e.not_found, "DeleteLoginProfile", UserName=self.user_name)
        # KMS first, then the keys: a rotation creates its key before it writes the version, so keys read
        # after the versions always include the key the current version names.
        versions = self.secret_versions(secret, rehire or self.force_new_credential)
        keys = [] if fresh else self.access_keys()
        held = held_keys(self.store.keys(keys), versions, clock.now(), self.ram_secret)
        if held.current is not None and held.current.active:
            # orphans of an interrupted earlier run go; KMS's previous key (a rotation's overlap) and a
            # key another instance is writing (a rotation in flight) stay: workflows/rotation.py
            self.delete_keys([k for k in keys if k.get("AccessKeyId") not in held.kept])
        else:
            self.delete_keys(keys)                                # none of them is in KMS (or usable)
            self.mint_and_store(secret is not None)

    def mint_and_store(self, secret_exists: bool) -> None:
        try:
            body = self.ram("CreateAccessKey", UserName=self.user_name)
        except Exception as err:
            # Retries whose answers were lost may have made keys all the same.
            self.after_failed_mint(err, self.remove_unstored_keys())
            raise
        key = body["AccessKey"]
        log.register_secret(key.get("AccessKeySecret"))
        access_key = {"AccessKeyId": key["AccessKeyId"], "AccessKeySecret": key["AccessKeySecret"]}
        try:
            if self.ram_secret:
                # KMS checks that a RAM secret lists exactly the user's keys: leftovers go first.
                self.delete_keys(self.access_keys(), keep=key["AccessKeyId"])
            self.write_secret(secret_exists, access_key=access_key)
        except Exception as err:
            log.warning("secret write failed; deleting the AccessKey just created", step="secret",
                        accessKeyId=key["AccessKeyId"])
            cleaned = self.remove_unstored_keys(just_created=key)
            if (self.ram_secret and isinstance(err, CloudError) and err.code in RAM_SECRET_KEYS_CHANGED
                    and cleaned):
                # KMS checks a RAM secret against the user's exact key set: another instance made or
                # deleted a key meanwhile. Not the event's fault: the round is run again.
                raise Again(f"{err}: the user's keys changed concurrently") from None
            self.after_failed_mint(err, cleaned)
            raise
        log.info("access key stored", step="secret", accessKeyId=key["AccessKeyId"])
        if not self.ram_secret:
            others = [k for k in self.access_keys() if k.get("AccessKeyId") != key["AccessKeyId"]]
            if others:                                            # a retried CreateAccessKey left one
                self.delete_keys(others)

    @staticmethod
    def after_failed_mint(err: Exception, cleaned: bool) -> None:
        """A permanent error is answered ``failed`` and never redelivered: when an AccessKey may still
        be outside KMS, the event must not end there, so FC's async retry gets it instead."""
        if not cleaned and isinstance(err, CloudError):
            raise TransientError(f"{err}; AccessKeys outside KMS could not be removed, "
                                 "redelivery removes them") from None

    def remove_unstored_keys(self, just_created: dict[str, Any] | None = None) -> bool:
        """After a failure around CreateAccessKey or the secret write: no key may stay outside KMS.

        Keeps the key that is the secret's current version (a write whose answer was lost did land);
        when KMS cannot say, every key goes (redelivery then mints a fresh one). Never masks the
        original error. Returns False when keys outside KMS may be left."""
        try:
            current = self.current_or_none()
        except Exception:  # noqa: BLE001 - KMS cannot say which key it holds
            current = None
        try:
            if just_created is not None and current != just_created["AccessKeyId"]:
                self.delete_keys([just_created])
            self.delete_keys(self.access_keys(), keep=current)
        except Exception as err:  # noqa: BLE001 - the original error is the one to raise
            log.error("could not remove AccessKeys outside KMS; redelivery will", step="cleanup",
                      error=str(err))
            return False
        return True

    def console(self, fresh: bool, secret: SecretInfo | None, rehire: bool) -> None:
        if not fresh:
            # the other kind goes first (mode switch programmatic → console): no AccessKey may outlive
            # its place as the secret's current version
            self.delete_keys(self.access_keys())
        self.stop_ram_secret()
        profile = None if fresh else self.cloud.try_ram("GetLoginProfile", UserName=self.user_name)
        current = self.secret_state(secret, rehire)
        in_place = (profile is not None and current is not None and not self.force_new_credential
                    and is_password_version(current))
        if not in_place:
            if profile is not None:
                # Its password is not the one in KMS (or was handed out before a rehire): replace the
                # profile so that "a profile exists" keeps meaning "its password is the current version".
                self._ignore(lambda e: e.not_found, "DeleteLoginProfile", UserName=self.user_name)
            policy = self.cloud.ram("GetPasswordPolicy").get("PasswordPolicy") or {}
            password = make_password(policy)
            log.register_secret(password)
            version = self.write_secret(secret is not None, password=password)
            log.info("password stored", step="secret")
            try:
                self.ram("CreateLoginProfile", UserName=self.user_name, Password=password,
                         PasswordResetRequired=self.reset_required, MFABindRequired=self.mfa_required)
            except CloudError as err:
                if not err.already_exists:
                    raise
                # Another instance made a profile meanwhile: it must hold the password KMS holds.
                # Replaced (delete, create): the role has no UpdateLoginProfile, which could reset
                # the password of any user, an administrator's included.
                self._ignore(lambda e: e.not_found, "DeleteLoginProfile", UserName=self.user_name)
                self._ignore(lambda e: e.already_exists, "CreateLoginProfile", UserName=self.user_name,
                             Password=password, PasswordResetRequired=self.reset_required,
                             MFABindRequired=self.mfa_required)
            if self.store.current_version(self.secret_name) != version:
                # A later password was written meanwhile; whose is in the profile cannot be told
                # without reading it, so this round mints again (the last writer to check wins).
                raise Again("a newer password version was written concurrently")

    def stop_ram_secret(self) -> None:
        """A console user has no AccessKey, so no RAMCredentials secret may keep rotating one into
        existence: ours is scheduled for deletion (restorable for a switch back)."""
        info = self.store.describe(self.store.ram_secret_name(self.user_name))
        if info is not None and not info.in_delete_window and info.owned_by(self.employee_id):
            try:
                self.kms("DeleteSecret", SecretName=info.name,
                         RecoveryWindowInDays=str(self.rt.settings.secret_recovery_days))
            except CloudError as err:
                if not (err.in_delete_window or err.not_found):
                    raise

    def run(self) -> Result:
        user = self.get_user()
        marker = self.owned_marker(user) if user is not None else None
        secret = self.store.describe(self.secret_name)
        if secret is not None and not secret.owned_by(self.employee_id):
            raise Conflict("a secret with this name exists and is not hr-ram-provisioner's for this employee")
        rehire = marker is not None and marker.state == ownership.DISABLED
        self.principal = f"{self.user_name}@{self.rt.logon_suffix()}"
        if user is None:
            fresh = self.create_user()
        else:
            fresh = False
            self.reconcile_marker(cast(ownership.Marker, marker), user)   # user is not None: marker is set
        self.reconcile_policies(fresh)
        if self.mode == PROGRAMMATIC:
            self.programmatic(fresh, secret, rehire)
        else:
            self.console(fresh, secret, rehire)
        status = Status.PROVISIONED if self.changed else Status.ALREADY_PROVISIONED
        return self.result(status, **({"rehired": True} if rehire else {}))

    def current_or_none(self) -> str | None:
        """The secret's current version id; None when there is no such secret."""
        return self.versions_or_none().current_id

    def versions_or_none(self) -> Versions:
        """The secret's current and previous versions; none when there is no such secret."""
        try:
            return self.store.versions(self.secret_name)
        except CloudError as err:
            if not err.not_found:
                raise
            return Versions()

    def holds(self) -> bool:
        """Re-read after the writes: exactly the credential kind the head implies, held by KMS."""
        user = self.get_user()
        marker = ownership.owned_by(user, self.employee_id)
        if marker is None or marker.state != ownership.ACTIVE:
            return False
        if self.grants() != {self.grant}:
            return False
        if self.mode == PROGRAMMATIC:
            keys = self.store.keys(self.access_keys())
            profile = self.cloud.try_ram("GetLoginProfile", UserName=self.user_name)
            versions = self.versions_or_none()
            held = held_keys(keys, versions, clock.now(), self.ram_secret)
            # exactly one key in use, KMS's current; besides it only a rotation's previous key
            # (its overlap) or a key in flight (a rotation between its key and its write)
            return (profile is None and held.current is not None and held.current.active and not held.strays
                    and (held.previous is None or held.previous.active))
        keys_listed = self.access_keys()
        profile = self.cloud.try_ram("GetLoginProfile", UserName=self.user_name)
        current = self.current_or_none()
        return profile is not None and not keys_listed and is_password_version(current)


def run(event: dict[str, Any], rt: Runtime) -> Result:
    """One validated "employee.onboarded" event, ordered among the employee's events (``converge``)."""
    from .converge import run_event
    return run_event(event, rt)
