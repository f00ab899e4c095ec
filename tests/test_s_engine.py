"""s.yaml as the real Serverless Devs engine deploys it, offline (tests/s_engine).

The README's deploy commands run verbatim against the pinned CLI (@serverless-devs/s, installed by
`make tools`), each fc3 resource of a copy of s.yaml pointing at a stub component that records
the props the engine resolved and the credential it handed over. Where the engine and any
hand-written reading of s.yaml could differ, these props are the truth: tests/test_deploy_config.py
and tests/test_role_policy.py read them too.
"""
import ast
import json
import re
import struct
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from tests import s_engine as se
from tests.reference import FC3_SCHEMA

EXPECTED_HANDLERS = {"onboarding": "onboarding.handler", "offboarding": "offboarding.handler",
                     "audit": "audit.handler", "rotation": "rotation.handler"}
# the others run under hr-ram-provisioner-fn
ROLES = {"audit": "hr-ram-provisioner-audit", "rotation": "hr-ram-provisioner-rotation"}
# FC runtime -> the CPython tag its native extensions must carry
RUNTIME_ABI = {"python3.10": "cp310", "python3.12": "cp312"}
MANYLINUX2014_GLIBC = (2, 17)   # FC's platform: manylinux2014_x86_64


@pytest.fixture(scope="module")
def validator():
    return Draft7Validator(json.loads(FC3_SCHEMA.read_text(encoding="utf-8")))


def _ok(run, engine):
    assert run.returncode == 0, f"`{run.command}` failed ({run.returncode}):\n{run.tail(engine.secrets)}"


def _strings(node, path="$"):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def _artifact(s_engine, name, job="deploy"):
    """The directory ``code`` names, relative to the s.yaml the engine read (as fc3 resolves it)."""
    record = s_engine.records(job)[name]
    code = Path(record["yamlPath"]).parent / record["props"]["code"]
    if not (code / f"{name}.py").exists():
        message = f"no built artifact at {record['props']['code']} (build/artifact): run `make package`"
        if se.in_ci():
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    return code.resolve()


# -- the engine and the README ----------------------------------------------------------------
def test_the_pinned_engine_runs(s_engine):
    # the engine names itself in the footer of every error it reports (here: the broken s.yaml's)
    output = s_engine.runs["verify-broken"].output
    assert f"@serverless-devs/s: {se.PINNED_VERSION}," in output, output[-500:]


def test_readme_installs_the_pinned_cli():
    section = se.readme_section()
    assert f"@serverless-devs/s@{se.PINNED_VERSION}" in section
    assert "npm install -g @serverless-devs/s@" in section


def test_readme_deploy_steps_are_all_run(s_engine):
    commands = s_engine.commands
    assert [c for c in commands["deploy"]] == ["s deploy -y"], commands["deploy"]
    assert commands["deploy-other"] and commands["verify"] and commands["invoke"], commands
    assert set(s_engine.jobs.values()) >= {c for kind in ("deploy", "deploy-other", "verify", "invoke")
                                           for c in commands[kind]}


@pytest.mark.parametrize("alias", ["default", "staging"])
def test_s_config_add_stores_the_access(s_engine, alias):
    run = s_engine.engine.config_runs[alias]
    _ok(run, s_engine.engine)
    assert f"Alias: {alias}" in re.sub(r"\s+", " ", run.output), run.output[-500:]
    # the engine shows the key masked, never whole
    for secret in (s_engine.engine.accesses[alias][k] for k in ("AccessKeyID", "AccessKeySecret")):
        assert secret not in run.output + run.logs


# -- s deploy -y: what the engine hands the fc3 component ---------------------------------------
def test_every_fc3_resource_is_reached(s_engine, capsys):
    run = s_engine.runs["deploy"]
    _ok(run, s_engine.engine)
    assert sorted(run.records) == se.fc3_resources()
    for name, record in run.records.items():
        assert record["command"] == "deploy" and record["args"] == ["-y"], record
        assert record["resource"] == {"name": name, "component": str(se.STUB), "access": "default"}
        assert f"[{name}] completed" in run.output
    with capsys.disabled():   # for the record: what the engine hands fc3 (defaults, a fake account)
        print(f"\n`{run.command}` ({run.seconds:.1f} s), @serverless-devs/s {se.PINNED_VERSION}, props of offboarding: "
              + json.dumps(run.records["offboarding"]["props"], separators=(",", ":")))


