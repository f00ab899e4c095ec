"""RAM's own rules for the profile fields CreateUser takes, as single passes (no regex, no backtracking).

Each function runs in time linear in its input and is only ever given strings within the schema's
``maxLength`` (``validation``), so no input can make it slow. The rules, with their sources:

- Email (CreateUser ``Email``; RAM answers ``InvalidParameter.Email.Format``): an ASCII address
  ``local@domain`` as RAM (and localcloud's model of it) accepts it, narrowed to RFC 5321's dot-atom:
  the local part 1-64 of letters, digits and ``. _ % + ' -``, not starting or ending with ``.`` and
  without ``..``; the domain two or more labels of letters, digits and ``-``, each 1-63 long, not
  starting or ending with ``-``, the last not all digits. No IDN in Unicode form (the ``xn--`` form
  is fine), no IP literal, no quoted local part.
- DisplayName (CreateUser ``DisplayName``: 1-128 characters, the console guide: 24): any script, but
  no control, format, surrogate, private-use, unassigned or line/paragraph-separator characters
  (newline, tab, zero-width and bidi controls), and no space at either end.
"""
from __future__ import annotations

import string
import unicodedata

_LOCAL_CHARS = frozenset(string.ascii_letters + string.digits + "._%+'-")
_LABEL_CHARS = frozenset(string.ascii_letters + string.digits + "-")
# Cc control, Cf format (zero-width, bidi), Cs surrogate, Co private use, Cn unassigned,
# Zl/Zp line and paragraph separators
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _dot_atom(text: str, allowed: frozenset[str], max_part: int) -> list[str] | None:
    """The dot-separated parts of ``text`` when every part is 1..max_part characters of ``allowed``."""
    parts = text.split(".")
    for part in parts:
        if not 1 <= len(part) <= max_part or not allowed.issuperset(part):
            return None
    return parts


def ram_email(value: str) -> bool:
    if not value.isascii() or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    if len(local) > 64 or _dot_atom(local, _LOCAL_CHARS, 64) is None:
        return False
    labels = _dot_atom(domain, _LABEL_CHARS, 63)
    if labels is None or len(labels) < 2 or labels[-1].isdigit():
        return False
    return not any(label.startswith("-") or label.endswith("-") for label in labels)


def ram_display_name(value: str) -> bool:
    if not value or value[0].isspace() or value[-1].isspace():
        return False
    return not any(unicodedata.category(c) in _FORBIDDEN_CATEGORIES for c in value)
