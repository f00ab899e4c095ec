"""hrctl in-process: the envelopes it builds are the ones the handlers decode, CSV rows and columns,
dry-run agreeing with the handler, and the exit codes of a user's mistakes (2, one line, no
traceback). The same commands against a standalone localcloud: tests/test_hrctl_standalone.py."""
import json

import pytest
from provisioner.adapters import envelopes
from provisioner.platform.settings import Settings

from hrctl import csvfile, invoke
from hrctl.cli import main
from hrctl.envelopes import ENVELOPES, wrap
from tests.conftest import as_bytes, hr_time

EVENT = json.loads(open("examples/events/direct.json", encoding="utf-8").read())


@pytest.mark.parametrize("envelope", [e for e in ENVELOPES if e != "timer"])
def test_every_envelope_decodes_back_to_the_event(envelope):
    settings = Settings(webhook_signing_key="k")
    decoded = envelopes.decode(wrap([EVENT], envelope, signing_key="k"), settings)
    assert decoded.answer is None
    assert [item.event for item in decoded.items] == [EVENT]


def test_timer_envelope_carries_the_payload():
    decoded = envelopes.decode(wrap([], "timer", timer_payload={"dryRun": True}), Settings())
    assert decoded.kind == "timer" and decoded.timer_payload == {"dryRun": True}


def _csv(tmp_path, rows, header="employeeId,logonName,displayName,mode,level"):
    path = tmp_path / "people.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


# -- CSV -------------------------------------------------------------------------------------------
def test_csv_rows_are_stable_and_an_empty_mode_or_level_is_an_error_never_a_default(tmp_path):
    path = _csv(tmp_path, ["E1,ann.lee,Ann Lee,,full", "E2,bo.chen,Bo Chen,console,full", "", "E3,cy.xu,Cy,console,"])
    rows = csvfile.read(path, "onboarding")
    assert [r.number for r in rows] == [2, 3, 5]                       # the file's lines; the blank one skipped
    assert rows[0].event is None and rows[0].problems == [
        {"row": 2, "column": "mode", "message": "is empty; give programmatic or console (or --mode for every row)"}]
    assert rows[1].event["access"] == {"mode": "console", "level": "full"}
    assert [p["column"] for p in rows[2].problems] == ["level"]
    filled = csvfile.read(path, "onboarding", mode="programmatic", level="read-only")
    assert [r.event["access"] for r in filled] == [{"mode": "programmatic", "level": "full"},
                                                   {"mode": "console", "level": "full"},
                                                   {"mode": "console", "level": "read-only"}]
    again = csvfile.read(path, "onboarding", mode="programmatic", level="read-only")
    assert [r.event["eventId"] for r in filled] == [r.event["eventId"] for r in again]   # re-import: same ids


@pytest.mark.parametrize(("header", "expected"), [
    ("employeeId,logonName,displayName", "row 1: missing column(s) mode, level"),
    ("employeeId,logonName,displayName,mode,level,role", "row 1: unknown column(s) role"),
    ("employeeId,displayName,mode,level", "row 1: missing column(s) logonName"),
])
def test_csv_header_problems_name_the_file_and_row_1(tmp_path, header, expected):
    path = _csv(tmp_path, ["E1,ann.lee,Ann Lee"], header=header)
    with pytest.raises(csvfile.CsvError, match="people.csv " + expected.replace("(", r"\(").replace(")", r"\)")):
        csvfile.read(path, "onboarding")


def test_offboarding_csv(tmp_path):
    path = _csv(tmp_path, ["E1,ann.lee,2027-01-31", "E2,bo.chen,"], header="employeeId,logonName,lastWorkingDay")
    events = [r.event for r in csvfile.read(path, "offboarding")]
    assert [e["eventType"] for e in events] == ["employee.offboarded"] * 2
    assert events[0]["lastWorkingDay"] == "2027-01-31" and "lastWorkingDay" not in events[1]


