"""The gateway as the real one behaves: signatures, credentials, timestamps, nonces,
error bodies, request ids, call log and fault injection.

Requests are made with the official SDK where it can express the case, otherwise
built and signed by hand (ACS3-HMAC-SHA256 and RPC V2 HMAC-SHA1) with ``requests``.
"""
import base64
import hashlib
import hmac
import types
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
import requests
from alibabacloud_ram20150501 import models as rm
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ClientException, ServerException

import localcloud.core as core
from localcloud import LocalCloud

VERSION = "2015-05-01"


def _pct(value):
    return quote(str(value), safe="~")


def _now(offset=0):
    return (datetime.now(timezone.utc) + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


def acs3_request(cloud, action, params=None, *, secret=None, access_key_id=None, date=None, nonce=None,
                 token=None, version=VERSION, tamper=None):
    """POST an ACS3-HMAC-SHA256 signed RPC request (query parameters, empty body); return the response."""
    query = {k: str(v) for k, v in (params or {}).items()}
    body = b""
    headers = {
        "host": cloud.endpoint,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": date or _now(),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    if token is not None:
        headers["x-acs-security-token"] = token
    names = sorted(headers)
    canonical = "\n".join([
        "POST", "/", "&".join(f"{_pct(k)}={_pct(v)}" for k, v in sorted(query.items())),
        "".join(f"{n}:{headers[n]}\n" for n in names), ";".join(names), headers["x-acs-content-sha256"]])
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    signature = hmac.new((secret or cloud.access_key_secret).encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"ACS3-HMAC-SHA256 Credential={access_key_id or cloud.access_key_id},"
                                f"SignedHeaders={';'.join(names)},Signature={signature}")
    if tamper:
        tamper(query, headers)
    return requests.post(f"http://{cloud.endpoint}/", params=query, headers=headers, data=body, timeout=10)


def rpc_v2_request(cloud, action, params=None, *, method="GET", secret=None, timestamp=None, nonce=None,
                   token=None):
    """An RPC (signature V2, HMAC-SHA1) request as older SDKs send it."""
    all_params = {"Action": action, "Version": VERSION, "Format": "JSON", "AccessKeyId": cloud.access_key_id,
                  "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
                  "SignatureNonce": nonce or uuid.uuid4().hex, "Timestamp": timestamp or _now()}
    if token is not None:
        all_params["SecurityToken"] = token
    all_params.update({k: str(v) for k, v in (params or {}).items()})
    canonical = "&".join(f"{_pct(k)}={_pct(v)}" for k, v in sorted(all_params.items()))
    to_sign = f"{method}&{_pct('/')}&{_pct(canonical)}"
    key = ((secret or cloud.access_key_secret) + "&").encode()
    all_params["Signature"] = base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha1).digest()).decode()
    url = f"http://{cloud.endpoint}/"
    if method == "GET":
        return requests.get(url, params=all_params, timeout=10)
    return requests.post(url, data=all_params, timeout=10)


def sdk_error(call, *args):
    with pytest.raises(AlibabaCloudException) as info:
        call(*args)
    return info.value


# -- authentication --------------------------------------------------------------------------
def test_hand_signed_acs3_accepted(cloud):
    response = acs3_request(cloud, "CreateUser", {"UserName": "alice"})
    assert response.status_code == 200, response.text
    assert response.json()["User"]["UserName"] == "alice"
    assert response.headers["x-acs-request-id"] == response.json()["RequestId"]


def test_bad_signature(cloud):
    ram = RamClient(cloud.client_config(access_key_secret="not-the-secret"))
    error = sdk_error(ram.get_account_alias)
    assert (error.code, error.status_code) == ("SignatureDoesNotMatch", 400)
    assert cloud.calls.errors("SignatureDoesNotMatch")


def test_tampered_query_after_signing(cloud):
    response = acs3_request(cloud, "CreateUser", {"UserName": "alice"},
                            tamper=lambda q, h: q.update(UserName="mallory"))
    assert (response.status_code, response.json()["Code"]) == (400, "SignatureDoesNotMatch")
    assert cloud.ram.users == {}


def test_unknown_access_key(cloud):
    ram = RamClient(cloud.client_config(access_key_id="LTAI5tUNKNOWNKEY000000"))
    error = sdk_error(ram.get_account_alias)
    assert (error.code, error.status_code) == ("InvalidAccessKeyId.NotFound", 404)


