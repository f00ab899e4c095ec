"""The access review as one self-contained HTML page (inline CSS, charts as inline SVG drawn
here; no script, no external asset) and as CSV. Input: ``domain.audit.row``/``summary`` outputs,
which never hold a credential. Every text from the cloud is HTML-escaped."""
from __future__ import annotations

import csv
import io
from datetime import datetime
from html import escape

from provisioner.domain import audit

PALETTE = {"active": "#2e7d32", "disabled": "#9e9e9e", "read-only": "#1565c0", "full": "#6a1b9a",
           "none": "#bdbdbd", "mixed": "#c62828", "< 30 days": "#2e7d32", "30-90 days": "#f9a825",
           "> 90 days": "#c62828", audit.NO_KEY: "#bdbdbd"}

CSS = """
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;
margin:0;color:#1f2328;background:#f6f8fa}header{background:#1f2937;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#cbd5e1}main{padding:20px 28px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:18px}.card{background:#fff;border:1px solid #d0d7de;
border-radius:8px;padding:12px 16px;min-width:150px}.card b{display:block;font-size:26px}.card span{color:#57606a}
.card.warn b{color:#c62828}.charts{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:18px}
figure{background:#fff;border:1px solid #d0d7de;border-radius:8px;margin:0;padding:12px 16px;flex:1;min-width:260px}
figcaption{font-weight:600;margin-bottom:6px}svg text{font:12px system-ui,sans-serif;fill:#1f2328}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d0d7de}
th,td{border-bottom:1px solid #d8dee4;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}tr.flag td:first-child{border-left:4px solid #c62828}
.sev-high{color:#c62828;font-weight:600}.sev-medium{color:#b26a00;font-weight:600}.ok{color:#2e7d32}
.muted{color:#57606a}ul{margin:0;padding-left:18px}footer{padding:8px 28px 24px;color:#57606a;font-size:12px}
h2{font-size:17px;margin:22px 0 8px}td.nw{white-space:nowrap}code{font-size:12px}
"""


def account_line(rt, target) -> str:
    """``alias (account id)`` as RAM answers it."""
    alias = ""
    try:
        alias = (rt.cloud.ram("GetAccountAlias").get("AccountAlias") or "").strip()
    except Exception:  # noqa: BLE001, S110 - an account without an alias (or the right) is still reviewed
        pass
    account_id = getattr(target, "account_id", "") or ""
    if alias and account_id:
        return f"{alias} ({account_id})"
    return alias or account_id or "unknown account"


