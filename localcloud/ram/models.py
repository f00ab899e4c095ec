"""RAM 2015-05-01 state and semantics.

One ``RamBackend`` per account; every public method takes ``self.lock`` (an
RLock) for its whole check-then-change, so concurrent callers see each action
as atomic (16 threads racing CreateAccessKey on one user end with exactly two
keys; racing CreateUser on one name makes exactly one user).

Decisions and known deviations from the real service (quoted by the README):

- Validation follows the API reference: UserName / NewUserName and GroupName
  1-64 of letters, digits, ``.``, ``-``, ``_`` (``InvalidParameter.<Name>.Length``
  / ``.InvalidChars``); DisplayName 1-128 characters of any kind (CJK allowed);
  Comments <= 128; MobilePhone ``<country code>-<digits>``; Email one ``@`` and
  a dotted domain (``.Format``). Omitted required parameters and empty strings
  both answer ``MissingParameter.<Name>`` (the gateway's rule in ``core``).
- Without ``DisplayName`` a user's DisplayName is its UserName; unset Email,
  MobilePhone and Comments come back as "". UserId / GroupId are random
  16-digit strings; AccessKeyIds are ``LTAI5t`` + 18 characters, secrets 30.
- ``UserName`` is required by the AccessKey actions; the real API falls back to
  the caller's own (root) keys when it is omitted. Root keys are not modelled.
- ListUsers orders users by UserName; ``Marker`` is an opaque token naming the
  last user returned, so deleting users between pages never skips or repeats
  one. A Marker that does not decode gives ``InvalidParameter.Marker`` (guess).
  ``MaxItems`` outside 1-1000 gives ``InvalidParameter.MaxItems`` (guess).
- Quotas enforced (``backend.quotas``, adjustable): 1000 users
  (``LimitExceeded.User``), 2 AccessKeys per user (``LimitExceeded.User.AccessKey``),
  5 groups per user (``LimitExceeded.User.Group``), 20 system + 5 custom policies
  per user (``LimitExceeded.User.Policy``), 100 virtual MFA devices
  (``LimitExceeded.VirtualMFADevice``).
- Policies: a fixed system catalogue (``SYSTEM_POLICIES``). There is no
  CreatePolicy action; tests may add custom policies with
  ``backend.add_custom_policy``. Unknown policy -> ``EntityNotExist.Policy``;
  PolicyType other than System/Custom -> ``InvalidParameter.PolicyType``.
- Passwords are checked against the password policy only (length and the four
  character-class flags) -> ``InvalidParameter.Password.TooWeak``. Reuse
  prevention, expiry, login attempts and HardExpiry are stored and returned but
  never enforced (there is no console logon to enforce them on).
- SetPasswordPolicy: a parameter left out returns to its default, as the API
  reference states for HardExpiry. Ranges: MinimumPasswordLength 8-32
  (``InvalidParameter.MinimumPasswordLength.Range``), MaxPasswordAge 0-1095,
  PasswordReusePrevention 0-24, MaxLoginAttemps 0-32 (their ``.Range`` codes
  are guesses).
- BindMFADevice accepts any two 6-digit codes: TOTP codes are NOT verified
  against the seed (a wrong code would give ``CheckAuthenticationCodeFail``,
  403, in the real service). Non-6-digit codes give
  ``InvalidParameter.AuthenticationCode.Format``. ``QRCodePNG`` is a valid but
  blank 1x1 PNG, not a QR code. Binding a device another user holds gives
  ``EntityAlreadyExists.VirtualMFADevice.User``.
- SetAccountAlias changes this backend's alias only; ``cloud.reset()`` returns
  it to the alias LocalCloud was constructed with. GetAccountAlias answers ""
  when no alias is set. No ClearAccountAlias.
- UpdateAccessKey with a Status other than Active/Inactive gives
  ``InvalidParameter.Status`` (guess).
- ``minted_credentials()`` returns every AccessKeySecret ever created, every
  password ever set and every MFA seed ever issued, deleted or not.
- Not modelled: custom policy documents and versions, roles, user tags, group
  policies, LastLoginDate (never returned), the 403 NoPermission / Inactive
  answers, XML responses.
"""
import base64
import itertools
import re
import secrets
import string
import threading
from datetime import datetime, timezone

