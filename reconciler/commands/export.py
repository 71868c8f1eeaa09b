"""``reconciler export``: a product's live jobs written as manifests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..export import export_jobs, schema_ref
from ..settings import RunSpec
from .common import opened


@dataclass(frozen=True)
class Exported:
    """What export wrote, left out and could not write (warnings, untrusted text)."""

    out: str
    written: tuple[str, ...]
    left_out: int
    warnings: tuple[str, ...]
    schema: str | None = None  # where the modelines point; None: no modeline was written


def run(
    spec: RunSpec, out: str, only: Sequence[str], exclude: Sequence[str], force: bool
) -> Exported:
    with opened(spec) as target:
        jobs = target.fetch_jobs()
    written, skipped, warnings = export_jobs(jobs, out, only, exclude, force)
    for bad in jobs.malformed:
        warnings.append(f"live job {bad.tag or bad.id}: cannot be read; skipped: {bad.message}")
    ref = schema_ref(out) if written else None
    return Exported(out, tuple(written), skipped, tuple(warnings), ref)
