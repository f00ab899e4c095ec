"""The real Serverless Devs engine (``@serverless-devs/s``, pinned in tools/serverless-devs/), driven
offline against a copy of s.yaml whose fc3 resources name a local stub component.

What a run does, as a user would (README, "Deploying with `s deploy`"):

- a temporary HOME; ``s config add --AccessKeyID … --AccessKeySecret … --AccountID … -a <alias>``
  writes a fake access there (``~/.s/access.yaml``, the engine's own format);
- a temporary project directory with a copy of s.yaml in which every ``component: fc3`` names
  tests/s_engine/fc3-stub instead (a directory: the engine loads it as a component), and
  ``build`` linking to the repository's build/ so ``code: ./build/artifact`` means what it means
  next to the real s.yaml;
- the README's commands, verbatim (``bash -c`` on each ``s …`` line of the shell blocks of its
  deploy section, placeholders filled in), in that directory; the stub records the props the
  engine resolved and the credential ``inputs.getCredential()`` returned (field names and
  AccountID only) in ``<out>/<resource>.json``.

Offline: every Node.js process of the engine is started with tests/s_engine/offline-guard.js
preloaded, which refuses (and logs) any connection that is not loopback; the engine's telemetry
and update daemons are switched off the engine's own ways (``analysis: disable`` in
``~/.s/set-config.yml``, a fresh ``lastUpdateCheck``). The environment is scrubbed: only what a
run sets reaches ``${env(...)}``.
"""
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
S_YAML = ROOT / "s.yaml"
TOOLS = ROOT / "tools" / "serverless-devs"
S_BIN = TOOLS / "node_modules" / ".bin" / "s"
STUB = HERE / "fc3-stub"
GUARD = HERE / "offline-guard.js"
PINNED_VERSION = json.loads((TOOLS / "package.json").read_text(encoding="utf-8"))["dependencies"]["@serverless-devs/s"]
TIMEOUT = 120

README = ROOT / "README.md"
DEPLOY_SECTION = "## Deploying with `s deploy`"
# an engine command line in a shell block: optional VAR=value assignments, then `s `
_S_COMMAND = re.compile(r"^(?:[A-Z_][A-Z0-9_]*=\S*\s+)*s\s")
_COMPONENT = re.compile(r"^(\s*component:\s*)fc3\s*$", re.MULTILINE)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def in_ci():
    return os.environ.get("CI", "").lower() == "true"


def installed():
    return S_BIN.exists()


def fake_access(account_id):
    """An access alias's fields; the key pair is random per run (and matches no real key)."""
    return {"AccessKeyID": "LTAI5t" + secrets.token_hex(9), "AccessKeySecret": secrets.token_urlsafe(24),
            "AccountID": account_id}


def readme_commands():
    """Every line of the README's deploy section's shell blocks that runs the engine, as written."""
    commands, in_block = [], False
    for line in readme_section().splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            in_block = stripped in ("```sh", "```bash", "```shell") if not in_block else False
            continue
        if in_block and _S_COMMAND.match(stripped):
            commands.append(stripped)
    return commands


def readme_section():
    """The README's deploy section, up to the next ``## `` heading."""
    text = README.read_text(encoding="utf-8")
    start = text.index(DEPLOY_SECTION)
    end = text.find("\n## ", start + len(DEPLOY_SECTION))
    return text[start:end if end != -1 else len(text)]


def fc3_resources(text=None):
    spec = yaml.safe_load(S_YAML.read_text(encoding="utf-8") if text is None else text)
    return sorted(name for name, r in spec["resources"].items() if r.get("component") == "fc3")


def stub_copy(text=None):
    """s.yaml with every ``component: fc3`` naming the stub (by absolute path), nothing else changed."""
    text = S_YAML.read_text(encoding="utf-8") if text is None else text
    copy, count = _COMPONENT.subn(lambda m: m.group(1) + str(STUB), text)
    names = fc3_resources(text)
    assert count == len(names), f"pointed {count} components at the stub, s.yaml has {names}"
    return copy


