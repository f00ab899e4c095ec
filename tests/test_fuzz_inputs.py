"""Invariant 7, by search: whatever arrives, invalid input is answered, never raised, and costs no cloud call.

Three kinds of input go through every envelope a handler accepts (direct, batch, EventBridge with
``data`` as an object or as a JSON string, an event-streaming array, the signed HTTP webhook, and for
offboarding the timer):

- arbitrary bytes (where an envelope carries raw bytes: the direct event, the webhook body, the
  EventBridge ``data`` string);
- arbitrary JSON;
- near-valid events: a valid event with exactly one field removed, added (``policy``, ``policies``,
  ``PolicyName`` or any other unknown name, at any level), changed to another JSON type, or given a
  value just outside its rule (a pattern broken by one character, a trailing newline, one character
  too many, a value outside its enum, a date that is not one, ``access.console`` with mode
  ``programmatic``).

Issue 11 added three shapes, built as JSON text and sent as raw bytes through every envelope (half the
examples per test):

- deep nesting: 34 to 3,000 levels of mixed arrays and objects, as the whole document or as the value
  of any field of a valid event (a RecursionError escaped every envelope before);
- pathological strings for every field with a pattern or a rule: long runs of allowed characters and
  then one that breaks the rule, runs of separators, from just past the limit to 20,000 characters;
  the e-mail and display-name rules must never see more than the field's maxLength;
- a repeated name in any object of the event (an existing one, or a new one twice): rejected naming
  its path (the last value silently won before).

Every answer must be ``rejected`` (HTTP 400 for the webhook) and list each problem as
``{"path": "$...", "message": ...}``; a near-valid event's problems must name the field that was
changed. The call log must stay empty. Derandomized; ``FUZZ_EXAMPLES`` (default 100) is the number of
examples per test; the totals are printed in the terminal summary.
"""
import base64
import json
import os
import re

import offboarding
import onboarding
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from provisioner.adapters import webhook

from tests import invariants as inv
from tests.conftest import as_bytes

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
KEY = "test-webhook-key"          # WEBHOOK_SIGNING_KEY set by the ``cloud`` fixture

SETTINGS = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.filter_too_much, HealthCheck.data_too_large])

ONBOARDING = {
    "eventId": "6f1c1e3a-2b7d-4d7e-9a51-0c2f3f0f9b10", "eventType": "employee.onboarded",
    "occurredAt": "2026-11-28T09:00:00Z",
    "employee": {"employeeId": "E10023", "logonName": "alice.wang", "displayName": "Alice Wang",
                 "email": "alice.wang@example.com", "mobilePhone": "86-13800000000"},
    "access": {"mode": "console", "level": "read-only",
               "console": {"passwordResetRequired": True, "mfaBindRequired": True}},
    "endDate": "2027-06-30",
}
OFFBOARDING = {
    "eventId": "a3d5c0f2-7e11-4b0c-9c55-2f4e6b8d0a12", "eventType": "employee.offboarded",
    "occurredAt": "2026-11-28T18:00:00Z", "employee": {"employeeId": "E10023", "logonName": "alice.wang"},
    "lastWorkingDay": "2026-11-27",
}
HANDLERS = {"onboarding": (onboarding.handler, ONBOARDING), "offboarding": (offboarding.handler, OFFBOARDING)}

# -- envelopes ---------------------------------------------------------------------------------------------
def cloudevent(data):
    return {"specversion": "1.0", "id": "ce-1", "source": "acs:hr", "type": "hr.employee",
            "time": "2026-11-28T09:00:00Z", "datacontenttype": "application/json", "data": data}


def http(raw, base64_body):
    body = base64.b64encode(raw).decode() if base64_body else raw.decode("utf-8")
    return {"version": "v1", "rawPath": "/", "queryParameters": {}, "isBase64Encoded": base64_body,
            "headers": {"Content-Type": "application/json", "X-HR-Signature": webhook.sign(KEY, raw)},
            "body": body, "requestContext": {"http": {"method": "POST", "path": "/"}}}


def _dumps(obj):
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


