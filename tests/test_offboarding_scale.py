"""A sweep over 2,000 RAM users pages through all of them; its API call count is measured.

Setup goes straight into localcloud's backends (it is fixture data, not the code under test);
the sweep itself runs through the handler, the official SDK and localcloud's HTTP endpoint.
"""
import json
import time
from collections import Counter

import offboarding
from provisioner.platform import runtime

from tests.conftest import as_bytes
from tests.offboarding_support import marker, set_clock, timer

T0 = "2026-11-28T10:00:00Z"
TOTAL, MANAGED, TO_DISABLE, TO_DELETE = 2000, 1000, 10, 10


def populate(cloud):
    cloud.ram.quotas["users"] = TOTAL + 10                   # RAM's default quota is 1,000 users
    names = []
    for i in range(TOTAL):
        name = f"user{i:04d}"
        names.append(name)
        if i % 2:                                            # every other user is not ours
            cloud.ram.create_user(name, comments="" if i % 4 == 1 else "created by the platform team")
            continue
        k = i // 2
        if k < TO_DISABLE:
            text = marker(f"E{k}", end="2026-11-01")
        elif k < TO_DISABLE + TO_DELETE:
            text = marker(f"E{k}", state="disabled", at="2026-10-01T00:00:00Z")
        else:
            text = marker(f"E{k}", end="2027-12-31") if k % 3 == 0 else marker(f"E{k}")
        cloud.ram.create_user(name, comments=text)
        cloud.kms.create_secret(f"ram-user/{name}", "v1", json.dumps({"UserName": name}),
                                tags=[("managed-by", "hr-ram-provisioner"), ("employee-id", f"E{k}"),
                                      ("ram-user", name)])
    return names


def test_sweep_over_2000_users_pages_and_counts_its_calls(cloud, mocker, monkeypatch, capsys):
    monkeypatch.setenv("OFFBOARD_GRACE_DAYS", "30")
    runtime.reset()
    names = populate(cloud)
    set_clock(mocker, T0)
    m = cloud.calls.mark()
    started = time.perf_counter()
    report = offboarding.handler(as_bytes(timer()), None)
    seconds = time.perf_counter() - started
    calls = cloud.calls.since(m)

    assert report["scanned"] == TOTAL and report["managed"] == MANAGED
    assert report["counts"] == {"disabled": TO_DISABLE, "deleted": TO_DELETE, "secretsScheduled": TO_DELETE,
                                "pending": 0, "skipped": 0, "failed": 0}
    by_action = Counter(c.action for c in calls)
    assert by_action["ListUsers"] == 2                       # MaxItems=1000: two pages
    assert [c.params.get("MaxItems") for c in calls if c.action == "ListUsers"] == ["1000", "1000"]
    # PageSize=100 over our tagged secrets: the users' and, once a deletion claimed the tick, the
    # sweep's tick record (docs/concurrency.md)
    assert by_action["ListSecrets"] == MANAGED // 100 + 1
    assert by_action["GetSecretValue"] == 0
    foreign = {n for i, n in enumerate(names) if i % 2}
    assert not [c for c in calls if c.mutating and c.params.get("UserName") in foreign]
    assert [c for c in calls if not c.ok and c.mutating] == []
    with capsys.disabled():
        print(f"\n2,000-user sweep: {len(calls)} API calls in {seconds:.2f}s: {dict(sorted(by_action.items()))}")
    assert len(calls) == (2 + MANAGED // 100 + 1             # listing
                          + TO_DISABLE * 9                   # ledger head, GetUser, GetLoginProfile,
                          #     ListAccessKeys, DescribeSecret (a RAM secret to stop?), ListPoliciesForUser,
                          #     ListGroupsForUser (ARMS grants to take away), UpdateUser, ledger head
                          + 2                                # the tick claimed once: DescribeSecret, CreateSecret
                          + TO_DELETE * 13)                  # ledger head, GetUser, 2 DescribeSecret, 3 List*,
    #                          2 Get*, DeleteUser, DeleteSecret, DescribeSecret (ledger), ledger head

    m = cloud.calls.mark()
    quiet = offboarding.handler(as_bytes(timer()), None)     # nothing due any more: listing only
    # every secret of ours is listed (those in their delete window too) plus the tick record
    assert quiet["users"] == [] and len(cloud.calls.since(m)) == 2 + (MANAGED + 1 + 99) // 100
