"""Which tests execute which lines of one module: the map scripts/mutation.py narrows each mutant's
test run with (only the tests that run the mutated line are run for it).

Loaded twice over, both only while scripts/mutation.py traces a module (never in ``make test``):
as ``sitecustomize`` in every Python process started with this folder on PYTHONPATH (the pytest
process and the FC-instance processes the two-process tests spawn), and as a pytest plugin
(``-p mutation_trace``) that names the running test. A line is recorded once per (test, line), appended
to ``$MUTATION_TRACE_OUT/<pid>.jsonl`` at once and flushed, so a process a test kills keeps what it ran.
The test is the pytest node id. The pytest process names it in ``$MUTATION_TRACE_OUT/context`` at
each test's start; another process reads that file whenever it changes (a process may outlive the
test that started it: the FC-instance pools do), so its lines are the running test's. Lines run at
import or collection have the empty context (every test needs them).
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


_in_pytest = False                 # this process is the pytest run (it sets the context itself)
_stamp = -1


def _current() -> str:
    """The running test: this process's own (pytest), or the one the pytest process last named."""
    global _context, _stamp
    if _in_pytest or not OUT:
        return _context
    try:
        stamp = os.stat(os.path.join(OUT, "context")).st_mtime_ns
    except OSError:
        return _context
    if stamp != _stamp:
        with open(os.path.join(OUT, "context"), encoding="utf-8") as f:
            _context, _stamp = f.read(), stamp
    return _context


def _record(line: int) -> None:
    global _file
    key = (_current(), line)
    if key in _seen:
        return
    with _lock:
        _seen.add(key)
        if _file is None:
            _file = open(os.path.join(OUT, f"{os.getpid()}.jsonl"), "a", encoding="utf-8")  # noqa: SIM115
        _file.write(json.dumps([key[0], line]) + "\n")
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
    global _context, _in_pytest
    _in_pytest, _context = True, nodeid
    os.environ["MUTATION_TRACE_CONTEXT"] = nodeid      # for the processes this test starts
    if OUT:                                            # and for those already running
        path = os.path.join(OUT, "context")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(nodeid)
        os.replace(path + ".tmp", path)


def pytest_collection_finish(session: Any) -> None:
    if OUT:
        with open(os.path.join(OUT, "order.json"), "w", encoding="utf-8") as f:
            json.dump([item.nodeid for item in session.items], f)


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    _set_context(nodeid)


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    _set_context("")
