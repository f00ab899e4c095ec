"""The artifact as deployed: built by scripts/package.py (what `make package` runs), unzipped into
a temporary directory, and both handlers run from it in a clean interpreter whose sys.path is only
that directory and the standard library, against localcloud. Reports size, cold start and memory.

The build targets this machine's interpreter (so it can run here) through the same cross-platform
install path as the real build (``--platform manylinux2014_x86_64 --python-version X.Y
--only-binary=:all:``); only the Python version differs from the FC build.
"""
import importlib.util
import json
import platform
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import function_actions
from tests.deploy_helpers import ROOT

EXAMPLES = ROOT / "examples" / "events"
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
PLATFORM = "manylinux2014_x86_64" if sys.platform == "linux" and platform.machine() == "x86_64" else ""
MARK = "ARTIFACT-RESULT "

# Runs in the child: nothing but the artifact and the standard library. -B: like FC's read-only
# code directory, no bytecode cache is written, so every cold start compiles what it imports.
RUNNER = r'''
import json, os, resource, sys, sysconfig, time
root, module_name, events = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, root)
started = time.perf_counter()
module = __import__(module_name)
imported = time.perf_counter() - started
runs = []
for event in events:
    t = time.perf_counter()
    result = module.handler(json.dumps(event).encode("utf-8"), None)
    runs.append({"result": result, "seconds": time.perf_counter() - t})
paths = sysconfig.get_paths()
allowed = (root, paths["stdlib"], paths["platstdlib"])
outside = sorted({m.__file__ for m in list(sys.modules.values())
                  if getattr(m, "__file__", None) and not m.__file__.startswith(allowed)})
print("''' + MARK + r'''" + json.dumps({
    "import_seconds": imported, "runs": runs, "outside": outside, "sys_path": sys.path,
    "cold_start_seconds": imported + runs[0]["seconds"],
    "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def _package_module():
    spec = importlib.util.spec_from_file_location("package", ROOT / "scripts" / "package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "package.py"), "--python-version", PYTHON_VERSION,
                    "--platform", PLATFORM, "--out", str(out)], check=True, capture_output=True, text=True)
    zip_path = out / "hr-ram-provisioner.zip"
    unpacked = tmp_path_factory.mktemp("unzipped")
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(unpacked)
    return zip_path, unpacked


def _run(unpacked, module, events, env):
    proc = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", RUNNER, str(unpacked), module, json.dumps(events)],
                          env=env, cwd=str(unpacked), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith(MARK))
    return json.loads(line[len(MARK):]), proc.stdout + proc.stderr


def _child_env(cloud):
    env = dict(cloud.function_env())
    env.update(RETRY_BASE_SECONDS="0", WEBHOOK_SIGNING_KEY="test-webhook-key", ACCOUNT_ID=cloud.account_id,
               OFFBOARD_GRACE_DAYS="0", HR_TIMEZONE="UTC", LANG="C.UTF-8")
    return env


def test_zip_layout(built):
    zip_path, unpacked = built
    names = set(zipfile.ZipFile(zip_path).namelist())
    assert {"onboarding.py", "offboarding.py", "audit.py", "provisioner/__init__.py",
            "schemas/onboarding-event.schema.json", "schemas/offboarding-event.schema.json",
            "schemas/audit-payload.schema.json"} <= names
    for package in ("alibabacloud_ram20150501/", "alibabacloud_kms20160120/", "alibabacloud_credentials/",
                    "alibabacloud_tea_openapi/", "jsonschema/"):
        assert any(n.startswith(package) for n in names), package
    assert not [n for n in names if n.startswith(("localcloud/", "tests/", "hrctl/", "bench/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_nothing_depends_on_where_it_was_built(built):
    """Console scripts (their shebang is the building venv's path) are gone, RECORD lines included."""
    zip_path, unpacked = built
    assert not (unpacked / "bin").exists()
    for record in unpacked.glob("*.dist-info/RECORD"):
        assert "../../bin/" not in record.read_text(encoding="utf-8"), record.parent.name
    here = str(ROOT).encode()
    assert not [p.name for p in unpacked.rglob("*") if p.is_file() and here in p.read_bytes()]


def test_zip_is_deterministic(built, tmp_path):
    _, unpacked = built
    package = _package_module()
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    package.write_zip(unpacked, first)
    package.write_zip(unpacked, second)
    assert first.read_bytes() == second.read_bytes()
    assert {i.date_time for i in zipfile.ZipFile(first).infolist()} == {package.FIXED_TIME}


def test_handlers_run_from_the_artifact(built, cloud, ram, capsys):
    zip_path, unpacked = built
    env = _child_env(cloud)
    # the child reads the real clock: the examples happen now (older events are refused as stale)
    now = datetime.now(timezone.utc)
    onboarding_event = json.loads((EXAMPLES / "direct.json").read_text(encoding="utf-8"))
    onboarding_event.pop("endDate", None)
    onboarding_event["occurredAt"] = (now - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    on, on_output = _run(unpacked, "onboarding", [onboarding_event], env)
    assert not on["outside"], f"imported from outside the artifact and the stdlib: {on['outside']}"
    assert not [p for p in on["sys_path"] if "site-packages" in p]
    result = on["runs"][0]["result"]
    assert result["status"] == "provisioned", result
    assert result["secretName"] == "ram-user/alice.wang"
    assert {"ram:CreateUser", "kms:CreateSecret"} <= function_actions(cloud)

    leaver = json.loads((EXAMPLES / "offboarding-direct.json").read_text(encoding="utf-8"))
    leaver["occurredAt"] = (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sweep = {"triggerTime": "2026-11-29T01:00:00Z", "triggerName": "daily-sweep",
             "payload": json.dumps({"dryRun": False})}
    off, off_output = _run(unpacked, "offboarding", [leaver, sweep], env)
    assert not off["outside"], off["outside"]
    assert off["runs"][0]["result"]["status"] in ("disabled", "scheduled", "deleted"), off["runs"][0]["result"]
    swept = off["runs"][1]["result"]
    assert isinstance(swept, dict) and swept.get("status") != "failed", swept

    for secret in cloud.minted_credentials():   # invariant 1, from the deployed code too
        assert secret not in on_output + off_output

    size = zip_path.stat().st_size
    unpacked_size = sum(i.file_size for i in zipfile.ZipFile(zip_path).infolist())
    with capsys.disabled():
        print(f"\nartifact (python {PYTHON_VERSION}, {PLATFORM or 'native'}): {size / 1e6:.1f} MB zipped, "
              f"{unpacked_size / 1e6:.1f} MB unpacked")
        print(f"onboarding: cold start {on['cold_start_seconds']:.2f} s (import {on['import_seconds']:.2f} s), "
              f"peak RSS {on['maxrss_mb']:.0f} MB")
        print(f"offboarding: cold start {off['cold_start_seconds']:.2f} s (import {off['import_seconds']:.2f} s), "
              f"sweep {off['runs'][1]['seconds']:.2f} s, peak RSS {off['maxrss_mb']:.0f} MB")
