"""Today's collision search and impact, kept verbatim as the oracle the fast ones must equal.

``reconciler.timeline`` finds collision groups by jumping between group starts and computes a
plan's "after" figures from its "before" ones; this module is the straightforward method it
replaced (every point of every circle generated and walked, both figures computed whole), so
the property tests in ``test_timeline_incremental.py`` can hold the two byte for byte equal.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections import defaultdict
from collections.abc import Iterator, Sequence

from reconciler import timeline
from reconciler.model import Job
from reconciler.timeline import (
    MINUTE,
    TOP_MINUTES,
    BusyMinute,
    Collision,
    Figures,
    Frequent,
    Impact,
    _ceil_div,
    _grid,
    _quiet,
    minute_counts,
    run_time,
    runs,
)

# --- collisions -------------------------------------------------------------------------------


def collisions(
    jobs: Sequence[Job], lo: int, hi: int, collide: int = timeline.DEFAULT_COLLIDE
) -> tuple[tuple[Collision, ...], bool]:
    """Collision groups of ``jobs`` in ``[lo, hi)``, and whether every circle was complete.

    See the module docstring for the method and its limits.
    """
    by_interval: dict[int, list[Job]] = defaultdict(list)
    for job in jobs:
        if runs(job, lo, hi):
            by_interval[job.intervals].append(job)
    intervals = sorted(by_interval)
    budget = timeline.EXPANSION_BUDGET
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


def _busiest(
    jobs: Sequence[Job], base: int, counts: list[int], lo: int, hi: int
) -> tuple[BusyMinute, ...]:
    top = heapq.nlargest(TOP_MINUTES, range(len(counts)), key=counts.__getitem__)
    out = []
    for i in top:
        if not counts[i]:
            break
        a, b = max(lo, base + i * MINUTE), min(hi, base + (i + 1) * MINUTE)
        tags = tuple(sorted(j.tag for j in jobs if runs(j, a, b)))
        out.append(BusyMinute(base + i * MINUTE, counts[i], tags))
    return tuple(out)


def figures(
    jobs: Sequence[Job],
    start: int,
    window: int = timeline.DEFAULT_WINDOW,
    collide: int = timeline.DEFAULT_COLLIDE,
) -> Figures:
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
            if j.intervals < timeline.MINUTE
        ),
    )


def impact(
    before_jobs: Sequence[Job] | None,
    after_jobs: Sequence[Job],
    now: int,
    collide: int = timeline.DEFAULT_COLLIDE,
    window: int = timeline.DAY,
) -> Impact:
    after = figures(after_jobs, now, window, collide)
    if before_jobs is None:
        return Impact(after)
    before = figures(before_jobs, now, window, collide)
    old = [frozenset(g.tags) for g in before.collisions]
    created = tuple(g for g in after.collisions if not any(set(g.tags) <= o for o in old))
    return Impact(after, before, created)
