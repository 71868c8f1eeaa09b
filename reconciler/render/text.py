"""Outcomes as a person reads them in a terminal or a CI log.

Problems go to standard error, one ``path:line:col: tag: field: message`` line each; the plan,
drift or apply report to standard output.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from ..outcome import ApplyReport, DriftReport, Outcome, PlanReport, ReportVisitor, ValidateReport
from ..plan import Action, Change, Plan
from ..strings import Message, Value, terminal
from . import Options, Rendered
from .common import (
    change_text,
    create_lines,
    drift_field,
    drift_items,
    headline,
    problem_line,
    products,
    result_line,
    schedule_line,
    schedule_lines,
    scope_line,
    source,
)
from .phrases import (
    DRIFT_NOTES,
    FOREIGN_NOTE,
    foreign_hidden,
    no_changes,
    orphan_note,
    rename_note,
    target_line,
)


def say(template: str, *values: Value) -> str:
    """Our words with values from outside, escaped for the terminal: the one way in."""
    return Message(template, *values).render(terminal)


_STYLES = {"green": "32", "yellow": "33", "red": "31", "cyan": "36", "dim": "2", "bold": "1"}
_SIGNS = {
    Action.CREATE: ("+", "green"),
    Action.UPDATE: ("~", "yellow"),
    Action.UNCHANGED: ("=", "dim"),
    Action.ORPHAN: ("-", "red"),
    Action.FOREIGN: ("?", "cyan"),
}


class Painter:
    """ANSI colours, or none at all (not a terminal, NO_COLOR, --no-color)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, style: str) -> str:
        if not self.enabled:
            return text
        return f"\x1b[{_STYLES[style]}m{text}\x1b[0m"


def report(outcomes: Sequence[Outcome], options: Options) -> Rendered:
    err, out = stream(outcomes, options)
    return Rendered("".join(out), err)


def stream(outcomes: Sequence[Outcome], options: Options) -> tuple[str, Iterator[str]]:
    """Standard error whole (it is printed first), and standard output as lines made while
    they are written: a plan of 50,000 creates is half a million lines, never all held."""
    err: list[str] = []
    for name, outcome in products(outcomes):
        if name not in options.plans_shown:  # apply showed them before asking: once is enough
            err += [problem_line(p) for p in outcome.problems]
        if outcome.error:
            err.append(say("error: {}", outcome.error))
        elif outcome.plan is None:
            if outcome.errors:
                err.append(say("error: {}", headline(outcome)))
        elif outcome.errors:
            err.append(f"error: {len(outcome.errors)} error(s); nothing was changed")
    return "".join(line + "\n" for line in err), _out(outcomes, options)


def _out(outcomes: Sequence[Outcome], options: Options) -> Iterator[str]:
    paint = Painter(options.color)
    last = ""  # the last line written: a blank line goes only after one with words
    for name, outcome in products(outcomes):
        if name:
            last = paint(say("== {} ==", name), "bold")
            yield last + "\n"
        if outcome.error:
            continue
        if outcome.plan is None:
            if not outcome.errors:
                last = paint(say("{}", headline(outcome)), "bold")
                yield last + "\n"
            continue
        for last in outcome.accept(_Body(paint, options)):
            yield last + "\n"
        line = None if name in options.plans_shown else schedule_line(outcome)
        if line:
            yield ("\n" if last else "") + line + "\n"
            last = line
        if last:
            yield "\n"
        last = paint(say("{}", headline(outcome)), "bold")
        yield last + "\n"


class _Body(ReportVisitor[Iterable[str]]):
    """The lines under a report's heading, per report type (none per job when ``quiet``),
    made as they are written."""

    def __init__(self, paint: Painter, options: Options) -> None:
        self.paint, self.options = paint, options

    def _target(self, report: Outcome) -> list[str]:
        lines = [
            line.render(terminal) for line in (target_line(report), scope_line(report)) if line
        ]
        return [*lines, ""] if lines else []

    def validate(self, report: ValidateReport) -> Iterable[str]:
        return []

    def plan(self, report: PlanReport) -> Iterable[str]:
        assert report.plan is not None
        yield from self._target(report)
        if not self.options.quiet:
            yield from plan_lines(report.plan, report.now, self.paint, self.options.verbose)

    def drift(self, report: DriftReport) -> Iterable[str]:
        yield from self._target(report)
        if not self.options.quiet:
            yield from drift_lines(report, self.paint)

    def apply(self, report: ApplyReport) -> Iterable[str]:
        if report.results is None:
            yield from self.plan(report)  # type: ignore[arg-type]
            return
        shown = self.options.results_shown
        for r in report.results:
            if r.change.tag not in shown and not (self.options.quiet and r.ok):
                yield f"  {result_line(r)}"


def plan_lines(plan: Plan, now: int, paint: Painter, verbose: bool = False) -> Iterator[str]:
    for change in plan.changes:
        if change.action in (Action.UNCHANGED, Action.FOREIGN) and not verbose:
            continue
        yield from change_lines(change, now, paint)
    foreign = plan.counts[Action.FOREIGN]
    if foreign and not verbose:
        yield paint(f"  {foreign_hidden(foreign)}", "dim")
    if not plan.has_changes:
        yield paint(no_changes(plan), "green")


def change_lines(change: Change, now: int, paint: Painter) -> list[str]:
    sign, style = _SIGNS[change.action]
    at = say("  ({})", source(change)) if change.source else ""
    head = f"  {paint(sign, style)} {paint(change.action.value, style)} {say('{}', change.tag)}{at}"
    if change.action is Action.ORPHAN:
        return [head + paint(say("  {}", orphan_note(change)), "dim")]
    if change.action is Action.FOREIGN:
        return [head + paint("  " + FOREIGN_NOTE, "dim")]
    body: list[Message] = []
    if change.action is Action.CREATE:
        if change.rename:
            body.append(Message("{}: the old job keeps running", rename_note(change)))
        body += create_lines(change)
    elif change.action is Action.UPDATE:
        body = [change_text(f) for f in change.fields]
    if change.is_write:
        body += schedule_lines(change, now)
    return [head] + ["      " + line.render(terminal) for line in body]


def drift_lines(outcome: DriftReport, paint: Painter) -> list[str]:
    assert outcome.plan is not None
    lines: list[str] = []
    for item in drift_items(outcome.plan):
        change = item.change
        at = say("  ({})", source(change)) if change.source else ""
        style = {"changed": "yellow", "missing": "green", "orphan": "red"}[item.kind]
        lines.append(f"  {paint(item.kind, style)} {say('{}', change.tag)}{at}")
        if item.kind == "changed":
            lines += [say("      {}", drift_field(f)) for f in change.fields]
        else:
            lines.append("      " + DRIFT_NOTES[item.kind])
    return lines
