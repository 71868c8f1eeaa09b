"""What every format says the same way: problem lines, values, drift items, summaries.

What holds a value from outside is a :class:`~reconciler.strings.Message` (the value in a
slot), never a finished string: each reporter renders it with its own context's escaper.
Only :func:`problem_line` and :func:`result_line` are finished, terminal-escaped lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..diff import FieldChange
from ..manifests import not_read
from ..model import MUTABLE_FIELDS, Problem, format_timestamp, human
from ..outcome import ApplyReport, DriftReport, Outcome, PlanReport, ReportVisitor, ValidateReport
from ..plan import Action, Change, Plan
from ..strings import Message, joined, printable, terminal, trusted

if TYPE_CHECKING:
    from ..apply import Result


def problem_line(problem: Problem) -> str:
    """``path:line:col: tag: field: [warning: ]message``, every part escaped, on one line.

    Problems are escaped when made (``model.Problem``); a path that would start the line with
    ``::`` (a workflow command, once the runner trims the indent) is shown as ``./path``.
    """
    where = str(problem.location) or "live"
    if where.startswith("::") or where[:1].isspace():
        where = "./" + where
    prefix = "" if problem.severity == "error" else "warning: "
    text = f"{where}: {problem.tag or '-'}: {problem.field or '-'}: {prefix}{problem.message}"
    return printable(text)


def shown(value: Any) -> str:
    """A canonical value as a plan shows it: strings quoted (JSON), numbers plain."""
    return json.dumps(value) if isinstance(value, str) else str(value)


def value_text(field: str, value: Any, before: str = "") -> Message:
    """A value with its friendly form where one helps: ``5400000 (1h30m)``, after our words
    ``before`` (one flat message, not one inside another: a plan renders tens of thousands)."""
    friendly = human(field, value)
    if friendly:
        return Message(before + "{} ({})", shown(value), friendly)
    return Message(before + "{}", shown(value))


def change_text(change: FieldChange) -> Message:
    """``intervals: 3600000 -> 1800000 (1h -> 30m)``."""
    old, new = shown(change.old), shown(change.new)
    old_h, new_h = human(change.field, change.old), human(change.field, change.new)
    if old_h or new_h:
        return Message(
            "{}: {} -> {} ({} -> {})", change.field, old, new, old_h or old, new_h or new
        )
    return Message("{}: {} -> {}", change.field, old, new)


def create_lines(change: Change) -> list[Message]:
    """Every field of a job to create, in the model's order."""
    assert change.desired is not None
    wire = change.desired.to_wire()
    return [value_text(name, wire[name], name + ": ") for name in MUTABLE_FIELDS]


def schedule_lines(change: Change, now: int) -> list[Message]:
    """The schedule from now; before and after for an update that moves it."""
    seen = schedules(change, now)
    if seen is None:
        return []
    before, after = seen
    if before is not None:
        return [trusted(f"schedule was: {before}"), trusted(f"schedule now: {after}")]
    return [trusted(f"schedule: {after}")]


def schedules(change: Change, now: int) -> tuple[str | None, str] | None:
    """(the schedule before, when the change moves it; the schedule after), or None."""
    from ..schedule import preview  # plans only: validate does not import the schedule

    if change.desired is None:
        return None
    after = preview(change.desired, now)
    if change.action is Action.UPDATE and change.live is not None:
        # Live jobs are milliseconds: shown in the zone the manifest names, so that a change
        # of name alone does not read as a change of schedule.
        before = preview(replace(change.live, zone=change.desired.zone), now)
        if before != after:
            return before, after
    return None, after


def next_run(change: Change, now: int) -> str:
    from ..schedule import first_run

    job = change.desired or change.live
    return first_run(job, now) if job is not None else "-"


def source(change: Change) -> str:
    """Where the change's manifest is (``path:line:col``), or ``""``: an untrusted value."""
    return str(change.source) if change.source else ""


def fields_of(change: Change) -> Message:
    """The names of the fields a change touches: the model's own as words, any other (a plan
    file may hold anything) in a slot."""
    return joined(
        ", ", [trusted(f.field) if f.field in MUTABLE_FIELDS else f.field for f in change.fields]
    )


# --- drift: the plan seen from the live side ---------------------------------------------

DRIFT_KINDS = {Action.UPDATE: "changed", Action.CREATE: "missing", Action.ORPHAN: "orphan"}


@dataclass(frozen=True)
class DriftItem:
    kind: str  # changed | missing | orphan
    change: Change


def drift_items(plan: Plan) -> list[DriftItem]:
    return [DriftItem(DRIFT_KINDS[c.action], c) for c in plan.changes if c.action in DRIFT_KINDS]


def drift_field(change: FieldChange) -> Message:
    """``intervals: live 1800000 (30m), git 5400000 (1h30m)``."""
    return Message(
        "{}: live {}, git {}",
        change.field,
        value_text(change.field, change.old),
        value_text(change.field, change.new),
    )


