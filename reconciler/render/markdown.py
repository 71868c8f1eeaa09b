"""The plan as Markdown, for a pull-request comment: a summary line and a diff block."""

from __future__ import annotations

import re

from ..model import MUTABLE_FIELDS, schedule_preview
from ..plan import Action, Change, Plan
from .text import value_text


def render_markdown(plan: Plan) -> str:
    """A PR comment body: GitHub colours the ``diff`` block's + and - lines."""
    lines = [f"#### reconciler: {plan.summary()}", ""]
    if plan.target:
        lines += [f"Target: `{plan.target}`", ""]
    body: list[str] = []
    for change in plan.of(Action.CREATE, Action.UPDATE):
        body.extend(_diff_lines(change))
        body.append("")
    if body:
        fence = _fence("\n".join(body))
        lines += [f"{fence}diff", *body[:-1], fence, ""]
    else:
        lines += ["No changes. Live jobs match the manifests.", ""]
    unmanaged = plan.of(Action.UNMANAGED)
    if unmanaged:
        lines += [
            f"<details><summary>{len(unmanaged)} unmanaged: live only, left as is "
            "(Ductape has no delete)</summary>",
            "",
            *[f"- `{c.tag}`" for c in unmanaged],
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def _diff_lines(change: Change) -> list[str]:
    where = f"  ({change.source})" if change.source else ""
    if change.action is Action.CREATE and change.desired is not None:
        wire = change.desired.to_wire()
        lines = [f"+ create {change.tag}{where}"]
        lines += [f"+   {name}: {value_text(name, wire[name])}" for name in MUTABLE_FIELDS]
    else:
        lines = [f"! update {change.tag}{where}"]
        for field in change.fields:
            lines.append(f"-   {field.field}: {value_text(field.field, field.old)}")
            lines.append(f"+   {field.field}: {value_text(field.field, field.new)}")
    if change.desired is not None:
        lines.append(f"#   schedule: {schedule_preview(change.desired)}")
    return lines


def _fence(text: str) -> str:
    # Longer than any run of backticks inside, so no job name can close the block.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)
