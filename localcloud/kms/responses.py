"""KMS wire protocol: parameters in, JSON shaped like the real API out.

Shapes follow ``apis.<Action>.responses["200"].schema`` of the KMS 2016-01-20
metadata (checked by tests/localcloud/test_fidelity.py). JSON-valued
parameters (``Tags``, ``ExtendedConfig``, ``Filters``, ``TagKeys``,
``VersionStages``) arrive as JSON strings, as the official SDK sends them.
"""
import json

from ..core import Service
from . import exceptions as err
from .models import GENERIC, KmsBackend, iso

MAX_FILTERS = 10
MAX_FILTER_VALUES = 10
FILTER_KEYS = ("SecretName", "Description", "TagKey", "TagValue", "DKMSInstanceId", "SecretType")


# -- parameter helpers (every failure is InvalidParameter, the code the metadata lists) -------------
def _required(p, name):
    value = p.get(name)
    if value is None:
        raise err.missing(name)
    return value


def _invalid(name, message):
    return err.invalid_parameter(message)


def _bool(p, name, default=False):
    return p.get_bool(name, default, invalid=_invalid)


def _int(p, name, default, low, high=None):
    return p.get_int(name, default, low, high, invalid=_invalid)


def _json(p, name, default=None):
    value = p.get(name)
    if value is None:
        return default
    try:
        return json.loads(value)
    except ValueError:
        raise err.invalid_parameter(f"{name} must be valid JSON.") from None


def _tags(p, name="Tags", required=False):
    value = _json(p, name)
    if value is None:
        if required:
            raise err.missing(name)
        return []
    if not isinstance(value, list) or not all(isinstance(t, dict) and set(t) <= {"TagKey", "TagValue"}
                                              and "TagKey" in t for t in value):
        raise err.invalid_parameter(f'{name} must be a JSON array of {{"TagKey":"...","TagValue":"..."}}.')
    if required and not value:
        raise err.invalid_parameter(f"{name} must name at least one tag.")
    return [(t["TagKey"], t.get("TagValue", "")) for t in value]


def _tag_list(secret):
    return {"Tag": [{"TagKey": k, "TagValue": v} for k, v in secret.tags.items()]}


def _rotation_fields(secret):
    if secret.secret_type == GENERIC:
        return {}
    body = {"AutomaticRotation": "Enabled" if secret.rotation_interval else "Disabled"}
    if secret.rotation_interval:
        body["RotationInterval"] = f"{secret.rotation_interval}s"
        body["NextRotationDate"] = iso(secret.next_rotation)
    if secret.last_rotation is not None:
        body["LastRotationDate"] = iso(secret.last_rotation)
    return body


def _secret_name_param(p):
    """TagResource/UntagResource: exactly one of KeyId, SecretName, CertificateId; only secrets exist here."""
    given = [n for n in ("KeyId", "SecretName", "CertificateId") if p.get(n) is not None]
    if len(given) != 1:
        raise err.invalid_parameter("Specify exactly one of KeyId, SecretName and CertificateId.")
    if given[0] != "SecretName":
        raise err.invalid_parameter(f"localcloud emulates secrets only; {given[0]} does not exist.")
    return p.get("SecretName")


# -- actions ---------------------------------------------------------------------------------
def create_secret(backend, p):
    secret_type = p.get("SecretType", GENERIC)
    config = None
    if secret_type != GENERIC and p.get("ExtendedConfig") is not None:
        if len(p.get("ExtendedConfig")) > 1024:
            raise err.invalid_parameter("ExtendedConfig exceeds 1024 characters.")
        config = _json(p, "ExtendedConfig")
        if not isinstance(config, dict):
            raise err.invalid_parameter("ExtendedConfig must be a JSON object.")
    secret = backend.create_secret(
        name=_required(p, "SecretName"), version_id=_required(p, "VersionId"), data=_required(p, "SecretData"),
        secret_type=secret_type, data_type=p.get("SecretDataType", "text"),
        description=p.get("Description", ""), tags=_tags(p), extended_config=config,
        encryption_key_id=p.get("EncryptionKeyId", ""), dkms_instance_id=p.get("DKMSInstanceId", ""),
        enable_rotation=_bool(p, "EnableAutomaticRotation"), rotation_interval=p.get("RotationInterval"))
    body = {"Arn": secret.arn, "SecretName": secret.name, "VersionId": next(iter(secret.versions)),
            "SecretType": secret.secret_type}
    if secret.dkms_instance_id:
        body["DKMSInstanceId"] = secret.dkms_instance_id
    if secret.secret_type != GENERIC:
        body["ExtendedConfig"] = json.dumps(secret.extended_config)
        body.update(_rotation_fields(secret))
    return body


