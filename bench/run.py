"""Benchmarks: every figure beside its bound, measured side by side in one run.

    python bench/run.py [--quick] [--out bench/RESULTS.md] [--section validation|audit]

Everything runs against localcloud on loopback. Medians of >= 5 runs where a
figure is a duration. ``--quick`` shrinks the bulk and sweep sizes for a smoke run.
``--section validation`` runs only the worst-case validation section and replaces
that section in the results file (the rest of it is kept); ``--section audit`` does the same
for the daily audit of 5,000 users (1,000 ours; ``--quick``: 500 / 100).
"""
import argparse
import base64
import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from localcloud import LocalCloud  # noqa: E402

RUNS = 5


def median(values):
    return statistics.median(values)


def _now():
    """occurredAt: now (events older than MAX_EVENT_AGE_DAYS are refused; later events win)."""
    from datetime import datetime, timezone
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event(i, mode="programmatic", level="read-only"):
    return {"eventId": f"bench-{uuid.uuid4()}", "eventType": "employee.onboarded",
            "occurredAt": _now(),
            "employee": {"employeeId": f"E{i:06d}", "logonName": f"user.{i:06d}", "displayName": f"User {i}"},
            "access": {"mode": mode, "level": level}}


def leaver(i):
    return {"eventId": f"bench-off-{uuid.uuid4()}", "eventType": "employee.offboarded",
            "occurredAt": _now(),
            "employee": {"employeeId": f"E{i:06d}", "logonName": f"user.{i:06d}"}}


def set_env(cloud, **extra):
    os.environ.update(cloud.function_env())
    os.environ["ACCOUNT_ID"] = cloud.account_id
    os.environ.update({k: str(v) for k, v in extra.items()})
    from provisioner.platform import runtime

    from hrctl.target import set_up_groups
    runtime.reset()
    set_up_groups(cloud, runtime.settings().groups)   # the account as `hrctl setup` leaves it (GRANT_MODE=group)


def invoke(module, payload):
    import importlib
    return importlib.import_module(module).handler(json.dumps(payload).encode(), None)


# -- cold start ---------------------------------------------------------------
COLD = """
import sys, time, json
t0 = time.perf_counter()
{body}
print(json.dumps({{"seconds": time.perf_counter() - t0, "sdk": "alibabacloud_ram20150501.client" in sys.modules}}))
"""


def _subprocess(body, env):
    code = COLD.format(body=body)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=str(ROOT / "functions"), check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_start(cloud):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "functions"))
    env.update(cloud.function_env())
    env["ACCOUNT_ID"] = cloud.account_id
    invalid = "import onboarding; onboarding.handler(b'{\"eventType\": \"employee.onboarded\"}', None)"
    valid_event = json.dumps(event(999_999)).replace("'", "\\'")
    valid = f"import onboarding; onboarding.handler('{valid_event}'.encode(), None)"
    bare = "import alibabacloud_ram20150501.client, alibabacloud_kms20160120.client"
    rows = {}
    for name, body in (("bare SDK clients import", bare), ("handler: invalid event", invalid),
                       ("handler: valid event (programmatic)", valid)):
        samples = []
        for _ in range(RUNS):
            cloud.reset()
            set_env(cloud)                       # the account's two ARMS groups (GRANT_MODE=group)
            samples.append(_subprocess(body, env))
        rows[name] = (median([s["seconds"] for s in samples]), samples[-1]["sdk"])
    return rows


# -- API calls per event ------------------------------------------------------
def calls_per_event(cloud):
    rows = {}
    for mode in ("programmatic", "console"):
        cloud.reset()
        set_env(cloud)
        mark = cloud.calls.mark()
        first = event(1, mode)
        result = invoke("onboarding", first)
        assert result["status"] == "provisioned", result
        rows[f"onboarding ({mode})"] = cloud.calls.actions(mark)
        mark = cloud.calls.mark()
        invoke("onboarding", first)                 # the same event again
        rows[f"onboarding redelivery ({mode})"] = cloud.calls.actions(mark)
    mark = cloud.calls.mark()
    result = invoke("offboarding", leaver(1))
    rows["offboarding leaver (disable now)"] = cloud.calls.actions(mark)
    return rows


