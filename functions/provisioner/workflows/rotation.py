"""AccessKey rotation (CIS 1.6) of Generic secrets: the rotation function's timer work.

Every managed, active, programmatic user whose credential is a Generic secret of ours is brought one
step further, in the manner of the AWS Secrets Manager rotation template (createSecret / setSecret /
testSecret / finishSecret), adapted to what RAM and KMS offer:

1. create: ``CreateAccessKey`` (the user had exactly one key; RAM allows two);
2. test: re-read the user, KMS's current version and the keys: still ours, still active, KMS still holds
   the key being rotated from and it is Active, the new key exists. Otherwise (a leaver disabled the
   user, an onboarding re-minted meanwhile) the new key is deleted and nothing is written;
3. set: ``PutSecretValue`` with the new key as the secret's new current version (version id = its
   AccessKeyId); KMS makes the old version ACSPrevious. KMS's versions are read again: when ACSPrevious
   is not the key rotated from, another writer (a mover to console, a rehire's re-mint) wrote between the
   test step and this write, so ACSCurrent goes back to its version (UpdateSecretVersionStage, only from
   ours) and the new key is deleted. Then the user is read once more: a leaver that
   disabled it while we wrote gets the state a leaver leaves (the new key Inactive, the previous deleted:
   one key, KMS's current, none Active);
4. finish, on a later run once ``KEY_ROTATION_OVERLAP_HOURS`` have passed since the write (readers that
   cached the old key had that long to read the new one): the old key is set Inactive, then deleted.

No state is kept anywhere but in RAM and KMS: each run derives the next step from them
(``domain.credentials.rotation_plan``), so a crash between any two calls is finished by the next run.
The invariants at every instant: at most two keys (RAM's limit; a stray key outside KMS is deleted
before one is created), and KMS's current version always names an Active key (the new key is written
only once it exists and the old one is disabled only after the overlap).

A key not in KMS that is younger than ``IN_FLIGHT_SECONDS`` and newer than KMS's current version may be
another instance's between its create and its write (an overlapping run, an onboarding): that user is
left ``in-progress`` this run. Older ones are orphans of a crash and are deleted.

Never rotated: users not carrying our marker, disabled users (leavers: their keys are Inactive and go
with the user), console users, secrets not tagged ours for the user's employee, secrets in their
deletion window, and RAMCredentials secrets (KMS rotates those itself: ``RotationInterval`` set by
onboarding from ``KEY_MAX_AGE_DAYS``). Rotation never sets a key Active (UpdateAccessKey is only ever
called with Inactive), so it cannot race a leaver into re-enabling one.

Dry-run (payload ``{"dryRun": true}``): reads only; each user's next step is reported.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..cloud import directory
from ..cloud.errors import CloudError, TransientError
from ..cloud.secret_store import GENERIC
from ..domain import ownership
from ..domain.credentials import (
    FINISH,
    IN_PROGRESS,
    NO_KEY,
    ROTATE,
    WAIT,
    Held,
    Versions,
    held_keys,
    is_password_version,
    rotation_plan,
)
from ..domain.lifecycle import iso
from ..domain.results import Result, Status, error_fields
from ..platform import clock, log
from . import steps

if TYPE_CHECKING:
    from ..platform.runtime import Runtime

MAX_LISTED = 20
ROTATED, FINISHED, SKIPPED, FAILED, PLANNED = "rotated", "finished", "skipped", "failed", "planned"


class _Changed(Exception):
    """The user changed between reading and writing: the rotation of this user stops here."""


class _Rotation:
    def __init__(self, rt: Runtime, dry_run: bool) -> None:
        self.rt, self.dry_run = rt, dry_run
        self.when: datetime = clock.now()
        self.rows: list[dict[str, Any]] = []
        self.counts = {ROTATED: 0, FINISHED: 0, "inProgress": 0, "overlap": 0, "notDue": 0, SKIPPED: 0,
                       FAILED: 0, "strays": 0}
        self.transient: list[str] = []

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        log.info("rotation user", dryRun=self.dry_run, **row)

    def user(self, managed: directory.ManagedUser) -> None:
        name, marker = managed.user_name, managed.marker
        if marker.state != ownership.ACTIVE:
            return                                  # leavers are never rotated
        with log.keys(userName=name, employeeId=marker.employee_id), log.credential_scope():
            try:
                self._user(name, marker)
            except CloudError as err:
                self.counts[FAILED] += 1
                self.add({"userName": name, "employeeId": marker.employee_id, "action": FAILED,
                          **steps.failure_fields(err), "error": error_fields(err)})
            except TransientError as err:
                self.counts[FAILED] += 1
                self.transient.append(name)
                self.add({"userName": name, "employeeId": marker.employee_id, "action": FAILED,
                          **steps.failure_fields(err), "error": {"code": "Transient", "detail": str(err)}})

    def _user(self, name: str, marker: ownership.Marker) -> None:
        store = self.rt.secrets
        secret_name = store.name_for(name)
        info = store.describe(secret_name)
        if info is None or info.in_delete_window or not info.owned_by(marker.employee_id) \
                or info.secret_type != GENERIC:
            return                                  # nothing of ours to rotate (RAMCredentials: KMS rotates)
        versions = store.versions(secret_name)
        if versions.current is None or is_password_version(versions.current_id):
            return                                  # a console user
        keys = directory.access_keys(self.rt.cloud, name)
        held = held_keys(store.keys(keys), versions, self.when)
        s = self.rt.settings
        plan = rotation_plan(held, versions, self.when, s.key_max_age_days, s.key_rotation_overlap_hours)
        row: dict[str, Any] = {"userName": name, "employeeId": marker.employee_id, "secretName": secret_name}
        if plan.action == NO_KEY:
            self.counts[SKIPPED] += 1
            self.add({**row, "action": SKIPPED, "reason": "no Active AccessKey is KMS's current version: "
                      "the next event for this user repairs it (onboarding)"})
            return
        if plan.action == IN_PROGRESS:
            self.counts["inProgress"] += 1
            self.add({**row, "action": "in-progress", "reason": "a key not yet in KMS was made moments ago by "
                      "another run: left to it", "accessKeyIds": [k.access_key_id for k in held.in_flight]})
            return
        strays = [steps.ram("DeleteAccessKey", UserName=name, UserAccessKeyId=k.access_key_id) for k in held.strays]
        if plan.action in (ROTATE, FINISH):
            planned = strays + self._planned(name, plan.action, held)
            if self.dry_run:
                self.add({**row, "action": PLANNED, "next": plan.action, "steps": steps.describe(planned)})
                return
            self._execute(strays)
            self.counts["strays"] += len(strays)
            if plan.action == ROTATE:
                self._rotate(name, marker, versions, held, row)
            else:
                self._finish(name, held, row, strays)
            return
        if strays:                                  # keys outside KMS, old enough to be nobody's
            if not self.dry_run:
                self._execute(strays)
            self.counts["strays"] += len(strays)
            self.add({**row, "action": PLANNED if self.dry_run else "cleaned", "steps": steps.describe(strays)})
        self.counts["overlap" if plan.action == WAIT else "notDue"] += 1

    def _planned(self, name: str, action: str, held: Held) -> list[steps.Step]:
        if action == ROTATE:
            return [steps.ram("CreateAccessKey", UserName=name),
                    steps.kms("PutSecretValue", SecretName=self.rt.secrets.name_for(name))]
        previous = held.previous
        assert previous is not None  # noqa: S101 - finish: there is a previous key
        planned = []
        if previous.active:
            planned.append(steps.ram("UpdateAccessKey", UserName=name, UserAccessKeyId=previous.access_key_id,
                                     Status="Inactive"))
        planned.append(steps.ram("DeleteAccessKey", UserName=name, UserAccessKeyId=previous.access_key_id))
        return planned

    def _execute(self, planned: list[steps.Step]) -> None:
        steps.execute(self.rt, planned)

    def _rotate(self, name: str, marker: ownership.Marker, versions: Versions, held: Held,
                row: dict[str, Any]) -> None:
        cloud, store = self.rt.cloud, self.rt.secrets
        old = held.current
        assert old is not None  # noqa: S101 - rotate: KMS holds an Active key
        principal = f"{name}@{self.rt.logon_suffix()}"
        key = cloud.ram("CreateAccessKey", UserName=name)["AccessKey"]
        log.register_secret(key.get("AccessKeySecret"))
        new_id = key["AccessKeyId"]
        try:
            self._still_rotating(name, marker, old.access_key_id, new_id)
        except _Changed as why:
            cloud.try_ram("DeleteAccessKey", UserName=name, UserAccessKeyId=new_id)
            self.counts[SKIPPED] += 1
            self.add({**row, "action": SKIPPED, "reason": str(why)})
            return
        except Exception:
            # the test step could not be made: nothing was written, so no key may stay outside KMS
            cloud.try_ram("DeleteAccessKey", UserName=name, UserAccessKeyId=new_id)
            raise
        try:
            store.put_access_key(store.name_for(name), user_name=name, logon_principal=principal,
                                 access_key={"AccessKeyId": new_id, "AccessKeySecret": key["AccessKeySecret"]})
        except Exception:
            # no key may stay outside KMS: unless the write landed after all (a lost answer), it goes
            if store.current_version(store.name_for(name)) != new_id:
                cloud.try_ram("DeleteAccessKey", UserName=name, UserAccessKeyId=new_id)
            raise
        after = store.versions(store.name_for(name))
        if after.current_id == new_id and (after.previous is None or after.previous.version_id != old.access_key_id):
            # another writer (a mover to console, a rehire's re-mint) wrote between the test step and this
            # write: its credential, not ours, is the user's; it goes back to current and our key goes
            if after.previous is not None:
                store.give_current_back(store.name_for(name), taken_by=new_id, to=after.previous.version_id)
            cloud.try_ram("DeleteAccessKey", UserName=name, UserAccessKeyId=new_id)
            self.counts[SKIPPED] += 1
            self.add({**row, "action": SKIPPED, "reason": "another credential was written while the rotation "
                      "wrote its key: that one stays KMS's current version, the new key is deleted"})
            return
        log.info("access key rotated", step="rotation", accessKeyId=new_id, previousAccessKeyId=old.access_key_id)
        user = ownership.owned_by(directory.get_user(cloud, name), marker.employee_id)
        if user is None or user.state != ownership.ACTIVE:
            # a leaver disabled the user while the new key was written: what a leaver leaves, one key (KMS's
            # current), none Active; rotation never re-enables anything
            steps.execute(self.rt, [steps.ram("UpdateAccessKey", UserName=name, UserAccessKeyId=new_id,
                                              Status="Inactive"),
                                    steps.ram("DeleteAccessKey", UserName=name, UserAccessKeyId=old.access_key_id)])
            self.counts[SKIPPED] += 1
            self.add({**row, "action": SKIPPED, "reason": "the user was disabled during the rotation: the new key "
                      "is Inactive, the previous one deleted", "accessKeyId": new_id})
            return
        self.counts[ROTATED] += 1
        overlap_ends = self.when + timedelta(hours=self.rt.settings.key_rotation_overlap_hours)
        self.add({**row, "action": ROTATED, "accessKeyId": new_id, "previousAccessKeyId": old.access_key_id,
                  "previousDisabledAfter": iso(overlap_ends)})

    def _still_rotating(self, name: str, marker: ownership.Marker, old_id: str, new_id: str) -> None:
        """The test step: after the key exists, before KMS names it. A leaver writes its marker before it
        re-reads the keys, this reads the marker after it made the key: one of the two sees the other."""
        cloud, store = self.rt.cloud, self.rt.secrets
        user = ownership.owned_by(directory.get_user(cloud, name), marker.employee_id)
        if user is None or user.state != ownership.ACTIVE:
            raise _Changed("the user was disabled (or is no longer ours) during the rotation: the new key is "
                           "deleted, nothing was written")
        if store.current_version(store.name_for(name)) != old_id:
            raise _Changed("KMS's current version changed during the rotation (an onboarding wrote a new "
                           "credential): the new key is deleted, nothing was written")
        keys = {k.get("AccessKeyId"): k.get("Status") for k in directory.access_keys(cloud, name)}
        if keys.get(old_id) != "Active" or new_id not in keys:
            raise _Changed("the user's keys changed during the rotation: the new key is deleted, nothing was "
                           "written")

    def _finish(self, name: str, held: Held, row: dict[str, Any], strays: list[steps.Step]) -> None:
        planned = self._planned(name, FINISH, held)
        self._execute(planned)
        self.counts[FINISHED] += 1
        assert held.previous is not None  # noqa: S101 - finish: there is a previous key
        self.add({**row, "action": FINISHED, "deletedAccessKeyId": held.previous.access_key_id,
                  "steps": steps.describe(strays + planned)})


def run(payload: dict[str, Any], rt: Runtime, tick: str = "", invocation: str = "") -> Result:
    """The timer's work, for a payload already validated: one step of each managed user's rotation."""
    dry_run = bool(payload.get("dryRun"))
    work = _Rotation(rt, dry_run)
    s = rt.settings
    with log.keys(rotationAt=iso(work.when), dryRun=dry_run):
        listing = directory.list_users(rt.cloud)
        for managed in listing.managed:
            work.user(managed)
        report: Result = {"status": Status.ROTATED.value, "dryRun": dry_run, "rotatedAt": iso(work.when),
                          "keyMaxAgeDays": s.key_max_age_days, "overlapHours": s.key_rotation_overlap_hours,
                          "scanned": len(listing.names), "managed": len(listing.managed), "counts": work.counts,
                          "users": work.rows}
        log.info("rotation report", **{k: v for k, v in report.items() if k not in ("status", "users")},
                 status=Status.ROTATED.value, rows=len(work.rows))
        if work.counts[SKIPPED]:
            names = [r["userName"] for r in work.rows if r.get("action") == SKIPPED][:MAX_LISTED]
            log.alert(logging.WARNING, "rotation: users skipped", log.ROTATION_SKIPPED_ALERT,
                      skipped=work.counts[SKIPPED], users=names)
        if work.transient:
            raise TransientError(f"rotation: {len(work.transient)} user(s) hit transient errors after retries; "
                                 "a re-run is safe")
        return report
