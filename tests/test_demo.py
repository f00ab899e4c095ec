"""`make demo` as a test: the whole lifecycle runs and its own output holds no credential."""
from hrctl import demo


def test_demo_runs_and_prints_no_credential(capsys):
    assert demo.main() == 0
    out = capsys.readouterr().out
    for expected in ('"status": "provisioned"', '"status": "already-provisioned"', '"status": "conflict"',
                     '"status": "rejected"', '"status": "disabled"', '"deleted": 1'):
        assert expected in out
    assert "0 found in this output" in out
