"""``make demo``: the whole lifecycle on a local emulator, no cloud account needed.

Joiners (AccessKey through EventBridge, console password through the signed
HR webhook), a redelivery, an event naming an administrator we did not
create, an invalid event, then a leaver and the sweep (dry-run first). Every
line printed is then searched for every credential the emulator minted.
"""
import io
import json
import os
import sys

from . import ROOT, route_function_logs
from .envelopes import wrap
from .invoke import call, target
from .state import print_snapshot

EVENTS = ROOT / "examples" / "events"


class Tee(io.TextIOBase):
    def __init__(self, stream):
        self.stream, self.buffer_ = stream, io.StringIO()

    def write(self, text):
        self.buffer_.write(text)
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()


def _load(name):
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def _step(title):
    print(f"\n=== {title} " + "=" * max(0, 70 - len(title)))


def _show(result):
    print(json.dumps(result, ensure_ascii=False, indent=2))


def _happened(event, minutes_ago):
    """The example, as if HR sent it ``minutes_ago`` (events older than MAX_EVENT_AGE_DAYS are refused)."""
    from datetime import datetime, timedelta, timezone
    when = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    return {**event, "occurredAt": when.strftime("%Y-%m-%dT%H:%M:%SZ")}


def run():
    joiner = _happened(_load("direct.json"), 30)
    console_joiner = {**joiner, "eventId": "demo-console-1",
                      "employee": {"employeeId": "E10024", "logonName": "li.lei", "displayName": "李雷"},
                      "access": {"mode": "console", "level": "full"}}
    console_joiner.pop("endDate", None)
    with target(real=False) as cloud:
        from alibabacloud_ram20150501 import models as rm
        from alibabacloud_ram20150501.client import Client as Ram
        ram = Ram(cloud.client_config())
        ram.create_user(rm.CreateUserRequest(user_name="ops.admin", display_name="Ops admin"))
        ram.attach_policy_to_user(rm.AttachPolicyToUserRequest(
            user_name="ops.admin", policy_name="AdministratorAccess", policy_type="System"))
        key = os.environ["WEBHOOK_SIGNING_KEY"]
        print(f"localcloud (RAM + KMS emulator) on {cloud.endpoint}; account alias 'corp'; "
              "a pre-existing administrator 'ops.admin' that this system did not create.")
        # Function logs (JSON lines) go to stderr in the demo so the results stay readable.
        _step("1. onboarding: AccessKey joiner via EventBridge (examples/events/direct.json)")
        _show(call("onboarding", wrap([joiner], "eventbridge")))
        _step("2. onboarding: console joiner via the signed HR webhook (HTTP trigger)")
        _show(call("onboarding", wrap([console_joiner], "http", key)))
        _step("3. the same event delivered again: nothing new is minted")
        _show(call("onboarding", wrap([joiner], "direct")))
        _step("4. an event naming the administrator we did not create: refused, nothing touched")
        hostile = {**joiner, "eventId": "demo-hostile-1",
                   "employee": {**joiner["employee"], "employeeId": "E666", "logonName": "ops.admin"}}
        _show(call("onboarding", wrap([hostile], "direct")))
        _step("5. an invalid event: every problem with its JSON path, no cloud call")
        invalid = {**joiner, "eventId": "demo-invalid-1",
                   "employee": {"employeeId": "E1", "logonName": "Bob Smith!", "displayName": "x" * 30},
                   "access": {"mode": "programmatic", "level": "admin", "policy": "AdministratorAccess"}}
        _show(call("onboarding", wrap([invalid], "direct")))
        _step("RAM and KMS after onboarding")
        print_snapshot(cloud.client_config())
        _step("6. offboarding: alice.wang leaves (lastWorkingDay in the past): disabled now")
        leaver = _happened(_load("offboarding-direct.json"), 1)
        _show(call("offboarding", wrap([leaver], "direct")))
        os.environ["OFFBOARD_GRACE_DAYS"] = "0"
        from provisioner.platform import runtime
        runtime.reset()
        _step("7. daily sweep, dry-run first (OFFBOARD_GRACE_DAYS=0 for the demo): the plan, zero changes")
        _show(call("offboarding", wrap([], "timer", timer_payload={"dryRun": True})))
        _step("8. daily sweep: disabled users past the grace period are deleted in RAM's order")
        _show(call("offboarding", wrap([], "timer", timer_payload={})))
        _step("RAM and KMS after offboarding")
        print_snapshot(cloud.client_config())
        return cloud.minted_credentials()


def main():
    out = Tee(sys.stdout)
    real_stdout = sys.stdout
    sys.stdout = out
    logs = io.StringIO()
    try:
        minted = _run_with_logs(logs)
    finally:
        sys.stdout = real_stdout
    text = out.buffer_.getvalue() + logs.getvalue()
    leaked = [c for c in minted if c and c in text]
    print(f"\ncredential check: {len(minted)} credentials minted by the emulator; "
          f"{len(leaked)} found in this output or in {logs.getvalue().count(chr(10))} log lines.")
    return 1 if leaked else 0


def _run_with_logs(logs):
    """Route the functions' JSON log lines into ``logs`` (and stderr with DEMO_LOGS=1)."""
    def write(line):
        logs.write(line)
        if os.environ.get("DEMO_LOGS"):
            sys.stderr.write(line)

    restore = route_function_logs(write)
    try:
        return run()
    finally:
        restore()


if __name__ == "__main__":
    sys.exit(main())
