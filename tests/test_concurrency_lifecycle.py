"""Issue 10's fifteen scenarios, across FC instances: each instance its own process with its own
AccessKey (tests/instances.py), interleavings made exact with localcloud holds (one instance's call
parked before it runs or with its answer withheld, while another instance runs to completion).

Every scenario ends with ``settle``: invariant 8 (tests/concurrency_invariants.py) after everything
finished, and again after each event is delivered once more, sequentially. The expected end state
is the one the event latest in HR order (``occurredAt``) implies; the product decisions these tests
encode are the ones issue 10 settled (see each test's docstring).
"""
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from provisioner.domain import ownership

from tests import concurrency_invariants as inv8
from tests.concurrency_support import (
    EMPLOYEE,
    T0,
    USER,
    at,
    joiner,
    leaver,
    seed_bystanders,
    settle,
)
from tests.conftest import outside_ledger
from tests.instances import Instances

OK = ("provisioned", "already-provisioned")
# What minting or storing a credential (or bringing a user back) takes.
MINTING = {"CreateUser", "CreateAccessKey", "CreateLoginProfile", "CreateSecret", "PutSecretValue",
           "RestoreSecret", "UpdateAccessKey"}


@pytest.fixture
def bystanders(cloud):
    return seed_bystanders(cloud)


def held(cloud, invocation, hold):
    """The invocation reached the hold (so the interleaving under test really happened)."""
    assert invocation.until_held(hold), f"{invocation.function} never reached its hold {cloud.holds.get(hold)}"


def minting_calls(cloud, key, mark):
    """Calls that could mint or store a credential (the event ledger's own writes hold none)."""
    return [c.action for c in outside_ledger(cloud.calls.since(mark)) if c.access_key_id == key and c.action in MINTING]


def ram_user(cloud, name):
    return cloud.ram_user(name)


def mentions(result, name, besides_user_name=False):
    """``name`` appears as a whole logon name in some value of the result (``userName`` excluded if asked)."""
    shown = {k: v for k, v in result.items() if not (besides_user_name and k == "userName")}
    return re.search(rf"(?<![a-z0-9._-]){re.escape(name)}(?![a-z0-9._-])", json.dumps(shown)) is not None


# -- 0: the checker itself -------------------------------------------------------------------------------
@pytest.mark.parametrize("secret_type, second_mode", [("Generic", "console"), ("RAMCredentials", "programmatic")])
def test_00_events_in_hr_order_one_at_a_time_satisfy_the_checker(cloud, bystanders, secret_type, second_mode):
    """The checker accepts what one-at-a-time processing in HR order leaves (so every failure below is
    the interleaving's, not the checker's): joiner, mover (a future leave announced in between is kept),
    then the leaver."""
    with Instances(cloud, 2, now=T0, env={"SECRET_TYPE": secret_type}) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(20)))["status"] == "provisioned"
        assert fc[1].run("offboarding", leaver("l0", at(22), last_day="2026-12-20"))["status"] == "scheduled"
        assert fc[0].run("onboarding", joiner("m1", at(25), second_mode, "full"))["status"] == "provisioned"
        settle(cloud, fc, bystanders=bystanders, secret_type=secret_type)
        assert fc[1].run("offboarding", leaver("l1", at(28)))["status"] == "disabled"
        settle(cloud, fc, bystanders=bystanders, secret_type=secret_type)


def test_00_the_model_follows_hr_order_not_processing_order():
    j, m = joiner("j1", at(20)), joiner("m1", at(25), "console", "full")
    future, gone = leaver("l0", at(22), last_day="2026-12-20"), leaver("l1", at(28))
    model = inv8.expected_from_events
    assert model([m, j], T0)[EMPLOYEE] == inv8.Expect(EMPLOYEE, USER, True, "console", "full", None, None,
                                                      why=model([m, j], T0)[EMPLOYEE].why)
    assert not model([gone, j, m], T0)[EMPLOYEE].active
    assert model([j, future, m], T0)[EMPLOYEE].leave_date == "2026-12-20"
    assert model([j, future], T0)[EMPLOYEE].active
    assert not model([future], T0)[EMPLOYEE].active
    assert not model([joiner("j1", at(20), end_date="2026-11-30")], T0)[EMPLOYEE].active
    rehire = joiner("r1", at(30))
    assert model([j, gone, rehire], T0)[EMPLOYEE].active and model([j, gone, rehire], T0)[EMPLOYEE].leave_date is None
    assert not model([j, gone, leaver("l2", at(29), last_day="2026-12-20")], T0)[EMPLOYEE].active
    assert model([j, future, rehire], T0)[EMPLOYEE].leave_date == "2026-12-20"
    with pytest.raises(ValueError):
        model([j, joiner("j2", at(20))], T0)


def test_00_the_checker_catches_a_leaver_with_an_active_key(cloud, bystanders):
    """A violation arranged by hand (the test's own key re-enables the leaver's AccessKey) is caught."""
    from alibabacloud_ram20150501 import models as rm
    from alibabacloud_ram20150501.client import Client

    from tests.conftest import inspector_config
    with Instances(cloud, 1, now=T0) as fc:
        fc[0].run("onboarding", joiner("j1", at(20)))
        fc[0].run("offboarding", leaver("l1", at(28)))
        inv8.check(cloud, inv8.expected_from_events([joiner("j1", at(20)), leaver("l1", at(28))], T0))
        key = ram_user(cloud, USER)["AccessKeys"][0]["AccessKeyId"]
        Client(inspector_config(cloud)).update_access_key(rm.UpdateAccessKeyRequest(
            user_name=USER, user_access_key_id=key, status="Active"))
        with pytest.raises(AssertionError, match="disabled and has Active AccessKey"):
            inv8.check(cloud)


# -- 1 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode, action", [("programmatic", "CreateAccessKey"), ("console", "CreateLoginProfile")])
def test_01_onboarding_in_flight_while_the_leaver_disables(cloud, bystanders, mode, action):
    """Instance 0's joiner is parked right before it mints; instance 1's leaver (later in HR) disables the
    user meanwhile; then the joiner goes on. The disabled user ends with no Active key and no login
    profile (and redelivering the leaver repairs whatever was left)."""
    with Instances(cloud, 2, now=T0) as fc:
        h = cloud.hold(fc[0].key, action, when="before")
        a = fc[0].start("onboarding", joiner("j1", at(20), mode))
        held(cloud, a, h)
        assert fc[1].run("offboarding", leaver("l1", at(28)))["status"] == "disabled"
        cloud.release(h)
        a.outcome()
        settle(cloud, fc, bystanders=bystanders)