def test_the_component_gets_the_access_credential(s_engine):
    account = s_engine.engine.accesses["default"]["AccountID"]
    for name, record in s_engine.records("deploy").items():
        assert record["credentialError"] is None, f"{name}: getCredential() threw {record['credentialError']}"
        assert {"AccessKeyID", "AccessKeySecret", "AccountID"} <= set(record["credentialFields"]), record
        assert record["accountId"] == account


@pytest.mark.parametrize("name", sorted(EXPECTED_HANDLERS))
def test_resolved_props_validate_against_the_fc3_schema(s_engine, validator, name):
    props = s_engine.records("deploy")[name]["props"]
    errors = sorted(validator.iter_errors(props), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in errors)


@pytest.mark.parametrize("job", ["deploy", "deploy-other"])
def test_nothing_is_left_unresolved(s_engine, job):
    for name, record in s_engine.records(job).items():
        left = [(path, value) for path, value in _strings(record["props"]) if "${" in value]
        assert not left, f"{name}: unresolved Serverless Devs variables: {left}"


@pytest.mark.parametrize("job", ["deploy", "deploy-other"])
def test_every_environment_value_is_a_string(s_engine, job):
    for name, record in s_engine.records(job).items():
        env = record["props"]["environmentVariables"]
        assert env, name
        wrong = {k: v for k, v in env.items() if not isinstance(v, str)}
        assert not wrong, f"{name}: FC takes strings only: {wrong}"


def test_account_id_comes_from_the_access(s_engine):
    account = s_engine.engine.accesses["default"]["AccountID"]
    for name, record in s_engine.records("deploy").items():
        props = record["props"]
        role = ROLES.get(name, "hr-ram-provisioner-fn")
        assert props["role"] == f"acs:ram::{account}:role/{role}", props["role"]
        assert props["environmentVariables"]["ACCOUNT_ID"] == account
        assert f":{account}:" in props["asyncInvokeConfig"]["destinationConfig"]["onFailure"]["destination"]
        for trigger in props["triggers"]:
            if trigger["triggerType"] == "eventbridge":
                assert f":{account}:eventbus/" in trigger["sourceArn"]


# -- the built artifact the props name ------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EXPECTED_HANDLERS))
def test_each_handler_is_in_the_built_artifact(s_engine, name):
    props = s_engine.records("deploy")[name]["props"]
    assert props["handler"] == EXPECTED_HANDLERS[name]
    module, function = props["handler"].rsplit(".", 1)
    artifact = _artifact(s_engine, name)
    tree = ast.parse((artifact / f"{module}.py").read_text(encoding="utf-8"))
    handlers = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function]
    assert handlers and len(handlers[0].args.args) == 2, f"{module}.py defines no {function}(event, context)"
    assert (artifact / "provisioner" / "__init__.py").exists() and (artifact / "schemas").is_dir()


def _elf_machine(path):
    head = path.read_bytes()[:20]
    assert head[:4] == b"\x7fELF", f"{path.name} is not ELF"
    return head[4], struct.unpack("<H", head[18:20])[0]     # EI_CLASS (2: 64-bit), e_machine


def _glibc(platform_tag):
    if platform_tag.startswith("manylinux2014_"):
        return (2, 17)
    if platform_tag.startswith("manylinux2010_"):
        return (2, 12)
    if platform_tag.startswith("manylinux1_"):
        return (2, 5)
    m = re.match(r"manylinux_(\d+)_(\d+)_", platform_tag)
    assert m, platform_tag
    return int(m.group(1)), int(m.group(2))


def test_native_extensions_are_built_for_the_runtime(s_engine):
    props = s_engine.records("deploy")["onboarding"]["props"]
    abi = RUNTIME_ABI[props["runtime"]]
    artifact = _artifact(s_engine, "onboarding")
    extensions = sorted(artifact.rglob("*.so"))
    assert extensions, "no native extension at all: not the artifact make package builds"
    suffix = f".cpython-{abi[2:]}-x86_64-linux-gnu.so"
    wrong = [str(p.relative_to(artifact)) for p in extensions if not (p.name.endswith(suffix) or ".abi3." in p.name)]
    assert not wrong, f"extensions not built for {props['runtime']} ({suffix}): {wrong[:5]}"
    for path in extensions:
        assert _elf_machine(path) == (2, 0x3E), f"{path.name}: not x86-64 ELF"
    # every wheel installs on the runtime: one of its tags (a wheel may list several) is pure
    # Python, or CPython <= the runtime's (its ABI or abi3) on manylinux2014 x86_64 or older
    def fits(tag):
        python, abi_tag, platform = tag.split("-")
        if platform == "any":
            return python.startswith("py3")
        return (platform.endswith("_x86_64") and _glibc(platform) <= MANYLINUX2014_GLIBC
                and abi_tag in (abi, "abi3") and python.startswith("cp3") and int(python[3:]) <= int(abi[3:]))

    for wheel in sorted(artifact.glob("*.dist-info/WHEEL")):
        tags = [line.split(":", 1)[1].strip() for line in wheel.read_text(encoding="utf-8").splitlines()
                if line.startswith("Tag:")]
        assert tags and any(fits(t) for t in tags), (wheel.parent.name, tags)