def test_keys_minted_by_ram_sign_but_may_do_nothing_without_a_user_policy(ram, cloud):
    """A RAM user's key authenticates (a wrong secret does not), and is held to the user's policies
    (``attach_user_policy``; none here): NoPermission, never the caller's unrestricted default."""
    ram.create_user(rm.CreateUserRequest(user_name="alice"))
    key = ram.create_access_key(rm.CreateAccessKeyRequest(user_name="alice")).body.access_key
    other = RamClient(cloud.client_config(access_key_id=key.access_key_id, access_key_secret=key.access_key_secret))
    assert sdk_error(other.get_account_alias).code == "NoPermission"
    forged = RamClient(cloud.client_config(access_key_id=key.access_key_id, access_key_secret="x" * 30))
    assert sdk_error(forged.get_account_alias).code == "SignatureDoesNotMatch"


@pytest.mark.parametrize("offset", [-16 * 60, 16 * 60])
def test_stale_or_future_date(cloud, offset):
    response = acs3_request(cloud, "GetAccountAlias", date=_now(offset))
    assert (response.status_code, response.json()["Code"]) == (400, "InvalidTimeStamp.Expired")


def test_date_within_skew_accepted(cloud):
    assert acs3_request(cloud, "GetAccountAlias", date=_now(-60)).status_code == 200


def test_sdk_with_stale_clock(cloud, mocker):
    """The SDK's own timestamp, pushed an hour back at the edge, is refused."""
    from alibabacloud_tea_openapi.utils import Utils
    mocker.patch.object(Utils, "get_timestamp", return_value=_now(-3600))
    ram = RamClient(cloud.client_config())
    error = sdk_error(ram.get_account_alias)
    assert (error.code, error.status_code) == ("InvalidTimeStamp.Expired", 400)


def test_bad_date_format(cloud):
    response = acs3_request(cloud, "GetAccountAlias", date="yesterday")
    assert response.json()["Code"] == "InvalidTimeStamp.Format"


def test_reused_nonce(cloud):
    nonce = uuid.uuid4().hex
    assert acs3_request(cloud, "CreateUser", {"UserName": "alice"}, nonce=nonce).status_code == 200
    again = acs3_request(cloud, "CreateUser", {"UserName": "alice"}, nonce=nonce)
    assert (again.status_code, again.json()["Code"]) == (400, "SignatureNonceUsed")
    assert list(cloud.ram.users) == ["alice"]


def test_unknown_action(cloud):
    response = acs3_request(cloud, "CreateUnicorn", {"UserName": "alice"})
    assert (response.status_code, response.json()["Code"]) == (404, "InvalidAction.NotFound")


def test_unknown_version(cloud):
    response = acs3_request(cloud, "GetAccountAlias", version="2099-01-01")
    assert (response.status_code, response.json()["Code"]) == (400, "InvalidVersion")


def test_missing_authorization(cloud):
    response = requests.post(f"http://{cloud.endpoint}/", headers={"x-acs-action": "GetAccountAlias",
                                                                   "x-acs-version": VERSION}, timeout=10)
    assert (response.status_code, response.json()["Code"]) == (400, "IncompleteSignature")


def test_unsigned_host_refused(cloud):
    def drop_host(query, headers):
        auth = headers["Authorization"].replace("host;", "")
        headers["Authorization"] = auth
    response = acs3_request(cloud, "GetAccountAlias", tamper=drop_host)
    assert (response.status_code, response.json()["Code"]) == (400, "IncompleteSignature")


# -- STS tokens -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sts_cloud():
    with LocalCloud(security_token="sts-token-abc") as cloud:
        yield cloud


def test_sts_token_accepted_through_sdk(sts_cloud):
    ram = RamClient(sts_cloud.client_config())
    assert ram.get_account_alias().body.request_id


def test_sts_token_required(sts_cloud):
    response = acs3_request(sts_cloud, "GetAccountAlias")
    assert (response.status_code, response.json()["Code"]) == (400, "InvalidSecurityToken.Malformed")
    ram = RamClient(sts_cloud.client_config(security_token=None))
    assert sdk_error(ram.get_account_alias).code == "InvalidSecurityToken.Malformed"


def test_sts_token_checked(sts_cloud):
    response = acs3_request(sts_cloud, "GetAccountAlias", token="sts-token-forged")
    assert (response.status_code, response.json()["Code"]) == (400, "InvalidSecurityToken.MismatchWithAccessKey")
    ram = RamClient(sts_cloud.client_config(security_token="sts-token-forged"))
    assert sdk_error(ram.get_account_alias).code == "InvalidSecurityToken.MismatchWithAccessKey"


def test_sts_token_on_long_term_key_refused(cloud):
    response = acs3_request(cloud, "GetAccountAlias", token="unexpected")
    assert response.json()["Code"] == "InvalidSecurityToken.MismatchWithAccessKey"


def test_sts_token_with_rpc_v2(sts_cloud):
    assert rpc_v2_request(sts_cloud, "GetAccountAlias", token="sts-token-abc").status_code == 200
    response = rpc_v2_request(sts_cloud, "GetAccountAlias")
    assert response.json()["Code"] == "InvalidSecurityToken.Malformed"