from . import exceptions as err

NAME_RE = re.compile(r"^[A-Za-z0-9._-]+\Z")
MFA_NAME_RE = re.compile(r"^[A-Za-z0-9.-]+\Z")
POLICY_NAME_RE = re.compile(r"^[A-Za-z0-9-]+\Z")
MOBILE_RE = re.compile(r"^[0-9]{1,4}-[0-9]{4,20}\Z")
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\Z")
ALIAS_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*\Z")
AUTH_CODE_RE = re.compile(r"^[0-9]{6}\Z")
SYMBOLS = set(string.punctuation)
ACCESS_KEY_STATUSES = ("Active", "Inactive")
POLICY_TYPES = ("System", "Custom")

# A blank 1x1 PNG: the real QRCodePNG is a base64 PNG of the otpauth:// QR code.
BLANK_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")

SYSTEM_POLICIES = {
    "AdministratorAccess": "Provides full access to Alibaba Cloud services and resources.",
    "ReadOnlyAccess": "Provides read-only access to Alibaba Cloud services and resources.",
    "AliyunRAMFullAccess": "Provides full access to Resource Access Management (RAM).",
    "AliyunRAMReadOnlyAccess": "Provides read-only access to Resource Access Management (RAM).",
    "AliyunARMSFullAccess": "Provides full access to Application Real-Time Monitoring Service (ARMS).",
    "AliyunARMSReadOnlyAccess": "Provides read-only access to Application Real-Time Monitoring Service (ARMS).",
    "AliyunKMSFullAccess": "Provides full access to Key Management Service (KMS).",
    "AliyunECSFullAccess": "Provides full access to Elastic Compute Service (ECS).",
}

DEFAULT_PASSWORD_POLICY = {
    "MinimumPasswordLength": 8,
    "RequireLowercaseCharacters": True,
    "RequireUppercaseCharacters": True,
    "RequireNumbers": True,
    "RequireSymbols": False,
    "HardExpiry": False,
    "MaxPasswordAge": 0,
    "PasswordReusePrevention": 0,
    "MaxLoginAttemps": 5,
}
PASSWORD_POLICY_RANGES = {"MinimumPasswordLength": (8, 32), "MaxPasswordAge": (0, 1095),
                          "PasswordReusePrevention": (0, 24), "MaxLoginAttemps": (0, 32)}

DEFAULT_QUOTAS = {"users": 1000, "access_keys_per_user": 2, "groups_per_user": 5,
                  "system_policies_per_user": 20, "custom_policies_per_user": 5, "virtual_mfa_devices": 100}

_ALNUM = string.ascii_letters + string.digits
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _random(alphabet, n):
    return "".join(secrets.choice(alphabet) for _ in range(n))


# -- validation (pure) --------------------------------------------------------
def check_name(value, param, max_len=64, pattern=NAME_RE):
    if not 1 <= len(value) <= max_len:
        raise err.too_long(param)
    if not pattern.match(value):
        raise err.invalid_chars(param)
    return value


def check_length(value, param, max_len=128):
    if value is not None and len(value) > max_len:
        raise err.too_long(param)
    return value


def check_format(value, param, pattern):
    if value is not None and not pattern.match(value):
        raise err.bad_format(param)
    return value


