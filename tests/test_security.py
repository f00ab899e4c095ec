"""Security: the signed webhook, body limits, and privilege-escalation attempts, judged by the call log.

Webhook (both handlers): a request is processed only with ``X-HR-Signature: t=<unix>,v1=<hex
HMAC-SHA256(key, "<t>.<raw body>")>`` made with WEBHOOK_SIGNING_KEY, ``t`` within 300 s of now (either
way). Anything else is 401 before the body is parsed, and costs no cloud call; without a configured
key every request is refused. A replay of a processed request has no second effect. Bodies over
MAX_BODY_BYTES (default 262144 bytes = 256 KiB, measured after base64 decoding) are 413; methods
other than POST are 405.

Privilege escalation: no event can name a policy, reach a user or a secret that is not its own, or
smuggle path characters into a secret name. Invalid attempts make no call at all; attempts that are
valid in shape but aim at someone else's user make no *mutating* call (reads only) and leave it as it
was.
"""
import base64
import hashlib
import hmac
import json
from urllib.parse import quote, quote_plus

import offboarding
import onboarding
import pytest
from provisioner.adapters import webhook
from provisioner.domain import ownership
from provisioner.platform import clock, runtime

from tests import invariants as inv
from tests.conftest import as_bytes
from tests.onboarding_support import event

KEY = "test-webhook-key"           # set by the ``cloud`` fixture
MAX_BODY_BYTES = 262_144           # the documented default (config.Settings.max_body_bytes)
HANDLERS = {"onboarding": onboarding.handler, "offboarding": offboarding.handler}


def leaver(logon="alice.wang", employee_id="E10023", event_id="leaver-1"):
    return {"eventId": event_id, "eventType": "employee.offboarded", "occurredAt": "2026-11-28T18:00:00Z",
            "employee": {"employeeId": employee_id, "logonName": logon}}


EVENTS = {"onboarding": event, "offboarding": leaver}


def request(raw, signature=None, *, key=KEY, t=None, method="POST", b64=False, header="X-HR-Signature"):
    """An FC HTTP-trigger event carrying ``raw`` (bytes), signed unless ``signature``/``key`` say otherwise."""
    headers = {"Content-Type": "application/json", "User-Agent": "corp-hris-webhook/2.3"}
    if signature is None and key is not None:
        signature = webhook.sign(key, raw, t)
    if signature is not None:
        headers[header] = signature
    return {"version": "v1", "rawPath": "/hr/onboarding", "headers": headers, "queryParameters": {},
            "body": base64.b64encode(raw).decode() if b64 else raw.decode("utf-8"), "isBase64Encoded": b64,
            "requestContext": {"requestId": "r-1", "http": {"method": method, "path": "/hr/onboarding",
                                                             "protocol": "HTTP/1.1", "sourceIp": "10.0.0.1"}}}


def body_of(event_obj):
    return json.dumps(event_obj).encode("utf-8")


def post(handler, req):
    return HANDLERS[handler](as_bytes(req), None)


def answer_body(answer):
    return json.loads(answer["body"])


def refused_without_calls(cloud, handler, req, status):
    mark = cloud.calls.mark()
    answer = post(handler, req)
    assert answer["statusCode"] == status, answer
    assert cloud.calls.since(mark) == [], [c.action for c in cloud.calls.since(mark)]
    body = answer_body(answer)
    assert body["status"] in ("refused", "rejected") and (body.get("message") or body.get("errors"))
    assert KEY not in answer["body"]
    return body


# -- signatures ------------------------------------------------------------------------------------------
def _mac(key, t, raw):
    return webhook.sign(key, raw, t).split("v1=")[1]


