"""Credential rules that need no cloud call: the password generator and how a secret version
says which credential it holds."""
from __future__ import annotations

import secrets as _csprng
import string
from collections.abc import Mapping
from typing import Any

PROGRAMMATIC, CONSOLE = "programmatic", "console"
# A password version's id; an AccessKey version is named after its AccessKeyId (an identifier).
PASSWORD_VERSION_PREFIX = "pw-"  # noqa: S105 - a version-id prefix, not a password
# RAM accepts these in passwords; a conservative subset of ASCII punctuation.
PASSWORD_SYMBOLS = "!@#$%^&*()-_=+[]{}:,.?"  # noqa: S105 - an alphabet, not a password
PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH, PASSWORD_TARGET_LENGTH = 8, 32, 20


def password_version_id(token: str) -> str:
    return f"{PASSWORD_VERSION_PREFIX}{token}"


def is_password_version(version_id: str | None) -> bool:
    return bool(version_id) and str(version_id).startswith(PASSWORD_VERSION_PREFIX)


def make_password(policy: Mapping[str, Any] | None) -> str:
    """A CSPRNG password meeting ``GetPasswordPolicy``'s length and class rules (every class is included)."""
    minimum = int((policy or {}).get("MinimumPasswordLength") or PASSWORD_MIN_LENGTH)
    length = min(max(minimum, PASSWORD_TARGET_LENGTH), PASSWORD_MAX_LENGTH)
    classes = [string.ascii_lowercase, string.ascii_uppercase, string.digits, PASSWORD_SYMBOLS]
    alphabet = "".join(classes)
    chars = [_csprng.choice(c) for c in classes]
    chars += [_csprng.choice(alphabet) for _ in range(length - len(chars))]
    _csprng.SystemRandom().shuffle(chars)
    return "".join(chars)
