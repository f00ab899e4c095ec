"""Onboarding handler: every envelope FC can deliver, the example events, schema validation, cold start."""
import base64
import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from provisioner.adapters import envelopes, jsonlimits, validation, webhook
from provisioner.cloud.errors import TransientError
from provisioner.platform import clock
from provisioner.platform.settings import Settings

from tests.onboarding_support import event, example, invoke

ROOT = Path(__file__).resolve().parent.parent
KEY = "test-webhook-key"


def http_request(body, key=KEY, timestamp=None, method="POST", signature=None, b64=False, headers=None):
    req = example("http.json")
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    req["body"] = base64.b64encode(raw).decode() if b64 else raw.decode()
    req["isBase64Encoded"] = b64
    req["requestContext"]["http"]["method"] = method
    req["headers"] = {"Content-Type": "application/json", **(headers or {})}
    if signature is None and key is not None:
        signature = webhook.sign(key, raw, timestamp)
    if signature is not None:
        req["headers"]["X-HR-Signature"] = signature
    return req


# -- direct and batch ------------------------------------------------------------------------
def test_direct_event_provisions(cloud):
    result = invoke(event())
    assert result["status"] == "provisioned"
    assert result["logonPrincipal"] == "alice.wang@corp.onaliyun.com"


def test_handler_accepts_str_and_parsed_json(cloud):
    import onboarding
    assert onboarding.handler(json.dumps(event()), None)["status"] == "provisioned"
    assert onboarding.handler(event(), None)["status"] == "already-provisioned"


def test_batch_one_result_per_event_and_bad_item_fails_alone(cloud):
    bad = event(logon="Bad Name", employee_id="E2", event_id="bad-1")
    batch = [event(logon="a.one", employee_id="E1", event_id="e1"), bad,
             event(mode="console", logon="c.three", employee_id="E3", event_id="e3"), "not an event"]
    results = invoke(batch)
    assert [r["status"] for r in results] == ["provisioned", "rejected", "provisioned", "rejected"]
    assert [r["eventId"] for r in results] == ["e1", "bad-1", "e3", None]
    assert results[1]["errors"][0]["path"] == "$.employee.logonName"
    assert results[3]["errors"] == [{"path": "$", "message": "an event must be a JSON object, got str"}]


def test_batch_same_user_twice_stays_in_order(cloud):
    results = invoke([event(event_id="x1"), event(level="full", event_id="x2")])
    assert [r["status"] for r in results] == ["provisioned", "provisioned"]
    assert results[1]["policies"] == ["AliyunARMSFullAccess"]


def test_batch_over_100_rejected_without_cloud_calls(cloud):
    mark = cloud.calls.mark()
    results = invoke([event(event_id=f"e{i}", logon=f"u{i}") for i in range(101)])
    assert len(results) == 1 and results[0]["status"] == "rejected"
    assert "at most 100" in results[0]["errors"][0]["message"]
    assert cloud.calls.since(mark) == []


def test_batch_transient_failure_raises_after_the_others_ran(cloud):
    cloud.faults.fail("CreateSecret", "ServiceUnavailable", 503, times=None)
    with pytest.raises(TransientError) as info:
        invoke([event(logon="a.one", employee_id="E1", event_id="e1"),
                event(mode="console", logon="c.two", employee_id="E2", event_id="e2")])
    assert "2 of 2" in str(info.value)
    cloud.faults.clear()
    results = invoke([event(logon="a.one", employee_id="E1", event_id="e1"),
                      event(mode="console", logon="c.two", employee_id="E2", event_id="e2")])
    assert [r["status"] for r in results] == ["provisioned", "provisioned"]


def test_invalid_json_and_oversize_rejected_without_calls(cloud):
    import onboarding
    mark = cloud.calls.mark()
    assert onboarding.handler(b"{not json", None)["errors"] == [{"path": "$", "message": "event is not valid JSON"}]
    huge = b" " * (256 * 1024 * 6 + 65_536 + 1)   # MAX_BODY_BYTES bounds every envelope now
    assert onboarding.handler(huge, None)["errors"][0]["message"].startswith("event is too large")
    assert cloud.calls.since(mark) == []


def test_timer_event_is_not_for_onboarding(cloud):
    result = invoke(example("timer.json"))
    assert result["status"] == "rejected"
    assert cloud.calls.since(0) == []