# -- 2 -------------------------------------------------------------------------------------------------
def test_02a_mover_that_read_the_user_before_the_leaver_does_not_resurrect_it(cloud, bystanders):
    """A mover (new level and endDate) reads the user, the leaver (later in HR) disables it, then the mover
    writes: it must not write ``st=active`` over ``st=disabled``, nor mint a key."""
    with Instances(cloud, 2, now=T0) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(20)))["status"] == "provisioned"
        h = cloud.hold(fc[0].key, "GetUser", when="after")
        a = fc[0].start("onboarding", joiner("m1", at(25), level="full", end_date="2027-06-30"))
        held(cloud, a, h)
        assert fc[1].run("offboarding", leaver("l1", at(28)))["status"] == "disabled"
        cloud.release(h)
        a.outcome()
        settle(cloud, fc, bystanders=bystanders)


def test_02b_mover_that_read_the_user_before_a_scheduled_leave_keeps_the_leave(cloud, bystanders):
    """As 2a, but the leaver schedules a future last working day (``leave=``): the mover's write must keep
    it, and the sweep after that day disables the user."""
    with Instances(cloud, 2, now=T0) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(20)))["status"] == "provisioned"
        h = cloud.hold(fc[0].key, "GetUser", when="after")
        a = fc[0].start("onboarding", joiner("m1", at(25), level="full", end_date="2027-06-30"))
        held(cloud, a, h)
        assert fc[1].run("offboarding", leaver("l1", at(28), last_day="2026-12-20"))["status"] == "scheduled"
        cloud.release(h)
        a.outcome()
        settle(cloud, fc, bystanders=bystanders)
        report = fc[1].sweep(now=T0 + timedelta(days=20)).result()
        assert report["counts"]["disabled"] == 1, report
        marker = ownership.parse(ram_user(cloud, USER)["Comments"])
        assert marker.state == "disabled", ram_user(cloud, USER)["Comments"]


# -- 3 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("action", ["CreateSecret", "CreateLoginProfile"])
def test_03_same_console_event_twice_at_once(cloud, bystanders, action):
    """Two deliveries of one console joiner: the first is parked right before it stores its password
    (CreateSecret) or right before CreateLoginProfile (its password already in KMS); the second runs
    through. KMS's current password must be the login profile's (the fingerprint of the password RAM
    accepted for the profile), both answers a success."""
    ev = joiner("j1", at(20), "console")
    with Instances(cloud, 2, now=T0) as fc:
        h = cloud.hold(fc[0].key, action, when="before")
        a = fc[0].start("onboarding", ev)
        held(cloud, a, h)
        b = fc[1].run("onboarding", ev)
        cloud.release(h)
        ra = a.result()
        assert ra["status"] in OK and b["status"] in OK, (ra, b)
        settle(cloud, fc, bystanders=bystanders)


# -- 4 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("secret_type", ["Generic", "RAMCredentials"])
def test_04_same_programmatic_event_twice_at_once(cloud, bystanders, secret_type):
    """Two deliveries of one programmatic joiner: the first's CreateAccessKey ran and its answer is
    withheld while the second runs through. Exactly one Active key, KMS's current version."""
    ev = joiner("j1", at(20))
    with Instances(cloud, 2, now=T0, env={"SECRET_TYPE": secret_type}) as fc:
        h = cloud.hold(fc[0].key, "CreateAccessKey", when="after")
        a = fc[0].start("onboarding", ev)
        held(cloud, a, h)
        b = fc[1].start("onboarding", ev).outcome()
        cloud.release(h)
        answers = [a.outcome(), b]
        assert all(value["status"] in OK for kind, value in answers if kind == "returned"), answers
        settle(cloud, fc, bystanders=bystanders, secret_type=secret_type)


# -- 5 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("later", ["console", "programmatic"])
def test_05_programmatic_and_console_event_at_once(cloud, bystanders, later):
    """A programmatic and a console joiner for the same person (different occurredAt) at once: the
    programmatic one is parked after CreateAccessKey while the console one runs through. The later one
    in HR order decides the kind; exactly that kind remains."""
    prog = joiner("jp", at(21) if later == "programmatic" else at(20), "programmatic")
    cons = joiner("jc", at(21) if later == "console" else at(20), "console")
    with Instances(cloud, 2, now=T0) as fc:
        h = cloud.hold(fc[0].key, "CreateAccessKey", when="after")
        a = fc[0].start("onboarding", prog)
        held(cloud, a, h)
        fc[1].start("onboarding", cons).outcome()
        cloud.release(h)
        a.outcome()
        settle(cloud, fc, bystanders=bystanders)


# -- 6 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("parked", ["later-mover-after-reading-groups", "earlier-mover-after-joining"])
def test_06_two_level_movers_at_once(cloud, bystanders, parked):
    """Two movers (full at 25th, read-only at 26th) at once: the later one's group, exactly one ARMS
    grant. Parked: the later mover after it read the groups (the earlier then runs through), or the
    earlier mover right after its AddUserToGroup (the later then runs through)."""
    m_full = joiner("m1", at(25), level="full")
    m_ro = joiner("m2", at(26), level="read-only")
    with Instances(cloud, 2, now=T0) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(20)))["status"] == "provisioned"
        if parked == "later-mover-after-reading-groups":
            first, second, action, ev_first, ev_second = fc[1], fc[0], "ListGroupsForUser", m_ro, m_full
        else:
            first, second, action, ev_first, ev_second = fc[0], fc[1], "AddUserToGroup", m_full, m_ro
        h = cloud.hold(first.key, action, when="after")
        a = first.start("onboarding", ev_first)
        held(cloud, a, h)
        second.start("onboarding", ev_second).outcome()
        cloud.release(h)
        a.outcome()
        settle(cloud, fc, bystanders=bystanders)
        user = ram_user(cloud, USER)
        assert ([p["PolicyName"] for p in user["Policies"]], [g["GroupName"] for g in user["Groups"]]) == (
            [], ["hr-arms-read-only"]), user["Groups"]


# -- 7 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("action, when", [("GetUser", "after"), ("DeleteAccessKey", "before"),
                                          ("DeleteUser", "before")])
def test_07_sweep_deleting_while_a_rehire_runs(cloud, bystanders, action, when):
    """A leaver disabled on Nov 10 (grace 0: due for deletion); the sweep is parked at ``action`` while a
    rehire (Nov 30, later than the leave) runs through. The rehired user ends active with its credential
    and policy, its secret not scheduled for deletion; the sweep does not fail permanently."""
    with Instances(cloud, 2, now=T0, env={"OFFBOARD_GRACE_DAYS": "0"}) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(2)))["status"] == "provisioned"
        leave_time = datetime(2026, 11, 10, 12, tzinfo=timezone.utc)
        assert fc[0].run("offboarding", leaver("l1", at(10)), now=leave_time)["status"] == "disabled"
        h = cloud.hold(fc[0].key, action, when=when)
        sweep = fc[0].sweep()
        held(cloud, sweep, h)
        rehire = fc[1].run("onboarding", joiner("r1", at(30), level="full"))
        cloud.release(h)
        kind, report = sweep.outcome()
        assert kind == "returned" and report["counts"]["failed"] == 0 or kind == "raised" and \
            report[0] == "TransientError", f"the sweep failed permanently: {report}"
        assert rehire["status"] == "provisioned", rehire

        def sweep_does_not_fail(phase):
            again = fc[0].sweep().outcome()
            assert again[0] == "returned" and again[1]["counts"]["failed"] == 0, again
        settle(cloud, fc, bystanders=bystanders, extra=sweep_does_not_fail)