def _ram_secret_value(data, created):
    """RAM secrets return one AccessKey (the newest listed) in the shape the reference gives."""
    keys = json.loads(data)["AccessKeys"]
    key = keys[-1]
    return json.dumps({"AccessKeyId": key["AccessKeyId"], "AccessKeySecret": key["AccessKeySecret"],
                       "GenerateTimestamp": iso(created)})


def get_secret_value(backend, p):
    # The metadata lists only 403/404 codes for GetSecretValue: no InvalidParameter. A missing name is a
    # secret that is not found, and FetchExtendedConfig is true only when it says "true".
    secret, version = backend.get_secret_value(p.get("SecretName", ""), p.get("VersionId"), p.get("VersionStage"))
    data = version.data if secret.secret_type == GENERIC else _ram_secret_value(version.data, version.created)
    body = {"SecretName": secret.name, "VersionId": version.version_id, "CreateTime": iso(version.created),
            "SecretData": data, "SecretDataType": version.data_type, "SecretType": secret.secret_type,
            "VersionStages": {"VersionStage": list(version.stages)}}
    body.update(_rotation_fields(secret))
    if secret.secret_type != GENERIC and (p.get("FetchExtendedConfig") or "").lower() == "true":
        body["ExtendedConfig"] = json.dumps(secret.extended_config)
    return body


def put_secret_value(backend, p):
    stages = None
    if p.get("VersionStages") is not None:
        raw = p.get("VersionStages")
        stages = _json(p, "VersionStages") if raw.lstrip().startswith("[") else [s.strip() for s in raw.split(",")]
        if not isinstance(stages, list) or not stages or not all(isinstance(s, str) and s for s in stages):
            raise err.invalid_parameter('VersionStages must be a JSON array of stage names, e.g. ["ACSCurrent"].')
    secret, version = backend.put_secret_value(_required(p, "SecretName"), _required(p, "VersionId"),
                                               _required(p, "SecretData"), p.get("SecretDataType", "text"), stages)
    return {"SecretName": secret.name, "VersionId": version.version_id,
            "VersionStages": {"VersionStage": list(version.stages)}}


def describe_secret(backend, p):
    fetch_tags = _bool(p, "FetchTags")
    secret = backend.describe_secret(_required(p, "SecretName"))
    body = {"Arn": secret.arn, "SecretName": secret.name, "SecretType": secret.secret_type,
            "Description": secret.description, "CreateTime": iso(secret.created), "UpdateTime": iso(secret.updated)}
    if secret.encryption_key_id:
        body["EncryptionKeyId"] = secret.encryption_key_id
    if secret.dkms_instance_id:
        body["DKMSInstanceId"] = secret.dkms_instance_id
    if secret.planned_delete is not None:
        body["PlannedDeleteTime"] = iso(secret.planned_delete)
    if secret.secret_type != GENERIC:
        body["ExtendedConfig"] = json.dumps(secret.extended_config)
        body.update(_rotation_fields(secret))
    if fetch_tags:
        body["Tags"] = _tag_list(secret)
    return body


def _custom_data(p):
    """UpdateSecret's ExtendedConfig arrives flattened (``ExtendedConfig.CustomData.k=v``) or as JSON."""
    flat = {k[len("ExtendedConfig.CustomData."):]: v for k, v in p.values.items()
            if k.startswith("ExtendedConfig.CustomData.")}
    if flat:
        return flat
    if p.get("ExtendedConfig.CustomData") is not None:
        return _json(p, "ExtendedConfig.CustomData")
    config = _json(p, "ExtendedConfig")
    if config is None:
        return None
    if not isinstance(config, dict) or "CustomData" not in config:
        raise err.invalid_parameter("ExtendedConfig may only carry CustomData.")
    return config["CustomData"]


def update_secret(backend, p):
    secret = backend.update_secret(_required(p, "SecretName"), p.values.get("Description"), _custom_data(p))
    return {"SecretName": secret.name}


def update_secret_version_stage(backend, p):
    secret = backend.update_secret_version_stage(_required(p, "SecretName"), _required(p, "VersionStage"),
                                                 p.get("RemoveFromVersion"), p.get("MoveToVersion"))
    return {"SecretName": secret.name}


def rotate_secret(backend, p):
    secret = backend.rotate_secret(_required(p, "SecretName"), _required(p, "VersionId"))
    return {"Arn": secret.arn, "SecretName": secret.name, "VersionId": p.get("VersionId")}


def update_secret_rotation_policy(backend, p):
    enable = p.get_bool("EnableAutomaticRotation", None, invalid=_invalid)
    if enable is None:
        raise err.invalid_parameter("EnableAutomaticRotation is required.")
    secret = backend.update_secret_rotation_policy(_required(p, "SecretName"), enable, p.get("RotationInterval"))
    return {"SecretName": secret.name}