# The bound each figure is read against: the calls no correct implementation can skip.
MINIMUM = {"onboarding (programmatic)": 4,          # CreateUser, AttachPolicyToUser, CreateAccessKey, CreateSecret
           "onboarding (console)": 4,               # CreateUser, AttachPolicyToUser, CreateSecret, CreateLoginProfile
           # proving "nothing to do" safely: GetUser (marker), DescribeSecret (secret is ours),
           # ListPoliciesForUser, the credential (ListAccessKeys or GetLoginProfile), ListSecretVersionIds
           "onboarding redelivery (programmatic)": 5,
           "onboarding redelivery (console)": 5,
           "offboarding leaver (disable now)": 3}   # GetUser, DeleteLoginProfile (or UpdateAccessKey), UpdateUser


# -- latency with injected per-call delay --------------------------------------
def latency(cloud, per_call=0.020):
    rows = []
    for run in range(RUNS):
        cloud.reset()
        set_env(cloud)
        cloud.faults.latency(per_call)
        mark = cloud.calls.mark()
        t0 = time.perf_counter()
        invoke("onboarding", event(10 + run))
        wall = time.perf_counter() - t0
        n = len(cloud.calls.since(mark))
        rows.append((wall, n))
    wall = median([r[0] for r in rows])
    n = rows[-1][1]
    return wall, n, n * per_call


