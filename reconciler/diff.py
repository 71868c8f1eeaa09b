"""Field-level differences between two jobs. The only module that imports deepdiff.

deepdiff's result never leaves this module: callers get the project's own FieldChange.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff

from .model import FIELDS, Job

_ORDER = {name: i for i, name in enumerate(FIELDS)}


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
    tree = DeepDiff(old, new, view="tree")
    names: set[str] = set()
    for levels in tree.values():
        for level in levels:
            path = level.path(output_format="list")
            if path:
                names.add(str(path[0]))
    return tuple(
        FieldChange(name, old.get(name), new.get(name))
        for name in sorted(names, key=lambda n: _ORDER.get(n, len(_ORDER)))
    )
