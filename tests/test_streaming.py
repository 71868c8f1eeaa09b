"""The text report is written as it is made: a large plan's half a million lines are never
all held (the plan at 50,000 creates stayed within its memory goal only so; see benchmarks).
"""

from __future__ import annotations

import tracemalloc

from reconciler.model import EventType, Job
from reconciler.outcome import PlanReport
from reconciler.plan import build_plan
from reconciler.render import Options
from reconciler.render.text import report, stream

NOW = 1_793_491_200_000  # 2026-11-01T00:00:00Z, before every job starts
START, HOUR = 1_796_090_400_000, 3_600_000


def big_report(count: int) -> PlanReport:
    def job(i: int) -> Job:
        return Job(f"job_{i:05d}", f"Job {i}", EventType.ACTION, "app:act", 0, HOUR, START + i)

    jobs = {f"job_{i:05d}": job(i) for i in range(count)}
    return PlanReport(target="sqlite:///x.db", plan=build_plan(jobs, []), now=NOW)


def test_the_lines_are_made_as_they_are_read_never_all_held() -> None:
    outcome = big_report(3_000)
    whole = report([outcome], Options()).out
    assert whole.count("+ create job_") == 3_000
    tracemalloc.start()
    try:
        _, lines = stream([outcome], Options())
        written = 0
        first = tracemalloc.get_traced_memory()[0]
        for line in lines:
            written += len(line)
        peak = tracemalloc.get_traced_memory()[1] - first
    finally:
        tracemalloc.stop()
    assert written == len(whole)  # the same text, piece by piece
    # Held at once: a few lines, not the report (which is about a megabyte here).
    assert peak < written / 10, (peak, written)
