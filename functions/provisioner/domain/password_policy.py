"""The account's RAM password policy against the CIS Alibaba Cloud Foundations Benchmark 1.7-1.14.

Pure: a ``GetPasswordPolicy`` body's ``PasswordPolicy`` in, findings and the values to set out.
Used by ``hrctl setup`` (report, ``--apply-password-policy``); the account-level half of the
benchmark's section 1 (the per-user rules are the audit's).

The controls (CIS Alibaba Cloud Foundations Benchmark v1.0.0, section 1 "Identity and Access
Management"; checked against the published control texts, e.g.
https://hub.powerpipe.io/mods/turbot/steampipe-mod-alicloud-compliance/benchmarks/control.cis_v100_1_12 and
.../control.cis_v100_1_14, https://cyscale.com/cloud-security-wiki/grc-catalog/controls/cis-alibaba-1-0-0-iam-11):

  1.7  requires at least one uppercase letter      RequireUppercaseCharacters = true
  1.8  requires at least one lowercase letter      RequireLowercaseCharacters = true
  1.9  requires at least one symbol                RequireSymbols = true
  1.10 requires at least one number                RequireNumbers = true
  1.11 requires a minimum length of 14 or greater  MinimumPasswordLength >= 14
  1.12 prevents password reuse (5 passwords)       PasswordReusePrevention >= 5
  1.13 expires passwords in 90 days or less        1 <= MaxPasswordAge <= 90   (0 = never expires)
  1.14 blocks logon after 5 incorrect attempts     1 <= MaxLoginAttemps <= 5   (0 = never blocks;
       within an hour                                                         the API spells it so)

Invariant: ``compliant_values`` never weakens a setting. A value already stricter than the
benchmark is kept (a longer minimum length, more remembered passwords, a shorter expiry, fewer
attempts); ``HardExpiry`` (not a CIS control) is kept as it is. It returns every field, because
SetPasswordPolicy returns a field it is not given to its default.
Deviation: 1.12's benchmark text says "5"; a larger remembered-password count is stricter and
accepted (the Powerpipe query accepts exactly 5 only).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

MIN_LENGTH = 14
REUSE_PREVENTION = 5
MAX_AGE_DAYS = 90
MAX_LOGIN_ATTEMPTS = 5

# Every field SetPasswordPolicy takes (the RAM 2015-05-01 metadata), in its order.
FIELDS = ("MinimumPasswordLength", "RequireLowercaseCharacters", "RequireUppercaseCharacters", "RequireNumbers",
          "RequireSymbols", "HardExpiry", "MaxPasswordAge", "PasswordReusePrevention", "MaxLoginAttemps")


@dataclass(frozen=True)
class Control:
    cis: str                                   # "1.11"
    field: str                                 # the API's field name
    title: str
    expected: str                              # what the benchmark wants, for a report
    ok: Callable[[Any], bool]
    fix: Callable[[Any], Any]                  # the value to set: the current one if already stricter


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _bounded(limit: int) -> Callable[[Any], bool]:
    return lambda value: 1 <= _int(value) <= limit


CONTROLS: tuple[Control, ...] = (
    Control("1.7", "RequireUppercaseCharacters", "at least one uppercase letter", "true",
            lambda v: v is True, lambda v: True),
    Control("1.8", "RequireLowercaseCharacters", "at least one lowercase letter", "true",
            lambda v: v is True, lambda v: True),
    Control("1.9", "RequireSymbols", "at least one symbol", "true", lambda v: v is True, lambda v: True),
    Control("1.10", "RequireNumbers", "at least one number", "true", lambda v: v is True, lambda v: True),
    Control("1.11", "MinimumPasswordLength", "minimum length of 14 or greater", f">= {MIN_LENGTH}",
            lambda v: _int(v) >= MIN_LENGTH, lambda v: max(_int(v), MIN_LENGTH)),
    Control("1.12", "PasswordReusePrevention", "prevents password reuse", f">= {REUSE_PREVENTION}",
            lambda v: _int(v) >= REUSE_PREVENTION, lambda v: max(_int(v), REUSE_PREVENTION)),
    Control("1.13", "MaxPasswordAge", "expires passwords in 90 days or less", f"1-{MAX_AGE_DAYS} days",
            _bounded(MAX_AGE_DAYS), lambda v: _int(v) if _bounded(MAX_AGE_DAYS)(v) else MAX_AGE_DAYS),
    Control("1.14", "MaxLoginAttemps", "blocks logon after 5 incorrect attempts within an hour",
            f"1-{MAX_LOGIN_ATTEMPTS}", _bounded(MAX_LOGIN_ATTEMPTS),
            lambda v: _int(v) if _bounded(MAX_LOGIN_ATTEMPTS)(v) else MAX_LOGIN_ATTEMPTS),
)


def report(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per control: ``{"cis", "field", "title", "expected", "actual", "compliant"}``."""
    return [{"cis": c.cis, "field": c.field, "title": c.title, "expected": c.expected,
             "actual": policy.get(c.field), "compliant": c.ok(policy.get(c.field))} for c in CONTROLS]


def findings(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The controls the policy fails (empty: compliant with 1.7-1.14)."""
    return [row for row in report(policy) if not row["compliant"]]


def compliant_values(policy: Mapping[str, Any]) -> dict[str, Any]:
    """Every SetPasswordPolicy field: the benchmark's value where the policy fails a control, the
    current value otherwise (never weaker than now)."""
    values = {name: policy.get(name) for name in FIELDS}
    for control in CONTROLS:
        if not control.ok(policy.get(control.field)):
            values[control.field] = control.fix(policy.get(control.field))
    values["HardExpiry"] = bool(policy.get("HardExpiry", False))
    return values