def test_csv_dry_run_names_row_and_column_and_calls_nothing(tmp_path, capsys, localcloud_server):
    path = _csv(tmp_path, ["E1,ann.lee,Ann Lee,programmatic,read-only", "E2,Bad Name!,Bo,console,full",
                           "E3,cy.xu,Cy,,full"])
    mark = localcloud_server.calls.mark()
    assert main(["invoke", "onboarding", "--csv", path, "--dry-run", "--json"]) == 1
    captured = capsys.readouterr()
    results = json.loads(captured.out)
    assert [(r["row"], r["status"]) for r in results] == [(2, "valid"), (3, "rejected"), (4, "rejected")]
    assert [(e["row"], e["column"]) for e in results[1]["errors"]] == [(3, "logonName")]
    assert [(e["row"], e["column"]) for e in results[2]["errors"]] == [(4, "mode")]
    assert "people.csv row 4, column mode: is empty" in captured.err
    assert localcloud_server.calls.since(mark) == []


# -- dry-run is the handler's own decoding and validation -------------------------------------------
@pytest.mark.parametrize("envelope", ["direct", "eventbridge", "http"])
def test_dry_run_reports_exactly_what_the_handler_rejects(cloud, tmp_path, capsys, envelope):
    import onboarding
    leaver = {"eventId": "dry-1", "eventType": "employee.offboarded", "occurredAt": hr_time(),
              "employee": {"employeeId": "E9", "logonName": "Not A Name"}, "lastWorkingDay": "someday"}
    handled = onboarding.handler(wrap([leaver], envelope, "test-webhook-key"), None)
    if envelope == "http":
        handled = json.loads(handled["body"])
    assert handled["status"] == "rejected" and len(handled["errors"]) > 1
    capsys.readouterr()                                                    # the handler's own log lines
    path = tmp_path / "leaver.json"
    path.write_text(json.dumps(leaver), encoding="utf-8")
    mark = cloud.calls.mark()
    assert main(["invoke", "onboarding", str(path), "--envelope", envelope, "--dry-run", "--json"]) == 1
    [result] = json.loads(capsys.readouterr().out)
    assert result["status"] == "rejected" and result["errors"] == handled["errors"]
    assert cloud.calls.since(mark) == []                                   # no cloud call


