"""Change job fields in manifest files in place, keeping everything else as it was written.

The only module that imports ruamel.yaml. Its composer gives every value's exact place in the
text (first and last character) and how it was written (plain, quoted); an edit replaces those
characters and nothing else. Comments, key order, blank lines, the document separators, a BOM
and CRLF line endings therefore stay byte for byte. (A whole-document ruamel dump would
re-indent, re-space flow mappings and drop a BOM: splicing keeps a diff to the values.)

A new value is written in the form of the one it replaces (its *friendly form*): a duration
stays a duration (``1h30m``), an ISO time stays ISO in the same offset and spelling, a quoted
string keeps its quote style, an integer stays an integer. A field the job leaves to its
default (``executions``) is added as a new line at the end of the job's mapping.

Nothing is written unless the round trip checks out: the new text is read back with the
project's own loader (:mod:`reconciler.manifests`) and every document compared with the old
one; only the edited fields may differ, and they must hold the new values exactly. Every
refusal is one line naming ``file:line``.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import tempfile
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.emitter import Emitter
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode
from ruamel.yaml.resolver import VersionedResolver

from .errors import ReconcilerError
from .files import write_atomic
from .manifests import Document, Refused, load_documents, read_bounded
from .model import (
    FIELDS,
    MUTABLE_FIELDS,
    FieldError,
    Job,
    Location,
    format_duration,
    format_timestamp,
    show,
)
from .schema import check_document
from .strings import printable

_BOM = b"\xef\xbb\xbf"
_STR = "tag:yaml.org,2002:str"
_NUMBERS = ("executions", "intervals", "start_at")


class EditRefused(ReconcilerError):
    """A manifest edit that cannot be made safely; the file was left as it was."""


@dataclass(frozen=True)
class Edit:
    """Set job ``tag``'s ``field`` from ``old`` to ``new`` (both canonical, wire values).

    ``old`` is what the manifest held when the edit was computed: a file that holds anything
    else has changed since, and the edit is refused rather than applied to it.
    """

    tag: str
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Prepared:
    """A file's new text, checked, not yet written (:func:`commit` writes it).

    ``before`` is the file's bytes as read, so the write can refuse a file changed meanwhile;
    ``lines`` are the 1-based lines of the old file whose values change.
    """

    path: str
    before: bytes = dataclasses.field(repr=False)
    after: bytes = dataclasses.field(repr=False)
    fields: int
    lines: tuple[int, ...]

    @property
    def changed(self) -> bool:
        return self.before != self.after


def rewrite(path: str, edits: Iterable[Edit]) -> Prepared:
    """Apply ``edits`` to the manifest file ``path`` in place; EditRefused writes nothing."""
    prepared = prepare(path, edits)
    commit(prepared)
    return prepared


def commit(prepared: Prepared) -> None:
    """Write a prepared file whole, unless it changed on disk since :func:`prepare` read it."""
    if not prepared.changed:
        return
    shown = printable(prepared.path)
    try:
        now = read_bounded(prepared.path)
    except Refused as exc:
        raise EditRefused(f"{shown}: {exc.message}; nothing written") from exc
    if now != prepared.before:
        raise EditRefused(f"{shown}: changed while it was being edited; nothing written")
    try:
        # write_atomic encodes UTF-8 and writes "\r\n" through unchanged on POSIX.
        write_atomic(prepared.path, prepared.after.decode("utf-8"))
    except OSError as exc:
        raise EditRefused(f"{shown}: cannot write: {exc.strerror or 'error'}") from exc


def prepare(path: str, edits: Iterable[Edit]) -> Prepared:
    """The new text of ``path`` with ``edits`` applied, checked by reading it back."""
    shown = printable(path)
    try:
        raw = read_bounded(path)
    except Refused as exc:
        raise EditRefused(f"{shown}: {exc.message}") from exc
    bom = raw.startswith(_BOM)
    try:
        text = raw[len(_BOM) :].decode("utf-8") if bom else raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EditRefused(f"{shown}: not UTF-8 text; not edited") from exc
    wanted = _by_tag(path, edits)
    before, file_problems = _read_back(raw)
    jobs = _jobs(path, before, wanted)
    nodes = _job_nodes(path, text, set(wanted))
    splices: list[tuple[int, int, str]] = []
    lines: list[int] = []
    count = 0
    for tag, changes in wanted.items():
        document, job = jobs[tag]
        todo = {}
        for field, edit in changes.items():
            held = job.to_wire()[field]
            if held != edit.old:
                where = _place(path, document, field)
                raise EditRefused(
                    f"{where}: {printable(tag)}: {field}: the manifest holds {show(held)}, not "
                    f"{show(edit.old)}: it changed since it was read; plan again"
                )
            if edit.new != edit.old:
                todo[field] = edit.new
        if todo:
            _check_values(path, document, job, todo)
            found = _splices(path, text, nodes[tag], document, todo)
            splices += found.splices
            lines += found.lines
            count += len(todo)
    new_text = _spliced(text, splices)
    after = (_BOM if bom else b"") + new_text.encode("utf-8")
    if after != raw:
        _check_round_trip(path, before, file_problems, after, wanted, jobs)
    return Prepared(path, raw, after, count, tuple(sorted(set(lines))))


# --- what to change ---------------------------------------------------------------------------


def _by_tag(path: str, edits: Iterable[Edit]) -> dict[str, dict[str, Edit]]:
    out: dict[str, dict[str, Edit]] = {}
    for edit in edits:
        if edit.field not in MUTABLE_FIELDS:
            raise EditRefused(
                f"{printable(path)}: {printable(edit.tag)}: {printable(str(edit.field))}: "
                f"not a field that can be edited (one of {', '.join(MUTABLE_FIELDS)})"
            )
        fields = out.setdefault(edit.tag, {})
        if edit.field in fields and fields[edit.field] != edit:
            raise EditRefused(
                f"{printable(path)}: {printable(edit.tag)}: {edit.field}: two different edits"
            )
        fields[edit.field] = edit
    return out


def _jobs(
    path: str, documents: Sequence[Document], wanted: Mapping[str, object]
) -> dict[str, tuple[Document, Job]]:
    """The document and the job of each tag to edit, as the project's loader reads them."""
    out: dict[str, tuple[Document, Job]] = {}
    for document in documents:
        tag = document.tag
        if tag is None or tag not in wanted:
            continue
        if tag in out:
            first = _place(path, out[tag][0], "tag")
            raise EditRefused(
                f"{_place(path, document, 'tag')}: {printable(tag)}: the tag is also at "
                f"{first}; not edited"
            )
        errors = [p for p in document.problems if p.is_error]
        if errors:
            raise EditRefused(
                f"{_place(path, document, errors[0].field)}: {printable(tag)}: "
                f"{errors[0].message}; fix the manifest first"
            )
        try:
            job = Job.from_mapping(document.data)
        except FieldError as exc:
            raise EditRefused(
                f"{_place(path, document, exc.field)}: {printable(tag)}: {exc}; "
                "fix the manifest first"
            ) from exc
        out[tag] = (document, job)
    missing = [tag for tag in wanted if tag not in out]
    if missing:
        raise EditRefused(f"{printable(path)}:1: no job tagged {show(missing[0], 80)} in this file")
    return out


