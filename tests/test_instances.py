"""The cross-process harness itself (tests/instances.py): separate processes, own keys held to the
role policy, exact parking, output handed to the leak guard."""
import json

import pytest

from tests import leakcheck
from tests.concurrency_support import T0, at, joiner, leaver
from tests.instances import Instances, role_actions


def test_each_instance_is_its_own_process_with_its_own_key_held_to_the_role_policy(cloud):
    with Instances(cloud, 2, now=T0) as fc:
        assert fc[0].key != fc[1].key and cloud.access_key_id not in (fc[0].key, fc[1].key)
        callers = {c["accessKeyId"]: c for c in cloud.callers()}
        assert callers[fc[0].key]["restricted"] and callers[fc[1].key]["restricted"]
        mark = cloud.calls.mark()
        fc[0].run("onboarding", joiner("j1", at(20)))
        fc[1].run("offboarding", leaver("l1", at(28)))
        keys = {c.access_key_id for c in cloud.calls.since(mark)}
        assert keys == {fc[0].key, fc[1].key}
        pids = {fc[0]._proc.proc.pid, fc[1]._proc.proc.pid}
        assert len(pids) == 2 and all(pids)


def test_the_functions_clock_stands_where_the_test_says(cloud):
    with Instances(cloud, 1, now=T0) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(20)))["status"] == "provisioned"
        assert fc[0].run("offboarding", leaver("l1", at(28)))["disabledAt"] == "2026-12-01T10:00:00Z"


@pytest.mark.parametrize("when, recorded", [("before", 4), ("after", 5)])
def test_start_parked_parks_the_kth_call_whatever_its_action(cloud, when, recorded):
    """Parked before its 5th call, 4 calls ran; after it, 5 did (the 5th's answer withheld); nothing
    more happens until it is released."""
    with Instances(cloud, 1, now=T0) as fc:
        mark = cloud.calls.mark()
        invocation, hold = fc[0].start_parked("onboarding", joiner("j1", at(20)), 5, when)
        assert hold is not None
        mine = [c.action for c in cloud.calls.since(mark) if c.access_key_id == fc[0].key]
        assert len(mine) == recorded, mine
        assert not invocation.done()
        cloud.release(hold)
        assert invocation.result()["status"] == "provisioned"


def test_start_parked_beyond_the_last_call_lets_the_task_finish(cloud):
    with Instances(cloud, 1, now=T0) as fc:
        invocation, hold = fc[0].start_parked("offboarding", leaver("l1", at(28)), 50)
        assert hold is None and invocation.result()["status"] == "not-found"


def test_role_actions_are_the_role_policys_ram_and_kms_actions():
    actions = role_actions()
    assert {"CreateAccessKey", "GetUser", "PutSecretValue", "ListSecrets"} <= set(actions)
    assert not any(":" in a for a in actions)


def test_instance_output_reaches_the_leak_guard(cloud):
    """What a child process writes (the functions' log lines) is searched like the test's own output."""
    with Instances(cloud, 1, now=T0) as fc:
        run = fc[0].start("onboarding", joiner("j1", at(20)))
        run.result()
        lines = [json.loads(x) for x in run.output().splitlines() if x.startswith("{")]
        assert any(line.get("message") == "result" and line.get("requestId", "").startswith("fc-") for line in lines)
        assert any(kind == "fc instance output" and text == run.output() for kind, text in leakcheck._seen)


def test_a_hold_nobody_released_fails_the_test(cloud):
    """A parked call that ran on only because its hold timed out means the interleaving under test did
    not happen as written: the fleet says so when the test ends."""
    from tests.instances import InstanceError
    with pytest.raises(InstanceError, match="never released"):
        with Instances(cloud, 1, now=T0) as fc:
            cloud.hold(fc[0].key, "GetUser", when="before", timeout=0.2)
            fc[0].run("offboarding", leaver("l1", at(28)))
