"""``.reconciler.yaml``: where the manifests are, which product they drive, what Git owns.

Looked up from the manifests' directory (or the working directory, without PATHS) upward to
the repository root (the first directory holding ``.git``); the first file found wins.
Relative paths in it (``paths:``, ``sqlite:///`` targets) are read from the file's own
directory, so the same file works from any working directory.

Precedence, for every setting: command-line flag > environment variable > this file > default.

A repository file is written by whoever can open a pull request, so it never holds secrets
(keys that look like one are refused) and a target it names does not receive credentials
unless an allow-list outside the repository accepts it (see ``targets.open_target``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError
from .manifests import Places, load_yaml
from .model import MUTABLE_FIELDS, parse_duration, suggest
from .strings import printable, shorten
from .suggest import hint
from .targets import is_target, unknown_target

CONFIG_NAME = ".reconciler.yaml"
PRODUCT_KEYS = ("paths", "product", "target", "owns", "ignore_fields", "strict", "schedule")
SCHEDULE_KEYS = ("collide", "max_starts_per_minute")
TOP_KEYS = (*PRODUCT_KEYS, "products")
_SECRET_WORDS = ("key", "token", "secret", "pass", "credential")


@dataclass(frozen=True)
class ProductConfig:
    """One product a repository drives: its manifests, its product name and target."""

    name: str
    paths: tuple[str, ...] = ()
    product: str | None = None
    target: str | None = None
    owns: tuple[str, ...] = ("*",)
    ignore_fields: tuple[str, ...] = ()
    strict: bool = False
    collide: int = 60_000
    max_starts_per_minute: int = 10


@dataclass(frozen=True)
class Config:
    """What ``.reconciler.yaml`` says; an empty Config where there is none."""

    path: str | None = None
    default: ProductConfig = field(default_factory=lambda: ProductConfig(""))
    products: tuple[ProductConfig, ...] = ()


def find_config(paths: Sequence[str]) -> str | None:
    """The nearest ``.reconciler.yaml`` from the first path (or the working directory) up.

    The search stops at the repository root (the first directory holding ``.git``). Outside a
    repository only the manifests' own directory is looked at: a file planted in a parent (the
    temp directory, a home directory) must not choose the target or what is owned.
    """
    first = paths[0] if paths else "."
    here = os.path.abspath(first if os.path.isdir(first) else os.path.dirname(first) or ".")
    root = _git_root(here)
    while True:
        candidate = os.path.join(here, CONFIG_NAME)
        if os.path.isfile(candidate):
            return os.path.relpath(candidate)
        parent = os.path.dirname(here)
        if root is None or here == root or parent == here:
            return None
        here = parent


def _git_root(start: str) -> str | None:
    here = start
    while True:
        if os.path.exists(os.path.join(here, ".git")):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def load_config(paths: Sequence[str]) -> Config:
    """The configuration that applies to ``paths``; an empty one when there is no file."""
    path = find_config(paths)
    if path is None:
        return Config()
    root = repository_root(os.path.dirname(path))
    real = os.path.realpath(path)
    if os.path.commonpath([root, real]) != root:
        # A link committed as .reconciler.yaml would read a file from outside the repository.
        raise UsageError(f"{path} is a link to a file outside the repository; refused")
    places: Places = {}
    data = load_yaml(path, "configuration", places)
    if data is None:
        return Config(path)
    if not isinstance(data, dict):
        raise UsageError(f"{path}: the configuration must be a mapping")
    base = os.path.dirname(path)
    top = _Where(printable(path), places)
    _check_keys(top, data, TOP_KEYS)
    default = _product(top, base, "", data, ProductConfig(""))
    products: list[tuple[ProductConfig, _Where]] = []
    raw_products = data.get("products")
    if raw_products is not None:
        if not isinstance(raw_products, dict) or not raw_products:
            raise UsageError(
                f"{top.at('products')}: products must be a mapping of name -> settings"
            )
        for name, settings in raw_products.items():
            where = _Where(top.path, places, ("products", str(name)))
            if not isinstance(name, str) or not name:
                raise UsageError(f"{where.at()}: a product's name must be a non-empty string")
            if not isinstance(settings, dict):
                raise UsageError(f"{where.at()} must be a mapping of {', '.join(PRODUCT_KEYS)}")
            _check_keys(where, settings, PRODUCT_KEYS)
            products.append((_product(where, base, name, settings, default), where))
    for entry, where in ((default, top), *products):
        _inside(root, where, entry)
    return Config(path, default, tuple(p for p, _ in products))


def repository_root(start: str) -> str:
    """The directory holding ``.git`` at or above ``start``; ``start`` itself without one."""
    real = os.path.realpath(start or ".")
    return _git_root(real) or real


@dataclass(frozen=True)
class _Where:
    """Where settings are in the file, for messages: ``.reconciler.yaml:3:9: products.shop``."""

    path: str  # the file, escaped for the terminal
    places: Places
    keys: tuple[str, ...] = ()  # () for the top level, ("products", name) for a product

    def at(self, *keys: str, key: bool = False) -> str:
        """``file:line:col`` of the value (or with ``key``, the key) at ``keys`` below this,
        and the product's name; the nearest enclosing place when that one is unknown."""
        full = (*self.keys, *keys)
        while full and full not in self.places:
            full = full[:-1]
        where = self.path
        if full:
            line, col = self.places[full][0 if key or full != (*self.keys, *keys) else 1]
            where = f"{where}:{line}:{col}"
        if self.keys:
            where += f": {'.'.join(printable(k) for k in self.keys)}"
        return where


