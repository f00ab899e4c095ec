"""The read model of what we manage: every managed RAM user and every secret tagged ours.

Reads only, metadata only (never a secret value). The sweep, the leaver event and the operator's
tools all list through here, so "who do we manage" has one answer.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..domain import ownership
from ..domain.access import DEFAULT_GROUPS, Grant, held_grants
from ..domain.audit import AccessKeyView, SecretView, UserView
from ..domain.ownership import Marker
from .clients import api_time, listed

if TYPE_CHECKING:
    from .clients import Cloud
    from .secret_store import SecretInfo, SecretStore

PAGE_SIZE = 1000                 # ListUsers MaxItems upper bound
SECRET_PAGE_SIZE = 100           # ListSecrets PageSize upper bound


@dataclass(frozen=True)
class ManagedUser:
    user_name: str
    marker: Marker
    user: dict[str, Any]         # the ListUsers / GetUser ``User`` as the API returned it


@dataclass(frozen=True)
class Listing:
    managed: list[ManagedUser]
    names: set[str]              # every RAM user name seen, ours or not


def list_users(cloud: Cloud) -> Listing:
    """Every RAM user carrying our marker (pages through ALL users), and every user name seen."""
    managed: list[ManagedUser] = []
    names: set[str] = set()
    page_marker = None
    while True:
        body = cloud.ram("ListUsers", MaxItems=PAGE_SIZE, Marker=page_marker)
        for user in listed(body, "Users", "User"):
            names.add(str(user.get("UserName")))
            owned = ownership.owned_by(user)
            if owned is not None:
                managed.append(ManagedUser(user["UserName"], owned, user))
        page_marker = body.get("Marker")
        if not body.get("IsTruncated") or not page_marker:
            return Listing(managed, names)


def find_by_employee(cloud: Cloud, employee_id: str) -> ManagedUser | None:
    """The user managed for ``employee_id`` (an active one first), by scanning every user: for an
    employee with no ledger yet (users from before it), a leaver whose logon name is unknown, or a
    joiner under a new logon name while the old user is still active."""
    found = [m for m in list_users(cloud).managed if m.marker.employee_id == employee_id]
    found.sort(key=lambda m: m.marker.state != ownership.ACTIVE)
    return found[0] if found else None


def get_user(cloud: Cloud, user_name: str) -> dict[str, Any] | None:
    """GetUser's ``User``, or None when there is no such user."""
    body = cloud.try_ram("GetUser", UserName=user_name)
    return (body.get("User") or {}) if body is not None else None


def list_secrets(cloud: Cloud) -> list[dict[str, Any]]:
    """Metadata (name, tags, deletion schedule) of every secret tagged as ours. Never a value."""
    filters = json.dumps([{"Key": "TagKey", "Values": [ownership.TAG_MANAGED_BY]},
                          {"Key": "TagValue", "Values": [ownership.MANAGED_BY]}])
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        body = cloud.kms("ListSecrets", FetchTags="true", PageNumber=page, PageSize=SECRET_PAGE_SIZE,
                         Filters=filters)
        items = listed(body, "SecretList", "Secret")
        found.extend(items)
        if not items or page * SECRET_PAGE_SIZE >= int(body.get("TotalCount") or 0):
            return found
        page += 1


def secret_tags(secret: dict[str, Any]) -> dict[str, str]:
    return {str(t.get("TagKey")): str(t.get("TagValue")) for t in listed(secret, "Tags", "Tag")}


def secret_names(store: SecretStore, user_name: str) -> list[str]:
    """Where a user's secret can live: our Generic name, then KMS's RAMCredentials name."""
    return [store.name_for(user_name), store.ram_secret_name(user_name)]


def owned_secrets(store: SecretStore, user_name: str, employee_id: str) -> Iterator[SecretInfo]:
    """The user's secrets tagged ours for this employee (metadata only), in ``secret_names`` order;
    lazily, so a caller that needs the first one reads no further."""
    for name in secret_names(store, user_name):
        info = store.describe(name)
        if info is not None and info.owned_by(employee_id):
            yield info


def access_keys(cloud: Cloud, user_name: str) -> list[dict[str, Any]]:
    return listed(cloud.ram("ListAccessKeys", UserName=user_name), "AccessKeys", "AccessKey")


def has_login_profile(cloud: Cloud, user_name: str) -> bool:
    return cloud.try_ram("GetLoginProfile", UserName=user_name) is not None


