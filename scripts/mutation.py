#!/usr/bin/env python3
"""Mutation testing of the security-critical modules (``make mutation``; docs/mutation.md).

The tool is cosmic-ray (requirements-dev.txt): it makes one mutant at a time (an operator swapped,
a condition negated, a number moved, a loop skipped, ...), runs the tests, and a mutant the tests
pass on has *survived*. This script is the repository's way of running it:

- ``mutation.toml`` names each module and the test files that guard it; a module is run against
  those only (the whole suite per mutant would take days on the shared 2-core machine);
- the work happens in copies of the repository under ``build/mutation/tree-<i>`` (made afresh on
  every run): the working tree is never mutated, even when the run is killed half-way;
- one mutant at a time per worker; ``--jobs N`` runs N workers, each in its own copy of the tree
  (``build/mutation/tree-<i>``) taking every N-th pending mutant of the module; the run stops cleanly at
  ``--budget`` seconds and a later run resumes where it stopped (a session per module, in
  ``build/mutation/``, keyed by the module's source: a change to it starts the module over; a
  change to its tests runs the survivors again);
- mutants inside annotations are skipped (every module has ``from __future__ import annotations``,
  so an annotation is never evaluated: such a mutant is equivalent by construction), and a
  surviving ``if not TYPE_CHECKING:`` is reported equivalent for the same reason;
- ``bench/MUTATION.md`` gets the figures per module between its markers: killed, survived,
  equivalent (``[[equivalent]]`` in mutation.toml, with the reason), kill rate over the
  non-equivalent mutants, run time, and every survivor not explained.

Usage: ``python scripts/mutation.py [--module PATH ...] [--budget SECONDS] [--jobs N] [--report-only]``.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Container
from pathlib import Path
from typing import Any

import tomllib

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "mutation.toml"
WORK = ROOT / "build" / "mutation"
TREE = WORK / "tree-0"
REPORT = ROOT / "bench" / "MUTATION.md"
BEGIN = "<!-- mutation:begin: written by scripts/mutation.py -->"
END = "<!-- mutation:end -->"
TRACE_VERSION = 2        # 2: a process that outlives its test records the running test's lines
TYPE_CHECKING_REASON = ("the block imports names used in annotations only, which are never evaluated: "
                        "importing them at run time too changes nothing (a circular import would have "
                        "killed the mutant)")
SKIPPED_ANNOTATION = "skipped: inside an annotation (never evaluated: from __future__ import annotations)"


def load_config(path: Path = CONFIG) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_paths(spec: dict[str, Any]) -> list[str]:
    """The test files a module's spec names (node ids cut to their file)."""
    return sorted({t.split("::")[0] for t in spec["tests"]})


def _digest(paths: list[str], extra: str = "", base: Path = ROOT) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.encode() + b"\0" + (base / path).read_bytes() + b"\0")
    h.update(extra.encode())
    return h.hexdigest()[:12]


def session_key(module: str, spec: dict[str, Any]) -> str:
    """The session: the module's source and its spec (the mutants depend on these only)."""
    return _digest([module], json.dumps(spec, sort_keys=True))


def tests_key(spec: dict[str, Any]) -> str:
    """The tests' contents as the run sees them (the copy): when they change, the survivors are run
    again (killed ones stay killed; ``--fresh`` starts the module over)."""
    return _digest([*test_paths(spec), "tests/conftest.py"], base=TREE)


def slug(module: str) -> str:
    return module.removeprefix("functions/provisioner/").removesuffix(".py").replace("/", ".")


def tree(worker: int) -> Path:
    return WORK / f"tree-{worker}"