# name -> (FC event bytes from a JSON value, is the answer an HTTP response, is it a list)
JSON_ENVELOPES = {
    "direct": (lambda obj: _dumps(obj), False),
    "batch": (lambda obj: _dumps([obj]), False),
    "eventbridge-object": (lambda obj: _dumps(cloudevent(obj)), False),
    "eventbridge-string": (lambda obj: _dumps(cloudevent(json.dumps(obj))), False),
    "eventbridge-streaming": (lambda obj: _dumps([cloudevent(obj), cloudevent(json.dumps(obj))]), False),
    "http": (lambda obj: _dumps(http(_dumps(obj), False)), True),
    "http-base64": (lambda obj: _dumps(http(_dumps(obj), True)), True),
}
BYTES_ENVELOPES = {
    "direct": (lambda raw: raw, False),
    "eventbridge-string": (lambda raw: _dumps(cloudevent(raw.decode("utf-8", "replace"))), False),
    "http-base64": (lambda raw: _dumps(http(raw, True)), True),
}


# -- checking an answer ------------------------------------------------------------------------------------
def rejected_items(answer, is_http):
    """The rejected results in an answer; fails unless every one is a well-formed rejection."""
    if is_http:
        assert answer["statusCode"] == 400, answer
        items = [json.loads(answer["body"])]
    else:
        items = answer if isinstance(answer, list) else [answer]
    for item in items:
        assert item["status"] == "rejected", item
        assert item["errors"], item
        for problem in item["errors"]:
            assert set(problem) == {"path", "message"}, problem
            assert isinstance(problem["path"], str) and problem["path"].startswith("$"), problem
            assert isinstance(problem["message"], str) and problem["message"].strip(), problem
    return items


def run(cloud, handler, event_bytes, is_http):
    """Invoke as FC does; the handler must answer (not raise) and make no cloud call."""
    before = len(cloud.calls)
    answer = handler(event_bytes, None)
    assert len(cloud.calls) == before, [c.action for c in cloud.calls.since(before)]
    return rejected_items(answer, is_http)


def count(request, kind, envelope, handler_name):
    counter = inv.counter(request.config)
    counter.add("fuzz examples by input", kind)
    counter.add("fuzz examples by envelope", envelope)
    counter.add("fuzz examples by handler", handler_name)


# -- arbitrary input ------------------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20)


@pytest.mark.parametrize("handler_name", HANDLERS)
@pytest.mark.parametrize("envelope", BYTES_ENVELOPES)
@SETTINGS
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_are_rejected_without_a_call(cloud, request, handler_name, envelope, raw):
    handler, _ = HANDLERS[handler_name]
    wrap, is_http = BYTES_ENVELOPES[envelope]
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    assume(parsed != [] and not (envelope == "direct" and isinstance(parsed, dict)
                                 and {"triggerTime", "triggerName"} <= set(parsed)))
    run(cloud, handler, wrap(raw), is_http)
    count(request, "bytes", envelope, handler_name)


@pytest.mark.parametrize("handler_name", HANDLERS)
@pytest.mark.parametrize("envelope", JSON_ENVELOPES)
@SETTINGS
@given(value=json_values)
def test_arbitrary_json_is_rejected_without_a_call(cloud, request, handler_name, envelope, value):
    handler, _ = HANDLERS[handler_name]
    wrap, is_http = JSON_ENVELOPES[envelope]
    assume(value != [])      # an empty batch is valid: nothing to do, nothing answered
    run(cloud, handler, wrap(value), is_http)
    count(request, "json", envelope, handler_name)


