"""The step every command that reads a target shares: manifests, target, live jobs, plan.

Expected errors of one product become that report's ``error``, so a report always says why
and the other products of a repository still run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from ..checks import (
    NO_FILE,
    app_tags,
    check_references,
    malformed_warnings,
    ownership_warnings,
    plan_warnings,
    selection_warnings,
)
from ..clock import now_ms
from ..cycles import paused
from ..desired import Desired, load_desired
from ..errors import ReconcilerError
from ..model import Problem, Severity
from ..outcome import Outcome
from ..plan import Plan, build_plan, select
from ..settings import RunSpec

if TYPE_CHECKING:  # validate reads no target and computes no schedule: both load on use
    from ..targets import Target
    from ..targets.base import Catalogue, LiveJobs
    from ..timeline import Impact

R = TypeVar("R", bound=Outcome)
T = TypeVar("T")


def each_product(specs: Sequence[RunSpec], work: Callable[[RunSpec], T]) -> list[T]:
    """``work(spec)`` for every product, up to ``product_parallelism`` at a time; the results
    in configuration order, whatever order they finished in.

    Reading a product over HTTP is mostly waiting, so products read side by side. Daemon
    threads, each taking the next product: a read hung past an interrupt must not keep the
    process from exiting, and the waiting (main) thread stays interruptible by a signal.
    """
    limit = min(max(1, specs[0].product_parallelism), len(specs)) if specs else 1
    if limit <= 1:
        return [work(spec) for spec in specs]
    results: dict[int, T] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()
    queue = iter(range(len(specs)))

    def worker() -> None:
        while not errors:
            with lock:
                index = next(queue, None)
            if index is None:
                return
            try:
                results[index] = work(specs[index])
            except BaseException as exc:  # handed to the waiting thread, raised there
                errors.append(exc)

    threads = [
        threading.Thread(target=worker, name=f"product-{n}", daemon=True) for n in range(limit)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.05)
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(specs))]


@contextmanager
def opened(spec: RunSpec) -> Iterator[Target]:
    """The product's target, closed when the block ends (the one owner of its lifetime)."""
    from ..targets import open_target

    target = open_target(
        spec.target,
        spec.product,
        origin=spec.origin,
        timeout=spec.timeout,
        home=spec.home,
        named=spec.target_named,
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
        paths=spec.paths,
        commit=spec.commit,
    )
    return desired, report


def planned_all(
    specs: Sequence[RunSpec], kind: type[R], stack: ExitStack
) -> list[tuple[R, Target | None]]:
    """:func:`planned` for every product, side by side (:func:`each_product`), in order.

    Each product's target is opened on a stack of its own in its thread (an ExitStack is not
    shared between threads) and handed to ``stack`` in configuration order, so every target
    stays open until the run ends: targets of the same credentials share one log-in while
    any of them is open.
    """

    def one(spec: RunSpec) -> tuple[R, Target | None, ExitStack]:
        own = ExitStack()
        try:
            report, target = planned(spec, kind, own)
        except BaseException:
            own.close()
            raise
        return report, target, own

    out = []
    for report, target, own in each_product(specs, one):
        stack.enter_context(own)
        out.append((report, target))
    return out


def planned(spec: RunSpec, kind: type[R], stack: ExitStack) -> tuple[R, Target | None]:
    """Validate, read the product once, compare; the target stays open on ``stack``."""
    with paused():
        return _planned(spec, kind, stack)


def _planned(spec: RunSpec, kind: type[R], stack: ExitStack) -> tuple[R, Target | None]:
    desired, report = manifests(spec, kind)
    report = replace(report, owns=spec.owns)  # what the repository owns, for the plan to say
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
        problems += references(spec, desired, wanted, catalogue)
    problems += plan_warnings(the_plan, report.now)
    problems += malformed_warnings(live.malformed)
    seen = schedule_impact(the_plan, report.now, spec)
    if seen is not None:
        # A group of a few jobs is ordinary; more than the limit starting together is a peak.
        limit = spec.max_starts_per_minute
        large = replace(seen, created=tuple(g for g in seen.created if g.size > limit))
        problems += [
            Problem(NO_FILE, text, None, "start_at", "warning")
            for text in large.warnings(max_starts_per_minute=limit)
        ]
    return replace(
        report, plan=the_plan, problems=tuple(problems), left_out=len(left_out), schedule=seen
    )


def references(
    spec: RunSpec, desired: Desired, wanted: Mapping[str, object], catalogue: Catalogue
) -> list[Problem]:
    """The event_tags of ``wanted`` missing from the catalogue, as ``--references`` says:
    errors with ``error``, warnings otherwise."""
    severity: Severity = "error" if spec.references == "error" else "warning"
    return check_references(desired, wanted, catalogue, severity)


def schedule_impact(the_plan: Plan, now: int, spec: RunSpec) -> Impact | None:
    """What the plan's writes do to the product's next 24 h, when it writes anything."""
    from ..schedule import next_runs
    from ..timeline import DAY, impact

    if not the_plan.has_changes:
        return None
    before = [c.live for c in the_plan.changes if c.live is not None]
    after = [
        c.desired if c.desired is not None else c.live
        for c in the_plan.changes
        if c.desired is not None or c.live is not None
    ]
    # From the day of the first run the plan writes (a plan may start jobs next month).
    first = min(
        (
            run
            for c in the_plan.changes
            if c.is_write and c.desired
            for run in next_runs(c.desired, now, 1)
        ),
        default=now,
    )
    start = max(now, first - first % DAY)
    return impact(before, [j for j in after if j is not None], start, spec.collide, DAY)