def copy_tree(worker: int = 0) -> None:
    """The repository's files (tracked, and new ones not ignored) into build/mutation/tree-<worker>."""
    target_root = tree(worker)
    if target_root.exists():
        shutil.rmtree(target_root)
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,  # noqa: S607
                            capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = target_root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def test_command(spec: dict[str, Any], worker: int = 0) -> str:
    args = [*spec["tests"], *(["-k", spec["k"]] if spec.get("k") else [])]
    pythonpath = f"{tree(worker)}:{tree(worker) / 'functions'}"
    # hypothesis's pytest plugin costs ~1.5 s of imports per run: off (its @given tests run without it)
    return (f"env PYTHONPATH={shlex.quote(pythonpath)} {shlex.quote(sys.executable)} -m pytest -x -q "
            "-p no:hypothesispytest "
            + " ".join(shlex.quote(a) for a in args))


def narrowed_command(spec: dict[str, Any], worker: int, nodeids: list[str]) -> str:
    """The per-mutant command with only the tests that run the mutated lines (their node ids in the
    order pytest runs them; the spec's -k already chose them)."""
    pythonpath = f"{tree(worker)}:{tree(worker) / 'functions'}"
    return (f"env PYTHONPATH={shlex.quote(pythonpath)} {shlex.quote(sys.executable)} -m pytest -x -q "
            "-p no:hypothesispytest " + " ".join(shlex.quote(n) for n in nodeids))


def trace(module: str, spec: dict[str, Any]) -> dict[str, list[str]]:
    """Line -> the node ids of the tests that run it, from one traced run of the module's tests
    (scripts/mutation_trace: the pytest process and every process a test starts). A line run at
    import or collection maps to "" (every test needs it)."""
    out = WORK / "trace"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    tracer = TREE / "scripts" / "mutation_trace"
    env = {**os.environ, "MUTATION_TRACE_TARGET": str(TREE / module), "MUTATION_TRACE_OUT": str(out),
           "PYTHONPATH": f"{tracer}:{TREE}:{TREE / 'functions'}"}
    args = [*spec["tests"], *(["-k", spec["k"]] if spec.get("k") else [])]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:hypothesispytest",  # noqa: S603
                           "-p", "mutation_trace", *args], cwd=TREE, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{module}: the traced run failed:\n{done.stdout[-3000:]}")
    order = json.loads((out / "order.json").read_text())
    rank = {nodeid: i for i, nodeid in enumerate(order)}
    lines: dict[str, set[str]] = {}
    for part in out.glob("*.jsonl"):
        for row in part.read_text().splitlines():
            context, line = json.loads(row)
            lines.setdefault(str(line), set()).add(context)
    return {line: sorted(c, key=lambda n: rank.get(n, -1)) for line, c in lines.items()}


def tests_for(lines: dict[str, list[str]], first: int, last: int) -> list[str] | None:
    """The tests that run any of lines first..last; None for all of them (a line run at import);
    [] when no traced test runs them: the mutant cannot be killed by this spec and survives without
    a run (the confirmation pass, ``--retry-survivors``, still runs it against every test, which
    covers a line of a multi-line statement that the tracer reports under its first line)."""
    found: list[str] = []
    for line in range(first, last + 1):
        for nodeid in lines.get(str(line), []):
            if nodeid == "":
                return None
            if nodeid not in found:
                found.append(nodeid)
    return found


def annotation_spans(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    future = any(isinstance(n, ast.ImportFrom) and n.module == "__future__"
                 and any(a.name == "annotations" for a in n.names) for n in tree.body)
    if not future:
        return []
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
                if arg is not None and arg.annotation is not None:
                    found.append(arg.annotation)
            if node.returns is not None:
                found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
    return [((n.lineno, n.col_offset), (n.end_lineno or n.lineno, n.end_col_offset or 0)) for n in found]


def skip_annotations(db: Path, module: str) -> None:
    spans = annotation_spans(ROOT / module)
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT s.job_id, s.start_pos_row, s.start_pos_col FROM mutation_specs s "
                           "LEFT JOIN work_results r ON r.job_id = s.job_id WHERE r.job_id IS NULL").fetchall()
        for job_id, row, col in rows:
            if any(start <= (row, col) < end for start, end in spans):
                con.execute("INSERT INTO work_results (worker_outcome, output, test_outcome, diff, job_id) "
                            "VALUES ('SKIPPED', ?, NULL, NULL, ?)", (SKIPPED_ANNOTATION, job_id))


