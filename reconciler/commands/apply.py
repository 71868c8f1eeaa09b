"""``reconciler apply``: plan every product, check the run's budget, approve, write, report.

The whole run is planned before anything is written, so ``--max-changes`` bounds the run
(every product together), not each product alone. Each product's target stays open from its
plan to its writes, and is closed (by the run's one ExitStack) only after its writes' workers
have stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace

from ..apply import ApplyInterrupted, Result, Stop, apply_plan
from ..errors import ApplyRefused, Interrupted, ReconcilerError, TooMuchChange, UsageError
from ..outcome import ApplyReport, Outcome, ShowReport
from ..plan import Change, ChangeBudget, check_fresh
from ..settings import RunSpec
from ..targets import Target
from ..targets.snapshot import READ_ONLY, SnapshotTarget
from .common import opened, planned_all
from .plan import load as load_saved


@dataclass(frozen=True)
class Approval:
    """How a plan is approved. ``show`` puts the plan where a person reads it; ``ask`` asks
    on a terminal and returns the answer (None: there is no terminal to ask on). A saved plan
    is its own approval: it was reviewed as a file."""

    auto: bool
    show: Callable[[Outcome], None]
    ask: Callable[[], str] | None

    def approve(self, report: Outcome, saved: bool) -> None:
        """Raise ApplyRefused (or Interrupted, at the prompt) unless the plan may be written."""
        if saved:
            return
        if not self.auto and self.ask is None:
            # Refused without showing the plan: the refusal is all there is to say.
            raise ApplyRefused(
                "refusing to apply without confirmation: no terminal to ask on; "
                "pass --auto-approve to apply from a pipeline"
            )
        self.show(report)
        if self.auto:
            return
        assert self.ask is not None
        if self.ask().strip() != "yes":
            raise ApplyRefused("apply cancelled; nothing was changed")


class Progress:
    """What apply tells as it writes; the text reporter's progress bar implements it."""

    def start(self, total: int) -> None:
        """Writes begin: ``total`` of them."""

    def result(self, result: Result) -> None:
        """A job's final result."""

    def progress(self, change: Change) -> None:
        """A write call returned."""

    def finish(self) -> None:
        """A product's writes are over, however they ended."""


@dataclass(frozen=True)
class WriteOptions:
    """How apply writes, whatever the plan came from."""

    approval: Approval
    parallelism: int
    budget: ChangeBudget | None = None
    progress: Progress = field(default_factory=Progress)
    stop: Stop | None = None


class Screen(Progress):
    """Where a person watches apply: the plan shown for approval, and the writes' progress
    (the text reporter's progress bar is one)."""

    def show(self, report: Outcome) -> None:
        """The plan, before it is approved (or, for a saved plan, as its writes start)."""

    @property
    def shows_saved_plans(self) -> bool:
        return False


def main(
    specs: Sequence[RunSpec],
    screen: Screen,
    ask: Callable[[], str] | None,
    stop: Stop | None,
    paths_given: bool = False,
    plan_file: str | None = None,
    auto_approve: bool = False,
    parallelism: int = 4,
    max_changes: str | None = None,
) -> list[ApplyReport]:
    """The apply command: the manifests planned and written, or a saved plan written.

    A signal before a product's writes start ends the run with that product's report saying
    nothing of it was changed (a signal after they start is reported by the writes).
    """
    if plan_file and paths_given:
        raise UsageError("give either PATHS or --plan, not both")
    if plan_file and len(specs) > 1:
        raise UsageError("--plan applies one product's plan: add --only-product NAME")
    budget = ChangeBudget.parse(max_changes) if max_changes is not None else None
    approval = Approval(auto_approve, screen.show, ask)
    options = WriteOptions(approval, parallelism, budget, screen, stop)
    reports: list[ApplyReport] = []
    try:
        if stop is not None:
            stop.arm()
        if plan_file:
            found = load_saved(plan_file, specs[0].ignore_fields)
            if found.plan is None or found.error:
                raise UsageError(f"{plan_file} holds no plan to apply: {found.error or 'invalid'}")
            # Shown once the plan is found fresh, as its writes start: a refused plan says
            # why it was refused, not the whole plan first.
            if screen.shows_saved_plans:
                options = replace(options, progress=ShownFirst(screen, found))
            reports = [saved(found, specs[0], options)]
        else:
            reports = run(specs, options)
    except Interrupted as exc:
        name = specs[len(reports)].name if len(reports) < len(specs) else ""
        error = f"{exc}; nothing was changed"
        reports.append(ApplyReport(product=name, error=error, interrupted=exc.signum))
    finally:
        if stop is not None:
            stop.quiet()  # the report goes out whole, whatever arrives now
    return reports


