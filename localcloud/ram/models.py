"""RAM 2015-05-01 state and semantics.

moto-style: the state is dataclasses (``User``, ``AccessKey``, ``LoginProfile``,
``Group``, ``MfaDevice``, ``Policy``, ``PolicyVersion``, ``Role``, ``PasswordPolicy``) holding Python values
(times are epoch seconds from the cloud's clock); ``responses.py`` shapes the
wire JSON and ``exceptions.py`` holds the error codes.

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
- Policies: a fixed System catalogue (``SYSTEM_POLICIES``, each with one
  placeholder document ``v1``: the real texts are not modelled) plus Custom
  policies (CreatePolicy, or ``backend.add_custom_policy`` in tests). Unknown
  policy -> ``EntityNotExist.Policy``; PolicyType other than System/Custom ->
  ``InvalidParameter.PolicyType``.
- Roles and custom policies (issue 13, ``hrctl setup``): RoleName 1-64 of
  letters, digits, ``.``, ``-``; a role's Arn is ``acs:ram::<account>:role/<name
  in lower case>``; MaxSessionDuration 3600-43200 (``.Range``, guess). Policy
  and trust documents must be JSON objects with a ``Statement`` list
  (``InvalidParameter.<Param>.Format``, guess; statements are not validated
  further); PolicyDocument 1-6144 characters. A Custom policy keeps at most 5
  versions: a sixth is ``LimitExceeded.Policy.Version`` unless RotateStrategy
  is ``DeleteOldestNonDefaultVersionWhenLimitExceeded`` (the oldest non-default
  one goes); version ids ``v<n>`` are never reused; the default version cannot
  be deleted (``DeleteConflict.Policy.Version``); a missing one is
  ``EntityNotExist.Policy.Version`` (guess). ListPolicyVersions lists newest
  first; ListPolicies orders by type then name, ListGroups / ListRoles /
  ListUsersForGroup by name, all with ListUsers' opaque markers. DeleteGroup
  refuses while the group has members (``DeleteConflict.Group.User``) or
  policies (``DeleteConflict.Group.Policy``). No quotas on groups' or roles'
  policies, roles or custom policies; no DeletePolicy / DeleteRole.
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
- Not modelled: user tags, STS (roles are never assumed), XML responses.
- Usage (issue 13, the daily audit): ``LastLoginDate`` is returned by GetUser
  only once set (there is no console logon here: tests set it, ``set_last_login``
  or the control API); ListUsers never returns it (its schema has no such field).
  An AccessKey's last use is recorded whenever the gateway authenticates a call
  signed with it (``localcloud/userkeys.py``: RAM-minted keys are gateway
  credentials); ``GetAccessKeyLastUsed`` answers ``AccessKeyLastUsed.LastUsedDate``,
  or ``AccessKeyLastUsed: {}`` for a key never used (our reading: the reference
  shows no example of a never-used key). Its error codes are those of the other
  AccessKey actions (``EntityNotExist.User``, ``EntityNotExist.User.AccessKey``).
  A RAM-minted key may do what its user's and its groups' system policies allow
  (``localcloud/userkeys.py``), plus what a test attached to the user
  (``LocalCloud.attach_user_policy``); an Inactive key is refused
  (``InvalidAccessKeyId.Inactive``).
"""
import base64
import json
import re
import secrets
import string
import threading
from dataclasses import dataclass, field, fields, replace

from ..clock import Clock, iso, timestamp
from ..state import plain
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
ROLE_NAME_RE = re.compile(r"^[A-Za-z0-9.-]+\Z")
MAX_POLICY_VERSIONS = 5
POLICY_DOCUMENT_MAX = 6144
ROLE_SESSION_RANGE = (3600, 43200)
ROTATE_STRATEGIES = ("None", "DeleteOldestNonDefaultVersionWhenLimitExceeded")
SYSTEM_POLICY_TIME = 1420070400.0      # 2015-01-01T00:00:00Z: the catalogue predates every account here

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

PASSWORD_POLICY_RANGES = {"minimum_password_length": (8, 32), "max_password_age": (0, 1095),
                          "password_reuse_prevention": (0, 24), "max_login_attemps": (0, 32)}

DEFAULT_QUOTAS = {"users": 1000, "access_keys_per_user": 2, "groups_per_user": 5,
                  "system_policies_per_user": 20, "custom_policies_per_user": 5, "virtual_mfa_devices": 100}

_ALNUM = string.ascii_letters + string.digits
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _random(alphabet, n):
    return "".join(secrets.choice(alphabet) for _ in range(n))


# -- models ---------------------------------------------------------------------------
class _ApiNames:
    """Read-only ``model["ApiName"]``: the backend used to return wire dicts and older tests index
    them (``cloud.ram.create_access_key("u")["AccessKeyId"]``). New code reads the attributes."""

    def _api(self):
        raise NotImplementedError

    def __getitem__(self, name):
        return self._api()[name]

    def get(self, name, default=None):
        return self._api().get(name, default)


@dataclass
class AccessKey(_ApiNames):
    access_key_id: str
    secret: str
    created: float
    status: str = "Active"
    last_used: float = None       # when the gateway last authenticated a call signed with it

    def _api(self):
        return {"AccessKeyId": self.access_key_id, "AccessKeySecret": self.secret, "Status": self.status,
                "CreateDate": iso(self.created)}