def baseline(command: str) -> float:
    started = time.monotonic()
    # the same command line cosmic-ray runs for each mutant (it runs it through the shell too)
    done = subprocess.run(command, shell=True, cwd=TREE, capture_output=True, text=True)  # noqa: S602
    if done.returncode != 0:
        sys.exit(f"the unmutated tests fail, nothing to measure:\n{command}\n{done.stdout[-3000:]}")
    return time.monotonic() - started


def session_db(module: str, spec: dict[str, Any]) -> Path:
    return WORK / f"{slug(module)}-{session_key(module, spec)}.sqlite"


def forget_survivors(db: Path, explained: Container[tuple[int, str, str]]) -> int:
    """Drop the survivors' results, so that the next pass runs them again (new tests, another map, the
    confirmation pass). Those an ``[[equivalent]]`` entry explains stay: no test can kill them, and the
    confirmation is for what counts against the kill rate. Returns how many will run again."""
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT r.job_id, s.start_pos_row, s.operator_name, r.diff FROM mutation_specs s "
                           "JOIN work_results r ON r.job_id = s.job_id "
                           "WHERE upper(r.test_outcome) = 'SURVIVED'").fetchall()
        again = [(job,) for job, row, operator, diff in rows
                 if (row, operator.removeprefix("core/"), mutated_line(diff)) not in explained]
        con.executemany("DELETE FROM work_results WHERE job_id = ?", again)
    return len(again)


def run_module(module: str, spec: dict[str, Any], settings: dict[str, Any], deadline: float,
               fresh: bool = False, retry: bool = False, jobs: int = 1, narrow: bool = True,
               explained: Container[tuple[int, str, str]] = ()) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    db = session_db(module, spec)
    meta_path = db.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"seconds": 0.0}
    if fresh and db.exists():
        db.unlink()
        meta = {"seconds": 0.0}
    command = test_command(spec)
    if "baseline" not in meta or meta.get("tests") != tests_key(spec):
        meta["baseline"] = baseline(command)
    if narrow and ("lines" not in meta or meta.get("tests") != tests_key(spec)
                   or meta.get("trace") != TRACE_VERSION):
        meta["lines"], meta["trace"] = trace(module, spec), TRACE_VERSION
        retry = db.exists()                        # survivors judged with another map: run them again
    timeout = meta["baseline"] * settings.get("timeout-factor", 3.0) + settings.get("timeout-margin", 30)
    config = WORK / f"{slug(module)}.toml"
    config.write_text(f"""[cosmic-ray]
module-path = {json.dumps(module)}
timeout = {timeout:.0f}
excluded-modules = []
test-command = {json.dumps(command)}

[cosmic-ray.distributor]
name = "local"
""", encoding="utf-8")
    if not db.exists():
        subprocess.run([sys.executable, "-m", "cosmic_ray.cli", "init", str(config), str(db)],  # noqa: S603
                       cwd=TREE, check=True)
        skip_annotations(db, module)
    elif retry or meta.get("tests") != tests_key(spec):
        forget_survivors(db, explained)            # new tests: the survivors are tried again
    meta["tests"] = tests_key(spec)
    if not narrow:
        meta.pop("lines", None)                    # the full command for every mutant of this pass
    # survivors count only once run against all of the module's tests: a full pass, or the retry
    meta["confirmed"] = (not narrow) and (retry or meta.get("confirmed", True))
    meta_path.write_text(json.dumps(meta))
    print(f"{module}: baseline {meta['baseline']:.1f} s, per-mutant timeout {timeout:.0f} s, {jobs} worker(s)",
          flush=True)
    started = time.monotonic()
    remaining = max(0.0, deadline - time.monotonic())
    workers = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker",  # noqa: S603
                                 f"{i}/{jobs}", "--module", module, "--budget", f"{remaining:.0f}",
                                 "--timeout", f"{timeout:.0f}"]) for i in range(jobs)]
    codes = [w.wait() for w in workers]
    meta = json.loads(meta_path.read_text())
    for i in range(jobs):
        part = db.with_suffix(f".w{i}.json")
        if part.exists():
            meta["seconds"] += json.loads(part.read_text())["seconds"]
            part.unlink()
    meta["wall"] = meta.get("wall", 0.0) + time.monotonic() - started
    meta_path.write_text(json.dumps(meta))
    if any(codes):
        sys.exit(f"{module}: a worker failed (exit codes {codes})")


