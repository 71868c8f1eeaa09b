"""Outcomes as Markdown: a pull-request comment, a step summary, a drift issue.

The body always fits in one GitHub comment (65,536 characters): it is built against a budget
of :data:`MAX_CHARS`, summary and problems first, then a table of changes, then each job's
details in a collapsible section, and past the budget one line says how much was left out.
Every value that came from a file, a configuration or a server reaches the page as code: a
code span in Markdown (:func:`~reconciler.strings.markdown_code`), an escaped ``<code>`` inside
the raw HTML of ``<summary>`` (:func:`~reconciler.strings.html_code`), a fenced block for a
job's details. GitHub renders no HTML and links no mention, reference or URL in code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..model import Problem
from ..outcome import ApplyReport, DriftReport, Outcome, ReportVisitor, ValidateReport
from ..plan import Action, Change
from ..strings import (
    Message,
    Value,
    html_code,
    markdown_cell,
    markdown_code,
    printable,
    terminal,
    trusted,
)
from . import Options, Rendered
from .common import (
    create_lines,
    drift_items,
    fields_of,
    headline,
    next_run,
    result_line,
    schedule_line,
    schedules,
    scope_line,
    source,
    value_text,
)
from .phrases import (
    foreign_hidden,
    lead,
    no_changes,
    orphan_note,
    provenance,
    rename_note,
    short_commit,
    verb,
)

# Under GitHub's 65,536-character comment limit, with room for a workflow's own wrapping.
MAX_CHARS = 60_000
MARKER = "<!-- reconciler-report -->"
_ICONS = {
    Action.CREATE: "create",
    Action.UPDATE: "update",
    Action.ORPHAN: "orphan",
    Action.UNCHANGED: "unchanged",
    Action.FOREIGN: "foreign",
}


def report(outcomes: Sequence[Outcome], options: Options) -> Rendered:
    """The comment: the outcome in its first line, where the run came from, then each product.

    Several products open with the sum of them all and one line per product; each product
    then has a section of its own, as one product alone has the whole comment.
    """
    budget = _Budget(MAX_CHARS)
    budget.add(MARKER)
    several = len(outcomes) > 1
    if several:
        _overview(budget, outcomes)
    for outcome in outcomes:
        _outcome(budget, outcome, options, several)
    budget.close()
    return Rendered("\n".join(budget.lines).rstrip() + "\n")


class _Budget:
    """Lines that stop being added once the next would pass the limit, and say so.

    What it leaves out it counts as a reader counts it: jobs (a table row, a result), jobs
    shown without their details, problems.
    """

    FOOTER_ROOM = 300

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines: list[str] = []
        self.size = 0
        self.jobs = 0  # jobs listed or meant to be, over every product
        self.jobs_dropped = 0
        self.details_dropped = 0
        self.problems_dropped = 0
        self.other_dropped = 0

    def fits(self, *lines: str) -> bool:
        need = sum(len(line) + 1 for line in lines)
        return self.size + need <= self.limit - self.FOOTER_ROOM

    def add(self, *lines: str) -> bool:
        """Add all of ``lines`` or none of them."""
        if not self.fits(*lines):
            return False
        self.lines.extend(lines)
        self.size += sum(len(line) + 1 for line in lines)
        return True

    def job(self, *lines: str) -> bool:
        """A job's line (a table row, a result): counted as a job shown or not shown."""
        self.jobs += 1
        shown = self.add(*lines)
        self.jobs_dropped += not shown
        return shown

    def details(self, *lines: str) -> None:
        self.details_dropped += not self.add(*lines)

    def problem(self, line: str) -> None:
        self.problems_dropped += not self.add(line)

    def other(self, *lines: str) -> None:
        self.other_dropped += not self.add(*lines)

    def close(self) -> None:
        said = []
        if self.jobs_dropped:
            said.append(f"{self.jobs_dropped:,} more job(s) not shown (of {self.jobs:,})")
        if self.details_dropped:
            said.append(f"{self.details_dropped:,} shown without their details")
        if self.problems_dropped:
            said.append(f"{self.problems_dropped:,} more problem(s) not shown")
        if self.other_dropped and not said:
            said.append("the schedule chart not shown")
        if said:
            self.lines += [
                "",
                f"**{'; '.join(said)}**: see the pipeline log for the full report (this "
                f"comment is kept under {MAX_CHARS:,} characters).",
            ]