def policies(cloud: Cloud, user_name: str) -> list[dict[str, Any]]:
    return listed(cloud.ram("ListPoliciesForUser", UserName=user_name), "Policies", "Policy")


def groups_of(cloud: Cloud, user_name: str) -> list[dict[str, Any]]:
    return listed(cloud.ram("ListGroupsForUser", UserName=user_name), "Groups", "Group")


def all_secrets(store: SecretStore) -> dict[str, SecretInfo]:
    """Metadata (tags, type, deletion schedule) of EVERY secret, by name, in ``ceil(n/100)`` pages:
    what a scan of many users looks its users' secret names up in, instead of a DescribeSecret
    per name (a foreign secret at a user's name is untagged, so the tag filter would miss it)."""
    from .secret_store import GENERIC, SecretInfo
    found: dict[str, SecretInfo] = {}
    page = 1
    while True:
        body = store.cloud.kms("ListSecrets", FetchTags="true", PageNumber=page, PageSize=SECRET_PAGE_SIZE)
        items = listed(body, "SecretList", "Secret")
        for item in items:
            name = str(item.get("SecretName"))
            found[name] = SecretInfo(name=name, tags=listed(item, "Tags", "Tag"),
                                     planned_delete_time=item.get("PlannedDeleteTime") or "",
                                     secret_type=item.get("SecretType") or GENERIC)
        if not items or page * SECRET_PAGE_SIZE >= int(body.get("TotalCount") or 0):
            return found
        page += 1


def grants(cloud: Cloud, user_name: str, groups: dict[str, str]) -> set[Grant]:
    """The ARMS grants ``user_name`` holds: our groups (``groups``: level -> name) and direct ARMS
    attachments (``domain.access.held_grants``). Two reads."""
    attached = {str(p.get("PolicyName")) for p in policies(cloud, user_name) if p.get("PolicyType") == "System"}
    return held_grants(attached, {str(g.get("GroupName")) for g in groups_of(cloud, user_name)}, groups)


def user_view(cloud: Cloud, store: SecretStore, managed: ManagedUser,
              secrets_index: Mapping[str, SecretInfo] | None = None,
              arms_groups: dict[str, str] | None = None) -> UserView:
    """One managed user's read model for the access review (``domain.audit``): policies, groups (and
    the ARMS levels ``arms_groups``, level -> our group name, grant), keys, login profile, MFA, and
    what sits at its secret names (looked up in ``secrets_index`` when given: ``all_secrets``; else
    one DescribeSecret per name). Metadata only, never a secret value. The usage reads (last logon,
    key last use) are the audit's: ``workflows.audit``."""
    name = managed.user_name
    arms_groups = arms_groups if arms_groups is not None else DEFAULT_GROUPS
    group_names = tuple(str(g.get("GroupName")) for g in groups_of(cloud, name))
    profile = cloud.try_ram("GetLoginProfile", UserName=name)
    mfa = cloud.try_ram("GetUserMFAInfo", UserName=name)
    secrets = []
    for secret_name in secret_names(store, name):
        info = secrets_index.get(secret_name) if secrets_index is not None else store.describe(secret_name)
        if info is None:
            continue
        owned = info.owned_by(managed.marker.employee_id)
        secrets.append(SecretView(name=secret_name, owned=owned, secret_type=info.secret_type,
                                  versions=store.versions(secret_name) if owned else None,
                                  planned_delete_time=info.planned_delete_time))
    login = (profile or {}).get("LoginProfile") or {}
    return UserView(
        user_name=name, marker=managed.marker, display_name=str(managed.user.get("DisplayName") or ""),
        created=api_time(managed.user.get("CreateDate")),
        policies=tuple(str(p.get("PolicyName")) for p in policies(cloud, name)),
        groups=group_names,
        group_levels=tuple(lvl for lvl, group in arms_groups.items() if group in group_names),
        access_keys=tuple(AccessKeyView(str(k.get("AccessKeyId")), str(k.get("Status")), api_time(k.get("CreateDate")))
                          for k in access_keys(cloud, name)),
        console=profile is not None,
        console_created=api_time(login.get("CreateDate")),
        mfa_bind_required=bool(login.get("MFABindRequired")) if profile is not None else None,
        mfa=bool(((mfa or {}).get("MFADevice") or {}).get("SerialNumber")),
        secrets=tuple(secrets))