# -- 8 -------------------------------------------------------------------------------------------------
def test_08_stale_joiner_after_the_sweep_deleted_the_leaver(cloud, bystanders):
    """OFFBOARD_GRACE_DAYS=0: joiner, leaver, sweep (deleted). The joiner (older than the leaver)
    delivered again on another instance: not re-created, answered without minting anything."""
    j = joiner("j1", at(20), level="full")
    with Instances(cloud, 2, now=T0, env={"OFFBOARD_GRACE_DAYS": "0"}) as fc:
        assert fc[0].run("onboarding", j)["status"] == "provisioned"
        assert fc[1].run("offboarding", leaver("l1", at(28)))["status"] == "disabled"
        report = fc[0].sweep().result()
        assert report["counts"]["deleted"] == 1, report
        mark = cloud.calls.mark()
        answer = fc[1].run("onboarding", j)
        assert answer["status"] not in OK, answer
        assert minting_calls(cloud, fc[1].key, mark) == []
        assert ram_user(cloud, USER) is None
        settle(cloud, fc, bystanders=bystanders)


# -- 9 -------------------------------------------------------------------------------------------------
def test_09a_old_leaver_redelivered_after_a_rehire_does_not_disable_it(cloud, bystanders):
    with Instances(cloud, 2, now=T0) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(2)))["status"] == "provisioned"
        l1 = leaver("l1", at(10))
        leave_time = datetime(2026, 11, 10, 12, tzinfo=timezone.utc)
        assert fc[0].run("offboarding", l1, now=leave_time)["status"] == "disabled"
        assert fc[1].run("onboarding", joiner("r1", at(30), level="full"))["status"] == "provisioned"
        fc[0].run("offboarding", l1)                   # FC / EventBridge redelivers the old leaver
        settle(cloud, fc, bystanders=bystanders)


def test_09b_leaver_processed_late_does_not_refuse_a_later_rehire(cloud, bystanders):
    """The leaver occurred Nov 28 but is processed Dec 1; the rehire occurred Nov 30: HR time is compared
    with HR time, so the rehire is a rehire."""
    with Instances(cloud, 2, now=T0) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(2)))["status"] == "provisioned"
        assert fc[1].run("offboarding", leaver("l1", at(28)))["status"] == "disabled"
        rehire = fc[0].run("onboarding", joiner("r1", at(30), level="full"))
        assert rehire["status"] == "provisioned", rehire
        settle(cloud, fc, bystanders=bystanders)


def test_09c_old_joiner_redelivered_after_a_mover_does_not_undo_it(cloud, bystanders):
    j = joiner("j1", at(20))
    with Instances(cloud, 2, now=T0) as fc:
        assert fc[0].run("onboarding", j)["status"] == "provisioned"
        assert fc[1].run("onboarding", joiner("m1", at(25), level="full"))["status"] == "provisioned"
        fc[0].run("onboarding", j)
        settle(cloud, fc, bystanders=bystanders)
        assert [g["GroupName"] for g in ram_user(cloud, USER)["Groups"]] == ["hr-arms-full"]


def test_09d_joiner_retried_after_a_no_show_leaver_ends_not_provisioned(cloud, bystanders):
    """The leaver (Nov 28: the person never showed up) arrives before the joiner's retry (Nov 20): the
    joiner, older in HR, must not provision anyone."""
    with Instances(cloud, 2, now=T0) as fc:
        fc[1].run("offboarding", leaver("l1", at(28)))
        answer = fc[0].run("onboarding", joiner("j1", at(20)))
        assert answer["status"] not in OK, answer
        settle(cloud, fc, bystanders=bystanders)


# -- 10 ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["programmatic", "console"])
def test_10_end_date_already_over_at_onboarding_mints_nothing(cloud, bystanders, mode):
    with Instances(cloud, 2, now=T0) as fc:
        mark = cloud.calls.mark()
        answer = fc[0].run("onboarding", joiner("j1", at(20), mode, end_date="2026-11-30"))
        assert answer["status"] == "disabled" and answer.get("reason"), answer
        assert [a for a in minting_calls(cloud, fc[0].key, mark) if a != "CreateUser"] == []
        settle(cloud, fc, bystanders=bystanders)


# -- 11 ------------------------------------------------------------------------------------------------
def test_11a_same_employee_new_logon_name_is_a_conflict_and_its_leaver_disables_the_old_user(cloud, bystanders):
    """E10023 is active as alice.wang; a joiner for E10023 as alice.w is refused as ``conflict`` naming
    alice.wang; a leaver for alice.w (E10023) disables alice.wang (found by employeeId) and says so."""
    with Instances(cloud, 2, now=T0) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(20)))["status"] == "provisioned"
        renamed = fc[1].run("onboarding", joiner("j2", at(25), logon="alice.w"))
        assert renamed["status"] == "conflict" and mentions(renamed, USER), renamed
        assert ram_user(cloud, "alice.w") is None
        gone = fc[0].run("offboarding", leaver("l1", at(28), logon="alice.w"))
        assert gone["status"] == "disabled" and mentions(gone, USER) and mentions(gone, "alice.w"), gone

        def no_second_user(phase):
            assert ram_user(cloud, "alice.w") is None
        settle(cloud, fc, bystanders=bystanders, expect=[inv8.Expect(EMPLOYEE, USER, False)], extra=no_second_user)


def test_11b_same_employee_two_logon_names_at_once(cloud, bystanders):
    """Joiners for E10023 as alice.wang (parked right after CreateUser) and as alice.w (runs through):
    one employee never has two active users; alice.wang, created first, stays."""
    with Instances(cloud, 2, now=T0) as fc:
        h = cloud.hold(fc[0].key, "CreateUser", when="after")
        a = fc[0].start("onboarding", joiner("j1", at(20)))
        held(cloud, a, h)
        fc[1].start("onboarding", joiner("j2", at(25), logon="alice.w")).outcome()
        cloud.release(h)
        a.outcome()

        def no_second_user(phase):
            assert ram_user(cloud, "alice.w") is None
        settle(cloud, fc, bystanders=bystanders,
               expect=[inv8.Expect(EMPLOYEE, USER, True, "programmatic", "read-only")], extra=no_second_user)


