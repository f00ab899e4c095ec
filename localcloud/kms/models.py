"""KMS Secrets Manager state and semantics.

What is emulated (KMS 2016-01-20, secrets only; no keys, no certificates):

- secrets of type ``Generic`` and ``RAMCredentials``; other types are refused
  with ``UnsupportedOperation``.
- versions with stages: the initial version is ``ACSCurrent``; PutSecretValue
  moves ``ACSCurrent`` to the new version and marks the old one
  ``ACSPrevious`` (a stage is held by at most one version). A Generic secret
  keeps at most 10 versions; the oldest unstaged ones roll off. Re-putting an
  existing VersionId with the same value is an idempotent success, with a
  different value ``Rejected.ResourceExist`` (the API reference's rule).
- scheduled deletion: DeleteSecret sets ``PlannedDeleteTime``
  (RecoveryWindowInDays 7-30, default 30); until then the secret is in its
  delete window; RestoreSecret brings it back; when the clock passes
  ``PlannedDeleteTime`` the secret is gone for good and its name free again.
  Time is the cloud's one clock (``localcloud/clock.py``, ``self.clock``);
  tests move it with ``cloud.clock.advance`` (``advance`` here is an alias).
- RAMCredentials: ``ExtendedConfig`` ``{"SecretSubType": "RamUserAccessKey",
  "UserName": ...}``; ``SecretData`` ``{"AccessKeys": [{"AccessKeyId",
  "AccessKeySecret"}]}`` listing every AccessKey the RAM user has (checked
  against the RAM backend of the same LocalCloud).
- RAMCredentials rotation, as KMS does it on its clock: when ``RotationInterval`` has passed since the
  last rotation (or the creation), evaluated lazily whenever KMS looks (any action, and ``tick()``),
  or at once with RotateSecret: the key of the ACSPrevious version is deleted in RAM (a user has at
  most two), RAM creates a new key for the user, the secret gets a new version holding it (ACSCurrent;
  the old current becomes ACSPrevious). Version ids of an automatic rotation are KMS's own (32 hex
  digits, not AccessKeyIds); RotateSecret's is the caller's ``VersionId`` (a repeat: no rotation).
  A rotation that cannot run (the RAM user is gone) leaves the secret as it is and is tried again.
  A rotation ends ``ROTATION_COMPLETION_SECONDS`` (2 days, the guide's "approximately 2 days") after
  it began: the old key is deleted in RAM and its ACSPrevious version dropped, so between rotations
  the user has one key, as with the real service.

Every error is one the metadata lists for the action (see exceptions.py).
"""
import base64
import binascii
import json
import re
import secrets as _secrets
import string
import threading
from dataclasses import dataclass, field

from ..clock import Clock, iso, timestamp
from ..exceptions import ApiError
from ..state import plain
from . import exceptions as err

GENERIC = "Generic"
RAM_CREDENTIALS = "RAMCredentials"
OTHER_TYPES = ("Rds", "Redis", "PolarDB", "ECS")
CURRENT, PREVIOUS = "ACSCurrent", "ACSPrevious"
RAM_SECRET_PREFIX = "acs/ram/user/"

MAX_NAME = 192
MAX_CJK_IN_NAME = 64
MAX_SECRET_DATA_BYTES = 30720
MAX_VERSION_ID = 64
MAX_VERSIONS = 10                 # per Generic secret (PutSecretValue reference)
MAX_TAGS = 20                     # per secret (CreateSecret reference)
MAX_TAG_LENGTH = 128
MAX_EXTENDED_CONFIG = 1024
MAX_CUSTOM_DATA_KEYS = 10
MIN_RECOVERY_DAYS, MAX_RECOVERY_DAYS, DEFAULT_RECOVERY_DAYS = 7, 30, 30
MIN_ROTATION_SECONDS, MAX_ROTATION_SECONDS = 6 * 3600, 8760 * 3600
# An automatic RAM secret rotation takes "approximately 2 days" (the RAM secrets guide): the old key lives on
# (the ACSPrevious version) that long, then it is deleted with its version.
ROTATION_COMPLETION_SECONDS = 2 * 86400

