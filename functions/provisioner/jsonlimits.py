"""JSON parsing with limits that hold by construction, whatever arrives.

- Nesting depth is measured BEFORE ``json.loads`` runs, in linear time with C-level byte operations
  (string contents are blanked, then the running bracket depth is summed), so a body of nested ``[``
  can never reach the parser's recursion (a RecursionError used to escape every envelope).
- A top-level array (a batch, an event-streaming delivery) that is too deep is split into its
  elements: only the elements nested too deep become ``TooDeep`` placeholders, the others are parsed,
  so one bad item never fails its batch.
- Duplicate object names are kept as evidence (``DuplicateKeys``) instead of silently letting the last
  one win; ``duplicates()`` lists them with their JSON paths.
- An integer literal with more digits than Python converts in linear time becomes +/-infinity (a
  number no field accepts) instead of raising: CPython refuses > 4300 digits, and converting fewer is
  quadratic.
"""
from __future__ import annotations

import json
import re
from array import array
from itertools import accumulate
from typing import Any

MAX_DEPTH = 32          # arrays/objects in one JSON document; the deepest valid delivery needs 5
MAX_INT_DIGITS = 4300   # CPython's own int <-> str limit (sys.get_int_max_str_digits)
MAX_NAME_ECHO = 64      # characters of an unknown or duplicated name echoed in a path

_ESCAPE = re.compile(rb"\\.", re.DOTALL)       # one escape: backslash + any byte; linear, no backtracking
_BLANK_STRUCTURE = bytes.maketrans(b"[]{},", b"_____")
_SIGNS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")     # +1 / -1 as signed bytes
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SIGNS_ONLY = bytes(1 if b in b"[{" else 255 if b in b"]}" else 0 for b in range(256))
_COMMAS_ONLY = bytes(1 if b == ord(",") else 0 for b in range(256))
_WHITESPACE = b" \t\n\r"                                     # JSON's whitespace
_CHUNK = 1 << 16
_MANY_BRACKETS = 4096    # more than any valid batch holds (about 6 per event)


class JsonProblem(ValueError):
    """The document cannot be read within the limits (or is not JSON)."""


class TooDeep:
    """Stands for an element of a top-level array that is nested deeper than the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    @property
    def message(self) -> str:
        return too_deep_message(self.limit)


class DuplicateKeys(dict):
    """A JSON object in which at least one name occurs more than once (the last value is kept)."""

    duplicates: tuple[str, ...] = ()


def too_deep_message(limit: int = MAX_DEPTH) -> str:
    return f"is nested deeper than {limit} levels of arrays and objects (an event needs at most 5)"


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


def _opens(data: bytes) -> int:
    return data.count(b"[") + data.count(b"{")


def _masked_if_too_deep(data: bytes, split: bool) -> bytes | None:
    """None when ``data`` surely nests at most MAX_DEPTH deep, else ``data`` with its strings blanked.

    Linear, C-level byte operations only: the number of openings bounds the depth (raw, then outside
    strings); only past that is the running depth summed. With ``split``, a document with many
    brackets is left to ``_elements`` (which sums the depth once, for every offset)."""
    if _opens(data) <= MAX_DEPTH:
        return None
    masked = blank_strings(data)
    brackets = masked.translate(None, _NOT_BRACKETS)
    if _opens(brackets) <= MAX_DEPTH:
        return None
    if split and len(brackets) > _MANY_BRACKETS and masked.lstrip(_WHITESPACE).startswith(b"["):
        return masked
    if max(accumulate(array("b", brackets.translate(_SIGNS))), default=0) <= MAX_DEPTH:
        return None
    return masked


def _loads(text: bytes | str) -> Any:
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text, object_pairs_hook=_object, parse_int=_integer)
    except (ValueError, UnicodeDecodeError):
        raise JsonProblem("is not valid JSON") from None


def _top_level_commas(masked: bytes, depths: list[int], start: int, close: int, limit: int) -> list[int]:
    """Offsets of the commas at depth 1 between ``start`` and ``close`` (at most ``limit`` + 1)."""
    found: list[int] = []
    if masked.count(b",", start, close) * 8 < close - start:      # few commas: look at each
        at = masked.find(b",", start, close)
        while at != -1 and len(found) <= limit:
            if depths[at] == 1:
                found.append(at)
            at = masked.find(b",", at + 1, close)
        return found
    # many commas: where the depth is 1 AND the byte is a comma, as two byte masks and-ed as integers
    # (chunk by chunk, so that a batch with too many elements is refused after the first chunk)
    for begin in range(start, close, _CHUNK):
        end = min(begin + _CHUNK, close)
        top = int.from_bytes(bytes(map((1).__eq__, depths[begin:end])), "big")
        commas = int.from_bytes(masked[begin:end].translate(_COMMAS_ONLY), "big")
        hits = (top & commas).to_bytes(end - begin, "big")
        at = hits.find(b"\x01")
        while at != -1:
            found.append(begin + at)
            at = hits.find(b"\x01", at + 1)
        if len(found) > limit:
            break
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


def loads(raw: bytes | bytearray | str, *, split_arrays: int = 0) -> Any:
    """Parse one JSON document within the limits. Raises JsonProblem (with a sentence) when it cannot.

    With ``split_arrays=N``, a top-level array too deep as a whole comes back as a list (of at most N
    elements) in which each element nested too deep is a ``TooDeep``."""
    data = _as_bytes(raw)
    masked = _masked_if_too_deep(data, bool(split_arrays))
    if masked is None:
        return _loads(raw if isinstance(raw, str) else data)
    if not split_arrays or not masked.lstrip(_WHITESPACE).startswith(b"["):
        raise JsonProblem(too_deep_message())
    return [TooDeep(MAX_DEPTH - 1) if element_depth > MAX_DEPTH - 1 else _loads(data[begin:end])
            for begin, end, element_depth in _elements(masked, split_arrays)]


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


def path_of(parts: list[str | int]) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{echo_name(part)}"
    return out


def duplicates(value: Any, base: list[str | int] | None = None, skip: Any = None) -> list[str]:
    """JSON paths of every repeated object name inside ``value`` (not below the object ``skip``)."""
    found: list[str] = []
    stack: list[tuple[Any, list[str | int]]] = [(value, list(base or []))]
    while stack:
        node, parts = stack.pop()
        if node is skip and skip is not None:
            continue
        if isinstance(node, DuplicateKeys):
            found.extend(path_of(parts + [name]) for name in node.duplicates)
        if isinstance(node, dict):
            stack.extend((child, parts + [name]) for name, child in node.items())
        elif isinstance(node, list):
            stack.extend((child, parts + [i]) for i, child in enumerate(node))
    return sorted(found)


DUPLICATE_MESSAGE = "is a duplicate name: a JSON object must not repeat a name (the last one would silently win)"