def _state(cloud, name):
    user = ram_user(cloud, name)
    return None if user is None else ownership.parse(user["Comments"]).state


def test_11c_the_same_new_hire_twice_at_once_is_no_conflict_with_itself(cloud, bystanders):
    """A new hire's joiner delivered twice at once (FC's retry and a webhook): the first instance is
    parked right after its GetUser (no user by that name yet), the second runs through and makes
    kim.l. The parked one's look-up by employee id (no ledger when it read) then finds kim.l itself:
    that is not another user of the employee, so it answers ``already-provisioned``, not a conflict."""
    ev = joiner("j1", at(25), logon="kim.l", employee_id="E12")
    with Instances(cloud, 2, now=T0) as fc:
        h = cloud.hold(fc[0].key, "GetUser", when="after")
        a = fc[0].start("onboarding", ev)
        held(cloud, a, h)
        assert fc[1].run("onboarding", ev)["status"] == "provisioned"
        cloud.release(h)
        answer = a.result()
        assert (answer["status"], answer["userName"]) == ("already-provisioned", "kim.l"), answer
        settle(cloud, fc, bystanders=bystanders,
               expect=[inv8.Expect("E12", "kim.l", True, "programmatic", "read-only")])


@pytest.mark.parametrize("when", ["before", "after"])
def test_11d_a_new_logon_name_while_the_user_from_before_the_ledger_is_offboarded(cloud, ram, kms, bystanders,
                                                                                    when):
    """kim.lee (E12) was made before the ledger and is active. A joiner for E12 as kim.l (a rehire
    under a new name, later in HR order than the leave) is parked right ``when`` its look-up by
    employee id (ListUsers) while kim.lee's leaver runs through. Before: the look-up sees kim.lee
    disabled, kim.l is made. After: it saw kim.lee active, the joiner is ``conflict`` and writes
    nothing; its redelivery makes kim.l. Never two active users."""
    from tests.offboarding_support import make_user
    make_user(ram, kms, "kim.lee", "E12", login=False)
    with Instances(cloud, 2, now=T0) as fc:
        h = cloud.hold(fc[0].key, "ListUsers", when=when)
        a = fc[0].start("onboarding", joiner("j1", at(25), logon="kim.l", employee_id="E12"))
        held(cloud, a, h)
        gone = fc[1].run("offboarding", leaver("l1", at(22), logon="kim.lee", employee_id="E12"))
        assert gone["status"] == "disabled", gone
        cloud.release(h)
        answer = a.result()
        if when == "before":
            assert (answer["status"], answer["userName"]) == ("provisioned", "kim.l"), answer
        else:
            assert (answer["status"], answer["existingUser"]) == ("conflict", "kim.lee"), answer
            assert ram_user(cloud, "kim.l") is None

        def states(phase):
            assert _state(cloud, "kim.lee") == "disabled"
            if phase != "after the concurrent run" or when == "before":
                assert _state(cloud, "kim.l") == "active"
        settle(cloud, fc, bystanders=bystanders, expect=[], extra=states)


@pytest.mark.xfail(strict=True, reason="open: the check of the employee's other user and the ledger append "
                   "are not one step; a rehire of the old user landing between them leaves two active users "
                   "(with a ledger or without: bench/MUTATION.md defect 5)")
@pytest.mark.parametrize("history", ["made before the ledger", "with a ledger"])
def test_11e_a_new_logon_name_while_the_old_user_is_rehired(cloud, ram, kms, bystanders, history):
    """kim.lee (E12) is disabled. A joiner for E12 as kim.l (Nov 25) is parked right after it saw
    kim.lee disabled (its ListUsers without a ledger, its GetUser of kim.lee with one) while a rehire
    of kim.lee (Nov 22) runs through. The rehire is older in HR order, but kim.l is made and kim.lee
    stays active: one employee, two active users."""
    from tests.offboarding_support import make_user, marker
    with Instances(cloud, 2, now=T0) as fc:
        if history == "with a ledger":
            assert fc[1].run("onboarding", joiner("j0", at(18), logon="kim.lee", employee_id="E12"))["status"] \
                == "provisioned"
            assert fc[1].run("offboarding", leaver("l0", at(20), logon="kim.lee", employee_id="E12"))["status"] \
                == "disabled"
            h = cloud.hold(fc[0].key, "GetUser", when="after")
        else:
            make_user(ram, kms, "kim.lee", "E12", comments=marker("E12", state="disabled", at=at(20)),
                      login=False, inactive_keys=True, groups=())
            h = cloud.hold(fc[0].key, "ListUsers", when="after")
        a = fc[0].start("onboarding", joiner("j1", at(25), logon="kim.l", employee_id="E12"))
        held(cloud, a, h)
        assert fc[1].run("onboarding", joiner("r1", at(22), logon="kim.lee", employee_id="E12"))["status"] \
            == "provisioned"
        cloud.release(h)
        a.outcome()
        settle(cloud, fc, bystanders=bystanders, expect=[])


# -- 12 ------------------------------------------------------------------------------------------------
def test_12a_ram_credentials_programmatic_to_console_leaves_no_rotating_secret(cloud, bystanders):
    with Instances(cloud, 2, now=T0, env={"SECRET_TYPE": "RAMCredentials"}) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(20)))["status"] == "provisioned"
        assert fc[1].run("onboarding", joiner("j2", at(25), "console"))["status"] == "provisioned"
        settle(cloud, fc, bystanders=bystanders, secret_type="RAMCredentials")


def test_12b_the_deleting_sweep_schedules_every_secret_of_the_user(cloud, bystanders):
    with Instances(cloud, 2, now=T0, env={"SECRET_TYPE": "RAMCredentials", "OFFBOARD_GRACE_DAYS": "0"}) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(20)))["status"] == "provisioned"
        assert fc[1].run("onboarding", joiner("j2", at(25), "console"))["status"] == "provisioned"
        assert fc[0].run("offboarding", leaver("l1", at(28)))["status"] == "disabled"
        report = fc[1].sweep().result()
        assert report["counts"]["deleted"] == 1, report

        def every_secret_scheduled(phase):
            live = [n for n in (f"ram-user/{USER}", f"acs/ram/user/{USER}")
                    if cloud.kms_secret(n) is not None and not cloud.kms_secret(n)["Deleting"]]
            assert live == [], f"secrets of the deleted {USER} not scheduled for deletion: {live}"
        every_secret_scheduled("after the sweep")
        settle(cloud, fc, bystanders=bystanders, secret_type="RAMCredentials", extra=every_secret_scheduled)