# -- EventBridge ------------------------------------------------------------------------------
def test_eventbridge_data_object(cloud):
    assert invoke(example("eventbridge.json"))["status"] == "provisioned"


def test_eventbridge_data_as_json_string(cloud):
    ce = example("eventbridge.json")
    ce["data"] = json.dumps(ce["data"])
    assert invoke(ce)["status"] == "provisioned"


def test_eventbridge_streaming_array(cloud):
    results = invoke(example("eventbridge-streaming.json"))
    assert isinstance(results, list) and [r["status"] for r in results] == ["provisioned", "provisioned"]
    assert [r["accessMode"] for r in results] == ["console", "programmatic"]


def test_eventbridge_data_not_json(cloud):
    ce = example("eventbridge.json")
    ce["data"] = "{oops"
    result = invoke(ce)
    assert result["status"] == "rejected" and result["errors"][0]["path"] == "$.data"
    assert cloud.calls.since(0) == []


# -- HTTP trigger (signed HR webhook) --------------------------------------------------------------
def test_http_valid_signature(cloud):
    answer = invoke(http_request(event()))
    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert body["status"] == "provisioned" and body["secretName"] == "ram-user/alice.wang"


def test_http_base64_body(cloud):
    assert invoke(http_request(event(), b64=True))["statusCode"] == 200


def test_http_cloudevent_body(cloud):
    assert invoke(http_request(example("eventbridge.json")))["statusCode"] == 200


@pytest.mark.parametrize("case", ["wrong key", "missing", "stale", "future", "tampered", "malformed", "no v1"])
def test_http_bad_signature_401_and_no_cloud_call(cloud, case):
    body = json.dumps(event()).encode()
    if case == "wrong key":
        req = http_request(body, key="another-key")
    elif case == "missing":
        req = http_request(body, key=None)
    elif case == "stale":
        req = http_request(body, timestamp=clock.now().timestamp() - 301)
    elif case == "future":
        req = http_request(body, timestamp=clock.now().timestamp() + 301)
    elif case == "tampered":
        req = http_request(body)
        req["body"] = req["body"].replace("read-only", "full")
    elif case == "malformed":
        req = http_request(body, signature="garbage")
    else:
        req = http_request(body, signature=f"t={int(clock.now().timestamp())}")
    answer = invoke(req)
    assert answer["statusCode"] == 401
    assert KEY not in answer["body"]
    assert cloud.calls.since(0) == []


def test_http_no_key_configured_refuses_everything(cloud, monkeypatch):
    from provisioner.platform import runtime
    monkeypatch.delenv("WEBHOOK_SIGNING_KEY")
    runtime.reset()
    answer = invoke(http_request(event(), key=KEY))
    assert answer["statusCode"] == 401
    assert "not configured" in json.loads(answer["body"])["message"]
    answer = invoke(http_request(event(), key=None))
    assert answer["statusCode"] == 401
    assert cloud.calls.since(0) == []


def test_http_get_is_405(cloud):
    answer = invoke(http_request(event(), method="GET"))
    assert answer["statusCode"] == 405
    assert cloud.calls.since(0) == []


def test_http_oversize_is_413(cloud):
    big = event()
    big["padding"] = "x" * 300_000
    answer = invoke(http_request(big))
    assert answer["statusCode"] == 413
    assert cloud.calls.since(0) == []


def test_http_invalid_event_400_lists_every_problem(cloud):
    bad = event(logon="Alice", level="admin")
    answer = invoke(http_request(bad))
    assert answer["statusCode"] == 400
    paths = [e["path"] for e in json.loads(answer["body"])["errors"]]
    assert paths == ["$.access.level", "$.employee.logonName"]
    assert cloud.calls.since(0) == []


def test_http_conflict_409_and_transient_503(cloud, ram):
    from alibabacloud_ram20150501 import models as rm
    ram.create_user(rm.CreateUserRequest(user_name="alice.wang", comments="made by hand"))
    assert invoke(http_request(event()))["statusCode"] == 409
    cloud.faults.fail("CreateSecret", "InternalFailure", 500, times=None)
    answer = invoke(http_request(event(logon="bob", employee_id="E9")))
    assert answer["statusCode"] == 503 and answer["headers"]["Retry-After"] == "30"


def test_http_permanent_failure_is_422_so_senders_do_not_retry_a_poison_event(cloud):
    cloud.faults.fail("CreateUser", "InvalidParameter.Comments.Length", 400, times=None)
    answer = invoke(http_request(event()))
    assert answer["statusCode"] == 422
    body = json.loads(answer["body"])
    assert body["status"] == "failed" and body["error"]["code"] == "InvalidParameter.Comments.Length"