@dataclass
class LoginProfile:
    password: str
    created: float
    password_reset_required: bool = False
    mfa_bind_required: bool = False


@dataclass
class User(_ApiNames):
    user_name: str
    user_id: str
    created: float
    updated: float
    display_name: str = ""
    email: str = ""
    mobile_phone: str = ""
    comments: str = ""
    access_keys: dict = field(default_factory=dict)    # AccessKeyId -> AccessKey, in creation order
    login_profile: LoginProfile = None
    policies: dict = field(default_factory=dict)       # (PolicyType, PolicyName) -> attach time
    groups: dict = field(default_factory=dict)         # GroupName -> join time
    last_login: float = None                           # LastLoginDate (set by tests: no console here)

    def view(self):
        """The user's fields under their API names (GetUser's), for inspection."""
        return {"UserName": self.user_name, "UserId": self.user_id, "DisplayName": self.display_name,
                "Email": self.email, "MobilePhone": self.mobile_phone, "Comments": self.comments,
                "CreateDate": iso(self.created), "UpdateDate": iso(self.updated)}

    _api = view


@dataclass
class Group(_ApiNames):
    group_name: str
    group_id: str
    created: float
    comments: str = ""

    def _api(self):
        return {"GroupName": self.group_name, "GroupId": self.group_id, "Comments": self.comments,
                "CreateDate": iso(self.created)}


@dataclass
class MfaDevice(_ApiNames):
    serial_number: str
    name: str
    seed: str
    created: float
    user_id: str = None           # the user it is bound to

    def _api(self):
        return {"SerialNumber": self.serial_number, "Base32StringSeed": self.seed}


@dataclass
class PolicyVersion:
    version_id: str
    document: str
    created: float


@dataclass
class Policy:
    policy_name: str
    policy_type: str
    description: str = ""
    default_version: str = "v1"
    created: float = 0.0
    updated: float = 0.0
    versions: dict = field(default_factory=dict)     # VersionId -> PolicyVersion, oldest first
    next_version: int = 2                            # version ids are never reused


@dataclass
class Role(_ApiNames):
    role_name: str
    role_id: str
    arn: str
    created: float
    updated: float
    assume_role_policy_document: str
    description: str = ""
    max_session_duration: int = 3600
    policies: dict = field(default_factory=dict)     # (PolicyType, PolicyName) -> attach time

    def _api(self):
        return {"RoleName": self.role_name, "RoleId": self.role_id, "Arn": self.arn,
                "Description": self.description, "AssumeRolePolicyDocument": self.assume_role_policy_document,
                "MaxSessionDuration": self.max_session_duration, "CreateDate": iso(self.created),
                "UpdateDate": iso(self.updated)}


