"""``hrctl``: the operator's command line (never deployed).

    hrctl invoke onboarding FILE | --csv FILE [--envelope E] [--dry-run] [--json]
    hrctl invoke offboarding --envelope timer [--dry-run]          # the daily sweep
    hrctl users [--json]            every managed user: state, level, credential, key age, MFA, next action
    hrctl user NAME [--json]        one user in full, with the access review's findings
    hrctl report --html FILE [--csv FILE]    the access review: one self-contained page
    hrctl credential show NAME      the credential from KMS, to a terminal only
    hrctl setup [--dry-run] [--apply-password-policy] [--detach-extra] [--json]
                                    the account's one-time bootstrap (groups, roles, policies), as an admin

Every command takes one target: a fresh in-process localcloud (default), ``--endpoint URL``
(a running ``python -m localcloud --state FILE``; the AccessKey from ALIBABA_CLOUD_ACCESS_KEY_ID
/ _SECRET) or ``--real`` (the credentials chain, real endpoints). Exit codes: 0 every result
good, 1 any rejected / failed / conflict / not-found (or a user not found), 2 a usage or
configuration error. Errors are one line; function logs go to stderr at WARNING (-v: INFO,
-vv: DEBUG).
"""
from __future__ import annotations

import functools
import importlib
import json
import os
import sys
import uuid
from collections import Counter
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from . import route_function_logs
from .envelopes import ENVELOPES, wrap
from .setup import DEFAULT_GROUPS, FUNCTION_ROLE
from .target import Target, TargetError, open_target

OK, BAD, USAGE = 0, 1, 2
BAD_STATUSES = {"rejected", "failed", "conflict", "not-found", "refused"}
MAX_BATCH = 100          # what the batch and event-streaming envelopes carry at most


class UsageFailure(click.ClickException):
    """A usage or configuration error: one line, exit 2."""
    exit_code = USAGE

    def show(self, file=None):
        click.echo(f"hrctl: {self.format_message()}", err=True)


class NotFound(click.ClickException):
    """The thing asked for does not exist (or is not ours): one line, exit 1."""
    exit_code = BAD

    def show(self, file=None):
        click.echo(f"hrctl: {self.format_message()}", err=True)


def _width(stream) -> int | None:
    """A terminal's own width; a pipe or file gets wide lines rather than 80 folded columns."""
    try:
        return None if stream.isatty() else 200
    except (AttributeError, ValueError):
        return 200


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """rich exits 1 when its reader went away; here the rest is silenced and the command's own
        exit code stands (``hrctl users | head`` is not a failure)."""
        self.quiet = True
        _stdout_gone()


def stderr() -> Console:
    return _Console(stderr=True, highlight=False, width=_width(sys.stderr))


def stdout() -> Console:
    return _Console(highlight=False, soft_wrap=False, width=_width(sys.stdout))


def out(text: str = "") -> None:
    """A line for stdout; a reader that went away (``| head``) silences the rest, it fails nothing."""
    try:
        click.echo(text)
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_gone()


def show(renderable) -> None:
    """A rich table (or text) for stdout, as ``out``."""
    try:
        stdout().print(renderable)
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_gone()


# -- target options, shared by every command -------------------------------------------------
def target_options(command):
    @click.option("--endpoint", metavar="URL", envvar="HRCTL_ENDPOINT",
                  help="a running localcloud (python -m localcloud --state FILE), e.g. http://127.0.0.1:8080; "
                       "AccessKey from ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET [env HRCTL_ENDPOINT]")
    @click.option("--real", is_flag=True, help="the Alibaba Cloud account of the credentials chain, real endpoints")
    @click.option("-v", "--verbose", count=True, help="function logs at INFO (-v) or DEBUG (-vv); default WARNING")
    @functools.wraps(command)
    def wrapper(*args, endpoint=None, real=False, verbose=0, **kwargs):
        level = ("WARNING", "INFO", "DEBUG")[min(verbose, 2)]
        return command(*args, target_spec={"endpoint": endpoint, "real": real, "log_level": level}, **kwargs)
    return wrapper


