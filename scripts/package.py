"""Build the deployable artifact: build/artifact/ (what FC runs) and build/hr-ram-provisioner.zip.

    python scripts/package.py                                  # FC: python3.12 on manylinux x86_64
    python scripts/package.py --python-version 3.11 --out /tmp/x   # another interpreter (tests)

Layout of the artifact root (FC's code directory; handlers ``onboarding.handler``,
``offboarding.handler``, ``audit.handler`` and ``rotation.handler``):

    onboarding.py, offboarding.py, audit.py, rotation.py,  from functions/
      provisioner/
    schemas/                                       the HR event contract, loaded at run time
    <runtime dependencies>                         locks/runtime-pythonX.Y.txt, vendored

Dependencies come from the lock for the target interpreter, ``locks/runtime-pythonX.Y.txt``
(``make lock``, scripts/lock.py): every package pinned, every file's sha256 listed, installed
with ``pip install --require-hashes --no-deps`` (the lock is the whole closure) for FC's
platform, not this machine's: ``--platform manylinux2014_x86_64 --implementation cp
--python-version 3.12``, so native wheels (cryptography, aiohttp, rpds-py, ...) carry FC's ABI.
Some Alibaba Cloud SDK packages ship only as sdists: pure Python, their hash-checked sdists are
built by this venv's locked setuptools (``--no-build-isolation``: no unlocked build backend is
fetched). Every native extension in the result is checked against the target ABI.

The zip is deterministic: sorted entries, fixed timestamps and permissions, no
stray bytecode caches. FC's code directory is read-only, so without bytecode in the
artifact every cold start compiles what it imports (~0.5 s of a ~1 s cold start).
``--compile`` adds it, as unchecked-hash .pyc (valid whatever mtimes the unzip sets),
but only when this interpreter is the target version: bytecode is per-version.
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
EXCLUDE_DIRS = {"__pycache__", ".mypy_cache"}   # from the source tree; --compile adds fresh ones
EXCLUDE_SUFFIXES = (".pyc", ".pyo")


def run(cmd):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True)  # noqa: S603 - our own argv, no shell


def copy_code(artifact):
    functions = ROOT / "functions"
    for path in sorted(functions.rglob("*")):
        rel = path.relative_to(functions)
        if any(part in EXCLUDE_DIRS for part in rel.parts) or path.suffix in EXCLUDE_SUFFIXES:
            continue
        dest = artifact / rel
        if path.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
    shutil.copytree(ROOT / "schemas", artifact / "schemas")


def lock_for(python_version):
    lock = ROOT / "locks" / f"runtime-python{python_version}.txt"
    if not lock.exists():
        raise SystemExit(f"no lock for python {python_version} ({lock.relative_to(ROOT)}): "
                         "add it to scripts/lock.py's TARGETS and run `make lock`")
    return lock


def vendor(artifact, python_version, platform, lock):
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "install", "-q", "--no-compile",
           "--target", artifact, "--require-hashes", "--no-deps", "--no-build-isolation", "-r", lock,
           "--implementation", "cp", "--python-version", python_version]
    if platform:
        cmd += ["--platform", platform]
    run(cmd)
    drop_console_scripts(artifact)


def drop_console_scripts(artifact):
    """Console scripts are useless on FC, and their shebang is this venv's absolute path: drop them
    and their RECORD lines, or the artifact's bytes would depend on where the repository lives."""
    shutil.rmtree(artifact / "bin", ignore_errors=True)
    for record in sorted(artifact.glob("*.dist-info/RECORD")):
        lines = record.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if not line.startswith("../../bin/")]
        if kept != lines:
            record.write_text("".join(kept), encoding="utf-8")


def check_native_abi(artifact, python_version):
    """Every extension module must be built for the target interpreter (or the stable ABI)."""
    tag = "cpython-" + python_version.replace(".", "")
    wrong = sorted(str(p.relative_to(artifact)) for p in artifact.rglob("*.so")
                   if "cpython-" in p.name and tag not in p.name)
    if wrong:
        raise SystemExit(f"native extensions not built for {tag}: {wrong[:5]}")


def strip_caches(artifact):
    for path in sorted(artifact.rglob("__pycache__"), reverse=True):
        shutil.rmtree(path)
    for path in artifact.rglob("*"):
        if path.suffix in EXCLUDE_SUFFIXES:
            path.unlink()


def compile_bytecode(artifact, python_version):
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if here != python_version:
        raise SystemExit(f"--compile needs a python{python_version} interpreter (this is {here})")
    run([sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", artifact])


def write_zip(artifact, zip_path):
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_suffix(".zip.tmp")
    files = sorted(p for p in artifact.rglob("*") if p.is_file())
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(artifact).as_posix(), date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            executable = os.access(path, os.X_OK) and path.suffix == ".so"
            info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
            info.create_system = 3
            zf.writestr(info, path.read_bytes())
    os.replace(tmp, zip_path)
    return files


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python-version", default=os.environ.get("FC_PYTHON_VERSION", "3.12"),
                        help="target interpreter, e.g. 3.12 (FC runtime python3.12)")
    parser.add_argument("--platform", default=os.environ.get("FC_PLATFORM", "manylinux2014_x86_64"),
                        help="target wheel platform tag; empty = this machine's")
    parser.add_argument("--compile", action="store_true", default=os.environ.get("FC_COMPILE") == "1",
                        help="ship .pyc (needs this interpreter to be the target version)")
    parser.add_argument("--lock", help="requirements lock with hashes (default: locks/runtime-python<version>.txt)")
    parser.add_argument("--out", default=str(ROOT / "build"), help="output directory")
    args = parser.parse_args(argv)

    lock = Path(args.lock).resolve() if args.lock else lock_for(args.python_version)
    out = Path(args.out).resolve()
    artifact = out / "artifact"
    zip_path = out / "hr-ram-provisioner.zip"
    shutil.rmtree(artifact, ignore_errors=True)
    artifact.mkdir(parents=True)

    copy_code(artifact)
    vendor(artifact, args.python_version, args.platform, lock)
    check_native_abi(artifact, args.python_version)
    strip_caches(artifact)
    if args.compile:
        compile_bytecode(artifact, args.python_version)
    files = write_zip(artifact, zip_path)

    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    unpacked = sum(p.stat().st_size for p in files)
    print(f"artifact: {zip_path} {zip_path.stat().st_size / 1e6:.2f} MB zipped, {unpacked / 1e6:.2f} MB unpacked, "
          f"{len(files)} files, python {args.python_version} {args.platform or 'native'}"
          f"{' +pyc' if args.compile else ''}, lock {lock.name}, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