def _check_values(path: str, document: Document, job: Job, todo: Mapping[str, Any]) -> None:
    """Each new value must be a valid canonical value: written, it reads back as itself."""
    try:
        changed = job.replace(todo).to_wire()
    except FieldError as exc:
        where = _place(path, document, exc.field)
        raise EditRefused(f"{where}: {printable(job.tag)}: the new value of {exc}") from exc
    for field, value in todo.items():
        if changed[field] != value or type(value) is not type(changed[field]):
            where = _place(path, document, field)
            raise EditRefused(
                f"{where}: {printable(job.tag)}: {field}: {show(value)} is not a canonical value"
            )


# --- where the values are, as ruamel reads the text ---------------------------------------------


def _job_nodes(path: str, text: str, tags: set[str]) -> dict[str, MappingNode]:
    """The mapping node of each job to edit, found by its tag."""
    out: dict[str, MappingNode] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            roots = list(YAML(typ="rt").compose_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"{mark.line + 1}" if mark is not None else "1"
        raise EditRefused(f"{printable(path)}:{line}: ruamel.yaml cannot read this file") from exc
    except (YAMLError, Warning, ValueError) as exc:
        raise EditRefused(f"{printable(path)}:1: ruamel.yaml cannot read this file") from exc
    for root in roots:
        if not isinstance(root, MappingNode):
            continue
        tag_nodes = [v for k, v in root.value if _is_key(k, "tag")]
        if len(tag_nodes) == 1 and isinstance(tag_nodes[0], ScalarNode):
            tag = tag_nodes[0].value
            if tag in tags:
                out.setdefault(tag, root)
    for tag in tags:
        if tag not in out:
            raise EditRefused(
                f"{printable(path)}:1: {printable(tag)}: ruamel.yaml finds no such job here; "
                "not edited"
            )
    return out


def _is_key(node: Node, name: str) -> bool:
    return isinstance(node, ScalarNode) and node.value == name


@dataclass(frozen=True)
class _Found:
    splices: list[tuple[int, int, str]]
    lines: list[int]


def _splices(
    path: str, text: str, mapping: MappingNode, document: Document, todo: Mapping[str, Any]
) -> _Found:
    """The replacements (start, end, new text) that write ``todo`` into one job's mapping."""
    flow = bool(mapping.flow_style)
    splices: list[tuple[int, int, str]] = []
    lines: list[int] = []
    added: list[str] = []
    for field in FIELDS:
        if field not in todo:
            continue
        new = todo[field]
        values = [v for k, v in mapping.value if _is_key(k, field)]
        if not values:
            added.append(f"{field}: {_fresh(field, new, flow)}")
            continue
        where = _place(path, document, field)
        node = values[0]
        if len(values) > 1 or not isinstance(node, ScalarNode):
            raise EditRefused(f"{where}: {field}: not a single value; edit it by hand")
        start, end = node.start_mark.index, node.end_mark.index
        if node.anchor is not None or text[start : start + 1] in ("&", "*", "!"):
            raise EditRefused(f"{where}: {field}: written with an anchor or a tag; edit it by hand")
        if node.style in ("|", ">"):
            raise EditRefused(f"{where}: {field}: written as a block scalar; edit it by hand")
        written = document.data.get(field)
        splices.append((start, end, _written(field, new, written, node.style, flow)))
        lines.append(node.start_mark.line + 1)
    if added:
        splices.append(_addition(text, mapping, added, flow))
        lines.append(mapping.value[-1][1].end_mark.line + 1)
    return _Found(splices, lines)


def _addition(
    text: str, mapping: MappingNode, added: list[str], flow: bool
) -> tuple[int, int, str]:
    """A splice adding ``key: value`` items at the end of a mapping."""
    last = mapping.value[-1][1]
    end = last.end_mark.index
    if flow:
        return (end, end, "".join(f", {item}" for item in added))
    indent = " " * mapping.value[0][0].start_mark.column
    newline = text.find("\n", end)
    if newline == -1:  # the last line of a file without a final line break
        eol = "\r\n" if "\r\n" in text else "\n"
        return (len(text), len(text), "".join(f"{eol}{indent}{item}" for item in added))
    eol = "\r\n" if text[newline - 1 : newline] == "\r" else "\n"
    return (newline + 1, newline + 1, "".join(f"{indent}{item}{eol}" for item in added))


def _spliced(text: str, splices: list[tuple[int, int, str]]) -> str:
    out = text
    previous = len(text) + 1
    for start, end, new in sorted(splices, reverse=True):
        if end > previous:
            raise EditRefused("two edits overlap in the text; edit by hand")  # a bug if seen
        out = out[:start] + new + out[end:]
        previous = start
    return out


def _place(path: str, document: Document, field: str | None) -> Location:
    at = document.where(field)
    return Location(path, at.line, at.col)


# --- writing a value in the form of the one it replaces -----------------------------------------


def _written(field: str, new: Any, written: object, style: str | None, flow: bool) -> str:
    """``new`` (canonical) as text in the form ``written`` (what the manifest held) had."""
    if field in _NUMBERS and isinstance(written, int):
        return str(new)
    if field == "intervals":
        return _requoted(format_duration(new), style)
    if field == "start_at":
        return _requoted(_iso_like(str(written), new), style)
    if field == "event_type":
        return _requoted(_same_case(str(written), str(new)), style)
    return _string(str(new), style, flow)


def _fresh(field: str, new: Any, flow: bool) -> str:
    """A value for a field the manifest did not write: the friendly form export uses."""
    if field == "intervals":
        return format_duration(new)
    if field == "start_at":
        stamp = format_timestamp(new)
        return stamp if stamp.endswith("Z") else str(new)
    if field == "executions":
        return str(new)
    return _string(str(new), None, flow)


def _requoted(body: str, style: str | None) -> str:
    # A duration, an ISO time or an event type needs no escaping inside either quote.
    return f"{style}{body}{style}" if style in ("'", '"') else body


def _same_case(written: str, new: str) -> str:
    if written.isupper():
        return new.upper()
    if written[:1].isupper() and written[1:].islower():
        return new.capitalize()
    return new


_ISO = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})(?P<sep>[Tt ])(?P<hm>[0-9]{2}:[0-9]{2})"
    r"(?P<sec>:[0-9]{2})?(?:\.(?P<frac>[0-9]+))?(?P<space>[ \t]*)"
    r"(?P<zone>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _iso_like(written: str, ms: int) -> str:
    """``ms`` as ISO-8601 in the offset and the spelling of ``written``.

    ``2037-06-08T08:30:00+01:00`` gives ``+01:00`` times; a ``Z``, a space for the ``T``,
    missing seconds or a fraction's width are kept where the new value allows.
    """
    match = _ISO.fullmatch(written.strip())
    if not match:
        return str(ms)
    zone = match["zone"]
    offset = 0
    if zone not in ("Z", "z"):
        digits = zone[1:].replace(":", "")
        offset = int(digits[:2]) * 60 + int(digits[2:] or 0)
        offset = -offset if zone[0] == "-" else offset
    try:
        moment = (_EPOCH + timedelta(milliseconds=ms)).astimezone(
            timezone(timedelta(minutes=offset))
        )
    except OverflowError:
        return str(ms)
    if moment.year > 9999:
        return str(ms)
    millis = ms % 1000
    fraction = ""
    width = len(match["frac"] or "")
    if width:
        digits = f"{millis:03d}"
        if width >= 3:
            fraction = "." + digits + "0" * (width - 3)
        elif millis % 10 ** (3 - width) == 0:
            fraction = "." + digits[:width]
        else:
            fraction = "." + digits
    elif millis:
        fraction = f".{millis:03d}"
    seconds = f":{moment.second:02d}" if (match["sec"] or moment.second or fraction) else ""
    clock = moment.strftime("%H:%M")
    return f"{moment.strftime('%Y-%m-%d')}{match['sep']}{clock}{seconds}{fraction}" + (
        f"{match['space']}{zone}"
    )


