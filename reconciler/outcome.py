"""What a command found, for one product: the one record every reporter renders.

Commands build Outcomes (``core``); reporters (``render``) turn them into text, JSON,
Markdown or GitHub annotations. Nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .apply import Result
from .errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from .model import Problem
from .plan import Plan

Command = Literal["validate", "plan", "show", "apply", "drift"]


@dataclass(frozen=True)
class Outcome:
    """One command's findings for one product.

    ``error`` is a stop for this product (an unreachable target, a refused credential, a stale
    saved plan): the reporters still print a document saying why. ``plan`` is None when the
    command never got that far (invalid manifests, an error) or does not plan (validate).
    """

    command: Command
    product: str = ""
    target: str = ""
    problems: tuple[Problem, ...] = ()
    plan: Plan | None = None
    files: int = 0
    files_with_problems: int = 0
    jobs: int = 0
    left_out: int = 0
    results: tuple[Result, ...] | None = None
    stopped: str | None = None
    interrupted: bool = False
    error: str | None = None
    now: int = 0

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity != "error")

    @property
    def failed(self) -> bool:
        """Whether this product's run is an error (exit 1)."""
        if self.error or self.errors or self.stopped:
            return True
        return any(not r.ok for r in self.results or ())

    def exit_code(self, detailed: bool = False) -> int:
        """0, 1 or 2 as the exit-code table says, for this product alone."""
        if self.failed:
            return EXIT_ERROR
        if self.plan is not None:
            if self.command == "drift" and self.plan.has_drift:
                return EXIT_CHANGES
            if self.command in ("plan", "show") and detailed and self.plan.has_changes:
                return EXIT_CHANGES
        return EXIT_OK


def worst(codes: list[int]) -> int:
    """One exit code for several products: an error beats changes beats nothing to do."""
    for code in (EXIT_ERROR, EXIT_CHANGES):
        if code in codes:
            return code
    return max(codes, default=EXIT_OK)