# -- examples/events -------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kind,count", [
    ("direct.json", "direct", 1), ("batch.json", "batch", 3), ("eventbridge.json", "eventbridge", 1),
    ("eventbridge-streaming.json", "eventbridge", 2), ("http.json", "http", 1), ("timer.json", "timer", 0)])
def test_examples_decode_and_validate(name, kind, count):
    settings = Settings(webhook_signing_key=KEY)
    raw = example(name)
    if name == "http.json":
        body = raw["body"].encode()
        raw["headers"]["X-HR-Signature"] = webhook.sign(KEY, body)
    decoded = envelopes.decode(json.dumps(raw).encode(), settings)
    assert decoded.kind == kind and decoded.answer is None
    assert len(decoded.items) == count
    for item in decoded.items:
        assert item.problems == []
        assert validation.validate(item.event, "employee.onboarded") == []
    if kind == "timer":
        assert decoded.timer_payload == {"dryRun": True}


def test_schema_examples_are_valid():
    schema = json.loads((ROOT / "schemas" / "onboarding-event.schema.json").read_text())
    for ex in schema["examples"]:
        assert validation.validate(ex, "employee.onboarded") == []


# -- the schema table -----------------------------------------------------------------------------
def _set(path, value):
    def change(ev):
        target = ev
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    return change


def _drop(path):
    def change(ev):
        target = ev
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]
    return change


SCHEMA_CASES = [
    # (id, change, expected problem paths; [] = valid)
    ("minimal valid", lambda ev: (ev["employee"].pop("email"), ev["employee"].pop("mobilePhone")), []),
    ("full valid with endDate", _set(["endDate"], "2027-06-30"), []),
    ("console valid with flags", lambda ev: ev.update(access={"mode": "console", "level": "full", "console": {
        "passwordResetRequired": False, "mfaBindRequired": True}}), []),
    ("console valid without flags", _set(["access", "mode"], "console"), []),
    ("CJK display name", _set(["employee", "displayName"], "王小明"), []),
    ("display name 24 chars", _set(["employee", "displayName"], "x" * 24), []),
    ("logon name 64 chars", _set(["employee", "logonName"], "a" * 64), []),
    ("logon name with ._-", _set(["employee", "logonName"], "a.b_c-d"), []),
    ("occurredAt with offset", _set(["occurredAt"], "2026-11-28T09:05:00.123+08:00"), []),
    ("occurredAt with nanoseconds", _set(["occurredAt"], "2026-11-28T09:05:00.123456789Z"), []),
    ("occurredAt with one fraction digit", _set(["occurredAt"], "2026-11-28T09:05:00.5+08:00"), []),
    ("employeeId 64 chars", _set(["employee", "employeeId"], "E" * 64), []),
    ("missing eventId", _drop(["eventId"]), ["$.eventId"]),
    ("empty eventId", _set(["eventId"], ""), ["$.eventId"]),
    ("eventId too long", _set(["eventId"], "x" * 129), ["$.eventId"]),
    ("wrong eventType", _set(["eventType"], "employee.offboarded"), ["$.eventType"]),
    ("occurredAt not RFC 3339", _set(["occurredAt"], "28/11/2026"), ["$.occurredAt"]),
    ("occurredAt without zone", _set(["occurredAt"], "2026-11-28T09:00:00"), ["$.occurredAt"]),
    ("missing employee", _drop(["employee"]), ["$.employee"]),
    ("employee not an object", _set(["employee"], "alice"), ["$.employee"]),
    ("missing employeeId", _drop(["employee", "employeeId"]), ["$.employee.employeeId"]),
    ("employeeId with space", _set(["employee", "employeeId"], "E 1"), ["$.employee.employeeId"]),
    ("employeeId too long", _set(["employee", "employeeId"], "E" * 65), ["$.employee.employeeId"]),
    ("missing logonName", _drop(["employee", "logonName"]), ["$.employee.logonName"]),
    ("logonName uppercase", _set(["employee", "logonName"], "Alice"), ["$.employee.logonName"]),
    ("logonName with @", _set(["employee", "logonName"], "alice@corp"), ["$.employee.logonName"]),
    ("logonName 65 chars", _set(["employee", "logonName"], "a" * 65), ["$.employee.logonName"]),
    ("logonName empty", _set(["employee", "logonName"], ""), ["$.employee.logonName"]),
    ("missing displayName", _drop(["employee", "displayName"]), ["$.employee.displayName"]),
    ("displayName 25 chars", _set(["employee", "displayName"], "x" * 25), ["$.employee.displayName"]),
    ("displayName empty", _set(["employee", "displayName"], ""), ["$.employee.displayName"]),
    ("email invalid", _set(["employee", "email"], "alice"), ["$.employee.email"]),
    ("mobilePhone without country", _set(["employee", "mobilePhone"], "13800000000"), ["$.employee.mobilePhone"]),
    ("unknown employee field", _set(["employee", "title"], "SRE"), ["$.employee.title"]),
    ("unknown top-level field", _set(["policy"], "AdministratorAccess"), ["$.policy"]),
    ("missing access", _drop(["access"]), ["$.access"]),
    ("missing mode", _drop(["access", "mode"]), ["$.access.mode"]),
    ("bad mode", _set(["access", "mode"], "both"), ["$.access.mode"]),
    ("missing level", _drop(["access", "level"]), ["$.access.level"]),
    ("level names a policy", _set(["access", "level"], "AdministratorAccess"), ["$.access.level"]),
    ("unknown access field", _set(["access", "policyName"], "AdministratorAccess"), ["$.access.policyName"]),
    ("console block with programmatic", _set(["access", "console"], {"mfaBindRequired": True}),
     ["$.access.console"]),
    ("console flag not boolean", lambda ev: ev.update(access={"mode": "console", "level": "full",
                                                              "console": {"mfaBindRequired": "yes"}}),
     ["$.access.console.mfaBindRequired"]),
    ("unknown console flag", lambda ev: ev.update(access={"mode": "console", "level": "full",
                                                          "console": {"sso": True}}),
     ["$.access.console.sso"]),
    ("endDate not a date", _set(["endDate"], "2027-02-30"), ["$.endDate"]),
    ("endDate a datetime", _set(["endDate"], "2027-06-30T00:00:00Z"), ["$.endDate"]),
    ("several problems at once", lambda ev: (ev["employee"].update(logonName="A B", displayName=""),
                                             ev["access"].update(level="root")),
     ["$.access.level", "$.employee.displayName", "$.employee.logonName"]),
]


