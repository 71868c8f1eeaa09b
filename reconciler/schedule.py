"""When a job runs, seen from now: previews for plans and warnings about schedules.

The schedule model itself (``start_at + k * intervals`` for k below ``executions``, anchored at
``start_at``) is :func:`reconciler.timeline.runs` and :func:`reconciler.timeline.run_time`;
everything here is counted through them. Previews start from now, not from ``start_at``: a
reviewer wants to know what happens next, not what a start date from last year meant.
"""

from __future__ import annotations

from .model import Job, format_duration, format_timestamp
from .timeline import run_time, runs

PREVIEW_RUNS = 3


def last_run(job: Job) -> int | None:
    """The time of a finite job's last run; None for an unlimited one."""
    if job.executions == 0:
        return None
    return run_time(job, job.executions - 1)


def next_runs(job: Job, now: int, count: int = PREVIEW_RUNS) -> list[int]:
    """Up to ``count`` run times at or after ``now``."""
    return [run_time(job, k) for k in runs(job, now)[:count]]


def runs_before(job: Job, now: int) -> int:
    """How many runs fall before ``now`` (what a platform catching up would fire at once)."""
    return len(runs(job, job.start_at, now))


def cadence(job: Job) -> str:
    count = (
        "unlimited"
        if job.executions == 0
        else f"{job.executions} run" + ("s" if job.executions != 1 else "")
    )
    return f"every {format_duration(job.intervals)}, {count}"


def next_text(job: Job, now: int) -> str:
    """``2026-12-01T00:00:00Z, ...`` or ``none (last run 2026-01-01T00:00:00Z)``."""
    runs = next_runs(job, now)
    if not runs:
        last = last_run(job)
        return f"none (all runs over; last {format_timestamp(last)})" if last else "none"
    more = len(runs) == PREVIEW_RUNS and (not job.executions or runs[-1] != last_run(job))
    return ", ".join(format_timestamp(t) for t in runs) + (", ..." if more else "")


def preview(job: Job, now: int) -> str:
    """One line: cadence, then the next runs from now (and the last one, for a finite job)."""
    text = f"{cadence(job)}; next: {next_text(job, now)}"
    last = last_run(job)
    if last is not None and next_runs(job, now):
        text += f"; last: {format_timestamp(last)}"
    return text


def first_run(job: Job, now: int) -> str:
    """The next run as one timestamp, for tables; '-' when none is left."""
    runs = next_runs(job, now, 1)
    return format_timestamp(runs[0]) if runs else "-"


def warnings(job: Job, now: int, new: bool) -> list[str]:
    """What a reviewer should know about this schedule before it is written."""
    out: list[str] = []
    last = last_run(job)
    if last is not None and last < now:
        out.append(
            f"all {job.executions} run(s) are over (the last was {format_timestamp(last)}): "
            "this job will never run"
        )
    elif new and job.start_at < now:
        missed = runs_before(job, now)
        if missed:
            out.append(
                f"start_at {format_timestamp(job.start_at)} is in the past: {missed} run(s) "
                "would fall before now if the platform catches up"
            )
    return out