@dataclass
class PasswordPolicy:
    minimum_password_length: int = 8
    require_lowercase_characters: bool = True
    require_uppercase_characters: bool = True
    require_numbers: bool = True
    require_symbols: bool = False
    hard_expiry: bool = False
    max_password_age: int = 0
    password_reuse_prevention: int = 0
    max_login_attemps: int = 5      # sic: the API's spelling

    def accepts(self, password):
        return not (len(password) < self.minimum_password_length
                    or (self.require_lowercase_characters and not any(c.islower() for c in password))
                    or (self.require_uppercase_characters and not any(c.isupper() for c in password))
                    or (self.require_numbers and not any(c.isdigit() for c in password))
                    or (self.require_symbols and not any(c in SYMBOLS for c in password)))


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
    """RAM for one account. ``users`` maps UserName to its ``User``.

    Actions return copies taken under the lock (``replace``: the scalar fields; responses read
    nothing else), so an answer is the state at the moment the action ran, whatever changes
    while the response is shaped.
    """

    def __init__(self, account, clock=None):
        self.account = account
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self.alias = account.alias or ""
        self.quotas = dict(DEFAULT_QUOTAS)
        self.password_policy = PasswordPolicy()
        self.users = {}            # UserName -> User
        self.groups_by_name = {}   # GroupName -> Group
        self.mfa_by_serial = {}    # SerialNumber -> MfaDevice
        self.policies = {("System", name): _system_policy(name, text) for name, text in SYSTEM_POLICIES.items()}
        self.group_policies = {}   # GroupName -> {(PolicyType, PolicyName): attach time}
        self.roles = {}            # RoleName -> Role
        self._key_owner = {}       # AccessKeyId -> User (ids are unique across the account)
        self._ids = set()
        self._minted = []

    # -- helpers -------------------------------------------------------------
    def _now(self):
        return timestamp(self.clock)

    def _new_id(self):
        while True:
            value = str(10**15 + secrets.randbelow(9 * 10**15))
            if value not in self._ids:
                self._ids.add(value)
                return value

    def _user(self, user_name):
        user = self.users.get(user_name)
        if user is None:
            raise err.no_user(user_name)
        return user

    def _check_password(self, password):
        if not self.password_policy.accepts(password):
            raise err.password_too_weak()

    def _policy(self, policy_type, policy_name):
        if policy_type not in POLICY_TYPES:
            raise err.policy_type()
        check_name(policy_name, "PolicyName", max_len=128, pattern=POLICY_NAME_RE)
        policy = self.policies.get((policy_type, policy_name))
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
            now = self._now()
            user = User(user_name=user_name, user_id=self._new_id(), created=now, updated=now,
                        display_name=display_name or user_name, email=email or "",
                        mobile_phone=mobile_phone or "", comments=comments or "")
            self.users[user_name] = user
            return replace(user)

    def get_user(self, user_name):
        with self.lock:
            return replace(self._user(user_name))

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
                user.user_name = new_user_name
                self.users[new_user_name] = user
            if new_display_name is not None:
                user.display_name = new_display_name
            if new_comments is not None:
                user.comments = new_comments
            if new_mobile_phone is not None:
                user.mobile_phone = new_mobile_phone
            if new_email is not None:
                user.email = new_email
            user.updated = self._now()
            return replace(user)

    def delete_user(self, user_name):
        with self.lock:
            user = self._user(user_name)
            if user.policies:
                raise err.delete_conflict("Policy")
            if user.groups:
                raise err.delete_conflict("Group")
            if user.access_keys:
                raise err.delete_conflict("AccessKey")
            if user.login_profile is not None:
                raise err.delete_conflict("LoginProfile")
            if self._bound_device_of(user) is not None:
                raise err.delete_conflict("MFADevice")
            del self.users[user_name]

    def list_users(self, marker=None, max_items=100):
        """``(users, truncated, next_marker)``: a page of users by UserName."""
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
            page = [replace(self.users[n]) for n in names[:max_items]]
        truncated = len(names) > max_items
        next_marker = base64.urlsafe_b64encode(("u:" + page[-1].user_name).encode()).decode() if truncated else ""
        return page, truncated, next_marker

    # -- login profiles --------------------------------------------------------
    def create_login_profile(self, user_name, password, password_reset_required=False, mfa_bind_required=False):
        with self.lock:
            user = self._user(user_name)
            if user.login_profile is not None:
                raise err.login_profile_exists(user_name)
            self._check_password(password)
            self._minted.append(password)
            user.login_profile = LoginProfile(password=password, created=self._now(),
                                              password_reset_required=bool(password_reset_required),
                                              mfa_bind_required=bool(mfa_bind_required))
            return replace(user), replace(user.login_profile)

    def get_login_profile(self, user_name):
        with self.lock:
            user = self._user(user_name)
            if user.login_profile is None:
                raise err.no_login_profile(user_name)
            return replace(user), replace(user.login_profile)

    def update_login_profile(self, user_name, password=None, password_reset_required=None, mfa_bind_required=None):
        with self.lock:
            user = self._user(user_name)
            profile = user.login_profile
            if profile is None:
                raise err.no_login_profile(user_name)
            if password is not None:
                self._check_password(password)
                self._minted.append(password)
                profile.password = password
            if password_reset_required is not None:
                profile.password_reset_required = password_reset_required
            if mfa_bind_required is not None:
                profile.mfa_bind_required = mfa_bind_required

    def delete_login_profile(self, user_name):
        with self.lock:
            user = self._user(user_name)
            if user.login_profile is None:
                raise err.no_login_profile(user_name)
            user.login_profile = None

    # -- access keys -----------------------------------------------------------
    def create_access_key(self, user_name):
        with self.lock:
            user = self._user(user_name)
            if len(user.access_keys) >= self.quotas["access_keys_per_user"]:
                raise err.limit("User.AccessKey",
                                "The access key count of the user access keys beyond the current limits.")
            while True:
                key_id = "LTAI5t" + _random(_ALNUM, 18)
                if key_id not in self._key_owner:
                    break
            secret = _random(_ALNUM, 30)
            self._minted.append(secret)
            key = AccessKey(access_key_id=key_id, secret=secret, created=self._now())
            user.access_keys[key_id] = key
            self._key_owner[key_id] = user
            return replace(key)

    def _key(self, user_name, key_id):
        user = self._user(user_name)
        key = user.access_keys.get(key_id)
        if key is None:
            raise err.no_access_key(key_id)
        return user, key

    def update_access_key(self, user_name, key_id, status):
        if status not in ACCESS_KEY_STATUSES:
            raise err.invalid_value("Status", "Active | Inactive")
        with self.lock:
            self._key(user_name, key_id)[1].status = status

    def delete_access_key(self, user_name, key_id):
        with self.lock:
            user, _ = self._key(user_name, key_id)
            del user.access_keys[key_id]
            del self._key_owner[key_id]

    def list_access_keys(self, user_name):
        with self.lock:
            return [replace(k) for k in self._user(user_name).access_keys.values()]

    # -- policies ----------------------------------------------------------------
    def add_custom_policy(self, policy_name, description=""):
        """Test helper: a Custom policy with a placeholder document (CreatePolicy is the API's way)."""
        with self.lock:
            now = self._now()
            self.policies[("Custom", policy_name)] = Policy(
                policy_name, "Custom", description, created=now, updated=now,
                versions={"v1": PolicyVersion("v1", _placeholder_document(policy_name), now)})

    def attach_policy_to_user(self, policy_type, policy_name, user_name):
        with self.lock:
            policy = self._policy(policy_type, policy_name)
            user = self._user(user_name)
            if (policy_type, policy_name) in user.policies:
                raise err.user_policy_exists(policy_name)
            quota = self.quotas["system_policies_per_user" if policy_type == "System" else "custom_policies_per_user"]
            if sum(1 for t, _ in user.policies if t == policy_type) >= quota:
                raise err.limit("User.Policy", "The policy count of the user attached policies beyond the current "
                                               "limits.")
            user.policies[(policy.policy_type, policy.policy_name)] = self._now()

    def detach_policy_from_user(self, policy_type, policy_name, user_name):
        with self.lock:
            self._policy(policy_type, policy_name)
            user = self._user(user_name)
            if user.policies.pop((policy_type, policy_name), None) is None:
                raise err.no_user_policy(policy_name)

    def list_policies_for_user(self, user_name):
        """``[(Policy, attach time)]`` in attachment order."""
        with self.lock:
            return [(replace(self.policies[key]), attached) for key, attached in self._user(user_name).policies.items()]

    # -- groups ------------------------------------------------------------------
    def create_group(self, group_name, comments=None):
        check_name(group_name, "GroupName")
        check_length(comments, "Comments")
        with self.lock:
            if group_name in self.groups_by_name:
                raise err.group_exists(group_name)
            group = Group(group_name=group_name, group_id=self._new_id(), created=self._now(),
                          comments=comments or "")
            self.groups_by_name[group_name] = group
            return replace(group)

    def _group(self, group_name):
        group = self.groups_by_name.get(group_name)
        if group is None:
            raise err.no_group(group_name)
        return group

    def add_user_to_group(self, user_name, group_name):
        with self.lock:
            user = self._user(user_name)
            self._group(group_name)
            if group_name in user.groups:
                raise err.user_group_exists(user_name, group_name)
            if len(user.groups) >= self.quotas["groups_per_user"]:
                raise err.limit("User.Group", "The count of groups the target user joined beyond the current limits.")
            user.groups[group_name] = self._now()

    def remove_user_from_group(self, user_name, group_name):
        with self.lock:
            user = self._user(user_name)
            self._group(group_name)
            if user.groups.pop(group_name, None) is None:
                raise err.no_user_group(user_name, group_name)

    def list_groups_for_user(self, user_name):
        """``[(Group, join time)]`` in joining order."""
        with self.lock:
            return [(replace(self.groups_by_name[g]), joined) for g, joined in self._user(user_name).groups.items()]

    # -- MFA -----------------------------------------------------------------------
    def _serial(self, name):
        return f"acs:ram::{self.account.account_id}:mfa/{name}"

    def create_virtual_mfa_device(self, name):
        check_name(name, "VirtualMFADeviceName", pattern=MFA_NAME_RE)
        with self.lock:
            serial = self._serial(name)
            if serial in self.mfa_by_serial:
                raise err.mfa_device_exists(name)
            if len(self.mfa_by_serial) >= self.quotas["virtual_mfa_devices"]:
                raise err.limit("VirtualMFADevice", "The count of virtual mfa devices beyond the current limits.")
            seed = _random(_BASE32, 64)
            self._minted.append(seed)
            device = MfaDevice(serial_number=serial, name=name, seed=seed, created=self._now())
            self.mfa_by_serial[serial] = device
            return replace(device)

    def _device(self, serial):
        device = self.mfa_by_serial.get(serial)
        if device is None:
            raise err.no_mfa_device(serial)
        return device

    def _bound_device_of(self, user):
        return next((d for d in self.mfa_by_serial.values() if d.user_id == user.user_id), None)

    def bind_mfa_device(self, serial, user_name, code1, code2):
        if not (AUTH_CODE_RE.match(code1) and AUTH_CODE_RE.match(code2)):
            raise err.authentication_code_format()
        with self.lock:
            user = self._user(user_name)
            device = self._device(serial)
            if self._bound_device_of(user) is not None:
                raise err.user_mfa_exists(user_name)
            if device.user_id is not None:
                raise err.mfa_device_bound(serial)
            device.user_id = user.user_id   # codes are not checked against the TOTP seed (see module docstring)

    def _bound_device(self, user_name):
        device = self._bound_device_of(self._user(user_name))
        if device is None:
            raise err.no_user_mfa(user_name)
        return device

    def get_user_mfa_info(self, user_name):
        with self.lock:
            return replace(self._bound_device(user_name))

    def unbind_mfa_device(self, user_name):
        with self.lock:
            device = self._bound_device(user_name)
            device.user_id = None
            return replace(device)

    def delete_virtual_mfa_device(self, serial):
        with self.lock:
            device = self._device(serial)
            if device.user_id is not None:
                raise err.mfa_delete_conflict(serial)
            del self.mfa_by_serial[serial]

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
            return replace(self.password_policy)

    def set_password_policy(self, **values):
        """``values``: PasswordPolicy fields; one left out (None) returns to its default."""
        policy = PasswordPolicy()
        for name, value in values.items():
            if value is None:
                continue
            if name in PASSWORD_POLICY_RANGES:
                low, high = PASSWORD_POLICY_RANGES[name]
                if not low <= value <= high:
                    raise err.out_of_range(_camel(name), low, high)
            setattr(policy, name, value)
        with self.lock:
            self.password_policy = policy
            return replace(policy)

    # -- groups' and roles' policies, roles, custom policies and versions (hrctl setup) ------------
    # Added for issue 13 (``hrctl setup``); kept apart from the user actions above. Choices where
    # the reference is silent are listed in the module docstring ("Roles and custom policies").
    def _paged(self, items, key, marker, max_items, kind):
        """``(page, truncated, next_marker)`` over ``items`` sorted by ``key``; the marker names the
        last item returned (as ListUsers), so deletions between pages skip or repeat nothing."""
        after = ""
        if marker is not None:
            try:
                after = base64.urlsafe_b64decode(marker.encode("ascii")).decode("utf-8")
            except (ValueError, UnicodeError):
                raise err.invalid_marker() from None
            if not after.startswith(kind + ":"):
                raise err.invalid_marker()
            after = after[len(kind) + 1:]
        ordered = sorted((i for i in items if key(i) > after), key=key)
        page = ordered[:max_items]
        truncated = len(ordered) > max_items
        next_marker = base64.urlsafe_b64encode(f"{kind}:{key(page[-1])}".encode()).decode() if truncated else ""
        return page, truncated, next_marker

    def _attachments(self, key):
        """How many users, groups and roles hold the policy ``key`` (AttachmentCount)."""
        return (sum(1 for u in self.users.values() if key in u.policies)
                + sum(1 for held in self.group_policies.values() if key in held)
                + sum(1 for r in self.roles.values() if key in r.policies))

    def _custom_policy(self, policy_name):
        check_name(policy_name, "PolicyName", max_len=128, pattern=POLICY_NAME_RE)
        policy = self.policies.get(("Custom", policy_name))
        if policy is None:
            raise err.no_policy("Custom", policy_name)
        return policy

    def _role(self, role_name):
        role = self.roles.get(role_name)
        if role is None:
            raise err.no_role(role_name)
        return role

    # groups ------------------------------------------------------------------------------
    def get_group(self, group_name):
        with self.lock:
            return replace(self._group(group_name))

    def list_groups(self, marker=None, max_items=100):
        with self.lock:
            groups = [replace(g) for g in self.groups_by_name.values()]
        return self._paged(groups, lambda g: g.group_name, marker, max_items, "g")

    def list_users_for_group(self, group_name, marker=None, max_items=100):
        """``([(User, join time)], truncated, next_marker)`` by UserName."""
        with self.lock:
            self._group(group_name)
            members = [(replace(u), u.groups[group_name]) for u in self.users.values() if group_name in u.groups]
        return self._paged(members, lambda m: m[0].user_name, marker, max_items, "u")

    def delete_group(self, group_name):
        with self.lock:
            self._group(group_name)
            if any(group_name in u.groups for u in self.users.values()):
                raise err.group_delete_conflict("User")
            if self.group_policies.get(group_name):
                raise err.group_delete_conflict("Policy")
            del self.groups_by_name[group_name]
            self.group_policies.pop(group_name, None)

    def attach_policy_to_group(self, policy_type, policy_name, group_name):
        with self.lock:
            policy = self._policy(policy_type, policy_name)
            self._group(group_name)
            held = self.group_policies.setdefault(group_name, {})
            if (policy_type, policy_name) in held:
                raise err.attached_policy_exists("Group", policy_name)
            held[(policy.policy_type, policy.policy_name)] = self._now()

    def detach_policy_from_group(self, policy_type, policy_name, group_name):
        with self.lock:
            self._policy(policy_type, policy_name)
            self._group(group_name)
            if self.group_policies.get(group_name, {}).pop((policy_type, policy_name), None) is None:
                raise err.no_attached_policy("Group", policy_name)

    def list_policies_for_group(self, group_name):
        """``[(Policy, attach time)]`` in attachment order."""
        with self.lock:
            self._group(group_name)
            return [(replace(self.policies[key]), attached)
                    for key, attached in self.group_policies.get(group_name, {}).items()]

    # roles --------------------------------------------------------------------------------
    def create_role(self, role_name, assume_role_policy_document, description=None, max_session_duration=None):
        check_name(role_name, "RoleName", pattern=ROLE_NAME_RE)
        check_length(description, "Description", max_len=1024)
        _check_document(assume_role_policy_document, "AssumeRolePolicyDocument")
        duration = _session_duration(max_session_duration, "MaxSessionDuration")
        with self.lock:
            if role_name in self.roles:
                raise err.role_exists(role_name)
            now = self._now()
            role = Role(role_name=role_name, role_id=self._new_id(),
                        arn=f"acs:ram::{self.account.account_id}:role/{role_name.lower()}", created=now,
                        updated=now, assume_role_policy_document=assume_role_policy_document,
                        description=description or "", max_session_duration=duration)
            self.roles[role_name] = role
            return replace(role)

    def get_role(self, role_name):
        with self.lock:
            return replace(self._role(role_name))

    def list_roles(self, marker=None, max_items=100):
        with self.lock:
            roles = [replace(r) for r in self.roles.values()]
        return self._paged(roles, lambda r: r.role_name, marker, max_items, "r")

    def update_role(self, role_name, new_assume_role_policy_document=None, new_description=None,
                    new_max_session_duration=None):
        if new_assume_role_policy_document is not None:
            _check_document(new_assume_role_policy_document, "NewAssumeRolePolicyDocument")
        check_length(new_description, "NewDescription", max_len=1024)
        duration = (_session_duration(new_max_session_duration, "NewMaxSessionDuration")
                    if new_max_session_duration is not None else None)
        with self.lock:
            role = self._role(role_name)
            if new_assume_role_policy_document is not None:
                role.assume_role_policy_document = new_assume_role_policy_document
            if new_description is not None:
                role.description = new_description
            if duration is not None:
                role.max_session_duration = duration
            role.updated = self._now()
            return replace(role)

    def attach_policy_to_role(self, policy_type, policy_name, role_name):
        with self.lock:
            policy = self._policy(policy_type, policy_name)
            role = self._role(role_name)
            if (policy_type, policy_name) in role.policies:
                raise err.attached_policy_exists("Role", policy_name)
            role.policies[(policy.policy_type, policy.policy_name)] = self._now()

    def detach_policy_from_role(self, policy_type, policy_name, role_name):
        with self.lock:
            self._policy(policy_type, policy_name)
            if self._role(role_name).policies.pop((policy_type, policy_name), None) is None:
                raise err.no_attached_policy("Role", policy_name)

    def list_policies_for_role(self, role_name):
        """``[(Policy, attach time)]`` in attachment order."""
        with self.lock:
            return [(replace(self.policies[key]), attached) for key, attached in self._role(role_name).policies.items()]

    # custom policies and versions ----------------------------------------------------------
    def create_policy(self, policy_name, policy_document, description=None):
        check_name(policy_name, "PolicyName", max_len=128, pattern=POLICY_NAME_RE)
        check_length(description, "Description", max_len=1024)
        _check_document(policy_document, "PolicyDocument", max_len=POLICY_DOCUMENT_MAX)
        with self.lock:
            if ("Custom", policy_name) in self.policies:
                raise err.policy_exists(policy_name)
            now = self._now()
            policy = Policy(policy_name, "Custom", description or "", default_version="v1", created=now,
                            updated=now, versions={"v1": PolicyVersion("v1", policy_document, now)})
            self.policies[("Custom", policy_name)] = policy
            return replace(policy)

    def get_policy(self, policy_type, policy_name):
        """``(Policy, its default PolicyVersion, AttachmentCount)``."""
        with self.lock:
            policy = self._policy(policy_type, policy_name)
            return (replace(policy, versions=dict(policy.versions)), replace(policy.versions[policy.default_version]),
                    self._attachments((policy.policy_type, policy.policy_name)))

    def list_policies(self, policy_type=None, marker=None, max_items=100):
        """``([(Policy, AttachmentCount)], truncated, next_marker)`` by type then name."""
        if policy_type is not None and policy_type not in POLICY_TYPES:
            raise err.policy_type()
        with self.lock:
            found = [(replace(p), self._attachments(key)) for key, p in self.policies.items()
                     if policy_type is None or p.policy_type == policy_type]
        return self._paged(found, lambda item: f"{item[0].policy_type}:{item[0].policy_name}", marker, max_items, "p")

    def create_policy_version(self, policy_name, policy_document, set_as_default=False, rotate_strategy=None):
        _check_document(policy_document, "PolicyDocument", max_len=POLICY_DOCUMENT_MAX)
        if rotate_strategy not in (None, *ROTATE_STRATEGIES):
            raise err.invalid_value("RotateStrategy", " | ".join(ROTATE_STRATEGIES))
        with self.lock:
            policy = self._custom_policy(policy_name)
            if len(policy.versions) >= MAX_POLICY_VERSIONS:
                oldest = next((v for v in policy.versions if v != policy.default_version), None)
                if rotate_strategy != "DeleteOldestNonDefaultVersionWhenLimitExceeded" or oldest is None:
                    raise err.limit("Policy.Version", "The count of versions of the policy beyond the current "
                                                      "limits.")
                del policy.versions[oldest]
            now = self._now()
            version = PolicyVersion(f"v{policy.next_version}", policy_document, now)
            policy.next_version += 1
            policy.versions[version.version_id] = version
            if set_as_default:
                policy.default_version = version.version_id
            policy.updated = now
            return replace(version), bool(set_as_default)

    def get_policy_version(self, policy_type, policy_name, version_id):
        """``(PolicyVersion, is default)``."""
        with self.lock:
            policy = self._policy(policy_type, policy_name)
            version = policy.versions.get(version_id)
            if version is None:
                raise err.no_policy_version(policy_name, version_id)
            return replace(version), version_id == policy.default_version

    def list_policy_versions(self, policy_type, policy_name):
        """``[(PolicyVersion, is default)]``, newest first."""
        with self.lock:
            policy = self._policy(policy_type, policy_name)
            return [(replace(v), v.version_id == policy.default_version) for v in reversed(policy.versions.values())]

    def delete_policy_version(self, policy_name, version_id):
        with self.lock:
            policy = self._custom_policy(policy_name)
            if version_id not in policy.versions:
                raise err.no_policy_version(policy_name, version_id)
            if version_id == policy.default_version:
                raise err.policy_version_delete_conflict(version_id)
            del policy.versions[version_id]

    def set_default_policy_version(self, policy_name, version_id):
        with self.lock:
            policy = self._custom_policy(policy_name)
            if version_id not in policy.versions:
                raise err.no_policy_version(policy_name, version_id)
            policy.default_version = version_id
            policy.updated = self._now()

    # inspection and persistence of the above -------------------------------------------------
    def group_policy_names(self, group_name):
        """The policies attached to a group, as ``[(PolicyType, PolicyName)]`` (tests)."""
        with self.lock:
            return list(self.group_policies.get(group_name, {}))

    def _snapshot_setup_state(self):
        return {"group_policies": [[g, t, n, at] for g, held in self.group_policies.items()
                                   for (t, n), at in held.items()],
                "roles": [dict(plain(r), policies=[[t, n, at] for (t, n), at in r.policies.items()])
                          for r in self.roles.values()]}

    def _restore_setup_state(self, data):
        self.group_policies = {}
        for group, ptype, name, at in data.get("group_policies", []):
            self.group_policies.setdefault(group, {})[(ptype, name)] = at
        self.roles = {}
        for raw in data.get("roles", []):
            role = Role(**{k: v for k, v in raw.items() if k != "policies"})
            role.policies = {(t, n): at for t, n, at in raw["policies"]}
            self.roles[role.role_name] = role

    # -- inspection (tests, control API) -------------------------------------------
    def minted_credentials(self):
        """Every AccessKeySecret created, password set and MFA seed issued (leak checks)."""
        with self.lock:
            return list(self._minted)

    def access_key_ids(self, user_name):
        """The user's AccessKeyIds in creation order (KMS checks RAMCredentials secrets against them)."""
        with self.lock:
            return list(self._user(user_name).access_keys)

    def access_keys(self, user_name):
        """The user's AccessKeys (id, status, date; no secret); [] if the user does not exist."""
        with self.lock:
            user = self.users.get(user_name)
            if user is None:
                return []
            return [{"AccessKeyId": k.access_key_id, "Status": k.status, "CreateDate": iso(k.created)}
                    for k in user.access_keys.values()]

    def user_state(self, user_name):
        """Everything attached to a user as plain data (no credential), or None if it does not exist."""
        with self.lock:
            user = self.users.get(user_name)
            if user is None:
                return None
            device = self._bound_device_of(user)
            profile = user.login_profile
            return {
                "user": user.view(),
                "policies": sorted(name for _, name in user.policies),
                "policy_types": {name: ptype for ptype, name in user.policies},
                "groups": sorted(user.groups),
                "access_keys": [{"AccessKeyId": k.access_key_id, "Status": k.status}
                                for k in user.access_keys.values()],
                "login_profile": profile is not None,
                "login_profile_settings": {"PasswordResetRequired": profile.password_reset_required,
                                           "MFABindRequired": profile.mfa_bind_required,
                                           "CreateDate": iso(profile.created)} if profile else None,
                "mfa_bound": device is not None,
                "mfa_serial": device.serial_number if device else None,
            }

    def groups(self):
        with self.lock:
            return {name: {"GroupName": g.group_name, "GroupId": g.group_id, "Comments": g.comments,
                           "CreateDate": iso(g.created)} for name, g in self.groups_by_name.items()}

    def mfa_devices(self):
        """Every virtual MFA device (no seed)."""
        with self.lock:
            return {s: {"SerialNumber": d.serial_number, "Name": d.name, "UserId": d.user_id,
                        "CreateDate": iso(d.created)} for s, d in self.mfa_by_serial.items()}

    # -- usage: last logon, key last use, MFA binding for tests (issue 13) --------------
    def get_access_key_last_used(self, user_name, key_id):
        """The key's last use (epoch seconds) or None when it was never used."""
        with self.lock:
            return self._key(user_name, key_id)[1].last_used

    def record_key_use(self, key_id):
        """The gateway authenticated a call signed with ``key_id``: it was used now."""
        with self.lock:
            user = self._key_owner.get(key_id)
            if user is not None and key_id in user.access_keys:
                user.access_keys[key_id].last_used = self._now()

    def gateway_key(self, key_id):
        """``(secret, status, user_name)`` of a RAM-minted AccessKey, or None (not one of ours)."""
        with self.lock:
            user = self._key_owner.get(key_id)
            key = user.access_keys.get(key_id) if user is not None else None
            return None if key is None else (key.secret, key.status, user.user_name)

    def policy_names_of(self, user_name):
        """Policy names attached to the user and to its groups: what decides what a RAM-minted key
        may do (``localcloud/userkeys.py``)."""
        with self.lock:
            user = self.users.get(user_name)
            if user is None:
                return []
            names = [name for _, name in user.policies]
            for group in sorted(user.groups):
                names.extend(name for _, name in self.group_policies.get(group, {}))
            return names

    def set_last_login(self, user_name, when):
        """Test control: the user's LastLoginDate (epoch seconds; None: never logged on)."""
        with self.lock:
            self._user(user_name).last_login = when

    def set_key_last_used(self, key_id, when):
        """Test control: an AccessKey's last use (epoch seconds; None: never used)."""
        with self.lock:
            user = self._key_owner.get(key_id)
            if user is None or key_id not in user.access_keys:
                raise err.no_access_key(key_id)
            user.access_keys[key_id].last_used = when

    def bind_mfa_for_test(self, user_name):
        """Test control: create a virtual MFA device and bind it to the user (as the user would at
        logon); return its serial number. Refused like BindMFADevice if one is already bound."""
        with self.lock:
            user = self._user(user_name)
            if self._bound_device_of(user) is not None:
                raise err.user_mfa_exists(user_name)
            base = re.sub(r"[^A-Za-z0-9.-]", "-", user_name)[:56] or "mfa"
            name, n = base, 1
            while self._serial(name) in self.mfa_by_serial:
                n += 1
                name = f"{base}-{n}"
            device = self.create_virtual_mfa_device(name)
            self.bind_mfa_device(device.serial_number, user_name, "000000", "000000")
            return device.serial_number

    def unbind_mfa_for_test(self, user_name):
        """Test control: unbind the user's MFA device and delete it; return its serial number."""
        with self.lock:
            device = self.unbind_mfa_device(user_name)
            self.delete_virtual_mfa_device(device.serial_number)
            return device.serial_number

    # -- persistence (--state) -------------------------------------------------------
    def snapshot(self):
        """The whole state as JSON-ready data, credentials included (the state file is 0600)."""
        with self.lock:
            users = []
            for user in self.users.values():
                data = plain(user)
                data["access_keys"] = [plain(k) for k in user.access_keys.values()]
                data["login_profile"] = plain(user.login_profile) if user.login_profile else None
                data["policies"] = [[t, n, at] for (t, n), at in user.policies.items()]
                data["groups"] = [[g, at] for g, at in user.groups.items()]
                users.append(data)
            return {"alias": self.alias, "quotas": dict(self.quotas),
                    "password_policy": plain(self.password_policy), "users": users,
                    "groups": [plain(g) for g in self.groups_by_name.values()],
                    "mfa_devices": [plain(d) for d in self.mfa_by_serial.values()],
                    "custom_policies": [dict(plain(p), versions=[plain(v) for v in p.versions.values()])
                                        for p in self.policies.values() if p.policy_type == "Custom"],
                    **self._snapshot_setup_state(),
                    "ids": sorted(self._ids), "minted": list(self._minted)}

    def restore(self, data):
        with self.lock:
            self.alias = data.get("alias", self.alias)
            self.quotas.update(data.get("quotas", {}))
            self.password_policy = PasswordPolicy(**data.get("password_policy", {}))
            self.users, self._key_owner = {}, {}
            for raw in data.get("users", []):
                raw = dict(raw)
                keys = [AccessKey(**k) for k in raw.pop("access_keys")]
                profile = raw.pop("login_profile")
                user = User(**_known(User, raw))
                user.access_keys = {k.access_key_id: k for k in keys}
                user.login_profile = LoginProfile(**profile) if profile else None
                user.policies = {(t, n): at for t, n, at in raw["policies"]}
                user.groups = {g: at for g, at in raw["groups"]}
                self.users[user.user_name] = user
                self._key_owner.update({k.access_key_id: user for k in keys})
            self.groups_by_name = {g["group_name"]: Group(**g) for g in data.get("groups", [])}
            self.mfa_by_serial = {d["serial_number"]: MfaDevice(**d) for d in data.get("mfa_devices", [])}
            for policy in data.get("custom_policies", []):
                self.policies[("Custom", policy["policy_name"])] = _restored_policy(policy)
            self._restore_setup_state(data)
            self._ids = set(data.get("ids", []))
            self._minted = list(data.get("minted", []))


