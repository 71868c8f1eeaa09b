"""Text from outside, made safe to show; one rule for each shape of string we check.

Manifests come from pull requests and answers from a network: a file name, an unknown key, a
live tag or a server's error text may hold ANSI or OSC escapes, a newline that forges an
``error:`` line, or a bidi override that reorders what a reviewer reads. Everything untrusted
goes through :func:`printable` before it reaches a terminal, a log or a PR comment.
"""

from __future__ import annotations

import re

# Control characters (C0, DEL, C1) and the Unicode format characters that reorder or hide
# text (bidi embeddings, overrides and isolates, zero-width marks, the BOM).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff]"
)
# A 24-hex MongoDB ObjectId, as Ductape assigns to users, workspaces, products and jobs.
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
# Longest message text kept from an untrusted source (a server's error body, a YAML error).
MAX_MESSAGE = 200


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control or reordering character shown as an escape, on one line."""
    return _UNSAFE.sub(_escape, text)


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """One line of at most ``limit`` characters, white space folded, escapes shown."""
    text = printable(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_object_id(value: object) -> bool:
    """Whether ``value`` is a 24-hex id (lower case, as the service writes them)."""
    return isinstance(value, str) and OBJECT_ID.fullmatch(value) is not None
