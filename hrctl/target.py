"""Where a command runs: a fresh in-process localcloud (default), a running localcloud
(``--endpoint``), or the real account (``--real``). One choice for every command.

The functions' own code runs in this process either way (handlers, the read model), aimed at the
target through the same environment variables FC sets; ``Settings`` validates them, so a bad
setting is a one-line usage error naming it.
"""
from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from provisioner.platform.settings import is_loopback


class TargetError(Exception):
    """The target cannot be used (a usage or configuration error: exit 2); the message is one line."""


@dataclass
class Target:
    kind: str                       # local | endpoint | real
    description: str
    account_id: str = ""
    cloud: object = None            # the in-process LocalCloud (kind local)
    control: object = None          # a ControlClient (a localcloud behind --endpoint)


def parse_endpoint(endpoint: str) -> str:
    """``http://127.0.0.1:8080`` or ``127.0.0.1:8080`` -> ``127.0.0.1:8080`` (loopback, plain HTTP)."""
    raw = endpoint if "://" in endpoint else "http://" + endpoint
    split = urlsplit(raw)
    if split.scheme != "http":
        raise TargetError(f"--endpoint {endpoint}: only http:// (a localcloud on loopback) is supported")
    try:
        host, port = split.hostname, split.port
    except ValueError:
        raise TargetError(f"--endpoint {endpoint}: the port is not a number") from None
    if not host or port is None:
        raise TargetError(f"--endpoint {endpoint}: give host:port, e.g. 127.0.0.1:8080")
    if not is_loopback(host):
        raise TargetError(f"--endpoint {endpoint}: plain HTTP is allowed to a loopback address only")
    return f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"


def _settings():
    from provisioner.platform import runtime
    from provisioner.platform.settings import ConfigError
    runtime.reset()
    try:
        return runtime.settings()
    except ConfigError as err:
        raise TargetError(f"setting {err}") from None


@contextlib.contextmanager
def open_target(endpoint: str | None = None, real: bool = False, log_level: str = "WARNING"):
    """Aim the functions' environment at the target for the duration; restore it afterwards."""
    from provisioner.platform import clock, runtime
    if endpoint and real:
        raise TargetError("--endpoint and --real exclude each other: choose one target")
    saved = dict(os.environ)
    previous_clock = None
    try:
        os.environ["LOG_LEVEL"] = log_level
        os.environ.setdefault("WEBHOOK_SIGNING_KEY", "hrctl-local-" + uuid.uuid4().hex)
        if real:
            settings = _settings()
            _check_credentials()
            yield Target("real", f"Alibaba Cloud ({settings.region}, RAM {settings.ram_endpoint})",
                         account_id=os.environ.get("ACCOUNT_ID", ""))
            return
        if endpoint:
            target = _endpoint_target(endpoint)
            if target.control is not None:
                # the functions read "now" from the emulator's clock, as a test moves it
                previous_clock = clock.install(target.control.clock)
            _settings()
            yield target
            return
        from localcloud import LocalCloud
        with LocalCloud(account_alias=os.environ.get("HRCTL_ACCOUNT_ALIAS", "corp")) as cloud:
            os.environ.update(cloud.function_env())
            os.environ["ACCOUNT_ID"] = cloud.account_id
            set_up_groups(cloud, _settings().groups)
            yield Target("local", f"a fresh in-process localcloud ({cloud.endpoint}; gone when this command ends)",
                         account_id=cloud.account_id, cloud=cloud)
    finally:
        if previous_clock is not None:
            clock.install(previous_clock)
        os.environ.clear()
        os.environ.update(saved)
        runtime.reset()


def set_up_groups(cloud, groups: dict) -> None:
    """A fresh localcloud (in-process) made an account as ``hrctl setup`` leaves it: the two ARMS
    groups (``groups``: level -> name, the GROUP_READ_ONLY / GROUP_FULL settings) that
    GRANT_MODE=group adds users to, each holding its ARMS system policy. The demo, the benchmarks
    and the tests' accounts start from here."""
    from provisioner.domain.access import policy_for
    for level, group in groups.items():
        if group not in cloud.ram.groups():
            cloud.ram.create_group(group, comments="hr-ram-provisioner ARMS level (hrctl setup)")
            cloud.ram.attach_policy_to_group("System", policy_for(level), group)


def _check_credentials() -> None:
    """--real: the credentials chain must yield a credential before any call is made; its own
    log lines (tracebacks of every provider it tried) are not the operator's business."""
    import logging
    logging.getLogger("credentials").disabled = True   # the library adds its own stderr handler
    from provisioner.cloud.clients import _credential_client
    try:
        _credential_client().get_credential()
    except Exception as err:  # noqa: BLE001 - any failure of the chain means no usable credential
        reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise TargetError("--real: no Alibaba Cloud credentials (set ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET, "
                          f"a ~/.alibabacloud/credentials profile, or run with an instance role): {reason}") from None


def _endpoint_target(endpoint: str) -> Target:
    from localcloud.control import ControlClient, ControlError
    host_port = parse_endpoint(endpoint)
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        if not os.environ.get(name):
            raise TargetError(f"--endpoint {endpoint}: {name} is not set (the AccessKey the localcloud printed)")
    control = ControlClient(host_port, timeout=10)
    try:
        info = control.info()
    except ControlError as err:
        # not a localcloud (or one refusing control calls): talk to it as a plain OpenAPI endpoint
        info, control = {}, None
        if err.status >= 500:
            raise TargetError(f"--endpoint {endpoint}: answered {err.status} {err.code}") from None
    except OSError as err:
        reason = getattr(err, "reason", None) or err
        raise TargetError(f"--endpoint {endpoint}: cannot connect ({getattr(reason, 'strerror', None) or reason})") \
            from None
    os.environ.update({"RAM_ENDPOINT": host_port, "KMS_ENDPOINT": host_port, "OPENAPI_PROTOCOL": "http"})
    if info.get("region"):
        os.environ["REGION"] = info["region"]
    if info.get("accountId"):
        os.environ["ACCOUNT_ID"] = info["accountId"]
    what = f"localcloud at {host_port}" + (f" (state file {info['stateFile']})" if info.get("stateFile") else "")
    return Target("endpoint", what, account_id=info.get("accountId", ""), control=control)
