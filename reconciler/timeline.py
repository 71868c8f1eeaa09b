"""The product's timeline: when all its jobs run, as figures over a window, and what a change does.

The figures (runs per hour, the busiest minutes, collision groups, quiet windows, total runs,
jobs that run more often than once a minute) are computed from each job's arithmetic, never by
listing its runs: 10,000 jobs every minute for 30 days are 432 million runs.

**The schedule model** is :func:`runs` with :func:`run_time`: every other count here and in
:mod:`reconciler.schedule` goes through them, so a different reading of Ductape changes one place.

**Per-minute starts** (:func:`minute_counts`), one slot per clock minute of the window. A job
whose interval ``iv`` is ``p * g`` with ``g = gcd(iv, 1 min)`` and one minute ``q * g`` repeats
its pattern of minutes every ``q`` runs, which take exactly ``p`` minutes: run ``k + q`` lands
``p`` slots after run ``k``. So a job is at most ``min(q, n)`` arithmetic progressions of slots
(``n`` its runs in the window):

- ``p == 1`` (the interval divides a minute, e.g. 1 min, 15 s): every whole minute between its
  first and last gets exactly ``q`` starts. One range update on a difference array, with the two
  end minutes counted exactly: O(1) per job.
- ``q < n``: ``q`` progressions of stride ``p``, kept per stride; a stride holding more points
  than there are slots is added with one strided prefix sum (O(slots)); a sparse one point by
  point.
- otherwise (few runs, e.g. daily jobs): the ``n`` points one by one.

Work is O(J + sum over jobs of min(q, n) + slots * strides), memory O(slots): a 30-day window
is 43,200 slots, whatever the number of runs. Hours and days are sums of minutes.

**Collision groups** (:func:`collisions`): two starts collide when they are less than
``collide`` apart. Jobs with the same interval ``P`` meet at the same moments every period, so
they are points on a circle of circumference ``P`` at their phase ``start_at mod P``. A job
whose interval divides ``P`` (hourly into daily) adds its ``P / iv`` phases to that circle, within
a budget of :data:`EXPANSION_BUDGET` points (past it the figures say the check was partial); jobs
with intervals of at most ``2 * collide`` collide with everything and are left to the per-minute
figures. Each circle is cut at its largest gap and grouped greedily: a group holds the points
less than ``collide`` after its first. A group is reported when at least two of its jobs start
in the same period inside the window; how often is counted by a sweep over each member's range
of periods. O(N log N) in the points placed; intervals that do not divide one another (90 min
and 1 day) are not grouped here, their meetings still show in the busiest minutes.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate

from .model import Job, format_duration, format_timestamp

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY
DEFAULT_COLLIDE = MINUTE
DEFAULT_WINDOW = 7 * DAY
TOP_MINUTES = 5
QUIET_WINDOWS = 3
# Points a job with a shorter interval may add to a longer job's circle: one hourly job adds 24
# to the daily circle; a 2-minute one 720. The budget bounds the work on hostile input.
EXPANSION_BUDGET = 1_000_000
# Times end at JavaScript's largest safe integer (model.MAX_SAFE_INTEGER): an unlimited job's
# runs are counted up to there.
END_OF_TIME = 2**53


# --- the schedule model --------------------------------------------------------------------


def run_time(job: Job, k: int) -> int:
    """When run ``k`` (0-based) of ``job`` starts: ``start_at + k * intervals``.

    Anchored at ``start_at``. Ductape does not document whether repeats are anchored at
    ``start_at`` or aligned to multiples of the interval, as some queue libraries do; this
    function and :func:`runs` are the one place that reading lives.
    """
    return job.start_at + k * job.intervals


def runs(job: Job, lo: int, hi: int = END_OF_TIME) -> range:
    """The indexes ``k`` of the runs with ``lo <= run_time(job, k) < hi``.

    A job runs ``executions`` times (k = 0 .. executions - 1), or without end for 0, at
    :func:`run_time`. Every count of runs goes through here.
    """
    iv = job.intervals
    first = 0 if job.start_at >= lo else -(-(lo - job.start_at) // iv)
    stop = 0 if job.start_at >= hi else -(-(hi - job.start_at) // iv)
    if job.executions:
        stop = min(stop, job.executions)
    return range(first, max(first, stop))


# --- figures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BusyMinute:
    """A clock minute and the jobs that start in it (tags, sorted)."""

    start: int
    starts: int
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Quiet:
    """A stretch of the window with no start at all: ``[start, end)``."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Frequent:
    """A job that runs more often than once a minute."""

    tag: str
    name: str
    intervals: int
    runs: int