def say(template: str, *values: Value) -> str:
    """Our Markdown with values from outside as code spans: the one way in, outside tables."""
    return Message(template, *values).render(markdown_code)


def cell(template: str, *values: Value) -> str:
    """The same in a table cell, where ``|`` is escaped even inside code."""
    return Message(template, *values).render(markdown_cell)


def html(template: str, *values: Value) -> str:
    """Our HTML with values from outside as escaped ``<code>`` elements."""
    return Message(template, *values).render(html_code)


def _overview(budget: _Budget, outcomes: Sequence[Outcome]) -> None:
    """The run as a whole: the sum of its products, where it came from, a line per product."""
    first = outcomes[0]
    budget.add(f"### {lead(outcomes)}")
    commit = next((o.commit for o in outcomes if o.commit), None)
    head = Message("reconciler {}", trusted(verb(first)))
    if commit:
        head = Message("{} · commit {}", head, short_commit(commit))
    budget.add(head.render(markdown_code), "")
    for outcome in outcomes:
        budget.add(
            say("- {}: {}. {}", outcome.product or "-", trusted(lead([outcome])), headline(outcome))
        )
    budget.add("")


def _outcome(budget: _Budget, outcome: Outcome, options: Options, several: bool) -> None:
    name = outcome.product
    named = "{}: " if name else ""
    title = say(named + "{}", *([name] if name else []), trusted(lead([outcome])))
    budget.add(f"#### {title}" if several else f"### {title}")
    sub = "#####" if several else "####"  # the headings under the product's own
    # One product alone names the commit here; several name it once, in the overview.
    where = provenance(outcome, commit=not several)
    head = Message("reconciler {}", trusted(verb(outcome)))
    budget.add((Message("{} · {}", head, where) if where else head).render(markdown_code), "")
    budget.add(say("**{}**", headline(outcome)), "")
    scope = scope_line(outcome)
    if scope is not None:
        budget.add(scope.render(markdown_code), "")
    if outcome.problems:
        errors, warnings = len(outcome.errors), len(outcome.warnings)
        budget.add(f"{sub} Problems ({errors} error(s), {warnings} warning(s))", "")
        for problem in outcome.problems:
            budget.problem(_problem(problem))
        budget.add("")
    if outcome.plan is None or outcome.error:
        return
    # The schedule comes before the per-job table: it is what the whole change does, and a
    # large plan's table is what the comment's budget cuts.
    line = schedule_line(outcome)
    if line and outcome.schedule is not None:
        budget.add(line, "")
        if not options.quiet:
            from .timeline import markdown as chart

            chart_text = chart(outcome.schedule, 6000)
            budget.other(*_collapsed_markdown("Schedule before and after", chart_text))
    outcome.accept(_Body(budget, options, sub))


def _collapsed_markdown(summary: str, text: str) -> list[str]:
    """A ``<details>`` block around Markdown we made (the chart escapes its own tags)."""
    return [f"<details><summary>{summary}</summary>", "", text, "", "</details>", ""]


class _Body(ReportVisitor[None]):
    """What a report shows under its problems, per report type.

    ``quiet``: nothing per job, but the writes that failed (they are problems too).
    """

    def __init__(self, budget: _Budget, options: Options, sub: str) -> None:
        self.budget, self.options, self.sub = budget, options, sub

    def validate(self, report: ValidateReport) -> None:
        return None

    def plan(self, report: Outcome) -> None:
        if not self.options.quiet:
            _plan(self.budget, report, self.options)

    def drift(self, report: DriftReport) -> None:
        if not self.options.quiet:
            _drift(self.budget, report)

    def apply(self, report: ApplyReport) -> None:
        if report.results is None:
            self.plan(report)
            return
        results = [r for r in report.results if not (self.options.quiet and r.ok)]
        if not results:
            return
        heading = "Failed writes" if self.options.quiet else "Results"
        self.budget.add(f"{self.sub} {heading}", "")
        for result in results:
            self.budget.job(say("- {}", result_line(result)))
        self.budget.add("")


