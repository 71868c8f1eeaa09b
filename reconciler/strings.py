"""Text from outside, made safe to show: one escaping rule per output context.

Manifests come from pull requests and answers from a network: a file name, a live tag, a
product name, a target URL or a server's error text may hold ANSI or OSC escapes, a newline
that forges an ``error:`` line or a ``::error::`` workflow command, HTML that GitHub renders
(``<img>``, ``</details>``), an ``@mention``, a ``#123`` reference, a bare URL that becomes a
link, a bidi override that reorders what a reviewer reads, or a lone surrogate (a non-UTF-8
file name, a ``\\udcff`` escape in a server's JSON) that no UTF-8 stream can carry.

The design: **reports hold values, reporters escape them, through one path.** What the shared
report code (``render.common``) says is a :class:`Message`: a template we wrote, with every
value from outside in a ``{}`` slot. A template is trusted; a ``str`` in a slot never is. A
reporter turns a Message into text with :meth:`Message.render` and the one escaper of its
output context, below; nothing else puts an untrusted string into output. A new field is a
new slot, escaped by whatever renders it, so it cannot forget. The contexts:

==========================  ===========================================================
terminal, CI log            :func:`printable`: control characters (C0, DEL, C1), the
                            reordering and invisible format characters and lone surrogates
                            shown as ``\\xNN`` / ``\\uNNNN``; the runner's legacy ``##[``
                            command prefix broken (``##\\x5b``), as every log line is read
                            for commands
workflow command            :func:`workflow_data` (the message) and :func:`workflow_property`
                            (``file=``, ``title=``): the terminal rule, then ``%``, CR and LF
                            percent-encoded, and in properties ``:`` and ``,`` too
Markdown, inline            :func:`markdown_code`: a code span that nothing inside can close.
                            Inside code GitHub renders no HTML, emphasis or link, and links
                            no mention, issue reference or bare URL
Markdown, inside HTML       :func:`html_code`: ``<code>`` with ``& < > " '`` escaped (a line
                            that opens ``<details>`` is a raw HTML block, where Markdown does
                            not apply; GitHub links nothing inside ``<code>`` there either)
JSON                        :func:`json_text`: the value itself, JSON encodes every
                            character, except lone surrogates, which strict UTF-8 parsers
                            refuse: they become U+FFFD, as a UTF-8 decoder would write
==========================  ===========================================================

Problems (``model.Problem``) are escaped for the terminal once, when made (they are short
lines that every format shows); the formats above still wrap them for their own context.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Union

# Control characters (C0, DEL, C1), the Unicode format characters that reorder or hide text
# (bidi embeddings, overrides and isolates, zero-width marks, the BOM), and lone surrogates.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff\ud800-\udfff]"
)
# The GitHub runner's legacy command prefix (``##[error]...``), recognised anywhere in a line.
_LEGACY_COMMAND = re.compile(r"##\[")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A 24-hex MongoDB ObjectId, as Ductape assigns to users, workspaces, products and jobs.
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
# Longest message text kept from an untrusted source (a server's error body, a YAML error).
MAX_MESSAGE = 200


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` as the terminal context shows it: one line, every unsafe character escaped."""
    if text.isascii() and text.isprintable() and "##[" not in text:
        return text  # the common case, without a regex: reports escape every value
    return _LEGACY_COMMAND.sub("##\\\\x5b", _UNSAFE.sub(_escape, text))


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """One line of at most ``limit`` characters, white space folded, escapes shown."""
    text = printable(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_object_id(value: object) -> bool:
    """Whether ``value`` is a 24-hex id (lower case, as the service writes them)."""
    return isinstance(value, str) and OBJECT_ID.fullmatch(value) is not None


# --- the one path: messages with untrusted slots --------------------------------------------

Escape = Callable[[str], str]
Value = Union[str, int, "Message"]


class Message:
    """Words we wrote, with values from outside in their slots: ``Message("Target: {}", url)``.

    The template is ours; each ``str`` value is untrusted and escaped by the renderer's
    escaper; an ``int`` is a count we made; a Message value is rendered with the same escaper.
    """

    __slots__ = ("template", "values")

    def __init__(self, template: str, *values: Value) -> None:
        self.template = template
        self.values = values

    def render(self, escape: Escape) -> str:
        # A plain string is by far the most common value: escaped without _value's checks
        # (a plan of 10,000 creates renders a quarter of a million values).
        return self.template.format(
            *[escape(v) if type(v) is str else _value(v, escape) for v in self.values]
        )

    def __add__(self, other: Message) -> Message:
        return Message("{}{}", self, other)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and self.render(repr) == other.render(repr)

    def __hash__(self) -> int:
        return hash(self.render(repr))

    def __repr__(self) -> str:
        return f"Message({self.render(repr)!r})"


def trusted(text: str) -> Message:
    """Words we computed ourselves (a count, a duration, a summary) as a Message, no slot."""
    return Message(text.replace("{", "{{").replace("}", "}}"))


def _value(value: Value, escape: Escape) -> str:
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, Message):
        return value.render(escape)
    return str(int(value))


def joined(separator: str, values: Iterable[Value]) -> Message:
    """The values with our ``separator`` between them, each still in its own slot."""
    items = list(values)
    return Message(separator.join("{}" for _ in items), *items)


# --- the escapers, one per output context -------------------------------------------------


def terminal(text: str) -> str:
    """A value in a terminal or a CI log (text reports, and the text part of github's)."""
    return printable(text)


def workflow_data(text: str) -> str:
    """The message of a workflow command (``::error ...::MESSAGE``), on one line."""
    text = printable(text)
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def workflow_property(text: str) -> str:
    """A property of a workflow command (``file=``, ``title=``): data rules plus ``:`` ``,``."""
    return workflow_data(text).replace(":", "%3A").replace(",", "%2C")


def markdown_code(text: str, table: bool = False) -> str:
    """A value as a Markdown code span nothing inside can close or break out of.

    ``table``: inside a GFM table cell, where ``|`` must be written ``\\|`` even in code.
    """
    text = printable(text)
    if table:
        text = text.replace("|", "\\|")
    if not text:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or text.strip() == "" else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def markdown_cell(text: str) -> str:
    """A value as a code span in a GFM table cell."""
    return markdown_code(text, table=True)


def html_code(text: str) -> str:
    """A value inside raw HTML in Markdown (``<summary>``): an escaped ``<code>`` element."""
    return f"<code>{html.escape(printable(text), quote=True)}</code>" if text else ""


def json_text(text: str) -> str:
    """A value in JSON: itself, lone surrogates replaced so strict UTF-8 parsers accept it."""
    return _SURROGATE.sub("\ufffd", text)


def json_safe(data: Any) -> Any:
    """``data`` (JSON-ready: dicts, lists, scalars) with :func:`json_text` on every string."""
    if isinstance(data, str):
        return json_text(data)
    if isinstance(data, Mapping):
        return {json_safe(k): json_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(v) for v in data]
    return data