BAD_SIGNATURES = {
    "wrong key": lambda raw, now: webhook.sign("not-the-key", raw, now),
    "key with a trailing space": lambda raw, now: webhook.sign(KEY + " ", raw, now),
    "stale timestamp (301 s)": lambda raw, now: webhook.sign(KEY, raw, now - 301),
    "stale timestamp (1 day)": lambda raw, now: webhook.sign(KEY, raw, now - 86_400),
    "future timestamp (301 s)": lambda raw, now: webhook.sign(KEY, raw, now + 301),
    "signed for another timestamp": lambda raw, now: f"t={now},v1={_mac(KEY, now - 10, raw)}",
    "empty header": lambda raw, now: "",
    "no t": lambda raw, now: f"v1={_mac(KEY, now, raw)}",
    "no v1": lambda raw, now: f"t={now}",
    "t not a number": lambda raw, now: f"t=now,v1={_mac(KEY, now, raw)}",
    "t a float": lambda raw, now: f"t={now}.5,v1={_mac(KEY, now, raw)}",
    "v1 truncated": lambda raw, now: f"t={now},v1={_mac(KEY, now, raw)[:32]}",
    "v1 upper-case hex": lambda raw, now: f"t={now},v1={_mac(KEY, now, raw).upper()}",
    "v0 scheme": lambda raw, now: f"t={now},v0={_mac(KEY, now, raw)}",
    "garbage": lambda raw, now: "Bearer abc.def.ghi",
    "only separators": lambda raw, now: ",,,=,=",
    "unicode noise": lambda raw, now: f"t={now},v1=ａｂｃ",
    "MAC of the body alone": lambda raw, now: f"t={now},v1=" + hmac.new(KEY.encode(), raw, hashlib.sha256).hexdigest(),
}


@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.parametrize("case", BAD_SIGNATURES)
def test_bad_signature_is_401_without_a_call(cloud, handler, case):
    raw = body_of(EVENTS[handler]())
    now = int(clock.now().timestamp())
    body = refused_without_calls(cloud, handler, request(raw, BAD_SIGNATURES[case](raw, now)), 401)
    assert "signature" in body["message"].lower() or "header" in body["message"].lower()


@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.parametrize("value", [["t=1,v1=00"], 12345, {"t": 1}, True])
def test_signature_header_that_is_not_a_string_is_401(cloud, handler, value):
    """Only FC builds HTTP-trigger events, but a direct invocation can hand over anything."""
    raw = body_of(EVENTS[handler]())
    refused_without_calls(cloud, handler, request(raw, value), 401)


@pytest.mark.parametrize("handler", HANDLERS)
def test_missing_signature_header_is_401_without_a_call(cloud, handler):
    raw = body_of(EVENTS[handler]())
    body = refused_without_calls(cloud, handler, request(raw, key=None), 401)
    assert "missing" in body["message"]


@pytest.mark.parametrize("handler", HANDLERS)
def test_signature_in_another_header_is_401(cloud, handler):
    raw = body_of(EVENTS[handler]())
    refused_without_calls(cloud, handler, request(raw, header="X-Signature"), 401)


@pytest.mark.parametrize("tamper", ["level", "logonName", "extra field", "whitespace", "trailing newline"])
def test_tampered_body_is_401_without_a_call(cloud, tamper):
    original = event()
    raw = body_of(original)
    signature = webhook.sign(KEY, raw)
    changed = json.loads(raw)
    if tamper == "level":
        changed["access"]["level"] = "full"
        forged = body_of(changed)
    elif tamper == "logonName":
        changed["employee"]["logonName"] = "admin"
        forged = body_of(changed)
    elif tamper == "extra field":
        changed["access"]["policy"] = "AdministratorAccess"
        forged = body_of(changed)
    elif tamper == "whitespace":
        forged = json.dumps(changed, indent=1).encode()
    else:
        forged = raw + b"\n"
    assert forged != raw
    refused_without_calls(cloud, "onboarding", request(forged, signature), 401)


@pytest.mark.parametrize("handler", HANDLERS)
def test_tampered_base64_body_is_401(cloud, handler):
    raw = body_of(EVENTS[handler]())
    req = request(raw, b64=True)
    req["body"] = base64.b64encode(raw.replace(b"alice.wang", b"admin")).decode()
    refused_without_calls(cloud, handler, req, 401)


