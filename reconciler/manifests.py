"""Find manifest files and load their YAML documents with the position of every key.

This is the only module that imports PyYAML. It uses the C parser where the wheel has it
(about three times faster than the pure-Python one on many files) and keeps the node marks
so every later problem can name ``file:line:col``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import yaml

from .errors import UsageError
from .model import Location, Problem

SUFFIXES = (".yaml", ".yml")

try:
    _BaseLoader: type[Any] = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


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


def _timestamp_as_text(loader: Any, node: Any) -> Any:
    return loader.construct_scalar(node)


# An explicit `!!timestamp` too: the model parses the text and applies its zone rule.
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


@dataclass(frozen=True)
class Document:
    """One YAML document of a manifest, with where each top-level key and value stands.

    Positions are kept as 1-based (line, column) pairs and made into Locations only when asked
    for: most documents are valid, and most positions are never shown.
    """

    path: str
    index: int  # 0-based position of the document in its file
    data: Any
    start_at: tuple[int, int]
    key_at: dict[str, tuple[int, int]] = field(default_factory=dict)
    value_at: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def start(self) -> Location:
        return Location(self.path, *self.start_at)

    def key(self, name: str) -> Location:
        """Where a field's key stands; the document's start if it has no such key."""
        return Location(self.path, *self.key_at.get(name, self.start_at))

    def where(self, name: str | None) -> Location:
        """Where a field's value stands; its key when the value has no place; else the document."""
        if name is None:
            return self.start
        at = self.value_at.get(name) or self.key_at.get(name) or self.start_at
        return Location(self.path, *at)

    @property
    def tag(self) -> str | None:
        tag = self.data.get("tag") if isinstance(self.data, dict) else None
        return tag if isinstance(tag, str) else None


def find_manifests(paths: Iterable[str]) -> list[str]:
    """Every ``*.yaml``/``*.yml`` file under the given directories (or the files themselves).

    Recursive and sorted; hidden files and directories (``.git``, ``.reconciler``) are skipped.
    """
    found: list[str] = []
    for root in paths:
        if os.path.isfile(root):
            found.append(root)
            continue
        if not os.path.isdir(root):
            raise UsageError(f"{root}: no such file or directory")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            found.extend(
                os.path.join(dirpath, name)
                for name in filenames
                if name.endswith(SUFFIXES) and not name.startswith(".")
            )
    return sorted(dict.fromkeys(found))


def load_documents(paths: Iterable[str], problems: list[Problem]) -> Iterator[Document]:
    """Every document of every file, one at a time; problems are appended as they are found.

    A generator, so a caller that keeps only what it needs of each document holds one file's
    documents in memory at a time, not the whole tree's.
    """
    for path in paths:
        try:
            with open(path, "rb") as handle:
                text = handle.read()
        except OSError as exc:
            problems.append(Problem(Location(path), f"cannot read: {exc.strerror}"))
            continue
        yield from _load_file(path, text, problems)


def _load_file(path: str, text: bytes, problems: list[Problem]) -> Iterator[Document]:
    loader = _Loader(text)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            doc_index = index
            index += 1
            if node is None:
                continue
            if isinstance(node, yaml.ScalarNode) and node.value == "":
                continue  # an empty document, such as the one after a trailing '---'
            duplicates = list(_duplicate_keys(path, node))
            data = loader.construct_document(node)
            key_at: dict[str, tuple[int, int]] = {}
            value_at: dict[str, tuple[int, int]] = {}
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode):
                        key_at[key_node.value] = _at(key_node.start_mark)
                        value_at[key_node.value] = _at(value_node.start_mark)
            document = Document(path, doc_index, data, _at(node.start_mark), key_at, value_at)
            problems.extend(replace(problem, tag=document.tag) for problem in duplicates)
            yield document
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _location(path, mark) if mark else Location(path)
        what = exc.problem or exc.context or "invalid YAML"
        problems.append(Problem(where, f"YAML syntax error: {what}"))
    except yaml.YAMLError as exc:  # reader errors (bad encoding) carry no mark
        problems.append(Problem(Location(path), f"YAML error: {_one_line(str(exc))}"))
    finally:
        loader.dispose()


def _duplicate_keys(path: str, node: yaml.Node) -> Iterator[Problem]:
    """PyYAML silently keeps the last of two equal keys; report every repeat, at any depth."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            first_line: dict[str, int] = {}
            for key_node, value_node in current.value:
                stack.append(value_node)
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                name = key_node.value
                if name not in seen:
                    seen.add(name)
                    continue
                if not first_line:  # a repeat: now find where each key first stood
                    for other, _ in reversed(current.value):
                        if isinstance(other, yaml.ScalarNode):
                            first_line[other.value] = _at(other.start_mark)[0]
                yield Problem(
                    _location(path, key_node.start_mark),
                    f"duplicate key {name!r}, first defined at line {first_line[name]}",
                    field=name,
                )
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


def _at(mark: Any) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def _location(path: str, mark: Any) -> Location:
    return Location(path, *_at(mark))


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


CONFIG_NAME = ".reconciler.yaml"
CONFIG_KEYS = ("target", "product")


def load_config(paths: Iterable[str]) -> dict[str, str]:
    """``target`` and ``product`` from ``.reconciler.yaml`` beside the manifests, if any.

    Looked for in the first directory given (or the directory of the first file), then in the
    working directory. Secrets have no place there: credentials come from the environment.
    """
    first = next(iter(paths), ".")
    here = first if os.path.isdir(first) else os.path.dirname(first) or "."
    for directory in dict.fromkeys([here, "."]):
        path = os.path.join(directory, CONFIG_NAME)
        if os.path.isfile(path):
            return _read_config(path)
    return {}


def load_yaml(path: str, what: str) -> Any:
    """One YAML document of a settings file (configuration, server seed), timestamps as text.

    UsageError naming ``what``, the file and the line when it cannot be read.
    """
    try:
        with open(path, "rb") as handle:
            return yaml.load(handle, Loader=_Loader)
    except OSError as exc:
        raise UsageError(f"cannot read the {what} {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise UsageError(f"{path}{where}: the {what} is not valid YAML") from None


def _read_config(path: str) -> dict[str, str]:
    data = load_yaml(path, "configuration")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{path}: the configuration must be a mapping of {CONFIG_KEYS}")
    out: dict[str, str] = {}
    for key, value in data.items():
        if key not in CONFIG_KEYS:
            hint = (
                "; credentials belong in DUCTAPE_* environment variables, never in a file"
                if any(word in str(key).lower() for word in ("key", "token", "secret", "pass"))
                else ""
            )
            raise UsageError(f"{path}: unknown setting {key!r} (known: target, product){hint}")
        if not isinstance(value, str) or not value:
            raise UsageError(f"{path}: {key} must be a non-empty string")
        out[key] = value
    return out