# -- 13 ------------------------------------------------------------------------------------------------
def test_13_leaver_nobody_matches_is_not_found_and_alerts(cloud, bystanders):
    """alice.wang (E10023) is active; a leaver for "alice.wnag" (a typo) with an employeeId we do not
    manage: ``not-found`` (never ``deleted``), logged at WARNING/ERROR with an ``alert`` field; nothing
    changes."""
    with Instances(cloud, 2, now=T0) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(20)))["status"] == "provisioned"
        run = fc[1].start("offboarding", leaver("l1", at(28), logon="alice.wnag", employee_id="E99999"))
        answer = run.result()
        assert answer["status"] == "not-found", answer
        lines = [json.loads(line) for line in run.output().splitlines() if line.startswith("{")]
        alerts = [line for line in lines if line.get("level") in ("WARNING", "ERROR") and line.get("alert")]
        assert alerts, "no WARNING/ERROR line with an alert field: " + json.dumps(
            [{k: line.get(k) for k in ("level", "message", "status")} for line in lines])
        settle(cloud, fc, bystanders=bystanders)


# -- 14 ------------------------------------------------------------------------------------------------
def test_14_two_sweeps_of_one_tick_at_once_keep_the_brake(cloud, bystanders):
    """Three leavers due for deletion; two sweeps of the same tick (maxDeletions=1) at once, the first
    parked right after its DeleteUser ran: at most one user is deleted in that tick, also after both
    sweeps are delivered once more."""
    names = [("dora.ng", "E30001"), ("ed.wu", "E30002"), ("fay.ho", "E30003")]
    with Instances(cloud, 2, now=T0, env={"OFFBOARD_GRACE_DAYS": "0"}) as fc:
        for name, emp in names:
            assert fc[0].run("onboarding", joiner(f"j-{name}", at(20), logon=name, employee_id=emp))["status"] == \
                "provisioned"
            assert fc[1].run("offboarding", leaver(f"l-{name}", at(28), logon=name, employee_id=emp))["status"] == \
                "disabled"
        h = cloud.hold(fc[0].key, "DeleteUser", when="after")
        a = fc[0].sweep({"maxDeletions": 1})
        held(cloud, a, h)
        fc[1].sweep({"maxDeletions": 1}).outcome()
        cloud.release(h)
        a.outcome()

        def brake_held(phase):
            deleted = [n for n, _ in names if ram_user(cloud, n) is None]
            assert len(deleted) <= 1, f"one tick with maxDeletions=1 deleted {deleted}"
        settle(cloud, fc, bystanders=bystanders, extra=brake_held)


# -- 15 ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("payload", [[], b"[]"], ids=["list", "bytes"])
def test_15_an_empty_batch_answers_an_empty_list(cloud, bystanders, payload):
    with Instances(cloud, 2, now=T0) as fc:
        for function in ("onboarding", "offboarding"):
            raw = isinstance(payload, bytes)
            kind, value = fc[0].start(function, payload, raw=raw).outcome()
            assert (kind, value) == ("returned", []), (function, kind, value)
        settle(cloud, fc, bystanders=bystanders)


# -- the sweep's race guards, by outcome (issue 15: each found by a surviving mutant) -------------------
def _sweep_parked_while_a_rehire_runs(cloud, fc, action, leave_status, **leave):
    """Joined, then a leave on Nov 10 (answered ``leave_status``); the sweep of Dec 1 is parked right
    before its first ``action`` while instance 1 runs a rehire (Nov 30) through; then it goes on.
    Returns the sweep's outcome."""
    assert fc[0].run("onboarding", joiner("j1", at(2)))["status"] == "provisioned"
    assert fc[0].run("offboarding", leaver("l1", at(10), **leave),
                     now=datetime(2026, 11, 10, 12, tzinfo=timezone.utc))["status"] == leave_status
    h = cloud.hold(fc[0].key, action, when="before")
    sweep = fc[0].sweep()
    held(cloud, sweep, h)
    assert fc[1].run("onboarding", joiner("r1", at(30), level="full"))["status"] == "provisioned"
    cloud.release(h)
    return sweep.outcome()


def test_07b_sweep_disabling_while_a_rehire_runs_converges_to_the_rehire(cloud, bystanders):
    """A leave for Nov 20 (announced on Nov 10); the sweep of Dec 1 disables the user and is parked
    right before its first step while a rehire (Nov 30) runs through. Its steps then land on the
    rehired user; it sees the ledger's head moved and converges the user to the rehire: when it
    answers, the user is active with one Active key, KMS's current version, in the rehire's group."""
    with Instances(cloud, 2, now=T0) as fc:
        kind, report = _sweep_parked_while_a_rehire_runs(cloud, fc, "UpdateAccessKey", "scheduled",
                                                         last_day="2026-11-20")
        assert kind == "returned" and [(r["userName"], r["action"]) for r in report["users"]] == [
            (USER, "disabled")], report
        _rehired(cloud)
        settle(cloud, fc, bystanders=bystanders)


def _rehired(cloud):
    """The rehire (level full, programmatic) holds: marker active with no leave, exactly one Active key
    and it is KMS's current version, in the rehire's group only."""
    user = ram_user(cloud, USER)
    marker = ownership.parse(user["Comments"])
    assert (marker.state, marker.leave_date) == ("active", None), user["Comments"]
    active = [k["AccessKeyId"] for k in user["AccessKeys"] if k["Status"] == "Active"]
    assert active == [cloud.kms_secret(f"ram-user/{USER}")["CurrentVersionId"]], user["AccessKeys"]
    assert [g["GroupName"] for g in user["Groups"]] == ["hr-arms-full"], user["Groups"]


def _rehire_parked_after_its_append(cloud, fc):
    """Joined, a leave announced on Nov 10 for Nov 20 (so the sweep of Dec 1 finds the user due to be
    disabled); then instance 1's rehire (Nov 30, level full) appends its ledger entry and is parked
    right after that append, before it reads the user or writes to RAM. Returns (rehire, hold)."""
    assert fc[0].run("onboarding", joiner("j1", at(2)))["status"] == "provisioned"
    assert fc[0].run("offboarding", leaver("l1", at(10), last_day="2026-11-20"),
                     now=datetime(2026, 11, 10, 12, tzinfo=timezone.utc))["status"] == "scheduled"
    appended = cloud.hold(fc[1].key, "PutSecretValue", when="after")
    rehire = fc[1].start("onboarding", joiner("r1", at(30), level="full"))
    held(cloud, rehire, appended)
    return rehire, appended


