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

from ..checks import ORPHAN_NOTE
from ..model import Problem
from ..outcome import ApplyReport, DriftReport, Outcome, ValidateReport
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
    change_text,
    create_lines,
    drift_field,
    drift_items,
    fields_of,
    headline,
    next_run,
    products,
    result_line,
    schedule_line,
    schedule_lines,
    scope_line,
    source,
)
from .text import no_changes

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
    budget = _Budget(MAX_CHARS)
    budget.add(MARKER)
    for name, outcome in products(outcomes):
        _outcome(budget, name, outcome, options)
    budget.close()
    return Rendered("\n".join(budget.lines).rstrip() + "\n")


class _Budget:
    """Lines that stop being added once the next would pass the limit, and say so."""

    FOOTER_ROOM = 200

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines: list[str] = []
        self.size = 0
        self.dropped = 0

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

    def add_or_count(self, *lines: str) -> None:
        if not self.add(*lines):
            self.dropped += 1

    def close(self) -> None:
        if self.dropped:
            self.lines += [
                "",
                f"**{self.dropped} more item(s) not shown** (this comment is kept under "
                f"{MAX_CHARS:,} characters); see the pipeline log for the full report.",
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


def _outcome(budget: _Budget, name: str, outcome: Outcome, options: Options) -> None:
    # A saved plan shown again is a plan to the reader, whichever command printed it.
    command = "plan" if outcome.command == "show" else outcome.command
    title = say("reconciler " + command + (": {}" if name else ""), *([name] if name else []))
    budget.add(f"### {title}", "", say("**{}**", headline(outcome)), "")
    if outcome.target:
        budget.add(say("Target: {}", outcome.target), "")
    scope = scope_line(outcome)
    if scope is not None:
        budget.add(scope.render(markdown_code), "")
    if outcome.problems:
        errors, warnings = len(outcome.errors), len(outcome.warnings)
        budget.add(f"#### Problems ({errors} error(s), {warnings} warning(s))", "")
        for problem in outcome.problems:
            budget.add_or_count(_problem(problem))
        budget.add("")
    if outcome.plan is None or outcome.error:
        return
    # The schedule comes before the per-job table: it is what the whole change does, and a
    # large plan's table is what the comment's budget cuts.
    line = schedule_line(outcome)
    if line and outcome.schedule is not None:
        from .timeline import markdown as chart

        budget.add(line, "")
        budget.add_or_count(
            *_collapsed_markdown("Schedule before and after", chart(outcome.schedule, 6000))
        )
    outcome.accept(_Body(budget, options))


def _collapsed_markdown(summary: str, text: str) -> list[str]:
    """A ``<details>`` block around Markdown we made (the chart escapes its own tags)."""
    return [f"<details><summary>{summary}</summary>", "", text, "", "</details>", ""]


class _Body:
    """What a report shows under its problems, per report type (a ReportVisitor)."""

    def __init__(self, budget: _Budget, options: Options) -> None:
        self.budget, self.options = budget, options

    def validate(self, report: ValidateReport) -> None:
        return None

    def plan(self, report: Outcome) -> None:
        _plan(self.budget, report, self.options)

    def drift(self, report: DriftReport) -> None:
        _drift(self.budget, report)

    def apply(self, report: ApplyReport) -> None:
        if report.results is None:
            _plan(self.budget, report, self.options)
            return
        self.budget.add("#### Results", "")
        for result in report.results:
            self.budget.add_or_count(say("- {}", result_line(result)))
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
        for change in shown:
            budget.add_or_count(_row(change, outcome.now))
        budget.add("")
        for change in shown:
            if change.is_write or change.action is Action.ORPHAN:
                budget.add_or_count(*_details(change, outcome.now), "")
    foreign = plan.counts[Action.FOREIGN]
    if foreign and not options.verbose:
        budget.add(f"{foreign} foreign job(s) not shown; -v lists them.", "")


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
        fields = trusted(ORPHAN_NOTE)
    else:
        fields = fields_of(change) if change.fields else trusted("-")
    if change.rename:
        words = (
            "likely renamed to {}" if change.action is Action.ORPHAN else "likely a rename of {}"
        )
        fields = Message("{}; " + words, fields, change.rename)
    icon = _ICONS[change.action]
    return cell(f"| {{}} | {icon} | {{}} | {next_run(change, now)} |", change.tag, fields)


def _details(change: Change, now: int) -> list[str]:
    if change.action is Action.CREATE:
        body = create_lines(change)
    elif change.action is Action.UPDATE:
        body = [change_text(f) for f in change.fields]
    else:
        body = [trusted(ORPHAN_NOTE)]
    body += schedule_lines(change, now)
    where = Message(" ({})", source(change)) if change.source else trusted("")
    summary = html(f"{_ICONS[change.action]} {{}}{{}}", change.tag, where)
    return _collapsed(summary, [line.render(terminal) for line in body])


def _collapsed(summary: str, lines: list[str]) -> list[str]:
    """A ``<details>`` block: ``summary`` is finished HTML, ``lines`` terminal-escaped text."""
    fence = _fence("\n".join(lines))
    return [
        f"<details><summary>{summary}</summary>",
        "",
        f"{fence}text",
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
    for item in items:
        fields = fields_of(item.change) if item.change.fields else trusted("-")
        budget.add_or_count(cell(f"| {{}} | {item.kind} | {{}} |", item.change.tag, fields))
    budget.add("")
    for item in items:
        if item.change.fields:
            lines = [drift_field(f).render(terminal) for f in item.change.fields]
            summary = html("{}", item.change.tag)
            budget.add_or_count(*_collapsed(summary, lines), "")


def _fence(text: str) -> str:
    # Longer than any run of backticks inside, so no job name can close the block.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)
