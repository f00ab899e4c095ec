"""KMS Secrets Manager in localcloud, driven through the official SDK over HTTP."""
import json
import string
import threading
from datetime import datetime, timedelta, timezone

import pytest
from alibabacloud_kms20160120 import models as km
from alibabacloud_ram20150501 import models as rm
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

from localcloud.kms.models import PUNCTUATION
from localcloud.ram.responses import SERVICE as RAM_SERVICE

from .test_fidelity import audit_kms_errors


@pytest.fixture(autouse=True)
def _kms_errors_are_documented(cloud):
    """After every test here: each KMS error code emitted is in that action's errorCodes (metadata)."""
    yield
    problems = audit_kms_errors(cloud.calls)
    assert not problems, "\n".join(problems)


def tags_json(**tags):
    return json.dumps([{"TagKey": k, "TagValue": v} for k, v in tags.items()])


def create(kms, name="app/db", data="s3cr3t-value", version="v1", **kw):
    return kms.create_secret(km.CreateSecretRequest(secret_name=name, version_id=version, secret_data=data, **kw)).body


def get(kms, name="app/db", **kw):
    return kms.get_secret_value(km.GetSecretValueRequest(secret_name=name, **kw)).body


def put(kms, version, data, name="app/db", **kw):
    return kms.put_secret_value(km.PutSecretValueRequest(secret_name=name, version_id=version, secret_data=data,
                                                         **kw)).body


def describe(kms, name="app/db", fetch_tags=None):
    return kms.describe_secret(km.DescribeSecretRequest(secret_name=name, fetch_tags=fetch_tags)).body


def delete(kms, name="app/db", **kw):
    return kms.delete_secret(km.DeleteSecretRequest(secret_name=name, **kw)).body


def fails(call, code, status):
    with pytest.raises(AlibabaCloudException) as info:
        call()
    assert (info.value.code, info.value.status_code) == (code, status), info.value.message
    return info.value


