"""The steps the commands share: read the manifests, read the target, plan, apply.

Each command is a function from a :class:`RunSpec` (what the options and the configuration
asked for, for one product) to an :class:`~reconciler.outcome.Outcome`. Expected errors of
one product become that Outcome's ``error``, so a report always says why and the other
products of a repository still run.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace

from . import planfile
from .apply import ApplyInterrupted, Result, Stop, apply_plan
from .clock import now_ms
from .desired import Desired, load_desired
from .errors import ApplyRefused, Interrupted, ReconcilerError
from .model import EventType, Location, Problem, Severity
from .outcome import Command, Outcome
from .plan import Action, Change, Plan, build_plan, check_fresh, owned, select
from .schedule import warnings
from .settings import RunSpec
from .strings import printable
from .targets import Target, open_target
from .targets.base import Catalogue, LiveJobs
from .targets.snapshot import READ_ONLY, SnapshotTarget

NO_FILE = Location("")


def strictly(spec: RunSpec, outcome: Outcome) -> Outcome:
    """With ``strict``, every warning is an error: the run exits 1 and apply writes nothing."""
    if not spec.strict or not outcome.warnings:
        return outcome
    problems = tuple(
        p if p.is_error else replace(p, severity="error", message=f"{p.message} [strict]")
        for p in outcome.problems
    )
    return replace(outcome, problems=problems)


def validate(spec: RunSpec) -> Outcome:
    """Check the manifests alone: no target is read."""
    desired = load_desired(spec.paths)
    return strictly(
        spec,
        Outcome(
            "validate",
            spec.name,
            problems=desired.problems,
            files=desired.files,
            files_with_problems=desired.files_with_problems,
            jobs=len(desired.jobs),
            now=now_ms(),
        ),
    )


def open_for(spec: RunSpec) -> Target:
    return open_target(
        spec.target, spec.product, origin=spec.origin, timeout=spec.timeout, home=spec.home
    )


def plan(spec: RunSpec, command: Command = "plan") -> Outcome:
    """Validate, read the product once, compare; never writes."""
    return strictly(spec, _planned(spec, command, None))


def _planned(spec: RunSpec, command: Command, keep_open: list[Target] | None) -> Outcome:
    now = now_ms()
    desired = load_desired(spec.paths)
    base = Outcome(
        command,
        spec.name,
        problems=desired.problems,
        files=desired.files,
        files_with_problems=desired.files_with_problems,
        jobs=len(desired.jobs),
        now=now,
    )
    if desired.errors:
        return base
    try:
        target = open_for(spec)
    except ReconcilerError as exc:
        return replace(base, error=str(exc))
    try:
        base = replace(base, target=target.describe())
        live = target.fetch_jobs()
        catalogue = target.catalogue(app_tags(desired)) if spec.references != "off" else None
    except ReconcilerError as exc:
        target.close()
        return replace(base, error=str(exc))
    if keep_open is None:
        target.close()
    else:
        keep_open.append(target)
    return _compare(spec, base, desired, live, catalogue)


def _compare(
    spec: RunSpec,
    base: Outcome,
    desired: Desired,
    live: LiveJobs,
    catalogue: Catalogue | None,
) -> Outcome:
    left_out = select(set(desired.jobs) | {j.tag for j in live}, spec.only, spec.exclude)
    wanted = {t: j for t, j in desired.jobs.items() if t not in left_out}
    the_plan = build_plan(
        wanted,
        (j for j in live if j.tag not in left_out),
        desired.sources,
        base.target,
        spec.owns,
        spec.ignore_fields,
    )
    problems = list(base.problems)
    problems += selection_warnings(set(desired.jobs) | {j.tag for j in live}, spec)
    problems += [
        Problem(
            desired.where(tag, "tag"),
            f"the repository creates {tag!r} but does not own it (owns: "
            f"{', '.join(spec.owns)}): once deleted from Git it is never reported as an orphan",
            tag,
            "tag",
            "warning",
        )
        for tag in sorted(c.tag for c in the_plan.changes if c.action is Action.CREATE)
        if not owned(tag, spec.owns)
    ]
    if catalogue is not None:
        severity: Severity = "error" if spec.references == "error" else "warning"
        problems += check_references(desired, wanted, catalogue, severity)
    problems += plan_warnings(the_plan, base.now)
    problems += [
        Problem(
            NO_FILE,
            f"live job {printable(repr(m.tag or m.id or '?'))} cannot be read and was skipped: "
            f"{m.message}",
            m.tag,
            None,
            "warning",
        )
        for m in live.malformed
    ]
    return replace(base, plan=the_plan, problems=tuple(problems), left_out=len(left_out))


def selection_warnings(tags: set[str], spec: RunSpec) -> list[Problem]:
    """A warning for each --only / --exclude glob that matches no job: a typo is no green no-op."""
    out = []
    for option, patterns in (("--only", spec.only), ("--exclude", spec.exclude)):
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


def app_tags(desired: Desired) -> set[str]:
    """The apps whose actions the manifests name (``<app access_tag>:<action>``)."""
    return {
        job.event_tag.partition(":")[0]
        for job in desired.jobs.values()
        if job.event_type is EventType.ACTION
    }


def plan_warnings(the_plan: Plan, now: int) -> list[Problem]:
    """Orphans, likely renames and schedules a reviewer should see, as warnings."""
    out: list[Problem] = []
    for change in the_plan.changes:
        where = change.source or NO_FILE
        if change.action is Action.ORPHAN:
            text = "live only; remove it by hand in Ductape (no delete)"
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
        close = difflib.get_close_matches(job.event_tag, sorted(known), n=3, cutoff=0.5)
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


@dataclass(frozen=True)
class WriteOptions:
    """How apply writes, whatever the plan came from.

    ``approve`` is shown the plan and raises ApplyRefused to refuse; ``on_result`` gets each
    job's final result, ``on_progress`` each write call as it returns; ``stop`` is what the
    signal handlers set.
    """

    approve: Callable[[Outcome], None]
    parallelism: int
    max_changes: int | None = None
    on_result: Callable[[Result], None] | None = None
    on_progress: Callable[[Change], None] | None = None
    stop: Stop | None = None


def apply(spec: RunSpec, options: WriteOptions) -> Outcome:
    """Plan, ask for approval, write, report every job."""
    opened: list[Target] = []
    try:
        outcome = strictly(spec, _planned(spec, "apply", opened))
        if outcome.failed or outcome.plan is None or not outcome.plan.has_changes:
            return outcome
        return _write(outcome, opened[0], options)
    finally:
        for target in opened:
            target.close()


def apply_saved(the_plan: Plan, spec: RunSpec, options: WriteOptions) -> Outcome:
    """Apply a saved plan, refused if any job it writes changed live since it was made."""
    base = Outcome("apply", spec.name, plan=the_plan, now=now_ms())
    try:
        target = open_for(spec)
    except ReconcilerError as exc:
        return replace(base, error=str(exc))
    try:
        base = replace(base, target=target.describe())
        check_fresh(the_plan, target.fetch_jobs(), target.describe())
        return _write(base, target, options)
    except ReconcilerError as exc:
        return replace(base, error=str(exc))
    finally:
        target.close()


def _write(outcome: Outcome, target: Target, options: WriteOptions) -> Outcome:
    the_plan = outcome.plan
    max_changes = options.max_changes
    assert the_plan is not None
    if isinstance(target, SnapshotTarget):
        return replace(outcome, error=READ_ONLY)  # before approval: nothing to approve
    if not the_plan.has_changes:
        return outcome
    if max_changes is not None and the_plan.write_count > max_changes:
        return replace(
            outcome,
            error=f"the plan writes {the_plan.write_count} jobs, more than --max-changes "
            f"{max_changes}; nothing was changed",
        )
    try:
        options.approve(outcome)
    except ApplyRefused as exc:
        return replace(outcome, error=str(exc))
    except Interrupted as exc:  # at the prompt: the plan is reported, nothing was written
        return replace(outcome, error=f"{exc}; nothing was changed", interrupted=True)
    try:
        report = apply_plan(
            the_plan,
            target,
            options.parallelism,
            on_result=options.on_result,
            on_progress=options.on_progress,
            stop=options.stop,
        )
    except ApplyInterrupted as exc:
        # The caller reports what was written, then exits as interrupted.
        return replace(
            outcome,
            results=exc.report.results,
            stopped=f"interrupted ({exc.name})",
            interrupted=True,
        )
    return replace(outcome, results=report.results, stopped=report.stopped)


def load_saved(
    path: str, command: Command, ignore_fields: Collection[str] | None = None
) -> Outcome:
    """The plan saved at ``path`` by ``plan --out`` (or printed by ``plan --format json``).

    Read and checked by :mod:`reconciler.planfile`; for apply, ``ignore_fields`` (what the
    current configuration ignores) bounds what the plan may ignore.
    """
    saved = planfile.read(path)
    if ignore_fields is not None:
        planfile.check_ignore(saved.plan, ignore_fields, path)
    return Outcome(
        command,
        target=saved.plan.target,
        problems=saved.problems,
        plan=saved.plan,
        left_out=saved.left_out,
        error=saved.error,
        now=now_ms(),
    )
