"""When a job runs, seen from now: previews for plans and warnings about schedules.

The schedule model itself (``start_at + k * intervals`` for k below ``executions``, anchored at
``start_at``) is :func:`reconciler.timeline.runs` and :func:`reconciler.timeline.run_time`;
everything here is counted through them. Previews start from now, not from ``start_at``: a
reviewer wants to know what happens next, not what a start date from last year meant.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache

from .model import Job, format_duration, format_timestamp, local_time, zone_info
from .timeline import run_time, runs

PREVIEW_RUNS = 3
DAY_MS = 86_400_000


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


def at(ms: int, zone: str | None) -> str:
    """A run time in UTC, and in ``zone`` when the job's start_at named one:
    ``2027-06-01T07:00:00Z (09:00 Europe/Berlin)``; the local date too when it differs."""
    utc = format_timestamp(ms)
    local = local_time(ms, zone) if zone is not None else None
    if local is None:
        return utc
    clock = _clock(local)
    day = local.date().isoformat()
    return f"{utc} ({clock if day == utc[:10] else f'{day} {clock}'} {zone})"


def _clock(local: datetime) -> str:
    return f"{local:%H:%M}" + (f":{local.second:02d}" if local.second else "")


def next_text(job: Job, now: int) -> str:
    """``2026-12-01T00:00:00Z, ...`` or ``none (last run 2026-01-01T00:00:00Z)``."""
    runs = next_runs(job, now)
    if not runs:
        last = last_run(job)
        return f"none (all runs over; last {at(last, job.zone)})" if last else "none"
    more = len(runs) == PREVIEW_RUNS and (not job.executions or runs[-1] != last_run(job))
    return ", ".join(at(t, job.zone) for t in runs) + (", ..." if more else "")


def preview(job: Job, now: int) -> str:
    """One line: cadence, then the next runs from now (and the last one, for a finite job),
    each in UTC and, when start_at named a zone, in that zone."""
    text = f"{cadence(job)}; next: {next_text(job, now)}"
    last = last_run(job)
    if last is not None and next_runs(job, now):
        text += f"; last: {at(last, job.zone)}"
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
    shift = daylight_saving(job, now)
    if shift:
        out.append(shift)
    return out


def daylight_saving(job: Job, now: int) -> str | None:
    """For a job every whole number of days whose start_at named a zone: where its next run
    after the zone's next offset change (after now, among the job's runs) falls on the local
    clock. Runs are a fixed number of milliseconds apart, so a daily 09:00 in Berlin becomes
    08:00 or 10:00 for half the year. None when no such change falls within the job's runs in
    the next calendar year or two (a zone without daylight saving).
    """
    zone = job.zone
    if zone is None or job.intervals % DAY_MS:
        return None
    upcoming = next_runs(job, now, 1)
    if not upcoming:
        return None
    first = upcoming[0]
    before = _offset(zone, first)
    year = _year(first)
    changes = [t for y in (year, year + 1) for t in offset_changes(zone, y) if t > first]
    for change in changes:
        k = -(-(change - job.start_at) // job.intervals)
        if job.executions and k >= job.executions:
            return None
        run = run_time(job, k)
        local = local_time(run, zone)
        if local is not None and local.utcoffset() != before:
            every = "24 h" if job.intervals == DAY_MS else format_duration(job.intervals)
            return (
                f"runs at {_clock(local)} {zone} from {local.date().isoformat()}: "
                f"fixed {every} intervals do not follow daylight saving"
            )
    return None


def _offset(zone: str, ms: int) -> timedelta | None:
    local = local_time(ms, zone)
    return local.utcoffset() if local is not None else None


def _year(ms: int) -> int:
    try:
        return (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)).year
    except OverflowError:
        return 9999


@lru_cache(maxsize=1024)
def offset_changes(zone: str, year: int) -> tuple[int, ...]:
    """The instants (Unix ms, whole seconds) in UTC calendar year ``year`` at which ``zone``'s
    UTC offset changes. zoneinfo has no public list of transitions: the offset is read once a
    day and each change found is narrowed to its second (about 400 look-ups a zone and year,
    cached: a plan of 50,000 Berlin jobs reads each year once).
    """
    info = zone_info(zone)
    if info is None or not 1970 <= year < 9999:
        return ()
    start = int(datetime(year, 1, 1, tzinfo=timezone.utc).timestamp()) * 1000
    end = int(datetime(year + 1, 1, 1, tzinfo=timezone.utc).timestamp()) * 1000
    out: list[int] = []
    t, offset = start, _offset(zone, start)
    while t < end:
        step = min(t + DAY_MS, end)
        new = _offset(zone, step)
        if new != offset:
            lo, hi = t, step  # the offset at lo is the old one, at hi the new one
            while hi - lo > 1000:
                mid = (lo // 1000 + hi // 1000) // 2 * 1000
                lo, hi = (mid, hi) if _offset(zone, mid) == offset else (lo, mid)
            out.append(hi)
            offset = new
        t = step
    return tuple(out)
