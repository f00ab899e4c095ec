"""Thread safety: racing callers over HTTP see each RAM action as atomic."""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from alibabacloud_ram20150501 import models as rm
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_tea_openapi.exceptions import ClientException

THREADS = 24


def race(cloud, work, threads=THREADS):
    """Run ``work(client)`` on ``threads`` threads released together; return ("ok", value) / (code, status)."""
    barrier = threading.Barrier(threads)

    def one(_):
        client = RamClient(cloud.client_config())
        barrier.wait(timeout=30)
        try:
            return "ok", work(client)
        except ClientException as error:
            return error.code, error.status_code

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, range(threads)))


def test_create_access_key_race_ends_with_two_keys(ram, cloud):
    ram.create_user(rm.CreateUserRequest(user_name="alice"))
    results = race(cloud, lambda c: c.create_access_key(rm.CreateAccessKeyRequest(user_name="alice"))
                   .body.access_key.access_key_id)
    created = [value for outcome, value in results if outcome == "ok"]
    refused = [r for r in results if r[0] != "ok"]
    assert len(created) == 2 and len(set(created)) == 2
    assert refused == [("LimitExceeded.User.AccessKey", 409)] * (THREADS - 2)
    listed = ram.list_access_keys(rm.ListAccessKeysRequest(user_name="alice")).body.access_keys.access_key
    assert sorted(k.access_key_id for k in listed) == sorted(created)
    assert len(cloud.ram.access_keys("alice")) == 2


def test_create_user_race_makes_one_user(ram, cloud):
    results = race(cloud, lambda c: c.create_user(rm.CreateUserRequest(user_name="bob")).body.user.user_id)
    created = [value for outcome, value in results if outcome == "ok"]
    assert len(created) == 1
    assert sorted(r for r in results if r[0] != "ok") == [("EntityAlreadyExists.User", 409)] * (THREADS - 1)
    assert list(cloud.ram.users) == ["bob"]
    assert ram.get_user(rm.GetUserRequest(user_name="bob")).body.user.user_id == created[0]


def test_attach_policy_race_attaches_once(ram, cloud):
    ram.create_user(rm.CreateUserRequest(user_name="carol"))
    results = race(cloud, lambda c: c.attach_policy_to_user(rm.AttachPolicyToUserRequest(
        user_name="carol", policy_type="System", policy_name="AliyunARMSReadOnlyAccess")).status_code)
    assert [r[0] for r in results].count("ok") == 1
    assert {r for r in results if r[0] != "ok"} == {("EntityAlreadyExists.User.Policy", 409)}
    assert cloud.ram.user_state("carol")["policies"] == ["AliyunARMSReadOnlyAccess"]


def test_create_and_delete_keys_concurrently_never_exceed_two(ram, cloud):
    ram.create_user(rm.CreateUserRequest(user_name="dave"))

    def churn(client):
        for _ in range(5):
            try:
                key = client.create_access_key(rm.CreateAccessKeyRequest(user_name="dave")).body.access_key
            except ClientException as error:
                assert error.code == "LimitExceeded.User.AccessKey"
                continue
            assert len(cloud.ram.access_keys("dave")) <= 2
            client.delete_access_key(rm.DeleteAccessKeyRequest(user_name="dave", user_access_key_id=key.access_key_id))
        return True

    results = race(cloud, churn, threads=16)
    assert results == [("ok", True)] * 16
    assert cloud.ram.access_keys("dave") == []


def test_delete_user_race_with_create_access_key(ram, cloud):
    """DeleteUser and CreateAccessKey racing: the user either survives with its keys or is gone with none."""
    for round_ in range(5):
        name = f"erin{round_}"
        ram.create_user(rm.CreateUserRequest(user_name=name))
        barrier = threading.Barrier(2)

        def create_key(name=name, barrier=barrier):
            client = RamClient(cloud.client_config())
            barrier.wait(timeout=30)
            try:
                client.create_access_key(rm.CreateAccessKeyRequest(user_name=name))
            except ClientException as error:
                assert error.code == "EntityNotExist.User"

        def delete_user(name=name, barrier=barrier):
            client = RamClient(cloud.client_config())
            barrier.wait(timeout=30)
            try:
                client.delete_user(rm.DeleteUserRequest(user_name=name))
            except ClientException as error:
                assert error.code == "DeleteConflict.User.AccessKey"

        with ThreadPoolExecutor(max_workers=2) as pool:
            for future in [pool.submit(create_key), pool.submit(delete_user)]:
                future.result()
        state = cloud.ram.user_state(name)
        assert state is None or len(state["access_keys"]) == 1
        assert state is not None or cloud.ram.access_keys(name) == []


@pytest.mark.parametrize("threads", [64])
def test_backend_direct_race(cloud, threads):
    """The same invariants with no HTTP in between, at higher contention."""
    backend = cloud.ram
    backend.create_user("frank")
    barrier = threading.Barrier(threads)

    def one(i):
        barrier.wait(timeout=30)
        outcomes = []
        for call in (lambda: backend.create_access_key("frank"), lambda: backend.create_user("grace"),
                     lambda: backend.create_login_profile("frank", "Str0ngPassw0rd")):
            try:
                call()
                outcomes.append("ok")
            except Exception as error:   # ApiError
                outcomes.append(error.code)
        return outcomes

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(one, range(threads)))
    keys, users, profiles = zip(*results)
    assert keys.count("ok") == 2 and set(keys) == {"ok", "LimitExceeded.User.AccessKey"}
    assert users.count("ok") == 1 and set(users) == {"ok", "EntityAlreadyExists.User"}
    assert profiles.count("ok") == 1 and set(profiles) == {"ok", "EntityAlreadyExists.User.LoginProfile"}
    assert sorted(backend.users) == ["frank", "grace"]