def bar_chart(counts: dict[str, int], width: int = 320) -> str:
    """Horizontal bars, one per label, as inline SVG."""
    items = list(counts.items())
    row_h, label_w, value_w = 26, 110, 36
    height = max(1, len(items)) * row_h + 6
    top = max([v for _, v in items] or [0]) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i, (label, value) in enumerate(items):
        y = i * row_h + 4
        bar = int((width - label_w - value_w) * value / top)
        color = PALETTE.get(label, "#57606a")
        parts.append(f'<text x="0" y="{y + 15}">{escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{max(bar, 2 if value else 0)}" height="18" rx="3" '
                     f'fill="{color}"><title>{escape(label)}: {value}</title></rect>'
                     f'<text x="{label_w + bar + 6}" y="{y + 15}">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _findings_cell(findings: list[dict]) -> str:
    if not findings:
        return '<span class="ok">none</span>'
    return "<ul>" + "".join(f'<li><span class="sev-{escape(f["severity"])}">{escape(f["alert"])}</span>: '
                            f'{escape(f["message"])}</li>' for f in findings) + "</ul>"


def _next(row: dict) -> str:
    if not row["nextAction"]:
        return '<span class="muted">-</span>'
    when = "due now" if row["due"] else escape((row["nextActionAt"] or "").replace("T", " ").replace("Z", " UTC"))
    return f"{escape(row['nextAction'])} <span class=\"muted\">{when}</span>"


# What each rule checks (the page's legend), in the rules' order; README "The access review" says the same.
RULE_TEXT = (
    (audit.CONSOLE_WITHOUT_MFA, "CIS 1.4", "a console user without an MFA device after MFA_GRACE_DAYS"),
    (audit.CONSOLE_UNUSED, "CIS 1.5", "no console logon for 90 days (the audit can disable it)"),
    (audit.KEY_UNUSED, "AK governance", "an active AccessKey unused for 90 days (never used: since created)"),
    (audit.KEY_TOO_OLD, "CIS 1.6", "an active AccessKey older than KEY_MAX_AGE_DAYS (default 90): rotation due"),
    (audit.MULTIPLE_ACTIVE_KEYS, "AK governance", "more than one active AccessKey outside a rotation"),
    (audit.FOREIGN_POLICY, "drift", "a policy other than AliyunARMSReadOnlyAccess / AliyunARMSFullAccess"),
    (audit.FOREIGN_GROUP, "drift", "a group other than ours"),
    (audit.DIRECT_ARMS_ATTACHMENT, "CIS 1.16", "an ARMS policy attached directly in group mode"),
    (audit.SECRET_MISSING, "handover", "no secret of ours holds the credential"),
    (audit.SECRET_FOREIGN, "handover", "a secret at the user's name is not tagged as this employee's"),
    (audit.KEY_NOT_IN_KMS, "invariant", "the active AccessKey is not the one KMS holds"),
    (audit.DISABLED_WITH_CREDENTIAL, "invariant", "a disabled user still has a credential"),
    (audit.PASSWORD_POLICY, "CIS 1.7-1.14", "the account's password policy (one finding for the account)"),
    (audit.MULTIPLE_ACTIVE_USERS, "invariant", "an employee with more than one active user (one finding per "
     "employee, on the Account line; never fixed: a human decides which user stays)"),
)


def render_html(rows: list[dict], summary: dict, account: str, generated: datetime,
                account_findings: list[dict] | None = None) -> str:
    when = generated.strftime("%Y-%m-%d %H:%M UTC")
    cards = [(summary["users"], "managed users", False),
             (summary["byState"].get("active", 0), "active", False),
             (summary["byState"].get("disabled", 0), "disabled", False),
             (summary["withFindings"], "users with findings", summary["withFindings"] > 0),
             (summary["findings"], "findings", summary["findings"] > 0),
             (summary["due"], "changes due now", False)]
    by_state = {"active": summary["byState"].get("active", 0), "disabled": summary["byState"].get("disabled", 0)}
    levels = {k: summary["byLevel"].get(k, 0) for k in ("read-only", "full", "none", "mixed")
              if k in ("read-only", "full") or summary["byLevel"].get(k)}
    html = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Access review: {escape(account)}, {escape(when)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>ARMS access review</h1><p>Account <b>{escape(account)}</b> · generated {escape(when)} "
        "by hrctl report · users managed by hr-ram-provisioner</p></header><main>",
        '<section class="cards">' + "".join(
            f'<div class="card{" warn" if warn else ""}"><b>{n}</b><span>{escape(label)}</span></div>'
            for n, label, warn in cards) + "</section>",
        '<section class="charts">',
        f"<figure><figcaption>Users by state</figcaption>{bar_chart(by_state)}</figure>",
        f"<figure><figcaption>Users by ARMS level</figcaption>{bar_chart(levels)}</figure>",
        f"<figure><figcaption>Oldest active AccessKey</figcaption>{bar_chart(summary['byKeyAge'])}</figure>",
        "</section>",
        "<h2>Account</h2>",
        f"<div>{_findings_cell(account_findings or [])}</div>",
        "<h2>Users</h2>",
        "<table><thead><tr><th>user</th><th>employee</th><th>state</th><th>level</th><th>credential</th>"
        "<th>key age</th><th>MFA</th><th>leave / contract end</th><th>next action</th><th>secret</th>"
        "<th>findings</th></tr></thead><tbody>",
    ]
    for r in rows:
        age = f"{r['keyAgeDays']} days" if r["keyAgeDays"] is not None else '<span class="muted">-</span>'
        mfa = "yes" if r["mfa"] else ("<b>no</b>" if r["console"] else '<span class="muted">-</span>')
        dates = " / ".join(escape(d) if d else "-" for d in (r["leaveDate"], r["contractEnd"]))
        name = escape(r["userName"]) + (f'<br><span class="muted">{escape(r["displayName"])}</span>'
                                        if r["displayName"] else "")
        flag = "flag" if r["findings"] else ""
        html.append(
            f'<tr class="{flag}"><td class="nw">{name}</td><td>{escape(r["employeeId"])}</td>'
            f'<td>{escape(r["state"])}</td><td class="nw">{escape(r["level"] or "-")}</td>'
            f'<td>{escape(r["credential"])}</td><td>{age}</td><td>{mfa}</td><td>{dates}</td><td>{_next(r)}</td>'
            f'<td class="nw"><code>{escape(r["secretName"] or "-")}</code></td>'
            f'<td>{_findings_cell(r["findings"])}</td></tr>')
    if not rows:
        html.append('<tr><td colspan="11" class="muted">no managed users</td></tr>')
    html += ["</tbody></table>",
             "<h2>What is checked</h2><ul>" + "".join(
                 f"<li><b>{escape(code)}</b> ({escape(ref)}): {escape(text)}</li>" for code, ref, text in RULE_TEXT)
             + "</ul>",
             "</main><footer>No credential appears in this report: identifiers, dates and findings only. "
             "Next actions follow the sweep's rules (HR_TIMEZONE, OFFBOARD_GRACE_DAYS).</footer></body></html>"]
    return "\n".join(html) + "\n"


CSV_COLUMNS = ("userName", "displayName", "employeeId", "state", "level", "credential", "keyAgeDays", "mfa",
               "leaveDate", "contractEnd", "disabledAt", "nextAction", "nextActionAt", "policies", "groups",
               "secretName", "findings")


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula (display names come from HR)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        values = dict(r, policies=" ".join(r["policies"]), groups=" ".join(r.get("groups") or []),
                      findings="; ".join(f"{f['alert']}: {f['message']}" for f in r["findings"]))
        writer.writerow([_cell(values.get(c)) for c in CSV_COLUMNS])
    return buffer.getvalue()
