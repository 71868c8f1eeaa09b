"""Outcomes for GitHub Actions: the text report, plus workflow-command annotations.

Problems become ``::error``/``::warning`` annotations at the manifest's line; each change a
``::notice`` at the job's tag line, so a pull request shows them beside the diff.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Location
from ..outcome import Outcome
from ..plan import Action
from ..strings import printable
from . import Options, Rendered
from .common import drift_items
from .text import report as text_report


def report(outcomes: Sequence[Outcome], options: Options) -> Rendered:
    text = text_report(outcomes, Options(color=False, verbose=options.verbose))
    notes: list[str] = []
    for outcome in outcomes:
        for problem in outcome.problems:
            kind = "error" if problem.severity == "error" else "warning"
            title = f"{problem.tag or '-'}: {problem.field or '-'}"
            notes.append(annotation(kind, problem.location, title, problem.message))
        if outcome.error:
            notes.append(annotation("error", Location(""), "reconciler", outcome.error))
        if outcome.plan is None:
            continue
        if outcome.command == "drift":
            for item in drift_items(outcome.plan):
                fields = ", ".join(f.field for f in item.change.fields)
                message = f"drift: {item.kind}" + (f" ({fields})" if fields else "")
                notes.append(annotation("notice", item.change.source, item.change.tag, message))
            continue
        for change in outcome.plan.of(Action.CREATE, Action.UPDATE, Action.ORPHAN):
            fields = ", ".join(f.field for f in change.fields)
            message = change.action.value + (f": {fields}" if fields else "")
            notes.append(annotation("notice", change.source, change.tag, message))
    out = text.out + "".join(line + "\n" for line in notes)
    return Rendered(out, "")


def annotation(kind: str, where: Location | None, title: str, message: str) -> str:
    """One workflow command; properties and message escaped as the runner requires."""
    props = []
    if where is not None and where.path:
        props.append(f"file={_escape(where.path, prop=True)}")
        if where.line:
            props.append(f"line={where.line}")
            props.append(f"col={where.col}")
    props.append(f"title={_escape(title, prop=True)}")
    return f"::{kind} {','.join(props)}::{_escape(message)}"


def _escape(text: str, prop: bool = False) -> str:
    """%, CR and LF always; ':' and ',' in properties; other control characters shown."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    text = printable(text)
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text