class _Session:
    """The target opened, the functions' logs routed to stderr (through rich, so a progress bar
    stays on its own line)."""

    def __init__(self, spec):
        self.spec = spec
        self.console = stderr()

    def __enter__(self) -> Target:
        self._target_cm = open_target(**self.spec)
        try:
            target = self._target_cm.__enter__()
        except TargetError as err:
            raise UsageFailure(str(err)) from None
        self._restore = route_function_logs(lambda line: self.console.out(line.rstrip("\n"), highlight=False))
        return target

    def __exit__(self, *exc):
        self._restore()
        return self._target_cm.__exit__(*exc)


def _cloud_failure(err) -> click.ClickException:
    """A cloud error while reading (access denied, throttled past retries): one line, exit 1."""
    failure = NotFound(f"the cloud refused: {err}")
    return failure


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli():
    """hrctl: run the HR → RAM provisioner's account (see `hrctl COMMAND --help`)."""


# -- invoke ------------------------------------------------------------------------------------
def _load_events(path: str) -> list:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageFailure(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageFailure(f"{path}: is a directory, not an event file") from None
    except UnicodeDecodeError as err:
        raise UsageFailure(f"{path}: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise UsageFailure(f"{path}: cannot read ({err.strerror})") from None
    try:
        loaded = json.loads(text)
    except ValueError as err:
        line = getattr(err, "lineno", None)
        where = f" (line {line}, column {err.colno})" if line else ""
        raise UsageFailure(f"{path}: not valid JSON{where}: {getattr(err, 'msg', err)}") from None
    events = loaded if isinstance(loaded, list) else [loaded]
    if not events:
        raise UsageFailure(f"{path}: an empty array: no event to send")
    return events


def _requests(events: list, envelope: str) -> list[tuple[list, str]]:
    """The invocations that carry ``events``: (the events of one call, the envelope it is wrapped in)."""
    if envelope == "http" or (envelope in ("direct", "eventbridge") and len(events) == 1):
        return [([e], envelope) for e in events]
    wrapped = {"direct": "batch", "eventbridge": "eventbridge-streaming"}.get(envelope, envelope)
    return [(events[i:i + MAX_BATCH], wrapped) for i in range(0, len(events), MAX_BATCH)]


def _answers(answer, count: int) -> list[dict]:
    """The handler's answer as one result per event (an HTTP response's body is the result)."""
    if isinstance(answer, dict) and "statusCode" in answer:
        try:
            body = json.loads(answer.get("body") or "{}")
        except ValueError:
            body = {"status": "failed", "message": "unreadable HTTP answer"}
        return [dict(body, httpStatus=answer["statusCode"])]
    if isinstance(answer, list):
        return answer
    return [answer] * count if count > 1 else [answer]


def _is_bad(result: dict) -> bool:
    if result.get("status") == "swept":
        counts = result.get("counts") or {}
        return bool(result.get("brake")) or any(counts.get(s) for s in ("failed", "conflict"))
    return result.get("status") in BAD_STATUSES


def _detail(result: dict) -> str:
    if result.get("errors"):
        return "; ".join(_error_text(e) for e in result["errors"])
    if result.get("status") == "swept":
        counts = ", ".join(f"{k} {v}" for k, v in (result.get("counts") or {}).items() if v)
        brake = " (mass-deletion brake engaged)" if result.get("brake") else ""
        prefix = "dry-run: " if result.get("dryRun") else ""
        return f"{prefix}managed {result.get('managed')}: {counts or 'nothing due'}{brake}"
    for key in ("reason", "message"):
        if result.get(key):
            return str(result[key])
    error = result.get("error")
    if isinstance(error, dict):
        return " ".join(str(error.get(k)) for k in ("action", "code", "requestId") if error.get(k))
    return str(error or result.get("secretName") or "")


def _error_text(problem: dict) -> str:
    if "row" in problem:
        return (f"column {problem['column']}: " if problem.get("column") else "") + problem["message"]
    return f"{problem.get('path')}: {problem.get('message')}"


def _csv_annotate(result: dict, row) -> dict:
    """A CSV row's result names the row, and its problems name columns."""
    from .csvfile import column_of, problem
    result = dict(result, row=row.number)
    result.setdefault("userName", row.logon_name or None)
    if result.get("userName") is None:
        result["userName"] = row.logon_name or None
    if result.get("errors"):
        result["errors"] = [problem(row.number, column_of(e.get("path", "")), e.get("message", ""))
                            if "path" in e else e for e in result["errors"]]
    return result


def _print_results(results: list[dict], as_json: bool, csv_path: str | None) -> None:
    if as_json:
        out(json.dumps(results, ensure_ascii=False, indent=2))
        return
    table = Table(show_lines=False, pad_edge=False)
    for name in (("row",) if csv_path else ()) + ("user", "status", "detail"):
        table.add_column(name, overflow="fold")
    for r in results:
        cells = ([str(r.get("row", ""))] if csv_path else []) + [
            r.get("userName") or r.get("eventId") or "", r.get("status", ""), _detail(r)]
        style = "red" if _is_bad(r) else None
        table.add_row(*[Text(str(c)) for c in cells], style=style)
    show(table)


def _summary(results: list[dict], console: Console) -> None:
    counts = Counter(r.get("status") for r in results)
    text = ", ".join(f"{n} {s}" for s, n in counts.most_common())
    bad = sum(1 for r in results if _is_bad(r))
    console.print(Text(f"{len(results)} result(s): {text}" + (f"; {bad} need attention" if bad else "")))


def _dry_run(function: str, calls: list[tuple[list, str]], timer: bool) -> list[dict]:
    """What the handler would decide before any cloud call: its own decoding and validation."""
    from provisioner.adapters import envelopes
    from provisioner.adapters.validation import validate
    from provisioner.domain.results import rejected
    from provisioner.platform.settings import ConfigError, Settings
    try:
        settings = Settings.from_env()
    except ConfigError as err:
        raise UsageFailure(f"setting {err}") from None
    event_type = importlib.import_module(function).FUNCTION.event_type
    results = []
    for events, envelope in calls:
        decoded = envelopes.decode(wrap(events, envelope, os.environ.get("WEBHOOK_SIGNING_KEY")), settings)
        if decoded.answer is not None:
            results.append({"status": "refused", "message": decoded.refusal})
            continue
        for item in decoded.items:
            problems = item.problems or validate(item.event, event_type)
            if problems:          # bounded exactly as the handler's answer is (results.rejected)
                problems = rejected(None, problems)["errors"]
            event = item.event if isinstance(item.event, dict) else {}
            employee = event.get("employee") if isinstance(event.get("employee"), dict) else {}
            results.append({"eventId": event.get("eventId"), "userName": employee.get("logonName"),
                            "status": "rejected" if problems else "valid",
                            **({"errors": problems} if problems else {})})
    return results


TIMER_ONLY = ("rotation", "audit")     # functions with no event workflow (functions/rotation.py, audit.py)


@cli.command()
@click.argument("function", type=click.Choice(["onboarding", "offboarding", "rotation", "audit"]))
@click.argument("file", required=False, metavar="[FILE]")
@click.option("--csv", "csv_path", metavar="FILE", help="employees, one per row (onboarding: employeeId, logonName, "
              "displayName, email, mobilePhone, mode, level, endDate; offboarding: employeeId, logonName, "
              "lastWorkingDay)")
@click.option("--envelope", type=click.Choice(ENVELOPES), default="direct", show_default=True,
              help="how the events reach the function (FC's trigger shapes)")
@click.option("--payload", metavar="JSON", help="the timer trigger's payload, e.g. '{\"maxDeletions\": 5}'")
@click.option("--mode", type=click.Choice(["programmatic", "console"]), help="CSV: mode for rows that leave it empty")
@click.option("--level", type=click.Choice(["read-only", "full"]), help="CSV: level for rows that leave it empty")
@click.option("--dry-run", is_flag=True, help="the handler's own decoding and validation, no cloud call "
              "(timer: the sweep's dry-run, which reads but changes nothing)")
@click.option("--json", "as_json", is_flag=True, help="results as JSON (for scripts)")
@click.option("--no-state", is_flag=True, help="local target: do not list the users afterwards")
@target_options
def invoke(function, file, csv_path, envelope, payload, mode, level, dry_run, as_json, no_state, target_spec):
    """Send events to a function as FC would deliver them, and show each result (rotation and
    audit: their timer only, ``--envelope timer [--dry-run]``)."""
    from .csvfile import CsvError, describe, read
    timer = envelope == "timer"
    if function in TIMER_ONLY and not timer:
        raise UsageFailure(f"the {function} function takes its timer only: use --envelope timer")
    if sum(bool(x) for x in (file, csv_path)) > 1:
        raise UsageFailure("give an event FILE or --csv FILE, not both")
    if timer and (file or csv_path):
        raise UsageFailure("--envelope timer sends no events: drop FILE/--csv (use --payload)")
    if not timer and not (file or csv_path):
        raise UsageFailure("give an event FILE, --csv FILE, or --envelope timer")
    if payload is not None and not timer:
        raise UsageFailure("--payload is the timer trigger's: use it with --envelope timer")
    timer_payload = {}
    if payload is not None:
        try:
            timer_payload = json.loads(payload)
        except ValueError as err:
            raise UsageFailure(f"--payload: not valid JSON ({getattr(err, 'msg', err)})") from None
        if not isinstance(timer_payload, dict):
            raise UsageFailure("--payload: must be a JSON object, e.g. '{\"dryRun\": true}'")
    if (mode or level) and (not csv_path or function != "onboarding"):
        raise UsageFailure("--mode/--level fill empty cells of an onboarding --csv only")

    rows, rejected_rows = [], []
    if csv_path:
        try:
            rows = read(csv_path, function, mode, level)
        except CsvError as err:
            raise UsageFailure(str(err)) from None
        if not rows:
            raise UsageFailure(f"{csv_path}: no rows under the header")
        rejected_rows = [r for r in rows if r.problems]
        events = [r.event for r in rows if r.event is not None]
        for r in rejected_rows:
            for p in r.problems:
                stderr().print(Text(describe(p, csv_path)))
    elif file:
        events = _load_events(file)
    else:
        events = []
    calls = _requests(events, envelope) if not timer else [([], "timer")]

    if dry_run and not timer:
        os.environ.setdefault("WEBHOOK_SIGNING_KEY", "hrctl-dry-run-" + uuid.uuid4().hex)
        results = _dry_run(function, calls, timer)
        return _finish(results, rows, rejected_rows, csv_path, as_json, dry_run=True)
    if dry_run:
        timer_payload["dryRun"] = True

    with _Session(target_spec) as target:
        from provisioner.cloud.errors import TransientError
        handler = importlib.import_module(function).handler
        key = os.environ.get("WEBHOOK_SIGNING_KEY", "")
        results: list[dict] = []
        console = stderr()
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=console, transient=False, disable=len(calls) <= 1)
        # the functions' log lines print above the bar, never glued to it
        route_function_logs(lambda line: progress.console.out(line.rstrip("\n"), highlight=False))
        with progress:
            task = progress.add_task(f"{function}", total=len(events) or 1)
            for chunk, env in calls:
                try:
                    answer = handler(wrap(chunk, env, key, timer_payload=timer_payload), None)
                    results.extend(_answers(answer, len(chunk)))
                except TransientError as err:     # FC would retry the invocation; here: reported failed
                    results.extend({"eventId": e.get("eventId") if isinstance(e, dict) else None,
                                    "status": "failed", "reason": f"transient, retry later: {err}"}
                                   for e in (chunk or [None]))
                progress.advance(task, max(len(chunk), 1))
        code = _finish(results, rows, rejected_rows, csv_path, as_json, dry_run=False)
        if target.kind == "local" and not no_state and not as_json and not timer:
            stderr().print(Text(f"target: {target.description}"))
            _users_table(_collect())
        return code


def _finish(results, rows, rejected_rows, csv_path, as_json, dry_run):
    if csv_path:
        sent = [r for r in rows if r.event is not None]
        merged = [_csv_annotate(res, row) for res, row in zip(results, sent, strict=False)]
        merged += [{"row": r.number, "userName": r.logon_name or None, "status": "rejected", "errors": r.problems}
                   for r in rejected_rows]
        results = sorted(merged, key=lambda r: r["row"])
    _print_results(results, as_json, csv_path)
    console = stderr()
    if dry_run:
        bad = sum(1 for r in results if _is_bad(r))
        console.print(Text(f"dry-run: {len(results) - bad} valid, {bad} invalid; no cloud call made"))
    else:
        _summary(results, console)
    return BAD if any(_is_bad(r) for r in results) else OK


# -- users / user / report ------------------------------------------------------------------------
def _collect(progress_console: Console | None = None, listing=None) -> list[dict]:
    """Every managed user as the access review sees it (audit.row), read as the daily audit reads it
    (workflows.audit.read_user: the same facts, the same rules, the same settings). ``listing``: a
    ``directory.list_users`` already read (None: read it here)."""
    from provisioner.cloud import directory
    from provisioner.domain import audit
    from provisioner.platform import clock, runtime
    from provisioner.workflows import audit as audit_run
    rt = runtime.get()
    listing = directory.list_users(rt.cloud) if listing is None else listing
    index = directory.all_secrets(rt.secrets)
    policy = audit_run.policy(rt.settings)
    rows = []
    progress = Progress(TextColumn("reading users"), BarColumn(), MofNCompleteColumn(),
                        console=progress_console or stderr(), disable=len(listing.managed) < 20)
    with progress:
        task = progress.add_task("users", total=len(listing.managed))
        for managed in sorted(listing.managed, key=lambda m: m.user_name):
            view = audit_run.read_user(rt, managed, index)
            rows.append(audit.row(view, clock.now(), rt.settings.hr_timezone, rt.settings.offboard_grace_days,
                                  policy))
            progress.advance(task)
    return rows


def _when(row: dict) -> str:
    if not row.get("nextAction"):
        return "-"
    at = (row["nextActionAt"] or "")[:16].replace("T", " ")
    return f"{row['nextAction']} {'now (due)' if row['due'] else at}"


def _users_table(rows: list[dict]) -> None:
    table = Table(title=f"{len(rows)} managed user(s)", pad_edge=False)
    for name in ("user", "employee", "state", "level", "credential", "key age", "MFA", "leave / end",
                 "next action", "findings"):
        table.add_column(name, overflow="fold")
    for r in rows:
        dates = " / ".join(d or "-" for d in (r["leaveDate"], r["contractEnd"]))
        table.add_row(*[Text(str(c)) for c in (
            r["userName"], r["employeeId"], r["state"], r["level"] or "-", r["credential"],
            f"{r['keyAgeDays']} d" if r["keyAgeDays"] is not None else "-",
            "yes" if r["mfa"] else ("no" if r["console"] else "-"), dates, _when(r),
            len(r["findings"]) or "-")], style="yellow" if r["findings"] else None)
    show(table)


def _read_failure(err):
    from provisioner.cloud.errors import CloudError, TransientError
    if isinstance(err, (CloudError, TransientError)):
        raise NotFound(f"cannot read the account: {err}") from None
    raise err


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="a JSON array (for scripts)")
@target_options
def users(as_json, target_spec):
    """Every managed user: state, level, credential kind, key age, MFA, dates, the next action. Never a credential."""
    with _Session(target_spec):
        try:
            rows = _collect()
        except Exception as err:  # noqa: BLE001 - cloud errors become one line; others re-raised
            _read_failure(err)
        if as_json:
            out(json.dumps(rows, ensure_ascii=False, indent=2))
        else:
            _users_table(rows)
    return OK


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="JSON (for scripts)")
@target_options
def user(name, as_json, target_spec):
    """One managed user in full, with the access review's findings."""
    with _Session(target_spec):
        from provisioner.cloud import directory
        from provisioner.domain import audit, ownership
        from provisioner.platform import clock, runtime
        from provisioner.workflows import audit as audit_run
        rt = runtime.get()
        try:
            found = directory.get_user(rt.cloud, name)
            if found is None:
                raise NotFound(f"{name}: no such RAM user")
            marker = ownership.owned_by(found)
            if marker is None:
                raise NotFound(f"{name}: not managed by hr-ram-provisioner (no ownership marker); not shown")
            view = audit_run.read_user(rt, directory.ManagedUser(name, marker, found))
        except NotFound:
            raise
        except Exception as err:  # noqa: BLE001
            _read_failure(err)
        r = audit.row(view, clock.now(), rt.settings.hr_timezone, rt.settings.offboard_grace_days,
                      audit_run.policy(rt.settings))
        if as_json:
            out(json.dumps(r, ensure_ascii=False, indent=2))
            return OK
        table = Table(show_header=False, title=name, pad_edge=False)
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        keys = ", ".join(f"{k['accessKeyId']} ({k['status']}, {k['createdAt']})" for k in r["accessKeys"]) or "-"
        for label, value in (
                ("display name", r["displayName"]), ("employee id", r["employeeId"]), ("state", r["state"]),
                ("level", r["level"] or "-"), ("credential", r["credential"]),
                ("AccessKeys", keys), ("key age", f"{r['keyAgeDays']} days" if r["keyAgeDays"] is not None else "-"),
                ("console MFA", "yes" if r["mfa"] else ("no" if r["console"] else "-")),
                ("policies", ", ".join(r["policies"]) or "-"), ("groups", ", ".join(r["groups"]) or "-"),
                ("secret", f"{r['secretName']} ({r['secretType']})" if r["secretName"] else "-"),
                ("leave date", r["leaveDate"] or "-"), ("contract end", r["contractEnd"] or "-"),
                ("disabled at", r["disabledAt"] or "-"), ("next action", _when(r)),
                ("created", r["createdAt"] or "-")):
            table.add_row(Text(label), Text(str(value)))
        show(table)
        if r["findings"]:
            for f in r["findings"]:
                show(Text(f"finding [{f['severity']}] {f['alert']}: {f['message']}"))
        else:
            show(Text("no findings"))
    return OK