_NAME_RE = re.compile(r"^[A-Za-z0-9_/+=.@\-\u4e00-\u9fff]+\Z")
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")
_TAG_RE = re.compile(r"^[A-Za-z0-9/\\_\-.+=:@]*\Z")
_ARN_RE = re.compile(r"^acs:kms:([^:]*):([^:]*):secret/(.+)\Z")
_INTERVAL_RE = re.compile(r"^([0-9]+)([dhms])\Z")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}

# GetRandomPassword: the character classes the API reference lists (no backtick).
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_{|}~"
CHARACTER_CLASSES = {"Lowercase": string.ascii_lowercase, "Uppercase": string.ascii_uppercase,
                     "Numbers": string.digits, "Punctuation": PUNCTUATION}
# Keys inside JSON secret values whose values are credentials (for leak checks).
CREDENTIAL_KEYS = frozenset({"AccessKeySecret", "Password", "AccountPassword", "PrivateKey", "password"})
MIN_LEAK_CHECK_LENGTH = 8


__all__ = ["KmsBackend", "Secret", "Version", "iso"]


@dataclass
class Version:
    version_id: str
    data: str
    data_type: str
    created: float
    stages: list = field(default_factory=list)


@dataclass
class Secret:
    name: str
    secret_type: str
    arn: str
    created: float
    updated: float
    description: str = ""
    encryption_key_id: str = ""
    dkms_instance_id: str = ""
    extended_config: dict = None
    tags: dict = field(default_factory=dict)        # insertion-ordered key -> value
    versions: dict = field(default_factory=dict)    # insertion-ordered id -> Version
    planned_delete: float = None
    rotation_interval: int = None                   # seconds, when automatic rotation is on
    seq: int = 0
    last_rotation: float = None                     # when KMS last rotated it (RAMCredentials)
    rotation_since: float = None                    # the interval counts from here (a rotation, or turning it on)

    @property
    def next_rotation(self):
        if not self.rotation_interval:
            return None
        return (self.rotation_since if self.rotation_since is not None else self.created) + self.rotation_interval

    def stage_holder(self, stage):
        for version in self.versions.values():
            if stage in version.stages:
                return version
        return None


