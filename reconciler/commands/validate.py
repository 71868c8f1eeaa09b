"""``reconciler validate``: the manifests alone; no target is read."""

from __future__ import annotations

from collections.abc import Sequence

from ..outcome import ValidateReport
from ..settings import RunSpec
from .common import manifests, strictly


def run(specs: Sequence[RunSpec]) -> list[ValidateReport]:
    return [strictly(spec, manifests(spec, ValidateReport)[1]) for spec in specs]