def list_secrets(backend, p):
    fetch_tags = _bool(p, "FetchTags")
    page = _int(p, "PageNumber", 1, 1)
    size = _int(p, "PageSize", 10, 1, 100)
    raw = _json(p, "Filters", [])
    if not isinstance(raw, list) or len(raw) > MAX_FILTERS:
        raise err.invalid_parameter('Filters must be a JSON array of at most 10 {"Key":...,"Values":[...]}.')
    filters = []
    for item in raw:
        if not isinstance(item, dict) or item.get("Key") not in FILTER_KEYS:
            raise err.invalid_parameter(f"Filter keys must be one of {', '.join(FILTER_KEYS)}.")
        values = item.get("Values")
        if not isinstance(values, list) or len(values) > MAX_FILTER_VALUES or not all(
                isinstance(v, str) for v in values):
            raise err.invalid_parameter("Filter Values must be a JSON array of at most 10 strings.")
        filters.append((item["Key"], values))
    found = backend.list_secrets(filters)
    items = []
    for secret in found[(page - 1) * size: page * size]:
        item = {"SecretName": secret.name, "SecretType": secret.secret_type,
                "CreateTime": iso(secret.created), "UpdateTime": iso(secret.updated)}
        if secret.planned_delete is not None:
            item["PlannedDeleteTime"] = iso(secret.planned_delete)
        if fetch_tags:
            item["Tags"] = _tag_list(secret)
        items.append(item)
    return {"PageNumber": page, "PageSize": size, "TotalCount": len(found), "SecretList": {"Secret": items}}


def list_secret_version_ids(backend, p):
    include = _bool(p, "IncludeDeprecated")
    page = _int(p, "PageNumber", 1, 1)
    size = _int(p, "PageSize", 20, 1, 100)
    secret, versions = backend.list_versions(_required(p, "SecretName"), include)
    items = [{"VersionId": v.version_id, "CreateTime": iso(v.created),
              "VersionStages": {"VersionStage": list(v.stages)}} for v in versions[(page - 1) * size: page * size]]
    return {"SecretName": secret.name, "PageNumber": page, "PageSize": size, "TotalCount": len(versions),
            "VersionIds": {"VersionId": items}}


def delete_secret(backend, p):
    force = _bool(p, "ForceDeleteWithoutRecovery")
    days = _int(p, "RecoveryWindowInDays", None, 7, 30)
    if force and days is not None:
        raise err.invalid_parameter("RecoveryWindowInDays is not allowed with ForceDeleteWithoutRecovery=true.")
    name, planned = backend.delete_secret(_required(p, "SecretName"), force, days)
    return {"SecretName": name, "PlannedDeleteTime": iso(planned)}


def restore_secret(backend, p):
    return {"SecretName": backend.restore_secret(_required(p, "SecretName")).name}


def tag_resource(backend, p):
    name = _secret_name_param(p)
    backend.tag_resource(name, _tags(p, required=True))
    return {}


def untag_resource(backend, p):
    name = _secret_name_param(p)
    raw = _required(p, "TagKeys")
    keys = _json(p, "TagKeys") if raw.lstrip().startswith("[") else [k.strip() for k in raw.split(",")]
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and 1 <= len(k) <= 128 for k in keys):
        raise err.invalid_parameter('TagKeys must be a JSON array of tag keys, e.g. ["k1","k2"].')
    backend.untag_resource(name, keys)
    return {}


def get_random_password(backend, p):
    length = _int(p, "PasswordLength", 32, 8, 128)
    exclude = [cls for cls in ("Lowercase", "Uppercase", "Numbers", "Punctuation") if _bool(p, f"Exclude{cls}")]
    password = backend.random_password(length, p.get("ExcludeCharacters", ""), exclude,
                                       _bool(p, "RequireEachIncludedType"))
    return {"RandomPassword": password}


SERVICE = Service(name="kms", version="2016-01-20", backend_factory=KmsBackend, include_http_status=True, actions={
    "CreateSecret": create_secret,
    "GetSecretValue": get_secret_value,
    "PutSecretValue": put_secret_value,
    "DescribeSecret": describe_secret,
    "UpdateSecret": update_secret,
    "UpdateSecretRotationPolicy": update_secret_rotation_policy,
    "RotateSecret": rotate_secret,
    "UpdateSecretVersionStage": update_secret_version_stage,
    "ListSecrets": list_secrets,
    "ListSecretVersionIds": list_secret_version_ids,
    "DeleteSecret": delete_secret,
    "RestoreSecret": restore_secret,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "GetRandomPassword": get_random_password,
})

