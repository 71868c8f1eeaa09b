"""The product's timeline: when all its jobs run, as figures over a window, and what a change does.

The figures (runs per hour, the busiest minutes, collision groups, quiet windows, total runs,
jobs that run more often than once a minute) are computed from each job's arithmetic, never by
listing its runs: 10,000 jobs every minute for 30 days are 432 million runs.

**The schedule model** is :func:`runs` with :func:`run_time`: every other count here and in
:mod:`reconciler.schedule` goes through them, so a different reading of Ductape changes one place
(the figures' first pass over all jobs, ``_spans``, writes their arithmetic out for speed; a test
holds it to them).

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
of periods, where the jobs of one phase with the same first and last start in the window (jobs
started together, a few run counts) are one range with a weight. O(N log N) in the points
placed; intervals that do not divide one another (90 min and 1 day) are not grouped here, their
meetings still show in the busiest minutes.

**The busiest minutes' jobs** are found in the same layers (an interval's jobs by phase), by
bisection: O(log J + the jobs there) per minute, the jobs of one phase with one window asked once.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import operator
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate

from .cycles import paused
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


_Span = tuple[Job, int, int]  # a job with runs in the window: (job, its first start, last + 1)


def _spans(jobs: Iterable[Job], lo: int, hi: int) -> tuple[list[_Span], int]:
    """The jobs that start in ``[lo, hi)``, in order, with their first and (last + 1) start,
    and how many runs they have there in all.

    :func:`runs` and :func:`run_time` for every job, their arithmetic written out once for the
    lot (a function call per job was most of the cost; a test holds the two to each other).
    """
    out = []
    total = 0
    for job in jobs:
        at, iv, executions = job.start_at, job.intervals, job.executions
        first = 0 if at >= lo else (lo - at - 1) // iv + 1
        stop = 0 if at >= hi else (hi - at - 1) // iv + 1
        if executions and executions < stop:
            stop = executions
        if first < stop:
            out.append((job, at + first * iv, at + (stop - 1) * iv + 1))
            total += stop - first
    return out, total


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
    return _minute_counts(_spans(jobs, lo, hi)[0], lo, hi)


def _minute_counts(active: Iterable[_Span], lo: int, hi: int) -> tuple[int, list[int]]:
    """:func:`minute_counts` of the jobs with runs in ``[lo, hi)``, from their first and last."""
    base = lo - lo % MINUTE
    slots = max(0, _ceil_div(hi - base, MINUTE))
    counts = [0] * slots
    diff = [0] * (slots + 1)
    strides: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for job, start, stop in active:
        iv = job.intervals
        n = (stop - 1 - start) // iv + 1  # its runs in the window
        off = start - base  # its j-th run there falls in slot (off + j * iv) // MINUTE
        g = math.gcd(iv, MINUTE)
        p, q = iv // g, MINUTE // g
        if p == 1 and n > 2:
            first = off // MINUTE
            last = (stop - 1 - base) // MINUTE
            if first == last:
                counts[first] += n
                continue
            in_first = _ceil_div((first + 1) * MINUTE - off, iv)
            in_last = n - _ceil_div(last * MINUTE - off, iv)
            counts[first] += in_first
            counts[last] += in_last
            if last - first > 1:
                diff[first + 1] += q
                diff[last] -= q
        elif q < n:
            for j in range(q):
                strides[p].append(((off + j * iv) // MINUTE, _ceil_div(n - j, q)))
        else:
            for t in range(off, stop - base, iv):
                counts[t // MINUTE] += 1
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
    with paused():
        spans = _spans(jobs, start, end)
        base, counts = _minute_counts(spans[0], start, end)
        return _figures(jobs, spans, start, end, collide, base, counts)


def _figures(
    jobs: Sequence[Job],
    spans: tuple[list[_Span], int],
    start: int,
    end: int,
    collide: int,
    base: int,
    counts: list[int],
    cache: _Cache | None = None,
) -> Figures:
    """:func:`figures` from the jobs' :func:`_spans` and per-minute starts, however they were
    counted; ``cache`` may be one that the figures of another set of jobs over the same window
    used."""
    active, total = spans
    if cache is None:
        cache = _Cache()
    layers = _layers(active, cache)
    groups, complete = _collisions(layers, start, end, collide, cache, _dupes(active))
    # Filtered, then sorted: a stable sort of the few keeps the order it gives all of them.
    frequent = sorted(
        (job for job, _, _ in active if job.intervals < MINUTE), key=lambda j: (j.intervals, j.tag)
    )
    return Figures(
        start=start,
        end=end,
        collide=collide,
        jobs=len(jobs),
        active=len(active),
        total_runs=total,
        grid=_grid(base, counts, start, end),
        busiest=_busiest(layers, cache, base, counts, start, end),
        collisions=groups,
        collisions_complete=complete,
        quiet=_quiet(base, counts, start, end),
        frequent=tuple(
            Frequent(j.tag, j.name, j.intervals, len(runs(j, start, end))) for j in frequent
        ),
    )


def _dupes(active: Sequence[_Span]) -> bool:
    """Whether two of the jobs share a tag (a live product may hold duplicates)."""
    return len({job.tag for job, _, _ in active}) < len(active)


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
    layers: dict[int, _Layer], cache: _Cache, base: int, counts: list[int], lo: int, hi: int
) -> tuple[BusyMinute, ...]:
    # nlargest is sorted(..., reverse=True)[:n]: ties go to the earlier minute.
    top = heapq.nlargest(TOP_MINUTES, range(len(counts)), key=counts.__getitem__)
    out = []
    for i in top:
        if not counts[i]:
            break
        a, b = max(lo, base + i * MINUTE), min(hi, base + (i + 1) * MINUTE)
        out.append(BusyMinute(base + i * MINUTE, counts[i], _starting(layers, cache, a, b)))
    return tuple(out)


def _starting(layers: dict[int, _Layer], cache: _Cache, a: int, b: int) -> tuple[str, ...]:
    """The tags of the jobs with a start in ``[a, b)`` (inside their window), sorted.

    A job of interval ``iv`` starts in ``[a, b)`` only if its phase ``start_at mod iv`` is in
    ``[a, b)`` mod ``iv``: those phases are found by bisection in its layer. A job there starts
    in ``[a, b)`` iff its first run at or after ``since = max(a, first)`` (which is at
    ``since + (phase - since) mod iv``) comes before ``min(b, stop)``: the same for all the
    jobs of a phase with the same first and last start, asked once for them.
    """
    tags: list[str] = []
    width = b - a
    for iv, layer in layers.items():
        phases, columns = layer.phases, layer.members
        if iv <= width:
            picked: Iterable[int] = range(len(phases))
        else:
            r = a % iv
            picked = range(bisect.bisect_left(phases, r), bisect.bisect_left(phases, r + width))
            if r + width > iv:  # the minute wraps round the interval's phases
                picked = [*picked, *range(bisect.bisect_left(phases, r + width - iv))]
        for k in picked:
            ph, members = phases[k], columns[k]
            if len(members) == 1:
                tag, first, stop = members[0]
                since = a if a > first else first
                until = b if b < stop else stop
                if since + (ph - since) % iv < until:
                    tags.append(tag)
                continue
            counted = cache.count(members)
            chosen = []
            for first, stop, _ in counted.spans:
                since = a if a > first else first
                until = b if b < stop else stop
                chosen.append(since + (ph - since) % iv < until)
            if all(chosen):
                tags += counted.tags
            elif any(chosen):
                tags += counted.some(chosen)
    return tuple(sorted(tags))


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
    active, _ = _spans(jobs, lo, hi)
    cache = _Cache()
    return _collisions(_layers(active, cache), lo, hi, collide, cache, _dupes(active))


_Member = tuple[str, int, int]  # (tag, first start in the window, last start + 1)
_Entry = tuple[int, int, tuple[_Member, ...]]  # (phase, layer, the members at that phase)
_NEVER = END_OF_TIME * 4  # later than any phase: "no next point"


class _Layer:
    """The jobs of one interval, at their phases ``start_at mod intervals``.

    Jobs at the same phase travel together (teams start jobs on the hour: 10,000 jobs are
    often a few hundred phases), sorted by tag; ``sorted`` is stable, so jobs with one tag (a
    live duplicate) keep their order. On a circle of ``ratio`` times the interval the layer is
    these phases plus ``m * intervals`` for ``m < ratio``: periodic, never listed.
    """

    __slots__ = ("intervals", "members", "phases", "size")

    def __init__(self, intervals: int, at: dict[int, list[_Member]]) -> None:
        self.intervals = intervals
        self.phases = sorted(at)
        self.members = [
            tuple(at[ph]) if len(at[ph]) == 1 else tuple(sorted(at[ph], key=_first))
            for ph in self.phases
        ]
        self.size = sum(map(len, self.members))  # the jobs


def _layers(active: Iterable[_Span], cache: _Cache) -> dict[int, _Layer]:
    """The jobs by interval (in the order they first come), each interval's a layer: the one
    ``cache`` holds when it was made of the same members at the same phases (a plan's after
    jobs are mostly its before ones), else a new one, which the cache then holds."""
    at: dict[int, dict[int, list[_Member]]] = {}
    for job, first, stop in active:
        iv = job.intervals
        phases = at.get(iv)
        if phases is None:
            phases = at[iv] = {}
        ph = job.start_at % iv
        column = phases.get(ph)
        if column is None:
            phases[ph] = [(job.tag, first, stop)]
        else:
            column.append((job.tag, first, stop))
    out = {}
    for iv, phases in at.items():
        known = cache.layers.get(iv)
        if known is None or known[0] != phases:
            known = cache.layers[iv] = (phases, _Layer(iv, phases))
        out[iv] = known[1]
    return out


_first = operator.itemgetter(0)  # a member's tag


def _phase(entry: _Entry) -> int:
    return entry[0]


def _phase_layer(entry: _Entry) -> tuple[int, int]:
    return entry[0], entry[1]


def _collisions(
    layers: dict[int, _Layer], lo: int, hi: int, collide: int, cache: _Cache, dupes: bool
) -> tuple[tuple[Collision, ...], bool]:
    """:func:`collisions` of the jobs that start in ``[lo, hi)``, by interval; ``dupes``: some
    share a tag."""
    intervals = sorted(layers)
    size = {iv: layers[iv].size for iv in intervals}
    budget = EXPANSION_BUDGET
    complete = True
    found: list[Collision] = []
    for period in intervals:
        chosen = [(period, 1)]  # natives have this interval; the others divide it
        for iv in intervals:
            if iv >= period or period % iv or iv <= 2 * collide:
                continue
            ratio = period // iv
            if ratio * size[iv] > budget:
                complete = False
                continue
            budget -= ratio * size[iv]
            chosen.append((iv, ratio))
        if sum(size[iv] * ratio for iv, ratio in chosen) < 2:
            continue
        circle = [(layers[iv], ratio) for iv, ratio in chosen]
        for entries in _groups(circle, period, collide, lo, hi):
            group = _meetings(entries, period, cache, dupes)
            if group is not None:
                found.append(group)
    found.sort(key=lambda c: (-c.size, c.first, c.tags))
    return tuple(found), complete


def _next(phases: list[int], period: int, t: int) -> int:
    """The first point at or after ``t`` of ``phases`` (sorted, in ``[0, period)``) repeated
    every ``period``; :data:`_NEVER` when there is none."""
    if not phases:
        return _NEVER
    r = t % period
    i = bisect.bisect_left(phases, r)
    return t - r + (phases[i] if i < len(phases) else period + phases[0])


def _cut(dense: list[int], every: int, ratio: int, others: list[int], period: int) -> int:
    """Where the circle's points are cut: the point just after its largest gap.

    The circle holds ``dense`` (sorted phases in ``[0, every)``) repeated ``ratio`` times and the
    points ``others`` (sorted, in ``[0, period)``). Of several largest gaps the first counts,
    the one that wraps around last (the point after it is then the first point). The dense
    points are never listed: the others fall into a few of their gaps and split those; the
    rest keep their length, the same in every repetition.
    """
    n = len(dense)
    lengths = [b - a for a, b in itertools.pairwise(dense)] + [dense[0] + every - dense[-1]]
    split: dict[tuple[int, int], list[int]] = defaultdict(list)  # (gap k, repetition m)
    for o in others:
        m, r = divmod(o, every)
        i = bisect.bisect_left(dense, r)
        if i < n and dense[i] == r:
            continue  # on a dense point: no gap split
        k = i - 1
        if k < 0:  # before the first dense point: in the gap from the last one before
            k, m = n - 1, m - 1
            if m < 0:
                m, o = ratio - 1, o + period
        split[(k, m)].append(o)
    best, where = -1, 0  # the largest gap and where it starts (its lower point, mod period)
    for (k, m), inside in split.items():
        previous = dense[k] + m * every
        for point in [*sorted(inside), previous + lengths[k]]:
            gap, at = point - previous, previous % period
            if gap > best or (gap == best and at < where):
                best, where = gap, at
            previous = point
    for k in range(n):
        if lengths[k] < best:
            continue
        m = 0
        while m < ratio and (k, m) in split:
            m += 1
        at = dense[k] + m * every
        if m < ratio and (lengths[k] > best or at < where):
            best, where = lengths[k], at
    return (where + best) % period


def _groups(
    layers: list[tuple[_Layer, int]],
    period: int,
    collide: int,
    lo: int,
    hi: int,
) -> Iterator[list[_Entry]]:
    """The entries of each greedy group on a circle that holds two or more and a native.

    The circle is cut at its largest gap (:func:`_cut`) and grouped greedily from there: a
    group holds the points less than ``collide`` after its first, the next group starts at the
    first point after that. The walk jumps from group to group by bisection, in the densest
    layer (periodic) and in a list of the other layers' points: a 2-minute job on a weekly
    circle is 5,040 points, but the walk costs as many steps as there are groups. A group
    none of whose phases comes round inside the window ``[lo, hi)`` is passed over: none of
    its members starts there (:func:`_meetings` would find no slot). Points come in the order
    a stable sort of every point by (phase, tag), natives first, gives; phases after the
    cut's wrap-around come back unwrapped (plus ``period``).
    """
    sizes = [len(layer.phases) * ratio for layer, ratio in layers]
    d = sizes.index(max(sizes))
    dense = layers[d][0]
    others: list[_Entry] = []
    for n, (layer, ratio) in enumerate(layers):
        if n != d:
            for m in range(ratio):
                offset = m * layer.intervals
                others += zip(
                    [ph + offset for ph in layer.phases], itertools.repeat(n), layer.members
                )
    others.sort(key=_phase)  # stable: at one phase, the layers in order
    phases = [entry[0] for entry in others]
    natives = dense.phases if d == 0 else [entry[0] for entry in others if entry[1] == 0]
    start = _cut(dense.phases, dense.intervals, layers[d][1], phases, period)
    end = start + period
    # Under a millisecond apart (never from the command line): each phase of a layer alone.
    step = collide if collide > 0 else 1
    window = hi - lo
    every, where, count = dense.intervals, dense.phases, len(dense.phases)
    # The next native and the next other point at or after where the walk is: both only
    # move on when the walk passes them.
    native = _next(natives, period, start)
    other = _next(phases, period, start)
    s = start
    while s < end:
        until = s + step
        if until > end:
            until = end
        if native < s:
            native = _next(natives, period, s)
        if native < until:
            u = (s - lo) % period  # the window's first time at phase s is lo + u
            if window >= period or u < window or u + until - s > period:
                entries = _between(dense, d, others, phases, period, s, until)
                if collide <= 0:
                    entries = [e for e in entries if e[1] == 0]
                if len(entries) > 1 or len(entries[0][2]) > 1:
                    yield entries
        later = s + step
        if other < later:
            other = _next(phases, period, later)
        r = later % every  # the next dense point at or after later (_next, inline)
        i = bisect.bisect_left(where, r)
        s = later - r + (where[i] if i < count else every + where[0])
        if other < s:
            s = other


def _between(
    dense: _Layer,
    d: int,
    others: list[_Entry],
    phases: list[int],
    period: int,
    lo: int,
    hi: int,
) -> list[_Entry]:
    """The entries with a phase in ``[lo, hi)`` (``hi - lo <= period``), by (phase, layer)."""
    out: list[_Entry] = [
        (at, d, dense.members[i]) for at, i in _walk(dense.phases, dense.intervals, lo, hi)
    ]
    if phases:
        for at, i in _walk(phases, period, lo, hi):
            _, layer, members = others[i]
            out.append((at, layer, members))
        out.sort(key=_phase_layer)
    return out


def _walk(phases: list[int], period: int, lo: int, hi: int) -> Iterator[tuple[int, int]]:
    """``(time, index)`` of each phase of a circle of ``period`` (``phases`` sorted, not
    empty) at a time in ``[lo, hi)``, in time order, round the circle as often as it takes."""
    r = lo % period
    base, i = lo - r, bisect.bisect_left(phases, r)
    while True:
        if i == len(phases):
            base, i = base + period, 0
        if base + phases[i] >= hi:
            return
        yield base + phases[i], i
        i += 1


class _Count:
    """Two or more members at one phase, tallied: their tags in order and their distinct
    windows, ``(first, stop, how many have it)``. Jobs that start together mostly share their
    runs in the window too (a team's jobs, a few run counts): a group's slots are counted per
    window, not per member.

    ``parts`` are the member tuples (sorted by tag) of the layers that meet at the phase; the
    members are in the order of a stable sort of them all by tag, made only when a group needs
    them (most take all the tags or none).
    """

    __slots__ = ("_index", "_members", "parts", "spans", "tags")

    def __init__(
        self,
        parts: tuple[tuple[_Member, ...], ...],
        tags: tuple[str, ...],
        spans: list[tuple[int, int, int]],
    ) -> None:
        self.parts, self.tags, self.spans = parts, tags, spans
        self._members = parts[0] if len(parts) == 1 else None
        self._index: list[int] | None = None

    def members(self) -> tuple[_Member, ...]:
        if self._members is None:
            self._members = tuple(sorted(itertools.chain(*self.parts), key=_first))
        return self._members

    def some(self, chosen: list[bool]) -> Iterator[str]:
        """The tags of the members whose window is one of the ``chosen`` spans, in order."""
        if self._index is None:
            number = {(first, stop): k for k, (first, stop, _) in enumerate(self.spans)}
            self._index = list(map(number.__getitem__, map(_window, self.members())))
        return itertools.compress(self.tags, map(chosen.__getitem__, self._index))


_window = operator.itemgetter(1, 2)  # a member's (first, stop)


class _Cache:
    """What the figures of one window work out once, for one set of jobs or for a plan's
    before and after: the layers (with the phases they were made from), and the counts of the
    member tuples of two or more, by the tuple's id (or the ids of those merged at one phase).
    The cache holds every tuple it has an id of, so an id cannot come back as another's."""

    __slots__ = ("counts", "layers", "merged")

    def __init__(self) -> None:
        self.layers: dict[int, tuple[dict[int, list[_Member]], _Layer]] = {}
        self.counts: dict[int, _Count] = {}
        self.merged: dict[tuple[int, ...], _Count] = {}

    def count(self, members: tuple[_Member, ...]) -> _Count:
        known = self.counts.get(id(members))
        if known is None:
            spans = [(f, s, n) for (f, s), n in Counter(map(_window, members)).items()]
            known = self.counts[id(members)] = _Count(
                (members,), tuple(map(_first, members)), spans
            )
        return known

    def merge(self, parts: tuple[tuple[_Member, ...], ...]) -> _Count:
        """The members of ``parts`` (each sorted by tag) at one phase, counted."""
        key = tuple(map(id, parts))
        known = self.merged.get(key)
        if known is None:
            weights: dict[tuple[int, int], int] = defaultdict(int)
            tags: list[str] = []
            for part in parts:
                counted = self.count(part)
                tags += counted.tags
                for first, stop, n in counted.spans:
                    weights[first, stop] += n
            # Sorting the tags alone gives the order of the members' stable sort by tag.
            spans = [(f, s, n) for (f, s), n in weights.items()]
            known = self.merged[key] = _Count(parts, tuple(sorted(tags)), spans)
        return known


def _merge(entries: list[_Entry], cache: _Cache) -> list[tuple[int, _Column]]:
    """``entries`` (by phase, then layer) as columns, those at one phase made one."""
    out: list[tuple[int, _Column]] = []
    for ph, column in itertools.groupby(entries, key=_phase):
        here = list(column)
        out.append((ph, here[0][2] if len(here) == 1 else cache.merge(tuple(e[2] for e in here))))
    return out


_Column = tuple[_Member, ...] | _Count  # the members at one phase, as they come or counted


def _first_of_each(members: tuple[_Member, ...], seen: set[str]) -> tuple[_Member, ...]:
    """``members`` without those whose tag is in ``seen``, which gets the others' tags."""
    kept = []
    for member in members:
        if member[0] not in seen:
            seen.add(member[0])
            kept.append(member)
    return members if len(kept) == len(members) else tuple(kept)


def _meetings(entries: list[_Entry], period: int, cache: _Cache, dupes: bool) -> Collision | None:
    """How often two or more of one group's jobs start in the same period of the window.

    ``entries`` are the group's points by phase, then layer; the members of several layers at
    one phase are taken in the order of a stable sort by tag, which makes the group's (phase,
    tag) order. Slot ``m`` of a member at phase ``ph`` is the time ``ph + m * period``; its runs
    in the window reach slots ``[m_lo, m_hi)``, the same for all members at one phase with the
    same first and last start, and a member with none meets nobody. The phases of one group are
    less than a period apart, so slot ``m`` is one period for all of them. ``dupes``: some jobs
    share a tag (live duplicates), of which the first in the group counts; a job cannot be
    twice in one group (its interval > collide).
    """
    columns: Iterable[tuple[int, _Column]]
    if len({e[0] for e in entries}) < len(entries):
        columns = _merge(entries, cache)
    else:
        columns = [(ph, members) for ph, _, members in entries]
    # The phases that have starts in the window: for one member (phase, tag, m_lo, m_hi); for
    # more, (phase, their count, and (m_lo, m_hi, which) of each of its windows with starts).
    rows: list[tuple[int, str, int, int] | tuple[int, _Count, list[tuple[int, int, int]]]]
    rows = []
    begin: list[int] = []  # a member's m_lo, once per member with one
    end: list[int] = []
    weights: dict[int, int] = defaultdict(int)  # +n at the m_lo, -n at the m_hi of n members
    seen: set[str] = set()
    for ph, column in columns:
        if dupes:
            members = _first_of_each(
                column.members() if isinstance(column, _Count) else column, seen
            )
            if not members:
                continue
            counted = cache.count(members) if len(members) > 1 else None
        elif isinstance(column, _Count):
            members, counted = (), column
        else:
            members = column
            counted = cache.count(members) if len(members) > 1 else None
        if counted is None:
            tag, first, stop = members[0]
            lo, hi = -((ph - first) // period), -((ph - stop) // period)
            if lo < hi:
                begin.append(lo)
                end.append(hi)
                rows.append((ph, tag, lo, hi))
            continue
        slots = []
        for k, (first, stop, n) in enumerate(counted.spans):
            lo, hi = -((ph - first) // period), -((ph - stop) // period)
            if lo < hi:
                weights[lo] += n
                weights[hi] -= n
                slots.append((lo, hi, k))
        if slots:
            rows.append((ph, counted, slots))
    for m, n in Counter(begin).items():
        weights[m] += n
    for m, n in Counter(end).items():
        weights[m] -= n
    # The stretches of slots where two or more start, sorted, apart.
    busy: list[list[int]] = []
    active = 0
    marks = sorted(weights.items())
    for (m, n), (nxt, _) in itertools.pairwise(marks):
        active += n
        if active >= 2:
            if busy and busy[-1][1] == m:
                busy[-1][1] = nxt
            else:
                busy.append([m, nxt])
    if not busy:
        return None
    occurrences = sum(b - a for a, b in busy)
    # The members that start in a stretch, in (phase, tag) order, which is the group's
    # (offset, tag) order. Of several stretches, a member meets one iff the first ending
    # after its first slot starts before its last (a search, not a scan of every stretch).
    x, y = busy[0]
    one = len(busy) == 1
    ends = [b for _, b in busy]
    ordered: list[str] = []
    first_phase = last_phase = at = None  # at: the first phase with a start in slot x
    for row in rows:
        ph = row[0]
        if len(row) == 4:
            _, tag, a, b = row
            if not (a < y and x < b if one else _meets(busy, ends, a, b)):
                continue
            ordered.append(tag)
            if at is None and a <= x < b:
                at = ph
        else:
            _, counted, slots = row
            spans = counted.spans
            if one:
                meet = [k for a, b, k in slots if a < y and x < b]
            else:
                meet = [k for a, b, k in slots if _meets(busy, ends, a, b)]
            if not meet:
                continue
            if len(meet) == len(spans):
                ordered += counted.tags
            else:
                chosen = [False] * len(spans)
                for k in meet:
                    chosen[k] = True
                ordered += counted.some(chosen)
            if at is None and any(a <= x < b for a, b, _ in slots):
                at = ph
        if first_phase is None:
            first_phase = ph
        last_phase = ph
    assert at is not None and first_phase is not None and last_phase is not None
    return Collision(tuple(ordered), period, x * period + at, last_phase - first_phase, occurrences)


def _meets(busy: list[list[int]], ends: list[int], a: int, b: int) -> bool:
    """Whether slots ``[a, b)`` reach a busy stretch: the first ending after ``a`` starts
    before ``b``."""
    k = bisect.bisect_right(ends, a)
    return k < len(busy) and busy[k][0] < b


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
    """Both job sets' figures over ``[now, now + window)``, and the groups the change creates.

    The figures are those :func:`figures` gives each set; the after ones' per-minute starts
    are the before ones' less the runs of the schedules the change takes away, plus those of
    the ones it brings (a plan keeps most jobs as they are: counting them again is waste). For
    the same reason the two share the layers of the intervals whose jobs the change leaves as
    they were, and what was counted of them (:class:`_Cache`).
    """
    if before_jobs is None:
        return Impact(figures(after_jobs, now, window, collide))
    end = now + window
    with paused():
        spans = _spans(before_jobs, now, end)
        base, counts = _minute_counts(spans[0], now, end)
        cache = _Cache()  # the layers the change leaves as they were are made once
        before = _figures(before_jobs, spans, now, end, collide, base, counts, cache)
        after_counts = _moved(counts, before_jobs, after_jobs, now, end)
        after_spans = _spans(after_jobs, now, end)
        after = _figures(after_jobs, after_spans, now, end, collide, base, after_counts, cache)
        return Impact(after, before, _created(before.collisions, after.collisions))


_timing = operator.attrgetter("start_at", "intervals", "executions")  # what minute_counts reads


def _moved(
    counts: list[int], before: Sequence[Job], after: Sequence[Job], lo: int, hi: int
) -> list[int]:
    """The per-minute starts of ``after``, from ``counts``, those of ``before``: less the runs
    of the schedules only ``before`` has, plus those of the ones only ``after`` has (as
    multisets: two jobs on one schedule are two)."""
    had, has = list(map(_timing, before)), list(map(_timing, after))
    was, now = Counter(had), Counter(has)
    if was == now:
        return counts
    differ = {t for t, _ in was.items() ^ now.items()}  # schedules whose number changed
    gone: list[Job] = []
    came: list[Job] = []
    for jobs, timings, more, fewer, out in (
        (before, had, was, now, gone),
        (after, has, now, was, came),
    ):
        for job, t in zip(jobs, timings, strict=True):
            if t in differ and more[t] > fewer[t]:
                out.append(job)
                more[t] -= 1
    _, less = minute_counts(gone, lo, hi)
    _, plus = minute_counts(came, lo, hi)
    return [c - a + b for c, a, b in zip(counts, less, plus, strict=True)]


def _created(before: Sequence[Collision], after: Sequence[Collision]) -> tuple[Collision, ...]:
    """The groups of ``after`` whose tags are in no one group of ``before``."""
    # A group that holds all of a group's tags holds its first one: only those are compared,
    # so only the groups of before holding a first tag of after are filed under it.
    firsts = {group.tags[0] for group in after}
    holding: dict[str, list[frozenset[str]]] = defaultdict(list)
    for group in before:
        old = frozenset(group.tags)
        for tag in old & firsts:
            holding[tag].append(old)
    out = []
    for group in after:
        olds = holding.get(group.tags[0])
        if olds:
            tags = frozenset(group.tags)
            if any(tags <= old for old in olds):
                continue
        out.append(group)
    return tuple(out)


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
    import hashlib  # only the spread hashes: a plan that shows a schedule loads no OpenSSL

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
