"""Run a plan's writes against a target: bounded concurrency, one result per job.

A job that fails does not stop the others, up to a point: after ``breaker`` failures in a
row the target is taken to be down, no new write is started, and the jobs not yet written
are reported ``skipped``. After the writes, one :meth:`Target.confirm` read checks that each
written job is live, once, as sent; only then is it reported ``ok``.

Results come back in plan order whatever order the writes finished in, so reports and logs
are stable. Statuses:

- ``ok``: written and confirmed;
- ``failed``: the target refused or could not be reached; nothing (more) was written;
- ``unknown``: the write may or may not have landed (a lost answer, an interrupt mid-call):
  re-run plan to see; never retried blindly, since Ductape cannot delete a duplicate;
- ``skipped``: not started (the breaker opened, or the run was interrupted).

Interrupts: writes run in daemon threads and the calling thread only waits, so Ctrl-C (a
KeyboardInterrupt in the main thread) is seen within a tenth of a second even while a call
hangs. ``apply_plan`` then starts nothing more, closes the target and raises
:class:`ApplyInterrupted` (a KeyboardInterrupt) carrying the report of what was written.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

from .defaults import DEFAULT_PARALLELISM
from .errors import OutcomeUnknown, ReconcilerError, TargetError
from .plan import Action, Change, Plan
from .targets.base import Target, WriteResult

# Consecutive failures after which no new write is started: enough to ride out a blip,
# few enough that a dead target does not cost a full retry budget per remaining job.
DEFAULT_BREAKER = 5
# How often the waiting thread wakes to notice Ctrl-C and finished workers.
_POLL_SECONDS = 0.1

Status = Literal["ok", "failed", "unknown", "skipped"]
T = TypeVar("T")


@dataclass(frozen=True)
class Result:
    """The outcome of one planned write."""

    change: Change
    status: Status
    id: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Report:
    """Every planned write's result, and why the run ended early if it did."""

    results: tuple[Result, ...]
    interrupted: bool = False
    stopped: str | None = None  # why the breaker stopped new writes

    @property
    def failed(self) -> tuple[Result, ...]:
        """Every result that is not ``ok`` (failed, unknown or skipped)."""
        return tuple(r for r in self.results if not r.ok)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    def summary(self) -> str:
        created = sum(1 for r in self.results if r.ok and r.change.action is Action.CREATE)
        updated = sum(1 for r in self.results if r.ok and r.change.action is Action.UPDATE)
        line = f"Apply: {created} created, {updated} updated, {self.count('failed')} failed"
        for status in ("unknown", "skipped"):
            if self.count(status):
                line += f", {self.count(status)} {status}"
        line += "."
        if self.interrupted:
            line += " Interrupted: no new write was started."
        elif self.stopped:
            line += f" Stopped: {self.stopped}."
        if self.count("unknown"):
            line += " Re-run plan to see what the unknown writes left."
        return line


class ApplyInterrupted(KeyboardInterrupt):
    """Ctrl-C during apply; ``report`` says what was written, unknown and skipped."""

    def __init__(self, report: Report) -> None:
        super().__init__(report.summary())
        self.report = report


def apply_plan(
    plan: Plan,
    target: Target,
    parallelism: int = DEFAULT_PARALLELISM,
    on_result: Callable[[Result], None] | None = None,
    *,
    breaker: int = DEFAULT_BREAKER,
    on_progress: Callable[[Change], None] | None = None,
) -> Report:
    """Create and update what the plan says.

    ``on_result`` is called once per job with its final result: at once for a failure,
    after the confirming read for a write (``ok`` is only said of a confirmed job).
    ``on_progress`` is called as each write call returns, for progress bars.
    """
    run = _Run(plan.of(Action.CREATE, Action.UPDATE), target, breaker, on_result, on_progress)
    try:
        run.start(max(1, min(parallelism, len(run.work))))
        run.wait()
        if run.crash is not None:
            raise run.crash
        written = run.written()
        confirmed = _interruptible(lambda: _confirm(target, written)) if written else {}
    except KeyboardInterrupt:
        run.halt()
        with contextlib.suppress(Exception):  # closing must not hide the interrupt
            target.close()
        raise ApplyInterrupted(run.report(interrupted=True)) from None
    return run.finish(confirmed)


def _confirm(
    target: Target, written: Sequence[WriteResult]
) -> dict[str, WriteResult | TargetError]:
    try:
        return target.confirm(written)
    except TargetError as exc:
        return {
            w.job.tag: OutcomeUnknown(f"written, but not confirmed ({exc}); re-run plan")
            for w in written
        }


