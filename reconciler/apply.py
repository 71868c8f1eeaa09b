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

Interrupts (SIGINT, SIGTERM, or Ctrl-C as a KeyboardInterrupt): no new write starts; the
writes in flight get a short grace to finish; what they wrote is checked by one quick read;
a write still running when the grace ends is reported ``unknown``. A write that landed is
thus ``ok`` or ``unknown``, never "not started". ``apply_plan`` then raises
:class:`ApplyInterrupted` carrying the report. It never closes the target: its owner does,
and a target defers a close until the calls still in flight (a worker hung in a request)
have returned, so no connection is pulled from under a thread using it.

A target that offers ``write_batch`` (the embedded store) gets the writes in batches, each
one transaction committed or not as a whole: a batch that returned is reported write by
write like single writes; a batch still running when the grace ends is reported ``unknown``
job by job (it may yet commit); one that raised landed nothing, so its writes are ``failed``.

With a :class:`Stop` (what the CLI's signal handlers drive), a signal during the writes
only sets an event that the waiting thread polls: an exception raised at a random point of
the main thread could land between a write's result and its report.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, cast

from .defaults import DEFAULT_PARALLELISM
from .errors import Interrupted, OutcomeUnknown, ReconcilerError, Stop, TargetError
from .plan import Action, Change, Plan
from .targets.base import BatchTarget, Target, Write, WriteResult

__all__ = ["ApplyInterrupted", "Report", "Result", "Stop", "apply_plan"]

# Consecutive failures after which no new write is started: enough to ride out a blip,
# few enough that a dead target does not cost a full retry budget per remaining job.
DEFAULT_BREAKER = 5
# How often the waiting thread wakes to notice a stop and finished workers.
_POLL_SECONDS = 0.05
# After an interrupt: how long writes in flight may take to finish, and the quick read that
# confirms what they wrote. Short, since whoever pressed Ctrl-C or sent SIGTERM is waiting
# (a CI runner kills the job a few seconds later); a local write takes milliseconds.
GRACE_SECONDS = 0.3
# Writes per transaction on a target that batches (the embedded store): one commit per batch
# instead of one per job. Small enough that a batch lands in a few milliseconds, well inside
# the grace, so an interrupt rarely leaves a batch in flight (it would be reported unknown).
BATCH_SIZE = 200

Status = Literal["ok", "failed", "unknown", "skipped"]


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


class ApplyInterrupted(Interrupted):
    """An interrupt during apply; ``report`` says what was written, unknown and skipped."""

    def __init__(self, report: Report, signum: int = signal.SIGINT) -> None:
        super().__init__(signum, report.summary())
        self.report = report


def apply_plan(
    plan: Plan,
    target: Target,
    parallelism: int = DEFAULT_PARALLELISM,
    on_result: Callable[[Result], None] | None = None,
    *,
    breaker: int = DEFAULT_BREAKER,
    on_progress: Callable[[Change], None] | None = None,
    stop: Stop | None = None,
) -> Report:
    """Create and update what the plan says.

    ``on_result`` is called once per job with its final result: at once for a failure,
    after the confirming read for a write (``ok`` is only said of a confirmed job).
    ``on_progress`` is called as each write call returns, for progress bars. ``stop``: the
    run stops when its event is set (besides a KeyboardInterrupt in the waiting thread).
    """
    stop = stop or Stop()
    stop.quiet()  # from here a signal must not raise: results are about to exist
    work = plan.of(Action.CREATE, Action.UPDATE)
    run = _Run(work, target, breaker, on_result, on_progress, stop.event)
    confirmed: dict[str, WriteResult | TargetError] | None = None
    try:
        if not stop.is_set:
            run.start(max(1, min(parallelism, len(run.work))))
        interrupted = not run.wait(stop.event)
        if not interrupted:
            if run.crash is not None:
                raise run.crash
            written = run.written()
            if written:
                confirmed = _confirm_until(target, written, stop.event, None, wait=True)
            else:
                confirmed = {}
            interrupted = confirmed is None
    except KeyboardInterrupt:  # no Stop installed: Ctrl-C as Python raises it
        interrupted = True
    if not interrupted:
        assert confirmed is not None
        return run.finish(confirmed)
    raise ApplyInterrupted(_stopped(run, target), stop.signum or signal.SIGINT)


def _stopped(run: _Run, target: Target) -> Report:
    """The report of an interrupted run: start nothing, let writes in flight finish within
    the grace, confirm what was written with one quick read (no lag waits)."""
    run.halt()
    end = time.monotonic() + GRACE_SECONDS
    try:
        run.join(end)
        written = run.written()
        confirmed = _confirm_until(target, written, None, end, wait=False) if written else {}
    except KeyboardInterrupt:  # a second Ctrl-C: report now, without waiting
        confirmed = None
    return run.finish(confirmed or {}, interrupted=True)


def _confirm_until(
    target: Target,
    written: Sequence[WriteResult],
    stop: threading.Event | None,
    end: float | None,
    *,
    wait: bool,
) -> dict[str, WriteResult | TargetError] | None:
    """``target.confirm`` in a daemon thread, waited for until ``stop`` is set or ``end``
    passes (None then), so that a stop is seen while the read hangs."""
    box: list[dict[str, WriteResult | TargetError]] = []
    errors: list[BaseException] = []

    def body() -> None:
        try:
            box.append(target.confirm(written, wait=wait))
        except TargetError as exc:
            box.append(
                {
                    w.job.tag: OutcomeUnknown(f"written, but not confirmed ({exc}); re-run plan")
                    for w in written
                }
            )
        except BaseException as exc:  # a bug: handed to the waiting thread
            errors.append(exc)

    thread = threading.Thread(target=body, name="apply-confirm", daemon=True)
    thread.start()
    while thread.is_alive():
        if (stop is not None and stop.is_set()) or (end is not None and time.monotonic() > end):
            return None
        thread.join(_POLL_SECONDS)
    if errors:
        raise errors[0]
    return box[0]


def _as_write(change: Change) -> Write:
    if change.action is Action.CREATE:
        if change.desired is None:  # pragma: no cover - build_plan always sets it
            raise TargetError(f"create {change.tag}: the plan has no desired job")
        return Write(change.tag, job=change.desired)
    return Write(change.tag, changes={f.field: f.new for f in change.fields})


class _Run:
    """The shared state of one apply: which write is next, results, the breaker."""

    def __init__(
        self,
        work: list[Change],
        target: Target,
        breaker: int,
        on_result: Callable[[Result], None] | None,
        on_progress: Callable[[Change], None] | None,
        stop: threading.Event,
    ) -> None:
        self.work = work
        self.stop = stop  # checked before each write starts
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
        # Batching is optional: a target offers it by having ``write_batch``.
        batched = callable(getattr(target, "write_batch", None))
        self.batch: BatchTarget | None = cast(BatchTarget, target) if batched else None
        self.take_size = BATCH_SIZE if self.batch is not None else 1
        self.reported = False  # the report is made: late workers change nothing

    def start(self, workers: int) -> None:
        # Daemon threads: a call hung in one must not keep the interpreter from exiting.
        for n in range(workers if self.work else 0):
            thread = threading.Thread(target=self._worker, name=f"apply-{n}", daemon=True)
            self.threads.append(thread)
            thread.start()

    def wait(self, stop: threading.Event) -> bool:
        """Until every worker is done (True) or ``stop`` is set (False)."""
        for thread in self.threads:
            while thread.is_alive():
                if stop.is_set():
                    return False
                thread.join(_POLL_SECONDS)
        return not stop.is_set()

    def join(self, end: float) -> None:
        """Wait for the workers until ``end`` (monotonic); one still running is left to run
        on (a daemon thread; its job is reported unknown)."""
        for thread in self.threads:
            while thread.is_alive() and time.monotonic() < end:
                thread.join(min(_POLL_SECONDS, max(0.0, end - time.monotonic())))

    def halt(self) -> None:
        with self.lock:
            self.halted = True

    def _take(self) -> list[int]:
        """The next writes to start (one, or a batch), marked in flight; [] when none."""
        with self.lock:
            if self.halted or self.stop.is_set() or self.stopped or self.crash:
                return []
            taken = list(range(self.next, min(self.next + self.take_size, len(self.work))))
            self.next += len(taken)
            self.in_flight.update(taken)
            return taken

    def _worker(self) -> None:
        while indexes := self._take():
            try:
                if self.batch is not None:
                    done = self._write_batch(self.batch, indexes)
                else:
                    done = [self._write_one(self.work[indexes[0]])]
            except BaseException as exc:  # a bug: re-raised by the waiter
                with self.lock:
                    self.in_flight.difference_update(indexes)
                    self.crash = self.crash or exc
                return
            for index, (result, written) in zip(indexes, done, strict=True):
                self._record(index, result, written)

    def _write_one(self, change: Change) -> tuple[Result, WriteResult | None]:
        try:
            written = self._write(change)
        except OutcomeUnknown as exc:
            return Result(change, "unknown", error=str(exc)), None
        except ReconcilerError as exc:
            return Result(change, "failed", error=str(exc)), None
        return Result(change, "ok", id=written.id), written

    def _write_batch(
        self, target: BatchTarget, indexes: Sequence[int]
    ) -> list[tuple[Result, WriteResult | None]]:
        changes = [self.work[i] for i in indexes]
        try:
            answers = target.write_batch([_as_write(c) for c in changes])
        except OutcomeUnknown as exc:
            return [(Result(c, "unknown", error=str(exc)), None) for c in changes]
        except ReconcilerError as exc:  # the transaction did not commit: nothing landed
            return [(Result(c, "failed", error=str(exc)), None) for c in changes]
        out: list[tuple[Result, WriteResult | None]] = []
        for change, answer in zip(changes, answers, strict=True):
            if isinstance(answer, WriteResult):
                out.append((Result(change, "ok", id=answer.id), answer))
            elif isinstance(answer, OutcomeUnknown):
                out.append((Result(change, "unknown", error=str(answer)), None))
            else:
                out.append((Result(change, "failed", error=str(answer)), None))
        return out

    def _write(self, change: Change) -> WriteResult:
        write = _as_write(change)
        if write.job is not None:
            return self.target.create_job(write.job)
        return self.target.update_job(write.tag, write.changes or {})

    def _record(self, index: int, result: Result, written: WriteResult | None) -> None:
        with self.lock:
            if self.reported:
                return  # finished after the grace: the report already calls it unknown
            # Recorded even after a halt: a write that landed must never read "not started".
            self.in_flight.discard(index)
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
            announce = not result.ok and self.on_result is not None
            if announce:
                self.announced.add(index)
        if self.on_progress is not None:
            self.on_progress(result.change)
        if announce and self.on_result is not None:
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

    def finish(
        self, confirmed: Mapping[str, WriteResult | TargetError], *, interrupted: bool = False
    ) -> Report:
        """The report, with each write's result as the confirming read found it.

        A write the read could not confirm (absent, different, present twice, or not read
        at all because of an interrupt) is ``unknown``, never ``failed``: it was sent and
        may well have landed.
        """
        with self.lock:
            self.reported = True
            for index, result in list(self.results.items()):
                if not result.ok:
                    continue
                found = confirmed.get(result.change.tag)
                if isinstance(found, WriteResult):
                    self.results[index] = replace(result, id=found.id or result.id)
                elif isinstance(found, OutcomeUnknown):
                    self.results[index] = Result(result.change, "unknown", error=str(found))
                elif isinstance(found, TargetError):
                    self.results[index] = Result(
                        result.change,
                        "unknown",
                        error=f"written, but not confirmed: {found}; re-run plan",
                    )
                else:
                    self.results[index] = Result(
                        result.change,
                        "unknown",
                        error="written, but not confirmed before the interrupt; re-run plan",
                    )
        report = self.report(interrupted=interrupted)
        if self.on_result is not None:
            with self.lock:
                left = [i for i in range(len(report.results)) if i not in self.announced]
                self.announced.update(left)
            for index in left:
                self.on_result(report.results[index])
        return report
