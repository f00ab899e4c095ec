"""The CI checks check what they claim: vermin with the Makefile's flags rejects code that needs
more than python3.10, and the deployed code passes it."""
import ast
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
