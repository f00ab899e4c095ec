"""Helpers for the offboarding suites: set up managed users through the official SDK,
build leaver / timer events, move the workflow's clock."""
import itertools
import json
import uuid
from datetime import datetime, timezone

from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_ram20150501 import models as ram_models
from provisioner.domain import ownership

MANAGED_BY = "hr-ram-provisioner"


def utc(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def set_clock(mocker, when):
    """Stand the functions' clock (provisioner.platform.clock, the one seam for time) at ``when``.
    ``mocker`` is unused: kept so call sites read the same."""
    from tests.conftest import set_clock as stand_clock_at
    when = utc(when) if isinstance(when, str) else when
    stand_clock_at(when)
    return when


def marker(employee_id, state="active", end=None, at=None):
    m = ownership.Marker(employee_id=employee_id)
    if state == "disabled":
        return m.disabled(utc(at)).render()
    if end:
        from datetime import date
        return m.scheduled(date.fromisoformat(end)).render()
    return m.render()


def leaver(logon, employee_id, last_day=None, event_id=None):
    from tests.conftest import hr_time
    event = {"eventId": event_id or str(uuid.uuid4()), "eventType": "employee.offboarded",
             "occurredAt": hr_time(repr((logon, employee_id, last_day, event_id)) if event_id else None),
             "employee": {"employeeId": employee_id, "logonName": logon}}
    if last_day:
        event["lastWorkingDay"] = last_day
    return event


_TICKS = itertools.count()


def timer(payload=None, tick=None):
    """A timer event; each call is its own scheduled tick unless ``tick`` names one (the brake
    holds per tick: a second run of the same tick deletes nothing)."""
    tick = tick or f"2026-11-28T02:00:00.{next(_TICKS):06d}Z"
    return {"triggerTime": tick, "triggerName": "offboarding-sweep",
            "payload": json.dumps(payload) if payload is not None else ""}


def make_user(ram, kms, name, employee_id, *, comments=None, keys=1, login=True, mfa=False,
              groups=("hr-arms-read-only",), policies=(), custom_policies=(), secret="Generic", inactive_keys=False):
    """A RAM user with whatever hangs off it, plus (optionally) its KMS secret tagged ours."""
    ram.create_user(ram_models.CreateUserRequest(user_name=name, display_name=name[:24],
                                                 comments=comments if comments is not None else marker(employee_id)))
    created = []
    for _ in range(keys):
        body = ram.create_access_key(ram_models.CreateAccessKeyRequest(user_name=name)).body.to_map()
        created.append(body["AccessKey"])
        if inactive_keys:
            ram.update_access_key(ram_models.UpdateAccessKeyRequest(
                user_name=name, user_access_key_id=body["AccessKey"]["AccessKeyId"], status="Inactive"))
    if login:
        ram.create_login_profile(ram_models.CreateLoginProfileRequest(
            user_name=name, password="Str0ng!Passw0rd-" + uuid.uuid4().hex[:8], password_reset_required=True))
    if mfa:
        serial = ram.create_virtual_mfadevice(ram_models.CreateVirtualMFADeviceRequest(
            virtual_mfadevice_name=f"mfa-{name}")).body.virtual_mfadevice.serial_number
        ram.bind_mfadevice(ram_models.BindMFADeviceRequest(
            serial_number=serial, user_name=name, authentication_code_1="123456", authentication_code_2="654321"))
    for group in groups:
        try:
            ram.create_group(ram_models.CreateGroupRequest(group_name=group))
        except Exception as exc:  # noqa: BLE001 - the group may exist already
            if "EntityAlreadyExists" not in str(getattr(exc, "code", "")):
                raise
        ram.add_user_to_group(ram_models.AddUserToGroupRequest(user_name=name, group_name=group))
    for policy in policies:
        ram.attach_policy_to_user(ram_models.AttachPolicyToUserRequest(
            policy_type="System", policy_name=policy, user_name=name))
    for policy in custom_policies:
        ram.attach_policy_to_user(ram_models.AttachPolicyToUserRequest(
            policy_type="Custom", policy_name=policy, user_name=name))
    tags = json.dumps([{"TagKey": "managed-by", "TagValue": MANAGED_BY},
                       {"TagKey": "employee-id", "TagValue": employee_id},
                       {"TagKey": "ram-user", "TagValue": name}])
    if secret == "Generic":
        data = {"UserName": name, "LogonPrincipal": f"{name}@corp.onaliyun.com"}
        if created:
            data.update(AccessKeyId=created[0]["AccessKeyId"], AccessKeySecret=created[0]["AccessKeySecret"])
        kms.create_secret(kms_models.CreateSecretRequest(
            secret_name=f"ram-user/{name}", version_id=(created[0]["AccessKeyId"] if created else "v1"),
            secret_data=json.dumps(data), secret_data_type="text", tags=tags))
    elif secret == "RAMCredentials":
        kms.create_secret(kms_models.CreateSecretRequest(
            secret_name=f"acs/ram/user/{name}", version_id=created[0]["AccessKeyId"], secret_type="RAMCredentials",
            secret_data=json.dumps({"AccessKeys": [{"AccessKeyId": k["AccessKeyId"],
                                                    "AccessKeySecret": k["AccessKeySecret"]} for k in created]}),
            secret_data_type="text", tags=tags,
            extended_config={"SecretSubType": "RamUserAccessKey", "UserName": name},
            enable_automatic_rotation=True, rotation_interval="30d"))
    return [k["AccessKeyId"] for k in created]


def comments(cloud, name):
    state = cloud.ram.user_state(name)
    return state["user"]["Comments"] if state else None


def secret_state(cloud, name):
    """KMS backend view of a secret (None when absent); ``deleting`` is what these suites look at."""
    return cloud.kms.secret_state(name)
