"""``reconciler schedule``: the product's timeline, before and after the manifests, and spread
proposals (``--spread``), written back into the manifests with ``--write``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import TypeVar

from ..accept import Accepted, FileEdits, Written, write
from ..clock import now_ms
from ..desired import load_desired
from ..errors import UsageError
from ..model import Job, parse_duration, parse_timestamp
from ..plan import owned
from ..schedule import next_runs
from ..settings import RunSpec
from ..strings import shorten
from ..timeline import DAY, Impact, impact, parse_between, spread
from ..yamledit import Edit
from .common import opened

T = TypeVar("T")


@dataclass(frozen=True)
class Schedule:
    """One product's timeline: figures before (live, when a target was named) and after."""

    product: str
    impact: Impact
    written: Written | None = None


def first_day(jobs: Sequence[Job], now: int) -> int:
    """Where a timeline starts by default: now, or the day of the first run still to come
    when every job starts later (a window of empty days shows nothing)."""
    upcoming = [runs[0] for job in jobs if (runs := next_runs(job, now, 1))]
    if not upcoming or min(upcoming) < now + DAY:
        return now
    first = min(upcoming)
    return first - first % DAY


def run(
    specs: Sequence[RunSpec],
    window: str,
    collide: str,
    start: str | None = None,
    propose: bool = False,
    between: str | None = None,
    write_back: bool = False,
) -> list[Schedule]:
    """The schedule command, its options as written. Offline (no target named) the
    manifests alone; with a target, live before and the manifests after."""
    if write_back and not propose:
        raise UsageError("--write writes the proposals of --spread; add --spread")
    span = _option("--window", _window, window)
    near = _option("--collide", parse_duration, collide)
    first = _option("--from", parse_timestamp, start) if start else None  # None: first day
    daily = _option("--between", parse_between, between) if between else None
    offline = all(spec.origin == "default" for spec in specs)
    return timelines(specs, first, span, near, offline, propose, daily, write_back)


# The longest --window: a year, leap day included. A timeline is read by a person, day by day;
# its cost grows with the window (10000w took about a minute), and a job's yearly runs fit.
MAX_WINDOW_DAYS = 366


def _window(text: str) -> int:
    """--window in milliseconds: a duration of at most MAX_WINDOW_DAYS."""
    span = parse_duration(text)
    if span > MAX_WINDOW_DAYS * DAY:
        raise ValueError(f"longer than the {MAX_WINDOW_DAYS}d a timeline may cover")
    return span


def _option(name: str, parse: Callable[[str], T], text: str) -> T:
    """An option's value parsed; a usage error naming the option otherwise."""
    try:
        return parse(text)
    except ValueError as exc:
        # The value is quoted in exc; here only where it was given ("--window :" for '').
        shown = f" {shorten(text)}" if text.strip() else ""
        raise UsageError(f"{name}{shown}: {exc}") from exc


def timelines(
    specs: Sequence[RunSpec],
    start: int | None,
    window: int,
    collide: int,
    offline: bool,
    propose: bool = False,
    between: tuple[int, int] | None = None,
    write_back: bool = False,
) -> list[Schedule]:
    out = []
    # One stack for the run: targets of one user share a log-in while any is open.
    with ExitStack() as stack:
        for spec in specs:
            out.append(
                _one(spec, stack, start, window, collide, offline, propose, between, write_back)
            )
    return out


def _one(
    spec: RunSpec,
    stack: ExitStack,
    start: int | None,
    window: int,
    collide: int,
    offline: bool,
    propose: bool,
    between: tuple[int, int] | None,
    write_back: bool,
) -> Schedule:
    """One product's timeline, its target kept open on the run's stack."""
    desired = load_desired(spec.paths)
    if desired.errors:
        raise UsageError(
            f"the manifests have {len(desired.errors)} error(s); run reconciler validate"
        )
    after = list(desired.jobs.values())
    before = None
    if not offline:
        live = stack.enter_context(opened(spec)).fetch_jobs()
        before = [j for j in live if owned(j.tag, spec.owns)]
        kept = {j.tag for j in after}
        # Live jobs Git does not hold keep running after the change: they stay in "after".
        after += [j for j in live if j.tag not in kept]
    if start is None:
        start = first_day(after, now_ms())
    seen = impact(before, after, start, collide, window)
    written = None
    if propose:
        proposal = spread(list(desired.jobs.values()), start, window, collide, between)
        seen = replace(seen, spread=proposal)
        if write_back and proposal.proposals:
            by_file: dict[str, list[Edit]] = {}
            for p in proposal.proposals:
                path = desired.entries[p.tag].path
                by_file.setdefault(path, []).append(
                    Edit(p.tag, "start_at", p.old_start_at, p.new_start_at)
                )
            files = tuple(FileEdits(path, tuple(e)) for path, e in sorted(by_file.items()))
            written = write(Accepted(files))
    return Schedule(spec.name, seen, written)
