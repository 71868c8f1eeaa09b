"""The plan: a pure comparison of desired (Git) and live jobs, and saved plans.

``build_plan`` does no I/O. A saved plan is the JSON rendering of a Plan plus what the live
jobs looked like when it was made, so ``apply`` can refuse it once the live product moved on.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .diff import FieldChange, field_changes
from .errors import StalePlanError, UsageError
from .model import Job, Location, human

PLAN_FORMAT = "reconciler-plan"
PLAN_FORMAT_VERSION = 1


class Action(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    UNMANAGED = "unmanaged"


_ACTION_ORDER = {action: i for i, action in enumerate(Action)}


@dataclass(frozen=True)
class Change:
    """What the plan does (or notes) for one tag."""

    action: Action
    tag: str
    desired: Job | None = None
    live: Job | None = None
    fields: tuple[FieldChange, ...] = ()
    source: Location | None = None

    @property
    def writes(self) -> bool:
        return self.action in (Action.CREATE, Action.UPDATE)


@dataclass(frozen=True)
class Plan:
    """Every tag in Git or live, with its action; ordered by action, then tag."""

    changes: tuple[Change, ...]
    target: str = ""
    counts: dict[Action, int] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        counts = {action: 0 for action in Action}
        for change in self.changes:
            counts[change.action] += 1
        object.__setattr__(self, "counts", counts)

    @property
    def writes(self) -> int:
        """How many jobs the plan creates or updates."""
        return self.counts[Action.CREATE] + self.counts[Action.UPDATE]

    @property
    def has_changes(self) -> bool:
        return self.writes > 0

    def of(self, *actions: Action) -> list[Change]:
        return [c for c in self.changes if c.action in actions]

    def summary(self) -> str:
        c = self.counts
        return (
            f"Plan: {c[Action.CREATE]} to create, {c[Action.UPDATE]} to update, "
            f"{c[Action.UNCHANGED]} unchanged, {c[Action.UNMANAGED]} unmanaged."
        )


def build_plan(
    desired: Mapping[str, Job],
    live: Iterable[Job],
    sources: Mapping[str, Location] | None = None,
    target: str = "",
) -> Plan:
    """Compare desired jobs (by tag) with live ones. Pure: no I/O, same input, same plan."""
    sources = sources or {}
    live_by_tag = {job.tag: job for job in live}
    changes: list[Change] = []
    for tag, want in desired.items():
        have = live_by_tag.get(tag)
        source = sources.get(tag)
        if have is None:
            changes.append(Change(Action.CREATE, tag, want, None, source=source))
        elif have == want:  # equality first: deepdiff only where something differs
            changes.append(Change(Action.UNCHANGED, tag, want, have, source=source))
        else:
            fields = field_changes(have, want)
            changes.append(Change(Action.UPDATE, tag, want, have, fields, source))
    for tag, have in live_by_tag.items():
        if tag not in desired:
            changes.append(Change(Action.UNMANAGED, tag, None, have))
    changes.sort(key=lambda c: (_ACTION_ORDER[c.action], c.tag))
    return Plan(tuple(changes), target)


# --- the JSON form: machine-readable output and saved plans --------------------------------


def fingerprint(job: Job | None) -> str | None:
    """A short hash of a job's canonical form; what a saved plan remembers of live jobs."""
    if job is None:
        return None
    text = json.dumps(job.to_wire(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _field(change: FieldChange) -> dict[str, Any]:
    out: dict[str, Any] = {"field": change.field, "old": change.old, "new": change.new}
    old_h, new_h = human(change.field, change.old), human(change.field, change.new)
    if old_h or new_h:
        out["old_human"], out["new_human"] = old_h, new_h
    return out


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-ready data: stable keys, canonical values, live fingerprints."""
    return {
        "format": PLAN_FORMAT,
        "format_version": PLAN_FORMAT_VERSION,
        "target": plan.target,
        "summary": {a.value: plan.counts[a] for a in Action},
        "has_changes": plan.has_changes,
        "changes": [
            {
                "action": c.action.value,
                "tag": c.tag,
                "source": str(c.source) if c.source else None,
                "desired": c.desired.to_wire() if c.desired else None,
                "live": c.live.to_wire() if c.live else None,
                "live_fingerprint": fingerprint(c.live) if c.writes else None,
                "fields": [_field(f) for f in c.fields],
            }
            for c in plan.changes
        ],
    }


def plan_from_dict(data: Any) -> Plan:
    """Read a saved plan back; UsageError if it is not one this version can apply."""
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        raise UsageError("not a reconciler plan file")
    if data.get("format_version") != PLAN_FORMAT_VERSION:
        raise UsageError(
            f"plan file format version {data.get('format_version')!r} is not supported "
            f"(this reconciler reads version {PLAN_FORMAT_VERSION})"
        )
    try:
        changes = []
        for item in data["changes"]:
            desired = Job.from_mapping(item["desired"]) if item["desired"] else None
            live = Job.from_mapping(item["live"]) if item["live"] else None
            fields = tuple(FieldChange(f["field"], f["old"], f["new"]) for f in item["fields"])
            source = Location(item["source"]) if item.get("source") else None
            changes.append(
                Change(Action(item["action"]), item["tag"], desired, live, fields, source)
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"the plan file is damaged: {exc}") from None
    return Plan(tuple(changes), str(data.get("target", "")))


def check_fresh(plan: Plan, live: Iterable[Job], target: str) -> None:
    """Refuse a saved plan whose target differs or whose jobs changed live since it was made.

    Only jobs the plan writes are compared: a job created or edited live elsewhere in the
    product does not make the plan unsafe, one it would overwrite does.
    """
    if plan.target and target and plan.target != target:
        raise StalePlanError(f"the plan was made for {plan.target}, not {target}")
    live_by_tag = {job.tag: job for job in live}
    moved = [c.tag for c in plan.changes if c.writes and live_by_tag.get(c.tag) != c.live]
    if moved:
        shown = ", ".join(moved[:5]) + (f" and {len(moved) - 5} more" if len(moved) > 5 else "")
        raise StalePlanError(
            f"the saved plan is stale: {len(moved)} job(s) changed live since it was made "
            f"({shown}); run plan again"
        )