# -- near-valid events ---------------------------------------------------------------------------------------------
LOGON = r"[a-z0-9._-]{1,64}"
EMPLOYEE_ID = r"[A-Za-z0-9_-]{1,64}"
STRICT = {  # a value that breaks the field's rule, for every field with one
    "eventId": st.sampled_from(["", "x" * 129]),
    "eventType": st.text(max_size=30).filter(lambda s: s not in ("employee.onboarded", "employee.offboarded")),
    "occurredAt": st.sampled_from(["2026-11-28", "2026-11-28 09:00:00", "2026-13-28T09:00:00Z", "yesterday",
                                   "2026-11-28T09:00:00", "2026-11-28T25:00:00Z", "2026-11-28T09:00:00Z\n"]),
    "employee.employeeId": st.one_of(
        st.text(max_size=70).filter(lambda s: not re.fullmatch(EMPLOYEE_ID, s)),
        st.from_regex(rf"\A{EMPLOYEE_ID}\Z").map(lambda s: s + "\n")),
    "employee.logonName": st.one_of(
        st.text(max_size=70).filter(lambda s: not re.fullmatch(LOGON, s)),
        st.from_regex(rf"\A{LOGON}\Z").map(lambda s: s + "\n"),
        st.sampled_from(["Alice.Wang", "аlice.wang", "alice wang", "../alice", "acs/ram/user/alice", "a/b",
                         "alice.wang\n", "x" * 65, "", "alice\u200bwang", "ａlice"])),
    "employee.displayName": st.one_of(st.just(""), st.text(min_size=25, max_size=40)),
    "employee.email": st.sampled_from(["alice", "alice@", "@example.com", "a b@example.com", "a@b",
                                       "x" * 120 + "@example.com", "alice@example.com\n"]),
    "employee.mobilePhone": st.text(max_size=30).filter(lambda s: not re.fullmatch(r"[0-9]{1,4}-[0-9]{4,20}", s)),
    "access.mode": st.text(max_size=20).filter(lambda s: s not in ("console", "programmatic")),
    "access.level": st.one_of(st.sampled_from(["admin", "Full", "read_only", "AdministratorAccess", "", "full "]),
                              st.text(max_size=20).filter(lambda s: s not in ("read-only", "full"))),
    "access.console.passwordResetRequired": st.sampled_from(["true", 1, 0, None]),
    "access.console.mfaBindRequired": st.sampled_from(["false", 1, 0, None]),
    "endDate": st.sampled_from(["2027-02-30", "30/06/2027", "2027-06-30T00:00:00Z", "", "2027-6-30"]),
    "lastWorkingDay": st.sampled_from(["2026-02-30", "27/11/2026", "2026-11-27T00:00:00Z", "", "tomorrow"]),
}
REQUIRED = {"onboarding": ["eventId", "eventType", "occurredAt", "employee", "access", "employee.employeeId",
                           "employee.logonName", "employee.displayName", "access.mode", "access.level"],
            "offboarding": ["eventId", "eventType", "occurredAt", "employee", "employee.employeeId",
                            "employee.logonName"]}
OBJECTS = {"onboarding": ["", "employee", "access", "access.console"], "offboarding": ["", "employee"]}
ESCALATION_FIELDS = ["policy", "policies", "PolicyName", "PolicyType", "role", "admin", "level", "mode",
                     "groups", "Comments", "secretName", "userName"]


def _leaves(obj, prefix=""):
    for key, value in obj.items():
        path = f"{prefix}{key}"
        yield path, value
        if isinstance(value, dict):
            yield from _leaves(value, path + ".")


def _get(obj, path):
    for part in path.split(".") if path else []:
        obj = obj[part]
    return obj


def _json_type(value):
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object",
            type(None): "null"}[type(value)]


@st.composite
def near_valid(draw, handler_name):
    """(event, the JSON path that was changed, how)."""
    event = json.loads(json.dumps(HANDLERS[handler_name][1]))
    how = draw(st.sampled_from(["remove", "add", "retype", "value"]))
    if how == "remove":
        path = draw(st.sampled_from(REQUIRED[handler_name]))
        parent, _, name = path.rpartition(".")
        del _get(event, parent)[name]
    elif how == "add":
        parent = draw(st.sampled_from(OBJECTS[handler_name]))
        target = _get(event, parent)
        name = draw(st.one_of(st.sampled_from(ESCALATION_FIELDS), st.text(min_size=1, max_size=12)))
        assume(name not in target)
        target[name] = draw(json_values)
        path = f"{parent}.{name}" if parent else name
    elif how == "retype":
        path = draw(st.sampled_from([p for p, _ in _leaves(event)]))
        parent, _, name = path.rpartition(".")
        old = _get(event, parent)[name]
        new = draw(json_values)
        assume(_json_type(new) != _json_type(old))
        _get(event, parent)[name] = new
    else:
        path = draw(st.sampled_from([p for p, _ in _leaves(event) if p in STRICT]
                                    + (["access.console"] if handler_name == "onboarding" else [])))
        parent, _, name = path.rpartition(".")
        if path == "access.console":      # a console block with a programmatic user
            event["access"]["mode"] = "programmatic"
        else:
            _get(event, parent)[name] = draw(STRICT[path])
    return event, "$." + path, how


def _names(problem_path, changed):
    """The problem names the changed field (or the object it was removed from / added to)."""
    return problem_path == changed or problem_path.startswith(changed + ".") or (
        changed.startswith(problem_path + ".") and problem_path != "$")


