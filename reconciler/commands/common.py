"""The step every command that reads a target shares: manifests, target, live jobs, plan.

Expected errors of one product become that report's ``error``, so a report always says why
and the other products of a repository still run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import TypeVar

from ..checks import (
    app_tags,
    check_references,
    malformed_warnings,
    ownership_warnings,
    plan_warnings,
    selection_warnings,
)
from ..clock import now_ms
from ..desired import Desired, load_desired
from ..errors import ReconcilerError
from ..model import Severity
from ..outcome import Outcome
from ..plan import build_plan, select
from ..settings import RunSpec
from ..targets import Target, open_target
from ..targets.base import Catalogue, LiveJobs

R = TypeVar("R", bound=Outcome)


@contextmanager
def opened(spec: RunSpec) -> Iterator[Target]:
    """The product's target, closed when the block ends (the one owner of its lifetime)."""
    target = open_target(
        spec.target, spec.product, origin=spec.origin, timeout=spec.timeout, home=spec.home
    )
    try:
        yield target
    finally:
        target.close()


def strictly(spec: RunSpec, report: R) -> R:
    """With ``strict``, every warning is an error: the run exits 1 and apply writes nothing."""
    if not spec.strict or not report.warnings:
        return report
    problems = tuple(
        p if p.is_error else replace(p, severity="error", message=f"{p.message} [strict]")
        for p in report.problems
    )
    return replace(report, problems=problems)


def manifests(spec: RunSpec, kind: type[R]) -> tuple[Desired, R]:
    """The manifests, and the report that starts with what was found wrong in them."""
    desired = load_desired(spec.paths)
    report = kind(
        product=spec.name,
        problems=desired.problems,
        files=desired.files,
        files_with_problems=desired.files_with_problems,
        jobs=len(desired.jobs),
        now=now_ms(),
    )
    return desired, report


def planned(spec: RunSpec, kind: type[R], stack: ExitStack) -> tuple[R, Target | None]:
    """Validate, read the product once, compare; the target stays open on ``stack``."""
    desired, report = manifests(spec, kind)
    if desired.errors:
        return report, None
    try:
        target = stack.enter_context(opened(spec))
        report = replace(report, target=target.describe())
        live = target.fetch_jobs()
        catalogue = target.catalogue(app_tags(desired)) if spec.references != "off" else None
    except ReconcilerError as exc:
        return replace(report, error=str(exc)), None
    return strictly(spec, compare(spec, report, desired, live, catalogue)), target


def compare(
    spec: RunSpec, report: R, desired: Desired, live: LiveJobs, catalogue: Catalogue | None
) -> R:
    """The plan of the manifests against the live jobs, with every check's problems."""
    every_tag = set(desired.jobs) | {j.tag for j in live}
    left_out = select(every_tag, spec.only, spec.exclude)
    wanted = {t: j for t, j in desired.jobs.items() if t not in left_out}
    the_plan = build_plan(
        wanted,
        (j for j in live if j.tag not in left_out),
        desired.sources,
        report.target,
        spec.owns,
        spec.ignore_fields,
    )
    problems = list(report.problems)
    problems += selection_warnings(every_tag, spec.only, spec.exclude)
    problems += ownership_warnings(the_plan, desired, spec.owns)
    if catalogue is not None:
        severity: Severity = "error" if spec.references == "error" else "warning"
        problems += check_references(desired, wanted, catalogue, severity)
    problems += plan_warnings(the_plan, report.now)
    problems += malformed_warnings(live.malformed)
    return replace(report, plan=the_plan, problems=tuple(problems), left_out=len(left_out))
