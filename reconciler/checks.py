"""The rules a plan is checked by, beside the plan: warnings a reviewer should see and the
references a live catalogue can confirm. Pure: from a plan, the manifests and what was read
live, to :class:`~reconciler.model.Problem` records; the commands only collect them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from .desired import Desired
from .model import EventType, Location, Problem, Severity
from .plan import Action, Plan, owned
from .strings import printable
from .suggest import closest

if TYPE_CHECKING:  # annotations only: validate needs neither the schedule nor a target
    from .targets.base import Catalogue, MalformedJob

NO_FILE = Location("")
ORPHAN_NOTE = "live only; remove it by hand in Ductape (no delete)"


def selection_warnings(
    tags: set[str], only: Sequence[str], exclude: Sequence[str]
) -> list[Problem]:
    """A warning for each --only / --exclude glob that matches no job: a typo is no green no-op."""
    out = []
    for option, patterns in (("--only", only), ("--exclude", exclude)):
        for pattern in patterns:
            if not any(fnmatch.fnmatchcase(tag, pattern) for tag in tags):
                out.append(
                    Problem(
                        NO_FILE,
                        f"{option} {pattern!r} matches no job in the manifests or live",
                        None,
                        None,
                        "warning",
                    )
                )
    return out


def ownership_warnings(the_plan: Plan, desired: Desired, owns: Sequence[str]) -> list[Problem]:
    """A create whose tag is outside ``owns:`` can never become an orphan: say so."""
    return [
        Problem(
            desired.where(tag, "tag"),
            f"the repository creates {tag!r} but does not own it (owns: "
            f"{', '.join(owns)}): once deleted from Git it is never reported as an orphan",
            tag,
            "tag",
            "warning",
        )
        for tag in sorted(c.tag for c in the_plan.changes if c.action is Action.CREATE)
        if not owned(tag, owns)
    ]


def malformed_warnings(malformed: Iterable[MalformedJob]) -> list[Problem]:
    """Live jobs that could not be read: skipped, and said."""
    return [
        Problem(
            NO_FILE,
            f"live job {printable(repr(m.tag or m.id or '?'))} cannot be read and was skipped: "
            f"{m.message}",
            m.tag,
            None,
            "warning",
        )
        for m in malformed
    ]


def app_tags(desired: Desired) -> set[str]:
    """The apps whose actions the manifests name (``<app access_tag>:<action>``)."""
    return {
        job.event_tag.partition(":")[0]
        for job in desired.jobs.values()
        if job.event_type is EventType.ACTION
    }


def plan_warnings(the_plan: Plan, now: int) -> list[Problem]:
    """Orphans, likely renames and schedules a reviewer should see, as warnings."""
    from .schedule import warnings  # plan only: validate does not import the schedule

    out: list[Problem] = []
    for change in the_plan.changes:
        where = change.source or NO_FILE
        if change.action is Action.ORPHAN:
            text = ORPHAN_NOTE
            if change.rename:
                text += f"; likely renamed to {change.rename!r}"
            out.append(Problem(NO_FILE, f"orphan: {text}", change.tag, None, "warning"))
        elif change.action is Action.CREATE and change.rename:
            out.append(
                Problem(
                    where,
                    f"likely a rename of live job {change.rename!r}: the old job keeps running "
                    "beside the new one until it is removed by hand in Ductape",
                    change.tag,
                    "tag",
                    "warning",
                )
            )
        if change.is_write and change.desired is not None:
            new = change.action is Action.CREATE
            out += [
                Problem(where, text, change.tag, "start_at", "warning")
                for text in warnings(change.desired, now, new)
            ]
    return out


def check_references(
    desired: Desired, wanted: Mapping[str, object], catalogue: Catalogue, severity: Severity
) -> list[Problem]:
    """A problem for each job whose event_tag is not in the product's catalogue."""
    out = []
    for tag in wanted:
        job = desired.jobs[tag]
        kind = job.event_type.value
        if catalogue.has(kind, job.event_tag):
            continue
        known: frozenset[str] = getattr(catalogue, kind)
        close = closest(job.event_tag, sorted(known), n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        out.append(
            Problem(
                desired.where(tag, "event_tag"),
                f"the product has no {kind.replace('_', ' ')} {job.event_tag!r}{hint}",
                tag,
                "event_tag",
                severity,
            )
        )
    return sorted(out, key=lambda p: p.location)
