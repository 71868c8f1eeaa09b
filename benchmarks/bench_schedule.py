"""Speed and memory of the schedule figures: 10,000 jobs every minute for 30 days.

    python benchmarks/bench_schedule.py [--jobs 10000] [--days 30] [--interval-ms 60000]

Generates the jobs in memory (start times spread over a day from a fixed seed, so every run
sees the same set), computes ``reconciler.timeline.figures`` over the window once, and prints
the figures with the time taken and this process's peak RSS, then one JSON line with all of
them. The targets (issue 16): within 2 s and 200 MB for 432 million runs. It exits 0 whatever
the figures: it is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import time

from reconciler.model import EventType, Job
from reconciler.timeline import DAY, figures

START = 1_796_083_200_000  # 2026-12-01T00:00:00Z
TARGET_S = 2.0
TARGET_MB = 200.0


def peak_rss_mb() -> float:
    # Linux reports kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--interval-ms", type=int, default=60_000)
    args = parser.parse_args()
    rng = random.Random(16)
    jobs = [
        Job(
            f"job_{i:05d}",
            f"Job {i}",
            EventType.FUNCTION,
            "tick",
            0,
            args.interval_ms,
            START - DAY + rng.randrange(DAY),
        )
        for i in range(args.jobs)
    ]
    rss_before = peak_rss_mb()
    gc.collect()
    began = time.perf_counter()
    result = figures(jobs, START, args.days * DAY)
    seconds = time.perf_counter() - began
    rss = peak_rss_mb()
    out = {
        "jobs": args.jobs,
        "days": args.days,
        "interval_ms": args.interval_ms,
        "total_runs": result.total_runs,
        "peak_starts_per_minute": result.peak,
        "collision_groups": len(result.collisions),
        "largest_group": max((c.size for c in result.collisions), default=0),
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(rss, 1),
        "rss_before_mb": round(rss_before, 1),
        "within_time": seconds <= TARGET_S,
        "within_memory": rss <= TARGET_MB,
    }
    width = max(len(k) for k in out)
    for key, value in out.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
