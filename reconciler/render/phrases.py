"""The sentences every reporter shares, written once: text, Markdown and GitHub say the same.

What holds a value from outside is a :class:`~reconciler.strings.Message` (each reporter
escapes it for its own context); a plain ``str`` here holds only our words and counts.

The lead (:func:`lead`) is the first thing a reader sees: the outcome, and what merging (or
the apply, or the drift check) does to the live product, for one report or summed over the
products of a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from ..checks import ORPHAN_NOTE
from ..outcome import (
    ApplyReport,
    DriftReport,
    Outcome,
    PlanReport,
    ReportVisitor,
    ValidateReport,
)
from ..plan import Action, Change, Plan
from ..strings import Message, joined, trusted

__all__ = ["ORPHAN_NOTE"]

# --- one job ------------------------------------------------------------------------------


def orphan_note(change: Change) -> Message:
    """What an orphan is, and the job it was likely renamed to."""
    if change.rename:
        return Message("{}; likely renamed to {}", trusted(ORPHAN_NOTE), change.rename)
    return trusted(ORPHAN_NOTE)


def rename_note(change: Change) -> Message:
    """A create that is likely a rename of a live job (``change.rename`` is set)."""
    return Message("likely a rename of {}", change.rename or "")


FOREIGN_NOTE = "not owned by this repository (owns:); left as is"
DRIFT_NOTES = {
    "missing": "in Git, not live: apply creates it",
    "orphan": "live only: its manifest was deleted or its tag renamed",
}


def foreign_hidden(count: int) -> str:
    """``3 foreign job(s) not shown; -v lists them``."""
    return f"{count} foreign job(s) not shown; -v lists them"


def no_changes(plan: Plan) -> str:
    """What to say when apply has nothing to write: orphans still mean live differs."""
    if plan.counts[Action.ORPHAN]:
        return "Nothing for apply to write; the orphans above can only be removed by hand."
    return "No changes. Live jobs match the manifests."


def target_line(report: Outcome) -> Message | None:
    return Message("Target: {}", report.target) if report.target else None


# --- the lead: the outcome, in one line ------------------------------------------------------


def _n(count: int, noun: str) -> str:
    """``1 job``, ``2,412 jobs``."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _verbs(*pairs: tuple[str, int]) -> str:
    """``create 1 and update 2 jobs``, ``update 1 job``: the counts that are not zero."""
    said = [(verb, count) for verb, count in pairs if count]
    if not said:
        return ""
    words = [f"{verb} {count:,}" for verb, count in said]
    many = len(said) > 1 or said[0][1] != 1
    head = ", ".join(words[:-1]) + " and " if len(words) > 1 else ""
    return f"{head}{words[-1]} job" + ("s" if many else "")


@dataclass(frozen=True)
class Tally:
    """What some reports of one command add up to: the numbers the lead line speaks of."""

    products: int = 0
    failed: int = 0  # products that stopped or hold errors
    errors: int = 0
    create: int = 0
    update: int = 0
    orphan: int = 0
    missing: int = 0
    changed: int = 0
    created: int = 0
    updated: int = 0
    unwritten: int = 0  # writes that failed or whose outcome is unknown
    skipped: int = 0
    interrupted: int = 0
    stopped: int = 0
    applied: int = 0  # products whose writes ran
    jobs: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def tally(report: Outcome) -> Tally:
    """One report's numbers."""
    plan = report.plan
    counts = plan.counts if plan is not None else {}
    results = getattr(report, "results", None) or ()
    ok = [r for r in results if r.ok]
    return Tally(
        products=1,
        failed=int(report.failed),
        errors=len(report.errors),
        create=counts.get(Action.CREATE, 0),
        update=counts.get(Action.UPDATE, 0),
        orphan=counts.get(Action.ORPHAN, 0),
        missing=counts.get(Action.CREATE, 0),
        changed=counts.get(Action.UPDATE, 0),
        created=sum(1 for r in ok if r.change.action is Action.CREATE),
        updated=sum(1 for r in ok if r.change.action is Action.UPDATE),
        unwritten=sum(1 for r in results if r.status in ("failed", "unknown")),
        skipped=sum(1 for r in results if r.status == "skipped"),
        interrupted=int(bool(report.interrupted)),
        stopped=int(bool(getattr(report, "stopped", None))),
        applied=int(getattr(report, "results", None) is not None),
        jobs=report.jobs,
    )


def lead(reports: Sequence[Outcome]) -> str:
    """The outcome of a run in one line: one report's, or the sum of a run's products."""
    if not reports:
        return "Nothing was run"
    total = sum((tally(r) for r in reports), Tally())
    return reports[0].accept(_Lead(total))