def test_timestamp_inside_the_window_either_way_is_accepted(cloud):
    raw = body_of(event())
    now = int(clock.now().timestamp())
    assert post("onboarding", request(raw, t=now - 290))["statusCode"] == 200
    assert answer_body(post("onboarding", request(raw, t=now + 290)))["status"] == "already-provisioned"


@pytest.mark.parametrize("offset, status", [(-300, 200), (300, 200), (-301, 401), (301, 401)])
def test_the_window_is_exactly_the_tolerance_either_way(cloud, offset, status):
    """WEBHOOK_TOLERANCE_SECONDS (300 by default) is inclusive: t = now -/+ 300 s is accepted, 301 s is not
    (issue 15). The clock stands on a whole second, so the bound is exact."""
    from datetime import datetime, timezone

    from tests.conftest import set_clock
    now = set_clock(datetime(2026, 11, 28, 10, 0, 0, tzinfo=timezone.utc)).now()
    mark = cloud.calls.mark()
    answer = post("onboarding", request(body_of(event()), t=int(now.timestamp()) + offset))
    assert answer["statusCode"] == status, answer
    if status == 200:
        assert answer_body(answer)["status"] == "provisioned"
        assert [c.action for c in cloud.calls.mutating(mark) if c.action == "CreateUser"] == ["CreateUser"]
    else:
        assert "window" in answer_body(answer)["message"] and cloud.calls.since(mark) == []


def test_the_first_timestamp_is_the_signed_one(cloud):
    """A header with two ``t=``: the first is the one the MAC binds; a later one is ignored and cannot
    move the window (killed the surviving mutant that read the last one)."""
    raw = body_of(event())
    now = int(clock.now().timestamp())
    first_signed = f"t={now},t={now - 10_000},v1={_mac(KEY, now, raw)}"
    assert post("onboarding", request(raw, first_signed))["statusCode"] == 200
    old_first = f"t={now - 10_000},t={now},v1={_mac(KEY, now, raw)}"
    assert post("onboarding", request(raw, old_first))["statusCode"] == 401


@pytest.mark.parametrize("tolerance", [1, 2, 600])
def test_the_window_follows_the_setting(cloud, monkeypatch, tolerance):
    from datetime import datetime, timezone

    from tests.conftest import set_clock
    monkeypatch.setenv("WEBHOOK_TOLERANCE_SECONDS", str(tolerance))
    runtime.reset()
    now = int(set_clock(datetime(2026, 11, 28, 10, 0, 0, tzinfo=timezone.utc)).now().timestamp())
    raw = body_of(event())
    for t, status in [(now - tolerance - 1, 401), (now + tolerance + 1, 401), (now - tolerance, 200)]:
        assert post("onboarding", request(raw, t=t))["statusCode"] == status, (t - now, status)


def test_lower_case_header_name_is_accepted(cloud):
    answer = post("onboarding", request(body_of(event()), header="x-hr-signature"))
    assert answer["statusCode"] == 200 and answer_body(answer)["status"] == "provisioned"


@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.parametrize("configured", ["unset", "empty"])
def test_no_key_configured_refuses_even_correctly_signed_requests(cloud, monkeypatch, handler, configured):
    if configured == "unset":
        monkeypatch.delenv("WEBHOOK_SIGNING_KEY")
    else:
        monkeypatch.setenv("WEBHOOK_SIGNING_KEY", "")
    runtime.reset()
    raw = body_of(EVENTS[handler]())
    for req in (request(raw), request(raw, key=""), request(raw, key=None)):
        body = refused_without_calls(cloud, handler, req, 401)
        assert "not configured" in body["message"]