def run_worker(module: str, spec: dict[str, Any], worker: int, jobs: int, timeout: float, deadline: float) -> None:
    """Worker ``worker`` of ``jobs``: every jobs-th pending mutant of the module, in its own tree."""
    from cosmic_ray.mutating import mutate_and_test
    from cosmic_ray.work_db import WorkDB, use_db

    db = session_db(module, spec)
    command = test_command(spec, worker)
    lines = json.loads(db.with_suffix(".json").read_text()).get("lines")
    part = db.with_suffix(f".w{worker}.json")
    # a run killed before it summed its workers' time left their parts: carried over, not lost
    seconds = json.loads(part.read_text())["seconds"] if part.exists() else 0.0
    os.chdir(tree(worker))
    with use_db(str(db), mode=WorkDB.Mode.open) as work_db:
        waiting = {item.job_id for item in work_db.pending_work_items}
        # the share is fixed by a mutant's place among all of the module's mutants, not the pending
        # ones: a worker starting after another wrote a result takes the same share
        pending = [item for n, item in enumerate(work_db.work_items) if n % jobs == worker and item.job_id in waiting]
    for i, item in enumerate(pending):
        if time.monotonic() >= deadline:
            print(f"{module} [w{worker}]: budget spent, {len(pending) - i} mutants left for the next run", flush=True)
            break
        started = time.monotonic()
        spec0 = item.mutations[0]
        nodeids = tests_for(lines, spec0.start_pos[0], spec0.end_pos[0]) if lines else None
        # no test runs the mutated lines: `true` keeps cosmic-ray's own apply/diff/restore, runs nothing
        run = "true" if nodeids == [] else narrowed_command(spec, worker, nodeids) if nodeids else command
        result = mutate_and_test(item.mutations, run, timeout)
        for attempt in range(20):                   # the other workers write to the same session
            try:
                with use_db(str(db), mode=WorkDB.Mode.open) as work_db:
                    work_db.set_result(item.job_id, result)
                break
            except sqlite3.OperationalError:
                time.sleep(0.5 + attempt * 0.1)
        seconds += time.monotonic() - started
        part.write_text(json.dumps({"seconds": seconds}))
        outcome = result.test_outcome or result.worker_outcome
        print(f"  [w{worker} {i + 1}/{len(pending)}] {outcome.value} {slug(module)} "
              f"{spec0.operator_name} line {spec0.start_pos[0]} "
              f"({'no test runs it' if nodeids == [] else len(nodeids) if nodeids else 'all tests'})", flush=True)
    part.write_text(json.dumps({"seconds": seconds}))


def equivalents(config: dict[str, Any], module: str) -> dict[tuple[int, str, str], str]:
    """(line, operator, mutated line) -> reason: precise enough that a mutant next to an equivalent one
    (another number on the same line, the other direction) is never explained by it."""
    return {(e["line"], e["operator"], e["mutant"].strip()): e["reason"]
            for e in config.get("equivalent", []) if e["module"] == module}


