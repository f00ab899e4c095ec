"""The dependency locks: every package pinned, with the sha256 of every file PyPI has for it.

    python scripts/lock.py            # refresh the locks after editing requirements*.txt (make lock)
    python scripts/lock.py --upgrade  # also move unpinned transitive dependencies to their latest
    python scripts/lock.py --check    # stale or malformed locks, one line each; exit 1 (tests run this)

    locks/runtime-python3.12.txt  requirements.txt      FC's python3.12, manylinux2014_x86_64: make package
    locks/runtime-python3.10.txt  requirements.txt      the same for FC's python3.10 (FC_PYTHON_VERSION=3.10)
    locks/runtime-python3.11.txt  requirements.txt      python3.11 (not an FC runtime): what
                                                        tests/test_artifact.py builds to run here
    locks/dev.txt                 requirements-dev.txt  the venv (make venv): any OS, Python >= 3.11

The resolver is uv (``uv pip compile``): it resolves for a target interpreter and platform
without having that interpreter (``--python-version 3.12 --python-platform
x86_64-manylinux2014``), which pip-tools cannot (it resolves for the Python running it, so a 3.11
machine would drop 3.10-only dependencies like async-timeout), and it writes pip's own
requirements format, so the installs stay plain ``pip install --require-hashes``. Existing pins
are kept unless ``--upgrade``: a refresh after a requirements change moves only what it must.

Each lock starts with the digest of its inputs (their requirement lines, comments and order
aside): ``--check`` reports a lock whose inputs changed since it was made (run ``make lock``), a
top-level pin the lock disagrees with, an entry without hashes, and a runtime package whose
version differs between locks/dev.txt (what the tests run) and the python3.12 lock (what deploys).
"""
import argparse
import hashlib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "locks"
RUNTIME = "requirements.txt"
DEV = "requirements-dev.txt"
DEPLOYED = "runtime-python3.12.txt"     # the lock the tests' runtime pins must agree with
PLATFORM = "x86_64-manylinux2014"       # uv's name for pip's manylinux2014_x86_64

TARGETS = {
    "runtime-python3.12.txt": (RUNTIME, ["--python-platform", PLATFORM, "--python-version", "3.12"],
                               "python 3.12 on manylinux2014_x86_64 (FC runtime python3.12, make package)"),
    "runtime-python3.10.txt": (RUNTIME, ["--python-platform", PLATFORM, "--python-version", "3.10"],
                               "python 3.10 on manylinux2014_x86_64 (FC runtime python3.10)"),
    "runtime-python3.11.txt": (RUNTIME, ["--python-platform", PLATFORM, "--python-version", "3.11"],
                               "python 3.11 on manylinux2014_x86_64 (not an FC runtime: tests/test_artifact.py)"),
    "dev.txt": (DEV, ["--universal", "--python-version", "3.11"],
                "the development venv, any platform, python >= 3.11 (make venv)"),
}
DIGEST_LINE = re.compile(r"^# inputs: (\S+) sha256=([0-9a-f]{64})$", re.MULTILINE)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(path, seen=None):
    """The requirement lines of ``path`` and the files it includes (-r), comments stripped."""
    seen = set() if seen is None else seen
    path = (ROOT / path).resolve()
    if path in seen:
        return []
    seen.add(path)
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        include = re.match(r"^(?:-r|--requirement)\s+(\S+)$", line)
        if include:
            lines.extend(requirement_lines(path.parent / include.group(1), seen))
        else:
            lines.append(re.sub(r"\s+", " ", line))
    return lines


def input_digest(path):
    return hashlib.sha256("\n".join(sorted(requirement_lines(path))).encode()).hexdigest()


def top_level_pins(path):
    pins = {}
    for line in requirement_lines(path):
        m = _PIN.match(line)
        if not m:
            raise SystemExit(f"{path}: `{line}` is not pinned with ==: the locks need exact top-level pins")
        pins[normalize(m.group(1))] = m.group(2)
    return pins


def parse_lock(text):
    """{name: (version, marker-or-None, number of hashes)} of a pip requirements lock."""
    entries = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = _PIN.match(block)
        if not m:
            continue
        marker = re.match(r"^[^\s;\\]+\s*;\s*([^\\\n]+)", block)
        key = normalize(m.group(1)) + (f"; {marker.group(1).strip()}" if marker else "")
        entries[key] = (m.group(2), marker.group(1).strip() if marker else None, block.count("--hash=sha256:"))
    return entries


def _uv_version():
    out = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.split()[1]


def refresh(upgrade=False):
    LOCKS.mkdir(exist_ok=True)
    version = _uv_version()
    for name, (source, options, target) in TARGETS.items():
        lock = LOCKS / name
        cmd = [sys.executable, "-m", "uv", "pip", "compile", source, "--output-file", str(lock.relative_to(ROOT)),
               "--generate-hashes", "--no-header", "--quiet", *options]
        if upgrade:
            cmd.append("--upgrade")
        print("+", " ".join(cmd[2:]), flush=True)
        subprocess.run(cmd, cwd=ROOT, check=True)  # noqa: S603 - our own argv, no shell
        body = lock.read_text(encoding="utf-8")
        header = (f"# Generated by `make lock` (scripts/lock.py, uv {version}): do not edit.\n"
                  f"# target: {target}\n"
                  f"# inputs: {source} sha256={input_digest(source)}\n")
        lock.write_text(header + body, encoding="utf-8")
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def check():
    """Every reason a lock is stale or unusable, one line each; [] when all is well."""
    problems = []
    parsed = {}
    for name, (source, _options, _target) in TARGETS.items():
        lock = LOCKS / name
        if not lock.exists():
            problems.append(f"locks/{name} is missing: run `make lock`")
            continue
        text = lock.read_text(encoding="utf-8")
        recorded = DIGEST_LINE.search(text)
        if not recorded or recorded.group(1) != source:
            problems.append(f"locks/{name} has no `# inputs: {source} sha256=...` header: run `make lock`")
        elif recorded.group(2) != input_digest(source):
            problems.append(f"locks/{name} is stale: {source} changed since it was locked: run `make lock`")
        entries = parse_lock(text)
        parsed[name] = entries
        versions = {}
        for key, (version, _marker, hashes) in entries.items():
            versions.setdefault(key.split(";")[0], set()).add(version)
            if hashes == 0:
                problems.append(f"locks/{name}: {key}=={version} has no hash")
        for package, version in top_level_pins(source).items():
            if versions.get(package) != {version}:
                problems.append(f"locks/{name}: {package} is {sorted(versions.get(package, [])) or 'absent'}, "
                                f"{source} pins {version}: run `make lock`")
    if DEPLOYED in parsed and "dev.txt" in parsed:
        dev = {k.split(";")[0]: v[0] for k, v in parsed["dev.txt"].items()}
        for key, (version, _marker, _hashes) in parsed[DEPLOYED].items():
            if dev.get(key) != version:
                problems.append(f"locks/dev.txt has {key} {dev.get(key, 'absent')}, locks/{DEPLOYED} {version}: "
                                "the tests would not run what deploys (make lock --upgrade, or pin it)")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="report stale locks, change nothing")
    parser.add_argument("--upgrade", action="store_true", help="let every unpinned dependency move")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    return refresh(upgrade=args.upgrade)


if __name__ == "__main__":
    sys.exit(main())