def test_replay_of_a_processed_request_has_no_second_effect(cloud):
    raw = body_of(event())
    req = request(raw)                                       # one signed request, delivered twice
    first = post("onboarding", req)
    assert first["statusCode"] == 200 and answer_body(first)["status"] == "provisioned"
    keys = cloud.ram.user_state("alice.wang")["access_keys"]
    secret = cloud.kms.secret_state("ram-user/alice.wang")
    mark = cloud.calls.mark()
    for replay in (req, request(raw)):                       # the very same bytes, then a fresh signature
        again = post("onboarding", replay)
        assert again["statusCode"] == 200 and answer_body(again)["status"] == "already-provisioned"
    assert cloud.calls.mutating(mark, ok_only=False) == []
    assert cloud.ram.user_state("alice.wang")["access_keys"] == keys and len(keys) == 1
    assert cloud.kms.secret_state("ram-user/alice.wang")["versions"] == secret["versions"]
    inv.onboarded(cloud, "alice.wang", "E10023", "programmatic", "read-only", secret_name="ram-user/alice.wang",
                  end_date="2027-06-30" if "endDate" in event() else None)


def test_replay_of_a_processed_leaver_has_no_second_effect(cloud):
    assert onboarding.handler(as_bytes(event()), None)["status"] == "provisioned"
    req = request(body_of(leaver()))
    first = post("offboarding", req)
    assert first["statusCode"] == 200 and answer_body(first)["status"] == "disabled"
    state = cloud.ram.user_state("alice.wang")
    mark = cloud.calls.mark()
    again = post("offboarding", req)
    assert again["statusCode"] == 200 and answer_body(again)["status"] == "disabled"
    assert answer_body(again)["disabledAt"] == answer_body(first)["disabledAt"]
    assert cloud.calls.mutating(mark, ok_only=False) == []
    assert cloud.ram.user_state("alice.wang") == state


# -- size and method ------------------------------------------------------------------------------------------
def _padded(size):
    """A signed, otherwise valid event body of exactly ``size`` bytes (padding in the JSON whitespace)."""
    raw = body_of(event())
    assert len(raw) < size
    return raw[:-1] + b" " * (size - len(raw)) + raw[-1:]


@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.parametrize("b64", [False, True])
def test_body_over_the_limit_is_413_without_a_call(cloud, handler, b64):
    raw = _padded(MAX_BODY_BYTES + 1)
    body = refused_without_calls(cloud, handler, request(raw, b64=b64), 413)
    assert str(MAX_BODY_BYTES) in body["message"]


def test_body_at_the_limit_is_processed(cloud):
    answer = post("onboarding", request(_padded(MAX_BODY_BYTES)))
    assert answer["statusCode"] == 200 and answer_body(answer)["status"] == "provisioned"


def test_limit_is_configurable_and_checked_before_the_signature(cloud, monkeypatch):
    monkeypatch.setenv("MAX_BODY_BYTES", "1024")
    runtime.reset()
    raw = _padded(1025)
    refused_without_calls(cloud, "onboarding", request(raw, "t=0,v1=00"), 413)   # unsigned: still 413, cheap
    refused_without_calls(cloud, "onboarding", request(raw), 413)


@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD", "OPTIONS", "get"])
def test_methods_other_than_post_are_405(cloud, handler, method):
    refused_without_calls(cloud, handler, request(body_of(EVENTS[handler]()), method=method), 405)


# -- privilege escalation ---------------------------------------------------------------------------------------
def seed_admin(cloud):
    """A foreign administrator (not created by us), a foreign ARMS user with a look-alike marker, and a user
    we manage for another employee."""
    ram = cloud.ram
    ram.create_user("admin", display_name="Root admin", comments="break-glass account")
    ram.attach_policy_to_user("System", "AdministratorAccess", "admin")
    ram.create_access_key("admin")
    ram.create_login_profile("admin", "Adm1n!Passw0rd-sec", True, True)
    ram.create_user("ops.bot", display_name="ops", comments="hrrp:v1 ;emp=E10023;st=active")
    ram.attach_policy_to_user("System", "AliyunARMSFullAccess", "ops.bot")
    ram.create_user("carol.li", display_name="Carol Li", comments=ownership.Marker("E20001").render())
    ram.attach_policy_to_user("System", "AliyunARMSReadOnlyAccess", "carol.li")
    ram.create_access_key("carol.li")
    return inv.Bystanders(cloud, ["admin", "ops.bot", "carol.li"])


