"""Field-level differences between two jobs. The only module that imports deepdiff.

deepdiff's result never leaves this module: callers get the project's own FieldChange.
"""

from __future__ import annotations

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


def field_changes(live: Job, desired: Job) -> tuple[FieldChange, ...]:
    """The fields that differ, in the model's field order. Empty when the jobs are equal."""
    if live == desired:
        return ()
    old, new = live.to_wire(), desired.to_wire()
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