def _inside(root: str, where: _Where, entry: ProductConfig) -> None:
    """A repository file points only inside its repository: its paths and its sqlite file."""
    named = [("paths", p) for p in entry.paths]
    file_target = _file_of(entry.target) if entry.target else None
    if file_target is not None:
        named.append(("target", file_target[1]))
    for key, value in named:
        real = os.path.realpath(value)
        if os.path.commonpath([root, real]) != root:
            raise UsageError(
                f"{where.at(key)}: {key}: {printable(repr(value))} is outside the repository "
                f"({printable(root)}); a repository file may only point inside it"
            )


def _check_keys(where: _Where, data: Mapping[Any, Any], known: Iterable[str], *inner: str) -> None:
    known = tuple(known)
    for key in data:
        if key in known:
            continue
        lowered = str(key).lower()
        meant = hint(key, known)
        if any(word in lowered for word in _SECRET_WORDS):
            why = "; credentials belong in DUCTAPE_* environment variables, never in a file"
        elif meant:
            why = f"; did you mean {printable(repr(meant))}?"
        else:
            why = f" (known: {', '.join(known)})"
        section = "".join(f"{k}: " for k in inner)
        raise UsageError(
            f"{where.at(*inner, str(key), key=True)}: {section}unknown setting "
            f"{printable(repr(key))}{why}"
        )


def _product(
    where: _Where, base: str, name: str, data: Mapping[str, Any], inherit: ProductConfig
) -> ProductConfig:
    paths = _strings(where, "paths", data.get("paths"))
    owns = _strings(where, "owns", data.get("owns"))
    ignore = _strings(where, "ignore_fields", data.get("ignore_fields"))
    for name_ in ignore or ():
        if name_ not in MUTABLE_FIELDS:
            meant = suggest(name_, MUTABLE_FIELDS)
            why = (
                f"did you mean {meant!r}?"
                if meant
                else f"one of {', '.join(MUTABLE_FIELDS)}; tag is the identity"
            )
            raise UsageError(
                f"{where.at('ignore_fields')}: ignore_fields: {printable(repr(name_))} "
                f"is not a job field ({why})"
            )
    target = _string(where, "target", data.get("target"))
    if target and not is_target(target):
        raise UsageError(
            f"{where.at('target')}: target: {shorten(target)}: {unknown_target(target)}"
        )
    strict = data.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise UsageError(f"{where.at('strict')}: strict must be true or false")
    collide, peak = _schedule(where, data.get("schedule"), inherit)
    return ProductConfig(
        name=name,
        paths=tuple(_relative(base, p) for p in paths) if paths is not None else inherit.paths,
        product=_string(where, "product", data.get("product")) or inherit.product,
        target=resolve_target(target, base) if target else inherit.target,
        owns=owns if owns is not None else inherit.owns,
        ignore_fields=ignore if ignore is not None else inherit.ignore_fields,
        strict=strict if strict is not None else inherit.strict,
        collide=collide,
        max_starts_per_minute=peak,
    )


def _schedule(where: _Where, value: Any, inherit: ProductConfig) -> tuple[int, int]:
    """``schedule: {collide: 60s, max_starts_per_minute: 10}``: what plans warn of."""
    if value is None:
        return inherit.collide, inherit.max_starts_per_minute
    if not isinstance(value, dict):
        raise UsageError(
            f"{where.at('schedule')}: schedule must be a mapping of {', '.join(SCHEDULE_KEYS)}"
        )
    _check_keys(where, value, SCHEDULE_KEYS, "schedule")
    collide = inherit.collide
    if "collide" in value:
        try:
            collide = parse_duration(value["collide"])
        except ValueError as exc:
            raise UsageError(f"{where.at('schedule', 'collide')}: schedule.collide: {exc}") from exc
    peak = value.get("max_starts_per_minute", inherit.max_starts_per_minute)
    if not isinstance(peak, int) or isinstance(peak, bool) or peak < 1:
        raise UsageError(
            f"{where.at('schedule', 'max_starts_per_minute')}: "
            "schedule.max_starts_per_minute must be a whole number >= 1"
        )
    return collide, peak


def _string(where: _Where, key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where.at(key)}: {key} must be a non-empty string")
    return value.strip()


def _strings(where: _Where, key: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise UsageError(f"{where.at(key)}: {key} must be a list of non-empty strings")
    return tuple(value)


def _relative(base: str, path: str) -> str:
    """A path from the config file's directory, as seen from the working directory."""
    if os.path.isabs(path):
        return path
    return os.path.relpath(os.path.join(base, path))


# Targets that name a file: read from the config's directory, and kept inside the repository.
FILE_TARGETS = ("sqlite:///", "snapshot:")


def _file_of(spec: str) -> tuple[str, str] | None:
    """(prefix, path) for a target that names a file."""
    for prefix in FILE_TARGETS:
        if spec.startswith(prefix):
            return prefix, spec[len(prefix) :]
    return None


def resolve_target(spec: str, base: str) -> str:
    """A file target (``sqlite:///relative.db``, ``snapshot:live.json``) read from the config's
    directory; others unchanged. An absolute path keeps its form: ``sqlite:////abs``."""
    named = _file_of(spec)
    if named is None or not named[1].strip() or os.path.isabs(named[1]):
        return spec  # no path at all is said when the target is opened
    return named[0] + _relative(base, named[1])
