"""Offboarding: leaver events disable (or schedule), a timer sweep disables due users and deletes.

Lifecycle (state in the ownership marker, see ``ownership``):

    active ──leaver, day over──▶ disabled(at) ──grace over (sweep)──▶ deleted, secret scheduled
    active ──leaver, future──▶ active;end=D ──D ended in HR_TIMEZONE (sweep)──▶ disabled(at)

Disable = DeleteLoginProfile, every Active AccessKey set Inactive (kept for a
rehire inside the grace period), the ARMS grants taken away, then the marker
``st=disabled;at=...``. The grants: in both modes the user leaves our groups
(RemoveUserFromGroup: a disabled user is never in one); in group mode a direct ARMS
attachment from an earlier version is detached too (the leaver's event is its next
event: it moves to "no group"); in user mode a direct attachment stays until deletion
(the seed's behaviour: without a credential it grants nothing). A rehire adds the
grant back (onboarding).
The marker is written LAST, so a crash anywhere leaves a user that is still
``active`` and the next event or sweep redoes the (idempotent) steps.

Delete, in the order RAM requires (DeleteUser answers ``DeleteConflict.User.*``
while anything is attached): a RAMCredentials secret is scheduled for deletion
first (KMS rotates those through the RAM user; once the user is gone rotation
breaks), then DetachPolicyFromUser each, RemoveUserFromGroup each (a group that is not
ours too: RAM refuses DeleteUser while the user is in any group, DeleteConflict.User.Group,
and we delete only users we created; logged),
DeleteAccessKey each, DeleteLoginProfile, UnbindMFADevice +
DeleteVirtualMFADevice, DeleteUser, and last a Generic secret is scheduled for
deletion (``SECRET_RECOVERY_DAYS``; it stays restorable for a rehire). Every
step tolerates "not found", so a crash at any step is finished by the next
sweep. A crash between DeleteUser and DeleteSecret leaves a secret whose user
is gone: the sweep's second phase finds such orphans (our tags, no RAM user,
confirmed with GetUser) and schedules them.

The timer's sweep is ``workflows.sweep``; what is due when is ``domain.lifecycle``.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..cloud import directory
from ..cloud.ledger import ledger_name
from ..cloud.secret_store import RAM_CREDENTIALS
from ..domain import ownership
from ..domain.access import GROUP, USER, plan_revoke
from ..domain.lifecycle import utc_seconds
from ..domain.ordering import Entry
from ..domain.ownership import Marker
from ..domain.results import Result
from ..platform import log
from . import steps
from .steps import Step

if TYPE_CHECKING:
    from ..platform.runtime import Runtime


def plan_disable(rt: Runtime, user_name: str, marker: Marker, when: datetime) -> list[Step]:
    """Reads only. The steps that take a user's access away and record when."""
    plan = []
    if directory.has_login_profile(rt.cloud, user_name):
        plan.append(steps.ram("DeleteLoginProfile", UserName=user_name))
    for key in directory.access_keys(rt.cloud, user_name):
        if key.get("Status") != "Inactive":
            plan.append(steps.ram("UpdateAccessKey", UserName=user_name,
                                  UserAccessKeyId=key["AccessKeyId"], Status="Inactive"))
    # A RAMCredentials secret would otherwise keep rotating: KMS mints a new, Active key for the
    # leaver during the grace period. A rehire recreates the secret with rotation on.
    ram_secret = rt.secrets.describe(rt.secrets.ram_secret_name(user_name))
    if (ram_secret is not None and not ram_secret.in_delete_window and ram_secret.rotation_enabled
            and ram_secret.owned_by(marker.employee_id)):
        plan.append(steps.kms("UpdateSecretRotationPolicy", SecretName=ram_secret.name,
                              EnableAutomaticRotation="false"))
    held = directory.grants(rt.cloud, user_name, rt.settings.groups)
    if rt.settings.grant_mode == USER:
        held = {g for g in held if g.kind == GROUP}      # user mode: a direct attachment stays
    plan.extend(steps.grant_step(op, grant, user_name, rt.settings.groups) for op, grant in plan_revoke(held))
    # Last, so a crash before it leaves the user "active" and everything above is redone. A user
    # already disabled keeps its time (the grace period runs from the first disable).
    if marker.state != ownership.DISABLED:
        plan.append(steps.ram("UpdateUser", UserName=user_name,
                              NewComments=marker.disabled(utc_seconds(when)).render()))
    return plan


def plan_delete(rt: Runtime, user_name: str, marker: Marker, head: Entry | None) -> list[Step]:
    """Reads only. Every step to delete a disabled user and schedule its secret, in RAM's order.
    ``head``: the employee's ledger head as the caller has just read it."""
    recovery = str(rt.settings.secret_recovery_days)
    plan: list[Step] = []
    # First: the ledger goes into its recovery window, where it still answers (the tombstone a stale
    # event meets) and a rehire restores it. First, so that a deletion that crashed half-way is a
    # user whose ledger is already scheduled, and nothing can be left behind once the user is gone.
    # Not when its head is another user's (the employee was hired again under a new logon name): the
    # ledger is that user's history now, and goes with that user.
    ledger = rt.secrets.describe(ledger_name(rt.settings.secret_prefix, marker.employee_id))
    if ledger is not None and not ledger.in_delete_window and (head is None or head.for_user(user_name)):
        plan.append(steps.kms("DeleteSecret", SecretName=ledger.name, RecoveryWindowInDays=recovery))
    secrets_after = []
    for secret in directory.owned_secrets(rt.secrets, user_name, marker.employee_id):
        if secret.in_delete_window:
            continue
        delete_secret = steps.kms("DeleteSecret", SecretName=secret.name, RecoveryWindowInDays=recovery)
        if secret.secret_type == RAM_CREDENTIALS:
            plan.append(delete_secret)          # before the user: KMS rotation needs the user
        else:
            secrets_after.append(delete_secret)  # after: restorable for a rehire until the very end
    for policy in directory.policies(rt.cloud, user_name):
        plan.append(steps.ram("DetachPolicyFromUser", PolicyType=policy["PolicyType"],
                              PolicyName=policy["PolicyName"], UserName=user_name))
    ours = set(rt.settings.groups.values())
    for group in directory.groups_of(rt.cloud, user_name):
        if group["GroupName"] not in ours:
            log.info("a group that is not ours: the user leaves it first (RAM refuses DeleteUser before)",
                     step="delete", foreignGroup=group["GroupName"])
        plan.append(steps.ram("RemoveUserFromGroup", UserName=user_name, GroupName=group["GroupName"]))
    for key in directory.access_keys(rt.cloud, user_name):
        plan.append(steps.ram("DeleteAccessKey", UserName=user_name, UserAccessKeyId=key["AccessKeyId"]))
    if directory.has_login_profile(rt.cloud, user_name):
        plan.append(steps.ram("DeleteLoginProfile", UserName=user_name))
    mfa = rt.cloud.try_ram("GetUserMFAInfo", UserName=user_name)
    serial = ((mfa or {}).get("MFADevice") or {}).get("SerialNumber")
    if serial:
        plan.append(steps.ram("UnbindMFADevice", UserName=user_name))
        plan.append(steps.ram("DeleteVirtualMFADevice", SerialNumber=serial))
    plan.append(steps.ram("DeleteUser", UserName=user_name))
    plan.extend(secrets_after)
    return plan


def run(event: dict[str, Any], rt: Runtime) -> Result:
    """One validated "employee.offboarded" event, ordered among the employee's events (``converge``):
    disable now, or schedule the leave."""
    from .converge import run_event
    return run_event(event, rt)