def test_07d_sweep_run_through_after_a_rehire_appended_leaves_the_user_to_the_rehire(cloud, bystanders):
    """The rehire has appended (the ledger's head is the rehire) and is parked before its RAM writes; the
    sweep of Dec 1 runs through meanwhile. It reads the head before acting: the ledger says active, so it
    does not disable (``skipped``: a disable under an event in flight would be undone by it at best).
    Then the rehire goes on: the user ends active with the rehire's access."""
    with Instances(cloud, 2, now=T0) as fc:
        rehire, appended = _rehire_parked_after_its_append(cloud, fc)
        report = fc[0].sweep().result()
        assert [(r["userName"], r["action"], r.get("reason")) for r in report["users"]] == [
            (USER, "skipped", "no longer due on re-read")], report
        cloud.release(appended)
        assert rehire.result()["status"] == "provisioned"
        _rehired(cloud)
        settle(cloud, fc, bystanders=bystanders)


def test_07e_sweep_that_read_the_rehires_head_does_not_disable_the_user_after_the_rehire_finished(
        cloud, bystanders):
    """The rehire has appended and is parked; the sweep of Dec 1 reads the head (the rehire) and the
    user (still active with the Nov 20 leave: due) and is parked right after that re-read; the rehire
    runs through (its re-check holds: active, full group, its key). Then the sweep goes on. The ledger's
    head did not move during the sweep's work, so no repair would follow a disable: the sweep must not
    disable (found by issue 15's sweep triage: the guard covered only the delete)."""
    with Instances(cloud, 2, now=T0) as fc:
        rehire, appended = _rehire_parked_after_its_append(cloud, fc)
        reread = cloud.hold(fc[0].key, "GetUser", when="after")
        sweep = fc[0].sweep()
        held(cloud, sweep, reread)
        cloud.release(appended)
        assert rehire.result()["status"] == "provisioned"
        _rehired(cloud)
        cloud.release(reread)
        kind, report = sweep.outcome()
        assert kind == "returned" and [(r["userName"], r["action"]) for r in report["users"]] == [
            (USER, "skipped")], report
        _rehired(cloud)
        settle(cloud, fc, bystanders=bystanders)


def test_07c_sweep_deleting_after_a_rehire_wrote_its_ledger_leaves_the_ledger_live(cloud, bystanders):
    """Grace 0: the sweep is parked right before its first DeleteSecret (the ledger's) while a rehire
    runs through; the sweep then schedules the ledger, meets DeleteConflict on DeleteUser and repairs.
    The rehired user must keep a live ledger: one left scheduled is purged after the recovery window
    under a live user, and a stale leaver could then disable it (found by issue 15's sweep triage)."""
    with Instances(cloud, 2, now=T0, env={"OFFBOARD_GRACE_DAYS": "0"}) as fc:
        kind, _ = _sweep_parked_while_a_rehire_runs(cloud, fc, "DeleteSecret", "disabled")
        assert kind == "returned"
        assert ownership.parse(ram_user(cloud, USER)["Comments"]).state == "active"
        assert cloud.kms_secret(f"ram-user/ledger/{EMPLOYEE}")["Deleting"] is False
        settle(cloud, fc, bystanders=bystanders)


def test_07f_sweep_deletes_the_old_logon_name_while_the_employees_new_one_is_the_head(cloud, bystanders):
    """Grace 0. E10023 left as alice.wang (disabled Nov 10) and was hired again as alice.w (Nov 20): the
    ledger's head is alice.w's joiner, active. The sweep deletes alice.wang (its grace is over): the head
    is another user's, so the guard against an event in flight does not apply to alice.wang; alice.w
    stays active, and so does the employee's ledger (alice.w's history: scheduled with alice.wang it
    would be purged after the recovery window under a live user, and a stale leaver could then disable
    it, as in 07c)."""
    with Instances(cloud, 2, now=T0, env={"OFFBOARD_GRACE_DAYS": "0"}) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(2)))["status"] == "provisioned"
        assert fc[0].run("offboarding", leaver("l1", at(10)),
                         now=datetime(2026, 11, 10, 12, tzinfo=timezone.utc))["status"] == "disabled"
        assert fc[1].run("onboarding", joiner("j2", at(20), logon="alice.w"))["status"] == "provisioned"
        report = fc[0].sweep().result()
        assert [(r["userName"], r["action"]) for r in report["users"]] == [(USER, "deleted")], report
        assert ram_user(cloud, USER) is None
        assert ownership.parse(ram_user(cloud, "alice.w")["Comments"]).state == "active"
        assert cloud.kms_secret(f"ram-user/ledger/{EMPLOYEE}")["Deleting"] is False
        settle(cloud, fc, bystanders=bystanders,
               expect=[inv8.Expect(EMPLOYEE, "alice.w", True, "programmatic", "read-only", None, None)])


# -- issue 15: found by surviving mutants of workflows/converge.py -----------------------------------------
def _log_lines(output):
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_16_a_head_that_keeps_moving_is_left_to_fc_after_the_last_round(cloud, bystanders):
    """Instance 0's leaver re-reads the ledger head after each round; each time, instance 1 has just
    recorded a later leaver (parked at that re-read: its 3rd ledger read, then every 2nd, one listing per
    round plus the re-read). Each round is logged with its number, 1 to 4; after the 4th (MAX_ROUNDS) it
    raises TransientError for FC's retry; one more delivery of every event converges."""
    read = "ListSecretVersionIds"
    with Instances(cloud, 2, now=T0) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(20)))["status"] == "provisioned"
        h = cloud.hold(fc[0].key, read, when="before", nth=3)
        a = fc[0].start("offboarding", leaver("l1", at(28)))
        for later in range(1, 5):
            held(cloud, a, h)
            assert fc[1].run("offboarding", leaver(f"l1-{later}", at(28, hour=9 + later)))["status"] == "disabled"
            following = cloud.hold(fc[0].key, read, when="before", nth=2) if later < 4 else None
            cloud.release(h)
            h = following
        kind, value = a.outcome()
        assert kind == "raised" and value[0] == "TransientError" and "(4 rounds)" in value[1], (kind, value)
        rounds = [line.get("round") for line in _log_lines(a.output())
                  if line.get("message") == "state changed concurrently; converging again"]
        assert rounds == [1, 2, 3, 4], rounds
        settle(cloud, fc, bystanders=bystanders)