def _plan(budget: _Budget, outcome: Outcome, options: Options) -> None:
    plan = outcome.plan
    assert plan is not None
    shown = [
        c
        for c in plan.changes
        if c.action not in (Action.UNCHANGED, Action.FOREIGN) or options.verbose
    ]
    if not shown:
        budget.add(no_changes(plan), "")
    else:
        budget.add("| job | action | changed fields | next run |", "|---|---|---|---|")
        rows = [budget.job(_row(change, outcome.now)) for change in shown]
        budget.add("")
        for change, row in zip(shown, rows, strict=True):
            if row and (change.is_write or change.action is Action.ORPHAN):
                budget.details(*_details(change, outcome.now), "")
    foreign = plan.counts[Action.FOREIGN]
    if foreign and not options.verbose:
        budget.add(foreign_hidden(foreign) + ".", "")


def _problem(problem: Problem) -> str:
    """``- **warning** `path:line:col: tag: field: message```: the severity said once, and
    only the parts a problem has (no ``-`` for a missing tag or field, no ``live`` place)."""
    severity = "error" if problem.is_error else "warning"
    where = str(problem.location)
    parts = [p for p in (where if where != "live" else "", problem.tag, problem.field) if p]
    return say(f"- **{severity}** {{}}", printable(": ".join([*parts, problem.message])))


def _row(change: Change, now: int) -> str:
    if change.action is Action.CREATE:
        fields = trusted("all (new job)")
    elif change.action is Action.ORPHAN:
        fields = orphan_note(change)
    else:
        fields = fields_of(change) if change.fields else trusted("-")
    if change.rename and change.action is not Action.ORPHAN:
        fields = Message("{}; {}", fields, rename_note(change))
    icon = _ICONS[change.action]
    return cell(f"| {{}} | {icon} | {{}} | {next_run(change, now)} |", change.tag, fields)


def _details(change: Change, now: int) -> list[str]:
    """A job's change as a ``diff`` block GitHub colours: ``-`` live, ``+`` the manifests."""
    body: list[Message] = []
    if change.action is Action.CREATE:
        body = [Message("+ {}", line) for line in create_lines(change)]
    elif change.action is Action.UPDATE:
        for f in change.fields:
            body.append(Message("- {}: {}", f.field, value_text(f.field, f.old)))
            body.append(Message("+ {}: {}", f.field, value_text(f.field, f.new)))
    else:
        body = [Message("  {}", orphan_note(change))]
    seen = schedules(change, now)
    if seen is not None:
        before, after = seen
        if before is not None:
            body.append(trusted(f"- schedule: {before}"))
            body.append(trusted(f"+ schedule: {after}"))
        else:
            body.append(trusted(f"  schedule: {after}"))
    where = Message(" ({})", source(change)) if change.source else trusted("")
    summary = html(f"{_ICONS[change.action]} {{}}{{}}", change.tag, where)
    return _collapsed(summary, [line.render(terminal) for line in body])


def _collapsed(summary: str, lines: list[str]) -> list[str]:
    """A ``<details>`` block: ``summary`` is finished HTML, ``lines`` a terminal-escaped diff."""
    fence = _fence("\n".join(lines))
    return [
        f"<details><summary>{summary}</summary>",
        "",
        f"{fence}diff",
        *lines,
        fence,
        "",
        "</details>",
    ]


def _drift(budget: _Budget, outcome: DriftReport) -> None:
    assert outcome.plan is not None
    items = drift_items(outcome.plan)
    if not items:
        return
    budget.add("| job | drift | fields |", "|---|---|---|")
    rows = []
    for item in items:
        fields = fields_of(item.change) if item.change.fields else trusted("-")
        rows.append(budget.job(cell(f"| {{}} | {item.kind} | {{}} |", item.change.tag, fields)))
    budget.add("")
    for item, row in zip(items, rows, strict=True):
        if row and item.change.fields:
            lines = []
            for f in item.change.fields:
                lines.append(Message("- {}: {} (live)", f.field, value_text(f.field, f.old)))
                lines.append(Message("+ {}: {} (git)", f.field, value_text(f.field, f.new)))
            summary = html("{}", item.change.tag)
            budget.details(*_collapsed(summary, [m.render(terminal) for m in lines]), "")


def _fence(text: str) -> str:
    # Longer than any run of backticks inside, so no job name can close the block.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)