# -- RPC V2 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_rpc_v2_accepted(cloud, method):
    response = rpc_v2_request(cloud, "CreateUser", {"UserName": f"v2-{method.lower()}"}, method=method)
    assert response.status_code == 200, response.text
    assert response.json()["User"]["UserName"] == f"v2-{method.lower()}"
    call = cloud.calls.since()[-1]
    assert call.params == {"UserName": f"v2-{method.lower()}"}   # protocol parameters are not action parameters


def test_rpc_v2_refusals(cloud):
    bad = rpc_v2_request(cloud, "GetAccountAlias", secret="wrong")
    assert (bad.status_code, bad.json()["Code"]) == (400, "SignatureDoesNotMatch")
    stale = rpc_v2_request(cloud, "GetAccountAlias", timestamp=_now(-3600))
    assert stale.json()["Code"] == "InvalidTimeStamp.Expired"
    nonce = uuid.uuid4().hex
    assert rpc_v2_request(cloud, "GetAccountAlias", nonce=nonce).status_code == 200
    assert rpc_v2_request(cloud, "GetAccountAlias", nonce=nonce).json()["Code"] == "SignatureNonceUsed"
    assert rpc_v2_request(cloud, "NoSuchThing").json()["Code"] == "InvalidAction.NotFound"


# -- error bodies and request ids ---------------------------------------------------------------
def test_error_body_shape(ram, cloud):
    error = sdk_error(ram.get_user, rm.GetUserRequest(user_name="ghost"))
    assert isinstance(error, ClientException)
    for field in ("RequestId", "HostId", "Code", "Message", "Recommend"):
        assert error.data[field], field
    assert error.data["HostId"] == "ram.aliyuncs.com"
    assert error.data["Code"] == "EntityNotExist.User"
    assert error.request_id == error.data["RequestId"]
    assert "HttpStatus" not in error.data     # KMS-only field
    raw = acs3_request(cloud, "GetUser", {"UserName": "ghost"})
    assert raw.status_code == 404
    assert set(raw.json()) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert raw.headers["x-acs-request-id"] == raw.json()["RequestId"]
    assert raw.headers["Content-Type"].startswith("application/json")


def test_every_response_has_fresh_request_id(ram, cloud):
    ids = [ram.get_account_alias().body.request_id for _ in range(5)]
    ids += [sdk_error(ram.get_user, rm.GetUserRequest(user_name="ghost")).request_id for _ in range(5)]
    ids += [acs3_request(cloud, "GetAccountAlias").json()["RequestId"] for _ in range(3)]
    ids += [acs3_request(cloud, "GetAccountAlias", secret="bad").json()["RequestId"] for _ in range(2)]
    assert len(set(ids)) == len(ids) == 15
    assert all(len(i) == 36 and i == i.upper() for i in ids)
    assert {c.request_id for c in cloud.calls} >= set(ids[:10])


# -- call log ------------------------------------------------------------------------------------
def test_call_log_records_and_redacts(ram, cloud):
    ram.create_user(rm.CreateUserRequest(user_name="alice"))
    ram.create_login_profile(rm.CreateLoginProfileRequest(user_name="alice", password="Str0ngPassw0rd"))
    key = ram.create_access_key(rm.CreateAccessKeyRequest(user_name="alice")).body.access_key
    sdk_error(ram.create_user, rm.CreateUserRequest(user_name="alice"))
    calls = cloud.calls.since()
    assert [(c.action, c.status, c.code) for c in calls] == [
        ("CreateUser", 200, ""), ("CreateLoginProfile", 200, ""), ("CreateAccessKey", 200, ""),
        ("CreateUser", 409, "EntityAlreadyExists.User")]
    assert calls[1].params["Password"] == "***"
    assert all(c.access_key_id == cloud.access_key_id and c.service == "ram" for c in calls)
    text = repr(calls)
    assert "Str0ngPassw0rd" not in text and key.access_key_secret not in text
    assert [c.action for c in cloud.calls.mutating()] == ["CreateUser", "CreateLoginProfile", "CreateAccessKey"]
    assert [c.code for c in cloud.calls.errors()] == ["EntityAlreadyExists.User"]


def test_call_log_redacts_every_secret_parameter():
    cloud = LocalCloud()
    cloud.invoke("GetAccountAlias", {"Password": "p", "NewPassword": "n", "OldPassword": "o",
                                     "AccessKeySecret": "s", "SecretData": "d", "SecurityToken": "t"})
    assert set(cloud.calls.since()[0].params.values()) == {"***"}


