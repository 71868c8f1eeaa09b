"""Find manifest files and load their YAML documents with the position of every key.

This is the only module that imports PyYAML. libyaml (the C parser, where the wheel has it)
turns bytes into events; this module composes the events into nodes itself, so that every
bound is checked *before* memory is spent on what it refuses:

- a file is read only if it is a regular file below the given paths, at most
  :data:`MAX_FILE_BYTES` long;
- an alias may name a single value (``&n nightly`` ... ``*n``), never a list or a mapping: a
  job has no use for one, and an alias to a collection is how a 13-byte file recurses forever
  (``name: &r [*r]``) and a 600-byte one expands to gigabytes (an "alias bomb");
- lists and mappings nest at most :data:`MAX_DEPTH` deep, a document holds at most
  :data:`MAX_NODES` values (every use of an alias counts), a file at most
  :data:`MAX_DOCUMENTS` documents.

Whatever breaks a bound is one problem at ``file:line:col``; values are never expanded into a
message. Node marks are kept so every later problem can name ``file:line:col`` too.
"""

from __future__ import annotations

import codecs
import errno
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml

from .errors import UsageError
from .model import Location, Problem
from .strings import printable, shorten

SUFFIXES = (".yaml", ".yml")

# What one file may cost. A job document is a mapping of seven scalars (15 YAML nodes); the
# bounds leave ample room for honest mistakes and refuse what can only be an accident or an
# attack. A refusal is one problem at file:line; nothing past it in that file is read.
MAX_FILE_BYTES = 1024 * 1024  # 1 MiB per manifest or settings file
MAX_DEPTH = 16  # lists and mappings inside one another
MAX_NODES = 1_000  # values in one manifest document, each use of an alias counted
MAX_SETTINGS_NODES = 100_000  # values in a settings file (.reconciler.yaml, a server seed)
MAX_DOCUMENTS = 10_000  # documents in one manifest file

# The job fields that hold numbers: YAML 1.1 reads some number forms there in surprising ways.
NUMBER_FIELDS = ("executions", "intervals", "start_at")

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"

try:
    _BaseLoader: type[Any] = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


_RESOLVED: dict[str, str] = {}  # plain scalar text -> its implicit tag (see _Loader.resolve)
_RESOLVED_MAX = 4096
_RESOLVED_TEXT = 64


class _Loader(_BaseLoader):  # type: ignore[misc]
    """Safe loader that leaves timestamps as text.

    YAML 1.1 turns an unquoted ``2026-12-01T02:00:00Z`` into a datetime (and a zone-less one
    into a naive datetime, losing the fact that it had no zone). Keeping the text lets the
    schema and the model check it the same way whether or not it was quoted.
    """

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
    }

    # The C composer asks Python for the tag of every value: one call per value of every
    # file, about a fifth of the time a plain manifest takes. PyYAML's own resolve also looks
    # at wildcard and path resolvers, which this loader never has; without them the answer is
    # the same (a test compares the two on every first character).
    _by_first: ClassVar[dict[str, tuple[tuple[str, Any], ...]]] = {
        first: tuple(resolvers) for first, resolvers in yaml_implicit_resolvers.items()
    }

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            if implicit[0]:
                # Keys and many values repeat from file to file: the answer depends on the
                # text alone, so short texts are remembered (a bounded number of them).
                tag = _RESOLVED.get(value)
                if tag is None:
                    tag = _STR
                    for candidate, regexp in self._by_first.get(value[:1], ()):
                        if regexp.match(value):
                            tag = candidate
                            break
                    if len(value) <= _RESOLVED_TEXT and len(_RESOLVED) < _RESOLVED_MAX:
                        _RESOLVED[value] = tag
                return tag
            return _STR
        return _SEQ if kind is yaml.SequenceNode else _MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass  # no path resolvers: nothing to track

    def ascend_resolver(self) -> None:
        pass


def _timestamp_as_text(loader: Any, node: Any) -> Any:
    return loader.construct_scalar(node)


# An explicit `!!timestamp` too: the model parses the text and applies its zone rule.
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


