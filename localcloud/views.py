"""State as the control API shows it: everything a test asserts on, no credential.

Field names are the services' own (``UserName``, ``AccessKeyId``, ``VersionStages``,
``PlannedDeleteTime`` ...). Credentials never appear: an AccessKeySecret, a
login password, an MFA seed or a secret's value is shown only as a
*fingerprint*, ``HMAC-SHA256(cloud key, value)`` cut to 16 hex digits, so a test
can check that two of them are the same credential (KMS's current password is
the login profile's; the secret's AccessKeySecret is that key's) without
seeing either. The HMAC key is random per cloud (kept in ``--state``) and never
leaves the process, so a fingerprint cannot be tested offline against guesses.

JSON secret values are summarized: ``AccessKeyIds`` (every ``AccessKeyId``
found in the value: ids are not credentials) and ``CredentialFingerprints``
(``{path: fingerprint}`` for each credential field: AccessKeySecret, Password,
AccountPassword, PrivateKey). Nothing else of a value is shown.
"""
import hashlib
import hmac
import json

from .clock import iso
from .kms.models import CREDENTIAL_KEYS, CURRENT


class Fingerprinter:
    def __init__(self, key):
        self.key = key if isinstance(key, bytes) else bytes.fromhex(key)

    def __call__(self, value):
        if value is None:
            return None
        return hmac.new(self.key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


# -- RAM ------------------------------------------------------------------------------------
def ram_user(backend, user_name, fp):
    with backend.lock:
        user = backend.users.get(user_name)
        if user is None:
            return None
        device = backend._bound_device_of(user)
        profile = user.login_profile
        view = user.view()
        view.update({
            "AccessKeys": [{"AccessKeyId": k.access_key_id, "Status": k.status, "CreateDate": iso(k.created),
                            "LastUsedDate": iso(k.last_used) if k.last_used is not None else None,
                            "SecretFingerprint": fp(k.secret)} for k in user.access_keys.values()],
            "LastLoginDate": iso(user.last_login) if user.last_login is not None else None,
            "LoginProfile": None if profile is None else {
                "PasswordResetRequired": profile.password_reset_required,
                "MFABindRequired": profile.mfa_bind_required, "CreateDate": iso(profile.created),
                "PasswordFingerprint": fp(profile.password)},
            "Policies": [{"PolicyType": t, "PolicyName": n, "AttachDate": iso(at)}
                         for (t, n), at in user.policies.items()],
            "Groups": [{"GroupName": g, "JoinDate": iso(at)} for g, at in user.groups.items()],
            "MFADevice": None if device is None else {"SerialNumber": device.serial_number, "Name": device.name,
                                                      "CreateDate": iso(device.created)},
        })
        return view


def ram_users(backend, fp):
    with backend.lock:
        return [ram_user(backend, name, fp) for name in sorted(backend.users)]


def ram_account(backend):
    with backend.lock:
        return {"AccountAlias": backend.alias,
                "PasswordPolicy": {"".join(p.capitalize() for p in k.split("_")): v
                                   for k, v in vars(backend.password_policy).items()},
                "Quotas": dict(backend.quotas), "Groups": list(backend.groups().values()),
                "VirtualMFADevices": list(backend.mfa_devices().values()),
                "CustomPolicies": sorted(n for t, n in backend.policies if t == "Custom"),
                # hrctl setup's state (issue 13): what each group and role holds
                "GroupPolicies": {g: [f"{t}:{n}" for t, n in held] for g, held in backend.group_policies.items()},
                "Roles": [{"RoleName": r.role_name, "Arn": r.arn,
                           "AssumeRolePolicyDocument": r.assume_role_policy_document,
                           "Policies": [f"{t}:{n}" for t, n in r.policies]} for r in backend.roles.values()]}


# -- KMS ------------------------------------------------------------------------------------
def _summary(data, fp):
    try:
        value = json.loads(data)
    except ValueError:
        return [], {}
    ids, creds = [], {}
    stack = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                inner_path = f"{path}.{key}" if path else key
                if key in CREDENTIAL_KEYS and isinstance(inner, str):
                    creds[inner_path] = fp(inner)
                elif key == "AccessKeyId" and isinstance(inner, str):
                    ids.append(inner)
                else:
                    stack.append((inner_path, inner))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", inner) for i, inner in reversed(list(enumerate(item))))
    return ids, dict(sorted(creds.items()))


def kms_secret(backend, name, fp):
    with backend.lock:
        backend._purge()
        secret = backend.secrets.get(name)
        if secret is None:
            return None
        current = secret.stage_holder(CURRENT)
        versions = []
        for v in secret.versions.values():
            ids, creds = _summary(v.data, fp)
            versions.append({"VersionId": v.version_id, "VersionStages": list(v.stages), "CreateTime": iso(v.created),
                             "SecretDataType": v.data_type, "Fingerprint": fp(v.data), "AccessKeyIds": ids,
                             "CredentialFingerprints": creds})
        return {"SecretName": secret.name, "Arn": secret.arn, "SecretType": secret.secret_type,
                "Description": secret.description, "CreateTime": iso(secret.created),
                "UpdateTime": iso(secret.updated), "Deleting": secret.planned_delete is not None,
                "PlannedDeleteTime": iso(secret.planned_delete) if secret.planned_delete is not None else None,
                "Tags": dict(secret.tags), "ExtendedConfig": json.loads(json.dumps(secret.extended_config)),
                "RotationInterval": secret.rotation_interval, "EncryptionKeyId": secret.encryption_key_id,
                "DKMSInstanceId": secret.dkms_instance_id,
                "CurrentVersionId": current.version_id if current else None, "Versions": versions}


def kms_secrets(backend, fp):
    with backend.lock:
        backend._purge()
        return [kms_secret(backend, name, fp) for name in sorted(backend.secrets)]