def parse_time(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


# -- CreateSecret / GetSecretValue ------------------------------------------------------------
def test_create_and_get_generic_secret(kms, cloud):
    body = create(kms, description="db creds", encryption_key_id="key-abc", dkmsinstance_id="kst-hzz1")
    assert body.secret_name == "app/db" and body.version_id == "v1" and body.secret_type == "Generic"
    assert body.arn == f"acs:kms:{cloud.region}:{cloud.account_id}:secret/app/db"
    assert body.dkmsinstance_id == "kst-hzz1"
    value = get(kms)
    assert (value.secret_data, value.secret_data_type, value.version_id) == ("s3cr3t-value", "text", "v1")
    assert value.version_stages.version_stage == ["ACSCurrent"]
    assert value.secret_type == "Generic" and value.create_time.endswith("Z")
    info = describe(kms)
    assert (info.encryption_key_id, info.dkmsinstance_id, info.description) == ("key-abc", "kst-hzz1", "db creds")


def test_get_by_arn_and_foreign_arn(kms, cloud):
    create(kms)
    arn = f"acs:kms:{cloud.region}:{cloud.account_id}:secret/app/db"
    assert get(kms, arn).secret_data == "s3cr3t-value"
    fails(lambda: get(kms, f"acs:kms:{cloud.region}:999:secret/app/db"), "Forbidden.ResourceNotFound", 404)


def test_duplicate_name_rejected(kms):
    create(kms)
    fails(lambda: create(kms, data="other"), "Rejected.ResourceExist", 409)
    assert get(kms).secret_data == "s3cr3t-value"


def test_unknown_secret_not_found(kms):
    for call in (lambda: get(kms, "nope"), lambda: describe(kms, "nope"), lambda: put(kms, "v2", "x", name="nope"),
                 lambda: delete(kms, "nope"),
                 lambda: kms.restore_secret(km.RestoreSecretRequest(secret_name="nope")),
                 lambda: kms.update_secret(km.UpdateSecretRequest(secret_name="nope", description="d")),
                 lambda: kms.list_secret_version_ids(km.ListSecretVersionIdsRequest(secret_name="nope"))):
        fails(call, "Forbidden.ResourceNotFound", 404)


@pytest.mark.parametrize("name", ["a" * 193, "has space", "bad#char", "acs/ram/user/x", "", "名" * 65])
def test_secret_name_rules(kms, name):
    fails(lambda: create(kms, name=name), "InvalidParameter", 400)


@pytest.mark.parametrize("name", ["a" * 192, "A-z_0/9+=.@x", "名" * 64, "ram-user/alice.wang"])
def test_secret_name_allowed(kms, name):
    assert create(kms, name=name).secret_name == name


@pytest.mark.parametrize("missing", ["VersionId", "SecretData"])
def test_required_parameters(kms, missing):
    kwargs = {"secret_name": "app/db", "version_id": "v1", "secret_data": "x" * 10}
    kwargs[{"VersionId": "version_id", "SecretData": "secret_data"}[missing]] = None
    fails(lambda: kms.create_secret(km.CreateSecretRequest(**kwargs)), "InvalidParameter", 400)


def test_secret_data_limits_and_binary(kms):
    fails(lambda: create(kms, data="x" * 30721), "InvalidParameter", 400)
    assert create(kms, name="big", data="x" * 30720).secret_name == "big"
    fails(lambda: create(kms, name="bin", data="not base64!", secret_data_type="binary"), "InvalidParameter", 400)
    create(kms, name="bin", data="aGVsbG8=", secret_data_type="binary")
    assert get(kms, "bin").secret_data_type == "binary"
    fails(lambda: create(kms, name="t", secret_data_type="octets"), "InvalidParameter", 400)
    fails(lambda: create(kms, name="v", version="v" * 65), "InvalidParameter", 400)


def test_unsupported_secret_types_and_dkms_instance(kms):
    fails(lambda: create(kms, secret_type="Rds"), "UnsupportedOperation", 400)
    fails(lambda: create(kms, secret_type="Bogus"), "InvalidParameter", 400)
    fails(lambda: create(kms, dkmsinstance_id="inst-1"), "Forbidden.DKMSInstanceNotFound", 403)


# -- tags --------------------------------------------------------------------------------------
def test_tags_on_create_and_describe(kms):
    create(kms, tags=tags_json(**{"managed-by": "hr-ram-provisioner", "employee-id": "E10023",
                                  "at": "2026-11-28T09:00:00Z"}))
    info = describe(kms, fetch_tags="true")
    assert {t.tag_key: t.tag_value for t in info.tags.tag} == {
        "managed-by": "hr-ram-provisioner", "employee-id": "E10023", "at": "2026-11-28T09:00:00Z"}
    assert describe(kms).tags is None
    raw = describe(kms, fetch_tags="true").to_map()
    assert "SecretData" not in json.dumps(raw) and "s3cr3t-value" not in json.dumps(raw)


@pytest.mark.parametrize("tags", [
    json.dumps([{"TagKey": f"k{i}", "TagValue": "v"} for i in range(21)]),
    tags_json(aliyun_x="v"), tags_json(**{"acs:x": "v"}), tags_json(**{"ALIYUN": "v"}),
    tags_json(**{"k" * 129: "v"}), tags_json(k="v" * 129), tags_json(**{"bad key": "v"}), tags_json(k="bad#value"),
    json.dumps([{"TagKey": "", "TagValue": "v"}]), json.dumps([{"Key": "k", "Value": "v"}]), "not json",
    json.dumps({"TagKey": "k"}),
])
def test_tag_rules(kms, tags):
    fails(lambda: create(kms, tags=tags), "InvalidParameter", 400)


def test_twenty_tags_allowed(kms):
    create(kms, tags=json.dumps([{"TagKey": f"k{i}", "TagValue": "v"} for i in range(20)]))
    assert len(describe(kms, fetch_tags="true").tags.tag) == 20


def test_tag_and_untag_resource(kms, cloud):
    create(kms, tags=tags_json(a="1"))
    kms.tag_resource(km.TagResourceRequest(secret_name="app/db", tags=tags_json(a="2", b="3")))
    assert cloud.kms.secret_state("app/db")["tags"] == {"a": "2", "b": "3"}
    kms.untag_resource(km.UntagResourceRequest(secret_name="app/db", tag_keys=json.dumps(["a", "zz"])))
    assert cloud.kms.secret_state("app/db")["tags"] == {"b": "3"}
    kms.tag_resource(km.TagResourceRequest(secret_name="app/db", tags=tags_json(c="4", d="5")))
    kms.untag_resource(km.UntagResourceRequest(secret_name="app/db", tag_keys="b,c"))
    assert cloud.kms.secret_state("app/db")["tags"] == {"d": "5"}


def test_tag_resource_errors(kms):
    create(kms, tags=json.dumps([{"TagKey": f"k{i}", "TagValue": "v"} for i in range(19)]))
    fails(lambda: kms.tag_resource(km.TagResourceRequest(secret_name="app/db", tags=tags_json(x="1", y="2"))),
          "InvalidParameter", 400)
    kms.tag_resource(km.TagResourceRequest(secret_name="app/db", tags=tags_json(k0="new", x="1")))  # overwrite + 1
    for request in (km.TagResourceRequest(secret_name="nope", tags=tags_json(a="1")),
                    km.TagResourceRequest(key_id="key-1", tags=tags_json(a="1")),
                    km.TagResourceRequest(secret_name="app/db", key_id="key-1", tags=tags_json(a="1")),
                    km.TagResourceRequest(secret_name="app/db", tags="[]"),
                    km.TagResourceRequest(secret_name="app/db", tags=tags_json(aliyun="1")),
                    km.TagResourceRequest(secret_name="app/db")):
        fails(lambda r=request: kms.tag_resource(r), "InvalidParameter", 400)
    for request in (km.UntagResourceRequest(secret_name="nope", tag_keys='["a"]'),
                    km.UntagResourceRequest(secret_name="app/db"),
                    km.UntagResourceRequest(secret_name="app/db", tag_keys="[]"),
                    km.UntagResourceRequest(certificate_id="c-1", tag_keys='["a"]')):
        fails(lambda r=request: kms.untag_resource(r), "InvalidParameter", 400)


# -- PutSecretValue and versions ---------------------------------------------------------------
def test_put_moves_stages(kms):
    create(kms, data="one-value")
    body = put(kms, "v2", "two-value")
    assert body.version_id == "v2" and body.version_stages.version_stage == ["ACSCurrent"]
    assert get(kms).secret_data == "two-value"
    previous = get(kms, version_stage="ACSPrevious")
    assert (previous.version_id, previous.secret_data) == ("v1", "one-value")
    assert previous.version_stages.version_stage == ["ACSPrevious"]
    put(kms, "v3", "three-value")
    assert get(kms, version_stage="ACSPrevious").version_id == "v2"
    assert get(kms, version_id="v1").version_stages.version_stage == []
    assert get(kms, version_id="v1").secret_data == "one-value"
    fails(lambda: get(kms, version_id="v9"), "Forbidden.ResourceNotFound", 404)
    fails(lambda: get(kms, version_stage="ACSNext"), "Forbidden.ResourceNotFound", 404)
    fails(lambda: get(kms, version_id="v1", version_stage="ACSCurrent"), "Forbidden.ResourceNotFound", 404)


def test_put_duplicate_version(kms):
    create(kms, data="one-value")
    put(kms, "v2", "two-value")
    assert put(kms, "v2", "two-value").version_id == "v2"       # same value: idempotent success
    fails(lambda: put(kms, "v2", "different"), "Rejected.ResourceExist", 409)
    fails(lambda: put(kms, "v1", "different"), "Rejected.ResourceExist", 409)
    assert get(kms).secret_data == "two-value"


def test_put_custom_stages(kms):
    create(kms, data="one-value")
    body = put(kms, "v2", "two-value", version_stages=json.dumps(["ACSNext"]))
    assert body.version_stages.version_stage == ["ACSNext"]
    assert get(kms).version_id == "v1"
    assert get(kms, version_stage="ACSNext").secret_data == "two-value"
    put(kms, "v3", "three-value", version_stages='["ACSNext","ACSCurrent"]')
    assert get(kms, version_stage="ACSNext").version_id == "v3"
    assert get(kms, version_stage="ACSPrevious").version_id == "v1"
    fails(lambda: put(kms, "v4", "x", version_stages="[1]"), "InvalidParameter", 400)


def test_versions_list_and_roll_off(kms):
    create(kms, data="value-0", version="v0")
    for i in range(1, 12):
        put(kms, f"v{i}", f"value-{i}")
    listed = kms.list_secret_version_ids(km.ListSecretVersionIdsRequest(secret_name="app/db")).body
    assert listed.total_count == 2
    assert {v.version_id: v.version_stages.version_stage for v in listed.version_ids.version_id} == {
        "v10": ["ACSPrevious"], "v11": ["ACSCurrent"]}
    every = kms.list_secret_version_ids(km.ListSecretVersionIdsRequest(
        secret_name="app/db", include_deprecated="true", page_size=4, page_number=3)).body
    assert every.total_count == 10 and every.page_number == 3 and len(every.version_ids.version_id) == 2
    assert [v.version_id for v in every.version_ids.version_id] == ["v10", "v11"]
    fails(lambda: get(kms, version_id="v1"), "Forbidden.ResourceNotFound", 404)    # rolled off
    fails(lambda: kms.list_secret_version_ids(km.ListSecretVersionIdsRequest(secret_name="app/db", page_size=0)),
          "InvalidParameter", 400)


# -- DescribeSecret / UpdateSecret / ListSecrets ------------------------------------------------
def test_update_secret(kms):
    create(kms, description="old")
    assert kms.update_secret(km.UpdateSecretRequest(secret_name="app/db", description="new")).body.secret_name \
        == "app/db"
    assert describe(kms).description == "new"
    fails(lambda: kms.update_secret(km.UpdateSecretRequest(
        secret_name="app/db", extended_config=km.UpdateSecretRequestExtendedConfig(custom_data={"a": "b"}))),
        "InvalidParameter", 400)


def test_list_secrets_pages_and_filters(kms):
    for i in range(25):
        create(kms, name=f"ram-user/u{i:02d}", description="even" if i % 2 == 0 else "odd",
               tags=tags_json(**{"managed-by": "hr", "n": str(i)}))
    create(kms, name="other", tags=tags_json(owner="someone"))
    first = kms.list_secrets(km.ListSecretsRequest()).body
    assert (first.total_count, first.page_number, first.page_size) == (26, 1, 10)
    assert len(first.secret_list.secret) == 10 and first.secret_list.secret[0].tags is None
    last = kms.list_secrets(km.ListSecretsRequest(page_number=3, page_size=10, fetch_tags="true")).body
    assert [s.secret_name for s in last.secret_list.secret][-1] == "other"
    assert last.secret_list.secret[-1].tags.tag[0].tag_key == "owner"
    names = set()
    for page in (1, 2, 3):
        body = kms.list_secrets(km.ListSecretsRequest(page_number=page, page_size=10)).body
        names.update(s.secret_name for s in body.secret_list.secret)
    assert len(names) == 26

    def listed(filters):
        body = kms.list_secrets(km.ListSecretsRequest(filters=json.dumps(filters), page_size=100)).body
        return sorted(s.secret_name for s in body.secret_list.secret)

    assert len(listed([{"Key": "TagKey", "Values": ["managed-by"]}])) == 25
    assert listed([{"Key": "TagValue", "Values": ["someone"]}]) == ["other"]
    assert listed([{"Key": "SecretName", "Values": ["ram-user/u01", "other"]}]) == ["other", "ram-user/u01"]
    assert len(listed([{"Key": "Description", "Values": ["even"]},
                       {"Key": "TagKey", "Values": ["managed-by"]}])) == 13
    assert listed([{"Key": "SecretType", "Values": ["RAMCredentials"]}]) == []
    for bad in ('[{"Key":"Owner","Values":["x"]}]', '{"Key":"SecretName"}', "nope",
                json.dumps([{"Key": "SecretName", "Values": [str(i) for i in range(11)]}])):
        fails(lambda f=bad: kms.list_secrets(km.ListSecretsRequest(filters=f)), "InvalidParameter", 400)
    for kwargs in ({"page_size": 0}, {"page_size": 101}, {"page_number": 0}):
        fails(lambda k=kwargs: kms.list_secrets(km.ListSecretsRequest(**k)), "InvalidParameter", 400)


# -- deletion window --------------------------------------------------------------------------
def test_delete_window_semantics(kms, cloud):
    create(kms, data="one-value")
    body = delete(kms, recovery_window_in_days="7")
    planned = parse_time(body.planned_delete_time)
    expected = datetime.now(timezone.utc) + timedelta(days=7)
    assert abs((planned - expected).total_seconds()) < 120
    assert describe(kms).planned_delete_time == body.planned_delete_time
    listed = kms.list_secrets(km.ListSecretsRequest()).body.secret_list.secret
    assert listed[0].planned_delete_time == body.planned_delete_time
    fails(lambda: get(kms), "Forbidden.ResourceNotFound", 404)
    fails(lambda: put(kms, "v2", "two-value"), "Forbidden.ResourceNotFound", 404)
    fails(lambda: create(kms), "Rejected.ResourceInDeleteWindow", 409)
    fails(lambda: kms.update_secret(km.UpdateSecretRequest(secret_name="app/db", description="d")),
          "Rejected.ResourceInDeleteWindow", 409)
    fails(lambda: delete(kms), "Rejected.ResourceInDeleteWindow", 409)
    assert cloud.kms.secret_state("app/db")["deleting"] is True
    assert kms.restore_secret(km.RestoreSecretRequest(secret_name="app/db")).body.secret_name == "app/db"
    assert describe(kms).planned_delete_time is None
    assert get(kms).secret_data == "one-value"
    fails(lambda: kms.restore_secret(km.RestoreSecretRequest(secret_name="app/db")), "Rejected.ResourceInUse", 409)


def test_default_window_and_clock(kms, cloud):
    create(kms)
    planned = parse_time(delete(kms).planned_delete_time)
    assert abs((planned - datetime.now(timezone.utc) - timedelta(days=30)).total_seconds()) < 120
    cloud.kms.advance(days=29)
    assert cloud.kms.secret_state("app/db")["deleting"]
    cloud.kms.advance(days=1, seconds=1)
    assert cloud.kms.secret_state("app/db") is None
    fails(lambda: describe(kms), "Forbidden.ResourceNotFound", 404)
    fails(lambda: kms.restore_secret(km.RestoreSecretRequest(secret_name="app/db")), "Forbidden.ResourceNotFound", 404)
    create(kms, data="reborn-value")
    assert get(kms).secret_data == "reborn-value"
    assert parse_time(describe(kms).create_time) > datetime.now(timezone.utc) + timedelta(days=29)


def test_force_delete(kms, cloud):
    create(kms)
    delete(kms, recovery_window_in_days="10")
    assert delete(kms, force_delete_without_recovery="true").secret_name == "app/db"   # force beats the window
    assert cloud.kms.secret_names() == []
    create(kms)
    fails(lambda: delete(kms, force_delete_without_recovery="true", recovery_window_in_days="7"),
          "InvalidParameter", 400)
    delete(kms, force_delete_without_recovery="true")
    fails(lambda: get(kms), "Forbidden.ResourceNotFound", 404)


@pytest.mark.parametrize("days", ["6", "31", "x"])
def test_recovery_window_range(kms, days):
    create(kms)
    fails(lambda: delete(kms, recovery_window_in_days=days), "InvalidParameter", 400)
    fails(lambda: delete(kms, force_delete_without_recovery="maybe"), "InvalidParameter", 400)


# -- RAMCredentials ----------------------------------------------------------------------------
def ram_secret(kms, user="alice.wang", keys=(), name="$Auto", **kw):
    data = json.dumps({"AccessKeys": [{"AccessKeyId": k, "AccessKeySecret": s} for k, s in keys]})
    config = kw.pop("config", {"SecretSubType": "RamUserAccessKey", "UserName": user})
    return kms.create_secret(km.CreateSecretRequest(secret_name=name, version_id="v1", secret_data=data,
                                                    secret_type="RAMCredentials", extended_config=config,
                                                    **kw)).body


def requires_ram_keys():
    if "CreateAccessKey" not in RAM_SERVICE.actions:
        pytest.skip("RAM CreateAccessKey not implemented yet")


def new_user_with_keys(ram, user="alice.wang", count=1):
    ram.create_user(rm.CreateUserRequest(user_name=user, display_name="Alice"))
    keys = []
    for _ in range(count):
        key = ram.create_access_key(rm.CreateAccessKeyRequest(user_name=user)).body.access_key
        keys.append((key.access_key_id, key.access_key_secret))
    return keys


def test_ram_credentials_secret(kms, ram, cloud):
    requires_ram_keys()
    keys = new_user_with_keys(ram, count=2)
    body = ram_secret(kms, keys=keys, tags=tags_json(owner="hr"))
    assert body.secret_name == "acs/ram/user/alice.wang" and body.secret_type == "RAMCredentials"
    assert json.loads(body.extended_config)["UserName"] == "alice.wang"
    assert body.automatic_rotation == "Disabled"
    value = get(kms, "acs/ram/user/alice.wang", fetch_extended_config=True)
    assert json.loads(value.secret_data)["AccessKeyId"] == keys[-1][0]
    assert json.loads(value.secret_data)["AccessKeySecret"] == keys[-1][1]
    assert json.loads(value.extended_config)["SecretSubType"] == "RamUserAccessKey"
    assert get(kms, "acs/ram/user/alice.wang").extended_config is None
    fails(lambda: ram_secret(kms, keys=keys), "Rejected.ResourceExist", 409)
    fails(lambda: put(kms, "v2", "x", name="acs/ram/user/alice.wang"), "InvalidParameter", 400)
    assert {k[1] for k in keys} <= cloud.kms.minted_credentials()


def test_ram_credentials_keys_must_match_user(kms, ram):
    requires_ram_keys()
    keys = new_user_with_keys(ram, count=2)
    fails(lambda: ram_secret(kms, keys=keys[:1]), "InvalidParameter", 400)           # not every key
    fails(lambda: ram_secret(kms, keys=[keys[0], ("LTAIforged", "x" * 30)]), "InvalidParameter", 400)
    other = new_user_with_keys(ram, user="bob", count=1)
    fails(lambda: ram_secret(kms, keys=other), "InvalidParameter", 400)              # bob's key, alice's secret
    fails(lambda: ram_secret(kms, user="ghost", keys=keys), "Forbidden.ResourceNotFound", 404)


def test_ram_credentials_parameter_rules(kms, ram):
    ram.create_user(rm.CreateUserRequest(user_name="alice.wang", display_name="Alice"))
    keys = [("LTAIx", "y" * 30)]
    fails(lambda: ram_secret(kms, keys=keys, config=None), "InvalidParameter", 400)
    fails(lambda: ram_secret(kms, keys=keys, config={"SecretSubType": "SingleUser", "UserName": "alice.wang"}),
          "InvalidParameter", 400)
    fails(lambda: ram_secret(kms, keys=keys, config={"SecretSubType": "RamUserAccessKey"}), "InvalidParameter", 400)
    fails(lambda: ram_secret(kms, keys=keys, name="ram-user/alice"), "InvalidParameter", 400)
    fails(lambda: ram_secret(kms, keys=[]), "InvalidParameter", 400)
    fails(lambda: kms.create_secret(km.CreateSecretRequest(
        secret_name="$Auto", version_id="v1", secret_data="plain", secret_type="RAMCredentials",
        extended_config={"SecretSubType": "RamUserAccessKey", "UserName": "alice.wang"})), "InvalidParameter", 400)
    fails(lambda: ram_secret(kms, keys=keys, secret_data_type="binary"), "InvalidParameter", 400)
    fails(lambda: ram_secret(kms, keys=keys, enable_automatic_rotation=True), "InvalidParameter", 400)
    fails(lambda: ram_secret(kms, keys=keys, enable_automatic_rotation=True, rotation_interval="1h"),
          "InvalidParameter", 400)


def test_ram_credentials_rotation_fields(kms, ram):
    requires_ram_keys()
    keys = new_user_with_keys(ram)
    body = ram_secret(kms, keys=keys, enable_automatic_rotation=True, rotation_interval="7d")
    assert (body.automatic_rotation, body.rotation_interval) == ("Enabled", "604800s")
    info = describe(kms, body.secret_name)
    assert info.rotation_interval == "604800s" and info.next_rotation_date.endswith("Z")
    kms.update_secret(km.UpdateSecretRequest(
        secret_name=body.secret_name, extended_config=km.UpdateSecretRequestExtendedConfig(custom_data={"k": "v"})))
    assert json.loads(describe(kms, body.secret_name).extended_config)["CustomData"] == {"k": "v"}


# -- GetRandomPassword -------------------------------------------------------------------------
def random_password(kms, **kw):
    return kms.get_random_password(km.GetRandomPasswordRequest(**kw)).body.random_password


def test_random_password_defaults_and_classes(kms, cloud):
    password = random_password(kms)
    assert len(password) == 32 and set(password) <= set(string.ascii_letters + string.digits + PUNCTUATION)
    assert password in cloud.kms.minted_credentials()
    assert len(random_password(kms, password_length="8")) == 8
    assert len(random_password(kms, password_length="128")) == 128
    only_digits = random_password(kms, exclude_lowercase="true", exclude_uppercase="true",
                                  exclude_punctuation="true", password_length="64")
    assert only_digits.isdigit()
    no_vowels = random_password(kms, exclude_characters="aeiouAEIOU", password_length="128")
    assert not set(no_vowels) & set("aeiouAEIOU")
    for _ in range(20):
        each = random_password(kms, password_length="8", require_each_included_type="true")
        assert all(set(each) & set(chars) for chars in
                   (string.ascii_lowercase, string.ascii_uppercase, string.digits, PUNCTUATION))
    assert len({random_password(kms) for _ in range(10)}) == 10


@pytest.mark.parametrize("kwargs", [{"password_length": "7"}, {"password_length": "129"}, {"password_length": "x"},
                                    {"exclude_numbers": "yes"},
                                    {"exclude_lowercase": "true", "exclude_uppercase": "true",
                                     "exclude_numbers": "true", "exclude_punctuation": "true"}])
def test_random_password_rules(kms, kwargs):
    fails(lambda: random_password(kms, **kwargs), "InvalidParameter", 400)


# -- inspection, redaction, error bodies, concurrency -------------------------------------------
def test_secret_state_and_minted_credentials(kms, cloud):
    create(kms, data=json.dumps({"AccessKeyId": "LTAIabc", "AccessKeySecret": "the-secret-part"}),
           tags=tags_json(owner="hr"))
    state = cloud.kms.secret_state("app/db")
    assert state["current"]["AccessKeySecret"] == "the-secret-part"
    assert state["tags"] == {"owner": "hr"} and state["current_version"] == "v1" and not state["deleting"]
    assert state["versions"][0]["stages"] == ["ACSCurrent"]
    minted = cloud.kms.minted_credentials()
    assert "the-secret-part" in minted
    assert any("the-secret-part" in m and m.startswith("{") for m in minted)
    assert cloud.minted_credentials() >= minted
    create_call = next(c for c in cloud.calls if c.action == "CreateSecret")
    assert create_call.params["SecretData"] == "***"
    assert cloud.kms.secret_state("nope") is None


def test_error_body_carries_http_status(kms):
    error = fails(lambda: get(kms, "nope"), "Forbidden.ResourceNotFound", 404)
    assert error.data["HttpStatus"] == 404 and error.data["HostId"].startswith("kms.")
    assert error.data["RequestId"] and error.data["Recommend"]


def test_concurrent_create_same_name(kms, cloud):
    from alibabacloud_kms20160120.client import Client
    results = []

    def worker(i):
        client = Client(cloud.client_config())
        try:
            create(client, data=f"value-{i}-xxxxxxxx")
            results.append("ok")
        except AlibabaCloudException as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1 and results.count("Rejected.ResourceExist") == 15


def test_concurrent_put_keeps_one_current(kms, cloud):
    from alibabacloud_kms20160120.client import Client
    create(kms, version="v0")

    def worker(i):
        put(Client(cloud.client_config()), f"v{i + 1}", f"value-{i}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    versions = cloud.kms.secret_state("app/db")["versions"]
    stages = [s for v in versions for s in v["stages"]]
    assert stages.count("ACSCurrent") == 1 and stages.count("ACSPrevious") == 1 and len(versions) == 10


# -- RAMCredentials rotation, on the clock and on demand ---------------------------------------------------------
def _ram_secret(cloud, ram, kms, interval="7d"):
    ram.create_user(rm.CreateUserRequest(user_name="rot.user"))
    key = ram.create_access_key(rm.CreateAccessKeyRequest(user_name="rot.user")).body.access_key
    data = json.dumps({"AccessKeys": [{"AccessKeyId": key.access_key_id, "AccessKeySecret": key.access_key_secret}]})
    name = kms.create_secret(km.CreateSecretRequest(
        secret_name="$Auto", version_id=key.access_key_id, secret_data=data, secret_type="RAMCredentials",
        extended_config={"SecretSubType": "RamUserAccessKey", "UserName": "rot.user"},
        enable_automatic_rotation=True, rotation_interval=interval)).body.secret_name
    return name, key.access_key_id


def _stages(kms, name):
    versions = kms.list_secret_version_ids(km.ListSecretVersionIdsRequest(secret_name=name)).body.to_map()
    return {v["VersionId"]: v["VersionStages"]["VersionStage"] for v in versions["VersionIds"]["VersionId"]}


def _key_ids(cloud):
    return [k["AccessKeyId"] for k in cloud.ram.access_keys("rot.user")]


def test_a_ram_secret_rotates_when_its_interval_has_passed(cloud, ram, kms):
    """KMS on its clock: a new key for the RAM user, the secret's new current version holds it, the old one
    is ACSPrevious (still readable, still a key of the user); at the next rotation the key before it goes.
    Version ids of a rotation are KMS's own, not AccessKeyIds."""
    name, first = _ram_secret(cloud, ram, kms)
    cloud.clock.advance(days=6, hours=23)
    assert _stages(kms, name) == {first: ["ACSCurrent"]}                        # not yet
    described = kms.describe_secret(km.DescribeSecretRequest(secret_name=name)).body
    assert described.last_rotation_date is None and described.rotation_interval == "604800s"
    cloud.clock.advance(hours=1, seconds=1)
    stages = _stages(kms, name)                                                  # any access: KMS rotates
    (current,) = [v for v, s in stages.items() if "ACSCurrent" in s]
    assert stages[first] == ["ACSPrevious"] and current != first
    assert current not in _key_ids(cloud) and len(current) == 32
    second = json.loads(get(kms, name).secret_data)["AccessKeyId"]
    assert _key_ids(cloud) == [first, second]
    assert json.loads(get(kms, name, version_stage="ACSPrevious").secret_data)["AccessKeyId"] == first
    described = kms.describe_secret(km.DescribeSecretRequest(secret_name=name)).body
    assert described.last_rotation_date and described.next_rotation_date > described.last_rotation_date
    cloud.clock.advance(days=7, seconds=1)
    assert cloud.kms.tick() == [name]                                            # the control API's tick
    third = json.loads(get(kms, name).secret_data)["AccessKeyId"]
    assert _key_ids(cloud) == [second, third]                                    # the key before went
    assert json.loads(get(kms, name, version_stage="ACSPrevious").secret_data)["AccessKeyId"] == second


def test_no_rotation_when_it_is_off_or_the_secret_is_being_deleted(cloud, ram, kms):
    name, first = _ram_secret(cloud, ram, kms)
    kms.update_secret_rotation_policy(km.UpdateSecretRotationPolicyRequest(secret_name=name,
                                                                           enable_automatic_rotation=False))
    cloud.clock.advance(days=30)
    assert cloud.kms.tick() == [] and _key_ids(cloud) == [first]
    kms.update_secret_rotation_policy(km.UpdateSecretRotationPolicyRequest(
        secret_name=name, enable_automatic_rotation=True, rotation_interval="7d"))
    kms.delete_secret(km.DeleteSecretRequest(secret_name=name, recovery_window_in_days="7"))
    cloud.clock.advance(days=6)
    assert cloud.kms.tick() == [] and _key_ids(cloud) == [first]


def test_rotate_secret_rotates_now_once_per_version_id(cloud, ram, kms):
    name, first = _ram_secret(cloud, ram, kms)
    answer = kms.rotate_secret(km.RotateSecretRequest(secret_name=name, version_id="manual-1")).body
    assert answer.version_id == "manual-1" and answer.secret_name == name
    assert _stages(kms, name) == {first: ["ACSPrevious"], "manual-1": ["ACSCurrent"]}
    kms.rotate_secret(km.RotateSecretRequest(secret_name=name, version_id="manual-1"))      # a retry: nothing
    assert len(_key_ids(cloud)) == 2 and _stages(kms, name)["manual-1"] == ["ACSCurrent"]
    with pytest.raises(AlibabaCloudException) as info:
        kms.rotate_secret(km.RotateSecretRequest(secret_name="app/none", version_id="x"))
    assert info.value.code == "InvalidParameter"


def _stages(kms, name="app/db"):
    body = kms.list_secret_version_ids(km.ListSecretVersionIdsRequest(secret_name=name)).body.to_map()
    return {v["VersionId"]: sorted(v["VersionStages"]["VersionStage"]) for v in body["VersionIds"]["VersionId"]
            if v.get("VersionStages", {}).get("VersionStage")}


def test_update_secret_version_stage_moves_current_only_from_its_holder(kms):
    """ACSCurrent moved back from v2 to v1: v2 becomes ACSPrevious; a move whose RemoveFromVersion no longer
    holds the stage is refused (Rejected.InvalidRequest), so nothing another writer did is undone."""
    create(kms)
    put(kms, "v2", "second-value")
    assert _stages(kms) == {"v1": ["ACSPrevious"], "v2": ["ACSCurrent"]}
    kms.update_secret_version_stage(km.UpdateSecretVersionStageRequest(
        secret_name="app/db", version_stage="ACSCurrent", remove_from_version="v2", move_to_version="v1"))
    assert _stages(kms) == {"v1": ["ACSCurrent"], "v2": ["ACSPrevious"]}
    assert get(kms).version_id == "v1"
    fails(lambda: kms.update_secret_version_stage(km.UpdateSecretVersionStageRequest(
        secret_name="app/db", version_stage="ACSCurrent", remove_from_version="v2", move_to_version="v1")),
        "Rejected.InvalidRequest", 400)
    fails(lambda: kms.update_secret_version_stage(km.UpdateSecretVersionStageRequest(
        secret_name="app/db", version_stage="ACSPrevious", remove_from_version="v2")), "InvalidParameter", 400)
    kms.update_secret_version_stage(km.UpdateSecretVersionStageRequest(
        secret_name="app/db", version_stage="ACSNext", move_to_version="v2"))
    assert _stages(kms) == {"v1": ["ACSCurrent"], "v2": ["ACSNext", "ACSPrevious"]}
    kms.update_secret_version_stage(km.UpdateSecretVersionStageRequest(
        secret_name="app/db", version_stage="ACSNext", remove_from_version="v2"))
    assert _stages(kms) == {"v1": ["ACSCurrent"], "v2": ["ACSPrevious"]}
