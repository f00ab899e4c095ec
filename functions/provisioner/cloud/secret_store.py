"""The user's credential in KMS Secrets Manager: the only place it is ever kept.

The function writes secrets but never reads their values (its role has no
GetSecretValue). Which AccessKey a secret holds is known from the version
id: every version written for a programmatic user is named after the
AccessKeyId it contains (an identifier, not a secret), so "which key is in
KMS" is answered by ListSecretVersionIds atomically with the write.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..domain import ownership
from ..domain.credentials import Key, Version, Versions, password_version_id
from .clients import api_time, listed
from .errors import STAGE_MOVED_CODES, CloudError

if TYPE_CHECKING:
    from ..platform.settings import Settings
    from .clients import Cloud

GENERIC, RAM_CREDENTIALS = "Generic", "RAMCredentials"
# KMS names a RAMCredentials secret made as "$Auto" acs/ram/user/<UserName>; offboarding looks there too.
RAM_SECRET_PREFIX = "acs/ram/user/"  # noqa: S105 - a secret name prefix, not a secret


@dataclass
class SecretInfo:
    name: str
    tags: list
    planned_delete_time: str = ""
    secret_type: str = GENERIC
    rotation_enabled: bool = False      # KMS rotates it (RAMCredentials with AutomaticRotation)

    @property
    def in_delete_window(self) -> bool:
        return bool(self.planned_delete_time)

    def owned_by(self, employee_id: str) -> bool:
        return ownership.secret_owned_by(self.tags, employee_id)


class SecretStore:
    def __init__(self, cloud: Cloud, settings: Settings) -> None:
        self.cloud = cloud
        self.settings = settings

    def name_for(self, logon_name: str) -> str:
        return self.settings.secret_name(logon_name)

    def ram_secret_name(self, logon_name: str) -> str:
        """Where KMS keeps a RAMCredentials secret of ``logon_name`` (SECRET_TYPE=RAMCredentials, AccessKeys)."""
        return RAM_SECRET_PREFIX + logon_name

    def describe(self, name: str) -> SecretInfo | None:
        """Metadata (tags, deletion schedule), never the value; None if there is no such secret."""
        body = self.cloud.try_kms("DescribeSecret", SecretName=name, FetchTags="true")
        if body is None:
            return None
        return SecretInfo(name=name, tags=listed(body, "Tags", "Tag"),
                          planned_delete_time=body.get("PlannedDeleteTime") or "",
                          secret_type=body.get("SecretType") or GENERIC,
                          rotation_enabled=body.get("AutomaticRotation") == "Enabled")

    def current_version(self, name: str) -> str | None:
        return self.versions(name).current_id

    def versions(self, name: str) -> Versions:
        """The ACSCurrent and ACSPrevious versions (ids and creation times; one ListSecretVersionIds)."""
        body = self.cloud.kms("ListSecretVersionIds", SecretName=name, IncludeDeprecated="false",
                              PageSize=100)
        staged: dict[str, Version] = {}
        for version in listed(body, "VersionIds", "VersionId"):
            for stage in listed(version, "VersionStages", "VersionStage"):
                staged[str(stage)] = Version(str(version.get("VersionId")), api_time(version.get("CreateTime")))
        return Versions(staged.get("ACSCurrent"), staged.get("ACSPrevious"))

    @staticmethod
    def keys(listed_keys: list[dict[str, Any]]) -> list[Key]:
        """ListAccessKeys' items as ``Key``s (ids, status, creation time)."""
        return [Key(str(k.get("AccessKeyId")), str(k.get("Status")), api_time(k.get("CreateDate")))
                for k in listed_keys]

    def _payload(self, user_name: str, logon_principal: str | None, access_key: dict[str, Any] | None = None,
                 password: str | None = None, generic: bool = False) -> dict[str, Any]:
        if access_key and self.settings.secret_type == RAM_CREDENTIALS and not generic:
            return {"AccessKeys": [{"AccessKeyId": access_key["AccessKeyId"],
                                    "AccessKeySecret": access_key["AccessKeySecret"]}]}
        data: dict[str, Any] = {"UserName": user_name, "LogonPrincipal": logon_principal}
        if access_key:
            data.update(AccessKeyId=access_key["AccessKeyId"], AccessKeySecret=access_key["AccessKeySecret"])
        if password:
            data["Password"] = password
        return data

    def put_version(self, name: str, version: str, data: str) -> None:
        """A new current version of an existing Generic secret (the old one becomes ACSPrevious).
        KMS answers a repeat of the same version and value as success, another value as
        Rejected.ResourceExist."""
        self.cloud.kms("PutSecretValue", SecretName=name, VersionId=version, SecretData=data, SecretDataType="text")

    def put_access_key(self, name: str, *, user_name: str, logon_principal: str | None,
                       access_key: dict[str, Any]) -> str:
        """The rotation's write: ``access_key`` as the Generic secret's new current version, named after
        its AccessKeyId; a repeat after a lost answer is a success. Only PutSecretValue."""
        version = access_key["AccessKeyId"]
        data = json.dumps(self._payload(user_name, logon_principal, access_key, generic=True))
        try:
            self.put_version(name, version, data)
        except CloudError as err:
            if not err.already_exists:
                raise
        return version

    def give_current_back(self, name: str, *, taken_by: str, to: str) -> bool:
        """ACSCurrent moved from ``taken_by`` back to ``to`` (``taken_by`` becomes ACSPrevious), only while
        ``taken_by`` still holds it; False when another writer moved it meanwhile (theirs stays current)."""
        try:
            self.cloud.kms("UpdateSecretVersionStage", SecretName=name, VersionStage="ACSCurrent",
                           RemoveFromVersion=taken_by, MoveToVersion=to)
        except CloudError as err:
            if err.code not in STAGE_MOVED_CODES:
                raise
            return False
        return True

    def write(self, name: str, *, employee_id: str, user_name: str, logon_principal: str | None,
              access_key: dict[str, Any] | None = None, password: str | None = None,
              exists: bool = False) -> str:
        """Create the secret, or add a new current version. Safe to repeat after a lost answer."""
        data = json.dumps(self._payload(user_name, logon_principal, access_key, password))
        version = access_key["AccessKeyId"] if access_key else password_version_id(uuid.uuid4().hex)
        ram_secret = bool(access_key) and self.settings.secret_type == RAM_CREDENTIALS
        try:
            if exists and ram_secret:
                # RAM secrets take no PutSecretValue: the one holding a dead key is replaced.
                if self.current_version(name) == version:
                    return version
                self.cloud.try_kms("DeleteSecret", SecretName=name, ForceDeleteWithoutRecovery="true")
                exists = False
            if exists:
                self.put_version(name, version, data)
            else:
                self.cloud.kms(
                    "CreateSecret", SecretName="$Auto" if ram_secret else name, VersionId=version,
                    SecretData=data, SecretDataType="text",
                    SecretType=RAM_CREDENTIALS if ram_secret else GENERIC,
                    ExtendedConfig=({"SecretSubType": "RamUserAccessKey", "UserName": user_name}
                                    if ram_secret else None),
                    EnableAutomaticRotation="true" if ram_secret else None,
                    RotationInterval=f"{self.settings.key_max_age_days}d" if ram_secret else None,
                    EncryptionKeyId=self.settings.kms_encryption_key_id or None,
                    DKMSInstanceId=self.settings.kms_instance_id or None,
                    Description=f"Credential of RAM user {user_name} (hr-ram-provisioner)",
                    Tags=json.dumps(ownership.secret_tags(employee_id, user_name)))
        except CloudError as err:
            if not err.already_exists:
                raise
            if not exists:
                # Created by an earlier attempt whose answer was lost: store as a new version.
                return self.write(name, employee_id=employee_id, user_name=user_name,
                                  logon_principal=logon_principal, access_key=access_key,
                                  password=password, exists=True)
        return version
