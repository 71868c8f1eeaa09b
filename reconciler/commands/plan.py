"""``reconciler plan``, ``drift`` and ``show``: compare, never write."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, TypeVar

from ..clock import now_ms
from ..desired import load_desired
from ..errors import UsageError
from ..outcome import DriftReport, PlanReport, ShowReport
from ..settings import RunSpec
from .common import planned_all

if TYPE_CHECKING:
    from ..accept import Accepted, Written

P = TypeVar("P", PlanReport, DriftReport)


def _each(specs: Sequence[RunSpec], kind: type[P]) -> list[P]:
    # One stack for the run: every product's target stays open until the last is planned.
    with ExitStack() as stack:
        return [report for report, _ in planned_all(specs, kind, stack)]


def plan(specs: Sequence[RunSpec], out: str | None = None) -> list[PlanReport]:
    """What apply would change, per product (``out``: one product's plan is to be saved)."""
    if out and len(specs) > 1:
        raise UsageError("--out saves one product's plan: add --only-product NAME")
    return _each(specs, PlanReport)


def drift(
    specs: Sequence[RunSpec], write_back: bool = False, orphans_to: str | None = None
) -> list[DriftReport]:
    """Whether live still matches Git, per product (``write_back``: to be accepted after)."""
    if orphans_to and not write_back:
        raise UsageError("--orphans-to writes orphans with --write; add --write")
    return _each(specs, DriftReport)


def accept_live(
    specs: Sequence[RunSpec], reports: Sequence[DriftReport], orphans_to: str | None
) -> list[tuple[Accepted, Written]]:
    """``drift --write``: the fields that moved live written into the manifests, in place.

    Every file of a product is checked before any is written; jobs missing live are left
    alone; orphans are written as new manifests only into ``orphans_to``.
    """
    from ..accept import edits_from_drift, write  # ruamel.yaml: only for drift --write

    done = []
    for spec, report in zip(specs, reports, strict=True):
        if report.plan is None or report.failed:
            continue
        accepted = edits_from_drift(report.plan, load_desired(spec.paths))
        if not accepted.empty:
            done.append((accepted, write(accepted, orphans_to)))
    return done


def load(path: str, ignore_fields: Collection[str] | None = None) -> ShowReport:
    """The plan saved at ``path`` by ``plan --out`` (or printed by ``plan --format json``).

    Read and checked by :mod:`reconciler.planfile`; for apply, ``ignore_fields`` (what the
    current configuration ignores) bounds what the plan may ignore.
    """
    from .. import planfile  # a saved plan only

    saved = planfile.read(path)
    if ignore_fields is not None:
        planfile.check_ignore(saved.plan, ignore_fields, path)
    return ShowReport(
        target=saved.plan.target,
        problems=saved.problems,
        plan=saved.plan,
        left_out=saved.left_out,
        error=saved.error,
        now=now_ms(),
        commit=saved.commit,
        paths=saved.paths,
    )
