"""Field-level differences between two jobs. The only module that imports deepdiff.

deepdiff's result never leaves this module: callers get the project's own FieldChange.

A job's wire form is flat: seven fields, each a str or an int. Those are compared here
directly, value and type (as deepdiff does: 1 and 1.0 differ, so do 1 and True), which is
what deepdiff would report for them at a fraction of its cost; deepdiff is imported, lazily,
only for a value that is not a plain scalar (a nested field, should the model grow one), so
a command that never meets one (validate, any plan today) never loads it and its
dependencies (cachebox, and through it asyncio: a sixth of the start-up of a short run).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from .model import FIELDS, Job

_ORDER = {name: i for i, name in enumerate(FIELDS)}
_SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class FieldChange:
    """One field whose live value ``old`` differs from the desired ``new`` (canonical values)."""

    field: str
    old: Any
    new: Any


def field_changes(live: Job, desired: Job, ignore: Collection[str] = ()) -> tuple[FieldChange, ...]:
    """The fields that differ, in the model's field order, leaving out ``ignore``.

    Callers compare the jobs for equality first (cheap); this runs only where they differ.
    """
    old, new = live.to_wire(), desired.to_wire()
    for name in ignore:
        old.pop(name, None)
        new.pop(name, None)
    flat = all(type(v) in _SCALARS for v in (*old.values(), *new.values()))
    names = _flat_names(old, new) if flat else _deep_names(old, new)
    return tuple(
        FieldChange(name, old.get(name), new.get(name))
        for name in sorted(names, key=lambda n: _ORDER.get(n, len(_ORDER)))
    )


def _flat_names(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[str]:
    """Keys whose scalar values differ in value or in type, or that only one side has."""
    missing = object()
    names = set()
    for name in old.keys() | new.keys():
        a, b = old.get(name, missing), new.get(name, missing)
        if type(a) is not type(b) or a != b:
            names.add(name)
    return names


def _deep_names(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[str]:
    """The top-level keys deepdiff finds a difference under (any nesting)."""
    from deepdiff import DeepDiff

    tree = DeepDiff(dict(old), dict(new), view="tree")
    names: set[str] = set()
    for levels in tree.values():
        for level in levels:
            path = level.path(output_format="list")
            if path:
                names.add(str(path[0]))
    return names