@pytest.mark.parametrize("name,change,paths", SCHEMA_CASES, ids=[c[0] for c in SCHEMA_CASES])
def test_schema_table(name, change, paths):
    ev = copy.deepcopy(event())
    change(ev)
    problems = validation.validate(ev, "employee.onboarded")
    assert [p["path"] for p in problems] == paths
    for p in problems:
        assert p["message"] and isinstance(p["message"], str)


def test_schema_table_is_big_enough():
    assert len(SCHEMA_CASES) >= 30


@pytest.mark.parametrize("name,change,paths", [c for c in SCHEMA_CASES if c[2]][:8],
                         ids=[c[0] for c in SCHEMA_CASES if c[2]][:8])
def test_invalid_events_make_no_cloud_call(cloud, name, change, paths):
    ev = copy.deepcopy(event())
    change(ev)
    result = invoke(ev)
    assert result["status"] == "rejected"
    assert [e["path"] for e in result["errors"]] == paths
    assert cloud.calls.since(0) == []


# -- cold start --------------------------------------------------------------------------------------
def test_import_and_reject_imports_no_sdk():
    code = (
        "import sys, json\n"
        "import onboarding\n"
        "r = onboarding.handler(json.dumps({'eventType': 'employee.onboarded'}).encode(), None)\n"
        "assert r['status'] == 'rejected', r\n"
        "sdk = sorted(m for m in sys.modules if m.split('.')[0].startswith("
        "('alibabacloud', 'Tea', 'darabonba', 'requests', 'aiohttp')))\n"
        "print(json.dumps(sdk))\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "functions"), "WEBHOOK_SIGNING_KEY": "k" * 16}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "functions", env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


# -- exact limits and answer shapes (what each envelope answers, at and just past every limit) ----------
def _padded_event(size, ev=None):
    """A direct event of exactly ``size`` bytes (padding in the JSON whitespace)."""
    raw = json.dumps(ev or event()).encode()
    assert len(raw) < size
    return raw[:-1] + b" " * (size - len(raw)) + raw[-1:]


def _errors(result):
    return result["errors"]


@pytest.mark.parametrize("max_body", [262_144, 98_304])   # 98304 shares a bit with 64 KiB: no | or ^ slip
def test_event_size_limits_are_exact(cloud, monkeypatch, max_body):
    import onboarding
    from provisioner.platform import runtime
    monkeypatch.setenv("MAX_BODY_BYTES", str(max_body))
    runtime.reset()
    direct, largest = max_body + 65_536, max_body * 6 + 65_536
    mark = cloud.calls.mark()
    too_large_direct = [{"path": "$", "message": f"event is too large: at most {direct} bytes (from MAX_BODY_BYTES)"}]
    too_large_any = [{"path": "$", "message": f"event is too large: at most {largest} bytes (from MAX_BODY_BYTES)"}]
    assert _errors(onboarding.handler(_padded_event(direct + 1), None)) == too_large_direct
    assert _errors(onboarding.handler(_padded_event(largest), None)) == too_large_direct
    assert _errors(onboarding.handler(_padded_event(largest + 1), None)) == too_large_any
    assert cloud.calls.since(mark) == []
    result = onboarding.handler(_padded_event(direct, event(logon=f"at.limit{max_body}")), None)
    assert result["status"] == "provisioned" and result["userName"] == f"at.limit{max_body}"


def test_a_large_array_is_never_split_into_events(cloud):
    """Past the direct limit only a webhook may come: an array there is read as one document."""
    import onboarding
    raw = b"[" + b",".join([b"{}"] * 70) + b"]"
    raw = raw[:-1] + b" " * (262_144 + 65_536 + 1 - len(raw)) + b"]"
    assert _errors(onboarding.handler(raw, None)) == [
        {"path": "$", "message": f"event {jsonlimits.too_many_message()}"}]
    assert cloud.calls.since(0) == []


def test_batch_of_exactly_100_is_read_and_101_is_refused_with_the_count(cloud):
    results = invoke(["not an event"] * 100)
    assert len(results) == 100
    assert all(r["errors"] == [{"path": "$", "message": "an event must be a JSON object, got str"}] for r in results)
    results = invoke(["not an event"] * 101)
    assert [r["errors"] for r in results] == [
        [{"path": "$", "message": "a batch holds at most 100 events, got 101"}]]
    assert cloud.calls.since(0) == []


def _nested(depth):
    """An object whose arrays/objects are exactly ``depth`` levels deep."""
    value: object = {}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


def test_parsed_event_depth_limit_is_exact(cloud):
    """A handler handed already-parsed JSON (not from FC) holds it to the same depth limit."""
    import onboarding
    too_deep = f"event {jsonlimits.too_deep_message()}"
    assert onboarding.handler(_nested(33), None)["errors"] == [{"path": "$", "message": too_deep}]
    at_limit = onboarding.handler(_nested(32), None)
    assert at_limit["status"] == "rejected" and too_deep not in json.dumps(at_limit)
    assert {e["path"] for e in at_limit["errors"]} >= {"$.x", "$.eventId"}
    assert cloud.calls.since(0) == []


def test_parsed_batch_rejects_only_its_too_deep_events(cloud):
    import onboarding
    results = onboarding.handler(["not an event", _nested(32), _nested(33), event()], None)
    assert len(results) == 4
    assert results[0]["errors"] == [{"path": "$", "message": "an event must be a JSON object, got str"}]
    assert results[1]["status"] == "rejected" and "$.x" in [e["path"] for e in results[1]["errors"]]
    assert results[2]["errors"] == [{"path": "$[2]", "message": jsonlimits.too_deep_message()}]
    assert results[3]["status"] == "provisioned"


@pytest.mark.parametrize("extra", [{"data": {"x": 1}}, {"body": "{}", "headers": {}}, {"headers": {}},
                                   {"body": "{}"}, {"triggerName": "t"}, {"specversion": "1.0"}])
def test_a_direct_event_with_envelope_like_fields_is_an_event(cloud, extra):
    """Only a whole envelope (all of its marks) makes an event something else."""
    ev = event(**extra)
    result = invoke(ev)
    assert result["status"] == "rejected" and result["eventId"] == ev["eventId"]
    assert [e["path"] for e in result["errors"]] == sorted(f"$.{k}" for k in extra)
    assert cloud.calls.since(0) == []


def test_batch_cloudevent_with_a_repeated_envelope_name_is_reported_at_its_index(cloud):
    ce = json.dumps(example("eventbridge.json"))
    raw = ("[" + ce + "," + ce.replace('"specversion"', '"specversion": "1.0", "specversion"', 1) + "]").encode()
    import onboarding
    results = onboarding.handler(raw, None)
    assert results[0]["status"] == "provisioned"
    assert results[1]["errors"] == [{"path": "$[1].specversion", "message": jsonlimits.DUPLICATE_MESSAGE}]


def test_transient_answer_counts_the_failed_and_done_and_names_the_first(cloud):
    """The error FC's retry log shows: how many failed, how many were done, and the first failure."""
    trigger = envelopes.Trigger()
    done = {"status": "provisioned"}
    results = [done, TransientError("first one"), done, TransientError("second one"), done]
    with pytest.raises(TransientError) as info:
        trigger.answer(envelopes.Decoded(trigger, batch=True), results)
    assert str(info.value) == "2 of 5 events hit transient errors (3 done; redelivery is safe): first one"


# -- HTTP answers, exactly -------------------------------------------------------------------------------
def test_http_answer_keeps_non_ascii_as_is(cloud):
    bad = event()
    bad["职位"] = "SRE"
    answer = invoke(http_request(bad))
    assert answer["statusCode"] == 400
    assert '"$.职位"' in answer["body"]


def test_http_base64_with_a_stray_character_is_400(cloud):
    raw = json.dumps(event()).encode()
    req = http_request(raw, b64=True)
    encoded = req["body"]
    req["body"] = encoded[:8] + "!" + encoded[8:]
    answer = invoke(req)
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"]) == {"status": "refused", "message": "body is not valid base64"}
    assert cloud.calls.since(0) == []


@pytest.mark.parametrize("b64", [True, False])
@pytest.mark.parametrize("body", [12345, ["e30="], {"a": 1}, True])
def test_http_body_that_is_not_a_string_is_400(cloud, body, b64):
    """Only FC builds HTTP-trigger events (its body is a string), but a direct invocation can hand over anything."""
    req = http_request(event(), b64=b64)
    req["body"] = body
    answer = invoke(req)
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"]) == {"status": "refused", "message": "body is not a string"}
    assert cloud.calls.since(0) == []


def test_http_signed_body_that_is_not_json_is_400(cloud):
    answer = invoke(http_request(b"{not json"))
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"])["errors"] == [{"path": "$", "message": "body is not valid JSON"}]
    assert cloud.calls.since(0) == []


def test_http_body_array_is_read_as_one_document(cloud):
    answer = invoke(http_request(b"[" + b",".join([b"{}"] * 70) + b"]"))
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"])["errors"] == [
        {"path": "$", "message": f"body {jsonlimits.too_many_message()}"}]
    assert cloud.calls.since(0) == []