class Refused(Exception):
    """A file or document the loader will not build; ``mark`` is where, when known."""

    def __init__(self, message: str, mark: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


@dataclass(frozen=True)
class Document:
    """One YAML document of a manifest, with where each top-level key and value stands.

    Positions are kept as 0-based (line, column) pairs, as the parser counts, and made into
    Locations only when asked for: most documents are valid, and most positions are never
    shown. (Pairs of small ints, not the parser's marks: the garbage collector skips them,
    and a run may hold 50,000 documents.) ``problems`` are the
    loader's own findings in this document (repeated keys, misleading number forms, values
    YAML cannot build); ``flagged`` names the fields they concern (``None``: the document).
    ``written`` keeps, for top-level values that YAML did not read as text, the text as
    written (``yes``, ``~``, an empty value, ``010``), so messages can show it that way.
    """

    path: str
    index: int  # 0-based position of the document in its file
    data: Any
    start_at: tuple[int, int]
    key_at: dict[str, tuple[int, int]] = field(default_factory=dict)
    value_at: dict[str, tuple[int, int]] = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    flagged: frozenset[str | None] = frozenset()

    @property
    def start(self) -> Location:
        return _place(self.path, self.start_at)

    def key(self, name: str) -> Location:
        """Where a field's key stands; the document's start if it has no such key."""
        return _place(self.path, self.key_at.get(name, self.start_at))

    def where(self, name: str | None) -> Location:
        """Where a field's value stands; its key when the value has no place; else the document."""
        if name is None:
            return self.start
        at = self.value_at.get(name) or self.key_at.get(name) or self.start_at
        return _place(self.path, at)

    @property
    def tag(self) -> str | None:
        tag = self.data.get("tag") if isinstance(self.data, dict) else None
        return tag if isinstance(tag, str) else None


# --- finding files ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """Manifest files to read, and candidates refused before reading (links out of the tree)."""

    files: tuple[str, ...]
    refused: tuple[Problem, ...] = ()


def find_manifests(paths: Iterable[str]) -> list[str]:
    """Every ``*.yaml``/``*.yml`` file under the given directories (or the files themselves).

    Recursive and sorted; hidden files and directories (``.git``, ``.reconciler``) are skipped,
    and so are links that lead out of the given paths (:func:`scan` reports those). UsageError
    naming the paths when there is none at all.
    """
    return list(scan(paths).files)


def scan(paths: Iterable[str]) -> Found:
    """The files :func:`find_manifests` returns, and a problem for each link refused.

    A file reached twice (``jobs ./jobs/``, or through a link inside the tree) is read once.
    A symbolic link is followed only when its target lies inside the given path it was
    found under: a pull request must not make a pipeline read ``/dev/zero`` or a file of
    the runner's. Such a link is returned as its target's path under that given path.
    Directory links are not followed.
    """
    given = list(paths)
    found: dict[str, str] = {}  # real path -> path as found (the first spelling wins)
    refused: list[Problem] = []
    for root in given:
        if os.path.isdir(root):
            top = os.path.realpath(root)
            _walk(root, top, found, refused)
        elif os.path.lexists(root):
            # A file named on the command line: a link may lead anywhere in its own directory.
            top = os.path.realpath(os.path.dirname(root) or ".")
            real = os.path.realpath(root)
            if not os.path.islink(root):
                found.setdefault(real, root)
            elif os.path.commonpath([top, real]) != top:
                refused.append(Problem(Location(root), _OUTSIDE))
            else:
                found.setdefault(real, os.path.join(os.path.dirname(root), _inside(real, top)))
        else:
            raise UsageError(f"{printable(root)}: no such file or directory")
    if not found and not refused:
        named = ", ".join(printable(p) for p in given) or "(none)"
        raise UsageError(f"no manifests (*.yaml, *.yml) found in {named}")
    return Found(tuple(sorted(found.values())), tuple(sorted(refused, key=str)))


_OUTSIDE = "a symbolic link to a file outside the given paths; not read"
_UNLISTED = "cannot list this directory: "


def not_read(problem: Problem) -> bool:
    """Whether ``problem`` is one of :func:`scan`'s: a candidate refused before any read (a
    link out of the tree, a directory that cannot be listed), not among the files read."""
    return problem.message == _OUTSIDE or problem.message.startswith(_UNLISTED)


def _inside(real: str, top: str) -> str:
    """A link's target, spelled from ``top``: the file found is the file read, not the link.

    Every path :func:`scan` returns names a file that was not a link when listed, so it can be
    opened without following one (:func:`read_bounded`): a file swapped for a link between
    the listing and the read is refused, not read from wherever the link leads.
    """
    return os.path.relpath(real, top)


def _walk(root: str, top: str, found: dict[str, str], refused: list[Problem]) -> None:
    """Manifests under the directory ``root`` (whose real path is ``top``).

    Directory links are not followed, so below ``top`` only a file link needs resolving; the
    others' real paths are known from their directory's. A loop, not recursion: a repository
    may nest directories deeper than Python's stack. A directory that cannot be listed is a
    problem, like a file that cannot be read.
    """
    pending = [(root, top)]
    while pending:
        directory, real_dir = pending.pop()
        try:
            with os.scandir(directory) as listing:
                entries = list(listing)
        except OSError as exc:
            message = f"{_UNLISTED}{exc.strerror or 'error'}"
            refused.append(Problem(Location(directory), message))
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            path = os.path.join(directory, name)
            if entry.is_dir(follow_symlinks=False):
                pending.append((path, os.path.join(real_dir, name)))
            elif name.endswith(SUFFIXES):
                if not entry.is_symlink():
                    found.setdefault(os.path.join(real_dir, name), path)
                    continue
                real = os.path.realpath(path)
                if os.path.commonpath([top, real]) != top:
                    refused.append(Problem(Location(path), _OUTSIDE))
                else:
                    found.setdefault(real, os.path.join(root, _inside(real, top)))


# --- reading files ---------------------------------------------------------------------------


_TOO_LARGE = f"larger than {MAX_FILE_BYTES / 1024 / 1024:g} MiB, the limit for one file; not read"


_SWAPPED = "now a symbolic link, not the file that was listed; not read"


def read_bounded(path: str, follow_links: bool = False) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_FILE_BYTES`; Refused otherwise.

    Opened without blocking (a FIFO named ``x.yaml`` must not hang a pipeline), checked on the
    open descriptor (no race between the check and the read), and read no further than the
    bound (a link to ``/dev/zero`` never ends). A symbolic link is refused at the open
    (``O_NOFOLLOW``) unless ``follow_links``: what was listed is what is read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    if not follow_links:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_links:
            raise Refused(_SWAPPED) from exc
        raise Refused(f"cannot read: {exc.strerror or 'error'}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused("not a regular file; not read")
        if info.st_size > MAX_FILE_BYTES:
            raise Refused(_TOO_LARGE)
        chunks: list[bytes] = []
        size = 0
        want = info.st_size + 1  # then small steps: os.read allocates what it is asked for
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, min(want, MAX_FILE_BYTES + 1 - size))
            want = 64 * 1024
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size == info.st_size and len(chunks) == 1:
                # Asked for one byte more than fstat said and got exactly that size: the end
                # of the file, without a second read to be told so (a syscall per manifest).
                # A short read of fewer bytes, or a file that grew, keeps reading.
                break
        if size > MAX_FILE_BYTES:  # grew while being read
            raise Refused(_TOO_LARGE)
        return b"".join(chunks)
    except OSError as exc:
        if exc.errno == errno.EAGAIN:
            raise Refused("not a regular file; not read") from exc
        raise Refused(f"cannot read: {exc.strerror or 'error'}") from exc
    finally:
        os.close(fd)


def load_documents(paths: Iterable[str], problems: list[Problem]) -> Iterator[Document]:
    """Every document of every file, one at a time; file-level problems are appended.

    A generator, so a caller that keeps only what it needs of each document holds one file's
    documents in memory at a time, not the whole tree's. Problems within a document travel
    on the document (:attr:`Document.problems`).
    """
    for path in paths:
        try:
            text = read_bounded(path)
        except Refused as exc:
            problems.append(Problem(Location(path), exc.message))
            continue
        documents = _load_plain(path, text)
        if documents is None:
            yield from _load_file(path, text, problems)
        else:
            yield from documents


# --- the plain path: what almost every manifest is ---------------------------------------------
#
# Composing nodes from events in Python (``_compose_document``) is what lets every bound be
# checked before memory is spent, but it costs about as much as parsing itself. Most files are
# plain: block mappings of scalars, no anchor, alias or tag. For those, libyaml's own composer
# (C, the one ``yaml.CSafeLoader`` uses) builds the nodes, and one flat pass builds the data.
# A cheap look at the bytes decides which files may take this path, and it is chosen so that
# no bound can be broken on it: no ``&``/``*`` (so no alias, nothing shared, no bomb), no ``!``
# (no tag), no flow collection and no long line (so nesting stays shallow whatever libyaml's
# own limit), few indicators (each node needs a ``:``, ``-`` or ``?`` near it, so a document
# holds few nodes). Anything at all the pass does not expect (a nested value, a repeated key,
# a number form to explain, a value YAML cannot build, a syntax or encoding error) abandons
# the file, which is then read again by the careful path above: every problem, bound and
# position comes from there alone, and a plain file costs one parse.

# Two searches, not one alternation: apart, each runs at C speed (1 us for a job's file, not 7).
_NOT_PLAIN = re.compile(rb"[&*!\[{]")
_LONG_LINE = re.compile(rb"[^\n]{256}")
_PLAIN_INDICATORS = 3_000  # ':', '-' and '?' in one file; at most ~3 nodes each
_BOOL = "tag:yaml.org,2002:bool"
_FLOAT = "tag:yaml.org,2002:float"
_NULL = "tag:yaml.org,2002:null"
_PLAIN_TAGS = frozenset((_INT, _FLOAT, _BOOL, _NULL))
_ABANDON = (yaml.YAMLError, ValueError, TypeError, KeyError, IndexError, OverflowError)


def _load_plain(path: str, text: bytes) -> list[Document] | None:
    """The documents of a plain file, built from libyaml's nodes; None: use the careful path."""
    if _NOT_PLAIN.search(text) is not None or _LONG_LINE.search(text) is not None:
        return None
    if text.count(b":") + text.count(b"-") + text.count(b"?") > _PLAIN_INDICATORS:
        return None
    loader = _Loader(text)
    documents: list[Document] = []
    try:
        index = 0
        while loader.check_node():
            if index >= MAX_DOCUMENTS:
                return None
            node = loader.get_node()
            if type(node) is not _ScalarNode or node.value != "":  # else an empty document
                document = _plain_document(loader, path, index, node)
                if document is None:
                    return None
                documents.append(document)
            index += 1
    except _ABANDON:
        return None
    finally:
        loader.dispose()
    return documents


def _plain_document(loader: Any, path: str, index: int, node: Any) -> Document | None:
    """A flat mapping of scalars as a Document, exactly as the careful path builds it; else None."""
    if type(node) is not _MappingNode or node.tag != _MAP:
        return None
    pairs = node.value
    if 1 + 2 * len(pairs) > MAX_NODES:
        return None
    constructors = loader.yaml_constructors
    data: dict[str, Any] = {}
    key_at: dict[str, tuple[int, int]] = {}
    value_at: dict[str, tuple[int, int]] = {}
    written: dict[str, str] = {}
    decimal = _DECIMAL.fullmatch
    for key_node, value_node in pairs:
        if type(key_node) is not _ScalarNode or type(value_node) is not _ScalarNode:
            return None
        name = key_node.value
        if key_node.tag != _STR or name in data:
            return None  # a key YAML reads as a number, null or merge; a repeated key
        tag = value_node.tag
        text = value_node.value
        # number_form_hint is asked only where it may have something to say: it is silent on
        # text without '0o', 'e' or 'E' and on a plain decimal (its own first checks).
        if tag == _STR:
            if (
                name in NUMBER_FIELDS
                and (_MAYBE_OCTAL_12 in text or "e" in text or "E" in text)
                and number_form_hint(name, value_node) is not None
            ):
                return None
            value: Any = text
        elif tag == _INT and decimal(text):
            value = int(text)
            written[name] = text
        elif tag in _PLAIN_TAGS:
            if name in NUMBER_FIELDS and number_form_hint(name, value_node) is not None:
                return None
            value = constructors[tag](loader, value_node)
            written[name] = text
        else:
            return None
        mark = key_node.start_mark
        key_at[name] = (mark.line, mark.column)
        mark = value_node.start_mark
        value_at[name] = (mark.line, mark.column)
        data[name] = value
    mark = node.start_mark
    return Document(path, index, data, (mark.line, mark.column), key_at, value_at, written)


def _load_file(path: str, text: bytes, problems: list[Problem]) -> Iterator[Document]:
    loader = _Loader(text)
    index = 0
    try:
        loader.get_event()  # the stream's start
        while not loader.check_event(yaml.StreamEndEvent):
            if index >= MAX_DOCUMENTS:
                raise Refused(
                    f"more than {MAX_DOCUMENTS:,} documents in one file; split it",
                    loader.peek_event().start_mark,
                )
            node = _compose_document(loader, MAX_NODES)
            doc_index = index
            index += 1
            if node is None or (isinstance(node, yaml.ScalarNode) and node.value == ""):
                continue  # an empty document, such as the one after a trailing '---'
            yield _document(loader, path, doc_index, node)
    except Refused as exc:
        problems.append(Problem(_location(path, exc.mark), exc.message))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid YAML"
        problems.append(Problem(_location(path, mark), f"YAML syntax error: {shorten(what)}"))
    except yaml.reader.ReaderError as exc:
        problems.append(_reader_problem(path, text, exc))
    except yaml.YAMLError as exc:  # no mark at all
        problems.append(Problem(Location(path), f"YAML error: {shorten(str(exc))}"))
    finally:
        loader.dispose()


def _reader_problem(path: str, text: bytes, exc: yaml.reader.ReaderError) -> Problem:
    """What libyaml's reader refused, named by the offending byte or character and its place.

    libyaml reports the byte *after* a bad lead byte (a Windows-1252 ``é`` followed by a
    space is "byte 0x20"), and ``-1`` for a sequence cut short, so a UTF-8 error is located
    again by Python's decoder, which names the first byte that is not UTF-8. Columns count
    characters, as everywhere else.
    """
    if not text.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text.decode("utf-8")
        except UnicodeDecodeError as bad:
            byte = text[bad.start]
            if bad.end == len(text) and bad.reason == "unexpected end of data":
                message = (
                    f"byte 0x{byte:02x} starts a UTF-8 sequence that the file ends inside: "
                    "a manifest is UTF-8 text"
                )
            else:
                message = f"byte 0x{byte:02x} is not UTF-8: a manifest is UTF-8 text"
            return Problem(_byte_location(path, text, bad.start), message)
    location = _byte_location(path, text, exc.position)
    if exc.character == 0:
        return Problem(location, "a NUL byte: a manifest is UTF-8 text")
    if isinstance(exc.character, int) and exc.character >= 0:
        reason = shorten(exc.reason)
        return Problem(
            location, f"character U+{exc.character:04X} is not allowed in YAML ({reason})"
        )
    return Problem(location, f"the text cannot be read: {shorten(exc.reason)}")


def _compose_document(loader: Any, max_nodes: int) -> yaml.Node | None:
    """The next document's node tree, built from parser events with every bound checked.

    An alias to a single value shares that value's node; an alias to a list or mapping is
    refused, so the result is a tree and every walk over it is bounded by ``max_nodes``.
    Events are told apart by exact type, scalars first: this loop runs for every value of
    every manifest, and is most of what loading costs.
    """
    get_event = loader.get_event
    resolve = loader.resolve
    get_event()  # the document's start
    anchors: dict[str, yaml.Node] = {}
    # [collection node, is a list, the mapping key waiting for its value or None]
    stack: list[list[Any]] = []
    root: yaml.Node | None = None
    count = 0
    while True:
        event: Any = get_event()
        kind = type(event)
        node: Any
        if kind is _ScalarEvent:
            count += 1
            if count > max_nodes:
                raise Refused(_too_many(max_nodes), event.start_mark)
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolve(_ScalarNode, event.value, event.implicit)
            node = _ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
            if event.anchor is not None:
                anchors[event.anchor] = node  # a later anchor of the same name replaces it
        elif kind is _MappingEndEvent or kind is _SequenceEndEvent:
            stack.pop()[0].end_mark = event.end_mark
            continue
        elif kind is _DocumentEndEvent:
            return root
        elif kind is _AliasEvent:
            count += 1
            if count > max_nodes:
                raise Refused(_too_many(max_nodes), event.start_mark)
            anchor = str(event.anchor)
            node = anchors.get(anchor)
            if node is None:
                raise Refused(f"alias *{shorten(anchor, 40)} names no anchor", event.start_mark)
            if type(node) is not _ScalarNode:
                raise Refused(
                    f"alias *{shorten(anchor, 40)} names a list or mapping; "
                    "a manifest may alias single values only",
                    event.start_mark,
                )
        else:  # a list or a mapping starts
            count += 1
            if count > max_nodes:
                raise Refused(_too_many(max_nodes), event.start_mark)
            if len(stack) >= MAX_DEPTH:
                raise Refused(
                    f"lists and mappings nested more than {MAX_DEPTH} deep", event.start_mark
                )
            is_list = kind is _SequenceStartEvent
            node_kind: Any = _SequenceNode if is_list else _MappingNode
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolve(node_kind, None, event.implicit)
            node = node_kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
            if event.anchor is not None:
                anchors[event.anchor] = node
            _attach(stack, node)
            if not stack:
                root = node
            stack.append([node, is_list, None])
            continue
        if stack:
            _attach(stack, node)
        else:
            root = node


def _attach(stack: list[list[Any]], node: yaml.Node) -> None:
    if not stack:
        return
    parent = stack[-1]
    if parent[1]:
        parent[0].value.append(node)
    elif parent[2] is None:
        parent[2] = node
    else:
        parent[0].value.append((parent[2], node))
        parent[2] = None


def _too_many(max_nodes: int) -> str:
    return f"more than {max_nodes:,} values in one document; a job has seven fields"


_ScalarEvent = yaml.ScalarEvent
_AliasEvent = yaml.AliasEvent
_SequenceStartEvent = yaml.SequenceStartEvent
_SequenceEndEvent = yaml.SequenceEndEvent
_MappingEndEvent = yaml.MappingEndEvent
_DocumentEndEvent = yaml.DocumentEndEvent
_ScalarNode = yaml.ScalarNode
_SequenceNode = yaml.SequenceNode
_MappingNode = yaml.MappingNode


def _document(loader: Any, path: str, index: int, node: yaml.Node) -> Document:
    """Check one composed document and build its data; the findings travel on the Document."""
    found: list[tuple[Any, str | None, str]] = []  # (mark, field, message)
    _check_tree(loader, node, found)
    key_at: dict[str, Any] = {}
    value_at: dict[str, Any] = {}
    written: dict[str, str] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                name = key_node.value
                if name not in key_at:
                    mark = key_node.start_mark
                    key_at[name] = (mark.line, mark.column)
                    mark = value_node.start_mark
                    value_at[name] = (mark.line, mark.column)
                if isinstance(value_node, yaml.ScalarNode):
                    if value_node.tag != _STR:
                        written.setdefault(name, value_node.value)
                    if name in NUMBER_FIELDS:
                        hint = number_form_hint(name, value_node)
                        if hint:
                            found.append((value_node.start_mark, name, hint))
    try:
        data = loader.construct_document(node)
    except (yaml.YAMLError, ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        mark = getattr(exc, "problem_mark", None) or node.start_mark
        found.append((mark, None, _construct_message(exc)))
        data = None
    finally:
        # After a failure the constructor keeps its half-built state; the next document
        # must not see it.
        loader.constructed_objects = {}
        loader.recursive_objects = {}
        loader.state_generators = []
    start = (node.start_mark.line, node.start_mark.column)
    document = Document(path, index, data, start, key_at, value_at, written)
    if not found:
        return document
    tag = document.tag
    problems = tuple(
        Problem(_location(path, mark), message, tag, name) for mark, name, message in found
    )
    flagged = frozenset(name for _, name, _ in found)
    return Document(
        path, index, data, document.start_at, key_at, value_at, written, problems, flagged
    )


def _check_tree(loader: Any, root: yaml.Node, found: list[tuple[Any, str | None, str]]) -> None:
    """Repeated keys at any depth, and every scalar built once to catch what YAML cannot read.

    ``root`` is a tree (aliases name only scalars) of at most MAX_NODES nodes: the walk is
    bounded. A scalar YAML cannot build (``!!int abc``, an unknown ``!tag``) becomes a finding
    on its top-level field and is then kept as its text, so the rest still builds.
    """
    stack: list[tuple[yaml.Node, str | None]] = [(root, None)]
    visits = 0
    while stack:
        current, name = stack.pop()
        visits += 1
        if visits > MAX_NODES:  # cannot happen after _compose_document; kept as a backstop
            raise Refused(_too_many(MAX_NODES), current.start_mark)
        if isinstance(current, yaml.ScalarNode):
            if current.tag != _STR:
                _build_scalar(loader, current, name, found)
            continue
        if current.tag not in (_SEQ, _MAP):
            # !!set, !!omap, a language's own tag: a job has no use for any of them.
            found.append((current.start_mark, name, _tag_refused(current.tag)))
            current.tag = _SEQ if isinstance(current, yaml.SequenceNode) else _MAP
        if isinstance(current, yaml.MappingNode):
            first: dict[str, yaml.Node] = {}
            for key_node, value_node in current.value:
                field_name = name
                if isinstance(key_node, yaml.ScalarNode):
                    key = key_node.value
                    field_name = name if current is not root else key
                    if key in first:
                        line = _at(first[key].start_mark)[0]
                        found.append(
                            (
                                key_node.start_mark,
                                field_name,
                                f"duplicate key {_quoted(key)}, first defined at line {line}",
                            )
                        )
                    else:
                        first[key] = key_node
                stack.append((value_node, field_name))
                stack.append((key_node, name))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, name) for item in current.value)


def _build_scalar(
    loader: Any, node: yaml.ScalarNode, name: str | None, found: list[tuple[Any, str | None, str]]
) -> None:
    if node.tag not in loader.yaml_constructors:
        found.append((node.start_mark, name, _tag_refused(node.tag)))
        node.tag = _STR
        return
    try:
        loader.construct_object(node)
    except (yaml.YAMLError, ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        found.append((node.start_mark, name, _scalar_message(node, exc)))
        loader.recursive_objects.pop(node, None)
        node.tag = _STR  # built as its text from now on: one finding, not a cascade


def _scalar_message(node: yaml.ScalarNode, exc: BaseException) -> str:
    shown = show_text(node.value)
    if node.tag == _INT and re.fullmatch(r"[-+]?[0-9_]+", node.value):
        return f"{shown} is too large"
    return f"{shown} is not a valid {_short_tag(node.tag)}"


def _tag_refused(tag: str) -> str:
    return f"the YAML tag {_short_tag(tag)} is not allowed in a manifest"


def _construct_message(exc: BaseException) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        return f"YAML cannot build this value: {shorten(exc.problem or 'invalid', 120)}"
    return "YAML cannot build this value"


def _short_tag(tag: str) -> str:
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix) :] if tag.startswith(prefix) else shorten(tag, 60)


# --- YAML 1.1 number forms ------------------------------------------------------------------

_MAYBE_OCTAL_12 = "0o"
_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_OCTAL_12 = re.compile(r"[-+]?0o[0-7]+")
_EXPONENT = re.compile(r"[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+")


def number_form_hint(name: str, node: yaml.ScalarNode) -> str | None:
    """Why a plain number in a job field does not mean what it seems to, and what to write.

    YAML 1.1 (PyYAML's dialect) reads ``010`` as octal 8, ``0x10`` as 16, ``1_000`` as 1000
    and ``1:30:00`` as the base-60 number 5400, while ``0o10`` and ``1e3`` stay text. Each is
    refused with the plain number (or, for ``intervals``, a duration) to write instead.
    """
    text = node.value
    if node.style or len(text) > 40:  # the C parser says '' for plain, the Python one None
        return None  # quoted: text on purpose; long: the schema's bounds speak
    if node.tag == _STR and not (_MAYBE_OCTAL_12 in text or "e" in text or "E" in text):
        return None  # the common case, a duration or a timestamp: nothing to look at
    if node.tag == _INT and _DECIMAL.fullmatch(text):
        return None  # a plain decimal: the common case of a number
    shown = show_text(text)
    if node.tag == _INT:
        digits = text.lstrip("+-").replace("_", "")
        sign = "-" if text.startswith("-") else ""
        if ":" in text:
            parts = [int(p.replace("_", "") or 0) for p in text.lstrip("+-").split(":")]
            value = 0
            for part in parts:
                value = value * 60 + part
            if name == "intervals":
                return (
                    f"{shown} is read by YAML as the base-60 number {sign}{value} "
                    f"(milliseconds); write a duration such as {_clock_duration(parts)}"
                )
            return f"{shown} is read by YAML as the base-60 number {sign}{value}; write a number"
        if digits.startswith(("0x", "0X")):
            value = int(digits, 16)
            return f"{shown} is read by YAML as hexadecimal {sign}{value}; write {sign}{value}"
        if digits.startswith(("0b", "0B")):
            value = int(digits[2:], 2)
            return f"{shown} is read by YAML as binary {sign}{value}; write {sign}{value}"
        if digits.startswith("0") and len(digits) > 1:
            decimal = digits.lstrip("0") or "0"
            if not re.fullmatch(r"[0-7]+", digits):
                return f"{shown} has a leading zero; write {sign}{decimal}"
            value = int(digits, 8)
            return (
                f"{shown} is read by YAML as octal {sign}{value}: "
                f"write {sign}{value} for that, {sign}{decimal} for decimal"
            )
        if "_" in text:
            return f"{shown} is read by YAML as {sign}{digits}; write {sign}{digits}"
        return None
    if node.tag == _STR and _OCTAL_12.fullmatch(text):
        digits = text.lstrip("+-")[2:]
        return f"{shown} is text to YAML 1.1, not octal; write {int(digits, 8)}"
    if node.tag == _STR and _EXPONENT.fullmatch(text):
        number = float(text)
        if number.is_integer() and abs(number) < 2**53:
            return f"{shown} is text to YAML 1.1, not a number; write {int(number)}"
    return None


def _clock_duration(parts: list[int]) -> str:
    units = ("h", "m", "s") if len(parts) == 3 else ("h", "m")
    written = "".join(f"{n}{u}" for n, u in zip(parts[-len(units) :], units, strict=True) if n)
    alternative = "".join(f"{n}{u}" for n, u in zip(parts[-2:], ("m", "s"), strict=False) if n)
    if len(parts) == 2 and alternative and alternative != written:
        return f"{written or '0m'} (or {alternative} if it is minutes and seconds)"
    return written or "1m"


def show_text(text: str, limit: int = 40) -> str:
    """A scalar as it was written, short and safe to print: long numbers by their length."""
    if len(text) > limit and re.fullmatch(r"[-+]?[0-9_]+", text):
        return f"a number of {len(text.lstrip('+-').replace('_', ''))} digits"
    if text == "":
        return "an empty value"
    return shorten(text, limit)


def _quoted(text: str) -> str:
    return "'" + shorten(text, 60) + "'"


def _place(path: str, at: tuple[int, int]) -> Location:
    return Location(path, at[0] + 1, at[1] + 1)


def _at(mark: Any) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def _location(path: str, mark: Any) -> Location:
    return Location(path, *_at(mark)) if mark is not None else Location(path)


def _byte_location(path: str, text: bytes, position: int) -> Location:
    """Line and column (in characters) of the byte at ``position``."""
    line_start = text.rfind(b"\n", 0, position) + 1
    column = len(text[line_start:position].decode("utf-8", errors="replace"))
    if line_start == 0 and text.startswith(codecs.BOM_UTF8):
        column -= 1  # the mark that says "UTF-8" is not a character of the line
    return Location(path, text.count(b"\n", 0, position) + 1, column + 1)


# --- settings files ----------------------------------------------------------------------


# Where each key of a settings file is: its path of keys -> (key's line, col), (value's).
Places = dict[tuple[str, ...], tuple[tuple[int, int], tuple[int, int]]]


def load_yaml(path: str, what: str, places: Places | None = None) -> Any:
    """One YAML document of a settings file (configuration, server seed), timestamps as text.

    The manifests' bounds hold here too (a regular file of at most 1 MiB, aliases to single
    values only, nesting and size bounded), with room for :data:`MAX_SETTINGS_NODES` values.
    UsageError naming ``what``, the file and the line when it cannot be read. ``places``, when
    given, is filled with where each key and its value are, for messages at file:line:col.
    """
    shown = printable(path)
    try:
        text = read_bounded(path, follow_links=True)  # named by the operator or found by name
    except Refused as exc:
        raise UsageError(f"cannot read the {what} {shown}: {exc.message}") from exc
    loader = _Loader(text)
    try:
        loader.get_event()  # the stream's start
        node = None
        if not loader.check_event(yaml.StreamEndEvent):
            node = _compose_document(loader, MAX_SETTINGS_NODES)
        if not loader.check_event(yaml.StreamEndEvent):
            raise Refused("more than one document", loader.peek_event().start_mark)
        if node is None:
            return None
        _refuse_repeated_keys(node)
        if places is not None:
            _key_places(node, places)
        return loader.construct_document(node)
    except Refused as exc:
        raise UsageError(f"{_location(shown, exc.mark)}: the {what}: {exc.message}") from exc
    except yaml.MarkedYAMLError as exc:
        where = _location(shown, exc.problem_mark or exc.context_mark)
        raise UsageError(f"{where}: the {what} is not valid YAML") from exc
    except yaml.reader.ReaderError as exc:
        problem = _reader_problem(shown, text, exc)
        raise UsageError(f"{problem.location}: the {what}: {problem.message}") from exc
    except (yaml.YAMLError, ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise UsageError(f"{shown}: the {what} holds a value YAML cannot build") from exc
    finally:
        loader.dispose()


def _key_places(root: yaml.Node, places: Places) -> None:
    """Fill ``places`` with the line and column of every scalar key of a mapping, by path."""
    stack: list[tuple[tuple[str, ...], yaml.Node]] = [((), root)]
    while stack:
        keys, node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    inner = (*keys, str(key_node.value))
                    places[inner] = (_at(key_node.start_mark), _at(value_node.start_mark))
                    stack.append((inner, value_node))


def _refuse_repeated_keys(root: yaml.Node) -> None:
    """Refused at the second spelling of a key, anywhere in a settings file.

    YAML lets the last one win; in ``.reconciler.yaml`` a second ``owns:`` would silently
    replace the first (and hide an orphan), so a settings file is held to what a manifest is.
    ``root`` is a tree (aliases name single values only) of a bounded size: the walk is too.
    """
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            first: dict[str, yaml.Node] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    seen = first.setdefault(key_node.value, key_node)
                    if seen is not key_node:
                        line = _at(seen.start_mark)[0]
                        key = _quoted(key_node.value)
                        message = f"duplicate key {key}, first defined at line {line}"
                        raise Refused(message, key_node.start_mark)
                stack.append(key_node)
                stack.append(value_node)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
