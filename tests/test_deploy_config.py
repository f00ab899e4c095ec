"""s.yaml as the fc3 component sees it: schema-valid props, real handlers, every setting declared.

The props are the real Serverless Devs engine's (the ``s_engine`` fixture: the README's
``s deploy -y`` on a copy of s.yaml, tests/s_engine), not a reading of the YAML of our own: where
the two could differ, the engine is what deploys.
"""
import importlib
import json
import sys

import pytest
from jsonschema import Draft7Validator
from provisioner.platform.settings import Settings

from tests.deploy_helpers import (
    FUNCTIONS,
    env_placeholders,
    env_vars_read,
    load_s_yaml,
)
from tests.reference import FC3_SCHEMA

# Set by Function Compute itself, never in s.yaml (FC rejects user variables named FC_*).
FC_PROVIDED_PREFIXES = ("ALIBABA_CLOUD_", "FC_")
# Read by the code for development only, deliberately absent from the deployment.
NOT_DEPLOYED = {"SCHEMA_DIR": "overrides where JSON Schemas are loaded from (tests/tools)"}
EXPECTED_FUNCTIONS = {"onboarding": "onboarding.handler", "offboarding": "offboarding.handler",
                      "audit": "audit.handler", "rotation": "rotation.handler"}


@pytest.fixture(scope="module")
def spec(s_engine):
    return s_engine.spec("deploy")


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(FC3_SCHEMA.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def test_edition_and_components():
    raw = load_s_yaml()
    assert raw["edition"] == "3.0.0"
    assert set(raw["resources"]) == set(EXPECTED_FUNCTIONS)
    assert {r["component"] for r in raw["resources"].values()} == {"fc3"}


@pytest.mark.parametrize("name", sorted(EXPECTED_FUNCTIONS))
def test_props_use_only_known_fields(spec, validator, name):
    """The schema allows extra properties; a typo (``memorysize``) would deploy silently without it."""
    known = set(validator.schema["properties"])
    props = spec["resources"][name]["props"]
    assert set(props) <= known, sorted(set(props) - known)
    for trigger in props.get("triggers", []):
        assert set(trigger) <= set(validator.schema["definitions"]["ITrigger"]["properties"]), trigger


@pytest.mark.parametrize("name", sorted(EXPECTED_FUNCTIONS))
def test_runtime_handler_code_and_sizing(spec, name):
    props = spec["resources"][name]["props"]
    assert props["runtime"] in ("python3.10", "python3.12")
    assert props["handler"] == EXPECTED_FUNCTIONS[name]
    assert props["code"] == "./build/artifact", "deploy the packaged artifact (make package), not functions/"
    assert props["role"].startswith("acs:ram::") and ":role/" in props["role"]
    # FC3: memory (GB) / vCPU between 1 and 4
    assert 1 <= (props["memorySize"] / 1024) / props["cpu"] <= 4
    # room for a call's whole retry budget on top of real work
    assert props["timeout"] > Settings().retry_max_seconds * 2


def test_defaults_come_from_environment():
    text = load_s_yaml()
    placeholders = env_placeholders()
    assert "HR_PROVISIONER_ROLE_NAME" in placeholders   # role from the environment
    assert "${env(" in text["vars"]["role"]
    missing = [n for n, d in placeholders.items() if d is None]
    assert not missing, f"no safe default for {missing}"


def test_an_overridden_environment_reaches_the_functions(s_engine):
    """`REGION=cn-shanghai s deploy -y -a staging` (README) with SECRET_PREFIX=people/ exported."""
    props = s_engine.spec("deploy-other")["resources"]["onboarding"]["props"]
    assert props["environmentVariables"]["SECRET_PREFIX"] == "people/"
    assert props["region"] == "cn-shanghai"


def test_safe_defaults(spec):
    for name in EXPECTED_FUNCTIONS:
        env = spec["resources"][name]["props"]["environmentVariables"]
        settings = Settings.from_env(env)          # the defaults are valid settings
        assert settings.protocol == "https"
        assert env["WEBHOOK_SIGNING_KEY"] == ""     # no baked-in key: unsigned webhooks are refused
        assert settings.offboard_dry_run            # the sweep only reports until switched on
        assert not settings.audit_fixes             # the audit only reports until switched on
        assert all(isinstance(v, str) for v in env.values())
        assert not [k for k in env if k.startswith(("FC_", "ALIBABA_CLOUD_"))], "reserved names"


def test_triggers(spec):
    on = {t["triggerName"]: t for t in spec["resources"]["onboarding"]["props"]["triggers"]}
    off = {t["triggerName"]: t for t in spec["resources"]["offboarding"]["props"]["triggers"]}
    for triggers, event_type in ((on, "employee.onboarded"), (off, "employee.offboarded")):
        eb = [t for t in triggers.values() if t["triggerType"] == "eventbridge"]
        assert len(eb) == 1
        config = eb[0]["triggerConfig"]
        assert json.loads(config["eventRuleFilterPattern"])["type"] == [event_type]
        assert config["asyncInvocationType"] is True    # async: FC retry + on-failure destination
        assert ":eventbus/" in eb[0]["sourceArn"] and ":eventbus/default/" not in eb[0]["sourceArn"]
    http = [t for t in on.values() if t["triggerType"] == "http"]
    assert len(http) == 1 and http[0]["triggerConfig"]["methods"] == ["POST"]
    assert not [t for t in off.values() if t["triggerType"] == "http"]
    timers = [t for t in off.values() if t["triggerType"] == "timer"]
    assert len(timers) == 1
    cron = timers[0]["triggerConfig"]["cronExpression"]
    assert cron.startswith("CRON_TZ=") and len(cron.split()) == 7, cron   # zone + 6 fields, daily
    assert cron.split()[4:] == ["*", "*", "*"]
    json.loads(timers[0]["triggerConfig"]["payload"])                  # FC passes it as a string
    audit = spec["resources"]["audit"]["props"]
    (daily,) = audit["triggers"]
    assert daily["triggerType"] == "timer" and daily["triggerConfig"]["cronExpression"].split()[4:] == ["*", "*", "*"]
    assert json.loads(daily["triggerConfig"]["payload"]) == {}
    assert audit["role"] != spec["resources"]["onboarding"]["props"]["role"]     # its own, read-only role
    rotation = spec["resources"]["rotation"]["props"]["triggers"]
    assert [t["triggerType"] for t in rotation] == ["timer"]            # its timer only, no event source
    assert rotation[0]["triggerConfig"]["cronExpression"].split()[4:] == ["*", "*", "*"]
    assert json.loads(rotation[0]["triggerConfig"]["payload"]) == {}


def test_each_function_has_the_role_of_its_job(spec):
    """Least privilege per job: the rotation and the audit functions run with their own roles, not the lifecycle one."""
    roles = {name: spec["resources"][name]["props"]["role"] for name in EXPECTED_FUNCTIONS}
    assert roles["onboarding"] == roles["offboarding"] != roles["rotation"] != roles["audit"] != roles["onboarding"]
    assert roles["rotation"].endswith(":role/hr-ram-provisioner-rotation")
    assert roles["audit"].endswith(":role/hr-ram-provisioner-audit")


def test_async_and_logs(spec):
    for name in EXPECTED_FUNCTIONS:
        props = spec["resources"][name]["props"]
        config = props["asyncInvokeConfig"]
        assert 1 <= config["maxAsyncRetryAttempts"] <= 8
        assert config["destinationConfig"]["onFailure"]["destination"].startswith("acs:")
        assert props["logConfig"]["project"] and props["logConfig"]["logstore"]


@pytest.mark.parametrize("name", sorted(EXPECTED_FUNCTIONS))
def test_handler_resolves_to_a_callable(spec, name, monkeypatch):
    module_name, attr = spec["resources"][name]["props"]["handler"].rsplit(".", 1)
    monkeypatch.syspath_prepend(str(FUNCTIONS))
    sys.modules.pop(module_name, None)
    module = importlib.import_module(module_name)
    assert module.__file__.startswith(str(FUNCTIONS))
    handler = getattr(module, attr)
    assert callable(handler)
    assert handler.__code__.co_argcount == 2          # handler(event, context)


def test_scanner_sees_the_settings():
    read = env_vars_read()
    # read in three different ways in config.py/runtime.py: env.get, _int(env, ...), os.environ.get
    assert {"SECRET_PREFIX", "OFFBOARD_GRACE_DAYS", "FC_ACCOUNT_ID", "ALIBABA_CLOUD_ACCESS_KEY_ID"} <= set(read)


def test_every_variable_the_code_reads_is_declared(spec):
    read = env_vars_read()
    needed = {n: where for n, where in read.items()
              if not n.startswith(FC_PROVIDED_PREFIXES) and n not in NOT_DEPLOYED}
    for name in EXPECTED_FUNCTIONS:
        declared = set(spec["resources"][name]["props"]["environmentVariables"])
        missing = {n: where for n, where in needed.items() if n not in declared}
        assert not missing, f"{name}: read by the code but not declared in s.yaml: {missing}"
        stale = declared - set(read)
        assert not stale, f"{name}: declared in s.yaml but never read: {sorted(stale)}"