def test_http_config_error_is_503_naming_the_setting_not_its_value(cloud, monkeypatch):
    from provisioner.platform import runtime
    monkeypatch.setenv("MAX_BODY_BYTES", "lots")
    runtime.reset()
    answer = invoke(http_request(event()))
    assert answer["statusCode"] == 503 and answer["headers"]["Retry-After"] == "300"
    body = json.loads(answer["body"])
    assert body["status"] == "failed"
    assert body["error"] == {"code": body["error"]["code"], "setting": "MAX_BODY_BYTES"}
    assert body["error"]["code"].startswith("ConfigError.")
    assert "lots" not in answer["body"]
    assert cloud.calls.since(0) == []


# -- timer envelope --------------------------------------------------------------------------------------
def test_timer_payload_not_json_is_rejected_at_payload(cloud):
    timer = example("timer.json")
    timer["payload"] = "{oops"
    result = invoke(timer)
    assert result["status"] == "rejected" and result["errors"] == [
        {"path": "$.payload", "message": "is not valid JSON"}]


def test_timer_payload_repeated_name_is_reported_under_payload(cloud):
    timer = example("timer.json")
    timer["payload"] = '{"a$": 1, "a$": 2}'
    result = invoke(timer)
    assert result["errors"] == [{"path": "$.payload.a$", "message": jsonlimits.DUPLICATE_MESSAGE}]


def test_timer_tick_is_the_trigger_time():
    timer = example("timer.json")
    decoded = envelopes.decode(json.dumps(timer).encode(), Settings(webhook_signing_key=KEY))
    assert decoded.tick == timer["triggerTime"] and decoded.tick
