"""The steps the commands share: read the manifests, read the target, build the plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .desired import Desired, load_desired
from .errors import ManifestError
from .model import Problem, Severity
from .plan import Plan, build_plan
from .targets.base import Catalogue, Target

REFERENCE_MODES = ("warn", "error", "off")


@dataclass(frozen=True)
class Planned:
    desired: Desired
    plan: Plan
    references: tuple[Problem, ...] = ()


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


def make_plan(paths: Sequence[str], target: Target, references: str = "warn") -> Planned:
    """Validate the manifests, fetch live jobs and compare. Reads only.

    With ``references`` other than "off", every job's ``event_tag`` is looked up in the
    product's catalogue (where the target knows one); with "error", a missing one stops here.
    """
    desired = validated(paths)
    live = target.fetch_jobs()
    plan = build_plan(desired.jobs, live, desired.sources, target.describe())
    found: tuple[Problem, ...] = ()
    if references != "off":
        catalogue = target.catalogue()
        if catalogue is not None:
            found = check_references(desired, catalogue, references)
    if references == "error" and found:
        raise ManifestError(
            f"{len(found)} job(s) name events the product does not have; nothing was changed",
            found,
        )
    return Planned(desired, plan, found)


def check_references(desired: Desired, catalogue: Catalogue, mode: str) -> tuple[Problem, ...]:
    """A problem for each job whose event_tag is not in the product's catalogue."""
    severity: Severity = "error" if mode == "error" else "warning"
    out = []
    for tag, job in desired.jobs.items():
        kind = job.event_type.value
        if not catalogue.has(kind, job.event_tag):
            out.append(
                Problem(
                    desired.event_tag_at[tag],
                    f"the product has no {kind.replace('_', ' ')} {job.event_tag!r}",
                    tag,
                    "event_tag",
                    severity,
                )
            )
    return tuple(sorted(out, key=lambda p: p.location))
