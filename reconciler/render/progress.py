"""What apply shows while it runs (:class:`Watching`), and its progress as it writes: a
line per job, or on a terminal a bar and the failures after it (the text format only; the
others print their document at the end).

Results arrive from the worker threads; one lock keeps lines and the count whole.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, TextIO

from ..apply import Result
from ..commands.apply import Progress, Screen
from ..outcome import Outcome
from ..plan import Change
from . import Rendered
from .common import result_line
from .console import for_approval, waiting
from .text import Painter

if TYPE_CHECKING:
    from ..settings import RunSpec

# Below this many writes a line per job reads better than a bar.
PROGRESS_BAR_FROM = 20
BAR_WIDTH = 30


class Lines(Progress):
    """What the text format shows while apply writes; ``tags_shown``: the jobs whose result
    it already printed."""

    def __init__(self, color: bool, stream: TextIO | None = None) -> None:
        self.paint = Painter(color)
        self.stream = stream or sys.stdout
        self.lock = threading.Lock()
        self.total = 0
        self.done = 0
        self.bar = False
        self.failures: list[Result] = []
        # A set added to, not a frozenset rebuilt per line: that made 10,000 lines cost a
        # second (every union copied all the tags before it).
        self.tags_shown: set[str] = set()

    def start(self, total: int) -> None:
        self.total, self.done = total, 0
        self.bar = self.stream.isatty() and total >= PROGRESS_BAR_FROM
        self._draw()

    def result(self, result: Result) -> None:
        """A job's final result: a line now, or after the bar for one that is not ok."""
        with self.lock:
            if not self.bar:
                self._line(result)
            elif not result.ok:
                self.failures.append(result)
            else:
                self.tags_shown.add(result.change.tag)  # the bar counted it

    def progress(self, change: Change) -> None:
        """A write call returned (its result comes after the confirming read)."""
        with self.lock:
            self.done += 1
            self._draw()

    def finish(self) -> None:
        if self.bar:
            self.stream.write("\n")
            self.bar = False
            for result in self.failures:
                self._line(result)
            self.failures = []
        self.stream.flush()

    def _draw(self) -> None:
        if not self.bar:
            return
        filled = BAR_WIDTH * self.done // max(self.total, 1)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.stream.write(f"\rApplying  [{bar}]  {self.done}/{self.total}")
        self.stream.flush()

    def _line(self, result: Result) -> None:
        self.tags_shown.add(result.change.tag)
        head, _, rest = result_line(result).partition(" ")
        style = "green" if result.ok else "red"
        self.stream.write(f"  {self.paint(head, style)} {rest}\n")
        self.stream.flush()


class Watching(Screen):
    """What apply shows while it runs: the stalled-target notice until the target answers,
    the plan for approval, and in the text format a line per job or a progress bar.

    ``shown`` is what the report after the writes need not repeat.
    """

    def __init__(
        self, specs: Sequence[RunSpec], fmt: str, color: bool, echo: Callable[[Rendered], Any]
    ) -> None:
        self.specs, self.text, self.color, self.echo = specs, fmt == "text", color, echo
        self.lines = Lines(color) if self.text else None
        self.writes: Progress = self.lines or Progress()  # the other formats show no progress
        self.plans: set[str] = set()
        self.stack = ExitStack()
        self.answered: Callable[[], None] = lambda: None

    def __enter__(self) -> Watching:
        say = lambda line: self.echo(Rendered("", line + "\n"))  # noqa: E731
        self.answered = self.stack.enter_context(waiting(self.specs, say))
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    @property
    def shows_saved_plans(self) -> bool:
        return self.text

    @property
    def shown(self) -> dict[str, Any]:
        if self.lines is None:
            return {}
        shown = frozenset(self.lines.tags_shown)
        return {"results_shown": shown, "plans_shown": frozenset(self.plans)}

    def show(self, report: Outcome) -> None:
        self.answered()  # no notice over the plan or the prompt
        self.echo(for_approval(report, self.text, self.color))
        self.plans.add(report.product)

    def start(self, total: int) -> None:
        self.writes.start(total)

    def result(self, result: Result) -> None:
        self.writes.result(result)

    def progress(self, change: Change) -> None:
        self.writes.progress(change)

    def finish(self) -> None:
        self.writes.finish()
