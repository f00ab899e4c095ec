"""Print what RAM and KMS hold for the users this system manages, through the official SDKs.

Never a credential: AccessKeyIds and secret names/tags only; secret values are never read.
"""
import sys

from provisioner.domain import ownership


def _clients(config):
    from alibabacloud_kms20160120.client import Client as Kms
    from alibabacloud_ram20150501.client import Client as Ram
    return Ram(config), Kms(config)


def snapshot(config):
    from alibabacloud_kms20160120 import models as km
    from alibabacloud_ram20150501 import models as rm
    ram, kms = _clients(config)
    users = []
    marker = None
    while True:
        page = ram.list_users(rm.ListUsersRequest(max_items=1000, marker=marker)).body
        for user in page.users.user or []:
            owned = ownership.parse(user.comments)
            row = {"userName": user.user_name, "managed": owned is not None,
                   "state": owned.state if owned else "-"}
            if owned:
                name = user.user_name
                pols = ram.list_policies_for_user(rm.ListPoliciesForUserRequest(user_name=name)).body
                keys = ram.list_access_keys(rm.ListAccessKeysRequest(user_name=name)).body
                row["policies"] = [p.policy_name for p in pols.policies.policy or []]
                groups = ram.list_groups_for_user(rm.ListGroupsForUserRequest(user_name=name)).body
                row["groups"] = [g.group_name for g in groups.groups.group or []]
                row["accessKeys"] = [f"{k.access_key_id} ({k.status})" for k in keys.access_keys.access_key or []]
                try:
                    ram.get_login_profile(rm.GetLoginProfileRequest(user_name=name))
                    row["consoleLogin"] = True
                except Exception:  # noqa: BLE001 - EntityNotExist.User.LoginProfile
                    row["consoleLogin"] = False
            users.append(row)
        if not page.is_truncated:
            break
        marker = page.marker
    secrets = []
    page_number = 1
    while True:
        body = kms.list_secrets(km.ListSecretsRequest(fetch_tags="true", page_number=page_number,
                                                      page_size=100)).body
        for s in body.secret_list.secret or []:
            tags = {t.tag_key: t.tag_value for t in (s.tags.tag if s.tags and s.tags.tag else [])}
            secrets.append({"secretName": s.secret_name, "plannedDeleteTime": s.planned_delete_time or "",
                            "tags": tags})
        if page_number * 100 >= (body.total_count or 0):
            break
        page_number += 1
    return {"ramUsers": users, "kmsSecrets": secrets}


def print_snapshot(config, out=sys.stdout):
    snap = snapshot(config)
    out.write("RAM users:\n")
    for u in snap["ramUsers"]:
        extra = ""
        if u["managed"]:
            extra = (f"  policies={u['policies']} groups={u['groups']} accessKeys={u['accessKeys']} "
                     f"consoleLogin={u['consoleLogin']}")
        out.write(f"  - {u['userName']:<20} managed={u['managed']!s:<5} state={u['state']:<8}{extra}\n")
    out.write("KMS secrets (names and tags only; values are never read):\n")
    for s in snap["kmsSecrets"]:
        planned = f" scheduled for deletion at {s['plannedDeleteTime']}" if s["plannedDeleteTime"] else ""
        out.write(f"  - {s['secretName']:<28} tags={s['tags']}{planned}\n")
    return snap
