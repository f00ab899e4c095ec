"""One simulated FC instance: the body of a child process started by ``tests/instances.py``.

It runs nothing but the deployed handlers (``onboarding``, ``offboarding``, ``rotation``) on
FC-shaped bytes, one invocation at a time (FC 3.0 standard runtimes have no instance
concurrency), with its own environment (its own AccessKey, aimed at the test's localcloud) and its
own clock. Commands arrive over a ``multiprocessing`` pipe:

    ("configure", env)                  environment of this instance; the next invocation is a cold start
    ("invoke", function, payload, now)  run ``<function>.handler(payload, context)`` with the clock at ``now``
    ("exit",)

and every answer is ``(outcome, value, output)``: outcome ``returned`` (value: the handler's
return value), ``raised`` (value: ``[exception type, message]``) or ``error`` (the driver itself
failed); ``output`` is everything the instance wrote meanwhile (the functions' log lines, and
anything written to fd 1/2), so the test process can search it for credentials like it searches
its own output (``tests/leakcheck.py``).

Time: the functions read ``provisioner.platform.clock.now()``; the driver installs a clock standing
at the instant the test sent (``now``), or the system clock when it sent none. Product code reads
no variable of this driver's.
"""
import io
import os
import sys
import tempfile
import traceback
from datetime import datetime

# Kept from the parent's environment; every other variable comes from ``configure``.
KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT", "VIRTUAL_ENV",
        "PYTHONPATH", "PYTHONHASHSEED")


class FixedClock:
    def __init__(self, when):
        self.when = when

    def now(self):
        return self.when


class Context:
    """The parts of FC's context the functions read (request id, function name)."""

    class _Function:
        def __init__(self, name):
            self.name = name

    def __init__(self, request_id, function_name):
        self.request_id = request_id
        self.function = self._Function(function_name)


class _Stdio:
    """fd 1 and 2 go to a private file; what was written since the last read is read back."""

    def __init__(self):
        fd, self.path = tempfile.mkstemp(prefix="fc-instance-", suffix=".out")
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        self.offset = 0

    def drain(self):
        sys.stdout.flush()
        sys.stderr.flush()
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        return data.decode("utf-8", "replace")

    def close(self):
        try:
            os.unlink(self.path)
        except OSError:
            pass


def _configure(env, configured):
    from provisioner.platform import clock, runtime
    for key in configured:
        os.environ.pop(key, None)
    os.environ.update(env)
    runtime.reset()
    clock.install(None)
    return set(env)


def _invoke(function, payload, now, request_id):
    from provisioner.platform import clock
    module = __import__(function)
    clock.install(FixedClock(datetime.fromisoformat(now)) if now else None)
    buffer = io.StringIO()
    real_stdout, sys.stdout = sys.stdout, buffer       # the functions log to sys.stdout at emit time
    try:
        try:
            value = module.handler(payload, Context(request_id, function))
            outcome = "returned"
        except Exception as exc:  # noqa: BLE001 - reported to the test, which decides
            outcome, value = "raised", [type(exc).__name__, str(exc)]
    finally:
        sys.stdout = real_stdout
        clock.install(None)
    return outcome, value, buffer.getvalue()


def main(conn):
    stdio = _Stdio()
    for key in list(os.environ):
        if key not in KEEP:
            del os.environ[key]
    configured = set()
    serial = 0
    try:
        while True:
            try:
                command = conn.recv()
            except EOFError:
                return
            if command[0] == "exit":
                return
            try:
                if command[0] == "configure":
                    configured = _configure(command[1], configured)
                    answer = ("returned", None, "")
                elif command[0] == "invoke":
                    serial += 1
                    _, function, payload, now = command
                    answer = _invoke(function, payload, now, f"fc-{os.getpid()}-{serial}")
                else:
                    answer = ("error", f"unknown command {command[0]!r}", "")
            except Exception:  # noqa: BLE001 - the driver failed, not the function
                answer = ("error", traceback.format_exc(limit=5), "")
            outcome, value, output = answer
            conn.send((outcome, value, output + stdio.drain()))
    finally:
        stdio.close()
