"""What every format says the same way: problem lines, values, drift items, summaries."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..apply import Report, Result
from ..diff import FieldChange
from ..model import MUTABLE_FIELDS, Problem, human
from ..outcome import Outcome
from ..plan import Action, Change, Plan
from ..schedule import first_run, preview
from ..strings import printable


def problem_line(problem: Problem) -> str:
    """``path:line:col: tag: field: [warning: ]message``, every part escaped, on one line."""
    where = str(problem.location) or "live"
    prefix = "" if problem.severity == "error" else "warning: "
    text = f"{where}: {problem.tag or '-'}: {problem.field or '-'}: {prefix}{problem.message}"
    return printable(text)


def shown(value: Any) -> str:
    """A canonical value as a plan shows it: strings quoted (JSON), numbers plain."""
    return json.dumps(value) if isinstance(value, str) else str(value)


def value_text(field: str, value: Any) -> str:
    """A value with its friendly form where one helps: ``5400000 (1h30m)``."""
    friendly = human(field, value)
    text = shown(value)
    return printable(f"{text} ({friendly})" if friendly else text)


def change_text(change: FieldChange) -> str:
    """``intervals: 3600000 -> 1800000 (1h -> 30m)``."""
    old, new = shown(change.old), shown(change.new)
    old_h, new_h = human(change.field, change.old), human(change.field, change.new)
    line = f"{change.field}: {old} -> {new}"
    if old_h or new_h:
        line += f" ({old_h or old} -> {new_h or new})"
    return printable(line)


def create_lines(change: Change) -> list[str]:
    """Every field of a job to create, in the model's order."""
    assert change.desired is not None
    wire = change.desired.to_wire()
    return [f"{name}: {value_text(name, wire[name])}" for name in MUTABLE_FIELDS]


def schedule_lines(change: Change, now: int) -> list[str]:
    """The schedule from now; before and after for an update that moves it."""
    if change.desired is None:
        return []
    after = preview(change.desired, now)
    if change.action is Action.UPDATE and change.live is not None:
        before = preview(change.live, now)
        if before != after:
            return [f"schedule was: {before}", f"schedule now: {after}"]
    return [f"schedule: {after}"]


def next_run(change: Change, now: int) -> str:
    job = change.desired or change.live
    return first_run(job, now) if job is not None else "-"


def where(change: Change) -> str:
    return printable(str(change.source)) if change.source else ""


def tag(change: Change) -> str:
    return printable(change.tag)


# --- drift: the plan seen from the live side ---------------------------------------------

DRIFT_KINDS = {Action.UPDATE: "changed", Action.CREATE: "missing", Action.ORPHAN: "orphan"}


@dataclass(frozen=True)
class DriftItem:
    kind: str  # changed | missing | orphan
    change: Change


def drift_items(plan: Plan) -> list[DriftItem]:
    return [DriftItem(DRIFT_KINDS[c.action], c) for c in plan.changes if c.action in DRIFT_KINDS]


def drift_field(change: FieldChange) -> str:
    """``intervals: live 1800000 (30m), git 5400000 (1h30m)``."""
    return printable(
        f"{change.field}: live {value_text(change.field, change.old)}, "
        f"git {value_text(change.field, change.new)}"
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
    "ok": ("ok", "{verb} (id {id})"),
    "failed": ("FAIL", "{action} failed: {error}"),
    "unknown": ("UNKNOWN", "{action} outcome unknown: {error}"),
    "skipped": ("SKIP", "{action} not started: {error}"),
}


def result_line(result: Result) -> str:
    """``ok   tag: created (id ...)``, ``FAIL tag: ...``, ``UNKNOWN tag: ...``, ``SKIP ...``."""
    action = result.change.action.value
    head, body = _RESULT_WORDS[result.status]
    verb = "created" if action == "create" else "updated"
    text = body.format(verb=verb, id=result.id, action=action, error=result.error or "")
    return printable(f"{head:<4} {result.change.tag}: {text}")


def apply_summary(outcome: Outcome) -> str:
    report = Report(tuple(outcome.results or ()), outcome.interrupted, outcome.stopped)
    return report.summary()


# --- headings ---------------------------------------------------------------------------


def headline(outcome: Outcome) -> str:
    """The one-line summary of an outcome, the first thing every format shows."""
    if outcome.error:
        return printable(f"Error: {outcome.error}")
    if outcome.command == "validate" or outcome.plan is None:
        if outcome.errors:
            return (
                f"Invalid: {len(outcome.errors)} problem(s) in {outcome.files_with_problems} "
                f"of {outcome.files} file(s); nothing was planned or changed."
            )
        return f"Valid: {outcome.jobs} job(s) in {outcome.files} file(s)."
    if outcome.command == "drift":
        text = drift_summary(outcome.plan)
    elif outcome.results is not None:
        text = apply_summary(outcome)
    else:
        text = outcome.plan.summary()
    if outcome.left_out:
        text += f" {outcome.left_out} left out by --only/--exclude."
    if outcome.errors:
        text += f" {len(outcome.errors)} error(s): nothing was changed."
    return text


def products(outcomes: Sequence[Outcome]) -> Iterator[tuple[str, Outcome]]:
    """Each outcome with its heading; no heading when there is one unnamed product."""
    for outcome in outcomes:
        yield (printable(outcome.product) if outcome.product else ""), outcome