_RESOLVERS = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))


def _string(text: str, style: str | None, flow: bool) -> str:
    """A string scalar in ``style`` (plain, ``'`` or ``"``), quoted where that cannot hold it."""
    visible = all(c.isprintable() and unicodedata.category(c) != "Cf" for c in text)
    # A leading "?" or ":" is quoted: the emitter's analysis of it needs a whole serializer.
    analysis = Emitter(io.StringIO(), allow_unicode=True).analyze_scalar(text.lstrip("?:"))
    leading = text[:1] in ("?", ":")
    if style not in ("'", '"') and visible and text and not leading and not analysis.multiline:
        plain = analysis.allow_flow_plain if flow else analysis.allow_block_plain
        # PyYAML (the loader) reads YAML 1.1: "yes" is a boolean there, "1:30" a number.
        as_text = all(str(r.resolve(ScalarNode, text, (True, False))) == _STR for r in _RESOLVERS)
        if plain and as_text:
            return text
    if style == "'" and visible and analysis.allow_single_quoted and not analysis.multiline:
        return "'" + text.replace("'", "''") + "'"
    # An invisible character (a zero-width space, a bidi control) is written as an escape,
    # and then every non-ASCII one too: a reviewer sees what the value holds.
    out = io.StringIO()
    Emitter(out, allow_unicode=visible).write_double_quoted(text, split=False)
    return out.getvalue()