def test_17_a_rehire_delivered_after_the_later_leave_it_precedes_is_active_until_that_leave(cloud, bystanders):
    """Joiner, leaver (disabled), then a rehire (Nov 20) and a leaver announcing a future last day
    (Nov 22, leaving Dec 20) delivered in the wrong order, on two instances: the leaver first (the user,
    disabled, stays so), then the rehire, older in HR: the user is active again until Dec 20 (with
    the rehire's level), and the sweep after that day disables it."""
    with Instances(cloud, 2, now=T0) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(2)))["status"] == "provisioned"
        assert fc[1].run("offboarding", leaver("l1", at(10)))["status"] == "disabled"
        assert fc[0].run("offboarding", leaver("l2", at(22), last_day="2026-12-20"))["status"] == "disabled"
        rehire = fc[1].run("onboarding", joiner("r1", at(20), level="full"))
        assert rehire["status"] == "provisioned" and rehire["lastWorkingDay"] == "2026-12-20", rehire
        marker = ownership.parse(ram_user(cloud, USER)["Comments"])
        assert (marker.state, str(marker.leave_date)) == ("active", "2026-12-20"), ram_user(cloud, USER)["Comments"]
        assert [g["GroupName"] for g in ram_user(cloud, USER)["Groups"]] == ["hr-arms-full"]
        settle(cloud, fc, bystanders=bystanders)
        assert fc[0].sweep(now=T0 + timedelta(days=20)).result()["counts"]["disabled"] == 1
        assert ownership.parse(ram_user(cloud, USER)["Comments"]).state == "disabled"


def _disabled_view(cloud):
    """What a disabled user must show (the leaver's re-check reads the same)."""
    user = ram_user(cloud, USER)
    return {"state": ownership.parse(user["Comments"]).state,
            "active keys": [k["AccessKeyId"] for k in user["AccessKeys"] if k["Status"] == "Active"],
            "login profile": user["LoginProfile"] is not None, "groups": [g["GroupName"] for g in user["Groups"]]}


DISABLED_VIEW = {"state": "disabled", "active keys": [], "login profile": False, "groups": []}


@pytest.mark.parametrize("undone, mover, read, write", [
    ("state", {"end_date": "2027-06-30"}, ("GetUser", 2), "UpdateUser"),         # the marker, st=active again
    ("active keys", {}, ("ListGroupsForUser", 1), "CreateAccessKey"),            # a new Active key
    ("groups", {"level": "full"}, ("ListGroupsForUser", 1), "AddUserToGroup"),   # our full-level group
])
def test_18_what_a_mover_writes_between_the_leavers_disable_and_its_recheck_is_undone_by_the_leaver(
        cloud, bystanders, undone, mover, read, write):
    """A mover (Nov 25) has read the head (itself) and the user, active; the leaver (Nov 28) disables the
    user and is parked before it re-reads the head; the mover writes one thing back (the marker, a key,
    a group) and is parked right after that write. The leaver's re-check sees it and disables again:
    when the leaver answers ``disabled``, the user is disabled in every respect, although the mover,
    still parked, has not re-checked yet."""
    with Instances(cloud, 2, now=T0) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(20)))["status"] == "provisioned"
        first = cloud.hold(fc[0].key, read[0], when="after", nth=read[1])
        moving = fc[0].start("onboarding", joiner("m1", at(25), **mover))
        held(cloud, moving, first)
        recheck = cloud.hold(fc[1].key, "ListSecretVersionIds", when="before", nth=3)
        leaving = fc[1].start("offboarding", leaver("l1", at(28)))
        held(cloud, leaving, recheck)
        assert _disabled_view(cloud) == DISABLED_VIEW
        wrote = cloud.hold(fc[0].key, write, when="after")
        cloud.release(first)
        held(cloud, moving, wrote)
        assert _disabled_view(cloud)[undone] != DISABLED_VIEW[undone]
        cloud.release(recheck)
        answer = leaving.result()
        assert answer["status"] == "disabled", answer
        assert _disabled_view(cloud) == DISABLED_VIEW
        cloud.release(wrote)
        moving.outcome()
        settle(cloud, fc, bystanders=bystanders)


@pytest.mark.parametrize("older_day, later_day", [("2026-12-10", "2026-12-20"), ("2026-12-20", "2026-12-10")])
def test_19_an_older_leavers_day_written_between_the_later_leavers_write_and_recheck_is_replaced(
        cloud, bystanders, older_day, later_day):
    """Two leavers announce a last working day: Nov 22 and Nov 25 (the later in HR: its day stands).
    The older one has read the user and is about to write its day; the later one writes its own and is
    parked right after; the older one writes its day over it and is parked right after. The later
    one's re-check sees the other day and writes its own again: when it answers ``scheduled``, the
    marker has the later leaver's day (the user is neither cut off early nor kept on late)."""
    def leave_date():
        return str(ownership.parse(ram_user(cloud, USER)["Comments"]).leave_date)

    with Instances(cloud, 2, now=T0) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(20)))["status"] == "provisioned"
        read = cloud.hold(fc[0].key, "GetUser", when="after", nth=3)
        older = fc[0].start("offboarding", leaver("l1", at(22), last_day=older_day))
        held(cloud, older, read)
        later_wrote = cloud.hold(fc[1].key, "UpdateUser", when="after")
        later = fc[1].start("offboarding", leaver("l2", at(25), last_day=later_day))
        held(cloud, later, later_wrote)
        assert leave_date() == later_day
        older_wrote = cloud.hold(fc[0].key, "UpdateUser", when="after")
        cloud.release(read)
        held(cloud, older, older_wrote)
        assert leave_date() == older_day
        cloud.release(later_wrote)
        answer = later.result()
        assert (answer["status"], answer["lastWorkingDay"]) == ("scheduled", later_day), answer
        assert leave_date() == later_day
        cloud.release(older_wrote)
        older.outcome()
        settle(cloud, fc, bystanders=bystanders)


def test_20_a_future_leave_for_a_user_not_made_yet_is_not_kept_by_the_later_joiner(cloud, bystanders):
    """A leaver (Nov 22, last day Dec 20) arrives before the person was ever onboarded: ``not-found``, and
    it gives nothing. The joiner (Nov 25) then makes the user, with no leave: also once every event is
    delivered again (the leaver redelivered after the user exists must not schedule its day)."""
    with Instances(cloud, 2, now=T0) as fc:
        assert fc[0].run("offboarding", leaver("l1", at(22), last_day="2026-12-20"))["status"] == "not-found"
        assert fc[1].run("onboarding", joiner("j1", at(25)))["status"] == "provisioned"

        def no_leave(phase):
            marker = ownership.parse(ram_user(cloud, USER)["Comments"])
            assert (marker.state, marker.leave_date) == ("active", None), (phase, ram_user(cloud, USER)["Comments"])
        no_leave("after the joiner")
        settle(cloud, fc, bystanders=bystanders, extra=no_leave)