class KmsBackend:
    def __init__(self, account, clock=None):
        self.account = account
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self.secrets = {}
        self.ram = None
        self._seq = 0
        self._minted = set()

    # -- wiring and clock --------------------------------------------------
    def link_peers(self, backends):
        """Called by the gateway after every reset: RAMCredentials check keys against RAM."""
        self.ram = backends.get("ram")

    def _now(self):
        return timestamp(self.clock)

    def advance(self, days=0, hours=0, seconds=0):
        """Move the cloud's clock forward (RAM's too: there is one clock); scheduled deletions whose
        time has come complete. An alias of ``cloud.clock.advance``."""
        self.clock.advance(seconds, days=days, hours=hours)
        with self.lock:
            self._purge()

    @property
    def clock_offset(self):
        """Seconds the clock is ahead of real time (kept for older tests)."""
        return getattr(self.clock, "offset", self._now() - Clock().time())

    def _purge(self):
        now = self._now()   # lazy: any clock object may have moved since the last call
        for name in [n for n, s in self.secrets.items() if s.planned_delete is not None and s.planned_delete <= now]:
            del self.secrets[name]
        self._complete_rotations(now)
        self._rotate_due(now)

    def _complete_rotations(self, now):
        """A RAM secret rotation ends ROTATION_COMPLETION_SECONDS after it began: the old key is deleted in
        RAM and the version holding it dropped ("RAM creates an AccessKey pair and then deletes the old
        AccessKey pair. KMS ... deletes the secret value that is associated with the old AccessKey pair")."""
        for secret in list(self.secrets.values()):
            if (secret.secret_type != RAM_CREDENTIALS or secret.last_rotation is None
                    or now < secret.last_rotation + ROTATION_COMPLETION_SECONDS):
                continue
            previous = secret.stage_holder(PREVIOUS)
            if previous is None:
                continue
            user_name = (secret.extended_config or {}).get("UserName")
            keep = set(self._key_ids(secret.stage_holder(CURRENT)))
            for key_id in self._key_ids(previous):
                if key_id not in keep and self.ram is not None and user_name in getattr(self.ram, "users", {}):
                    try:
                        self.ram.delete_access_key(user_name, key_id)
                    except ApiError:
                        pass                            # deleted meanwhile
            previous.stages.remove(PREVIOUS)
            del secret.versions[previous.version_id]

    def tick(self):
        """Run whatever is due on the clock now (scheduled deletions, RAM secret rotations); KMS does it
        lazily on every action anyway. Returns the names of the secrets rotated."""
        with self.lock:
            before = {n: s.last_rotation for n, s in self.secrets.items()}
            self._purge()
            return sorted(n for n, s in self.secrets.items() if n in before and s.last_rotation != before[n])

    def _rotate_due(self, now):
        for secret in list(self.secrets.values()):
            due = secret.next_rotation
            if (secret.secret_type == RAM_CREDENTIALS and due is not None and due <= now
                    and secret.planned_delete is None):
                self._rotate(secret, _secrets.token_hex(16))

    def _rotate(self, secret, version_id):
        """One RAM secret rotation: the ACSPrevious version's key deleted, a new key, a new current version."""
        ram = self.ram
        user_name = (secret.extended_config or {}).get("UserName")
        if ram is None or not user_name or user_name not in getattr(ram, "users", {}):
            return False                            # cannot rotate now (the user is gone): tried again later
        previous = secret.stage_holder(PREVIOUS)
        current = secret.stage_holder(CURRENT)
        keep = set(self._key_ids(current))
        for key_id in self._key_ids(previous):
            if key_id not in keep:
                try:
                    ram.delete_access_key(user_name, key_id)
                except ApiError:
                    pass                            # deleted meanwhile
        try:
            key = ram.create_access_key(user_name)
        except ApiError:
            return False                            # e.g. two keys already (one made outside KMS)
        now = self._now()
        data = json.dumps({"AccessKeys": [{"AccessKeyId": key.access_key_id, "AccessKeySecret": key.secret}]})
        if previous is not None:
            previous.stages.remove(PREVIOUS)
        if current is not None:
            current.stages.remove(CURRENT)
            current.stages.append(PREVIOUS)
        secret.versions[version_id] = Version(version_id, data, "text", now, [CURRENT])
        for old in [v for v in secret.versions.values() if not v.stages]:
            del secret.versions[old.version_id]     # a RAM secret keeps its current and previous versions
        secret.last_rotation = secret.rotation_since = secret.updated = now
        self._remember(data)
        return True

    @staticmethod
    def _key_ids(version):
        if version is None:
            return []
        try:
            value = json.loads(version.data)
        except ValueError:
            return []
        return [k.get("AccessKeyId") for k in (value.get("AccessKeys") or []) if isinstance(k, dict)] \
            if isinstance(value, dict) else []

    # -- lookup --------------------------------------------------------------
    def _name_from(self, name_or_arn):
        match = _ARN_RE.match(name_or_arn)
        if match is None:
            return name_or_arn
        region, account, name = match.groups()
        if region != self.account.region or account != self.account.account_id:
            raise err.not_found(name_or_arn)
        return name

    def _get(self, name_or_arn, allow_deleting=True):
        self._purge()
        secret = self.secrets.get(self._name_from(name_or_arn))
        if secret is None:
            raise err.not_found(name_or_arn)
        if not allow_deleting and secret.planned_delete is not None:
            raise err.in_delete_window(secret.name)
        return secret

    # -- validation ----------------------------------------------------------
    @staticmethod
    def _check_name(name):
        if len(name) > MAX_NAME or not _NAME_RE.match(name):
            raise err.invalid_parameter(
                "SecretName must be 1-192 characters of letters, digits and _/+=.@- (at most 64 Chinese characters).")
        if len(_CJK_RE.findall(name)) > MAX_CJK_IN_NAME:
            raise err.invalid_parameter("SecretName may contain at most 64 Chinese characters.")

    @staticmethod
    def _check_data(data, data_type, secret_type):
        if data_type not in ("text", "binary"):
            raise err.invalid_parameter("SecretDataType must be text or binary.")
        if data_type == "binary":
            if secret_type != GENERIC:
                raise err.invalid_parameter("SecretDataType must be text for this secret type.")
            try:
                base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise err.invalid_parameter("A binary SecretData must be Base64-encoded.") from None
        if len(data.encode("utf-8")) > MAX_SECRET_DATA_BYTES:
            raise err.invalid_parameter("SecretData exceeds 30720 bytes.")

    @staticmethod
    def _check_version_id(version_id):
        if len(version_id) > MAX_VERSION_ID:
            raise err.invalid_parameter("VersionId must be at most 64 characters.")

    @staticmethod
    def check_tags(tags):
        """``tags``: list of (key, value). Raises InvalidParameter for any rule the reference states."""
        for key, value in tags:
            if not isinstance(key, str) or not isinstance(value, str):
                raise err.invalid_parameter("TagKey and TagValue must be strings.")
            if not 1 <= len(key) <= MAX_TAG_LENGTH or not _TAG_RE.match(key):
                raise err.invalid_parameter(f"TagKey {key!r} must be 1-128 characters of letters, digits "
                                            "and /\\_-.+=:@.")
            if len(value) > MAX_TAG_LENGTH or not _TAG_RE.match(value):
                raise err.invalid_parameter(f"TagValue for {key!r} must be at most 128 characters of letters, digits "
                                            "and /\\_-.+=:@.")
            if key.lower().startswith(("aliyun", "acs:")):
                raise err.invalid_parameter(f"TagKey {key!r} may not start with aliyun or acs:.")

    @staticmethod
    def _merge_tags(existing, tags):
        merged = dict(existing)
        for key, value in tags:
            merged[key] = value
        if len(merged) > MAX_TAGS:
            raise err.invalid_parameter(f"A secret can have at most {MAX_TAGS} tags.")
        return merged

    def _check_ram_credentials(self, config, data):
        if config.get("SecretSubType") != "RamUserAccessKey":
            raise err.invalid_parameter("ExtendedConfig.SecretSubType must be RamUserAccessKey for RAMCredentials.")
        user_name = config.get("UserName")
        if not isinstance(user_name, str) or not user_name:
            raise err.invalid_parameter("ExtendedConfig.UserName is required for RAMCredentials.")
        try:
            value = json.loads(data)
        except ValueError:
            value = None
        keys = value.get("AccessKeys") if isinstance(value, dict) else None
        if not isinstance(keys, list) or not keys or not all(
                isinstance(k, dict) and isinstance(k.get("AccessKeyId"), str) and k["AccessKeyId"]
                and isinstance(k.get("AccessKeySecret"), str) and k["AccessKeySecret"] for k in keys):
            raise err.invalid_parameter(
                'SecretData must be {"AccessKeys":[{"AccessKeyId":"...","AccessKeySecret":"..."}]} for RAMCredentials.')
        ids = [k["AccessKeyId"] for k in keys]
        if len(set(ids)) != len(ids):
            raise err.invalid_parameter("SecretData lists an AccessKeyId twice.")
        actual = self._ram_access_key_ids(user_name)
        if actual is None:
            return
        if set(ids) != set(actual):
            raise err.invalid_parameter(
                f"SecretData must list exactly the AccessKeys of RAM user {user_name} ({len(actual)} key(s)).")

    def _ram_access_key_ids(self, user_name):
        """The AccessKeyIds RAM holds for ``user_name``; None if this cloud has no RAM backend."""
        ram = self.ram
        if ram is None:
            return None
        try:
            ram.get_user(user_name)
        except ApiError:
            raise err.not_found(f"RAM user {user_name}") from None
        if hasattr(ram, "access_key_ids"):
            return list(ram.access_key_ids(user_name))
        if hasattr(ram, "list_access_keys"):
            listed = ram.list_access_keys(user_name)
            if isinstance(listed, dict):
                listed = listed.get("AccessKeys", {}).get("AccessKey", listed.get("AccessKey", []))
            return [k["AccessKeyId"] for k in listed]
        return None

    @staticmethod
    def parse_interval(text):
        match = _INTERVAL_RE.match(text or "")
        if match is None:
            raise err.invalid_parameter("RotationInterval must be integer[unit] with unit d, h, m or s.")
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        if not MIN_ROTATION_SECONDS <= seconds <= MAX_ROTATION_SECONDS:
            raise err.invalid_parameter("RotationInterval must be between 6 hours and 8760 hours.")
        return seconds

    def _remember(self, data):
        if len(data) >= MIN_LEAK_CHECK_LENGTH:
            self._minted.add(data)
        try:
            value = json.loads(data)
        except ValueError:
            return
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                for key, inner in item.items():
                    if key in CREDENTIAL_KEYS and isinstance(inner, str) and inner:
                        self._minted.add(inner)
                    else:
                        stack.append(inner)
            elif isinstance(item, list):
                stack.extend(item)

    # -- actions ---------------------------------------------------------------
    def create_secret(self, name, version_id, data, secret_type=GENERIC, data_type="text", description="",
                      tags=(), extended_config=None, encryption_key_id="", dkms_instance_id="",
                      enable_rotation=False, rotation_interval=None):
        if secret_type in OTHER_TYPES:
            raise err.unsupported(secret_type)
        if secret_type not in (GENERIC, RAM_CREDENTIALS):
            raise err.invalid_parameter(f"SecretType {secret_type} is not valid.")
        if dkms_instance_id and not dkms_instance_id.startswith("kst-"):
            raise err.dkms_instance_not_found(dkms_instance_id)
        self._check_version_id(version_id)
        self._check_data(data, data_type, secret_type)
        self.check_tags(tags)
        interval = None
        if secret_type == GENERIC:
            extended_config = None     # ignored for Generic secrets
            if name.startswith("acs/"):
                raise err.invalid_parameter("The name of a Generic secret may not start with acs/.")
            self._check_name(name)
        else:
            if not isinstance(extended_config, dict):
                raise err.invalid_parameter("ExtendedConfig is required for RAMCredentials.")
            self._check_ram_credentials(extended_config, data)
            if name == "$Auto":
                name = RAM_SECRET_PREFIX + extended_config["UserName"]
            elif not name.startswith(RAM_SECRET_PREFIX):
                raise err.invalid_parameter("The name of a RAMCredentials secret must be $Auto.")
            self._check_name(name)
            if enable_rotation:
                if not rotation_interval:
                    raise err.invalid_parameter("RotationInterval is required when EnableAutomaticRotation is true.")
                interval = self.parse_interval(rotation_interval)
        with self.lock:
            self._purge()
            existing = self.secrets.get(name)
            if existing is not None:
                if existing.planned_delete is not None:
                    raise err.in_delete_window(name)
                raise err.exists(name)
            now = self._now()
            self._seq += 1
            secret = Secret(name=name, secret_type=secret_type, created=now, updated=now,
                            arn=f"acs:kms:{self.account.region}:{self.account.account_id}:secret/{name}",
                            description=description or "", encryption_key_id=encryption_key_id or "",
                            dkms_instance_id=dkms_instance_id or "", extended_config=extended_config,
                            tags=self._merge_tags({}, tags), rotation_interval=interval, seq=self._seq)
            secret.versions[version_id] = Version(version_id, data, data_type, now, [CURRENT])
            self.secrets[name] = secret
            self._remember(data)
            return secret

    def get_secret_value(self, name, version_id=None, version_stage=None):
        with self.lock:
            secret = self._get(name)
            if secret.planned_delete is not None:
                # The metadata lists no Rejected.ResourceInDeleteWindow for GetSecretValue.
                raise err.not_found(f"{secret.name} (scheduled for deletion)")
            if secret.secret_type != GENERIC:
                version_id = None          # ignored for RAM secrets, as the reference says
                if version_stage not in (None, CURRENT, PREVIOUS):
                    raise err.not_found(f"{secret.name} stage {version_stage}")
            if version_id is not None:
                version = secret.versions.get(version_id)
                if version is None or (version_stage is not None and version_stage not in version.stages):
                    raise err.not_found(f"{secret.name} version {version_id}")
            else:
                version = secret.stage_holder(version_stage or CURRENT)
                if version is None:
                    raise err.not_found(f"{secret.name} stage {version_stage}")
            return secret, version

    def put_secret_value(self, name, version_id, data, data_type="text", stages=None):
        with self.lock:
            secret = self._get(name)
            if secret.planned_delete is not None:
                # The metadata lists no Rejected.ResourceInDeleteWindow for PutSecretValue.
                raise err.not_found(f"{secret.name} (scheduled for deletion)")
            if secret.secret_type != GENERIC:
                raise err.invalid_parameter("PutSecretValue supports Generic secrets only.")
            self._check_version_id(version_id)
            self._check_data(data, data_type, secret.secret_type)
            stages = list(dict.fromkeys(stages)) if stages else [CURRENT]
            old = secret.versions.get(version_id)
            if old is not None:
                if old.data == data and old.data_type == data_type:
                    return secret, old        # idempotent
                raise err.exists(f"{secret.name} version {version_id}")
            now = self._now()
            if CURRENT in stages:
                current = secret.stage_holder(CURRENT)
                if current is not None:
                    previous = secret.stage_holder(PREVIOUS)
                    if previous is not None:
                        previous.stages.remove(PREVIOUS)
                    current.stages.remove(CURRENT)
                    if PREVIOUS not in stages:
                        current.stages.append(PREVIOUS)
            for stage in stages:
                holder = secret.stage_holder(stage)
                if holder is not None:
                    holder.stages.remove(stage)
            version = Version(version_id, data, data_type, now, stages)
            secret.versions[version_id] = version
            secret.updated = now
            self._remember(data)
            while len(secret.versions) > MAX_VERSIONS:
                oldest = next((v for v in secret.versions.values() if not v.stages), None)
                if oldest is None:
                    break
                del secret.versions[oldest.version_id]
            return secret, version

    def update_secret_version_stage(self, name, stage, remove_from=None, move_to=None):
        """UpdateSecretVersionStage (Generic secrets): ``stage`` taken from ``remove_from`` (which must hold
        it: Rejected.InvalidRequest otherwise, so a caller can move ACSCurrent only from the version it
        believes current) and/or given to ``move_to`` (taken from whoever held it: a stage is held by at most
        one version). ACSCurrent and ACSPrevious are never just removed; moving ACSCurrent makes the version
        it leaves ACSPrevious, as PutSecretValue's default does (the reference is silent on it)."""
        with self.lock:
            secret = self._get(name)
            if secret.planned_delete is not None:
                raise err.in_delete_window(secret.name)
            if secret.secret_type != GENERIC:
                raise err.invalid_parameter("UpdateSecretVersionStage supports Generic secrets only.")
            if not remove_from and not move_to:
                raise err.invalid_parameter("RemoveFromVersion or MoveToVersion is required.")
            if stage in (CURRENT, PREVIOUS) and not move_to:
                raise err.invalid_parameter(f"{stage} can only be moved to another version: MoveToVersion "
                                            "is required.")
            source = secret.versions.get(remove_from) if remove_from else None
            target = secret.versions.get(move_to) if move_to else None
            if (remove_from and source is None) or (move_to and target is None):
                raise err.not_found(f"{secret.name} version {remove_from if source is None else move_to}")
            if source is not None and stage not in source.stages:
                raise err.invalid_request(f"{secret.name}: version {remove_from} does not hold {stage}")
            if target is not None and stage not in target.stages:
                holder = secret.stage_holder(stage)
                if holder is None and len({s for v in secret.versions.values() for s in v.stages} | {stage}) > 8:
                    raise err.limit_exceeded("A secret has at most 8 version stages.")
                if stage == CURRENT:
                    previous = secret.stage_holder(PREVIOUS)
                    if previous is not None and holder is not None:
                        previous.stages.remove(PREVIOUS)
                    if holder is not None:
                        holder.stages.remove(CURRENT)
                        if holder is not target:
                            holder.stages.append(PREVIOUS)
                    if PREVIOUS in target.stages:
                        target.stages.remove(PREVIOUS)
                elif holder is not None:
                    holder.stages.remove(stage)
                target.stages.append(stage)
            elif source is not None and target is None:
                source.stages.remove(stage)
            secret.updated = self._now()
            return secret

    def describe_secret(self, name):
        with self.lock:
            return self._get(name)

    def rotate_secret(self, name, version_id):
        """RotateSecret: rotate now, the new version named ``version_id``; a ``version_id`` the secret has
        already is a success without a rotation (the API's idempotence). Generic secrets: InvalidParameter."""
        self._check_version_id(version_id)
        with self.lock:
            try:
                secret = self._get(name, allow_deleting=False)
            except ApiError:
                # RotateSecret's metadata lists InvalidParameter only (and the gateway's codes)
                raise err.invalid_parameter(f"The secret {name} does not exist or is scheduled for deletion.") from None
            if secret.secret_type == GENERIC:
                raise err.invalid_parameter("RotateSecret is not available for Generic secrets: use PutSecretValue.")
            if version_id not in secret.versions and not self._rotate(secret, version_id):
                raise err.invalid_parameter(f"The secret {secret.name} cannot be rotated now (its RAM user "
                                            "is gone or already has two AccessKeys).")
            return secret

    def update_secret_rotation_policy(self, name, enable, rotation_interval=None):
        """Only secrets KMS can rotate (not Generic); turning rotation on needs an interval."""
        interval = None
        if enable:
            if not rotation_interval:
                raise err.invalid_parameter("RotationInterval is required when EnableAutomaticRotation is true.")
            interval = self.parse_interval(rotation_interval)
        with self.lock:
            secret = self._get(name, allow_deleting=False)
            if secret.secret_type == GENERIC:
                raise err.invalid_parameter("Generic secrets are not rotated by KMS.")
            if interval and not secret.rotation_interval:
                secret.rotation_since = self._now()        # turned on: the interval counts from now
            secret.rotation_interval = interval
            secret.updated = self._now()
            return secret

    def update_secret(self, name, description=None, custom_data=None):
        with self.lock:
            secret = self._get(name, allow_deleting=False)
            if custom_data is not None:
                if secret.secret_type == GENERIC:
                    raise err.invalid_parameter("Generic secrets have no ExtendedConfig.")
                if not isinstance(custom_data, dict) or len(custom_data) > MAX_CUSTOM_DATA_KEYS:
                    raise err.invalid_parameter("ExtendedConfig.CustomData must be an object of at most 10 pairs.")
                config = dict(secret.extended_config or {})
                config["CustomData"] = custom_data
                if len(json.dumps(config)) > MAX_EXTENDED_CONFIG:
                    raise err.invalid_parameter("ExtendedConfig exceeds 1024 characters.")
                secret.extended_config = config
            if description is not None:
                secret.description = description
            secret.updated = self._now()
            return secret

    def list_secrets(self, filters=()):
        """``filters``: list of (key, values); OR within a key, AND across keys."""
        with self.lock:
            self._purge()
            found = []
            for secret in sorted(self.secrets.values(), key=lambda s: s.seq):
                if all(self._matches(secret, key, values) for key, values in filters):
                    found.append(secret)
            return found

    @staticmethod
    def _matches(secret, key, values):
        if key == "SecretName":
            return secret.name in values
        if key == "Description":
            return secret.description in values
        if key == "TagKey":
            return any(k in values for k in secret.tags)
        if key == "TagValue":
            return any(v in values for v in secret.tags.values())
        if key == "SecretType":
            return secret.secret_type in values
        if key == "DKMSInstanceId":
            return secret.dkms_instance_id in values
        raise err.invalid_parameter(f"Filter key {key} is not valid.")

    def list_versions(self, name, include_deprecated=False):
        with self.lock:
            secret = self._get(name)
            return secret, [v for v in secret.versions.values() if include_deprecated or v.stages]

    def delete_secret(self, name, force=False, recovery_days=None):
        with self.lock:
            secret = self._get(name)
            if force:
                del self.secrets[secret.name]
                return secret.name, self._now()
            if secret.planned_delete is not None:
                raise err.in_delete_window(secret.name)
            days = DEFAULT_RECOVERY_DAYS if recovery_days is None else recovery_days
            secret.planned_delete = self._now() + days * 86400
            return secret.name, secret.planned_delete

    def restore_secret(self, name):
        with self.lock:
            secret = self._get(name)
            if secret.planned_delete is None:
                raise err.in_use(secret.name)
            secret.planned_delete = None
            secret.updated = self._now()
            return secret

    def tag_resource(self, name, tags):
        self.check_tags(tags)
        with self.lock:
            secret = self._get_for_tagging(name)
            secret.tags = self._merge_tags(secret.tags, tags)

    def untag_resource(self, name, keys):
        with self.lock:
            secret = self._get_for_tagging(name)
            for key in keys:
                secret.tags.pop(key, None)

    def _get_for_tagging(self, name):
        # TagResource/UntagResource list only InvalidParameter: an unknown secret is one.
        try:
            return self._get(name)
        except ApiError as exc:
            if exc.code == "Forbidden.ResourceNotFound":
                raise err.invalid_parameter(f"The secret {name} does not exist.") from None
            raise

    def random_password(self, length=32, exclude_characters="", exclude=(), require_each=False):
        classes = [chars for cls, chars in CHARACTER_CLASSES.items() if cls not in exclude]
        classes = [[c for c in chars if c not in exclude_characters] for chars in classes]
        classes = [chars for chars in classes if chars]
        if not classes:
            raise err.invalid_parameter("Every character is excluded.")
        alphabet = [c for chars in classes for c in chars]
        rng = _secrets.SystemRandom()
        chosen = [rng.choice(chars) for chars in classes] if require_each else []
        chosen += [rng.choice(alphabet) for _ in range(length - len(chosen))]
        rng.shuffle(chosen)
        password = "".join(chosen)
        with self.lock:
            self._minted.add(password)
        return password

    # -- inspection for tests --------------------------------------------------------
    def minted_credentials(self):
        """Every SecretData ever stored (of 8+ characters), credentials found inside JSON values
        (AccessKeySecret, Password, AccountPassword, PrivateKey), and every random password handed out."""
        with self.lock:
            return set(self._minted)

    def secret_names(self, include_deleting=True):
        with self.lock:
            self._purge()
            return sorted(n for n, s in self.secrets.items() if include_deleting or s.planned_delete is None)

    def secret_state(self, name):
        """A plain-dict view of one secret (None if it does not exist), values included."""
        with self.lock:
            self._purge()
            secret = self.secrets.get(name)
            if secret is None:
                return None
            current = secret.stage_holder(CURRENT)
            value = None
            if current is not None:
                try:
                    value = json.loads(current.data)
                except ValueError:
                    value = current.data
            return {
                "name": secret.name, "type": secret.secret_type, "arn": secret.arn,
                "description": secret.description, "tags": dict(secret.tags),
                "extended_config": json.loads(json.dumps(secret.extended_config)) if secret.extended_config else None,
                "versions": [{"version_id": v.version_id, "stages": list(v.stages), "data": v.data,
                              "data_type": v.data_type, "created": iso(v.created)} for v in secret.versions.values()],
                "current_version": current.version_id if current else None,
                "current": value,
                "deleting": secret.planned_delete is not None,
                "planned_delete_time": iso(secret.planned_delete) if secret.planned_delete is not None else None,
                "created": iso(secret.created), "updated": iso(secret.updated),
                "rotation_interval": secret.rotation_interval,
                "last_rotation": iso(secret.last_rotation) if secret.last_rotation is not None else None,
            }


    # -- persistence (--state) -------------------------------------------------------
    def snapshot(self):
        """The whole state as JSON-ready data, secret values included (the state file is 0600)."""
        with self.lock:
            secrets = []
            for secret in self.secrets.values():
                data = plain(secret)
                data["tags"] = list(secret.tags.items())
                data["versions"] = [plain(v) for v in secret.versions.values()]
                if secret.extended_config is not None:
                    data["extended_config"] = json.loads(json.dumps(secret.extended_config))
                secrets.append(data)
            return {"secrets": secrets, "seq": self._seq, "minted": sorted(self._minted)}

    def restore(self, data):
        with self.lock:
            self.secrets = {}
            for raw in data.get("secrets", []):
                raw = dict(raw)
                versions = [Version(**v) for v in raw.pop("versions")]
                tags = raw.pop("tags")
                secret = Secret(**raw)
                secret.tags = {k: v for k, v in tags}
                secret.versions = {v.version_id: v for v in versions}
                self.secrets[secret.name] = secret
            self._seq = data.get("seq", len(self.secrets))
            self._minted = set(data.get("minted", []))
