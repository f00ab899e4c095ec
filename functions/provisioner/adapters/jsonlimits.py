"""JSON parsing with limits that hold by construction, whatever arrives.

Limits, per event (a direct event, one element of a batch, a CloudEvent with its data, a webhook
body, a timer payload): at most ``MAX_DEPTH`` levels and ``MAX_CONTAINERS`` arrays and objects.

- Both are measured BEFORE ``json.loads`` runs, with C-level byte operations only (string contents
  are blanked, brackets counted; the running depth is summed only over at most MAX_CONTAINERS
  brackets), so a body of nested ``[`` never reaches the parser's recursion (a RecursionError used to
  escape every envelope), and the parser's per-object hook (the duplicate-name check) runs a bounded
  number of times.
- A top-level array (a batch, an event-streaming delivery) is judged element by element: an element
  over a limit becomes an ``Unreadable`` placeholder (answered ``rejected`` on its own), the others are
  parsed, so one bad item never fails its batch. At most ``split_arrays`` elements are read.
- Repeated object names are kept as evidence (``DuplicateKeys``) instead of silently letting the last
  one win; ``duplicates()`` lists them with their JSON paths.
- An integer literal longer than CPython converts (4300 digits; fewer are converted in quadratic
  time on interpreters without that limit) becomes +/-infinity, a number no field accepts, instead of
  raising. The conversion hook runs only when the document holds such a run of digits.
"""
from __future__ import annotations

import json
import re
from array import array
from itertools import accumulate, compress, repeat
from typing import Any

MAX_DEPTH = 32          # levels of arrays/objects in one event; the deepest valid delivery needs 5
MAX_CONTAINERS = 64     # arrays + objects in one event; a CloudEvent with its event needs 6
MAX_INT_DIGITS = 4300   # CPython's own int <-> str limit (sys.get_int_max_str_digits)
MAX_NAME_ECHO = 64      # characters of an unknown or repeated name echoed in a path

_ESCAPE = re.compile(rb"\\.", re.DOTALL)       # one escape: backslash + any byte; linear, no backtracking
_BLANK_STRUCTURE = bytes.maketrans(b"[]{},", b"_____")
_SIGNS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")     # +1 / -1 as signed bytes
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SIGNS_ONLY = bytes(1 if b in b"[{" else 255 if b in b"]}" else 0 for b in range(256))
_DIGITS_ONLY = bytes(ord("1") if chr(b).isdigit() and b < 128 else ord(" ") for b in range(256))
_LONG_DIGITS = b"1" * (MAX_INT_DIGITS + 1)
_WHITESPACE = b" \t\n\r"                                     # JSON's whitespace

DUPLICATE_MESSAGE = "is a duplicate name: a JSON object must not repeat a name (the last one would silently win)"


class JsonProblem(ValueError):
    """The document cannot be read within the limits (or is not JSON)."""


class Unreadable:
    """Stands for an element of a top-level array that is over a limit (``message`` says which)."""

    def __init__(self, message: str) -> None:
        self.message = message


class DuplicateKeys(dict):
    """A JSON object in which at least one name occurs more than once (the last value is kept)."""

    duplicates: tuple[str, ...] = ()


def too_deep_message(limit: int = MAX_DEPTH) -> str:
    return f"is nested deeper than {limit} levels of arrays and objects (an event needs at most 5)"


def too_many_message(limit: int = MAX_CONTAINERS) -> str:
    return f"holds more than {limit} arrays and objects (an event needs at most 6)"


def _object(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    repeated: list[str] = []
    for name, _ in pairs:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    marked = DuplicateKeys(obj)
    marked.duplicates = tuple(repeated)
    return marked


def _integer(text: str) -> int | float:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return float("-inf") if text.startswith("-") else float("inf")
    return int(text)


def _as_bytes(raw: bytes | bytearray | str) -> bytes:
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogatepass")
    return bytes(raw)


def blank_strings(data: bytes) -> bytes:
    """``data`` with the content of every JSON string made structure-free (same length, same offsets).

    Escapes go first (``\\"`` no longer ends a string), then every other quote-delimited part is
    translated. Outside a valid document's strings nothing changes, so the brackets and commas left
    are exactly the structural ones of the longest valid prefix the parser could read."""
    if b'"' not in data:
        return data
    data = _ESCAPE.sub(b"__", data)
    parts = data.split(b'"')
    parts[1::2] = b'"'.join(parts[1::2]).translate(_BLANK_STRUCTURE).split(b'"')
    return b'"'.join(parts)


def _opens(data: bytes, start: int = 0, end: int | None = None) -> int:
    end = len(data) if end is None else end
    return data.count(b"[", start, end) + data.count(b"{", start, end)


def _depth(brackets: bytes) -> int:
    """The deepest running depth of a bracket-only byte string."""
    return max(accumulate(array("b", brackets.translate(_SIGNS))), default=0)


def _parse(text: bytes | str, data: bytes) -> Any:
    """``json.loads`` with the duplicate-name hook (and the long-integer hook only where needed)."""
    extra: dict[str, Any] = {}
    if len(data) > MAX_INT_DIGITS and _LONG_DIGITS in data.translate(_DIGITS_ONLY):
        extra["parse_int"] = _integer
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text, object_pairs_hook=_object, **extra)
    except (ValueError, UnicodeDecodeError):
        raise JsonProblem("is not valid JSON") from None


def _limits_problem(depth: int, containers: int) -> str | None:
    if depth > MAX_DEPTH:
        return too_deep_message()
    if containers > MAX_CONTAINERS:
        return too_many_message()
    return None


