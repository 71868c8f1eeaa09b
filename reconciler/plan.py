"""The plan: a pure comparison of desired (Git) and live jobs, and saved plans.

``build_plan`` does no I/O. A saved plan (written and read by :mod:`reconciler.planfile`)
records what each job it writes looked like live, so ``apply`` can refuse it once the product
moved on (:func:`check_fresh`).

Live jobs without a manifest are split by ownership (``owns:`` tag globs, octoDNS-style: by
default the repository owns the whole product): an *orphan* is owned (its manifest was
deleted or its tag renamed) and is drift; a *foreign* job belongs to someone else and is only
counted. Neither is ever removed: Ductape has no delete.
"""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .diff import FieldChange, field_changes
from .errors import StalePlanError, TooMuchChange, UsageError
from .model import MUTABLE_FIELDS, Job, Location


class Action(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    ORPHAN = "orphan"
    FOREIGN = "foreign"


_ACTION_ORDER = {action: i for i, action in enumerate(Action)}
WRITES = (Action.CREATE, Action.UPDATE)


@dataclass(frozen=True)
class Change:
    """What the plan does (or notes) for one tag.

    ``rename`` pairs a create with an orphan whose fields are equal but for the tag: on the
    create it is the old tag, on the orphan the new one.
    """

    action: Action
    tag: str
    desired: Job | None = None
    live: Job | None = None
    fields: tuple[FieldChange, ...] = ()
    source: Location | None = None
    rename: str | None = None

    @property
    def is_write(self) -> bool:
        return self.action in WRITES


@dataclass(frozen=True)
class Plan:
    """Every tag in Git or live, with its action; ordered by action, then tag."""

    changes: tuple[Change, ...]
    target: str = ""
    ignore_fields: tuple[str, ...] = ()
    counts: dict[Action, int] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        counts = {action: 0 for action in Action}
        for change in self.changes:
            counts[change.action] += 1
        object.__setattr__(self, "counts", counts)

    @property
    def write_count(self) -> int:
        """How many jobs the plan creates or updates."""
        return self.counts[Action.CREATE] + self.counts[Action.UPDATE]

    @property
    def has_changes(self) -> bool:
        """Whether apply has something to write (orphans it cannot remove do not count)."""
        return self.write_count > 0

    @property
    def has_drift(self) -> bool:
        """Whether live differs from Git: a write to make, or an orphan to remove by hand."""
        return self.has_changes or self.counts[Action.ORPHAN] > 0

    def of(self, *actions: Action) -> list[Change]:
        return [c for c in self.changes if c.action in actions]

    def summary(self) -> str:
        c = self.counts
        text = (
            f"Plan: {c[Action.CREATE]} to create, {c[Action.UPDATE]} to update, "
            f"{c[Action.UNCHANGED]} unchanged"
        )
        if c[Action.ORPHAN]:
            text += f", {c[Action.ORPHAN]} orphan" + ("s" if c[Action.ORPHAN] != 1 else "")
        if c[Action.FOREIGN]:
            text += f", {c[Action.FOREIGN]} foreign"
        return text + "."


def owned(tag: str, owns: Sequence[str]) -> bool:
    """Whether a live tag falls under the repository's ``owns:`` globs."""
    return any(fnmatch.fnmatchcase(tag, pattern) for pattern in owns)


def build_plan(
    desired: Mapping[str, Job],
    live: Iterable[Job],
    sources: Mapping[str, Location] | None = None,
    target: str = "",
    owns: Sequence[str] = ("*",),
    ignore_fields: Collection[str] = (),
) -> Plan:
    """Compare desired jobs (by tag) with live ones. Pure: no I/O, same input, same plan.

    Fields in ``ignore_fields`` are left out of the comparison (an operator owns them): a job
    that differs only there is unchanged, and an update never writes them.
    """
    sources = sources or {}
    ignore = tuple(name for name in MUTABLE_FIELDS if name in ignore_fields)
    live_by_tag = {job.tag: job for job in live}
    changes: list[Change] = []
    for tag, want in desired.items():
        have = live_by_tag.get(tag)
        source = sources.get(tag)
        if have is None:
            changes.append(Change(Action.CREATE, tag, want, None, source=source))
            continue
        # Equality first: deepdiff runs only where something differs.
        fields = () if have == want else field_changes(have, want, ignore)
        action = Action.UPDATE if fields else Action.UNCHANGED
        changes.append(Change(action, tag, want, have, fields, source))
    for tag, have in live_by_tag.items():
        if tag not in desired:
            action = Action.ORPHAN if owned(tag, owns) else Action.FOREIGN
            changes.append(Change(action, tag, None, have))
    changes = _pair_renames(changes, ignore)
    changes.sort(key=lambda c: (_ACTION_ORDER[c.action], c.tag))
    return Plan(tuple(changes), target, ignore)


def _pair_renames(changes: list[Change], ignore: Collection[str]) -> list[Change]:
    """Mark each create that equals an orphan but for the tag as that orphan's likely rename."""

    def key(job: Job) -> tuple[Any, ...]:
        wire = job.to_wire()
        return tuple(wire[name] for name in MUTABLE_FIELDS if name not in ignore)

    orphans: dict[tuple[Any, ...], list[int]] = {}
    for i, change in enumerate(changes):
        if change.action is Action.ORPHAN and change.live is not None:
            orphans.setdefault(key(change.live), []).append(i)
    if not orphans:
        return changes
    out = list(changes)
    for i, change in sorted(enumerate(changes), key=lambda item: item[1].tag):
        if change.action is not Action.CREATE or change.desired is None:
            continue
        candidates = orphans.get(key(change.desired))
        if candidates:
            j = candidates.pop(0)
            out[i] = _with_rename(change, out[j].tag)
            out[j] = _with_rename(out[j], change.tag)
    return out


def _with_rename(change: Change, other: str) -> Change:
    return Change(
        change.action, change.tag, change.desired, change.live, change.fields, change.source, other
    )


@dataclass(frozen=True)
class ChangeBudget:
    """How much one run may write: a count (``25``) or a share of the repository's jobs
    (``10%``, as octoDNS's thresholds), across every product of the run."""

    count: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> ChangeBudget:
        value = text.strip()
        try:
            if value.endswith("%"):
                percent = float(value[:-1])
                if not 0 <= percent <= 100:
                    raise ValueError(value)
                return cls(percent=percent)
            count = int(value)
            if count < 0:
                raise ValueError(value)
            return cls(count=count)
        except ValueError as exc:
            raise UsageError(
                f"--max-changes {text[:40]!r}: give a number of jobs (25) or a share of the "
                "repository's jobs (10%)"
            ) from exc

    def allowed(self, jobs: int) -> int:
        """How many writes a run over ``jobs`` manifests may make."""
        if self.count is not None:
            return self.count
        return int((self.percent or 0) * jobs // 100)

    def raise_if_unsafe(self, plans: Iterable[Plan]) -> None:
        """TooMuchChange when the plans together write more than allowed."""
        plans = list(plans)
        writes = sum(p.write_count for p in plans)
        kept = (Action.CREATE, Action.UPDATE, Action.UNCHANGED)
        jobs = sum(p.counts[a] for p in plans for a in kept)
        allowed = self.allowed(jobs)
        if writes > allowed:
            limit = (
                f"{self.count}"
                if self.count is not None
                else f"{self.percent:g}% of {jobs} jobs, {allowed}"
            )
            raise TooMuchChange(
                f"the plan writes {writes} jobs, more than --max-changes {limit}; "
                "nothing was changed"
            )


def select(tags: Iterable[str], only: Sequence[str], exclude: Sequence[str]) -> set[str]:
    """The tags left out by ``--only`` / ``--exclude`` globs (empty ``only``: all are in)."""
    if not only and not exclude:
        return set()  # most runs: no glob to try on every tag
    out = set()
    for tag in tags:
        inside = not only or any(fnmatch.fnmatchcase(tag, p) for p in only)
        if not inside or any(fnmatch.fnmatchcase(tag, p) for p in exclude):
            out.add(tag)
    return out


def check_fresh(plan: Plan, live: Iterable[Job], target: str) -> None:
    """Refuse a saved plan whose target differs or whose jobs changed live since it was made.

    Only jobs the plan writes are compared, and only on fields the plan does not ignore: a job
    created or edited live elsewhere in the product does not make the plan unsafe, one it
    would overwrite does.
    """
    if plan.target != target:
        made_for = plan.target or "no target"
        raise StalePlanError(f"the plan was made for {made_for}, not {target}")
    live_by_tag = {job.tag: job for job in live}
    moved = [
        c.tag
        for c in plan.changes
        if c.is_write and not _same(live_by_tag.get(c.tag), c.live, plan.ignore_fields)
    ]
    if moved:
        shown = ", ".join(moved[:5]) + (f" and {len(moved) - 5} more" if len(moved) > 5 else "")
        raise StalePlanError(
            f"the saved plan is stale: {len(moved)} job(s) changed live since it was made "
            f"({shown}); run plan again"
        )


def _same(now: Job | None, then: Job | None, ignore: Collection[str]) -> bool:
    if now is None or then is None or now == then:
        return now == then
    return not field_changes(then, now, ignore)
