"""Local invoker: wrap an event in an FC envelope and call the handler.

    python -m hrctl.invoke onboarding examples/events/direct.json --envelope http
    python -m hrctl.invoke offboarding --envelope timer --payload '{"dryRun": true}'
    python -m hrctl.invoke onboarding --csv employees.csv --level read-only --mode programmatic [--dry-run]

Against a fresh in-process localcloud by default (state printed at the end);
``--real`` uses the Alibaba Cloud account in your environment
(ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET, REGION, …) exactly as the function would.
"""
import argparse
import contextlib
import csv
import json
import os
import sys
import time
import uuid

from . import ROOT, route_function_logs  # noqa: F401 - ROOT puts functions/ on sys.path
from .envelopes import ENVELOPES, wrap

CSV_COLUMNS = ("employeeId", "logonName", "displayName", "email", "mobilePhone", "mode", "level", "endDate")
BATCH = 100


def events_from_csv(path, default_mode, default_level):
    """One onboarding event per row; the eventId is derived from the row, so re-importing is idempotent."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        unknown = set(reader.fieldnames or []) - set(CSV_COLUMNS)
        if unknown:
            raise SystemExit(f"{path}: unknown columns {sorted(unknown)}; known: {', '.join(CSV_COLUMNS)}")
        for row in reader:
            row = {k: (v or "").strip() for k, v in row.items()}
            employee = {k: row[k] for k in ("employeeId", "logonName", "displayName", "email", "mobilePhone")
                        if row.get(k)}
            event = {"eventId": str(uuid.uuid5(uuid.NAMESPACE_URL, "hrctl-csv:" + json.dumps(row, sort_keys=True))),
                     "eventType": "employee.onboarded",
                     "occurredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "employee": employee,
                     "access": {"mode": row.get("mode") or default_mode, "level": row.get("level") or default_level}}
            if row.get("endDate"):
                event["endDate"] = row["endDate"]
            yield event


def progress(done, total, out=None, width=30):
    out = out or sys.stderr
    filled = int(width * done / total) if total else width
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done >= total:
        out.write("\n")
    out.flush()


@contextlib.contextmanager
def target(real, alias="corp"):
    """Yield the started localcloud (None with ``real``), the function's environment aimed at it."""
    if real:
        yield None
        return
    from localcloud import LocalCloud
    saved = dict(os.environ)
    with LocalCloud(account_alias=alias) as cloud:
        os.environ.update(cloud.function_env())
        os.environ.setdefault("WEBHOOK_SIGNING_KEY", "local-demo-" + uuid.uuid4().hex)
        os.environ["ACCOUNT_ID"] = cloud.account_id
        from provisioner.platform import runtime
        runtime.reset()
        try:
            yield cloud
        finally:
            os.environ.clear()
            os.environ.update(saved)
            runtime.reset()


def call(function, payload_bytes):
    import importlib
    handler = importlib.import_module(function).handler
    return handler(payload_bytes, None)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m hrctl.invoke", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("function", choices=("onboarding", "offboarding"))
    parser.add_argument("event", nargs="?", help="JSON file: one event or an array of events")
    parser.add_argument("--envelope", choices=ENVELOPES, default="direct")
    parser.add_argument("--payload", default="{}", help="timer payload JSON, e.g. '{\"dryRun\": true}'")
    parser.add_argument("--csv", help="CSV of employees to onboard (columns: " + ", ".join(CSV_COLUMNS) + ")")
    parser.add_argument("--mode", default="programmatic", choices=("programmatic", "console"))
    parser.add_argument("--level", default="read-only", choices=("read-only", "full"))
    parser.add_argument("--dry-run", action="store_true",
                        help="validate and show what would be sent; no cloud call (timer: sweep dry-run)")
    parser.add_argument("--real", action="store_true", help="use the Alibaba Cloud account in the environment")
    parser.add_argument("--no-state", action="store_true", help="do not print RAM/KMS state afterwards")
    args = parser.parse_args(argv)

    if args.csv:
        events = list(events_from_csv(args.csv, args.mode, args.level))
    elif args.event:
        with open(args.event, encoding="utf-8") as handle:
            loaded = json.load(handle)
        events = loaded if isinstance(loaded, list) else [loaded]
    elif args.envelope != "timer":
        parser.error("give an event file, --csv, or --envelope timer")
    else:
        events = []
    timer_payload = json.loads(args.payload)
    if args.dry_run and args.envelope == "timer":
        timer_payload["dryRun"] = True
    elif args.dry_run:
        from provisioner.adapters.validation import validate
        bad = 0
        for event in events:
            problems = validate(event)
            bad += bool(problems)
            print(json.dumps({"eventId": event.get("eventId"), "valid": not problems, "errors": problems,
                              "wouldSend": event.get("employee", {}).get("logonName")}, ensure_ascii=False))
        print(f"dry-run: {len(events) - bad} valid, {bad} invalid, no cloud call made", file=sys.stderr)
        return 1 if bad else 0

    restore_logs = route_function_logs(sys.stderr.write)   # stdout: results only
    try:
        _send(args, events, timer_payload)
    finally:
        restore_logs()
    return 0


def _send(args, events, timer_payload):
    with target(args.real) as cloud:
        key = os.environ.get("WEBHOOK_SIGNING_KEY", "")
        results = []
        if args.envelope == "timer":
            results.append(call(args.function, wrap([], "timer", timer_payload=timer_payload)))
        elif args.csv or (len(events) > 1 and args.envelope in ("direct", "batch", "eventbridge-streaming")):
            envelope = "batch" if args.envelope == "direct" else args.envelope
            for start in range(0, len(events), BATCH):
                chunk = events[start:start + BATCH]
                out = call(args.function, wrap(chunk, envelope, key))
                results.extend(out if isinstance(out, list) else [out])
                progress(min(start + BATCH, len(events)), len(events))
        else:
            for event in events:
                results.append(call(args.function, wrap([event], args.envelope, key)))
        for result in results:
            print(json.dumps(result, ensure_ascii=False, indent=2))
        if cloud is not None and not args.no_state and not args.real:
            from .state import print_snapshot
            print_snapshot(cloud.client_config())


if __name__ == "__main__":
    sys.exit(main())
