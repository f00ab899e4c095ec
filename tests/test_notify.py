"""Notifications end to end: the handlers tell a DingTalk / Lark custom robot (a loopback receiver
that checks the signature as the real robots do) about every lifecycle outcome, never with a
credential, and a failing receiver changes nothing else: same results, same cloud state, no raise."""
import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from alibabacloud_ram20150501 import models as rm
from provisioner.platform import runtime
from provisioner.platform.settings import ConfigError, Settings

from hrctl.envelopes import wrap
from tests.conftest import as_bytes, hr_time
from tests.onboarding_support import assert_converged_programmatic, event, invoke

SECRET = "SEC0123456789abcdef-robot-signing-secret"   # the robot's signing secret (test data)


class Robot:
    """A custom robot on loopback: verifies ``sign`` like DingTalk (query) or Lark (body) and answers
    as they do; ``mode`` makes it fail instead."""

    def __init__(self, kind):
        self.kind, self.mode, self.received = kind, "ok", []
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                robot.received.append({"path": self.path, "query": query, "body": json.loads(body)})
                if robot.mode == "slow":
                    time.sleep(2)
                if robot.mode == "500":
                    self.send_response(500)
                    self.end_headers()
                    return
                answer = robot.verdict(query, json.loads(body))
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/robot/send?access_token=tok123"

    def verdict(self, query, body):
        if self.kind == "dingtalk":
            stamp = int(query.get("timestamp", "0"))
            expected = base64.b64encode(hmac.new(SECRET.encode(), f"{stamp}\n{SECRET}".encode(),
                                                 hashlib.sha256).digest()).decode()
            fresh = abs(time.time() * 1000 - stamp) < 3_600_000          # DingTalk: within an hour
            ok = self.mode == "ok" and fresh and hmac.compare_digest(query.get("sign", ""), expected)
            return {"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 310000, "errmsg": "sign not match"}
        stamp = int(body.get("timestamp", "0"))
        expected = base64.b64encode(hmac.new(f"{stamp}\n{SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
        ok = self.mode == "ok" and abs(time.time() - stamp) < 3600 and body.get("sign") == expected
        return {"code": 0, "msg": "success", "data": {}} if ok else {"code": 19021, "msg": "sign match fail"}

    def texts(self):
        return [r["body"]["text"]["content"] if self.kind == "dingtalk" else r["body"]["content"]["text"]
                for r in self.received]

    def close(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture(params=["dingtalk", "lark"])
def robot(request, cloud, monkeypatch):
    receiver = Robot(request.param)
    monkeypatch.setenv("NOTIFY_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("NOTIFY_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("NOTIFY_KIND", request.param)
    monkeypatch.setenv("NOTIFY_TIMEOUT_MS", "500")
    runtime.reset()
    yield receiver
    receiver.close()


def notification_failures(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()
            if '"notification-failed"' in line]


def test_a_joiner_is_announced_once_signed_and_without_a_credential(robot, cloud, capsys):
    assert invoke(event())["status"] == "provisioned"
    assert invoke(event())["status"] == "already-provisioned"          # a redelivery is no news
    assert len(robot.received) == 1
    [text] = robot.texts()
    assert "provisioned: alice.wang" in text and "AliyunARMSReadOnlyAccess" in text
    assert "logonPrincipal=alice.wang@corp.onaliyun.com" in text
    sent = json.dumps(robot.received)
    assert sum(c in sent for c in cloud.minted_credentials()) == 0
    assert robot.received[0]["query"]["access_token"] == "tok123"         # the robot's own URL kept
    if robot.kind == "dingtalk":
        assert robot.received[0]["body"]["msgtype"] == "text" and set(robot.received[0]["query"]) == {
            "access_token", "timestamp", "sign"}
    else:
        assert robot.received[0]["body"]["msg_type"] == "text" and robot.received[0]["body"]["sign"]
    assert notification_failures(capsys) == []                            # the robot accepted the signature


def test_a_wrong_secret_is_refused_by_the_robot_and_logged_not_raised(robot, monkeypatch, capsys):
    monkeypatch.setenv("NOTIFY_WEBHOOK_SECRET", "not-the-robots-secret")
    runtime.reset()
    assert invoke(event())["status"] == "provisioned"
    [failure] = notification_failures(capsys)
    assert failure["level"] == "WARNING" and "robot refused" in failure["reason"]


@pytest.mark.parametrize("failure", ["500", "slow", "gone", "refuses"])
def test_a_failing_receiver_changes_nothing_else(robot, cloud, ram, kms, capsys, failure):
    robot.mode = {"refuses": "refuse"}.get(failure, failure)
    if failure == "gone":
        robot.close()
    first = invoke(event())
    assert first["status"] == "provisioned"                              # returned, not raised: no redelivery
    assert_converged_programmatic(cloud, ram, kms)
    assert len(notification_failures(capsys)) == 1
    assert invoke(event())["status"] == "already-provisioned"


def test_conflict_leaver_sweep_and_brake_are_announced(robot, cloud, monkeypatch):
    import offboarding
    from alibabacloud_ram20150501.client import Client

    from tests.conftest import inspector_config
    Client(inspector_config(cloud)).create_user(rm.CreateUserRequest(user_name="ops.admin"))
    assert invoke(event(logon="ops.admin", employee_id="E666"))["status"] == "conflict"
    assert invoke(event())["status"] == "provisioned"
    leaver = {"eventId": "leave-1", "eventType": "employee.offboarded", "occurredAt": hr_time(),
              "employee": {"employeeId": "E10023", "logonName": "alice.wang"}}
    assert offboarding.handler(as_bytes(leaver), None)["status"] == "disabled"
    ghost = {**leaver, "eventId": "leave-2", "employee": {"employeeId": "E404", "logonName": "ghost"}}
    assert offboarding.handler(as_bytes(ghost), None)["status"] == "not-found"
    monkeypatch.setenv("OFFBOARD_GRACE_DAYS", "0")
    monkeypatch.setenv("OFFBOARD_MAX_DELETIONS_PER_RUN", "0")
    runtime.reset()
    braked = offboarding.handler(wrap([], "timer", timer_payload={}), None)
    assert braked["brake"]["pending"] == 1
    plan = offboarding.handler(wrap([], "timer", timer_payload={"dryRun": True}), None)
    assert plan["dryRun"] is True
    monkeypatch.setenv("OFFBOARD_MAX_DELETIONS_PER_RUN", "20")
    runtime.reset()
    swept = offboarding.handler(wrap([], "timer", timer_payload={"maxDeletions": 5}), None)
    assert swept["counts"]["deleted"] == 1
    texts = robot.texts()
    assert [t.splitlines()[1].split(":")[0] for t in texts] == [
        "conflict", "provisioned", "disabled", "not-found", "mass-deletion brake engaged",
        "mass-deletion brake engaged", "deleted"]                        # the dry run: its brake only
    assert "employee.onboarded" in texts[0] and "offboarding sweep" in texts[-1]
    assert sum(c in json.dumps(robot.received) for c in cloud.minted_credentials()) == 0


def test_notification_settings_are_strict():
    assert Settings.from_env({}).notify_webhook_url == ""                   # off by default
    found = Settings.from_env({"NOTIFY_WEBHOOK_URL": "https://oapi.dingtalk.com/robot/send?access_token=x"})
    assert found.notify_kind == "dingtalk"
    assert Settings.from_env({"NOTIFY_WEBHOOK_URL": "https://open.feishu.cn/open-apis/bot/v2/hook/x"}).notify_kind \
        == "lark"
    for env, name in [({"NOTIFY_WEBHOOK_URL": "http://oapi.dingtalk.com/robot/send"}, "https"),
                      ({"NOTIFY_WEBHOOK_URL": "https://chat.example.com/hook"}, "NOTIFY_KIND"),
                      ({"NOTIFY_WEBHOOK_URL": "ftp://127.0.0.1/x"}, "NOTIFY_WEBHOOK_URL"),
                      ({"NOTIFY_WEBHOOK_URL": "https://oapi.dingtalk.com/x", "NOTIFY_TIMEOUT_MS": "0"},
                       "NOTIFY_TIMEOUT_MS")]:
        with pytest.raises(ConfigError, match=name):
            Settings.from_env(env)
