"""The ``hrctl`` console script (installed by ``make venv``), as an operator runs it: a separate
process against a standalone ``python -m localcloud --state FILE``, across restarts of that
process, checking every exit code. The report is rendered by headless Chromium.

Loopback only; the official SDK over real HTTP; every command's output is searched for every
credential the emulator minted (only ``credential show`` may print one, and only the one asked)."""
import json
import os
import pty
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alibabacloud_ram20150501 import models as rm

from tests.localcloud.test_standalone import Standalone

ROOT = Path(__file__).resolve().parent.parent
HRCTL = Path(sys.executable).parent / "hrctl"
SCREENSHOT = ROOT / "docs" / "access-review.png"


class Server:
    """A standalone localcloud that can be restarted on its state file (a new port each time)."""

    def __init__(self, state_file):
        self.state_file = state_file
        self.process = Standalone(state_file, "--account-alias", "corp")

    def restart(self):
        assert self.process.stop() == 0
        self.process = Standalone(self.state_file)          # the state file fixes account and keys
        return self

    def __getattr__(self, name):
        return getattr(self.process, name)


@pytest.fixture
def cloud(tmp_path):
    """Named ``cloud`` so that the suite-wide leak guard checks these tests too."""
    from alibabacloud_ram20150501 import models as rm
    from provisioner.domain.access import DEFAULT_GROUPS
    server = Server(tmp_path / "state.json")
    for group in DEFAULT_GROUPS.values():          # the account as `hrctl setup` leaves it (GRANT_MODE=group)
        server.ram().create_group(rm.CreateGroupRequest(group_name=group))
    yield server
    server.process.stop()


def now():
    return datetime.now(timezone.utc)


def stamp(when=None):
    return (when or now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def hrctl(server, cwd, *args, may_print=0, env=None, stdout=subprocess.PIPE):
    """Run the console script against ``server``; returns (exit code, stdout, stderr). No output may
    hold a credential, except ``may_print`` of them on stdout (credential show)."""
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("ALIBABA_CLOUD_", "RAM_", "KMS_", "OPENAPI_", "HR_", "OFFBOARD_"))}
    environment.update({"ALIBABA_CLOUD_ACCESS_KEY_ID": server.printed["accessKeyId"],
                        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": server.printed["accessKeySecret"],
                        "HRCTL_ENDPOINT": "http://" + server.printed["endpoint"], **(env or {})})
    done = subprocess.run([str(HRCTL), *args], cwd=cwd, env=environment, stdout=stdout, stderr=subprocess.PIPE,
                          text=True, timeout=180)
    out, err = done.stdout or "", done.stderr
    minted = server.minted_credentials()
    assert sum(c in err for c in minted) == 0                  # never in the logs or messages
    assert sum(c in out for c in minted) == may_print
    assert "Traceback" not in err
    return done.returncode, out, err


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def onboarding(logon, employee, mode="programmatic", level="read-only", **extra):
    return {"eventId": f"on-{logon}-{employee}", "eventType": "employee.onboarded", "occurredAt": stamp(),
            "employee": {"employeeId": employee, "logonName": logon, "displayName": logon.title()},
            "access": {"mode": mode, "level": level}, **extra}


def by_name(rows):
    return {r["userName"]: r for r in rows}