@pytest.mark.parametrize("nth, status", [(4, "disabled"), (5, "scheduled")])
def test_21_an_older_leaver_disables_the_user_from_before_the_ledger_while_a_later_leave_is_scheduled(
        cloud, ram, kms, bystanders, nth, status):
    """kim.lee (E12) was made before the ledger and is active. A leaver (Nov 25, last day Dec 20) has
    folded its ledger (starting active, as kim.lee's marker said) and is parked before it reads kim.lee
    again: the read that chooses between scheduling and disabling (its 4th GetUser), or the read of the
    marker it would write the day into (its 5th). An older leaver (Nov 22, no day) runs through and
    disables kim.lee. The later leaver writes nothing back: kim.lee stays disabled (no day in the
    marker, no credential). It answers ``disabled`` when it read kim.lee disabled before choosing,
    ``scheduled`` when it had chosen to schedule: its re-check takes a disabled user as holding a
    scheduled leave that has no joiner to make (disabled is the safe side of any leave); one more
    delivery answers ``disabled``."""
    from tests.offboarding_support import make_user
    make_user(ram, kms, "kim.lee", "E12", keys=1, login=True)
    with Instances(cloud, 2, now=T0) as fc:
        h = cloud.hold(fc[0].key, "GetUser", when="before", nth=nth)
        later = fc[0].start("offboarding", leaver("l2", at(25), last_day="2026-12-20", logon="kim.lee",
                                                  employee_id="E12"))
        held(cloud, later, h)
        older = fc[1].run("offboarding", leaver("l1", at(22), logon="kim.lee", employee_id="E12"))
        assert older["status"] == "disabled", older
        cloud.release(h)
        answer = later.result()
        assert (answer["status"], answer["userName"]) == (status, "kim.lee"), answer

        def disabled(phase):
            user = ram_user(cloud, "kim.lee")
            marker = ownership.parse(user["Comments"])
            assert (marker.state, marker.leave_date) == ("disabled", None), (phase, user["Comments"])
            assert [k for k in user["AccessKeys"] if k["Status"] == "Active"] == [], phase
            assert user["LoginProfile"] is None, phase
        settle(cloud, fc, bystanders=bystanders, expect=[], extra=disabled)
        assert fc[0].run("offboarding", leaver("l2", at(25), last_day="2026-12-20", logon="kim.lee",
                                               employee_id="E12"))["status"] == "disabled"


def test_22_older_leavers_recorded_while_a_leaver_runs_never_roll_its_entry_off(cloud, bystanders):
    """KMS keeps 10 versions of the ledger and rolls off the oldest written. A leaver (Nov 28, the
    latest in HR order) has appended its entry and is parked before it reads the ledger to converge;
    meanwhile ten older leavers (Nov 21-27) arrive. The first seven are recorded (9 versions), the
    last three are not (``_crowded_out``), so neither the joiner nor the leaver's own entry is rolled
    off. The leaver converges to itself (disabled) and answers without ``supersededBy``; the older ones
    answer disabled, superseded by it."""
    with Instances(cloud, 2, now=T0) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(20)))["status"] == "provisioned"
        h = cloud.hold(fc[0].key, "ListSecretVersionIds", when="before", nth=2)
        latest = fc[0].start("offboarding", leaver("l1", at(28)))
        held(cloud, latest, h)
        for k in range(10):
            older = fc[1].run("offboarding", leaver(f"l0-{k}", at(21 + k % 7, hour=9 + k // 7)))
            assert older["status"] == "disabled" and older["supersededBy"]["eventType"] == "employee.offboarded", \
                older
        versions = [v["version_id"] for v in cloud.kms.secret_state(f"ram-user/ledger/{EMPLOYEE}")["versions"]]
        assert len(versions) == 9 and sum(v.startswith("20261128T") for v in versions) == 1, versions
        assert sum(v.startswith("20261120T") for v in versions) == 1, versions         # the joiner too
        cloud.release(h)
        answer = latest.result()
        assert answer["status"] == "disabled" and "supersededBy" not in answer, answer
        assert _disabled_view(cloud) == DISABLED_VIEW
        settle(cloud, fc, bystanders=bystanders)


def test_23_a_mover_that_found_the_user_as_it_wants_it_still_rechecks(cloud, bystanders):
    """A mover (Nov 25, read-only as the joiner made the user) finds nothing to change and is parked
    before its re-check; an older mover (Nov 22, full), which had read the user before the later one
    was recorded, adds our full-level group and is parked right after. The later mover's re-check sees
    it and converges again: when it answers, the user is read-only only, though the older mover, still
    parked, has not re-checked yet."""
    def groups():
        return sorted(g["GroupName"] for g in ram_user(cloud, USER)["Groups"])

    with Instances(cloud, 2, now=T0) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(20)))["status"] == "provisioned"
        first = cloud.hold(fc[0].key, "ListGroupsForUser", when="after", nth=1)
        older = fc[0].start("onboarding", joiner("m1", at(22), level="full"))
        held(cloud, older, first)
        recheck = cloud.hold(fc[1].key, "ListSecretVersionIds", when="before", nth=3)
        later = fc[1].start("onboarding", joiner("m2", at(25)))
        held(cloud, later, recheck)
        assert groups() == ["hr-arms-read-only"]
        wrote = cloud.hold(fc[0].key, "AddUserToGroup", when="after")
        cloud.release(first)
        held(cloud, older, wrote)
        assert groups() == ["hr-arms-full", "hr-arms-read-only"]
        cloud.release(recheck)
        answer = later.result()
        assert answer["status"] in OK, answer
        assert groups() == ["hr-arms-read-only"]
        cloud.release(wrote)
        older.outcome()
        settle(cloud, fc, bystanders=bystanders)


def test_24_the_sweeps_repair_after_a_later_leaver_says_nothing_of_a_leaver_not_found(cloud, bystanders):
    """Grace 0: the sweep deletes the user disabled on Nov 10 and is parked right after DeleteUser while a
    later leaver (Nov 30) runs through (``deleted``: nothing is left). The sweep then sees the newer head
    and converges to it: the user is gone after a history, so its log says nothing of a leaver that
    found nobody (``not-found`` is for a logon name never seen), and the user stays deleted."""
    with Instances(cloud, 2, now=T0, env={"OFFBOARD_GRACE_DAYS": "0"}) as fc:
        assert fc[0].run("onboarding", joiner("j1", at(2)))["status"] == "provisioned"
        assert fc[0].run("offboarding", leaver("l1", at(10)),
                         now=datetime(2026, 11, 10, 12, tzinfo=timezone.utc))["status"] == "disabled"
        h = cloud.hold(fc[0].key, "DeleteUser", when="after")
        sweep = fc[0].sweep()
        held(cloud, sweep, h)
        later = fc[1].run("offboarding", leaver("l2", at(30)))
        assert later["status"] == "deleted", later
        cloud.release(h)
        report = sweep.result()
        assert [(r["userName"], r["action"]) for r in report["users"]] == [(USER, "deleted")], report
        lines = _log_lines(sweep.output())
        assert any(line.get("step") == "sweep-repair" for line in lines), lines
        assert [line for line in lines if line.get("message") == "leaver not found"] == []
        assert ram_user(cloud, USER) is None
