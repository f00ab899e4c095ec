"""Which tests execute which lines of one module: the map scripts/mutation.py narrows each mutant's
test run with (only the tests that run the mutated line are run for it).

Loaded twice over, both only while scripts/mutation.py traces a module (never in ``make test``):
as ``sitecustomize`` in every Python process started with this folder on PYTHONPATH (the pytest
process and the FC-instance processes the two-process tests spawn), and as a pytest plugin
(``-p mutation_trace``) that names the running test. A line is recorded once per (test, line), appended
to ``$MUTATION_TRACE_OUT/<pid>.jsonl`` at once and flushed, so a process a test kills keeps what it ran.
The test is the pytest node id; a process started during a test is that test's (its environment
carries the id); lines run at import or collection have the empty context (every test needs them).
Only frames of ``$MUTATION_TRACE_TARGET`` are traced line by line; every other call returns at once.
"""
from __future__ import annotations

import json
import os
import sys
import threading
from types import FrameType
from typing import Any

TARGET = os.environ.get("MUTATION_TRACE_TARGET", "")
OUT = os.environ.get("MUTATION_TRACE_OUT", "")
_context = os.environ.get("MUTATION_TRACE_CONTEXT", "")
_seen: set[tuple[str, int]] = set()
_file: Any = None
_lock = threading.Lock()


def _record(line: int) -> None:
    global _file
    key = (_context, line)
    if key in _seen:
        return
    with _lock:
        _seen.add(key)
        if _file is None:
            _file = open(os.path.join(OUT, f"{os.getpid()}.jsonl"), "a", encoding="utf-8")  # noqa: SIM115
        _file.write(json.dumps([_context, line]) + "\n")
        _file.flush()


def _local(frame: FrameType, event: str, arg: Any) -> Any:
    if event == "line":
        _record(frame.f_lineno)
    return _local


def _global(frame: FrameType, event: str, arg: Any) -> Any:
    if frame.f_code.co_filename == TARGET:
        _record(frame.f_lineno)
        return _local
    return None


def install() -> None:
    if TARGET and OUT:
        sys.settrace(_global)
        threading.settrace(_global)


def _set_context(nodeid: str) -> None:
    global _context
    _context = nodeid
    os.environ["MUTATION_TRACE_CONTEXT"] = nodeid      # for the processes this test starts


def pytest_collection_finish(session: Any) -> None:
    if OUT:
        with open(os.path.join(OUT, "order.json"), "w", encoding="utf-8") as f:
            json.dump([item.nodeid for item in session.items], f)


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    _set_context(nodeid)


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    _set_context("")
