"""What validate needs of the shared steps: the manifests and the strict rule, and nothing that
reads a target or compares (so validate, run on every commit, loads no more than it uses).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from ..clock import now_ms
from ..desired import Desired, load_desired
from ..outcome import Outcome
from ..settings import RunSpec

R = TypeVar("R", bound=Outcome)


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