class RamBackend:
    """RAM for one account. ``users`` maps UserName to the user as GetUser returns it."""

    def __init__(self, account):
        self.account = account
        self.lock = threading.RLock()
        self.alias = account.alias or ""
        self.quotas = dict(DEFAULT_QUOTAS)
        self.password_policy = dict(DEFAULT_PASSWORD_POLICY)
        self.users = {}            # UserName -> user dict (wire fields)
        self._keys = {}            # AccessKeyId -> key record (with secret and UserId)
        self._login_profiles = {}  # UserId -> {PasswordResetRequired, MFABindRequired, CreateDate}
        self._user_policies = {}   # UserId -> {(PolicyType, PolicyName): AttachDate}
        self._groups = {}          # GroupName -> group dict
        self._memberships = {}     # UserId -> {GroupName: JoinDate}
        self._mfa_devices = {}     # SerialNumber -> {SerialNumber, Name, Base32StringSeed, UserId, CreateDate}
        self._policies = {("System", name): {"PolicyName": name, "PolicyType": "System", "Description": text,
                                             "DefaultVersion": "v1"}
                          for name, text in SYSTEM_POLICIES.items()}
        self._ids = set()
        self._minted = []
        self._seq = itertools.count(1)

    # -- helpers -------------------------------------------------------------
    def _new_id(self):
        while True:
            value = str(10**15 + secrets.randbelow(9 * 10**15))
            if value not in self._ids:
                self._ids.add(value)
                return value

    def _user(self, user_name):
        if user_name not in self.users:
            raise err.no_user(user_name)
        return self.users[user_name]

    def _uid(self, user_name):
        return self._user(user_name)["UserId"]

    def _user_keys(self, user_id):
        return [k for k in self._keys.values() if k["UserId"] == user_id]

    def _check_password(self, password):
        pp = self.password_policy
        if (len(password) < pp["MinimumPasswordLength"]
                or (pp["RequireLowercaseCharacters"] and not any(c.islower() for c in password))
                or (pp["RequireUppercaseCharacters"] and not any(c.isupper() for c in password))
                or (pp["RequireNumbers"] and not any(c.isdigit() for c in password))
                or (pp["RequireSymbols"] and not any(c in SYMBOLS for c in password))):
            raise err.password_too_weak()

    def _policy(self, policy_type, policy_name):
        if policy_type not in POLICY_TYPES:
            raise err.policy_type()
        check_name(policy_name, "PolicyName", max_len=128, pattern=POLICY_NAME_RE)
        policy = self._policies.get((policy_type, policy_name))
        if policy is None:
            raise err.no_policy(policy_type, policy_name)
        return policy

    # -- users ---------------------------------------------------------------
    def create_user(self, user_name, display_name=None, comments=None, mobile_phone=None, email=None):
        check_name(user_name, "UserName")
        check_length(display_name, "DisplayName")
        check_length(comments, "Comments")
        check_format(mobile_phone, "MobilePhone", MOBILE_RE)
        check_format(email, "Email", EMAIL_RE)
        with self.lock:
            if user_name in self.users:
                raise err.user_exists(user_name)
            if len(self.users) >= self.quotas["users"]:
                raise err.limit("User", "The count of users beyond the current limits.")
            now = now_iso()
            user = {"UserName": user_name, "UserId": self._new_id(), "DisplayName": display_name or user_name,
                    "Email": email or "", "MobilePhone": mobile_phone or "", "Comments": comments or "",
                    "CreateDate": now, "UpdateDate": now}
            self.users[user_name] = user
            self._user_policies[user["UserId"]] = {}
            self._memberships[user["UserId"]] = {}
            return dict(user)

    def get_user(self, user_name):
        with self.lock:
            return dict(self._user(user_name))

    def update_user(self, user_name, new_user_name=None, new_display_name=None, new_comments=None,
                    new_mobile_phone=None, new_email=None):
        if new_user_name is not None:
            check_name(new_user_name, "NewUserName")
        check_length(new_display_name, "NewDisplayName")
        check_length(new_comments, "NewComments")
        check_format(new_mobile_phone, "NewMobilePhone", MOBILE_RE)
        check_format(new_email, "NewEmail", EMAIL_RE)
        with self.lock:
            user = self._user(user_name)
            if new_user_name is not None and new_user_name != user_name:
                if new_user_name in self.users:
                    raise err.user_exists(new_user_name)
                del self.users[user_name]
                user["UserName"] = new_user_name
                self.users[new_user_name] = user
            for field, value in (("DisplayName", new_display_name), ("Comments", new_comments),
                                 ("MobilePhone", new_mobile_phone), ("Email", new_email)):
                if value is not None:
                    user[field] = value
            user["UpdateDate"] = now_iso()
            return dict(user)

    def delete_user(self, user_name):
        with self.lock:
            uid = self._uid(user_name)
            if self._user_policies[uid]:
                raise err.delete_conflict("Policy")
            if self._memberships[uid]:
                raise err.delete_conflict("Group")
            if self._user_keys(uid):
                raise err.delete_conflict("AccessKey")
            if uid in self._login_profiles:
                raise err.delete_conflict("LoginProfile")
            if any(d["UserId"] == uid for d in self._mfa_devices.values()):
                raise err.delete_conflict("MFADevice")
            del self.users[user_name]
            del self._user_policies[uid]
            del self._memberships[uid]

    def list_users(self, marker=None, max_items=100):
        after = ""
        if marker is not None:
            try:
                after = base64.urlsafe_b64decode(marker.encode("ascii")).decode("utf-8")
            except (ValueError, UnicodeError):
                raise err.invalid_marker() from None
            if not after.startswith("u:"):
                raise err.invalid_marker()
            after = after[2:]
        with self.lock:
            names = sorted(n for n in self.users if n > after)
            page = [dict(self.users[n]) for n in names[:max_items]]
        truncated = len(names) > max_items
        next_marker = base64.urlsafe_b64encode(("u:" + page[-1]["UserName"]).encode()).decode() if truncated else ""
        return page, truncated, next_marker

    # -- login profiles --------------------------------------------------------
    def create_login_profile(self, user_name, password, password_reset_required=False, mfa_bind_required=False):
        with self.lock:
            uid = self._uid(user_name)
            if uid in self._login_profiles:
                raise err.login_profile_exists(user_name)
            self._check_password(password)
            self._minted.append(password)
            profile = {"PasswordResetRequired": bool(password_reset_required),
                       "MFABindRequired": bool(mfa_bind_required), "CreateDate": now_iso()}
            self._login_profiles[uid] = profile
            return dict(profile, UserName=user_name)

    def get_login_profile(self, user_name):
        with self.lock:
            uid = self._uid(user_name)
            if uid not in self._login_profiles:
                raise err.no_login_profile(user_name)
            return dict(self._login_profiles[uid], UserName=user_name)

    def update_login_profile(self, user_name, password=None, password_reset_required=None, mfa_bind_required=None):
        with self.lock:
            uid = self._uid(user_name)
            profile = self._login_profiles.get(uid)
            if profile is None:
                raise err.no_login_profile(user_name)
            if password is not None:
                self._check_password(password)
                self._minted.append(password)
            if password_reset_required is not None:
                profile["PasswordResetRequired"] = password_reset_required
            if mfa_bind_required is not None:
                profile["MFABindRequired"] = mfa_bind_required

    def delete_login_profile(self, user_name):
        with self.lock:
            uid = self._uid(user_name)
            if self._login_profiles.pop(uid, None) is None:
                raise err.no_login_profile(user_name)

    # -- access keys -----------------------------------------------------------
    def create_access_key(self, user_name):
        with self.lock:
            uid = self._uid(user_name)
            if len(self._user_keys(uid)) >= self.quotas["access_keys_per_user"]:
                raise err.limit("User.AccessKey",
                                "The access key count of the user access keys beyond the current limits.")
            while True:
                key_id = "LTAI5t" + _random(_ALNUM, 18)
                if key_id not in self._keys:
                    break
            secret = _random(_ALNUM, 30)
            self._minted.append(secret)
            key = {"AccessKeyId": key_id, "AccessKeySecret": secret, "Status": "Active",
                   "CreateDate": now_iso(), "UserId": uid}
            self._keys[key_id] = key
            return {k: key[k] for k in ("AccessKeyId", "AccessKeySecret", "Status", "CreateDate")}

    def _key(self, user_name, key_id):
        uid = self._uid(user_name)
        key = self._keys.get(key_id)
        if key is None or key["UserId"] != uid:
            raise err.no_access_key(key_id)
        return key

    def update_access_key(self, user_name, key_id, status):
        if status not in ACCESS_KEY_STATUSES:
            raise err.invalid_value("Status", "Active | Inactive")
        with self.lock:
            self._key(user_name, key_id)["Status"] = status

    def delete_access_key(self, user_name, key_id):
        with self.lock:
            self._key(user_name, key_id)
            del self._keys[key_id]

    def list_access_keys(self, user_name):
        with self.lock:
            uid = self._uid(user_name)
            return [{k: key[k] for k in ("AccessKeyId", "Status", "CreateDate")} for key in self._user_keys(uid)]

    # -- policies ----------------------------------------------------------------
    def add_custom_policy(self, policy_name, description=""):
        """Test helper: a Custom policy (there is no CreatePolicy action here)."""
        with self.lock:
            self._policies[("Custom", policy_name)] = {"PolicyName": policy_name, "PolicyType": "Custom",
                                                      "Description": description, "DefaultVersion": "v1"}

    def attach_policy_to_user(self, policy_type, policy_name, user_name):
        with self.lock:
            policy = self._policy(policy_type, policy_name)
            uid = self._uid(user_name)
            attached = self._user_policies[uid]
            if (policy_type, policy_name) in attached:
                raise err.user_policy_exists(policy_name)
            quota = self.quotas["system_policies_per_user" if policy_type == "System" else "custom_policies_per_user"]
            if sum(1 for t, _ in attached if t == policy_type) >= quota:
                raise err.limit("User.Policy", "The policy count of the user attached policies beyond the current "
                                               "limits.")
            attached[(policy["PolicyType"], policy["PolicyName"])] = now_iso()

    def detach_policy_from_user(self, policy_type, policy_name, user_name):
        with self.lock:
            self._policy(policy_type, policy_name)
            uid = self._uid(user_name)
            if self._user_policies[uid].pop((policy_type, policy_name), None) is None:
                raise err.no_user_policy(policy_name)

    def list_policies_for_user(self, user_name):
        with self.lock:
            uid = self._uid(user_name)
            return [dict(self._policies[key], AttachDate=date) for key, date in self._user_policies[uid].items()]

    # -- groups ------------------------------------------------------------------
    def create_group(self, group_name, comments=None):
        check_name(group_name, "GroupName")
        check_length(comments, "Comments")
        with self.lock:
            if group_name in self._groups:
                raise err.group_exists(group_name)
            group = {"GroupName": group_name, "GroupId": self._new_id(), "Comments": comments or "",
                     "CreateDate": now_iso()}
            self._groups[group_name] = group
            return dict(group)

    def _group(self, group_name):
        if group_name not in self._groups:
            raise err.no_group(group_name)
        return self._groups[group_name]

    def add_user_to_group(self, user_name, group_name):
        with self.lock:
            uid = self._uid(user_name)
            self._group(group_name)
            joined = self._memberships[uid]
            if group_name in joined:
                raise err.user_group_exists(user_name, group_name)
            if len(joined) >= self.quotas["groups_per_user"]:
                raise err.limit("User.Group", "The count of groups the target user joined beyond the current limits.")
            joined[group_name] = now_iso()

    def remove_user_from_group(self, user_name, group_name):
        with self.lock:
            uid = self._uid(user_name)
            self._group(group_name)
            if self._memberships[uid].pop(group_name, None) is None:
                raise err.no_user_group(user_name, group_name)

    def list_groups_for_user(self, user_name):
        with self.lock:
            uid = self._uid(user_name)
            return [{"GroupName": g, "GroupId": self._groups[g]["GroupId"], "Comments": self._groups[g]["Comments"],
                     "JoinDate": date} for g, date in self._memberships[uid].items()]

    # -- MFA -----------------------------------------------------------------------
    def _serial(self, name):
        return f"acs:ram::{self.account.account_id}:mfa/{name}"

    def create_virtual_mfa_device(self, name):
        check_name(name, "VirtualMFADeviceName", pattern=MFA_NAME_RE)
        with self.lock:
            serial = self._serial(name)
            if serial in self._mfa_devices:
                raise err.mfa_device_exists(name)
            if len(self._mfa_devices) >= self.quotas["virtual_mfa_devices"]:
                raise err.limit("VirtualMFADevice", "The count of virtual mfa devices beyond the current limits.")
            seed = _random(_BASE32, 64)
            self._minted.append(seed)
            self._mfa_devices[serial] = {"SerialNumber": serial, "Name": name, "Base32StringSeed": seed,
                                         "UserId": None, "CreateDate": now_iso()}
            return {"SerialNumber": serial, "Base32StringSeed": seed, "QRCodePNG": BLANK_PNG}

    def _device(self, serial):
        if serial not in self._mfa_devices:
            raise err.no_mfa_device(serial)
        return self._mfa_devices[serial]

    def bind_mfa_device(self, serial, user_name, code1, code2):
        if not (AUTH_CODE_RE.match(code1) and AUTH_CODE_RE.match(code2)):
            raise err.authentication_code_format()
        with self.lock:
            uid = self._uid(user_name)
            device = self._device(serial)
            if any(d["UserId"] == uid for d in self._mfa_devices.values()):
                raise err.user_mfa_exists(user_name)
            if device["UserId"] is not None:
                raise err.mfa_device_bound(serial)
            device["UserId"] = uid   # codes are not checked against the TOTP seed (see module docstring)

    def _bound_device(self, user_name):
        uid = self._uid(user_name)
        for device in self._mfa_devices.values():
            if device["UserId"] == uid:
                return device
        raise err.no_user_mfa(user_name)

    def get_user_mfa_info(self, user_name):
        with self.lock:
            return {"SerialNumber": self._bound_device(user_name)["SerialNumber"], "Type": "VMFA"}

    def unbind_mfa_device(self, user_name):
        with self.lock:
            device = self._bound_device(user_name)
            device["UserId"] = None
            return {"SerialNumber": device["SerialNumber"]}

    def delete_virtual_mfa_device(self, serial):
        with self.lock:
            device = self._device(serial)
            if device["UserId"] is not None:
                raise err.mfa_delete_conflict(serial)
            del self._mfa_devices[serial]

    # -- account -------------------------------------------------------------------
    def get_account_alias(self):
        with self.lock:
            return self.alias

    def set_account_alias(self, alias):
        if not 3 <= len(alias) <= 32:
            raise err.account_alias_length()
        if not ALIAS_RE.match(alias):
            raise err.account_alias_format()
        with self.lock:
            self.alias = alias

    def get_password_policy(self):
        with self.lock:
            return dict(self.password_policy)

    def set_password_policy(self, **values):
        policy = dict(DEFAULT_PASSWORD_POLICY)
        for name, value in values.items():
            if value is None:
                continue
            if name in PASSWORD_POLICY_RANGES:
                low, high = PASSWORD_POLICY_RANGES[name]
                if not low <= value <= high:
                    raise err.out_of_range(name, low, high)
            policy[name] = value
        with self.lock:
            self.password_policy = policy
            return dict(policy)

    # -- inspection (tests) -------------------------------------------------------
    def minted_credentials(self):
        """Every AccessKeySecret created, password set and MFA seed issued (leak checks)."""
        with self.lock:
            return list(self._minted)

    def access_keys(self, user_name):
        """The user's AccessKeys (id, status, date; no secret); [] if the user does not exist."""
        with self.lock:
            if user_name not in self.users:
                return []
            return self.list_access_keys(user_name)

    def access_key_owner(self, access_key_id):
        """UserName owning ``access_key_id``, or None."""
        with self.lock:
            key = self._keys.get(access_key_id)
            if key is None:
                return None
            return next((n for n, u in self.users.items() if u["UserId"] == key["UserId"]), None)

    def user_state(self, user_name):
        """Everything attached to a user as plain data, or None if it does not exist."""
        with self.lock:
            user = self.users.get(user_name)
            if user is None:
                return None
            uid = user["UserId"]
            device = next((d for d in self._mfa_devices.values() if d["UserId"] == uid), None)
            profile = self._login_profiles.get(uid)
            return {
                "user": dict(user),
                "policies": sorted(name for _, name in self._user_policies[uid]),
                "policy_types": {name: ptype for ptype, name in self._user_policies[uid]},
                "groups": sorted(self._memberships[uid]),
                "access_keys": [{"AccessKeyId": k["AccessKeyId"], "Status": k["Status"]} for k in self._user_keys(uid)],
                "login_profile": profile is not None,
                "login_profile_settings": dict(profile) if profile else None,
                "mfa_bound": device is not None,
                "mfa_serial": device["SerialNumber"] if device else None,
            }

    def groups(self):
        with self.lock:
            return {name: dict(g) for name, g in self._groups.items()}

    def mfa_devices(self):
        with self.lock:
            return {s: {k: v for k, v in d.items() if k != "Base32StringSeed"} for s, d in self._mfa_devices.items()}