@cli.command()
@click.option("--html", "html_path", metavar="FILE", required=True, help="write the access review page here")
@click.option("--csv", "csv_path", metavar="FILE", help="also one row per user as CSV")
@target_options
def report(html_path, csv_path, target_spec):
    """The access review: one self-contained HTML page (and a CSV) an auditor can read."""
    from .report import account_line, render_csv, render_html
    for path in filter(None, (html_path, csv_path)):
        parent = Path(path).resolve().parent
        if not parent.is_dir():
            raise UsageFailure(f"{path}: the directory {parent} does not exist")
    with _Session(target_spec) as target:
        from provisioner.cloud import directory
        from provisioner.domain import audit
        from provisioner.platform import clock, runtime
        from provisioner.workflows import audit as audit_run
        try:
            listing = directory.list_users(runtime.get().cloud)
            rows = _collect(listing=listing)
            account = account_line(runtime.get(), target)
            # the audit's own account findings (password policy, one employee one active user)
            account_findings = audit_run.account_findings(runtime.get(), listing.managed)
        except Exception as err:  # noqa: BLE001
            _read_failure(err)
        summary = audit.summary(rows)
        generated = clock.now()
        outputs = [(html_path, render_html(rows, summary, account, generated, account_findings))]
        if csv_path:
            outputs.append((csv_path, render_csv(rows)))
        for path, text in outputs:
            try:
                Path(path).write_text(text, encoding="utf-8")
            except OSError as err:
                raise UsageFailure(f"{path}: cannot write ({err.strerror})") from None
        stderr().print(Text(f"access review of {account}: {summary['users']} user(s), {summary['findings']} "
                            f"finding(s) on {summary['withFindings']} user(s) -> {', '.join(p for p, _ in outputs)}"))
    return OK