# -- faults ----------------------------------------------------------------------------------------
def test_fail_n_times(ram, cloud):
    cloud.faults.fail("CreateUser", "InternalError", 500, times=2)
    for _ in range(2):
        error = sdk_error(ram.create_user, rm.CreateUserRequest(user_name="alice"))
        assert isinstance(error, ServerException)
        assert (error.code, error.status_code) == ("InternalError", 500)
        assert cloud.ram.users == {}          # a failure before execution changes nothing
    assert ram.create_user(rm.CreateUserRequest(user_name="alice")).body.user.user_name == "alice"
    assert ram.get_account_alias().body is not None    # other actions never affected


def test_fail_any_action_with_client_error(ram, cloud):
    cloud.faults.fail(None, "ServiceUnavailable", 503, times=1)
    assert sdk_error(ram.get_account_alias).status_code == 503
    cloud.faults.fail("GetUser", "EntityNotExist.User", 404, times=None)
    ram.create_user(rm.CreateUserRequest(user_name="alice"))
    for _ in range(3):
        assert sdk_error(ram.get_user, rm.GetUserRequest(user_name="alice")).code == "EntityNotExist.User"


def _pattern(cloud, seed):
    cloud.reset()
    cloud.faults.fail("GetAccountAlias", "InternalError", 500, times=None, probability=0.5, seed=seed)
    return [cloud.invoke("GetAccountAlias")[0] for _ in range(40)]


def test_seeded_probability_is_reproducible(ram, cloud):
    first = _pattern(cloud, seed=7)
    assert first == _pattern(cloud, seed=7)
    assert first != _pattern(cloud, seed=8)
    assert 0 < first.count(500) < 40 and set(first) == {200, 500}
    # the same rule over HTTP through the SDK
    cloud.reset()
    cloud.faults.fail("GetAccountAlias", "InternalError", 500, times=None, probability=0.5, seed=7)
    over_http = []
    for _ in range(40):
        try:
            ram.get_account_alias()
            over_http.append(200)
        except ServerException as error:
            over_http.append(error.status_code)
    assert over_http == first


def test_latency(ram, cloud, mocker):
    """Added latency is applied (observed through the sleep it asks for, never through a timing)."""
    sleep = mocker.spy(core.time, "sleep")
    cloud.faults.latency(0.05, action="GetAccountAlias", times=1)
    ram.get_account_alias()
    ram.get_account_alias()
    ram.create_user(rm.CreateUserRequest(user_name="alice"))
    assert [c.args for c in sleep.call_args_list if c.args == (0.05,)] == [(0.05,)]


def test_drop_before_execution(ram, cloud):
    cloud.faults.drop("CreateUser")
    with pytest.raises(Exception) as info:
        ram.create_user(rm.CreateUserRequest(user_name="alice"))
    assert not isinstance(info.value, AlibabaCloudException)       # no answer at all
    assert cloud.ram.users == {}
    assert [(c.action, c.code) for c in cloud.calls] == [("CreateUser", "ConnectionDropped")]
    assert ram.create_user(rm.CreateUserRequest(user_name="alice")).body.user.user_name == "alice"


def test_drop_after_execution(ram, cloud):
    cloud.faults.drop("CreateUser", after=True)
    with pytest.raises(Exception) as info:
        ram.create_user(rm.CreateUserRequest(user_name="alice"))
    assert not isinstance(info.value, AlibabaCloudException)
    assert "alice" in cloud.ram.users               # executed, answer lost
    assert [(c.action, c.status) for c in cloud.calls] == [("CreateUser", 200)]
    assert sdk_error(ram.create_user, rm.CreateUserRequest(user_name="alice")).code == "EntityAlreadyExists.User"


def test_rate_limit(ram, cloud, mocker):
    """A per-action QPS limit answers Throttling.User; the server's clock is frozen so no timing decides."""
    clock = {"now": 1000.0}
    fake_time = types.SimpleNamespace(monotonic=lambda: clock["now"], sleep=core.time.sleep, time=core.time.time)
    mocker.patch.object(core, "time", fake_time)
    cloud.faults.rate_limit("GetAccountAlias", qps=2)
    results = []
    for _ in range(5):
        try:
            ram.get_account_alias()
            results.append("ok")
        except AlibabaCloudException as error:
            assert error.status_code == 400
            results.append(error.code)
    assert results == ["ok", "ok", "Throttling.User", "Throttling.User", "Throttling.User"]
    ram.create_user(rm.CreateUserRequest(user_name="alice"))       # other actions unlimited
    clock["now"] += 1.0                                              # the window slides
    ram.get_account_alias()
    ram.get_account_alias()
    assert sdk_error(ram.get_account_alias).code == "Throttling.User"


def test_throttle_helper_and_clear(ram, cloud):
    cloud.faults.throttle("GetAccountAlias", times=1)
    assert sdk_error(ram.get_account_alias).code == "Throttling.User"
    ram.get_account_alias()
    cloud.faults.fail("GetAccountAlias", "InternalError", times=None)
    cloud.faults.clear()
    ram.get_account_alias()
