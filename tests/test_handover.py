"""Credential handover: the secret value's layout is the versioned schema (what the functions
really write validates, nothing else does), and the helpdesk policy reads credential secrets and
nothing more, enforced by localcloud as RAM would."""
import json
from pathlib import Path

import pytest
from alibabacloud_kms20160120 import models as km
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_ram20150501 import models as rm
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from jsonschema import Draft202012Validator

from tests.conftest import role_policy
from tests.onboarding_support import event, invoke, secret_value

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas" / "credential-secret.v1.schema.json").read_text(encoding="utf-8"))
READER = json.loads((ROOT / "policies" / "credential-reader-policy.json").read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems(value):
    """Where a value breaks the schema (paths only: a message could quote a credential)."""
    return [e.json_path for e in VALIDATOR.iter_errors(value)]


def test_the_schema_is_valid_2020_12_and_its_examples_match():
    Draft202012Validator.check_schema(SCHEMA)
    assert "v1" in SCHEMA["$id"]
    for example in SCHEMA["examples"]:
        assert problems(example) == []


@pytest.mark.parametrize("value", [
    {"UserName": "a", "LogonPrincipal": "a@corp.onaliyun.com", "AccessKeyId": "LTAI1", "AccessKeySecret": "s",
     "Password": "Aa1!aaaaaaaa"},                                        # two credential kinds at once
    {"UserName": "a", "LogonPrincipal": "a@corp.onaliyun.com"},          # no credential
    {"UserName": "A B", "LogonPrincipal": "a@corp.onaliyun.com", "Password": "Aa1!aaaaaaaa"},
    {"AccessKeys": []},
])
def test_the_schema_refuses_what_the_functions_never_write(value):
    assert problems(value) != []


@pytest.mark.parametrize(("mode", "secret_type", "name"), [
    ("programmatic", "Generic", "ram-user/alice.wang"),
    ("console", "Generic", "ram-user/alice.wang"),
    ("programmatic", "RAMCredentials", "acs/ram/user/alice.wang"),
])
def test_what_onboarding_writes_is_the_documented_layout(cloud, monkeypatch, mode, secret_type, name):
    from provisioner.platform import runtime
    monkeypatch.setenv("SECRET_TYPE", secret_type)
    runtime.reset()
    assert invoke(event(mode=mode))["status"] == "provisioned"
    value = secret_value(cloud, name)
    assert isinstance(value, dict) and problems(value) == []
    if secret_type == "Generic":                                          # noqa: S105
        assert value["LogonPrincipal"] == "alice.wang@corp.onaliyun.com"


def _helpdesk(cloud):
    key_id, key_secret = cloud.add_caller(policy=READER)
    config = cloud.client_config(access_key_id=key_id, access_key_secret=key_secret, security_token=None)
    return KmsClient(config), RamClient(config)


def _refused(call):
    with pytest.raises(AlibabaCloudException) as info:
        call()
    return info.value.code


def test_the_helpdesk_policy_reads_credential_secrets_and_nothing_else(cloud, kms):
    assert invoke(event())["status"] == "provisioned"
    kms.create_secret(km.CreateSecretRequest(secret_name="payroll/db", version_id="v1", secret_data="x" * 12))
    helpdesk_kms, helpdesk_ram = _helpdesk(cloud)
    got = helpdesk_kms.get_secret_value(km.GetSecretValueRequest(secret_name="ram-user/alice.wang")).body
    assert got.version_id and problems(json.loads(got.secret_data)) == []
    assert helpdesk_kms.describe_secret(km.DescribeSecretRequest(secret_name="ram-user/alice.wang")).body
    assert helpdesk_ram.get_user(rm.GetUserRequest(user_name="alice.wang")).body.user.user_name == "alice.wang"
    listed = kms.list_secrets(km.ListSecretsRequest(page_size=100)).body.secret_list.secret
    ledgers = [s.secret_name for s in listed if s.secret_name.startswith("ram-user/ledger/")]
    assert ledgers                                                # the event ledger: not the helpdesk's business
    for name in ["payroll/db", *ledgers]:
        code = _refused(lambda n=name: helpdesk_kms.get_secret_value(km.GetSecretValueRequest(secret_name=n)))
        assert "NoPermission" in code or "Forbidden" in code, code
    for call in (lambda: helpdesk_ram.create_user(rm.CreateUserRequest(user_name="x")),
                 lambda: helpdesk_ram.create_access_key(rm.CreateAccessKeyRequest(user_name="alice.wang")),
                 lambda: helpdesk_kms.put_secret_value(km.PutSecretValueRequest(
                     secret_name="ram-user/alice.wang", version_id="v9", secret_data="x"))):
        code = _refused(call)
        assert "NoPermission" in code or "Forbidden" in code, code


def test_the_functions_own_role_cannot_read_a_credential(cloud):
    """The writer never reads (policies/function-role-policy.json): only the helpdesk can."""
    assert invoke(event())["status"] == "provisioned"
    # a key held to the same role policy (the functions' own key would count as a call the code makes)
    key_id, key_secret = cloud.add_caller(policy=role_policy())
    function_kms = KmsClient(cloud.client_config(access_key_id=key_id, access_key_secret=key_secret,
                                                 security_token=None))
    code = _refused(lambda: function_kms.get_secret_value(km.GetSecretValueRequest(secret_name="ram-user/alice.wang")))
    assert "NoPermission" in code or "Forbidden" in code, code
