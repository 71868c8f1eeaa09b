"""The steps the commands share: read the manifests, read the target, build the plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .desired import Desired, load_desired
from .errors import ManifestError
from .plan import Plan, build_plan
from .targets.base import Target


@dataclass(frozen=True)
class Planned:
    desired: Desired
    plan: Plan


def validated(paths: Sequence[str]) -> Desired:
    """The desired state; ManifestError carrying every problem if any is an error."""
    desired = load_desired(paths)
    errors = desired.errors
    if errors:
        raise ManifestError(
            f"{len(errors)} problem(s) in {desired.files} manifest file(s); nothing was changed",
            desired.problems,
        )
    return desired


def make_plan(paths: Sequence[str], target: Target) -> Planned:
    """Validate the manifests, fetch live jobs and compare. Reads only."""
    desired = validated(paths)
    live = target.fetch_jobs()
    plan = build_plan(desired.jobs, live, desired.sources, target.describe())
    return Planned(desired, plan)
