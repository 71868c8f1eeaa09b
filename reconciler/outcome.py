"""What a command found, for one product: one report type per command, each with its exit code.

Commands build reports (``reconciler.commands``); reporters (``reconciler.render``) turn them
into text, JSON, Markdown or GitHub annotations. Nothing here prints. A reporter never asks a
report which command made it: each report type calls its own method of a
:class:`ReportVisitor` (``accept``), so a reporter that misses a report type is a type error,
not a silent fall-through.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Generic, Literal, TypeVar

from .errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from .model import Problem

if TYPE_CHECKING:  # annotations only: validate reads no plan and applies nothing
    from .apply import Result
    from .plan import Plan
    from .timeline import Impact

Command = Literal["validate", "plan", "show", "apply", "drift"]
T = TypeVar("T", covariant=True)


class ReportVisitor(ABC, Generic[T]):
    """One method per report type; ``accept`` picks it. Every reporter subclasses it, so one
    that misses a report type cannot even be made (a TypeError at instantiation)."""

    @abstractmethod
    def validate(self, report: ValidateReport) -> T: ...

    @abstractmethod
    def plan(self, report: PlanReport) -> T:
        """A plan, and a saved plan shown again (``ShowReport`` is a PlanReport)."""

    @abstractmethod
    def drift(self, report: DriftReport) -> T: ...

    @abstractmethod
    def apply(self, report: ApplyReport) -> T: ...


@dataclass(frozen=True)
class Outcome(ABC):
    """One command's findings for one product (the fields every report has).

    ``error`` is a stop for this product (an unreachable target, a refused credential, a stale
    saved plan): the reporters still print a document saying why. ``plan`` is None when the
    command never got that far (invalid manifests, an error) or does not plan (validate).
    """

    command: ClassVar[Command]
    product: str = ""
    target: str = ""
    problems: tuple[Problem, ...] = ()
    plan: Plan | None = None
    files: int = 0
    files_with_problems: int = 0
    jobs: int = 0
    left_out: int = 0
    error: str | None = None
    now: int = 0
    # The schedule before and after the plan's writes (the next 24 h), when it writes.
    schedule: Impact | None = None
    # The tag globs this repository owns (owns:), when known; () or ("*",): every tag.
    owns: tuple[str, ...] = ()
    # Where the run came from, for a report's header: the commit planned (40 or 64 hex, from
    # reconciler.provenance), and the manifests' paths as given.
    commit: str | None = None
    paths: tuple[str, ...] = ()
    # The signal that stopped the run (exit 128 + its number: 130 for SIGINT, 143 for
    # SIGTERM); the report then says what was done before it.
    interrupted: int | None = None

    @abstractmethod
    def accept(self, visitor: ReportVisitor[T]) -> T:
        """``visitor``'s method for this report type."""

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity != "error")

    @property
    def failed(self) -> bool:
        """Whether this product's run is an error (exit 1)."""
        return bool(self.error or self.errors or self.interrupted)

    def exit_code(self, detailed: bool = False) -> int:
        """0, 1 or 2 as the exit-code table says, for this product alone; 128 + the signal
        for an interrupted run."""
        if self.interrupted:
            return 128 + self.interrupted
        return self._code(detailed)

    def _code(self, detailed: bool) -> int:
        return EXIT_ERROR if self.failed else EXIT_OK


@dataclass(frozen=True)
class ValidateReport(Outcome):
    command: ClassVar[Command] = "validate"

    def accept(self, visitor: ReportVisitor[T]) -> T:
        return visitor.validate(self)


@dataclass(frozen=True)
class PlanReport(Outcome):
    """A plan; ``--detailed-exitcode`` makes changes to apply exit 2."""

    command: ClassVar[Command] = "plan"

    def accept(self, visitor: ReportVisitor[T]) -> T:
        return visitor.plan(self)

    def _code(self, detailed: bool) -> int:
        if self.failed:
            return EXIT_ERROR
        changes = self.plan is not None and self.plan.has_changes
        return EXIT_CHANGES if detailed and changes else EXIT_OK


@dataclass(frozen=True)
class ShowReport(PlanReport):
    """A saved plan, rendered again: a plan in every format."""

    command: ClassVar[Command] = "show"


@dataclass(frozen=True)
class DriftReport(Outcome):
    """Drift exits 2 when live no longer matches Git (changed, missing live, orphans)."""

    command: ClassVar[Command] = "drift"

    def accept(self, visitor: ReportVisitor[T]) -> T:
        return visitor.drift(self)

    def _code(self, detailed: bool) -> int:
        if self.failed:
            return EXIT_ERROR
        return EXIT_CHANGES if self.plan is not None and self.plan.has_drift else EXIT_OK


@dataclass(frozen=True)
class ApplyReport(Outcome):
    """An apply: the plan, then one result per write (None: nothing was written).

    ``stopped`` says why writes stopped early (the breaker).
    """

    command: ClassVar[Command] = "apply"
    results: tuple[Result, ...] | None = None
    stopped: str | None = None

    def accept(self, visitor: ReportVisitor[T]) -> T:
        return visitor.apply(self)

    @property
    def failed(self) -> bool:
        if super().failed or self.stopped:
            return True
        return any(not r.ok for r in self.results or ())


def exit_code(reports: Sequence[Outcome], detailed: bool = False) -> int:
    """One exit code for several products: an interrupt, then an error, then changes."""
    codes = [r.exit_code(detailed) for r in reports]
    for code in sorted((c for c in codes if c > 100), reverse=True):
        return code
    for code in (EXIT_ERROR, EXIT_CHANGES):
        if code in codes:
            return code
    return max(codes, default=EXIT_OK)


REPORT_BY_COMMAND: dict[Command, type[Outcome]] = {
    "validate": ValidateReport,
    "plan": PlanReport,
    "show": ShowReport,
    "drift": DriftReport,
    "apply": ApplyReport,
}