# -- bulk under a rate limit ----------------------------------------------------
def bulk(cloud, count, qps=20, batch=100, parallel=4):
    cloud.reset()
    set_env(cloud, BATCH_CONCURRENCY=8, RETRY_MAX_SECONDS=120)
    cloud.faults.rate_limit("CreateUser", qps)
    events = [event(100_000 + i) for i in range(count)]
    batches = [events[i:i + batch] for i in range(0, count, batch)]
    results, errors = [], []
    lock = threading.Lock()

    def worker(chunk):
        try:
            out = invoke("onboarding", chunk)
            with lock:
                results.extend(out)
        except Exception as exc:  # noqa: BLE001 - counted as failures
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")

    t0 = time.perf_counter()
    pending = list(batches)
    while pending:
        threads = [threading.Thread(target=worker, args=(pending.pop(0),)) for _ in range(min(parallel, len(pending)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    wall = time.perf_counter() - t0
    failed = [r for r in results if r.get("status") != "provisioned"] + errors
    for f in failed[:3]:
        print("bulk failure:", f, file=sys.stderr)
    throttled = len(cloud.calls.errors("Throttling.User"))
    return wall, count / qps, len(failed), throttled, len(cloud.calls)


# -- sweep ------------------------------------------------------------------------
def sweep(cloud, total, managed, due):
    from provisioner.domain import ownership
    cloud.reset()
    set_env(cloud, OFFBOARD_GRACE_DAYS=30, OFFBOARD_MAX_DELETIONS_PER_RUN=due)
    # RAM's default is 1,000 users (adjustable): without this, users past 1,000 were refused
    # (LimitExceeded.User) and the "5,000 users" sweep measured 1,000
    cloud.ram.quotas["users"] = max(cloud.ram.quotas["users"], total)
    long_ago = datetime.now(timezone.utc) - timedelta(days=40)
    for i in range(total):
        name = f"sweep.{i:05d}"
        comments = ""
        if i < managed:
            marker = ownership.Marker(employee_id=f"S{i:05d}")
            comments = (marker.disabled(long_ago) if i < due else marker).render()
        cloud.invoke("CreateUser", {"UserName": name, "Comments": comments} if comments else {"UserName": name})
        if i < managed:
            cloud.invoke("AttachPolicyToUser", {"UserName": name, "PolicyName": "AliyunARMSReadOnlyAccess",
                                                "PolicyType": "System"})
        if i < due:   # what a disabled programmatic user holds: an inactive key and its secret
            status, body = cloud.invoke("CreateAccessKey", {"UserName": name})
            key_id = body["AccessKey"]["AccessKeyId"]
            cloud.invoke("UpdateAccessKey", {"UserName": name, "UserAccessKeyId": key_id, "Status": "Inactive"})
            cloud.invoke("CreateSecret", {
                "SecretName": f"ram-user/{name}", "VersionId": key_id, "SecretData": "{}",
                "Tags": json.dumps(ownership.secret_tags(f"S{i:05d}", name))})
    mark = cloud.calls.mark()
    t0 = time.perf_counter()
    report = invoke("offboarding", {"triggerTime": "2026-11-28T02:00:00Z", "triggerName": "bench", "payload": "{}"})
    wall = time.perf_counter() - t0
    return wall, len(cloud.calls.since(mark)), report.get("counts", report)


# -- the daily audit -----------------------------------------------------------------
def audit_run(cloud, total, managed, console_every=5):
    """``total`` users, ``managed`` of them ours (in our read-only group, GRANT_MODE=group, or one in
    ten still attached directly as an earlier version left it; a credential and its secret; every
    ``console_every``-th a console user), seeded in-process (no HTTP, no signing), created 100 days
    ago on localcloud's clock so every rule has something to find; then ONE audit through the
    handler over the SDK, timed, with its calls counted per action."""
    from collections import Counter

    from provisioner.domain import credentials, ownership
    cloud.reset()
    set_env(cloud)
    cloud.ram.quotas["users"] = max(cloud.ram.quotas["users"], total)   # RAM's default is 1,000 (adjustable)
    cloud.clock.set(datetime.now(timezone.utc) - timedelta(days=100))
    t0 = time.perf_counter()
    for i in range(total):
        name = f"audit.{i:05d}"
        if i >= managed:
            status, _ = cloud.invoke("CreateUser", {"UserName": name, "Comments": "someone else's"})
            assert status == 200, (name, status)
            continue
        employee = f"A{i:05d}"
        cloud.invoke("CreateUser", {"UserName": name, "Comments": ownership.Marker(employee_id=employee).render()})
        if i % 10 == 3:
            cloud.invoke("AttachPolicyToUser", {"UserName": name, "PolicyName": "AliyunARMSReadOnlyAccess",
                                                "PolicyType": "System"})
        else:
            cloud.invoke("AddUserToGroup", {"UserName": name, "GroupName": "hr-arms-read-only"})
        if i % console_every == 0:
            cloud.invoke("CreateLoginProfile", {"UserName": name, "Password": "Bench-Passw0rd!x" + str(i),
                                                "MFABindRequired": "true"})
            version = credentials.password_version_id(uuid.uuid4().hex)
        else:
            _, body = cloud.invoke("CreateAccessKey", {"UserName": name})
            version = body["AccessKey"]["AccessKeyId"]
        cloud.invoke("CreateSecret", {"SecretName": f"ram-user/{name}", "VersionId": version, "SecretData": "{}",
                                      "Tags": json.dumps(ownership.secret_tags(employee, name))})
    seeded = time.perf_counter() - t0
    cloud.clock.reset()
    mark = cloud.calls.mark()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        report = invoke("audit", {"triggerTime": "2026-11-28T03:30:00Z", "triggerName": "bench", "payload": "{}"})
    wall = time.perf_counter() - t0
    calls = cloud.calls.since(mark)
    by_action = Counter(c.action for c in calls)
    pages = Counter(c.action for c in calls if not c.params.get("UserName") and not c.params.get("SecretName"))
    foreign = sum(1 for c in calls if (c.params.get("UserName") or "audit.0").startswith("audit.")
                  and int((c.params.get("UserName") or "audit.0").split(".")[1]) >= managed)
    return seeded, wall, len(calls), dict(by_action.most_common()), dict(pages), foreign, report.get("counts", report)


def audit_lines(total, managed, seeded, wall, n_calls, by_action, pages, foreign, counts):
    return [
        f"## Daily audit: {total:,} users, {managed:,} ours",
        "",
        f"One audit (`functions/audit.py`, report-only) through the handler and the SDK over loopback, after "
        f"seeding in-process in {seeded:.1f} s (every user created 100 days ago on localcloud's clock; one in five "
        "of ours a console user, the rest a key; each with its secret). Run alone: "
        "`python bench/run.py --section audit`.",
        "",
        "| wall time | API calls | per user of ours | calls for users not ours |",
        "|---|---|---|---|",
        f"| {wall:.1f} s | {n_calls:,} | {(n_calls - sum(pages.values())) / managed:.1f} | {foreign} |",
        "",
        "| action | calls |",
        "|---|---|",
        *[f"| {a} | {n:,} |" for a, n in sorted(by_action.items(), key=lambda kv: -kv[1])],
        "",
        f"Account-level (pages and the password policy): {', '.join(f'{a} x{n}' for a, n in pages.items())}; "
        f"the users that are not ours cost nothing beyond their ListUsers rows. Report counts: "
        f"`{json.dumps(counts)}`.",
        "",
        "Per user of ours: its login profile, MFA device, policies, groups, keys and its secret's current "
        "version (6), plus GetAccessKeyLastUsed per Active key or, for a console user, GetUser for "
        "LastLoginDate (ListUsers does not return it). Secret metadata comes from ListSecrets pages, not a "
        "DescribeSecret per name. Against real RAM/KMS at 50-150 ms a call, sequentially, the same audit "
        "takes 6-18 minutes (s.yaml: timeout 1800 s). Taken on the shared 2-core machine while other work "
        "ran: the wall time is noisy, the call counts are exact.",
    ]


# -- worst-case validation: the largest hostile bodies the limits let in ---------
VALIDATION_GOAL_MS = 50


def _hostile_bodies(max_body, max_event, max_direct):
    """(shape, envelope, FC event bytes), each as large as the limits let in, none reaching the cloud:
    webhook bodies of MAX_BODY_BYTES (anyone on the internet can send them), and direct / EventBridge
    events of the largest FC event read (senders with invoke permission, or the HR system's bus)."""
    from provisioner.adapters.webhook import sign
    key = os.environ["WEBHOOK_SIGNING_KEY"]

    def fill(head, unit, tail, size):
        return head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail

    def nested(size, tail=b""):
        return fill(b"", b"[", b"", size // 2) + fill(b"", b"]", tail, size // 2)

    def webhook(raw, b64=False):
        body = base64.b64encode(raw).decode() if b64 else raw.decode("utf-8")
        return json.dumps({"version": "v1", "rawPath": "/", "queryParameters": {}, "isBase64Encoded": b64,
                           "headers": {"X-HR-Signature": sign(key, raw)}, "body": body,
                           "requestContext": {"http": {"method": "POST", "path": "/"}}}).encode()

    def bad(i, **employee):
        ev = event(i, level="admin")                       # invalid: answered without a call
        ev["employee"].update({"email": "alice.wang@example.com", **employee})
        return ev

    def at_limits(i):
        return {**bad(i, logonName="a" * 64, employeeId="E" * 64, displayName="王" * 24,
                      email="a" * 64 + "@" + "b" * 59 + ".com", mobilePhone="8888-" + "1" * 20),
                "eventId": "e" * 128, "occurredAt": "2026-11-28T09:00:00.123456789+08:00", "endDate": "2027-06-30"}

    one = json.dumps(bad(1)).encode()
    head = b"[" + b",".join(json.dumps(bad(i)).encode() for i in range(99)) + b","
    # webhook bodies
    yield "nested arrays", "webhook", webhook(nested(max_body))
    yield "nested arrays, base64", "webhook", webhook(nested(max_body), b64=True)
    yield "e-mail of the whole body", "webhook", webhook(
        one.replace(b'"alice.wang@example.com"', b'"a@' + b"a" * (max_body - len(one) - 10) + b'"'))
    names = b"".join(b'"u%d":0,' % i for i in range(max_body // 8))
    yield "unknown names", "webhook", webhook(b'{"eventType":"employee.onboarded",' + names[:max_body - 50] .rpartition(
        b",")[0] + b"}")
    yield "repeated names", "webhook", webhook(fill(one[:-1] + b",", b'"eventId":"x",', b'"eventId":"y"}', max_body))
    yield "occurredAt fraction", "webhook", webhook(fill(b'{"occurredAt":"2026-11-28T09:00:00.', b"1", b'Z"}',
                                                         max_body))
    yield "escaped quotes", "webhook", webhook(fill(b'{"eventId":"', b'\\"', b'"}', max_body))
    yield "integer literal", "webhook", webhook(fill(b'{"eventId":', b"9", b"}", max_body))
    yield "display name of newlines", "webhook", webhook(
        json.dumps(bad(1, displayName="\n" * ((max_body - 400) // 2))).encode())
    # the largest FC event read at all: only a webhook's may be that large
    yield "nested arrays, FC event limit", "direct", nested(max_event)
    yield "[1,[1,... FC event limit", "batch", fill(b"", b"[1,", b"", max_event)
    yield "100,000s of objects, FC event limit", "batch", fill(b"[", b"{},", b"{}]", max_event)
    # direct and EventBridge events
    max_event = max_direct
    yield "nested arrays", "direct", nested(max_event)
    yield "nested objects", "direct", fill(b"", b'{"a":', b"1", max_event * 5 // 6) + b"}" * (max_event // 6 - 1)
    yield "unclosed [1,[1,...", "direct", fill(b"", b"[1,", b"", max_event)
    yield "batch: 99 events + 1 nested item", "batch", head + nested(max_event - len(head) - 1) + b"]"
    yield "batch: strings + nested", "batch", fill(b"[", b'"",', b"", max_event // 2) \
        + nested(max_event // 2 - 1) + b"]"
    yield "batch: 99 events + 1 of many objects", "batch", head + fill(b"[", b"{},", b"{}]]", max_event - len(head))
    yield "batch: 100 events, every field at its limit", "batch", json.dumps(
        [at_limits(i) for i in range(100)]).encode()
    yield "streaming: 100 CloudEvents, data as strings", "eventbridge", json.dumps(
        [{"specversion": "1.0", "id": str(i), "source": "s", "type": "t", "data": json.dumps(at_limits(i))}
         for i in range(100)]).encode()


def validation_worst_case(cloud):
    """Median handler time for each hostile body (no cloud call may happen), and the worst."""
    import onboarding
    from provisioner.adapters import envelopes
    from provisioner.platform import runtime
    set_env(cloud)
    settings = runtime.settings()
    max_body, max_event = settings.max_body_bytes, envelopes.max_event_bytes(settings)
    max_direct = envelopes.max_direct_bytes(settings)
    rows = []
    for shape, envelope, raw in _hostile_bodies(max_body, max_event, max_direct):
        assert len(raw) <= max_event, (shape, len(raw), max_event)
        if envelope == "webhook":
            assert len(base64.b64decode(json.loads(raw)["body"]) if json.loads(raw)["isBase64Encoded"]
                       else json.loads(raw)["body"].encode()) <= max_body, shape
        samples, cpu = [], []
        for _ in range(RUNS):
            mark = cloud.calls.mark()
            with contextlib.redirect_stdout(io.StringIO()):            # alert lines are written at any level
                t0, c0 = time.perf_counter(), time.process_time()
                answer = onboarding.handler(raw, None)
                samples.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            assert cloud.calls.since(mark) == [], shape
        items = [json.loads(answer["body"])] if "statusCode" in answer else (
            answer if isinstance(answer, list) else [answer])
        assert all(i["status"] == "rejected" for i in items), (shape, items[:1])
        rows.append((shape, envelope, len(raw), median(samples), len(json.dumps(answer)), median(cpu)))
    return max_body, max_event, max_direct, rows


def validation_lines(max_body, max_event, max_direct, rows):
    def worst(kind):
        return max((r for r in rows if (r[1] == "webhook") == (kind == "webhook")), key=lambda r: r[3])
    web, other = worst("webhook"), worst("other")
    lines = ["## Worst-case validation: the largest hostile bodies the limits let in", "",
             f"**Worst for a webhook body of MAX_BODY_BYTES ({max_body:,} bytes): {web[3] * 1000:.1f} ms** "
             f"({web[0]}); **worst for any other event: {other[3] * 1000:.1f} ms** ({other[0]}); goal "
             f"{VALIDATION_GOAL_MS} ms. Direct and EventBridge events are read up to {max_direct:,} bytes "
             f"(MAX_BODY_BYTES + 64 KiB); an FC event of up to {max_event:,} bytes (6x MAX_BODY_BYTES + 64 KiB, "
             "what a JSON-escaped webhook body can grow to) is read only if it has a webhook's handful of "
             "brackets. Each figure is the whole handler call (decode, nesting pre-scan, parse, validation, "
             f"the answer and its alert line) for an input answered `rejected` with no cloud call; median of "
             f"{RUNS}.", "",
             "| body | envelope | bytes | wall (median) | CPU (median) | answer bytes |", "|---|---|---|---|---|---|"]
    lines += [f"| {shape} | {env} | {size:,} | {secs * 1000:.1f} ms | {cpu * 1000:.1f} ms | {answer:,} |"
              for shape, env, size, secs, answer, cpu in rows]
    return lines


def _replace_section(text, heading, new_lines):
    """``text`` with the section starting at ``heading`` replaced (or added before the notes)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(heading)), None)
    if start is None:
        start = next((i for i, line in enumerate(lines) if line.startswith("## Reading the figures")), len(lines))
        end = start
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[:start] + new_lines + [""] + lines[end:]) + "\n"


NOTES = """## Reading the figures

- Onboarding makes 8 calls against a floor of 4 mutating ones: GetUser and DescribeSecret
  decide ownership (conflict, zero changes) before anything is written; GetAccountAlias is
  cached per instance (7 calls on a warm one); the programmatic path re-lists AccessKeys after
  the write to delete a key a retried CreateAccessKey may have left; console reads the password
  policy. Each read buys an invariant; none is a retry.
- Bulk: with uncapped exponential backoff the same run took 2.0x the rate-limit bound (throttled
  callers slept far past the 1 s quota window). Backoff is now capped at RETRY_CAP_SECONDS (1 s)
  and throttling is bounded by the time budget rather than the attempt count: 1.02-1.04x
  over four full runs, zero failures. The Throttling.User answers are the price of not coordinating callers.
- Leaver: 6 calls against 3; GetLoginProfile and ListAccessKeys make the dry-run plan exact,
  DescribeSecret finds a RAMCredentials secret whose KMS rotation must be stopped.
- Latency: the wall time over the sum of injected per-call latency is the local overhead
  (signing, JSON, HTTP on loopback): ~2 ms per call.
- Sweep: the brake (OFFBOARD_MAX_DELETIONS_PER_RUN, default 20) is raised to the number due for
  this run; 5 ListUsers pages, 1 ListSecrets, then ~11 calls per deleted user. No user that is
  not ours is read beyond the listing.
- Cold start: rejecting an invalid event imports no SDK (0.3x of importing the bare SDK
  clients); a valid event pays the SDK import plus its calls.
- Worst-case validation: every figure is linear in the body by construction (nesting measured
  with byte operations before the parser runs, no rule sees more than its field's maxLength,
  patterns with bounded repeats only). A webhook body (anyone can send one) costs at most ~25 ms
  (30,000 unknown names: parsing them is most of it). The larger figures for direct and
  EventBridge events are batches: validating 100 ordinary events costs ~45 ms of jsonschema
  whatever they hold (the last rows, valid or not alike); a hostile element adds ~30-40 ms for the
  byte-level split that lets it be rejected alone. FC runs the functions at 0.25 vCPU (s.yaml):
  there, multiply by about 4.
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    parser.add_argument("--section", choices=["validation", "audit"], help="run one section, update it in --out")
    args = parser.parse_args()
    if args.section == "validation":
        os.environ["LOG_LEVEL"] = "ERROR"
        with LocalCloud(account_alias="corp") as cloud:
            os.environ.setdefault("WEBHOOK_SIGNING_KEY", "bench-webhook-key-0123456789")
            section = validation_lines(*validation_worst_case(cloud))
        out = Path(args.out)
        out.write_text(_replace_section(out.read_text(encoding="utf-8") if out.exists() else "",
                                        "## Worst-case validation", section), encoding="utf-8")
        print("\n".join(section))
        return
    if args.section == "audit":
        from provisioner.platform import log as structured_log
        structured_log.set_level("ERROR")
        os.environ["LOG_LEVEL"] = "ERROR"
        total, managed = (500, 100) if args.quick else (5000, 1000)
        with LocalCloud(account_alias="corp") as cloud:
            section = audit_lines(total, managed, *audit_run(cloud, total, managed))
        out = Path(args.out)
        out.write_text(_replace_section(out.read_text(encoding="utf-8") if out.exists() else "",
                                        "## Daily audit", section), encoding="utf-8")
        print("\n".join(section))
        return
    bulk_n, sweep_total, sweep_managed, sweep_due = (200, 500, 100, 10) if args.quick else (1000, 5000, 1000, 100)
    from provisioner.platform import log as structured_log
    structured_log.set_level("ERROR")  # one JSON line per API call would dominate the timings
    os.environ["LOG_LEVEL"] = "ERROR"
    lines = []
    with LocalCloud(account_alias="corp") as cloud:
        print("cold start ...", file=sys.stderr)
        cold = cold_start(cloud)
        print("calls per event ...", file=sys.stderr)
        calls = calls_per_event(cloud)
        print("latency ...", file=sys.stderr)
        lat_wall, lat_n, lat_sum = latency(cloud)
        print(f"bulk {bulk_n} ...", file=sys.stderr)
        b_wall, b_bound, b_failed, b_throttled, b_calls = bulk(cloud, bulk_n)
        print(f"sweep {sweep_total} ...", file=sys.stderr)
        s_wall, s_calls, s_counts = sweep(cloud, sweep_total, sweep_managed, sweep_due)
        print("worst-case validation ...", file=sys.stderr)
        os.environ.setdefault("WEBHOOK_SIGNING_KEY", "bench-webhook-key-0123456789")
        validation = validation_lines(*validation_worst_case(cloud))

    bare = cold["bare SDK clients import"][0]
    lines += [
        "# Benchmark results",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}. "
        f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Command: `python bench/run.py"
        f"{' --quick' if args.quick else ''}`. Medians of {RUNS} runs for durations. All against localcloud on "
        "loopback (no network); function log level ERROR during timings.",
        "",
        "## Cold start (fresh interpreter: import the handler and answer one event)",
        "",
        "| case | median | vs bare SDK import | SDK imported |",
        "|---|---|---|---|",
    ]
    for name, (secs, sdk) in cold.items():
        lines.append(f"| {name} | {secs * 1000:.0f} ms | {secs / bare:.2f}x | {'yes' if sdk else 'no'} |")
    lines += ["", "## API calls per event (bound: the minimum that can do the job)", "",
              "| event | calls | minimum | actions |", "|---|---|---|---|"]
    for name, actions in calls.items():
        lines.append(f"| {name} | {len(actions)} | {MINIMUM.get(name, '-')} | {', '.join(actions)} |")
    lines += ["", "## Latency per event with 20 ms injected on every API call", "",
              "| calls | sum of injected latency (bound) | wall time (median) | ratio |", "|---|---|---|---|",
              f"| {lat_n} | {lat_sum * 1000:.0f} ms | {lat_wall * 1000:.0f} ms | {lat_wall / lat_sum:.2f}x |",
              "", f"## Bulk: {bulk_n} onboarding events, localcloud holding CreateUser to 20 QPS", "",
              "| wall time | rate-limit bound | ratio | failures | Throttling.User answers | API calls |",
              "|---|---|---|---|---|---|",
              f"| {b_wall:.1f} s | {b_bound:.1f} s | {b_wall / b_bound:.2f}x | {b_failed} | {b_throttled} "
              f"| {b_calls} |",
              "", "Batches of 100 through the batch envelope, 4 invocations at a time, "
              "BATCH_CONCURRENCY=8, RETRY_MAX_SECONDS=120 (throttling is retried within the time budget).",
              "", f"## Sweep: {sweep_total} users, {sweep_managed} managed, {sweep_due} due for deletion", "",
              "| wall time | API calls | report counts |", "|---|---|---|",
              f"| {s_wall:.1f} s | {s_calls} | `{json.dumps(s_counts)}` |", "", *validation, "", NOTES]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
