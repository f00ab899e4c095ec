"""Fixtures shared by the localcloud suites: one emulator per session, fresh state per test."""
import pytest
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_ram20150501.client import Client as RamClient

from localcloud import LocalCloud


@pytest.fixture(scope="session")
def _localcloud():
    with LocalCloud(account_alias="corp") as cloud:
        yield cloud


@pytest.fixture
def cloud(_localcloud):
    """The running emulator with fresh RAM + KMS state, empty call log, no faults."""
    _localcloud.reset()
    yield _localcloud
    _localcloud.reset()


@pytest.fixture
def ram(cloud):
    return RamClient(cloud.client_config())


@pytest.fixture
def kms(cloud):
    return KmsClient(cloud.client_config())
