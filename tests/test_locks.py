"""The dependency locks (scripts/lock.py): fresh against requirements*.txt, every entry hashed, the
tests' runtime pins the deployed ones, and the installs that use them hash-checked. Offline."""
import importlib.util
import re
import shutil

import pytest

from tests.deploy_helpers import ROOT


def _module(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lock = _module("lock")


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A copy of the requirements and locks that scripts/lock.py reads, to break on purpose."""
    for name in ("requirements.txt", "requirements-dev.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "locks", tmp_path / "locks")
    monkeypatch.setattr(lock, "ROOT", tmp_path)
    monkeypatch.setattr(lock, "LOCKS", tmp_path / "locks")
    assert lock.check() == []
    return tmp_path


def test_locks_are_fresh():
    problems = lock.check()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(lock.TARGETS))
def test_every_entry_is_pinned_and_hashed(name):
    entries = lock.parse_lock((ROOT / "locks" / name).read_text(encoding="utf-8"))
    assert len(entries) > 10
    assert all(hashes >= 1 for _version, _marker, hashes in entries.values())
    # the runtime closure is all there (the SDKs' own dependencies included)
    names = {k.split(";")[0] for k in entries}
    assert {"alibabacloud-tea-openapi", "cryptography", "jsonschema", "darabonba-core"} <= names


def test_a_changed_requirement_makes_the_locks_stale(tree):
    text = (tree / "requirements.txt").read_text(encoding="utf-8")
    (tree / "requirements.txt").write_text(text.replace("jsonschema==4.26.0", "jsonschema==4.25.1"), encoding="utf-8")
    problems = lock.check()
    for name in lock.TARGETS:          # dev.txt includes requirements.txt (-r)
        assert any(p.startswith(f"locks/{name} is stale") for p in problems), (name, problems)
    assert any("jsonschema is ['4.26.0'], requirements.txt pins 4.25.1" in p for p in problems), problems


def test_a_comment_or_reordering_is_not_a_change(tree):
    text = (tree / "requirements.txt").read_text(encoding="utf-8")
    lines = text.splitlines()
    (tree / "requirements.txt").write_text("# reordered\n" + "\n".join(reversed(lines)) + "\n", encoding="utf-8")
    assert lock.check() == []


def test_an_entry_without_hashes_is_refused(tree):
    path = tree / "locks" / "runtime-python3.12.txt"
    text = path.read_text(encoding="utf-8")
    broken = re.sub(r"(jsonschema==4\.26\.0) \\\n(\s+--hash=sha256:[0-9a-f]+( \\)?\n)+", r"\1\n", text)
    assert broken != text
    path.write_text(broken, encoding="utf-8")
    assert any("jsonschema==4.26.0 has no hash" in p for p in lock.check())


def test_dev_lock_must_run_what_deploys(tree):
    path = tree / "locks" / "dev.txt"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"^attrs==\S+", "attrs==1.0.0", text, flags=re.MULTILINE), encoding="utf-8")
    assert any(p.startswith("locks/dev.txt has attrs 1.0.0") for p in lock.check())


def test_a_missing_lock_is_reported(tree):
    (tree / "locks" / "runtime-python3.10.txt").unlink()
    assert lock.check() == ["locks/runtime-python3.10.txt is missing: run `make lock`"]


def test_package_installs_from_the_lock_with_hashes(monkeypatch, tmp_path):
    package = _module("package")
    seen = []
    monkeypatch.setattr(package, "run", lambda cmd: seen.append([str(c) for c in cmd]))
    package.vendor(tmp_path, "3.12", "manylinux2014_x86_64", package.lock_for("3.12"))
    (cmd,) = seen
    assert cmd[cmd.index("-r") + 1] == str(ROOT / "locks" / "runtime-python3.12.txt")
    assert {"--require-hashes", "--no-deps", "--no-build-isolation"} <= set(cmd)
    assert cmd[cmd.index("--platform") + 1] == "manylinux2014_x86_64"
    assert cmd[cmd.index("--python-version") + 1] == "3.12"
    with pytest.raises(SystemExit, match="no lock for python 3.9"):
        package.lock_for("3.9")


def test_the_venv_and_lock_targets():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install -q --require-hashes -r locks/dev.txt" in makefile
    assert re.search(r"^lock: venv\n\t\$\(PY\) scripts/lock\.py", makefile, re.MULTILINE)