def invalid_without_calls(cloud, obj, paths):
    """Direct and signed webhook: rejected / 400 naming ``paths``, and no cloud call at all."""
    mark = cloud.calls.mark()
    result = onboarding.handler(as_bytes(obj), None)
    assert result["status"] == "rejected", result
    answer = post("onboarding", request(body_of(obj)))
    assert answer["statusCode"] == 400 and answer_body(answer)["errors"] == result["errors"]
    assert cloud.calls.since(mark) == [], [c.action for c in cloud.calls.since(mark)]
    found = [e["path"] for e in result["errors"]]
    assert all(p in found for p in paths), (paths, found)
    return result


@pytest.mark.parametrize("level", ["admin", "AdministratorAccess", "AliyunARMSFullAccess", "FULL", "full ",
                                   "read-only,full", "", None, 1, ["full"], {"policy": "AdministratorAccess"}])
def test_level_outside_the_enum_is_refused_without_a_call(cloud, level):
    seed_admin(cloud)
    invalid_without_calls(cloud, event(level=level), ["$.access.level"])


@pytest.mark.parametrize("where", ["", "employee", "access", "access.console"])
@pytest.mark.parametrize("field", ["policy", "policies", "PolicyName", "PolicyType", "Comments", "secretName"])
def test_extra_policy_fields_are_refused_without_a_call(cloud, where, field):
    obj = event(mode="console") if where == "access.console" else event()
    if where == "access.console":
        obj["access"]["console"] = {"passwordResetRequired": True}
    target = obj
    for part in where.split(".") if where else []:
        target = target[part]
    target[field] = ["AdministratorAccess"] if field == "policies" else "AdministratorAccess"
    invalid_without_calls(cloud, obj, [f"$.{where}.{field}" if where else f"$.{field}"])


@pytest.mark.parametrize("logon", [
    "аdmin",                     # Cyrillic а (U+0430)
    "alice.wаng",                # Cyrillic а inside
    "ａdmin",                    # full-width a
    "admin\u200b",               # zero-width space
    "Admin",                     # RAM names are case-insensitive: upper case is refused outright
    "admın",                     # dotless i
    "admin\n",                   # passes Python's $, not ECMA's
])
def test_look_alike_logon_names_are_refused_without_a_call(cloud, logon):
    bystanders = seed_admin(cloud)
    invalid_without_calls(cloud, event(logon=logon), ["$.employee.logonName"])
    bystanders.check()


@pytest.mark.parametrize("logon", ["../admin", "../../acs/ram/user/admin", "ram-user/admin", "acs/ram/user/admin",
                                   "acs/", "/admin", "admin/", "a\\b", "admin%2f..", "admin;emp=E1", "admin\x00"])
def test_path_characters_meant_for_secret_names_are_refused_without_a_call(cloud, logon):
    seed_admin(cloud)
    invalid_without_calls(cloud, event(logon=logon), ["$.employee.logonName"])


@pytest.mark.parametrize("employee_id", ["E1;st=disabled", "E1\n", "../E1", "E1 ", "E1,st=active", "x" * 65])
def test_employee_ids_that_could_forge_a_marker_or_a_tag_are_refused(cloud, employee_id):
    invalid_without_calls(cloud, event(employee_id=employee_id), ["$.employee.employeeId"])


