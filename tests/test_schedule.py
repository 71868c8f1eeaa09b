"""Schedules seen from now: next runs, the last run, warnings before a job is written."""

from __future__ import annotations

from reconciler.model import EventType, Job
from reconciler.schedule import last_run, next_runs, preview, runs_before, warnings

HOUR = 3_600_000
T0 = 1_796_083_200_000  # 2026-12-01T00:00:00Z


def job(executions: int = 0, intervals: int = HOUR, start_at: int = T0) -> Job:
    return Job("t", "T", EventType.FUNCTION, "f", executions, intervals, start_at)


def test_next_runs_start_from_now_not_from_start_at() -> None:
    assert next_runs(job(), T0 - 1) == [T0, T0 + HOUR, T0 + 2 * HOUR]
    assert next_runs(job(), T0) == [T0, T0 + HOUR, T0 + 2 * HOUR]
    assert next_runs(job(), T0 + 1) == [T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR]
    assert next_runs(job(), T0 + 10 * HOUR + 5) == [T0 + 11 * HOUR, T0 + 12 * HOUR, T0 + 13 * HOUR]


def test_finite_jobs_stop_after_their_last_run() -> None:
    finite = job(executions=5)
    assert last_run(finite) == T0 + 4 * HOUR
    assert last_run(job()) is None
    assert next_runs(finite, T0 + 3 * HOUR) == [T0 + 3 * HOUR, T0 + 4 * HOUR]
    assert next_runs(finite, T0 + 4 * HOUR + 1) == []
    assert preview(finite, T0 + 4 * HOUR + 1) == (
        "every 1h, 5 runs; next: none (all runs over; last 2026-12-01T04:00:00Z)"
    )
    assert preview(finite, T0 - 1) == (
        "every 1h, 5 runs; next: 2026-12-01T00:00:00Z, 2026-12-01T01:00:00Z, "
        "2026-12-01T02:00:00Z, ...; last: 2026-12-01T04:00:00Z"
    )
    assert preview(job(executions=2), T0) == (
        "every 1h, 2 runs; next: 2026-12-01T00:00:00Z, 2026-12-01T01:00:00Z; "
        "last: 2026-12-01T01:00:00Z"
    )


def test_runs_before_now_count_what_a_catch_up_would_fire() -> None:
    assert runs_before(job(), T0) == 0
    assert runs_before(job(), T0 + 1) == 1
    assert runs_before(job(), T0 + HOUR) == 1
    assert runs_before(job(), T0 + HOUR + 1) == 2
    assert runs_before(job(executions=3), T0 + 100 * HOUR) == 3


def test_warnings_for_a_past_start_and_a_finished_job() -> None:
    now = T0 + 10 * HOUR + 1
    (past,) = warnings(job(), now, new=True)
    assert past == (
        "start_at 2026-12-01T00:00:00Z is in the past: 11 run(s) would fall before now "
        "if the platform catches up"
    )
    assert warnings(job(), now, new=False) == []  # an existing job has run already
    (over,) = warnings(job(executions=3), now, new=False)
    assert over.startswith("all 3 run(s) are over (the last was 2026-12-01T02:00:00Z)")
    assert warnings(job(start_at=now + 1), now, new=True) == []
