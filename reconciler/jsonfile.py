"""JSON files that arrive from elsewhere, read within bounds.

A snapshot or a saved plan travels between CI jobs as an artifact, so whoever could write
the artifact chose its bytes. Python's ``json`` alone reads any size, keeps the last of two
equal keys (a reviewer and the program may read different values), accepts ``NaN`` and
``Infinity`` (not JSON) and fails deep in C recursion on a nesting bomb. :func:`load_bounded`
refuses each of those with one line, and only then hands the value on.
"""

from __future__ import annotations

import json
import os
import re
from itertools import accumulate
from typing import Any

from .errors import UsageError
from .strings import shorten

# A JSON string, escapes included; removed before counting brackets, so a "[" inside a
# string does not count as nesting.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class _Refused(Exception):
    """Internal: a value json would accept but this reader does not."""


def load_bounded(path: str, what: str, max_bytes: int, max_depth: int) -> object:
    """The JSON value in ``path``; a UsageError of one line naming ``what`` if it is not one.

    The size is checked before anything is read (and the read stops one byte past it, for
    files whose size the system does not know); the text must be UTF-8; objects may not
    repeat a key; NaN and Infinity are refused; arrays and objects nest at most
    ``max_depth`` deep.
    """
    data = _read(path, what, max_bytes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _position(data, exc.start)
        raise UsageError(f"{path}:{line}:{col}: the {what} is not UTF-8 text") from exc
    if _depth(text) > max_depth:
        raise UsageError(f"{path}: the {what} nests deeper than {max_depth} levels")
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path}:{exc.lineno}:{exc.colno}: the {what} is not valid JSON: {exc.msg}"
        ) from exc
    except _Refused as exc:
        raise UsageError(f"{path}: the {what} is not valid here: {exc}") from exc
    except RecursionError as exc:  # pragma: no cover - the depth check comes first
        raise UsageError(f"{path}: the {what} nests too deeply") from exc
    except ValueError as exc:
        # An integer of more digits than Python converts (sys.set_int_max_str_digits).
        raise UsageError(f"{path}: the {what} is not valid JSON: {shorten(str(exc))}") from exc


def _read(path: str, what: str, max_bytes: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                raise UsageError(
                    f"{path}: the {what} is {size:,} bytes, more than the {max_bytes:,} allowed"
                )
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise UsageError(f"cannot read the {what} {path}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise UsageError(f"{path}: the {what} is more than the {max_bytes:,} bytes allowed")
    return data


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in bytes) of ``offset``."""
    line = data.count(b"\n", 0, offset) + 1
    return line, offset - (data.rfind(b"\n", 0, offset) + 1) + 1


def _depth(text: str) -> int:
    """How deep arrays and objects nest, strings aside (regular expressions and map: no
    Python loop over the characters, so a large file costs little)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"the key {shorten(key, 60)!r} appears twice in one object")
        out[key] = value
    return out


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")
