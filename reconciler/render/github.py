"""Outcomes for GitHub Actions: the text report, plus workflow-command annotations.

Problems become ``::error``/``::warning`` annotations at the manifest's line; each change a
``::notice`` at the job's tag line, so a pull request shows them beside the diff.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Location
from ..outcome import ApplyReport, DriftReport, Outcome, PlanReport, ReportVisitor, ValidateReport
from ..plan import Action
from ..strings import Message, terminal, trusted, workflow_data, workflow_property
from . import Options, Rendered
from .common import drift_items, fields_of
from .text import report as text_report


def report(outcomes: Sequence[Outcome], options: Options) -> Rendered:
    text = text_report(outcomes, Options(verbose=options.verbose, quiet=options.quiet))
    notes: list[str] = []
    for outcome in outcomes:
        for problem in outcome.problems:
            kind = "error" if problem.severity == "error" else "warning"
            title = Message("{}: {}", problem.tag or "-", problem.field or "-")
            notes.append(annotation(kind, problem.location, title, Message("{}", problem.message)))
        if outcome.error:
            where = Location("")
            notes.append(
                annotation("error", where, trusted("reconciler"), Message("{}", outcome.error))
            )
        if outcome.plan is not None and not options.quiet:  # quiet: problems only
            notes += outcome.accept(_Notices())
    out = text.out + "".join(line + "\n" for line in notes)
    return Rendered(out, "")


class _Notices(ReportVisitor[list[str]]):
    """A notice per change (plan, apply) or per drift item."""

    def validate(self, report: ValidateReport) -> list[str]:
        return []

    def plan(self, report: PlanReport | ApplyReport) -> list[str]:
        assert report.plan is not None
        notes = []
        for change in report.plan.of(Action.CREATE, Action.UPDATE, Action.ORPHAN):
            message = Message(change.action.value)
            if change.fields:
                message = Message(change.action.value + ": {}", fields_of(change))
            notes.append(annotation("notice", change.source, Message("{}", change.tag), message))
        return notes

    def apply(self, report: ApplyReport) -> list[str]:
        return self.plan(report)

    def drift(self, report: DriftReport) -> list[str]:
        assert report.plan is not None
        notes = []
        for item in drift_items(report.plan):
            message = Message("drift: " + item.kind)
            if item.change.fields:
                message = Message("drift: " + item.kind + " ({})", fields_of(item.change))
            tag = Message("{}", item.change.tag)
            notes.append(annotation("notice", item.change.source, tag, message))
        return notes


def annotation(kind: str, where: Location | None, title: Message, message: Message) -> str:
    """One workflow command; properties and message escaped as the runner requires.

    The whole of each (our words too) is escaped: the runner decodes all of it.
    """
    props = []
    if where is not None and where.path:
        props.append(f"file={workflow_property(where.path)}")
        if where.line:
            props.append(f"line={where.line}")
            props.append(f"col={where.col}")
    props.append(f"title={workflow_property(title.render(terminal))}")
    return f"::{kind} {','.join(props)}::{workflow_data(message.render(terminal))}"
