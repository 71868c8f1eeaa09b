"""``reconciler snapshot``: what a plan needs from the live product, saved without a secret."""

from __future__ import annotations

from typing import Any

from .. import snapshot as snapshot_file
from ..settings import RunSpec
from ..targets.snapshot import take
from .common import opened


def run(spec: RunSpec, out: str) -> dict[str, Any]:
    """Take the snapshot, write it whole to ``out``; the document written."""
    with opened(spec) as target:
        document = take(target)
    snapshot_file.write(out, document)
    return document
