"""Employees from a CSV file, one event per row, every problem named by row and column.

Row numbers are the file's line numbers as a spreadsheet shows them (the header is row 1).
A missing ``mode`` or ``level`` is an error, never a silent default: the operator fills the
cell or says so for every row with ``--mode`` / ``--level``.
"""
from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass, field

from provisioner.platform import clock

ONBOARDING_COLUMNS = ("employeeId", "logonName", "displayName", "email", "mobilePhone", "mode", "level", "endDate")
OFFBOARDING_COLUMNS = ("employeeId", "logonName", "lastWorkingDay")
COLUMNS = {"onboarding": ONBOARDING_COLUMNS, "offboarding": OFFBOARDING_COLUMNS}
REQUIRED = {"onboarding": ("employeeId", "logonName", "displayName"), "offboarding": ("employeeId", "logonName")}
CHOICES = {"mode": ("programmatic", "console"), "level": ("read-only", "full")}


class CsvError(Exception):
    """The file as a whole cannot be read (missing, not UTF-8, header wrong): a usage error."""


@dataclass
class Row:
    number: int                       # the line in the file (header = 1)
    values: dict
    event: dict | None = None
    problems: list = field(default_factory=list)     # {"row", "column", "message"}

    @property
    def logon_name(self):
        return self.values.get("logonName") or ""


def column_of(path: str) -> str | None:
    """The CSV column a validation problem's JSON path (``$.employee.logonName``) names."""
    last = path.rsplit(".", 1)[-1]
    known = set(ONBOARDING_COLUMNS) | set(OFFBOARDING_COLUMNS)
    return last if last in known else None


def problem(number: int, column: str | None, message: str) -> dict:
    return {"row": number, "column": column, "message": message}


def describe(p: dict, path: str) -> str:
    where = f"{path} row {p['row']}" + (f", column {p['column']}" if p.get("column") else "")
    return f"{where}: {p['message']}"


def _event(function: str, row: dict, defaults: dict) -> dict:
    occurred = clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    employee_fields = ("employeeId", "logonName", "displayName", "email", "mobilePhone")
    employee = {k: row[k] for k in employee_fields if row.get(k)}
    # the eventId is derived from the row, so re-importing the same file is idempotent
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"hrctl-csv:{function}:" + json.dumps(row, sort_keys=True)))
    if function == "offboarding":
        event = {"eventId": event_id, "eventType": "employee.offboarded", "occurredAt": occurred,
                 "employee": employee}
        if row.get("lastWorkingDay"):
            event["lastWorkingDay"] = row["lastWorkingDay"]
        return event
    event = {"eventId": event_id, "eventType": "employee.onboarded", "occurredAt": occurred,
             "employee": employee,
             "access": {"mode": row.get("mode") or defaults.get("mode"),
                        "level": row.get("level") or defaults.get("level")}}
    if row.get("endDate"):
        event["endDate"] = row["endDate"]
    return event


def read(path: str, function: str, mode: str | None = None, level: str | None = None) -> list[Row]:
    """Every row with its event, or with the problems that keep it from being sent."""
    columns = COLUMNS[function]
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise CsvError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CsvError(f"{path}: is a directory, not a CSV file") from None
    except UnicodeDecodeError as err:
        raise CsvError(f"{path}: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise CsvError(f"{path}: cannot read ({err.strerror})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as err:
        raise CsvError(f"{path} row 1: {err}") from None
    if not header:
        raise CsvError(f"{path}: empty file (expected a header row: {', '.join(columns)})")
    reader.fieldnames = header
    unknown = [h for h in header if h not in columns]
    if unknown:
        raise CsvError(f"{path} row 1: unknown column(s) {', '.join(unknown)}; known: {', '.join(columns)}")
    missing = [c for c in REQUIRED[function] if c not in header]
    if function == "onboarding":
        missing += [c for c, given in (("mode", mode), ("level", level)) if c not in header and not given]
    if missing:
        raise CsvError(f"{path} row 1: missing column(s) {', '.join(missing)}"
                       + ("; mode and level may instead be given for every row with --mode/--level"
                          if {"mode", "level"} & set(missing) else ""))
    defaults = {"mode": mode, "level": level}
    rows = []
    try:
        for values in reader:
            number = reader.line_num
            if None in values:
                rows.append(Row(number, {}, problems=[problem(number, None, "more cells than header columns")]))
                continue
            clean = {k: (v or "").strip() for k, v in values.items()}
            if not any(clean.values()):
                continue                                  # a blank line
            row = Row(number, clean)
            if function == "onboarding":
                for column in ("mode", "level"):
                    value = clean.get(column) or defaults[column]
                    if not value:
                        row.problems.append(problem(number, column, f"is empty; give {' or '.join(CHOICES[column])} "
                                                                    f"(or --{column} for every row)"))
            if not row.problems:
                row.event = _event(function, clean, defaults)
            rows.append(row)
    except csv.Error as err:
        raise CsvError(f"{path} row {reader.line_num}: {err}") from None
    return rows