@dataclass(frozen=True)
class Collision:
    """Jobs whose starts fall less than ``collide`` apart, every ``period``.

    ``tags`` are ordered by their offset in the group, then by tag; ``first`` is the first
    start of the first time they meet in the window; ``span`` the time from the first member's
    start to the last's; ``occurrences`` how many periods of the window see two or more of them.
    """

    tags: tuple[str, ...]
    period: int
    first: int
    span: int
    occurrences: int

    @property
    def size(self) -> int:
        return len(self.tags)

    def when(self) -> str:
        """``at 02:00:00Z daily``, ``at :15:00 hourly``, ``at Mon 02:00:00Z weekly``, ..."""
        stamp = format_timestamp(self.first)
        clock = stamp[11:19] + "Z"
        if self.period == DAY:
            return f"at {clock} daily"
        if self.period == HOUR:
            return f"at :{stamp[14:19]} hourly"
        if self.period == WEEK:
            weekday = ("Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed")[(self.first // DAY) % 7]
            return f"at {weekday} {clock} weekly"
        if self.period < MINUTE:
            return f"every {format_duration(self.period)}"
        return f"from {stamp} every {format_duration(self.period)}"


@dataclass(frozen=True)
class HourRow:
    """One UTC day: starts in each of its 24 hours; None for an hour outside the window."""

    day: int
    hours: tuple[int | None, ...]


@dataclass(frozen=True)
class Figures:
    """Everything a schedule report shows about one set of jobs over ``[start, end)``."""

    start: int
    end: int
    collide: int
    jobs: int
    active: int
    total_runs: int
    grid: tuple[HourRow, ...]
    busiest: tuple[BusyMinute, ...]
    collisions: tuple[Collision, ...]
    collisions_complete: bool
    quiet: tuple[Quiet, ...]
    frequent: tuple[Frequent, ...]

    @property
    def peak(self) -> int:
        """The most starts in one minute."""
        return self.busiest[0].starts if self.busiest else 0

    @property
    def runs_per_day(self) -> float:
        """Runs per day on average over the window."""
        length = self.end - self.start
        return self.total_runs * DAY / length if length > 0 else 0.0

    @property
    def max_hour(self) -> int:
        return max((c for row in self.grid for c in row.hours if c), default=0)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def minute_counts(jobs: Iterable[Job], lo: int, hi: int) -> tuple[int, list[int]]:
    """Starts in each clock minute from the minute holding ``lo`` to the one holding ``hi - 1``.

    Returns ``(base, counts)``: ``counts[i]`` is the number of starts in
    ``[max(lo, base + i min), min(hi, base + (i + 1) min))``. See the module docstring.
    """
    base = lo - lo % MINUTE
    slots = max(0, _ceil_div(hi - base, MINUTE))
    counts = [0] * slots
    diff = [0] * (slots + 1)
    strides: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for job in jobs:
        r = runs(job, lo, hi)
        n = len(r)
        if not n:
            continue
        iv = job.intervals
        off = job.start_at - base  # run k falls in slot (off + k * iv) // MINUTE
        g = math.gcd(iv, MINUTE)
        p, q = iv // g, MINUTE // g
        if p == 1 and n > 2:
            first = (off + r.start * iv) // MINUTE
            last = (off + (r.stop - 1) * iv) // MINUTE
            if first == last:
                counts[first] += n
                continue
            in_first = _ceil_div((first + 1) * MINUTE - off, iv) - r.start
            in_last = r.stop - _ceil_div(last * MINUTE - off, iv)
            counts[first] += in_first
            counts[last] += in_last
            if last - first > 1:
                diff[first + 1] += q
                diff[last] -= q
        elif q < n:
            for k in range(r.start, r.start + q):
                strides[p].append(((off + k * iv) // MINUTE, _ceil_div(r.stop - k, q)))
        else:
            for k in r:
                counts[(off + k * iv) // MINUTE] += 1
    for i, d in enumerate(accumulate(diff[:slots])):
        counts[i] += d
    for p, progressions in strides.items():
        points = sum(c for _, c in progressions)
        if points <= slots:
            for b, c in progressions:
                for i in range(b, b + c * p, p):
                    counts[i] += 1
            continue
        marks = [0] * (slots + p)
        for b, c in progressions:
            marks[b] += 1
            marks[b + c * p] -= 1
        for residue in range(p):
            counts[residue:slots:p] = [
                a + b
                for a, b in zip(
                    counts[residue:slots:p], accumulate(marks[residue:slots:p]), strict=True
                )
            ]
    return base, counts


def figures(
    jobs: Sequence[Job], start: int, window: int = DEFAULT_WINDOW, collide: int = DEFAULT_COLLIDE
) -> Figures:
    """The figures of ``jobs`` over ``[start, start + window)``; collisions under ``collide`` ms."""
    end = start + window
    base, counts = minute_counts(jobs, start, end)
    active = [j for j in jobs if runs(j, start, end)]
    total = sum(len(runs(j, start, end)) for j in active)
    groups, complete = collisions(active, start, end, collide)
    return Figures(
        start=start,
        end=end,
        collide=collide,
        jobs=len(jobs),
        active=len(active),
        total_runs=total,
        grid=_grid(base, counts, start, end),
        busiest=_busiest(active, base, counts, start, end),
        collisions=groups,
        collisions_complete=complete,
        quiet=_quiet(base, counts, start, end),
        frequent=tuple(
            Frequent(j.tag, j.name, j.intervals, len(runs(j, start, end)))
            for j in sorted(active, key=lambda j: (j.intervals, j.tag))
            if j.intervals < MINUTE
        ),
    )


def _grid(base: int, counts: list[int], lo: int, hi: int) -> tuple[HourRow, ...]:
    if hi <= lo:
        return ()
    day0 = lo - lo % DAY
    days = _ceil_div(hi - day0, DAY)
    lead = (base - day0) // MINUTE
    padded = [0] * lead + counts + [0] * (days * 1440 - lead - len(counts))
    rows = []
    for d in range(days):
        cells: list[int | None] = []
        for h in range(24):
            at = day0 + d * DAY + h * HOUR
            if at + HOUR <= lo or at >= hi:
                cells.append(None)
            else:
                i = (d * 24 + h) * 60
                cells.append(sum(padded[i : i + 60]))
        rows.append(HourRow(day0 + d * DAY, tuple(cells)))
    return tuple(rows)


def _busiest(
    jobs: Sequence[Job], base: int, counts: list[int], lo: int, hi: int
) -> tuple[BusyMinute, ...]:
    # nlargest is sorted(..., reverse=True)[:n]: ties go to the earlier minute.
    top = heapq.nlargest(TOP_MINUTES, range(len(counts)), key=counts.__getitem__)
    out = []
    for i in top:
        if not counts[i]:
            break
        a, b = max(lo, base + i * MINUTE), min(hi, base + (i + 1) * MINUTE)
        tags = tuple(sorted(j.tag for j in jobs if runs(j, a, b)))
        out.append(BusyMinute(base + i * MINUTE, counts[i], tags))
    return tuple(out)


def _quiet(base: int, counts: list[int], lo: int, hi: int) -> tuple[Quiet, ...]:
    stretches: list[Quiet] = []
    begin: int | None = None
    for i, c in enumerate([*counts, 1]):
        if c == 0 and begin is None:
            begin = i
        elif c and begin is not None:
            a = max(lo, base + begin * MINUTE)
            b = min(hi, base + i * MINUTE)
            stretches.append(Quiet(a, b))
            begin = None
    stretches.sort(key=lambda q: (-q.length, q.start))
    return tuple(stretches[:QUIET_WINDOWS])


# --- collisions -------------------------------------------------------------------------------


def collisions(
    jobs: Sequence[Job], lo: int, hi: int, collide: int = DEFAULT_COLLIDE
) -> tuple[tuple[Collision, ...], bool]:
    """Collision groups of ``jobs`` in ``[lo, hi)``, and whether every circle was complete.

    See the module docstring for the method and its limits.
    """
    by_interval: dict[int, list[Job]] = defaultdict(list)
    for job in jobs:
        if runs(job, lo, hi):
            by_interval[job.intervals].append(job)
    intervals = sorted(by_interval)
    budget = EXPANSION_BUDGET
    complete = True
    found: list[Collision] = []
    for period in intervals:
        layers = [(by_interval[period], 1)]  # natives have this interval; the others divide it
        for iv in intervals:
            if iv >= period or period % iv or iv <= 2 * collide:
                continue
            ratio = period // iv
            if ratio * len(by_interval[iv]) > budget:
                complete = False
                continue
            budget -= ratio * len(by_interval[iv])
            layers.append((by_interval[iv], ratio))
        circle = _Circle(period, layers)
        for cluster in _clusters(circle, collide):
            group = _meetings(cluster, period, lo, hi)
            if group is not None:
                found.append(group)
    found.sort(key=lambda c: (-c.size, c.first, c.tags))
    return tuple(found), complete


_Point = tuple[int, str, Job, bool]  # (phase, tag, job, native)
_Members = tuple[tuple[str, Job], ...]  # (tag, job) of the jobs at one phase of a layer


class _Circle:
    """The points of one period's circle, generated in phase order, never stored.

    A layer is the jobs of one interval ``iv`` and ``ratio = period / iv``: each job is at its
    phase ``start_at mod iv`` plus ``m * iv`` for ``m < ratio``. Jobs at the same phase of a
    layer travel together (teams start jobs on the hour: 10,000 jobs are often a few hundred
    phases), sorted by tag. Sorted by phase once, a layer is in order block by block (``m``
    outer), so the circle is a merge of its layers: (phase, layer, members), unique per layer
    and phase, so the merge never compares members. A million points held as tuples took
    some 80 MB at 50,000 jobs; generated, the memory is the jobs'.
    """

    def __init__(self, period: int, layers: list[tuple[list[Job], int]]) -> None:
        self.period = period
        self.layers: list[tuple[list[tuple[int, _Members]], int, int]] = []
        for members, ratio in layers:
            iv = period // ratio
            at: dict[int, list[tuple[str, Job]]] = defaultdict(list)
            for j in members:
                at[j.start_at % iv].append((j.tag, j))
            # sorted() is stable: jobs with one tag (a live duplicate) keep their order.
            base = [(ph, tuple(sorted(at[ph], key=_first))) for ph in sorted(at)]
            self.layers.append((base, iv, ratio))
        self.size = sum(len(members) * ratio for members, ratio in layers)

    def phases(self) -> Iterator[int]:
        """Every phase that holds a point, in order (once per layer holding it)."""
        return heapq.merge(*(_layer_phases(base, iv, ratio) for base, iv, ratio in self.layers))

    def groups(self) -> Iterator[tuple[int, int, _Members]]:
        """(phase, layer, members) in the order of :meth:`phases`; layer 0 holds the natives."""
        return heapq.merge(
            *(_layer_groups(base, iv, ratio, n) for n, (base, iv, ratio) in enumerate(self.layers))
        )


def _first(item: tuple[str, Job]) -> str:
    return item[0]


def _layer_phases(base: list[tuple[int, _Members]], iv: int, ratio: int) -> Iterator[int]:
    for m in range(ratio):
        offset = m * iv
        for ph, _ in base:
            yield ph + offset


def _layer_groups(
    base: list[tuple[int, _Members]], iv: int, ratio: int, layer: int
) -> Iterator[tuple[int, int, _Members]]:
    for m in range(ratio):
        offset = m * iv
        for ph, members in base:
            yield ph + offset, layer, members


def _phase_tag(point: _Point) -> tuple[int, str]:
    return point[0], point[1]


def _clusters(circle: _Circle, collide: int) -> Iterator[list[_Point]]:
    """Points on a circle, cut at the largest gap, grouped greedily; phases come back unwrapped.

    Two passes over the generated phases: the first finds the cut (the first largest gap,
    the wrap-around gap last), the second groups from just after it. A group's points come
    in the order a stable sort of every point by (phase, tag), natives first, gives.
    """
    if circle.size < 2:
        return
    period = circle.period
    phases = circle.phases()
    first = previous = next(phases)
    widest, cut, count = -1, 0, 1
    for i, ph in enumerate(phases):
        if ph - previous > widest:
            widest, cut = ph - previous, i
        previous = ph
        count += 1
    if first + period - previous > widest:
        cut = count - 1
    start = (cut + 1) % count
    unwrapped: Iterator[tuple[int, int, _Members]] = circle.groups()
    if start:
        head = itertools.islice(circle.groups(), start)
        unwrapped = itertools.chain(
            itertools.islice(unwrapped, start, None),
            ((ph + period, layer, members) for ph, layer, members in head),
        )
    cluster: list[tuple[int, int, _Members]] = []
    for group in unwrapped:
        if cluster and group[0] - cluster[0][0] < collide:
            cluster.append(group)
            continue
        if cluster:
            yield from _points(cluster)
        cluster = [group]
    if cluster:
        yield from _points(cluster)


def _points(cluster: list[tuple[int, int, _Members]]) -> Iterator[list[_Point]]:
    """The points of a greedy group of phases, when there are two or more and a native."""
    if len(cluster) == 1 and len(cluster[0][2]) == 1:
        return
    if not any(layer == 0 for _, layer, _ in cluster):
        return  # only jobs of shorter intervals: their own circles report them
    points = [(ph, tag, job, layer == 0) for ph, layer, members in cluster for tag, job in members]
    # Phases are in order and each phase's members by tag; one phase in several layers
    # interleaves them by tag, layer order kept (a stable sort: a no-op otherwise).
    points.sort(key=_phase_tag)
    yield points


def _meetings(cluster: list[_Point], period: int, lo: int, hi: int) -> Collision | None:
    """How often two or more of ``cluster`` start in the same period of ``[lo, hi)``."""
    anchor = cluster[0][0]
    # Each job once: a job met twice in one cluster cannot happen (its interval > collide).
    members: dict[str, tuple[int, int, int]] = {}
    for ph, tag, job, _ in cluster:
        if tag in members:
            continue
        delta = ph - anchor
        r = runs(job, lo, hi)
        first_t, stop_t = run_time(job, r.start), run_time(job, r.stop - 1) + 1
        # Slot m starts at anchor + m * period; this member starts delta later in it.
        m_lo = _ceil_div(first_t - anchor - delta, period)
        m_hi = _ceil_div(stop_t - anchor - delta, period)
        members[tag] = (m_lo, m_hi, delta)
    events = sorted(
        [(m_lo, 1) for m_lo, _, _ in members.values()]
        + [(m_hi, -1) for _, m_hi, _ in members.values()]
    )
    busy: list[tuple[int, int]] = []
    active = 0
    for i, (m, step) in enumerate(events):
        active += step
        nxt = events[i + 1][0] if i + 1 < len(events) else m
        if active >= 2 and nxt > m:
            busy.append((m, nxt))
    if not busy:
        return None
    occurrences = sum(b - a for a, b in busy)
    # The stretches are sorted and apart: a member meets one iff the first stretch ending
    # after its first slot starts before its last (a search, not a scan of every stretch).
    ends = [b for _, b in busy]
    tags = [
        t
        for t, (m_lo, m_hi, _) in members.items()
        if (i := bisect.bisect_right(ends, m_lo)) < len(busy) and busy[i][0] < m_hi
    ]
    first_slot = busy[0][0]
    in_first = [t for t in tags if members[t][0] <= first_slot < members[t][1]]
    offsets = {t: members[t][2] for t in tags}
    first = anchor + first_slot * period + min(offsets[t] for t in in_first)
    ordered = tuple(sorted(tags, key=lambda t: (offsets[t], t)))
    span = offsets[ordered[-1]] - offsets[ordered[0]]
    return Collision(ordered, period, first, span, occurrences)


# --- before and after -----------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """A new ``start_at`` for one job, same interval: where the spread puts it."""

    tag: str
    intervals: int
    old_start_at: int
    new_start_at: int


@dataclass(frozen=True)
class Spread:
    """Proposed start times for the jobs of the collision groups, and the peak they give."""

    proposals: tuple[Proposal, ...]
    peak_before: int
    peak_after: int
    between: tuple[int, int] | None


@dataclass(frozen=True)
class Impact:
    """A schedule seen before and after a change (``before`` is None offline).

    ``created``: the collision groups of ``after`` that are in no group of ``before`` (a group
    whose tags are all in one group before is not new).
    """

    after: Figures
    before: Figures | None = None
    created: tuple[Collision, ...] = ()
    spread: Spread | None = None

    def warnings(self, max_names: int = 10, max_starts_per_minute: int | None = None) -> list[str]:
        """Sentences for a plan: each collision group the change creates, and a peak too high."""
        out = []
        within = duration_words(self.after.collide)
        for group in self.created:
            names = ", ".join(group.tags[:max_names])
            more = ", ..." if group.size > max_names else ""
            out.append(
                f"this change makes {group.size} jobs start within {within} {group.when()}: "
                f"{names}{more} (reconciler schedule --spread)"
            )
        before = self.before.peak if self.before else 0
        limit = max_starts_per_minute
        if limit is not None and self.after.peak > limit and self.after.peak > before:
            at = format_timestamp(self.after.busiest[0].start)
            out.append(
                f"this change raises the peak to {self.after.peak} starts a minute at {at} "
                f"(from {before}; the limit is {limit})"
            )
        return out


def duration_words(ms: int) -> str:
    """``60 s`` under two minutes (as people say a collision window), else ``5m``, ``1h30m``."""
    if ms < 2 * MINUTE and ms % SECOND == 0:
        return f"{ms // SECOND} s"
    return format_duration(ms)


def impact(
    before_jobs: Sequence[Job] | None,
    after_jobs: Sequence[Job],
    now: int,
    collide: int = DEFAULT_COLLIDE,
    window: int = DAY,
) -> Impact:
    """Both job sets' figures over ``[now, now + window)``, and the groups the change creates."""
    after = figures(after_jobs, now, window, collide)
    if before_jobs is None:
        return Impact(after)
    before = figures(before_jobs, now, window, collide)
    old = [frozenset(g.tags) for g in before.collisions]
    created = tuple(g for g in after.collisions if not any(set(g.tags) <= o for o in old))
    return Impact(after, before, created)


# --- spread -----------------------------------------------------------------------------------


def parse_between(text: str) -> tuple[int, int]:
    """``02:00-04:00`` as milliseconds since midnight UTC; ValueError with the reason."""
    parts = text.strip().split("-")
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not a daily window such as '02:00-04:00'")
    bounds = []
    for part in parts:
        hh, _, mm = part.strip().partition(":")
        if not (hh.isdigit() and mm.isdigit() and len(mm) == 2 and len(hh) <= 2):
            raise ValueError(f"{part.strip()!r} is not a time of day such as '02:00'")
        if int(hh) > 24 or int(mm) > 59 or (int(hh) == 24 and int(mm)):
            raise ValueError(f"{part.strip()!r} is not a time of day")
        bounds.append(int(hh) * HOUR + int(mm) * MINUTE)
    if bounds[0] == bounds[1]:
        raise ValueError(f"{text!r} is an empty window")
    return bounds[0] % DAY, bounds[1] % DAY


def tag_hash(tag: str) -> int:
    """A stable number from a tag (the same on every machine and run, unlike ``hash``)."""
    return int.from_bytes(hashlib.sha256(tag.encode("utf-8", "surrogatepass")).digest()[:8], "big")


def spread(
    jobs: Sequence[Job],
    now: int,
    window: int = DEFAULT_WINDOW,
    collide: int = DEFAULT_COLLIDE,
    between: tuple[int, int] | None = None,
) -> Spread:
    """New ``start_at`` values, same intervals, for the jobs of every collision group.

    Each job gets a slot on its interval's circle: slots are ``collide`` wide (at least a
    minute, in whole minutes), from midnight UTC, or from the start of ``between`` for jobs
    whose interval is a whole number of days. The slot is chosen by :func:`tag_hash` (as
    Jenkins' ``H``), moving on to the next free slot when it is taken, so the proposals depend
    only on the tags and the schedules, never on their order. A proposed ``start_at`` is the
    first time at or after ``max(now, start_at)`` at the new phase: no run is moved into the past.
    """
    before = figures(jobs, now, window, collide)
    width = _ceil_div(max(collide, MINUTE), MINUTE) * MINUTE
    by_tag = {j.tag: j for j in jobs}
    moving = {tag: by_tag[tag] for group in before.collisions for tag in group.tags}
    if not moving:
        return Spread((), before.peak, before.peak, between)
    # Slots held by the jobs that stay, per (interval, slot index).
    taken: dict[tuple[int, int], int] = defaultdict(int)
    layout = {iv: _slots(iv, width, between) for iv in {j.intervals for j in jobs}}
    for job in jobs:
        if job.tag not in moving:
            origin, count = layout[job.intervals]
            offset = (job.start_at - origin) % job.intervals
            if offset < count * width:
                taken[(job.intervals, offset // width)] += 1
    proposals = []
    changed: dict[str, Job] = {}
    for job in sorted(moving.values(), key=lambda j: (tag_hash(j.tag), j.tag)):
        iv = job.intervals
        origin, count = layout[iv]
        if between is not None and iv % DAY == 0:
            origin += ((job.start_at - origin) % iv) // DAY * DAY  # keep the day of the period
        preferred = tag_hash(job.tag) % count
        # The first free slot from the preferred one on; when all are taken, the least used.
        order = [(preferred + i) % count for i in range(count)]
        slot = next((s for s in order if not taken.get((iv, s))), -1)
        if slot < 0:
            least = min(taken[(iv, s)] for s in order)
            slot = next(s for s in order if taken[(iv, s)] == least)
        taken[(iv, slot)] += 1
        phase = (origin + slot * width) % iv
        floor = max(now, job.start_at)
        new = floor + (phase - floor) % iv
        proposals.append(Proposal(job.tag, iv, job.start_at, new))
        changed[job.tag] = replace(job, start_at=new)
    after_jobs = [changed.get(j.tag, j) for j in jobs]
    _, after_counts = minute_counts(after_jobs, now, now + window)
    proposals.sort(key=lambda p: p.tag)
    return Spread(tuple(proposals), before.peak, max(after_counts, default=0), between)


def _slots(iv: int, width: int, between: tuple[int, int] | None) -> tuple[int, int]:
    """The first slot's phase and the number of slots on a circle of ``iv``."""
    if between is not None and iv % DAY == 0:
        a, b = between
        return a, max(1, ((b - a) % DAY or DAY) // width)
    return 0, max(1, iv // width)
