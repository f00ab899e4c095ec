"""Fixtures shared by the function suites: one localcloud per session, fresh state per test,
the function environment pointing at it, and official SDK clients for inspection."""
import json

import pytest

from localcloud import LocalCloud


@pytest.fixture(scope="session")
def localcloud_server():
    with LocalCloud(account_alias="corp") as cloud:
        yield cloud


@pytest.fixture
def cloud(localcloud_server, monkeypatch):
    """A clean localcloud, and the functions' environment aimed at it (fast retries)."""
    from provisioner import runtime
    localcloud_server.reset()
    for key, value in localcloud_server.function_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RETRY_BASE_SECONDS", "0")
    monkeypatch.setenv("WEBHOOK_SIGNING_KEY", "test-webhook-key")
    monkeypatch.setenv("ACCOUNT_ID", localcloud_server.account_id)
    runtime.reset()
    yield localcloud_server
    runtime.reset()


@pytest.fixture
def ram(cloud):
    from alibabacloud_ram20150501.client import Client
    return Client(cloud.client_config())


@pytest.fixture
def kms(cloud):
    from alibabacloud_kms20160120.client import Client
    return Client(cloud.client_config())


def as_bytes(obj):
    """What FC passes a Python handler: the event as bytes."""
    return json.dumps(obj).encode("utf-8")



@pytest.fixture(autouse=True)
def _no_emulator_bugs():
    """An exception inside localcloud is answered InternalError 500 (as the real gateway would);
    any such answer during a test is an emulator bug and fails the test."""
    from localcloud.core import INTERNAL_ERRORS
    before = len(INTERNAL_ERRORS)
    yield
    assert INTERNAL_ERRORS[before:] == [], "localcloud raised internally"