def test_dry_run_of_a_valid_event_and_of_a_batch_too_large(cloud, tmp_path, capsys):
    event = {**EVENT, "occurredAt": hr_time()}
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    assert main(["invoke", "onboarding", str(path), "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["status"] == "valid"
    import onboarding
    assert onboarding.handler(as_bytes(event), None)["status"] == "provisioned"   # and the handler agrees
    capsys.readouterr()


# -- exit codes of a user's mistakes: 2, one line naming the file, row or setting ------------------
def _one_line_error(capsys, code, argv, *expected):
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for text in expected:
        assert text in err, err
    return err


def test_usage_errors_are_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    missing = str(tmp_path / "nope.json")
    _one_line_error(capsys, 2, ["invoke", "onboarding", missing], "nope.json: no such file")
    bad = tmp_path / "bad.json"
    bad.write_text('{"eventId": \n oops', encoding="utf-8")
    _one_line_error(capsys, 2, ["invoke", "onboarding", str(bad)], "bad.json: not valid JSON (line 2, column 2)")
    _one_line_error(capsys, 2, ["invoke", "offboarding", "--envelope", "timer", "--payload", "notjson"],
                    "--payload: not valid JSON")
    _one_line_error(capsys, 2, ["invoke", "offboarding", "--envelope", "timer", "--payload", "[1]"],
                    "--payload: must be a JSON object")
    _one_line_error(capsys, 2, ["invoke", "onboarding"], "give an event FILE")
    _one_line_error(capsys, 2, ["invoke", "rotation", "examples/events/direct.json"], "takes its timer only")
    _one_line_error(capsys, 2, ["invoke", "audit", "examples/events/direct.json"], "takes its timer only")
    _one_line_error(capsys, 2, ["invoke", "onboarding", "--csv", missing], "nope.json: no such file")
    no_mode = _csv(tmp_path, ["E1,a,A"], "employeeId,logonName,displayName")
    _one_line_error(capsys, 2, ["invoke", "onboarding", "--csv", no_mode],
                    "people.csv row 1: missing column(s) mode, level")
    _one_line_error(capsys, 2, ["frobnicate"], "No such command")
    _one_line_error(capsys, 2, ["users", "--endpoint", "http://127.0.0.1:8080", "--real"], "choose one target")
    _one_line_error(capsys, 2, ["users", "--endpoint", "http://10.1.2.3:8080"], "loopback address only")
    _one_line_error(capsys, 2, ["users", "--endpoint", "https://127.0.0.1:8080"], "only http://")
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID", raising=False)
    _one_line_error(capsys, 2, ["users", "--endpoint", "127.0.0.1:9"], "ALIBABA_CLOUD_ACCESS_KEY_ID is not set")
    monkeypatch.setenv("HR_TIMEZONE", "Mars/Olympus_Mons")
    _one_line_error(capsys, 2, ["users"], "setting HR_TIMEZONE is not a known IANA time zone")
    _one_line_error(capsys, 2, ["invoke", "onboarding", "examples/events/direct.json", "--dry-run"], "HR_TIMEZONE")


def test_an_endpoint_nobody_listens_on_is_a_usage_error(capsys, monkeypatch):
    import socket
    with socket.socket() as probe:                 # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIany")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "any")
    _one_line_error(capsys, 2, ["users", "--endpoint", f"127.0.0.1:{port}"], f"127.0.0.1:{port}: cannot connect")


# -- a fresh in-process localcloud (the default target) ---------------------------------------------
def test_invoke_exits_1_on_any_rejected_result_and_0_when_all_are_good(tmp_path, capsys):
    good = {**EVENT, "occurredAt": hr_time()}
    bad = {**good, "eventId": "bad-1", "employee": {**good["employee"], "logonName": "Bad Name"}}
    path = tmp_path / "events.json"
    path.write_text(json.dumps([good, bad]), encoding="utf-8")
    assert main(["invoke", "onboarding", str(path), "--json"]) == 1
    assert [r["status"] for r in json.loads(capsys.readouterr().out)] == ["provisioned", "rejected"]
    path.write_text(json.dumps([good]), encoding="utf-8")
    assert main(["invoke", "onboarding", str(path), "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)[0]["status"] == "provisioned"
    assert '"level": "INFO"' not in out.err                                     # logs at WARNING by default


@pytest.mark.parametrize("function, status", [("rotation", "rotated"), ("audit", "audited")])
def test_the_timer_only_functions_run_their_timer_and_dry_run(tmp_path, capsys, function, status):
    good = {**EVENT, "occurredAt": hr_time()}
    path = tmp_path / "events.json"
    path.write_text(json.dumps([good]), encoding="utf-8")
    assert main(["invoke", "onboarding", str(path), "--json"]) == 0
    capsys.readouterr()
    for extra in (["--dry-run"], []):
        assert main(["invoke", function, "--envelope", "timer", "--json", *extra]) == 0
        (report,) = json.loads(capsys.readouterr().out)
        assert report["status"] == status and report.get("dryRun", False) == bool(extra)


def test_csv_import_shows_a_progress_bar_and_a_summary(tmp_path, capsys):
    path = _csv(tmp_path, [f"E{i},user.{i},User {i},programmatic,read-only" for i in range(150)])
    assert invoke.main(["onboarding", "--csv", path, "--no-state", "--json"]) == 0     # python -m hrctl.invoke
    out = capsys.readouterr()
    assert [r["status"] for r in json.loads(out.out)] == ["provisioned"] * 150
    assert "150/150" in out.err                                                # the bar finished
    assert "150 result(s): 150 provisioned" in out.err


def test_user_that_does_not_exist_exits_1(capsys):
    _one_line_error(capsys, 1, ["user", "nobody"], "nobody: no such RAM user")
    assert main(["users", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