def mutated_line(diff: str | None) -> str:
    """The first added line of a mutant's diff, stripped (what the line reads like with the mutant);
    for a mutant that only removes (a decorator dropped), ``removed: `` and the first removed line."""
    lines = (diff or "").splitlines()
    for line in lines:
        if line.startswith("+") and not line.startswith("+++"):
            return line[1:].strip()
    for line in lines:
        if line.startswith("-") and not line.startswith("---") and line[1:].strip():
            return "removed: " + line[1:].strip()
    return ""


def module_figures(config: dict[str, Any], module: str, spec: dict[str, Any]) -> dict[str, Any] | None:
    db = session_db(module, spec)
    if not db.exists():
        return None
    meta = json.loads(db.with_suffix(".json").read_text()) if db.with_suffix(".json").exists() else {}
    explained = equivalents(config, module)
    lines = (ROOT / module).read_text(encoding="utf-8").splitlines()
    figures: dict[str, Any] = {"killed": 0, "timeout": 0, "survived": 0, "equivalent": 0, "incompetent": 0,
                               "annotation": 0, "pending": 0, "survivors": [], "equivalents": [],
                               "seconds": meta.get("seconds", 0.0), "baseline": meta.get("baseline"),
                               "confirmed": meta.get("confirmed", True)}
    with sqlite3.connect(db) as con:
        con.execute("UPDATE work_results SET worker_outcome = 'SKIPPED' WHERE worker_outcome = 'skipped'")
        rows = con.execute("SELECT s.operator_name, s.start_pos_row, r.worker_outcome, r.test_outcome, r.output, "
                           "r.diff "
                           "FROM mutation_specs s LEFT JOIN work_results r ON r.job_id = s.job_id "
                           "ORDER BY s.start_pos_row, s.start_pos_col, s.operator_name").fetchall()
    for operator, row, worker, outcome, output, diff in rows:
        operator = operator.removeprefix("core/")
        worker, outcome = (worker or "").lower() or None, (outcome or "").lower() or None
        if worker is None:
            figures["pending"] += 1
        elif worker == "skipped":
            figures["annotation"] += 1
        elif outcome == "killed":
            figures["timeout" if output == "timeout" else "killed"] += 1
        elif outcome == "survived":
            source = lines[row - 1].strip() if 0 < row <= len(lines) else ""
            mutant = mutated_line(diff)
            if source == "if TYPE_CHECKING:" and mutant == "if not TYPE_CHECKING:":
                explained[(row, operator, mutant)] = TYPE_CHECKING_REASON
            if (row, operator, mutant) in explained:
                figures["equivalent"] += 1
                figures["equivalents"].append((row, operator, source, mutant, explained[(row, operator, mutant)]))
            else:
                figures["survived"] += 1
                figures["survivors"].append((row, operator, source, mutant))
        else:
            figures["incompetent"] += 1
    return figures


