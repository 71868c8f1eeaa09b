"""The plan as a person reads it in a terminal or a CI log."""

from __future__ import annotations

import json
from typing import Any

from ..diff import FieldChange
from ..model import MUTABLE_FIELDS, human, schedule_preview
from ..plan import Action, Change, Plan

_STYLES = {"green": "32", "yellow": "33", "red": "31", "cyan": "36", "dim": "2", "bold": "1"}
_SIGNS = {
    Action.CREATE: ("+", "green"),
    Action.UPDATE: ("~", "yellow"),
    Action.UNCHANGED: ("=", "dim"),
    Action.UNMANAGED: ("?", "cyan"),
}


class Painter:
    """ANSI colours, or none at all (not a terminal, NO_COLOR, --no-color)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, style: str) -> str:
        if not self.enabled:
            return text
        return f"\x1b[{_STYLES[style]}m{text}\x1b[0m"


def value_text(field: str, value: Any) -> str:
    """A canonical value as shown in a plan, with its friendly form where one helps."""
    shown = json.dumps(value) if isinstance(value, str) else str(value)
    friendly = human(field, value)
    return f"{shown} ({friendly})" if friendly else shown


def change_text(change: FieldChange) -> str:
    """``intervals: 3600000 -> 1800000 (1h -> 30m)``."""
    old = json.dumps(change.old) if isinstance(change.old, str) else str(change.old)
    new = json.dumps(change.new) if isinstance(change.new, str) else str(change.new)
    old_h, new_h = human(change.field, change.old), human(change.field, change.new)
    line = f"{change.field}: {old} -> {new}"
    if old_h or new_h:
        line += f" ({old_h or old} -> {new_h or new})"
    return line


def render_plan(plan: Plan, paint: Painter, verbose: bool = False) -> str:
    lines: list[str] = []
    if plan.target:
        lines.append(f"Target: {plan.target}")
        lines.append("")
    for change in plan.changes:
        if change.action is Action.UNCHANGED and not verbose:
            continue
        lines.extend(_change_lines(change, paint))
    if not plan.has_changes:
        lines.append(paint("No changes. Live jobs match the manifests.", "green"))
    if lines and lines[-1]:
        lines.append("")
    lines.append(paint(plan.summary(), "bold"))
    return "\n".join(lines)


def _change_lines(change: Change, paint: Painter) -> list[str]:
    sign, style = _SIGNS[change.action]
    where = f"  ({change.source})" if change.source else ""
    head = f"  {paint(sign, style)} {paint(change.action.value, style)} {change.tag}{where}"
    if change.action is Action.UNMANAGED:
        return [head + paint("  live only; left as is (Ductape has no delete)", "dim")]
    body: list[str] = []
    if change.action is Action.CREATE and change.desired is not None:
        body = [
            f"{name}: {value_text(name, value)}"
            for name, value in change.desired.to_wire().items()
            if name in MUTABLE_FIELDS
        ]
    elif change.action is Action.UPDATE:
        body = [change_text(f) for f in change.fields]
    if change.writes and change.desired is not None:
        body.append(f"schedule: {schedule_preview(change.desired)}")
    return [head] + [f"      {line}" for line in body]
