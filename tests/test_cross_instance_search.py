"""Invariant 8, by search: random events for one employee over 2-3 FC instances (separate processes,
own AccessKeys), random interleavings made exact by localcloud holds, then one more delivery of each.

A *schedule* is:

- 2-4 HR events for alice.wang / E10023, each at its own ``occurredAt`` (a random HR order unrelated to
  the processing order): joiners / movers / rehires (mode, level, endDate none / future / over) and
  leavers (lastWorkingDay none / over / future), plus 0-2 timer sweeps (OFFBOARD_GRACE_DAYS=0, so a
  sweep deletes a disabled user at once); SECRET_TYPE Generic or RAMCredentials;
- each task assigned to an instance (an instance runs its tasks in order, one at a time, as FC does);
- a random sequence of steps: start an idle instance's next task, either running it to completion or
  parking it at its k-th API call, whatever the action (``Instance.start_parked``: localcloud holds,
  before the call runs or with its answer withheld), or release a parked instance and let it finish.
  Only one instance is ever running un-parked, so each schedule is exact and repeatable (hypothesis is derandomized).

After every task finished, ``tests/concurrency_invariants.check`` (invariant 8: no access for a leaver,
one credential kind = KMS's current, the state of the latest event in HR order, one active user per
employee, no key outside KMS, no live secret of a deleted user, bystanders untouched); then every task
is delivered once more, sequentially, in a random order (an invocation that raises is retried, as FC's
async retry would), and the check runs again.

``CROSS_INSTANCE_SCHEDULES`` (default 200) sets how many; the count is printed in the terminal summary.
A failing schedule is shrunk to a minimal one (about 30 s more on a failure); ``CROSS_INSTANCE_SHRINK=0``
turns that off (the falsifying schedule is printed either way).
"""
import os

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests import concurrency_invariants as inv8
from tests import invariants as inv
from tests.concurrency_support import T0, at, joiner, leaver, seed_bystanders
from tests.conftest import make_groups
from tests.instances import Instances, timer

TOTAL = int(os.environ.get("CROSS_INSTANCE_SCHEDULES", "200"))
SHRINK = os.environ.get("CROSS_INSTANCE_SHRINK", "1") != "0"
# CROSS_INSTANCE_DERANDOMIZE=0: new schedules on every run (for a one-off larger search), not CI's fixed set.
DERANDOMIZE = os.environ.get("CROSS_INSTANCE_DERANDOMIZE", "1") != "0"
MAX_CALL = 20          # an onboarding makes ~10-15 API calls, a sweep ~10-20, a leaver ~3-8

END_DATES = [None, "2027-06-30", "2026-11-30"]              # none, future, over (T0 is 2026-12-01)
LAST_DAYS = [None, "2026-11-29", "2026-12-20"]              # now, over, future


@st.composite
def hr_event(draw, index, day):
    if draw(st.booleans()):
        return joiner(f"j{index}", at(day), draw(st.sampled_from(["programmatic", "console"])),
                      draw(st.sampled_from(["read-only", "full"])), end_date=draw(st.sampled_from(END_DATES)))
    return leaver(f"l{index}", at(day), last_day=draw(st.sampled_from(LAST_DAYS)))


@st.composite
def schedules(draw):
    n = draw(st.integers(2, 3))
    count = draw(st.integers(2, 4))
    days = draw(st.lists(st.integers(1, 30), min_size=count, max_size=count, unique=True))
    tasks = [("onboarding" if ev["eventType"] == "employee.onboarded" else "offboarding", ev)
             for ev in (draw(hr_event(i, day)) for i, day in enumerate(days))]
    tasks += [("offboarding", timer())] * draw(st.integers(0, 2))
    tasks = draw(st.permutations(tasks))
    queues = [[] for _ in range(n)]
    for task in tasks:
        queues[draw(st.integers(0, n - 1))].append(task)
    secret_type = draw(st.sampled_from(["Generic", "Generic", "RAMCredentials"]))
    return n, queues, secret_type


def park_point(data):
    """None (run to completion) one time in four; else (k, before | after): park at the task's k-th API call."""
    if data.draw(st.integers(0, 3), label="park?") == 0:
        return None
    k = data.draw(st.one_of(st.integers(1, 6), st.integers(7, MAX_CALL)), label="at call")  # leavers are short
    return k, data.draw(st.sampled_from(["before", "after"]), label="when")


def run_schedule(cloud, fc, queues, data, counts):
    """Drive the instances through random steps until every task finished."""
    parked = {}                                   # instance index -> (hold id, invocation)
    while any(queues) or parked:
        options = [("start", i) for i, q in enumerate(queues) if q and i not in parked]
        options += [("release", i) for i in sorted(parked)]
        step, i = data.draw(st.sampled_from(options), label="step")
        if step == "release":
            hold, invocation = parked.pop(i)
            cloud.release(hold)
            invocation.outcome()
            continue
        function, event = queues[i].pop(0)
        point = park_point(data)
        if point is None:
            fc[i].start(function, event).outcome()
            continue
        invocation, hold = fc[i].start_parked(function, event, *point)
        if hold is not None:
            parked[i] = (hold, invocation)
            counts.add("cross-instance parkings", "reached")
        else:
            invocation.outcome()
            counts.add("cross-instance parkings", "task finished first")


def redeliver(fc, data):
    """Every task once more, sequentially, on instance 0, in a random order; a raise is retried (FC)."""
    order = data.draw(st.permutations(range(len(fc.history))), label="redelivery order")
    history = list(fc.history)
    for index in order:
        function, payload = history[index]
        for _ in range(3):
            if fc[0].start(function, payload, raw=True, record=False).outcome()[0] == "returned":
                break


def checked(cloud, expect, bystanders, secret_type, phase):
    try:
        inv8.check(cloud, expect, bystanders=bystanders, secret_type=secret_type)
    except AssertionError as err:
        wanted = "; ".join(e.describe() for e in expect.values())
        raise inv.InvariantViolation(f"{phase}: {err}\n(expected: {wanted})") from None


def _settings():
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if SHRINK else [])
    return settings(max_examples=TOTAL, derandomize=DERANDOMIZE, database=None, deadline=None, phases=phases,
                    report_multiple_bugs=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


@_settings()
@given(data=st.data())
def test_invariant_8_holds_for_any_cross_instance_schedule(cloud, request, data):
    n, queues, secret_type = data.draw(schedules(), label="schedule")
    counts = inv.counter(request.config)
    cloud.reset()
    make_groups(cloud)
    bystanders = seed_bystanders(cloud)
    env = {"SECRET_TYPE": secret_type, "OFFBOARD_GRACE_DAYS": "0"}
    with Instances(cloud, n, env=env, now=T0) as fc:
        run_schedule(cloud, fc, [list(q) for q in queues], data, counts)
        events = [ev for q in queues for _, ev in q if ev.get("eventType")]
        expect = inv8.expected_from_events(events, T0)
        if not fc.raised:                 # an invocation that raised is not finished: FC redelivers it
            checked(cloud, expect, bystanders, secret_type, "after every task finished")
        redeliver(fc, data)
        checked(cloud, expect, bystanders, secret_type, "after one more delivery of each")
    counts.add("cross-instance schedules", f"{n} instances")