@pytest.mark.parametrize("handler_name", HANDLERS)
@pytest.mark.parametrize("envelope", JSON_ENVELOPES)
@SETTINGS
@given(data=st.data())
def test_near_valid_events_are_rejected_naming_the_field(cloud, request, handler_name, envelope, data):
    handler, _ = HANDLERS[handler_name]
    wrap, is_http = JSON_ENVELOPES[envelope]
    event, changed, how = data.draw(near_valid(handler_name), label="mutation")
    for item in run(cloud, handler, wrap(event), is_http):
        paths = [p["path"] for p in item["errors"]]
        assert any(_names(p, changed) for p in paths), (how, changed, paths)
    count(request, "near-valid", envelope, handler_name)


# -- the timer -----------------------------------------------------------------------------------------------------
def _valid_payload(text):
    if not text.strip():
        return True
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, dict) and all(
        (k == "dryRun" and isinstance(v, bool)) or
        (k == "maxDeletions" and isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 100_000)
        for k, v in value.items())


timer_payloads = st.one_of(
    st.text(max_size=60),
    json_values.map(json.dumps),
    st.fixed_dictionaries({}, optional={"dryRun": json_values, "maxDeletions": json_values,
                                        "dryrun": st.booleans(), "force": st.booleans()}).map(json.dumps))


@pytest.mark.parametrize("handler_name", HANDLERS)
@SETTINGS
@given(payload=timer_payloads)
def test_invalid_timer_payloads_are_rejected_without_a_call(cloud, request, handler_name, payload):
    handler, _ = HANDLERS[handler_name]
    # onboarding has no timer: every timer event is invalid there; offboarding sweeps on a valid one
    assume(handler_name == "onboarding" or not _valid_payload(payload))
    event = {"triggerTime": "2026-11-28T02:00:00Z", "triggerName": "offboarding-sweep", "payload": payload}
    (item,) = run(cloud, handler, as_bytes(event), False)
    assert all(p["path"].startswith("$") for p in item["errors"])
    count(request, "timer", "timer", handler_name)


# -- what the search found, pinned ------------------------------------------------------------------------------
@pytest.mark.parametrize("field, value", [("logonName", "alice.wang\n"), ("employeeId", "E10023\n"),
                                          ("mobilePhone", "86-13800000000\n"), ("email", "alice@example.com\n")])
def test_a_trailing_newline_does_not_pass_a_pattern(cloud, field, value):
    """JSON Schema patterns are ECMA-262: ``$`` is the end of the string. Python's ``re.search`` also
    lets ``$`` match before a final newline, so "alice.wang\\n" passed and reached RAM (GetUser...)."""
    event = json.loads(json.dumps(ONBOARDING))
    event["employee"][field] = value
    (item,) = run(cloud, onboarding.handler, _dumps(event), False)
    assert [p["path"] for p in item["errors"]] == [f"$.employee.{field}"]


@pytest.mark.parametrize("name", ["(", "a(b)", "it's", "\x1f", "policy (admin)", "é"])
def test_an_unknown_field_is_named_exactly_in_its_path(cloud, name):
    """The unknown field's name comes from the event itself, not from parsing jsonschema's message
    (which is a repr, cut at the last "(")."""
    event = json.loads(json.dumps(ONBOARDING))
    event["employee"][name] = "x"
    (item,) = run(cloud, onboarding.handler, _dumps(event), False)
    assert [p["path"] for p in item["errors"]] == [f"$.employee.{name}"]


@pytest.mark.parametrize("handler_name", HANDLERS)
@pytest.mark.parametrize("value", [[None], {"a": 1}, ["alice.wang"]])
def test_an_unhashable_logon_name_is_rejected_not_raised(cloud, handler_name, value):
    """Events are grouped by logonName (same user in order) before validation: a list or an object
    there raised TypeError out of the handler instead of answering ``rejected``."""
    handler, base = HANDLERS[handler_name]
    event = json.loads(json.dumps(base))
    event["employee"]["logonName"] = value
    for wrap in (lambda e: e, lambda e: [e, e]):
        items = run(cloud, handler, _dumps(wrap(event)), False)
        assert all(p["path"] == "$.employee.logonName" for item in items for p in item["errors"])


# -- issue 11: deep nesting, pathological strings, repeated names ------------------------------------------
# Built as JSON *text*: a deep value cannot even be serialized by json.dumps, and a repeated name cannot
# live in a dict. Each goes through every envelope as raw bytes.
from provisioner.adapters import fieldrules, jsonlimits  # noqa: E402

