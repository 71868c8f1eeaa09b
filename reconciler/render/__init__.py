"""One reporter per output format, behind one table (``REPORTER_BY_NAME``).

A reporter turns the Outcomes of a command (one per product) into what goes to standard
output and standard error. Every format carries everything: problems (errors and warnings),
changes, results, and why a command stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from ..outcome import Outcome

Format = Literal["text", "json", "markdown", "github"]
FORMATS: tuple[Format, ...] = ("text", "json", "markdown", "github")


@dataclass(frozen=True)
class Options:
    """How to render: colours (text), unchanged and foreign jobs listed (-v), or only the
    summary and the problems (``quiet``: no line per job, no details, no schedule chart; a
    write that failed is a problem and still shown).

    ``results_shown``: the tags whose apply result was already printed as it finished (text
    only); the others (never started, interrupted) are printed with the report.
    ``plans_shown``: the products whose plan, problems and schedule apply already printed
    for approval (text only): the report after the writes does not repeat them.
    """

    color: bool = False
    verbose: bool = False
    quiet: bool = False  # the summary and the problems only
    results_shown: frozenset[str] = frozenset()
    plans_shown: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Rendered:
    """What a reporter writes: ``out`` to standard output, ``err`` to standard error."""

    out: str = ""
    err: str = ""


class Reporter(Protocol):
    def __call__(self, outcomes: Sequence[Outcome], options: Options) -> Rendered: ...


def _text(outcomes: Sequence[Outcome], options: Options) -> Rendered:
    from .text import report

    return report(outcomes, options)


def _json(outcomes: Sequence[Outcome], options: Options) -> Rendered:
    from .jsonfmt import report

    return report(outcomes, options)


def _markdown(outcomes: Sequence[Outcome], options: Options) -> Rendered:
    from .markdown import report

    return report(outcomes, options)


def _github(outcomes: Sequence[Outcome], options: Options) -> Rendered:
    from .github import report

    return report(outcomes, options)


REPORTER_BY_NAME: dict[Format, Callable[[Sequence[Outcome], Options], Rendered]] = {
    "text": _text,
    "json": _json,
    "markdown": _markdown,
    "github": _github,
}
