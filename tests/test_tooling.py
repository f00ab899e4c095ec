"""The CI checks check what they claim: vermin with the Makefile's flags rejects code that needs
more than python3.10, and the deployed code passes it."""
import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy_helpers import ROOT


def vermin_flags():
    match = re.search(r"^VERMIN_FLAGS\s*:?=\s*(.+)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    assert match, "Makefile defines VERMIN_FLAGS"
    return match.group(1).split()


def vermin(*paths):
    # vermin has no ``python -m vermin``; its console script sits beside the interpreter
    exe = Path(sys.executable).with_name("vermin")
    exe = str(exe) if exe.exists() else shutil.which("vermin")
    assert exe, "vermin is installed (requirements-dev.txt)"
    return subprocess.run([exe, *vermin_flags(), *map(str, paths)], capture_output=True, text=True)


@pytest.mark.parametrize("source", [
    "import tomllib\n",                                   # 3.11 module
    "from typing import Self\n",                          # 3.11 typing member
    "import asyncio\nasync def f():\n    async with asyncio.TaskGroup():\n        pass\n",   # 3.11 API
    "try:\n    pass\nexcept* ValueError:\n    pass\n",      # 3.11 syntax
])
def test_vermin_rejects_newer_code(tmp_path, source):
    path = tmp_path / "newer.py"
    path.write_text(source)
    result = vermin(path)
    assert result.returncode == 1 and "Target versions not met" in result.stdout, result.stdout + result.stderr


def test_vermin_accepts_310_code(tmp_path):
    path = tmp_path / "ok.py"
    path.write_text("import zoneinfo\n\ndef f(x: int | None):\n    match x:\n        case None:\n"
                    "            return 0\n    return x\n")
    result = vermin(path)
    assert result.returncode == 0, result.stdout


def test_deployed_code_parses_as_310():
    """Syntax newer than the interpreter running vermin is invisible to it ("not enough evidence"),
    so the grammar is checked too, as far as this interpreter's parser knows 3.10's."""
    for path in sorted((ROOT / "functions").rglob("*.py")):
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 10))


def test_deployed_code_is_310_compatible():
    result = vermin(ROOT / "functions")
    assert result.returncode == 0, result.stdout