def conflict_without_mutation(cloud, handler, obj, bystanders):
    mark = cloud.calls.mark()
    result = HANDLERS[handler](as_bytes(obj), None)
    assert result["status"] == "conflict", result
    answer = post(handler, request(body_of(obj)))
    assert answer["statusCode"] == 409 and answer_body(answer)["status"] == "conflict"
    assert cloud.calls.mutating(mark, ok_only=False) == [], [c.action for c in cloud.calls.mutating(mark, False)]
    assert not any(c.action == "GetSecretValue" for c in cloud.calls.since(mark))
    bystanders.check(mark)
    return result


@pytest.mark.parametrize("mode", ["programmatic", "console"])
@pytest.mark.parametrize("level", ["read-only", "full"])
def test_logon_name_of_a_foreign_administrator_is_a_conflict_with_zero_mutating_calls(cloud, mode, level):
    bystanders = seed_admin(cloud)
    conflict_without_mutation(cloud, "onboarding", event(mode=mode, level=level, logon="admin"), bystanders)
    assert cloud.ram.user_state("admin")["policies"] == ["AdministratorAccess"]
    assert cloud.kms.secret_state("ram-user/admin") is None


def test_leaver_for_a_foreign_administrator_is_a_conflict_with_zero_mutating_calls(cloud):
    bystanders = seed_admin(cloud)
    conflict_without_mutation(cloud, "offboarding", leaver(logon="admin"), bystanders)


def test_look_alike_marker_is_not_ours(cloud):
    bystanders = seed_admin(cloud)
    conflict_without_mutation(cloud, "onboarding", event(logon="ops.bot"), bystanders)
    conflict_without_mutation(cloud, "offboarding", leaver(logon="ops.bot"), bystanders)


def test_managed_user_claimed_by_another_employee_is_a_conflict(cloud):
    bystanders = seed_admin(cloud)
    result = conflict_without_mutation(cloud, "onboarding", event(logon="carol.li", employee_id="E10023"),
                                       bystanders)
    assert "another employee" in result["reason"]
    conflict_without_mutation(cloud, "offboarding", leaver(logon="carol.li", employee_id="E10023"), bystanders)


def test_secret_name_taken_by_someone_else_is_a_conflict_before_any_change(cloud):
    bystanders = seed_admin(cloud)
    cloud.kms.create_secret("ram-user/alice.wang", "v1", json.dumps({"note": "someone else's"}))
    before = cloud.kms.secret_state("ram-user/alice.wang")
    conflict_without_mutation(cloud, "onboarding", event(), bystanders)
    assert cloud.ram.user_state("alice.wang") is None
    assert cloud.kms.secret_state("ram-user/alice.wang") == before


def test_a_batch_cannot_smuggle_an_attack_past_a_valid_event(cloud):
    """One valid event beside attempts on the administrator: the valid one is provisioned, every
    attempt answered, the administrator untouched."""
    bystanders = seed_admin(cloud)
    attacks = [event(logon="admin", event_id="a1"), event(level="admin", event_id="a2", logon="bob"),
               {**event(event_id="a3", logon="eve"), "policy": "AdministratorAccess"},
               event(logon="аdmin", event_id="a4")]
    results = onboarding.handler(as_bytes([event()] + attacks), None)
    assert [r["status"] for r in results] == ["provisioned", "conflict", "rejected", "rejected", "rejected"]
    bystanders.check()
    assert sorted(cloud.ram.users) == ["admin", "alice.wang", "carol.li", "ops.bot"]
    for state in map(cloud.ram.user_state, cloud.ram.users):
        if ownership.parse(state["user"]["Comments"]) is not None:
            assert set(state["policies"]) <= {"AliyunARMSReadOnlyAccess", "AliyunARMSFullAccess"}