@dataclass
class Run:
    command: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    records: dict = field(default_factory=dict)   # resource name -> what the stub recorded
    attempts: list = field(default_factory=list)  # connections the offline guard refused
    logs: str = ""                                 # everything the engine wrote under ~/.s/logs

    @property
    def output(self):
        return _ANSI.sub("", self.stdout + self.stderr)

    def tail(self, redact=()):
        text = self.output[-2500:]
        for secret in redact:
            text = text.replace(secret, "<redacted>")
        return text


class Engine:
    """A temporary workplace for the engine: one HOME with the accesses, one project per run."""

    def __init__(self, workdir, accesses):
        self.workdir = Path(workdir)
        self.accesses = accesses           # alias -> fake_access(...)
        self.home = self.workdir / "home"
        self.config_runs = {}

    @property
    def secrets(self):
        return [a[k] for a in self.accesses.values() for k in ("AccessKeyID", "AccessKeySecret")]

    def _env(self, home, guard_log, out=None, extra=None):
        path = os.pathsep.join([str(S_BIN.parent), os.environ.get("PATH", "/usr/bin:/bin")])
        env = {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8",
               "FORCE_COLOR": "0", "NODE_OPTIONS": f"--require {GUARD}", "OFFLINE_GUARD_LOG": str(guard_log)}
        if out is not None:
            env["STUB_OUT"] = str(out)
        env.update(extra or {})
        return env

    def _run(self, command, cwd, home, out=None, env=None):
        """``bash -c command`` (``s`` is the pinned CLI) in ``cwd`` with ``home`` as HOME."""
        guard_log = Path(cwd) / "guard.jsonl"
        started = time.monotonic()
        proc = subprocess.run(["bash", "-c", command], cwd=cwd, env=self._env(home, guard_log, out, env),
                              capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        run = Run(command=command, returncode=proc.returncode, stdout=proc.stdout, stderr=proc.stderr,
                  seconds=time.monotonic() - started)
        if guard_log.exists():
            run.attempts = [json.loads(line) for line in guard_log.read_text(encoding="utf-8").splitlines()]
        if out is not None:
            run.records = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(Path(out).glob("*.json"))}
        logs = Path(home) / ".s" / "logs"
        run.logs = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                             for p in sorted(logs.rglob("*")) if p.is_file()) if logs.exists() else ""
        return run

    def _fresh_home(self, home):
        (home / ".s" / "config").mkdir(parents=True)
        # the engine's own switches for its background daemons (telemetry, self-update check)
        (home / ".s" / "set-config.yml").write_text("analysis: disable\n", encoding="utf-8")
        stamp = {"lastUpdateCheck": int(time.time() * 1000)}
        (home / ".s" / "config" / "update-notifier.json").write_text(json.dumps(stamp), encoding="utf-8")

    def configure(self, commands):
        """The README's ``s config add … -a <alias>`` lines, ``<Field>`` placeholders filled from
        that alias's fake access; each in its own HOME at once, then merged into one HOME."""
        by_alias = {re.search(r"\s-a\s+(\S+)", c).group(1): c for c in commands}
        assert set(by_alias) == set(self.accesses), (sorted(by_alias), sorted(self.accesses))

        def add(alias):
            home = self.workdir / f"config-{alias}"
            self._fresh_home(home)
            command = by_alias[alias]
            for key, value in self.accesses[alias].items():
                command = command.replace(f"<{key}>", value)
            assert "<" not in command, f"unfilled placeholder in {by_alias[alias]!r}"
            return alias, home, self._run(command, home, home)

        with ThreadPoolExecutor(len(self.accesses)) as pool:
            results = list(pool.map(add, sorted(self.accesses)))
        self._fresh_home(self.home)
        merged = []
        for alias, home, run in results:
            self.config_runs[alias] = run
            if run.returncode != 0:
                raise RuntimeError(f"s config add -a {alias} failed ({run.returncode}): {run.tail(self.secrets)}")
            merged.append((home / ".s" / "access.yaml").read_text(encoding="utf-8").rstrip("\n"))
        (self.home / ".s" / "access.yaml").write_text("\n".join(merged) + "\n", encoding="utf-8")

    def project(self, name, text):
        """A project directory holding ``text`` as s.yaml, with build/ as the repository's."""
        project = self.workdir / name
        project.mkdir()
        (project / "s.yaml").write_text(text, encoding="utf-8")
        (project / "build").symlink_to(ROOT / "build", target_is_directory=True)
        return project

    def run(self, name, command, text=None, env=None):
        """``command`` in a fresh project ``name`` (with its own copy of HOME), the stub recording."""
        project = self.project(name, stub_copy() if text is None else text)
        home = self.workdir / f"home-{name}"
        shutil.copytree(self.home, home, symlinks=True)
        out = project / "stub-out"
        out.mkdir()
        return self._run(command, project, home, out, env)