def _python310():
    """A working python3.10 (a pyenv shim on PATH may exist and still not run one)."""
    candidates = [str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.10*/bin/python3.10"))]
    candidates += [shutil.which("python3.10")] if shutil.which("python3.10") else []
    for exe in candidates:
        probe = subprocess.run([exe, "-c", "import sys; print(sys.version_info[:2] == (3, 10))"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return exe
    return None


RFC3339_ON_310 = """
import json, sys
sys.path.insert(0, sys.argv[1])
from provisioner.adapters.validation import _is_datetime
print(json.dumps({v: _is_datetime(v) for v in json.loads(sys.argv[2])}))
"""


def test_rfc3339_timestamps_validate_the_same_on_python310():
    """datetime.fromisoformat on 3.10 refuses fractions other than 3 or 6 digits (Java and Go send 9):
    a valid occurredAt must not be rejected only on the 3.10 runtime."""
    python = _python310()
    if python is None:
        pytest.skip("no python3.10 interpreter on this machine")
    cases = {"2026-11-28T09:00:00Z": True, "2026-11-28T09:00:00.5Z": True,
             "2026-11-28T09:00:00.123456789Z": True, "2026-11-28t09:00:00.12+08:00": True,
             "2026-11-28T09:00:00.1234+05:30": True, "2026-02-30T09:00:00Z": False,
             "2026-11-28T24:00:00Z": False, "2026-11-28T09:00:00+24:00": False,
             "2026-11-28T09:00:00.\u0663Z": False}
    out = subprocess.run([python, "-c", RFC3339_ON_310, str(ROOT / "functions"), json.dumps(list(cases))],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == cases


# -- mutation testing (make mutation; docs/mutation.md) -------------------------------------------
def _mutation_config():
    import tomllib
    return tomllib.loads((ROOT / "mutation.toml").read_text(encoding="utf-8"))


def test_mutation_config_names_only_existing_modules_and_tests():
    """`make mutation` is too slow for CI; this keeps its configuration true: every module and test
    file it names exists, every module is under functions/, every test file is a test module, and each
    equivalent mutant names a configured module and gives its reason."""
    config = _mutation_config()
    assert config["modules"]
    for module, spec in config["modules"].items():
        assert module.startswith("functions/provisioner/") and (ROOT / module).is_file(), module
        assert spec["tests"], module
        for test in spec["tests"]:
            path = ROOT / test.split("::")[0]
            assert path.is_file() and path.name.startswith("test_") and path.parent == ROOT / "tests", test
        assert set(spec) <= {"tests", "k"}, spec
    for equivalent in config.get("equivalent", []):
        assert equivalent["module"] in config["modules"], equivalent
        assert isinstance(equivalent["line"], int) and equivalent["operator"] and equivalent["mutant"].strip()
        assert equivalent["reason"].strip() and set(equivalent) == {"module", "line", "operator", "mutant", "reason"}


def test_mutation_covers_the_security_critical_modules():
    critical = {f"functions/provisioner/{m}.py" for m in (
        "workflows/onboarding", "workflows/offboarding", "workflows/sweep", "workflows/converge",
        "domain/ownership", "domain/lifecycle", "domain/ordering", "domain/credentials",
        "adapters/envelopes", "adapters/webhook", "adapters/validation", "cloud/errors", "platform/log",
        "workflows/rotation", "workflows/audit", "domain/audit", "domain/access", "domain/password_policy",
        "cloud/directory")}
    assert critical <= set(_mutation_config()["modules"])


def test_mutation_is_not_part_of_the_test_run():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^mutation:", makefile, re.M) and "scripts/mutation.py" in makefile
    test_recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "mutation" not in test_recipe
    ci = ROOT / ".ci" / "run"
    assert not ci.exists() or "mutation" not in ci.read_text(encoding="utf-8")


def test_mutation_skips_only_annotations(tmp_path):
    """The only mutants skipped unrun are inside annotations, and only where they are never evaluated."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import mutation
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    source = ("from __future__ import annotations\n"
              "x: int | None = 1 | 2\n"
              "def f(a: str | None, *b: int, c: dict | None = None) -> list | None:\n"
              "    return a | c\n")
    (tmp_path / "m.py").write_text(source)
    spans = mutation.annotation_spans(tmp_path / "m.py")
    inside = lambda row, col: any(s <= (row, col) < e for s, e in spans)   # noqa: E731
    assert inside(2, 3) and not inside(2, 16)                  # `int | None`, not `1 | 2`
    assert inside(3, 9) and inside(3, 25) and inside(3, 33) and inside(3, 56)   # parameters, the return
    assert not inside(4, 13)                                   # `a | c` in the body
    (tmp_path / "n.py").write_text(source.split("\n", 1)[1])   # evaluated without the __future__ import
    assert mutation.annotation_spans(tmp_path / "n.py") == []


def _mutation_script():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import mutation
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return mutation


def test_the_trace_maps_each_line_to_the_tests_that_run_it_in_any_process(tmp_path):
    """The narrowed first pass runs a mutant against the tests that run its lines: the trace must see
    a line run by a process a test starts (the two-process tests' FC instances), name it after that
    test, and map a line run at import to every test ("")."""
    import json
    import subprocess
    (tmp_path / "target.py").write_text("LIMIT = 3\n"
                                        "def f(x):\n"
                                        "    if x:\n"
                                        "        return 1\n"
                                        "    return 2\n")
    (tmp_path / "test_target.py").write_text(
        "import subprocess, sys\n"
        "import target\n"
        "def test_true():\n"
        "    assert target.f(True) == 1\n"
        "def test_in_a_child_process():\n"
        "    subprocess.run([sys.executable, '-c', 'import target; target.f(False)'], check=True)\n"
        "POOL = []\n"
        "def test_starts_a_process_that_outlives_it():\n"
        "    POOL.append(subprocess.Popen([sys.executable, '-c', 'import sys, target\\n'\n"
        "                                  'for _ in sys.stdin: target.f(True)'], stdin=subprocess.PIPE, text=True))\n"
        "def test_uses_the_process_a_test_before_it_started():\n"
        "    POOL[0].stdin.write('go\\n'); POOL[0].stdin.close(); assert POOL[0].wait() == 0\n")
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "MUTATION_TRACE_TARGET": str(tmp_path / "target.py"), "MUTATION_TRACE_OUT": str(out),
           "PYTHONPATH": f"{ROOT / 'scripts' / 'mutation_trace'}:{tmp_path}"}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "mutation_trace",
                    "test_target.py"], cwd=tmp_path, env=env, check=True, capture_output=True, timeout=120)
    seen: dict[int, set[str]] = {}
    for part in out.glob("*.jsonl"):
        for row in part.read_text().splitlines():
            context, line = json.loads(row)
            seen.setdefault(line, set()).add(context)
    true, child = "test_target.py::test_true", "test_target.py::test_in_a_child_process"
    starts, uses = ("test_target.py::test_starts_a_process_that_outlives_it",
                    "test_target.py::test_uses_the_process_a_test_before_it_started")
    assert "" in seen[1]                                   # LIMIT = 3: run at import
    assert seen[4] == {true, uses}                         # return 1: in-process, and in the pool's process
    assert seen[5] == {child}                              # return 2: only in the child process
    assert json.loads((out / "order.json").read_text()) == [true, child, starts, uses]


def test_a_mutant_runs_the_tests_of_its_lines_or_all_of_them():
    mutation = _mutation_script()
    lines = {"10": ["t::a", "t::b"], "11": ["t::b", "t::c"], "12": ["", "t::a"]}
    assert mutation.tests_for(lines, 10, 11) == ["t::a", "t::b", "t::c"]
    assert mutation.tests_for(lines, 11, 12) is None       # a line run at import: every test
    assert mutation.tests_for(lines, 13, 13) == []         # no traced test runs it: survives without a run


def test_a_mutant_that_only_removes_is_named_by_the_line_it_removes():
    mutation = _mutation_script()
    diff = "--- a/m.py\n+++ b/m.py\n@@ -1,4 +1,2 @@\n-\n-@cache\n def f():\n"
    assert mutation.mutated_line(diff) == "removed: @cache"
    assert mutation.mutated_line("--- a\n+++ b\n@@\n-    x = 1\n+    x = 2\n") == "x = 2"


def test_a_survivor_runs_again_unless_an_equivalent_entry_explains_it(tmp_path):
    """New tests, another map or the confirmation pass run the survivors again: every survivor whose
    line, operator and mutated line an ``[[equivalent]]`` entry names keeps its result; the others, and
    a mutant next to an explained one (another operator, another mutated line), run again."""
    import sqlite3
    mutation = _mutation_script()
    db = tmp_path / "s.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE mutation_specs (job_id TEXT, start_pos_row INTEGER, operator_name TEXT)")
        con.execute("CREATE TABLE work_results (job_id TEXT, test_outcome TEXT, diff TEXT)")
        for job, row, operator, outcome, plus in [
                ("a", 5, "core/ReplaceComparisonOperator_Eq_Is", "SURVIVED", "if x is A:"),     # explained
                ("b", 5, "core/ReplaceComparisonOperator_Eq_LtE", "SURVIVED", "if x <= A:"),    # another operator
                ("c", 7, "core/NumberReplacer", "SURVIVED", "n = 2"),                           # another line
                ("d", 5, "core/ReplaceComparisonOperator_Eq_Is", "KILLED", "if y is A:")]:
            con.execute("INSERT INTO mutation_specs VALUES (?, ?, ?)", (job, row, operator))
            con.execute("INSERT INTO work_results VALUES (?, ?, ?)",
                        (job, outcome, f"--- a\n+++ b\n@@ -5 +5 @@\n-if x == A:\n+{plus}\n"))
    assert mutation.forget_survivors(db, {(5, "ReplaceComparisonOperator_Eq_Is", "if x is A:")}) == 2
    with sqlite3.connect(db) as con:
        assert sorted(r[0] for r in con.execute("SELECT job_id FROM work_results")) == ["a", "d"]