def _known(cls, raw):
    """The scalar fields of dataclass ``cls`` found in ``raw`` (relations are restored apart)."""
    names = {f.name for f in fields(cls)} - {"access_keys", "login_profile", "policies", "groups"}
    return {k: v for k, v in raw.items() if k in names}


def _camel(name):
    """``minimum_password_length`` -> ``MinimumPasswordLength`` (the API's parameter names)."""
    return "".join(part.capitalize() for part in name.split("_"))


# -- roles and custom policies (hrctl setup): module helpers ------------------------------------
def _placeholder_document(policy_name):
    """A System policy's document here: the real catalogue's text is not modelled, only its shape."""
    service = policy_name.removeprefix("Aliyun").split("FullAccess")[0].split("ReadOnlyAccess")[0].lower() or "*"
    action = f"{service}:*" if "ReadOnly" not in policy_name else f"{service}:Get*"
    return json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})


def _system_policy(name, description):
    return Policy(name, "System", description, created=SYSTEM_POLICY_TIME, updated=SYSTEM_POLICY_TIME,
                  versions={"v1": PolicyVersion("v1", _placeholder_document(name), SYSTEM_POLICY_TIME)})


def _restored_policy(raw):
    versions = raw.get("versions")
    policy = Policy(**{k: v for k, v in raw.items() if k != "versions"})
    if versions is None:        # a state file from before policy versions were modelled
        versions = [{"version_id": policy.default_version, "document": _placeholder_document(policy.policy_name),
                     "created": policy.created}]
    policy.versions = {v["version_id"]: PolicyVersion(**v) for v in versions}
    return policy


def _check_document(document, param, max_len=None):
    """A policy document: JSON text of an object with a ``Statement`` list (and within ``max_len``)."""
    if max_len is not None and not 1 <= len(document) <= max_len:
        raise err.too_long(param)
    try:
        parsed = json.loads(document)
    except ValueError:
        raise err.malformed_policy_document(param) from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("Statement"), list):
        raise err.malformed_policy_document(param)


def _session_duration(value, param):
    if value is None:
        return 3600
    low, high = ROLE_SESSION_RANGE
    if not low <= value <= high:
        raise err.out_of_range(param, low, high)
    return value