def test_only_the_two_arms_policies_are_ever_attached(cloud):
    """Across every event these suites can send, the functions attach no other policy (call log)."""
    seed_admin(cloud)
    for i, (mode, level) in enumerate([("programmatic", "read-only"), ("console", "full"), ("programmatic", "full")]):
        onboarding.handler(as_bytes(event(mode=mode, level=level, event_id=f"e{i}")), None)
    # group mode (the default): no policy attached to anyone; the users join our two groups only
    assert [c for c in cloud.calls if c.action.startswith("AttachPolicyTo")] == []
    joined = {c.params.get("GroupName") for c in cloud.calls if c.action == "AddUserToGroup" and c.mutating}
    assert joined == {"hr-arms-read-only", "hr-arms-full"}


def test_only_the_two_arms_policies_are_ever_attached_in_user_mode(user_mode):
    """GRANT_MODE=user: the seed's direct attachment, of the two ARMS system policies only."""
    cloud = user_mode
    seed_admin(cloud)
    for i, (mode, level) in enumerate([("programmatic", "read-only"), ("console", "full"), ("programmatic", "full")]):
        onboarding.handler(as_bytes(event(mode=mode, level=level, event_id=f"e{i}")), None)
    attached = {c.params.get("PolicyName") for c in cloud.calls if c.action == "AttachPolicyToUser"}
    assert attached == {"AliyunARMSReadOnlyAccess", "AliyunARMSFullAccess"}
    assert {c.params.get("PolicyType") for c in cloud.calls if "Policy" in c.action and c.mutating} == {"System"}


@pytest.mark.parametrize("logon", ["..", ".", "...", "-", "_", ".dot", "dot.", "-a", "a_"])
def test_names_without_a_letter_or_digit_at_both_ends_are_refused_without_a_call(cloud, logon):
    """RAM accepts "." and ".." as user names, but the logon name <name>@<alias>.onaliyun.com must be an
    address: onboarding refuses a name that does not start and end with a letter or digit (issue 11)."""
    bystanders = seed_admin(cloud)
    invalid_without_calls(cloud, event(logon=logon), ["$.employee.logonName"])
    bystanders.check()


@pytest.mark.parametrize("logon", ["a..b", "a.-.b", "a_.b", "a...z"])
def test_dot_names_the_contract_allows_stay_inside_the_secret_prefix(cloud, logon):
    """Dots inside a name are valid RAM user names (the guide's character set). Secret names are flat
    strings in KMS (and in RAM policy resources): "ram-user/a..b" is a name, not a path, and nothing
    else is touched. The webhook answer names exactly that secret."""
    bystanders = seed_admin(cloud)
    answer = post("onboarding", request(body_of(event(logon=logon))))
    assert answer["statusCode"] == 200, answer
    assert answer_body(answer)["secretName"] == f"ram-user/{logon}"
    ledger = "ram-user/ledger/"          # the employee's event ledger (docs/concurrency.md)
    assert {c.params.get("SecretName") for c in cloud.calls
            if c.service == "kms" and not c.params.get("SecretName", "").startswith(ledger)} == {f"ram-user/{logon}"}
    assert [n for n in cloud.kms.secret_names() if not n.startswith(ledger)] == [f"ram-user/{logon}"]
    bystanders.check()


@pytest.mark.parametrize("mode", ["console", "programmatic"])
def test_sdk_debug_switch_prints_no_credential(cloud, monkeypatch, capfd, mode):
    """``DEBUG=sdk`` (the Alibaba Cloud SDKs' documented troubleshooting switch) makes darabonba log
    each request's URL, query included, to stderr: RAM takes CreateLoginProfile's Password in the
    query. Setting it on the function must not put a credential into FC's logs."""
    monkeypatch.setenv("DEBUG", "sdk")
    result = onboarding.handler(as_bytes(event(mode=mode)), None)
    assert result["status"] == "provisioned"
    out, err = capfd.readouterr()
    minted = {c for c in cloud.minted_credentials() if c and len(c) >= 8}
    assert minted
    forms = {f for c in minted for f in (c, quote(c, safe=""), quote_plus(c), quote(c, safe="~"))}
    assert not [f for f in forms if f in out or f in err], "a credential (maybe URL-encoded) reached stdout/stderr"