# half the examples of the tests above per test: these shapes are narrow, and CI time matters
NARROW = settings(SETTINGS, max_examples=max(EXAMPLES // 2, 1))

RAW_ENVELOPES = {
    "direct": (lambda raw: raw, False),
    "batch": (lambda raw: b"[" + raw + b"]", False),
    "eventbridge-object": (lambda raw: b'{"specversion":"1.0","id":"ce-1","source":"acs:hr","type":"t","data":'
                           + raw + b"}", False),
    "eventbridge-string": (lambda raw: _dumps(cloudevent(raw.decode("utf-8"))), False),
    "eventbridge-streaming": (lambda raw: b"[" + _dumps(cloudevent(raw.decode("utf-8"))) + b","
                              + b'{"specversion":"1.0","id":"ce-2","data":' + raw + b"}]", False),
    "http": (lambda raw: _dumps(http(raw, False)), True),
    "http-base64": (lambda raw: _dumps(http(raw, True)), True),
}
def over_a_limit(message):
    """The problem a JSON text over the nesting limits gets: too deep (32 levels) or too many arrays and
    objects (64; counting them is the cheap bound that also bounds the depth)."""
    return message.endswith((jsonlimits.too_deep_message(), jsonlimits.too_many_message()))


OPENERS = {"[": b"]", '{"k":': b"}", '{"data":[': b"]}"}


@st.composite
def deeply_nested(draw, handler_name):
    """JSON text nested 34 to 3,000 levels (mixed arrays and objects): the whole document, or a value
    inside a valid event's field."""
    # + 2: a top-level array is a batch, and each of its elements is held to the limit on its own
    depth = draw(st.integers(min_value=jsonlimits.MAX_DEPTH + 2, max_value=3_000))
    openers = draw(st.lists(st.sampled_from(sorted(OPENERS)), min_size=1, max_size=3))
    leaf = draw(st.sampled_from([b"1", b'"x"', b"null", b"[]", b"{}"]))
    chain = [openers[i % len(openers)] for i in range(depth)]
    deep = b"".join(o.encode() for o in chain) + leaf + b"".join(OPENERS[o] for o in reversed(chain))
    where = draw(st.sampled_from(["document", "field"]))
    if where == "document":
        return deep, where
    event = HANDLERS[handler_name][1]
    path = draw(st.sampled_from([p for p, v in _leaves(event) if not isinstance(v, dict)]))
    marker = "\u2603MARK\u2603"
    copy = json.loads(json.dumps(event))
    parent, _, name = path.rpartition(".")
    _get(copy, parent)[name] = marker
    return _dumps(copy).replace(_dumps(marker), deep), where


@pytest.mark.parametrize("handler_name", HANDLERS)
@pytest.mark.parametrize("envelope", RAW_ENVELOPES)
@NARROW
@given(data=st.data())
def test_deep_nesting_is_rejected_without_a_call(cloud, request, handler_name, envelope, data):
    handler, _ = HANDLERS[handler_name]
    wrap, is_http = RAW_ENVELOPES[envelope]
    raw, where = data.draw(deeply_nested(handler_name), label="deep")
    items = run(cloud, handler, wrap(raw), is_http)
    assert any(over_a_limit(p["message"]) for item in items for p in item["errors"]), items
    count(request, "deep nesting", envelope, handler_name)


# For every field with a pattern or a format: the shapes that make backtracking engines and naive rules
# slow (long runs of allowed characters then one that breaks the rule, runs of separators), from one
# character past the limit to far beyond it. Each must be rejected, naming the field.
RUN = st.integers(min_value=1, max_value=20_000)
PATHOLOGICAL = {
    "employee.email": [lambda n: "a" * n + "@", lambda n: "a@" + "a" * n, lambda n: "a." * n + "@b.c",
                       lambda n: "a@" + "a." * n + "!", lambda n: "@" * n, lambda n: "." * n + "@x.com",
                       lambda n: "a@" + "-" * n + ".com", lambda n: ("a" * n) + "@b." + "1" * 3,
                       lambda n: "a" * 64 + "@" + "b" * n + ".c" + "!"],
    "employee.displayName": [lambda n: "x" * n + "\n", lambda n: " " * n, lambda n: "\u200b" * n,
                             lambda n: "王" * (n + 24)],
    "employee.logonName": [lambda n: "a" * n + "!", lambda n: "a" * (n + 64),          # RAM's own rule (both)
                           lambda n: "." * n, lambda n: "a." * n + ".", lambda n: "-" + "a" * n],
    "employee.employeeId": [lambda n: "E" * n + "!", lambda n: "E" * (n + 64), lambda n: "-_" * n + " "],
    "employee.mobilePhone": [lambda n: "8" * n, lambda n: "86-" + "1" * n + "x", lambda n: "8-" * n,
                             lambda n: "1" * n + "-" + "1" * n + "-"],
    "occurredAt": [lambda n: "2026-11-28T09:00:00." + "1" * (n + 9) + "Z", lambda n: "2026-11-28T09:00:00" + "1" * n,
                   lambda n: "9" * n],
    "endDate": [lambda n: "2027-06-30" + "0" * n, lambda n: "-" * n],
    "lastWorkingDay": [lambda n: "2026-11-27" + "7" * n, lambda n: "0" * n],
    "eventId": [lambda n: "e" * (n + 128)],
}


@st.composite
def pathological(draw, handler_name):
    event = json.loads(json.dumps(HANDLERS[handler_name][1]))
    fields = [p for p, _ in _leaves(event) if p in PATHOLOGICAL]
    path = draw(st.sampled_from(fields))
    makers = PATHOLOGICAL[path][:2] if (handler_name, path) == ("offboarding", "employee.logonName") \
        else PATHOLOGICAL[path]                  # a leaver may have any name RAM allows ("." included)
    value = draw(st.sampled_from(makers))(draw(RUN))
    parent, _, name = path.rpartition(".")
    _get(event, parent)[name] = value
    return event, "$." + path


@pytest.fixture
def rules(mocker):
    """Spies on the e-mail and display-name rules (once per test, across all its examples)."""
    return [mocker.spy(fieldrules, "ram_email"), mocker.spy(fieldrules, "ram_display_name")]


@pytest.mark.parametrize("handler_name", HANDLERS)
@pytest.mark.parametrize("envelope", ["direct", "batch", "eventbridge-string", "http"])
@NARROW
@given(data=st.data())
def test_pathological_strings_are_rejected_naming_the_field(cloud, request, rules, handler_name, envelope, data):
    handler, _ = HANDLERS[handler_name]
    wrap, is_http = JSON_ENVELOPES[envelope]
    event, changed = data.draw(pathological(handler_name), label="pathological")
    for item in run(cloud, handler, wrap(event), is_http):
        assert [p["path"] for p in item["errors"]] == [changed], (changed, item["errors"])
    # no rule ever sees more than the schema's maxLength (128 for the e-mail, 24 for a display name)
    assert all(len(c.args[0]) <= 128 for spy in rules for c in spy.call_args_list)
    count(request, "pathological string", envelope, handler_name)


def _json_with_repeat(obj, target, name, value, path=()):
    """``obj`` as JSON text, the object at ``target`` (a path tuple) holding ``name`` twice: ``value``
    first, then its own (or, for a new name, ``value`` twice)."""
    if isinstance(obj, dict):
        pairs = [json.dumps(k) + ":" + _json_with_repeat(v, target, name, value, path + (k,)) for k, v in obj.items()]
        if path == target:
            first = json.dumps(name) + ":" + json.dumps(value)
            pairs.insert(0, first) if name in obj else pairs.extend([first, first])
        return "{" + ",".join(pairs) + "}"
    return json.dumps(obj)


@st.composite
def repeated_name(draw, handler_name):
    event = HANDLERS[handler_name][1]
    objects = [tuple(p.split(".")) if p else () for p in OBJECTS[handler_name] if p in ("",) or
               isinstance(_get(event, p), dict)]
    target = draw(st.sampled_from(objects))
    inside = _get(event, ".".join(target))
    name = draw(st.one_of(st.sampled_from(sorted(inside)), st.sampled_from(ESCALATION_FIELDS)))
    value = draw(json_values)
    text = _json_with_repeat(event, target, name, value).encode("utf-8")
    return text, jsonlimits.path_of(list(target) + [name])


@pytest.mark.parametrize("handler_name", HANDLERS)
@pytest.mark.parametrize("envelope", RAW_ENVELOPES)
@NARROW
@given(data=st.data())
def test_repeated_names_are_rejected_with_their_path(cloud, request, handler_name, envelope, data):
    handler, _ = HANDLERS[handler_name]
    wrap, is_http = RAW_ENVELOPES[envelope]
    raw, path = data.draw(repeated_name(handler_name), label="repeated")
    for item in run(cloud, handler, wrap(raw), is_http):
        assert {"path": path, "message": jsonlimits.DUPLICATE_MESSAGE} in item["errors"], (path, item["errors"])
    count(request, "repeated name", envelope, handler_name)