def test_the_console_script_is_installed():
    assert HRCTL.is_file() and os.access(HRCTL, os.X_OK)
    done = subprocess.run([str(HRCTL), "--help"], capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 0
    for command in ("invoke", "users", "user", "report", "credential"):
        assert command in done.stdout
    assert subprocess.run([sys.executable, "-m", "hrctl", "users", "--help"], capture_output=True,
                          timeout=60, cwd=ROOT).returncode == 0


def test_lifecycle_through_hrctl_across_restarts(cloud, tmp_path):
    people = write(tmp_path / "people.csv", "employeeId,logonName,displayName,mode,level\n"
                   "E1,ann.lee,Ann Lee,console,full\nE2,di.wu,Di Wu,programmatic,read-only\nE3,cy.xu,Cy Xu,console,\n")
    code, out, err = hrctl(cloud, tmp_path, "invoke", "onboarding", "--csv", people, "--json")
    assert code == 1                                                           # one row is rejected
    assert [(r["row"], r["userName"], r["status"]) for r in json.loads(out)] == [
        (2, "ann.lee", "provisioned"), (3, "di.wu", "provisioned"), (4, "cy.xu", "rejected")]
    assert "people.csv row 4, column level: is empty" in err
    assert "3 result(s): 2 provisioned, 1 rejected; 1 need attention" in err
    assert '"level": "INFO"' not in err                                         # function logs at WARNING

    cloud.restart()                                                             # the state survives
    code, out, _ = hrctl(cloud, tmp_path, "invoke", "onboarding", "--csv", people, "--mode", "programmatic",
                         "--level", "read-only", "--json")
    assert code == 0                                                            # every row good now
    assert [r["status"] for r in json.loads(out)] == ["already-provisioned", "already-provisioned", "provisioned"]
    code, out, _ = hrctl(cloud, tmp_path, "users", "--json")
    assert code == 0
    users = by_name(json.loads(out))
    assert sorted(users) == ["ann.lee", "cy.xu", "di.wu"]
    assert (users["ann.lee"]["state"], users["ann.lee"]["level"], users["ann.lee"]["credential"]) == (
        "active", "full", "console")
    # the level through its group (GRANT_MODE=group): no policy attached to the user
    assert (users["ann.lee"]["groups"], users["ann.lee"]["policies"]) == (["hr-arms-full"], [])
    assert (users["di.wu"]["credential"], users["di.wu"]["keyAgeDays"], users["di.wu"]["secretName"]) == (
        "programmatic", 0, "ram-user/di.wu")
    assert users["ann.lee"]["findings"] == []                      # MFA: still inside MFA_GRACE_DAYS (7)
    assert users["di.wu"]["findings"] == [] and users["di.wu"]["nextAction"] is None
    code, table, _ = hrctl(cloud, tmp_path, "users")
    assert code == 0 and "3 managed user(s)" in table and "di.wu" in table

    # a user we did not create: not shown, not touched
    cloud.ram().create_user(rm.CreateUserRequest(user_name="ops.admin"))
    code, _, err = hrctl(cloud, tmp_path, "user", "ops.admin")
    assert code == 1 and "ops.admin: not managed by hr-ram-provisioner" in err
    code, out, _ = hrctl(cloud, tmp_path, "invoke", "onboarding",
                         write(tmp_path / "hostile.json", json.dumps(onboarding("ops.admin", "E666"))), "--json")
    assert code == 1 and json.loads(out)[0]["status"] == "conflict"
    code, _, err = hrctl(cloud, tmp_path, "user", "nobody")
    assert code == 1 and "nobody: no such RAM user" in err

    # a leaver two days ahead: scheduled, and users says when the sweep disables
    last_day = (now() + timedelta(days=2)).date()
    leaver = {"eventId": "off-di", "eventType": "employee.offboarded", "occurredAt": stamp(),
              "employee": {"employeeId": "E2", "logonName": "di.wu"}, "lastWorkingDay": last_day.isoformat()}
    code, out, _ = hrctl(cloud, tmp_path, "invoke", "offboarding", write(tmp_path / "leaver.json", json.dumps(leaver)),
                         "--envelope", "http", "--json")
    assert code == 0 and json.loads(out)[0]["status"] == "scheduled"
    code, out, _ = hrctl(cloud, tmp_path, "user", "di.wu", "--json")
    di = json.loads(out)
    assert (di["leaveDate"], di["nextAction"], di["due"]) == (last_day.isoformat(), "disable", False)
    assert di["nextActionAt"] == f"{last_day + timedelta(days=1)}T00:00:00Z"      # HR_TIMEZONE=UTC

    cloud.restart()
    cloud.control.clock.advance(days=4)                      # hrctl reads "now" from the emulator's clock
    code, out, _ = hrctl(cloud, tmp_path, "invoke", "offboarding", "--envelope", "timer", "--dry-run", "--json")
    [plan] = json.loads(out)
    assert code == 0 and plan["dryRun"] is True and plan["counts"]["disabled"] == 1
    code, out, _ = hrctl(cloud, tmp_path, "user", "di.wu", "--json")
    assert json.loads(out)["state"] == "active" and json.loads(out)["due"] is True       # the dry run changed nothing
    code, out, _ = hrctl(cloud, tmp_path, "invoke", "offboarding", "--envelope", "timer", "--json")
    assert code == 0 and json.loads(out)[0]["counts"]["disabled"] == 1
    code, out, _ = hrctl(cloud, tmp_path, "users", "--json")
    di = by_name(json.loads(out))["di.wu"]
    assert (di["state"], di["credential"], di["nextAction"]) == ("disabled", "none", "delete")
    assert (di["groups"], di["level"]) == ([], None)                          # disabled: out of our group
    disabled_at = datetime.fromisoformat(di["disabledAt"].replace("Z", "+00:00"))
    assert di["nextActionAt"] == stamp(disabled_at + timedelta(days=30))        # OFFBOARD_GRACE_DAYS
    code, out, _ = hrctl(cloud, tmp_path, "invoke", "offboarding", write(tmp_path / "ghost.json", json.dumps(
        {**leaver, "eventId": "off-ghost", "occurredAt": stamp(cloud.control.clock.now()),
         "employee": {"employeeId": "E404", "logonName": "ghost"}, "lastWorkingDay": None})), "--json")
    assert code == 1 and json.loads(out)[0]["status"] == "rejected"              # null is not a date
    ghost = {**leaver, "eventId": "off-ghost-2", "occurredAt": stamp(cloud.control.clock.now()),
             "employee": {"employeeId": "E404", "logonName": "ghost"}}
    ghost.pop("lastWorkingDay")
    code, out, _ = hrctl(cloud, tmp_path, "invoke", "offboarding", write(tmp_path / "ghost.json", json.dumps(ghost)),
                         "--json")
    assert code == 1 and json.loads(out)[0]["status"] == "not-found"


def _chromium():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium package)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def test_access_review_report_renders_in_chromium(cloud, tmp_path):
    events = [onboarding("ann.lee", "E1", "console", "full"), onboarding("di.wu", "E2"),
              onboarding("bo.chen", "E3", "programmatic", "full",
                         endDate=(now() + timedelta(days=200)).date().isoformat()),
              onboarding("li.lei", "E4", "console", "read-only")]
    code, _, _ = hrctl(cloud, tmp_path, "invoke", "onboarding", write(tmp_path / "e.json", json.dumps(events)))
    assert code == 0
    cloud.ram().attach_policy_to_user(rm.AttachPolicyToUserRequest(
        user_name="di.wu", policy_name="AdministratorAccess", policy_type="System"))  # someone widened it by hand
    cloud.control.clock.advance(days=100)                                         # every key is now 100 days old
    html, csv_path = tmp_path / "review.html", tmp_path / "review.csv"
    code, _, err = hrctl(cloud, tmp_path, "report", "--html", str(html), "--csv", str(csv_path))
    assert code == 0 and "4 user(s)" in err
    page = html.read_text(encoding="utf-8")
    for external in ("<script", "src=", "href=", "url(", "@import", "<link"):
        assert external not in page                                              # self-contained
    assert "corp (1234567890123456)" in page and page.count("<svg") == 3
    for finding in ("console-without-mfa", "console-unused", "key-rotation-due", "key-unused", "foreign-policy",
                    "password-policy-weak"):
        assert f">{finding}</span>" in page
    rows = csv_path.read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("userName,displayName,employeeId,state,level") and len(rows) == 5
    assert "AdministratorAccess" in next(r for r in rows if r.startswith("di.wu,"))

    browser = _chromium()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             f"--user-data-dir={tmp_path / 'chromium'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", html.as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0 and dom.stdout.count('<tr class="flag">') == 4     # the browser parsed every row
    shot = tmp_path / "review.png"
    subprocess.run([browser, *flags, "--hide-scrollbars", "--window-size=1400,1000", f"--screenshot={shot}",
                    html.as_uri()], capture_output=True, timeout=120, check=True)
    image = shot.read_bytes()
    assert image[:8] == b"\x89PNG\r\n\x1a\n" and len(image) > 20_000                # a rendered page, not a blank
    if os.environ.get("UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, SCREENSHOT)


def test_the_report_names_an_employee_with_two_active_users_on_its_account_line(cloud, tmp_path):
    """The state the open race of docs/concurrency.md leaves: kim.lee provisioned for E12 through the
    function, then kim.l made for E12 too, active, as the interleaved joiner would have made it. The
    page's Account line names the employee and both users, once; ann.lee (E13, alone) is not named."""
    events = [onboarding("kim.lee", "E12"), onboarding("ann.lee", "E13")]
    code, _, _ = hrctl(cloud, tmp_path, "invoke", "onboarding", write(tmp_path / "e.json", json.dumps(events)))
    assert code == 0
    cloud.ram().create_user(rm.CreateUserRequest(user_name="kim.l", comments="hrrp:v1;emp=E12;st=active"))
    cloud.ram().create_access_key(rm.CreateAccessKeyRequest(user_name="kim.l"))
    html = tmp_path / "review.html"
    code, _, err = hrctl(cloud, tmp_path, "report", "--html", str(html))
    assert code == 0 and "3 user(s)" in err
    page = html.read_text(encoding="utf-8")
    account = page[page.index("<h2>Account</h2>"):page.index("<h2>Users</h2>")]
    assert account.count(">employee-multiple-active-users</span>") == 1, account
    assert "employee E12 has 2 active users (kim.l, kim.lee)" in account and "E13" not in account
    assert "<b>employee-multiple-active-users</b>" in page                       # the legend


def test_credential_show_prints_to_a_terminal_only(cloud, tmp_path):
    events = [onboarding("di.wu", "E2"), onboarding("ann.lee", "E1", "console", "full")]
    assert hrctl(cloud, tmp_path, "invoke", "onboarding", write(tmp_path / "e.json", json.dumps(events)))[0] == 0
    code, out, err = hrctl(cloud, tmp_path, "credential", "show", "di.wu")
    assert code == 2 and out == "" and "stdout is not a terminal" in err        # a pipe: refused
    code, out, _ = hrctl(cloud, tmp_path, "credential", "show", "di.wu", "--force", may_print=1)
    assert code == 0 and "AccessKeySecret: " in out and "logon name:      di.wu@corp.onaliyun.com" in out
    # the helpdesk's key, held to policies/credential-reader-policy.json, is enough for the command
    reader = json.loads((ROOT / "policies" / "credential-reader-policy.json").read_text(encoding="utf-8"))
    key_id, key_secret = cloud.control.add_caller(policy=reader)
    helpdesk = {"ALIBABA_CLOUD_ACCESS_KEY_ID": key_id, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": key_secret}
    code, out, _ = hrctl(cloud, tmp_path, "credential", "show", "di.wu", "--force", env=helpdesk, may_print=1)
    assert code == 0 and "AccessKeySecret: " in out
    code, _, err = hrctl(cloud, tmp_path, "invoke", "onboarding", "--csv", write(tmp_path / "p.csv", (
        "employeeId,logonName,displayName,mode,level\nE7,x.y,X Y,console,full\n")), env=helpdesk)
    assert code == 1                                   # the helpdesk cannot create users: failed, one line each
    code, _, err = hrctl(cloud, tmp_path, "credential", "show", "nobody", "--force")
    assert code == 1 and "nobody: no RAM user managed by hr-ram-provisioner" in err

    main_fd, terminal = pty.openpty()                                             # a terminal: shown
    try:
        code, _, _ = hrctl(cloud, tmp_path, "credential", "show", "ann.lee", stdout=terminal)
        os.close(terminal)
        terminal = None
        shown = b""
        while True:
            try:
                chunk = os.read(main_fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if terminal is not None:
            os.close(terminal)
        os.close(main_fd)
    text = shown.decode("utf-8", "replace")
    assert code == 0 and "password:" in text
    assert sum(c in text for c in cloud.minted_credentials()) == 1                # exactly ann.lee's password


def test_operator_mistakes_exit_2_in_one_line(cloud, tmp_path):
    code, _, err = hrctl(cloud, tmp_path, "invoke", "offboarding", "--envelope", "timer", "--payload", "notjson")
    assert code == 2 and err.strip() == "hrctl: --payload: not valid JSON (Expecting value)"
    code, _, err = hrctl(cloud, tmp_path, "users", env={"OFFBOARD_GRACE_DAYS": "soon"})
    assert code == 2 and err.strip() == (
        "hrctl: setting OFFBOARD_GRACE_DAYS must be an integer (decimal digits), got 'soon'")
    code, _, err = hrctl(cloud, tmp_path, "invoke", "onboarding", write(tmp_path / "x.json", "not json"))
    assert code == 2 and "x.json: not valid JSON (line 1, column 1)" in err and len(err.splitlines()) == 1
    # | head: the reader went away before hrctl wrote; no traceback, and the exit is clean
    events = [onboarding(f"u.{i}", f"E{i}") for i in range(3)]
    assert hrctl(cloud, tmp_path, "invoke", "onboarding", write(tmp_path / "e.json", json.dumps(events)))[0] == 0
    for table_or_json in ([], ["--json"]):
        read, write_end = os.pipe()
        os.close(read)
        try:
            code, _, err = hrctl(cloud, tmp_path, "users", *table_or_json, stdout=write_end)
        finally:
            os.close(write_end)
        assert code == 0 and err == ""
    # --real without any credential: one line, exit 2, before any call (the chain's ECS metadata
    # provider is switched off: no request leaves loopback)
    bare = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "HRCTL_"))}
    bare.update(HOME=str(tmp_path), ALIBABA_CLOUD_ECS_METADATA_DISABLED="true")
    done = subprocess.run([str(HRCTL), "users", "--real"], env=bare, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and done.stdout == "" and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("hrctl: --real: no Alibaba Cloud credentials")
    # the emulator's own port in use: one line, exit 2
    port = cloud.printed["endpoint"].rsplit(":", 1)[1]
    done = subprocess.run([sys.executable, "-m", "localcloud", "--port", port], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and f"127.0.0.1:{port}" in done.stderr