def render(config: dict[str, Any]) -> str:
    out = ["| module | tests | mutants | killed (timeouts) | survived | equivalent | kill rate | not run | time |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    details: list[str] = []
    total = {"killed": 0, "timeout": 0, "survived": 0, "equivalent": 0, "seconds": 0.0}
    for module, spec in config["modules"].items():
        f = module_figures(config, module, spec)
        tests = ", ".join(Path(t).name for t in test_paths(spec)) + (f" (-k {spec['k']})" if spec.get("k") else "")
        if f is None:
            out.append(f"| `{slug(module)}` | {tests} | not run | | | | | | |")
            continue
        ran = f["killed"] + f["timeout"] + f["survived"] + f["equivalent"]
        counted = f["killed"] + f["timeout"] + f["survived"]
        rate = f"{100 * (f['killed'] + f['timeout']) / counted:.1f}%" if counted else "-"
        for key in total:
            total[key] += f[key]
        survived = f"{f['survived']}" + ("" if f["confirmed"] or not f["survived"] else " (not confirmed)")
        out.append(f"| `{slug(module)}` | {tests} | {ran} | {f['killed'] + f['timeout']} ({f['timeout']}) | "
                   f"{survived} | {f['equivalent']} | {rate} | {f['pending']} | {f['seconds'] / 60:.1f} min |")
        if f["survivors"] or f["equivalents"]:
            details.append(f"\n#### `{module}`\n")
            for row, operator, source, mutant in f["survivors"]:
                details.append(f"- SURVIVED line {row} `{operator}`: `{source}` -> `{mutant}`")
            for row, operator, source, mutant, reason in f["equivalents"]:
                details.append(f"- equivalent, line {row} `{operator}`: `{source}` -> `{mutant}`: {reason}")
    counted = total["killed"] + total["timeout"] + total["survived"]
    rate = f"{100 * (total['killed'] + total['timeout']) / counted:.1f}%" if counted else "-"
    out.append(f"| **total (modules run)** | | {counted + total['equivalent']} | "
               f"{total['killed'] + total['timeout']} ({total['timeout']}) | {total['survived']} | "
               f"{total['equivalent']} | **{rate}** | | {total['seconds'] / 60:.1f} min |")
    out.append("\nMutants inside annotations are not counted (skipped before the run: never evaluated). "
               "`not run` in the mutants column: no session for the module's current source (never run, or "
               "the module changed since its run); in the `not run` column: mutants left when a run stopped "
               "at its time budget. Kill rate = killed / "
               "(killed + survived), equivalent mutants left out. Each mutant ran first against the tests "
               "that run its lines (traced); every survivor then against all of its module's tests "
               "(`--retry-survivors`); `(not confirmed)`: that second pass has not run yet.")
    if details:
        out.append("\n### Survivors and equivalent mutants")
        out.extend(details)
    return "\n".join(out)


def write_report(config: dict[str, Any]) -> None:
    text = REPORT.read_text(encoding="utf-8") if REPORT.exists() else f"# Mutation testing\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    REPORT.write_text(f"{head}{BEGIN}\n{render(config)}\n{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", help="a module path from mutation.toml (default: all)")
    parser.add_argument("--budget", type=float, default=3600.0, help="seconds for the whole run (default 3600)")
    parser.add_argument("--retry-survivors", action="store_true",
                        help="run the named modules' survivors again, each against ALL of its module's tests "
                             "(the confirmation pass: a survivor of a narrowed run is only reported once this "
                             "pass confirmed it)")
    parser.add_argument("--no-narrow", action="store_true",
                        help="run every mutant against all of its module's tests (no traced narrowing)")
    parser.add_argument("--fresh", action="store_true", help="start the named modules' sessions over")
    parser.add_argument("--report-only", action="store_true", help="rewrite bench/MUTATION.md from the sessions")
    parser.add_argument("--jobs", type=int, default=1, help="workers, each in its own copy of the tree (default 1)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)        # i/N: one worker of a module's run
    parser.add_argument("--timeout", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    config = load_config()
    if args.worker:
        worker, jobs = map(int, args.worker.split("/"))
        module = args.module[0]
        run_worker(module, config["modules"][module], worker, jobs, args.timeout, time.monotonic() + args.budget)
        return 0
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    modules = args.module or list(config["modules"])
    unknown = [m for m in modules if m not in config["modules"]]
    if unknown:
        parser.error(f"not in mutation.toml: {unknown}")
    if not args.report_only:
        deadline = time.monotonic() + args.budget
        for worker in range(args.jobs):
            copy_tree(worker)
        for module in modules:
            if time.monotonic() >= deadline:
                print(f"{module}: not run (budget spent)")
                continue
            run_module(module, config["modules"][module], config.get("settings", {}), deadline, args.fresh,
                       args.retry_survivors, args.jobs, narrow=not (args.no_narrow or args.retry_survivors),
                       explained=equivalents(config, module).keys())
    write_report(config)
    print(f"report: {REPORT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