def _top_level_commas(masked: bytes, depths: list[int], start: int, close: int, limit: int) -> list[int]:
    """Offsets of the commas at depth 1 between ``start`` and ``close`` (at most ``limit`` + 1).

    Alternates two C-level scans: to the next comma, and, when that comma is inside an element, to
    the next offset back at depth 1 (past that element). Each region is scanned once; the loop turns
    at most twice per element."""
    found: list[int] = []
    at = masked.find(b",", start, close)
    while at != -1 and len(found) <= limit:
        if depths[at] == 1:
            found.append(at)
            at = masked.find(b",", at + 1, close)
            continue
        try:
            back = depths.index(1, at, close)
        except ValueError:
            break
        at = masked.find(b",", back, close)
    return found


def _elements(masked: bytes, max_elements: int) -> list[tuple[int, int, int]]:
    """(start, end, depth) of each element of the top-level array in ``masked`` (strings blanked).

    The running depth at every offset is summed once, at C level. Raises JsonProblem when the array
    is not well formed or holds more than ``max_elements`` elements."""
    depths = list(accumulate(array("b", masked.translate(_SIGNS_ONLY))))
    start = masked.index(b"[") + 1
    try:
        close = depths.index(0, start)     # steps are +-1 from 1: the first 0 closes the array
    except ValueError:
        raise JsonProblem("is not valid JSON") from None
    if masked[close + 1:].strip(_WHITESPACE):
        raise JsonProblem("is not valid JSON")
    commas = _top_level_commas(masked, depths, start, close, max_elements)
    if len(commas) >= max_elements:
        raise JsonProblem(f"holds more than {max_elements} elements")
    if not commas and not masked[start:close].strip(_WHITESPACE):
        return []
    bounds = [start - 1, *commas, close]
    return [(a + 1, b, max(depths[a + 1:b], default=1) - 1) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _containers(value: Any) -> int:
    """Arrays and objects in an already-parsed value (iteratively)."""
    count, stack = 0, [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            count += 1
            stack.extend(node.values())
        elif isinstance(node, list):
            count += 1
            stack.extend(node)
    return count


def loads(raw: bytes | bytearray | str, *, split_arrays: int = 0) -> Any:
    """Parse one JSON document within the limits. Raises JsonProblem (with a sentence) when it cannot.

    With ``split_arrays=N``, a top-level array is a list of at most N events, each held to the limits
    on its own: an element over a limit comes back as an ``Unreadable``."""
    data = _as_bytes(raw)
    text = raw if isinstance(raw, str) else data
    if _opens(data) <= MAX_DEPTH:                   # the common case: a few brackets at most
        return _parse(text, data)
    masked = blank_strings(data)
    brackets = masked.translate(None, _NOT_BRACKETS)
    opens = _opens(brackets)
    if opens <= MAX_DEPTH:
        return _parse(text, data)
    if not (split_arrays and masked.lstrip(_WHITESPACE).startswith(b"[")):
        if opens > MAX_CONTAINERS:                  # counted: no per-byte work past this point
            raise JsonProblem(too_many_message())
        if _depth(brackets) > MAX_DEPTH:
            raise JsonProblem(too_deep_message())
        return _parse(text, data)
    # an array of events: a valid batch is read whole (its few hundred brackets summed cheaply) ...
    if opens <= split_arrays * MAX_CONTAINERS and _depth(brackets) <= MAX_DEPTH + 1:
        value = _parse(text, data)
        if isinstance(value, list):
            return [Unreadable(too_many_message()) if _containers(e) > MAX_CONTAINERS else e for e in value]
        return value
    # ... anything else element by element, each held to the limits before it is parsed
    items: list[Any] = []
    for begin, end, depth in _elements(masked, split_arrays):
        problem = _limits_problem(depth, _opens(masked, begin, end))
        items.append(Unreadable(problem) if problem else _parse(data[begin:end], data[begin:end]))
    return items


def tree_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Depth of an already-parsed value, iteratively; stops counting once past ``limit``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (dict, list, tuple)):
            deepest = max(deepest, level)
            if level > limit:
                return deepest
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return deepest


def echo_name(name: str) -> str:
    """A name taken from the input, short enough to echo in a path or a message."""
    return name if len(name) <= MAX_NAME_ECHO else name[:MAX_NAME_ECHO - 3] + "..."


def path_of(parts: list[str | int], root: str = "$") -> str:
    out = root
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{echo_name(part)}"
    return out


def duplicates(value: Any, base: list[str | int] | None = None, skip: Any = None) -> list[str]:
    """JSON paths of every repeated object name inside ``value`` (not below the object ``skip``).
    Visits containers only (an event holds at most MAX_CONTAINERS)."""
    found: list[str] = []
    stack: list[tuple[Any, list[str | int]]] = [(value, list(base or []))]
    while stack:
        node, parts = stack.pop()
        if node is skip and skip is not None:
            continue
        if isinstance(node, DuplicateKeys):
            found.extend(path_of(parts + [name]) for name in node.duplicates)
        if isinstance(node, (dict, list)):
            values = node.values() if isinstance(node, dict) else node
            keys = node.keys() if isinstance(node, dict) else range(len(node))
            # C-level filtering: a hostile object may hold tens of thousands of scalars
            containers = compress(zip(keys, values, strict=True), map(isinstance, values, repeat((dict, list))))
            stack.extend((child, parts + [key]) for key, child in containers)
    return sorted(found)