# -- setup -----------------------------------------------------------------------------------------
@cli.command()
@click.option("--read-only-group", default=DEFAULT_GROUPS["read-only"], show_default=True, metavar="NAME",
              help="the RAM group holding AliyunARMSReadOnlyAccess (the functions' GROUP_READ_ONLY)")
@click.option("--full-group", default=DEFAULT_GROUPS["full"], show_default=True, metavar="NAME",
              help="the RAM group holding AliyunARMSFullAccess (the functions' GROUP_FULL)")
@click.option("--role-name", default=FUNCTION_ROLE, show_default=True, metavar="NAME",
              envvar="HR_PROVISIONER_ROLE_NAME",
              help="the functions' execution role (s.yaml's; env HR_PROVISIONER_ROLE_NAME)")
@click.option("--policies-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="where the role policy files are (default: the repository's policies/)")
@click.option("--grant-mode", type=click.Choice(["group", "user"]), default="group", show_default=True,
              envvar="GRANT_MODE", help="the functions' GRANT_MODE: which execution role document to install")
@click.option("--audit-fixes", is_flag=True, envvar="AUDIT_FIXES",
              help="the functions' AUDIT_FIXES=true: the audit role also gets policies/audit-fix-role-policy.json")
@click.option("--apply-password-policy", is_flag=True,
              help="set the account's password policy to CIS 1.7-1.14 (stricter values already set are kept)")
@click.option("--detach-extra", is_flag=True, help="detach policies found on setup's groups and roles that are "
              "not setup's own (default: report them)")
@click.option("--dry-run", is_flag=True, help="read and print the plan; change nothing")
@click.option("--json", "as_json", is_flag=True, help="the plan, what was done and the findings as JSON")
@target_options
def setup(read_only_group, full_group, role_name, policies_dir, grant_mode, audit_fixes, apply_password_policy,
          detach_extra, dry_run, as_json, target_spec):
    """One-time bootstrap of the account, as an administrator: the two ARMS groups, the execution
    role(s) with their trust and Custom policies, and the password policy against CIS 1.7-1.14.
    Idempotent: a second run changes nothing. Exit 1 while findings remain."""
    from . import setup as bootstrap
    try:
        opts = bootstrap.options(read_only_group, full_group, role_name, policies_dir, apply_password_policy,
                                 detach_extra, grant_mode, audit_fixes)
    except bootstrap.SetupError as err:
        raise UsageFailure(str(err)) from None
    with _Session(target_spec) as target:
        from provisioner.cloud.errors import CloudError, TransientError
        from provisioner.platform import runtime
        rt = runtime.get()
        try:
            plan = bootstrap.plan(rt.cloud, opts)
        except (CloudError, TransientError) as err:
            raise NotFound(f"cannot read the account: {err}") from None
        done, failure = 0, None
        if not dry_run:
            try:
                done = bootstrap.execute(rt, plan)
            except (CloudError, TransientError) as err:
                done, failure = getattr(err, "done", 0), err
        _setup_report(plan, done, failure, dry_run, as_json, target.description)
    return BAD if plan.findings or failure is not None else OK


def _setup_report(plan, done, failure, dry_run, as_json, where) -> None:
    described = [p.describe() for p in plan.steps]
    if as_json:
        body = {"dryRun": dry_run, "plan": described, "stepsDone": done, "findings": plan.findings,
                "passwordPolicy": plan.password}
        if failure is not None:
            body["failure"] = {"step": getattr(failure, "step", None), "error": str(failure)}
        out(json.dumps(body, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"setup plan ({'dry-run: nothing changed' if dry_run else where})", pad_edge=False)
    for name in ("#", "action", "on", "why", "status"):
        table.add_column(name, overflow="fold")
    for i, (step, shown) in enumerate(zip(plan.steps, described, strict=True), 1):
        target = ", ".join(f"{k}={v}" for k, v in shown.items() if k not in ("action", "why", "Description",
                                                                                "Comments"))
        status = "planned" if dry_run else ("done" if i <= done else ("FAILED" if i == done + 1 and failure
                                                                         else "not run"))
        table.add_row(Text(str(i)), Text(step.step.action), Text(target), Text(shown["why"]), Text(status),
                      style="red" if status == "FAILED" else None)
    if plan.steps:
        show(table)
    else:
        show(Text("setup: nothing to do (groups, roles and policies are as setup makes them)"))
    policy = Table(title="password policy against CIS Alibaba Cloud 1.7-1.14", pad_edge=False)
    for name in ("CIS", "field", "expected", "actual", ""):
        policy.add_column(name, overflow="fold")
    for row in plan.password:
        policy.add_row(*[Text(str(c)) for c in (row["cis"], row["field"], row["expected"], json.dumps(row["actual"]),
                                                "ok" if row["compliant"] else "FAILS")],
                       style=None if row["compliant"] else "yellow")
    show(policy)
    for finding in plan.findings:
        show(Text(f"finding: {finding['message']}"))
    if failure is not None:
        stderr().print(Text(f"setup stopped: {failure}; {done} step(s) done; run it again to finish"))


# -- credential ------------------------------------------------------------------------------------
@cli.group()
def credential():
    """The credential a managed user's secret holds (helpdesk handover)."""


@credential.command("show")
@click.argument("name")
@click.option("--force", is_flag=True, help="print even when stdout is not a terminal (a pipe or a file)")
@target_options
def credential_show(name, force, target_spec):
    """Print NAME's credential from KMS, to a terminal only. Never logged.

    Needs kms:GetSecretValue on the secret (policies/credential-reader-policy.json); the
    function's own role cannot read it.
    """
    if not force and not sys.stdout.isatty():
        raise UsageFailure("refusing to print a credential to a pipe or a file (stdout is not a terminal); "
                           "run it in a terminal, or add --force if you really mean it")
    with _Session(target_spec):
        from provisioner.cloud import directory
        from provisioner.domain import ownership
        from provisioner.platform import runtime
        rt = runtime.get()
        try:
            found = directory.get_user(rt.cloud, name)
            marker = ownership.owned_by(found) if found is not None else None
            if marker is None:
                raise NotFound(f"{name}: no RAM user managed by hr-ram-provisioner has this name")
            info = next(directory.owned_secrets(rt.secrets, name, marker.employee_id), None)
            if info is None or info.in_delete_window:
                raise NotFound(f"{name}: no secret of ours holds a credential for this user")
            body = rt.cloud.kms("GetSecretValue", SecretName=info.name)
        except NotFound:
            raise
        except Exception as err:  # noqa: BLE001
            _read_failure(err)
        try:
            value = json.loads(body.get("SecretData") or "{}")
        except ValueError:
            raise NotFound(f"{info.name}: the secret's value is not the documented JSON layout") from None
        lines = [f"secret:          {info.name} (version {body.get('VersionId')})"]
        if "AccessKeys" in value:                                   # RAMCredentials layout
            lines += [f"logon name:      {name}"]
            for key in value.get("AccessKeys") or []:
                lines += [f"AccessKeyId:     {key.get('AccessKeyId')}",
                          f"AccessKeySecret: {key.get('AccessKeySecret')}"]
        else:                                                       # Generic layout
            lines += [f"logon name:      {value.get('LogonPrincipal')}"]
            if value.get("AccessKeyId"):
                lines += [f"AccessKeyId:     {value['AccessKeyId']}",
                          f"AccessKeySecret: {value.get('AccessKeySecret')}"]
            if value.get("Password"):
                lines += [f"password:        {value['Password']}"]
        for line in lines:
            out(line)          # plain echo: no markup, no log, nothing else sees it
    return OK


# -- entry point ---------------------------------------------------------------------------------
def _stdout_gone() -> None:
    """After a closed pipe (``| head``): send further output to /dev/null so the exit is quiet.
    (Python ignores SIGPIPE, so a write raises BrokenPipeError instead of ending the process.)"""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv=None) -> int:
    """The ``hrctl`` console script (and ``python -m hrctl``)."""
    try:
        code = cli.main(args=argv, prog_name="hrctl", standalone_mode=False)
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    except click.UsageError as err:
        where = err.ctx.command_path if err.ctx is not None else "hrctl"
        click.echo(f"hrctl: {err.format_message()} (see `{where} --help`)", err=True)
        return USAGE
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.Abort:
        click.echo("hrctl: aborted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("hrctl: interrupted", err=True)
        return 130
    except BrokenPipeError:
        _stdout_gone()
        return OK
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_gone()
    return code if isinstance(code, int) else OK


if __name__ == "__main__":
    sys.exit(main())
