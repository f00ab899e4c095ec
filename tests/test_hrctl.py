"""The local invoker: envelopes it builds are the ones the handlers decode, CSV import, dry-run."""
import json

import pytest
from provisioner.adapters import envelopes
from provisioner.platform.settings import Settings

from hrctl import invoke
from hrctl.envelopes import ENVELOPES, wrap

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


def _csv(tmp_path, rows):
    path = tmp_path / "people.csv"
    path.write_text("employeeId,logonName,displayName,mode,level\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def test_csv_events_are_valid_and_stable(tmp_path):
    path = _csv(tmp_path, ["E1,ann.lee,Ann Lee,,", "E2,bo.chen,Bo Chen,console,full"])
    first = list(invoke.events_from_csv(path, "programmatic", "read-only"))
    again = list(invoke.events_from_csv(path, "programmatic", "read-only"))
    assert [e["eventId"] for e in first] == [e["eventId"] for e in again]    # re-import is idempotent
    assert [e["access"] for e in first] == [{"mode": "programmatic", "level": "read-only"},
                                            {"mode": "console", "level": "full"}]


def test_csv_dry_run_reports_invalid_rows_and_calls_nothing(tmp_path, capsys, localcloud_server):
    path = _csv(tmp_path, ["E1,ann.lee,Ann Lee,,", "E2,Bad Name!,Bo,,"])
    mark = localcloud_server.calls.mark()
    assert invoke.main(["onboarding", "--csv", path, "--dry-run"]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["valid"] for line in lines] == [True, False]
    assert lines[1]["errors"][0]["path"] == "$.employee.logonName"
    assert localcloud_server.calls.since(mark) == []


def test_csv_import_against_a_local_cloud(tmp_path, capsys):
    path = _csv(tmp_path, [f"E{i},user.{i},User {i},," for i in range(3)])
    assert invoke.main(["onboarding", "--csv", path, "--no-state"]) == 0
    out = capsys.readouterr()
    assert out.out.count('"status": "provisioned"') == 3
    assert "3/3" in out.err                                                   # the progress bar finished