class ShownFirst(Progress):
    """apply --plan's progress: the saved plan shown as its writes start, then the screen's."""

    def __init__(self, screen: Screen, plan: Outcome) -> None:
        self.screen, self.plan = screen, plan

    def start(self, total: int) -> None:
        self.screen.show(self.plan)
        self.screen.start(total)

    def result(self, result: Result) -> None:
        self.screen.result(result)

    def progress(self, change: Change) -> None:
        self.screen.progress(change)

    def finish(self) -> None:
        self.screen.finish()


def run(specs: Sequence[RunSpec], options: WriteOptions) -> list[ApplyReport]:
    """Plan every product, then write each in turn (none after an interrupt)."""
    with ExitStack() as stack:
        planned_runs = planned_all(specs, ApplyReport, stack)
        reports = [report for report, _ in planned_runs]
        if options.budget is not None:
            try:
                options.budget.raise_if_unsafe(r.plan for r in reports if r.plan and not r.failed)
            except TooMuchChange as exc:
                return [r if r.failed else replace(r, error=str(exc)) for r in reports]
        out: list[ApplyReport] = []
        for report, target in planned_runs:
            stopped = options.stop is not None and options.stop.is_set
            if stopped or report.failed or target is None:
                out.append(report)
                continue
            out.append(_write(report, target, options, saved=False))
            if out[-1].interrupted:
                break  # no other product is started
        return out + reports[len(out) :]


def saved(show: ShowReport, spec: RunSpec, options: WriteOptions) -> ApplyReport:
    """Apply a saved plan, refused if any job it writes changed live since it was made."""
    assert show.plan is not None
    report = ApplyReport(product=spec.name, plan=show.plan, now=show.now)
    with ExitStack() as stack:
        try:
            target = stack.enter_context(opened(spec))
            report = replace(report, target=target.describe())
            check_fresh(show.plan, target.fetch_jobs(), target.describe())
            if options.budget is not None:
                options.budget.raise_if_unsafe([show.plan])
        except ReconcilerError as exc:
            return replace(report, error=str(exc))
        return _write(report, target, options, saved=True)


def _write(report: ApplyReport, target: Target, options: WriteOptions, saved: bool) -> ApplyReport:
    the_plan = report.plan
    assert the_plan is not None
    if isinstance(target, SnapshotTarget):
        return replace(report, error=READ_ONLY)  # before approval: nothing to approve
    if not the_plan.has_changes:
        return report
    try:
        options.approval.approve(report, saved)
    except ApplyRefused as exc:
        return replace(report, error=str(exc))
    except Interrupted as exc:  # at the prompt: the plan is reported, nothing was written
        return replace(report, error=f"{exc}; nothing was changed", interrupted=exc.signum)
    progress = options.progress
    progress.start(the_plan.write_count)
    try:
        written = apply_plan(
            the_plan,
            target,
            options.parallelism,
            on_result=progress.result,
            on_progress=progress.progress,
            stop=options.stop,
        )
    except ApplyInterrupted as exc:
        # What was written is reported; the run then exits as interrupted.
        return replace(
            report,
            results=exc.report.results,
            stopped=f"interrupted ({exc.name})",
            interrupted=exc.signum,
        )
    finally:
        progress.finish()
    return replace(report, results=written.results, stopped=written.stopped)