def drift_summary(plan: Plan) -> str:
    items = drift_items(plan)
    if not items:
        return "No drift: live jobs match the manifests."
    counts = {kind: sum(1 for i in items if i.kind == kind) for kind in DRIFT_KINDS.values()}
    return (
        f"Drift: {counts['changed']} changed live, {counts['missing']} missing live, "
        f"{counts['orphan']} orphan(s)."
    )


# --- apply ------------------------------------------------------------------------------


_RESULT_WORDS = {
    "failed": ("FAIL", "failed"),
    "unknown": ("UNKNOWN", "outcome unknown"),
    "skipped": ("SKIP", "not started"),
}


def result_message(result: Result) -> Message:
    """``ok   tag: created (id ...)``, ``FAIL tag: ...``, ``UNKNOWN tag: ...``, ``SKIP ...``."""
    action = result.change.action.value
    tag = result.change.tag
    if result.status == "ok":
        verb = "created" if action == "create" else "updated"
        return Message(f"ok   {{}}: {verb} (id {{}})", tag, str(result.id))
    head, what = _RESULT_WORDS[result.status]
    return Message(f"{head:<4} {{}}: {action} {what}: {{}}", tag, result.error or "")


def result_line(result: Result) -> str:
    """:func:`result_message` for the terminal."""
    return result_message(result).render(terminal)


def apply_summary(report: ApplyReport) -> Message:
    """``Apply: 6 created, 0 updated, 0 failed.``, then which target it wrote to."""
    from ..apply import Report  # only apply's report needs it: validate imports no apply

    summary = Report(tuple(report.results or ()), bool(report.interrupted), report.stopped)
    if report.target and report.results is not None:
        return Message(summary.summary() + " Target: {}.", report.target)
    return trusted(summary.summary())


# --- headings ---------------------------------------------------------------------------


def files_total(report: Outcome) -> int:
    """The files read, and those that could not be (a link out of the tree): files too."""
    return report.files + len({p.location.path for p in report.errors if not_read(p)})


def files_summary(report: Outcome) -> Message:
    """What the manifests held: valid jobs, or how many problems in how many files."""
    if report.errors:
        return trusted(
            f"Invalid: {len(report.errors)} problem(s) in {report.files_with_problems} "
            f"of {files_total(report)} file(s); nothing was planned or changed."
        )
    return trusted(f"Valid: {report.jobs} job(s) in {report.files} file(s).")


class _Headline(ReportVisitor[Message]):
    """The one-line summary of each report type."""

    def validate(self, report: ValidateReport) -> Message:
        return files_summary(report)

    def plan(self, report: PlanReport) -> Message:
        assert report.plan is not None
        return trusted(report.plan.summary())

    def drift(self, report: DriftReport) -> Message:
        assert report.plan is not None
        return trusted(drift_summary(report.plan))

    def apply(self, report: ApplyReport) -> Message:
        assert report.plan is not None
        if report.results is None:
            return trusted(report.plan.summary())
        return apply_summary(report)


def headline(outcome: Outcome) -> Message:
    """The one-line summary of an outcome, the first thing every format shows."""
    if outcome.error:
        return Message("Error: {}", outcome.error)
    if outcome.plan is None:
        return files_summary(outcome)
    text = outcome.accept(_Headline())
    tail = ""
    if outcome.left_out:
        tail += f" {outcome.left_out} left out by --only/--exclude."
    if outcome.errors:
        tail += f" {len(outcome.errors)} error(s): nothing was changed."
    return Message("{}" + tail, text) if tail else text


def scope_line(report: Outcome) -> Message | None:
    """``Owns: billing.*, nightly_*. Ignored fields: executions.``: what the plan leaves
    alone, when the configuration narrows it; None when it sees every tag and field."""
    owns = report.owns if report.owns and report.owns != ("*",) else ()
    ignored = report.plan.ignore_fields if report.plan is not None else ()
    parts: list[Message] = []
    if owns:
        owned = joined(", ", list(owns))
        parts.append(Message("Owns {} (other tags are foreign, left as they are).", owned))
    if ignored:
        fields = joined(", ", list(ignored))
        parts.append(Message("Ignored fields: {} (never planned, written or drift).", fields))
    return joined(" ", parts) if parts else None


def schedule_line(report: Outcome) -> str | None:
    """``Schedule, the day from ...: peak 3 -> 12 starts a minute, 83 -> 95 runs a day.``"""
    seen = report.schedule
    if seen is None:
        return None
    after = seen.after
    day = f"Schedule, the day from {format_timestamp(after.start)}"
    if seen.before is None:
        return f"{day}: peak {after.peak} starts a minute, {after.runs_per_day:.0f} runs a day."
    before = seen.before
    return (
        f"{day}: peak {before.peak} -> {after.peak} starts a minute, "
        f"{before.runs_per_day:.0f} -> {after.runs_per_day:.0f} runs a day"
        + (f"; {len(seen.created)} new collision group(s)." if seen.created else ".")
    )


def products(outcomes: Sequence[Outcome]) -> Iterator[tuple[str, Outcome]]:
    """Each outcome with its product's name (untrusted); ``""`` for one unnamed product."""
    for outcome in outcomes:
        yield outcome.product, outcome