# -- s verify -----------------------------------------------------------------------------------
def test_s_verify_passes_through_the_components_schema(s_engine):
    run = s_engine.runs["verify"]
    _ok(run, s_engine.engine)
    assert "Format verification for [s.yaml] passed." in run.output


def test_s_verify_refuses_props_the_schema_refuses(s_engine):
    """Negative control: the same copy with a non-integer memorySize."""
    run = s_engine.runs["verify-broken"]
    assert run.returncode != 0, run.output[-1000:]
    for name in se.fc3_resources():
        assert f"{name}/props/memorySize must be integer" in run.output, run.output[-1000:]


# -- another account: s deploy -y -a <alias> -------------------------------------------------------
def test_another_account_by_alias(s_engine):
    run = s_engine.runs["deploy-other"]
    _ok(run, s_engine.engine)
    alias = re.search(r"-a\s+(\S+)", run.command).group(1)
    account = s_engine.engine.accesses[alias]["AccountID"]
    assert account != s_engine.engine.accesses["default"]["AccountID"]
    assert sorted(run.records) == se.fc3_resources()
    for name, record in run.records.items():
        assert record["resource"]["access"] == alias
        assert record["accountId"] == account, "getCredential() must read the -a alias"
        props = record["props"]
        assert props["role"].startswith(f"acs:ram::{account}:role/")
        assert props["environmentVariables"]["ACCOUNT_ID"] == account


def test_the_shell_environment_reaches_the_functions(s_engine):
    """The README's `REGION=… s deploy -y -a …`, and what the shell exported besides."""
    run = s_engine.runs["deploy-other"]
    region = re.search(r"\bREGION=(\S+)", run.command).group(1)
    for name, record in run.records.items():
        props = record["props"]
        env = props["environmentVariables"]
        assert props["region"] == env["REGION"] == region
        assert f":{region}:" in props["asyncInvokeConfig"]["destinationConfig"]["onFailure"]["destination"]
        assert env["SECRET_PREFIX"] == s_engine.other_env["SECRET_PREFIX"]
        assert env["WEBHOOK_SIGNING_KEY"] == s_engine.other_env["HR_WEBHOOK_SIGNING_KEY"]


# -- s offboarding invoke ----------------------------------------------------------------------------
def test_invoke_reaches_only_that_function_with_the_event(s_engine):
    run = s_engine.runs["invoke"]
    _ok(run, s_engine.engine)
    target = run.command.split()[1]
    assert list(run.records) == [target]
    record = run.records[target]
    assert record["command"] == "invoke"
    args = record["args"]
    event = json.loads(args[args.index("--event") + 1])
    assert set(event) == {"triggerTime", "triggerName", "payload"}
    assert json.loads(event["payload"]) == {"dryRun": True}


# -- offline, and no credential anywhere ------------------------------------------------------------
def test_no_connection_leaves_the_machine(s_engine):
    """The offline guard refused nothing to deploy/verify/invoke: they never tried. (`s config add`
    tries STS GetCallerIdentity to look the account up; the guard refuses it, the given AccountID
    is kept.)"""
    for job, run in s_engine.runs.items():
        assert not run.attempts, f"{job}: {run.attempts}"
    for run in s_engine.engine.config_runs.values():
        assert all(a["what"].startswith("connect sts.") for a in run.attempts), run.attempts


def test_no_credential_in_any_output(s_engine):
    secrets = s_engine.engine.secrets + [s_engine.other_env["HR_WEBHOOK_SIGNING_KEY"]]
    for job, run in s_engine.runs.items():
        seen = run.output + run.logs + json.dumps(run.records)
        if job == "deploy-other":   # the signing key is a function setting: only in the props
            seen = run.output + run.logs + json.dumps({k: v["credentialFields"] for k, v in run.records.items()})
        leaked = [s[:4] + "…" for s in secrets if s in seen]
        assert not leaked, f"{job}: a credential in the engine's output, logs or the stub's record: {leaked}"