def _interruptible(call: Callable[[], T]) -> T:
    """``call()`` in a daemon thread, waited for so that Ctrl-C is seen while it hangs."""
    box: list[T] = []
    errors: list[BaseException] = []

    def body() -> None:
        try:
            box.append(call())
        except BaseException as exc:  # handed to the waiting thread
            errors.append(exc)

    thread = threading.Thread(target=body, name="apply-confirm", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(_POLL_SECONDS)
    if errors:
        raise errors[0]
    return box[0]


class _Run:
    """The shared state of one apply: which write is next, results, the breaker."""

    def __init__(
        self,
        work: list[Change],
        target: Target,
        breaker: int,
        on_result: Callable[[Result], None] | None,
        on_progress: Callable[[Change], None] | None,
    ) -> None:
        self.work = work
        self.target = target
        self.breaker = max(1, breaker)
        self.on_result = on_result
        self.on_progress = on_progress
        self.lock = threading.Lock()
        self.next = 0
        self.results: dict[int, Result] = {}
        self.writes: dict[int, WriteResult] = {}
        self.in_flight: set[int] = set()
        self.failures_in_a_row = 0
        self.stopped: str | None = None
        self.halted = False
        self.crash: BaseException | None = None
        self.threads: list[threading.Thread] = []
        self.announced: set[int] = set()  # results already handed to on_result

    def start(self, workers: int) -> None:
        # Daemon threads: a call hung in one must not keep the interpreter from exiting.
        for n in range(workers if self.work else 0):
            thread = threading.Thread(target=self._worker, name=f"apply-{n}", daemon=True)
            self.threads.append(thread)
            thread.start()

    def wait(self) -> None:
        for thread in self.threads:
            while thread.is_alive():
                thread.join(_POLL_SECONDS)

    def halt(self) -> None:
        with self.lock:
            self.halted = True

    def _take(self) -> int | None:
        with self.lock:
            if self.halted or self.stopped or self.crash or self.next >= len(self.work):
                return None
            index = self.next
            self.next += 1
            self.in_flight.add(index)
            return index

    def _worker(self) -> None:
        while (index := self._take()) is not None:
            change = self.work[index]
            written: WriteResult | None = None
            try:
                written = self._write(change)
                result = Result(change, "ok", id=written.id)
            except OutcomeUnknown as exc:
                result = Result(change, "unknown", error=str(exc))
            except ReconcilerError as exc:
                result = Result(change, "failed", error=str(exc))
            except BaseException as exc:  # a bug: re-raised by the waiter
                with self.lock:
                    self.in_flight.discard(index)
                    self.crash = self.crash or exc
                return
            self._record(index, result, written)

    def _write(self, change: Change) -> WriteResult:
        if change.action is Action.CREATE:
            if change.desired is None:  # pragma: no cover - build_plan always sets it
                raise TargetError(f"create {change.tag}: the plan has no desired job")
            return self.target.create_job(change.desired)
        return self.target.update_job(change.tag, {f.field: f.new for f in change.fields})

    def _record(self, index: int, result: Result, written: WriteResult | None) -> None:
        with self.lock:
            self.in_flight.discard(index)
            if self.halted:
                return  # reported from the interrupt's side
            self.results[index] = result
            if written is not None:
                self.writes[index] = written
            if result.ok:
                self.failures_in_a_row = 0
            else:
                self.failures_in_a_row += 1
                if self.failures_in_a_row >= self.breaker and self.stopped is None:
                    self.stopped = (
                        f"{self.failures_in_a_row} writes failed in a row, the last: {result.error}"
                    )
        if self.on_progress is not None:
            self.on_progress(result.change)
        if not result.ok and self.on_result is not None:
            self.announced.add(index)
            self.on_result(result)

    def written(self) -> list[WriteResult]:
        with self.lock:
            return [self.writes[i] for i in sorted(self.writes)]

    def report(self, *, interrupted: bool = False) -> Report:
        with self.lock:
            out = []
            for index, change in enumerate(self.work):
                if index in self.results:
                    out.append(self.results[index])
                elif index in self.in_flight:
                    out.append(
                        Result(
                            change,
                            "unknown",
                            error="interrupted during the write; outcome unknown; re-run plan",
                        )
                    )
                else:
                    why = "interrupted" if interrupted else f"stopped: {self.stopped}"
                    out.append(Result(change, "skipped", error=f"not started ({why})"))
            return Report(tuple(out), interrupted=interrupted, stopped=self.stopped)

    def finish(self, confirmed: dict[str, WriteResult | TargetError]) -> Report:
        """The report, with each write's result as the confirming read found it."""
        with self.lock:
            for index, result in list(self.results.items()):
                if not result.ok:
                    continue
                found = confirmed.get(result.change.tag)
                if isinstance(found, WriteResult):
                    self.results[index] = replace(result, id=found.id or result.id)
                elif isinstance(found, OutcomeUnknown):
                    self.results[index] = Result(result.change, "unknown", error=str(found))
                elif isinstance(found, TargetError):
                    self.results[index] = Result(result.change, "failed", error=str(found))
        report = self.report()
        if self.on_result is not None:
            for index, result in enumerate(report.results):
                if index not in self.announced:
                    self.on_result(result)
        return report