def _where(t: Tally) -> str:
    """`` in 1 of 2 products`` for a run of several products; nothing for one."""
    return f" in {t.failed} of {t.products} products" if t.products > 1 else ""


def _errors(t: Tally) -> str:
    return f": {_n(t.errors, 'error')}" if t.errors else ""


def _across(t: Tally) -> str:
    return f" across {t.products} products" if t.products > 1 else ""


class _Lead(ReportVisitor[str]):
    """The lead line of each report type, from the numbers of all the run's products."""

    def __init__(self, t: Tally) -> None:
        self.t = t

    def validate(self, report: ValidateReport) -> str:
        t = self.t
        if t.failed:
            return f"Manifests invalid{_where(t)}{_errors(t)}; nothing can be planned"
        return f"Manifests valid: {_n(t.jobs, 'job')}{_across(t)}"

    def plan(self, report: PlanReport) -> str:
        t = self.t
        if t.interrupted and not t.create and not t.update:
            return "Plan interrupted; nothing can be applied"
        if t.failed:
            there = " there" if t.products > 1 else ""
            return f"Plan failed{_where(t)}{_errors(t)}; nothing can be applied{there}"
        orphans = f"; {_n(t.orphan, 'orphan')} left live (remove by hand)" if t.orphan else ""
        does = _verbs(("create", t.create), ("update", t.update))
        if does:
            return f"Merging will {does}{_across(t)}{orphans}"
        return f"No changes: merging changes nothing live{_across(t)}{orphans}"

    def drift(self, report: DriftReport) -> str:
        t = self.t
        if t.interrupted:
            return "Drift check interrupted; live was not compared"
        if t.failed:
            return f"Drift check failed{_where(t)}{_errors(t)}; live was not compared"
        parts = [
            f"{_n(t.changed, 'job')} changed live" if t.changed else "",
            f"{t.missing:,} missing live" if t.missing else "",
            _n(t.orphan, "orphan") if t.orphan else "",
        ]
        said = ", ".join(p for p in parts if p)
        if said:
            return f"Live differs from Git{_across(t)}: {said}"
        return f"No drift: live matches Git{_across(t)}"

    def apply(self, report: ApplyReport) -> str:
        t = self.t
        written = _verbs(("created", t.created), ("updated", t.updated)) or "nothing was written"
        if t.applied == 0:
            if t.interrupted:
                return "Apply interrupted: nothing was written"
            if t.failed:
                return f"Apply failed{_where(t)}{_errors(t)}; nothing was written"
            if t.create or t.update:
                return "Not applied: nothing was written"
            return f"No changes: apply wrote nothing{_across(t)}"
        if t.interrupted:
            return f"Apply interrupted: {written}; {t.skipped:,} not started"
        if t.stopped:
            return f"Apply stopped: {written}; {t.unwritten:,} failed, {t.skipped:,} not started"
        if t.unwritten:
            bad = f"{t.unwritten:,} of {t.unwritten + t.created + t.updated:,} writes failed"
            return f"Apply failed{_where(t)}: {bad}; {written}"
        if t.failed:  # another product could not be applied (its manifests, its target)
            return f"Apply failed{_where(t)}{_errors(t)}; {written}"
        return f"Applied: {written}{_across(t)}"


# --- the header: where the run came from ---------------------------------------------------


class _Verb(ReportVisitor[str]):
    """The command a report speaks for (a saved plan shown again is a plan)."""

    def validate(self, report: ValidateReport) -> str:
        return "validate"

    def plan(self, report: PlanReport) -> str:
        return "plan"

    def drift(self, report: DriftReport) -> str:
        return "drift"

    def apply(self, report: ApplyReport) -> str:
        return "apply"


def verb(report: Outcome) -> str:
    return report.accept(_Verb())


def short_commit(commit: str) -> str:
    """The commit as people quote it (12 hex, as ``git log --abbrev=12``)."""
    return commit[:12]


def provenance(report: Outcome, *, commit: bool = True, target: bool = True) -> Message | None:
    """``commit 0123456789ab · paths jobs, billing · target URL``: what is known of it."""
    parts: list[Message] = []
    if commit and report.commit:
        parts.append(Message("commit {}", short_commit(report.commit)))
    if report.paths:
        parts.append(Message("paths {}", joined(", ", list(report.paths))))
    if target and report.target:
        parts.append(Message("target {}", report.target))
    return joined(" · ", parts) if parts else None