def run_all(engine, jobs):
    """{name: Run} for ``jobs`` ({name: (command, text, env)}), run at once (they share nothing)."""
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {name: pool.submit(engine.run, name, *job) for name, job in jobs.items()}
        return {name: f.result() for name, f in futures.items()}


# -- the README's deploy commands, run --------------------------------------------------------
# Fake account ids, one per alias the README configures (in order of appearance).
FAKE_ACCOUNT_IDS = ("1234567890123456", "6543210987654321", "1111222233334444")
# What the deploying shell sets for a `-a <alias>` deploy, on top of the README line's own
# assignments: a value that must reach the functions, and a secret that must reach only them.
OTHER_ACCOUNT_ENV = {"SECRET_PREFIX": "people/"}
# s.yaml made invalid for the fc3 schema: `s verify` must refuse it (negative control)
BROKEN = ("memorySize: 256", "memorySize: lots")


@dataclass
class Session:
    engine: Engine
    commands: dict      # kind -> [README command line]
    runs: dict          # job name -> Run
    jobs: dict          # job name -> README command line (or the line run on a broken copy)
    other_env: dict     # what the `-a <alias>` deploy added to its environment

    def records(self, job):
        return self.runs[job].records

    def spec(self, job="deploy"):
        """The engine-resolved spec: ``{"resources": {name: {"props": props}}}``."""
        return {"resources": {name: {"props": rec["props"]} for name, rec in self.records(job).items()}}


def classify(commands):
    kinds = {"config": [], "verify": [], "deploy": [], "deploy-other": [], "invoke": []}
    for command in commands:
        words = command.split()
        verb = words[words.index("s") + 1:]
        if verb[:2] == ["config", "add"]:
            kinds["config"].append(command)
        elif verb[:1] == ["verify"]:
            kinds["verify"].append(command)
        elif verb[:1] == ["deploy"]:
            kinds["deploy-other" if "-a" in verb else "deploy"].append(command)
        elif len(verb) > 1 and verb[1] == "invoke":
            kinds["invoke"].append(command)
        else:
            raise AssertionError(f"the README documents `{command}`, which the engine test does not run")
    return kinds


def deploy_runs(workdir):
    commands = classify(readme_commands())
    aliases = []
    for command in commands["config"]:
        alias = re.search(r"\s-a\s+(\S+)", command)
        assert alias, f"`{command}` names no alias (-a)"
        aliases.append(alias.group(1))
    assert "default" in aliases, "the README configures no `default` access (s.yaml's `access:`)"
    accesses = {alias: fake_access(FAKE_ACCOUNT_IDS[i]) for i, alias in enumerate(aliases)}
    engine = Engine(workdir, accesses)
    engine.configure(commands["config"])

    other_env = dict(OTHER_ACCOUNT_ENV, HR_WEBHOOK_SIGNING_KEY=secrets.token_hex(16))
    jobs, specs = {}, {}
    for kind in ("deploy", "verify", "invoke"):
        for i, command in enumerate(commands[kind]):
            name = kind if i == 0 else f"{kind}-{i}"
            jobs[name], specs[name] = command, (command, None, None)
    for i, command in enumerate(commands["deploy-other"]):
        name = "deploy-other" if i == 0 else f"deploy-other-{i}"
        jobs[name], specs[name] = command, (command, None, other_env)
    assert commands["verify"], "the README runs no `s verify`"
    broken = stub_copy().replace(*BROKEN)
    jobs["verify-broken"], specs["verify-broken"] = commands["verify"][0], (commands["verify"][0], broken, None)
    return Session(engine=engine, commands=commands, runs=run_all(engine, specs), jobs=jobs, other_env=other_env)