# --- the round-trip check -----------------------------------------------------------------------


def _read_back(raw: bytes) -> tuple[list[Document], list[tuple[str, str | None]]]:
    """The documents of a manifest's bytes as the project's loader reads them."""
    problems: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="reconciler-edit-") as directory:
        copy = os.path.join(directory, "manifest.yaml")
        with open(copy, "wb") as out:
            out.write(raw)
        documents = list(load_documents([copy], problems))
    return documents, [(p.message, p.field) for p in problems]


def _check_round_trip(
    path: str,
    before: Sequence[Document],
    file_problems: list[tuple[str, str | None]],
    after_bytes: bytes,
    wanted: Mapping[str, Mapping[str, Edit]],
    jobs: Mapping[str, tuple[Document, Job]],
) -> None:
    """Refuse unless ``after_bytes`` reads as ``before`` with exactly the edits made."""
    after, after_problems = _read_back(after_bytes)
    shown = printable(path)
    if len(after) != len(before) or after_problems != file_problems:
        raise EditRefused(f"{shown}:1: the edit would change the file's documents; not edited")
    for old, new in zip(before, after, strict=True):
        changes = wanted.get(old.tag or "", {}) if old.tag in jobs else {}
        where = _place(path, old, None)
        if _problems(old) != _problems(new) or old.index != new.index:
            raise EditRefused(f"{where}: the edit would change how this job reads; not edited")
        if not changes:
            if old.data != new.data or list(_keys(old)) != list(_keys(new)):
                raise EditRefused(f"{where}: the edit would change this job too; not edited")
            continue
        kept = [k for k in _keys(new) if k not in changes]
        if kept != [k for k in _keys(old) if k not in changes] or any(
            old.data[k] != new.data[k] for k in kept
        ):
            raise EditRefused(f"{where}: the edit would change other fields; not edited")
        schema_before = {(p.message, p.field) for p in check_document(old)}
        broken = [p for p in check_document(new) if (p.message, p.field) not in schema_before]
        if broken:
            raise EditRefused(
                f"{_place(path, old, broken[0].field)}: {printable(old.tag or '-')}: "
                f"{broken[0].field or '-'}: {broken[0].message}; not edited"
            )
        try:
            wire = Job.from_mapping(new.data).to_wire()
        except FieldError as exc:
            raise EditRefused(f"{where}: the edited job would not read back: {exc}") from exc
        for field, edit in changes.items():
            if wire[field] != edit.new:
                raise EditRefused(
                    f"{_place(path, old, field)}: {field}: would read back as "
                    f"{show(wire[field])}, not {show(edit.new)}; not edited"
                )


def _keys(document: Document) -> Iterable[Any]:
    return document.data.keys() if isinstance(document.data, dict) else ()


def _problems(document: Document) -> list[tuple[str, str | None, str]]:
    # Lines may move (an added field), so problems are compared without their places.
    return [(p.message, p.field, p.severity) for p in document.problems]
