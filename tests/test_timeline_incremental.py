"""The fast collision search and the incremental impact equal the straightforward method.

``timeline_reference`` holds the method the timeline used before: every point of every
circle generated and walked, and a plan's before and after figures each computed whole. The
fast one jumps between group starts, passes over groups outside the window and derives the
after figures' minutes from the before ones; on any job set and change both must give the
same groups, figures and created groups, field for field.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
import timeline_reference as reference
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler import timeline
from reconciler.model import EventType, Job
from reconciler.timeline import DAY, HOUR, MINUTE, WEEK

T0 = 1_796_083_200_000  # 2026-12-01T00:00:00Z

# Intervals that divide one another (the circles' layers: 15 min into an hour into a day into
# a week), ones at and under twice the collision window, and some that divide nothing.
INTERVALS = st.one_of(
    st.sampled_from(
        [
            30_000,
            90_000,
            2 * MINUTE,
            5 * MINUTE,
            15 * MINUTE,
            HOUR,
            90 * MINUTE,
            2 * HOUR,
            3 * HOUR,
            DAY,
            2 * DAY,
            WEEK,
        ]
    ),
    st.integers(1_000, 3 * DAY),
)
# Start offsets that pile up (on the hour, a second or a minute apart) and ones anywhere.
OFFSETS = st.one_of(
    st.sampled_from([0, 1_000, 30_000, 59_999, 60_000, 61_000, 2 * HOUR, 2 * HOUR + 500]),
    st.integers(-3 * DAY, 3 * DAY),
)
SPEC = st.tuples(INTERVALS, OFFSETS, st.sampled_from([0, 0, 1, 2, 5, 30]), st.integers(0, 40))
WINDOWS = st.sampled_from([HOUR, DAY, 2 * DAY, WEEK]) | st.integers(1, 3 * DAY)
COLLIDES = st.sampled_from([MINUTE, MINUTE, 1_000, 5 * MINUTE])


def job(tag: str, intervals: int, start_at: int, executions: int = 0, name: str = "") -> Job:
    return Job(tag, name or tag.upper(), EventType.FUNCTION, "f", executions, intervals, start_at)


def jobs_of(specs: list[tuple[int, int, int, int]]) -> list[Job]:
    # Tags repeat now and then (a live product may hold duplicates).
    return [job(f"j{tag:02d}", iv, T0 + off, ex) for iv, off, ex, tag in specs]


def quick(test: Callable[..., None], *strategies: st.SearchStrategy[Any]) -> Callable[..., None]:
    """A property for the fast loop: few examples, under a second."""
    return settings(max_examples=12, deadline=None)(given(*strategies)(test))


def thorough(test: Callable[..., None], *strategies: st.SearchStrategy[Any]) -> Callable[..., None]:
    """The same property over many more examples, for the full suite."""
    return pytest.mark.slow(settings(max_examples=800, deadline=None)(given(*strategies)(test)))


def collisions_equal_walking_every_point(
    specs: list[tuple[int, int, int, int]], shift: int, window: int, collide: int, budget: int
) -> None:
    jobs = jobs_of(specs)
    lo, hi = T0 + shift, T0 + shift + window
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timeline, "EXPANSION_BUDGET", budget)
        fast = timeline.collisions(jobs, lo, hi, collide)
        slow = reference.collisions(jobs, lo, hi, collide)
    assert fast == slow


COLLISION_CASES = (
    st.lists(SPEC, max_size=30),
    st.integers(-DAY, 2 * DAY),
    WINDOWS,
    COLLIDES,
    st.sampled_from([timeline.EXPANSION_BUDGET, 0, 40, 400]),
)
test_collisions_equal_walking_every_point = quick(
    collisions_equal_walking_every_point, *COLLISION_CASES
)
test_collisions_equal_walking_every_point_thoroughly = thorough(
    collisions_equal_walking_every_point, *COLLISION_CASES
)


def figures_equal_the_reference(
    specs: list[tuple[int, int, int, int]], shift: int, window: int, collide: int
) -> None:
    jobs = jobs_of(specs)
    assert timeline.figures(jobs, T0 + shift, window, collide) == reference.figures(
        jobs, T0 + shift, window, collide
    )


FIGURE_CASES = (st.lists(SPEC, max_size=30), st.integers(-DAY, 2 * DAY), WINDOWS, COLLIDES)
test_figures_equal_the_reference = quick(figures_equal_the_reference, *FIGURE_CASES)
test_figures_equal_the_reference_thoroughly = thorough(figures_equal_the_reference, *FIGURE_CASES)


# One change to one job of a plan: where it starts, how often, how many times, its name (shown
# in the figures of frequent jobs), or the job appears or goes.
CHANGES = st.sampled_from(["same", "start", "interval", "executions", "name", "new", "gone"])


def incremental_impact_equals_computing_both_sides_whole(
    specs: list[tuple[tuple[int, int, int, int], str, int, int]],
    shift: int,
    window: int,
    collide: int,
) -> None:
    before: list[Job] = []
    after: list[Job] = []
    for n, ((iv, off, ex, _), change, other_iv, other_off) in enumerate(specs):
        live = job(f"j{n:02d}", iv, T0 + off, ex)
        want = {
            "same": live,
            "start": job(live.tag, iv, T0 + other_off, ex),
            "interval": job(live.tag, other_iv, live.start_at, ex),
            "executions": job(live.tag, iv, live.start_at, (ex + 3) % 7),
            "name": job(live.tag, iv, live.start_at, ex, name="renamed"),
            "new": job(live.tag, other_iv, T0 + other_off, ex),
            "gone": None,
        }[change]
        if change != "new":
            before.append(live)
        if want is not None:
            after.append(want)
    now = T0 + shift
    fast = timeline.impact(before, after, now, collide, window)
    assert fast == reference.impact(before, after, now, collide, window)
    assert timeline.impact(None, after, now, collide, window) == reference.impact(
        None, after, now, collide, window
    )


IMPACT_CASES = (
    st.lists(st.tuples(SPEC, CHANGES, INTERVALS, OFFSETS), max_size=30),
    st.integers(0, 2 * DAY),
    st.sampled_from([DAY, DAY, 2 * DAY]),
    COLLIDES,
)
test_the_incremental_impact_equals_computing_both_sides_whole = quick(
    incremental_impact_equals_computing_both_sides_whole, *IMPACT_CASES
)
test_the_incremental_impact_equals_computing_both_sides_whole_thoroughly = thorough(
    incremental_impact_equals_computing_both_sides_whole, *IMPACT_CASES
)


def test_a_plan_of_hundreds_equals_the_reference() -> None:
    # Hourly, 90-minute, daily, weekly and quarter-hourly jobs a second apart or on one minute
    # (the benchmark's shape), one in ten changed live (its interval doubled, or its start moved
    # away): dense circles whose groups touch, on a window of one day.
    def spec(i: int, moved: bool) -> Job:
        iv = (HOUR, 90 * MINUTE, DAY, WEEK, 15 * MINUTE)[i % 5]
        start = T0 + 2 * HOUR if i % 3 == 0 else T0 + i * 1_000
        if moved and i % 20:
            iv *= 2
        elif moved:
            start += 37 * MINUTE + i * 7_000
        return job(f"j{i:04d}", iv, start, i % 25)

    before = [spec(i, i % 10 == 0) for i in range(400)]
    after = [spec(i, False) for i in range(400)]
    fast = timeline.impact(before, after, T0)
    assert fast.created  # groups the change makes, for the comparison to mean something
    assert fast == reference.impact(before, after, T0)


def brute_cut(dense: list[int], every: int, ratio: int, others: list[int], period: int) -> int:
    """The phase after the first largest gap, every point listed (the wrap-around gap last)."""
    points = sorted([ph + m * every for m in range(ratio) for ph in dense] + others)
    gaps = [b - a for a, b in itertools.pairwise(points)]
    wrap = points[0] + period - points[-1]
    widest = max(gaps, default=-1)
    if wrap > widest:
        return points[0]
    return points[gaps.index(widest) + 1]


def the_cut_is_after_the_first_largest_gap(dense: list[int], ratio: int, others: list[int]) -> None:
    every = 1_000
    period = every * ratio
    others = sorted(o % period for o in others)
    assert timeline._cut(sorted(dense), every, ratio, others, period) == brute_cut(
        sorted(dense), every, ratio, others, period
    )


# Phases on a coarse grid, so that gaps of one length, which the cut must tell apart by their
# place, are common.
GRID = st.integers(0, 199).map(lambda n: n * 5)
CUT_CASES = (
    st.lists(GRID, min_size=1, max_size=12, unique=True),
    st.integers(1, 6),
    st.lists(st.integers(0, 1_199).map(lambda n: n * 5), max_size=12),
)
test_the_cut_is_after_the_first_largest_gap = settings(max_examples=80, deadline=None)(
    given(*CUT_CASES)(the_cut_is_after_the_first_largest_gap)
)


def test_a_group_that_starts_just_before_the_window_is_still_seen() -> None:
    # On the two-day circle, an hourly job's point at 11:59:30 starts the group that holds two
    # two-day jobs at 12:00:10 and 12:00:20 (and has no run of its own there). The window opens
    # at 12:00: the group's first phase comes round inside it only after the window's end, its
    # others at once, so the group must not be passed over.
    jobs = [
        job("a", 2 * DAY, T0 + 12 * HOUR + 10_000),
        job("b", 2 * DAY, T0 + 12 * HOUR + 20_000),
        job("c", HOUR, T0 + 12 * HOUR - 30_000),
    ]
    lo = T0 + 12 * HOUR
    groups, _ = timeline.collisions(jobs, lo, lo + DAY)
    assert [g.tags for g in groups if g.period == 2 * DAY] == [("a", "b")]
    assert (groups, True) == reference.collisions(jobs, lo, lo + DAY)


@pytest.mark.parametrize(
    ("dense", "every", "ratio", "others"),
    [
        ([0], 1_000, 1, [200, 400, 600, 800]),  # equal gaps, all inside one dense gap
        ([0, 500], 1_000, 2, [250, 1_250]),  # equal gaps in two repetitions
        ([100], 1_000, 3, [50, 1_050, 2_050]),  # the others before the first dense point
        ([0], 1_000, 1, []),  # one point: the whole circle is its gap
    ],
)
def test_the_cut_takes_the_first_of_equal_gaps(
    dense: list[int], every: int, ratio: int, others: list[int]
) -> None:
    period = every * ratio
    assert timeline._cut(dense, every, ratio, others, period) == brute_cut(
        dense, every, ratio, others, period
    )


def test_a_tag_held_twice_counts_once_in_a_group() -> None:
    # Live duplicates: two jobs with one tag. In a group the first of them counts, the second
    # is not a second job: alone the two meet nobody; with a third, the group is two tags.
    # Once on one layer at one phase, once on two layers (daily, and hourly on its circle).
    cases = {
        "same phase": [job("a", DAY, T0 + 2 * HOUR), job("a", DAY, T0 + 2 * HOUR)],
        "two layers": [job("a", DAY, T0 + 2 * HOUR), job("a", HOUR, T0 + 2 * HOUR + 10_000)],
    }
    for name, pair in cases.items():
        assert timeline.collisions(pair, T0, T0 + DAY) == ((), True), name
        three = [*pair, job("b", DAY, T0 + 2 * HOUR + 20_000)]
        groups, _ = timeline.collisions(three, T0, T0 + DAY)
        assert [g.tags for g in groups] == [("a", "b")], name
        assert (groups, True) == reference.collisions(three, T0, T0 + DAY), name


def test_a_group_first_meets_when_its_first_two_start_together() -> None:
    # Two hourly jobs at one phase (:00) with different windows: p runs at 00:00 and 01:00
    # only, q from 10:00. r and s (:00:20, :00:40, from 05:00) first meet at 05:00, when
    # neither p nor q runs: the group's first meeting is r's start then, not the :00 phase.
    jobs = [
        job("p", HOUR, T0, 2),
        job("q", HOUR, T0 + 10 * HOUR),
        job("r", HOUR, T0 + 5 * HOUR + 20_000),
        job("s", HOUR, T0 + 5 * HOUR + 40_000),
    ]
    groups, complete = timeline.collisions(jobs, T0, T0 + DAY)
    assert [(g.tags, g.first, g.occurrences) for g in groups] == [
        (("q", "r", "s"), T0 + 5 * HOUR + 20_000, 19)
    ]
    assert (groups, complete) == reference.collisions(jobs, T0, T0 + DAY)


def test_a_member_between_two_meetings_of_its_group_meets_neither() -> None:
    # One group on the hourly circle that meets twice: r and s from 00:00 (three runs each),
    # t, u and w from 10:00. p runs at 03:00 and 04:00 only, between the two, alone: not in
    # the group. t and u share a phase (:00:45) and differ in their number of runs.
    jobs = [
        job("p", HOUR, T0 + 3 * HOUR + 10_000, 2),
        job("r", HOUR, T0 + 20_000, 3),
        job("s", HOUR, T0 + 40_000, 3),
        job("t", HOUR, T0 + 10 * HOUR + 45_000, 3),
        job("u", HOUR, T0 + 10 * HOUR + 45_000, 4),
        job("w", HOUR, T0 + 10 * HOUR + 50_000, 3),
    ]
    groups, complete = timeline.collisions(jobs, T0, T0 + DAY)
    assert [(g.tags, g.first, g.occurrences) for g in groups] == [
        (("r", "s", "t", "u", "w"), T0 + 20_000, 6)
    ]
    assert (groups, complete) == reference.collisions(jobs, T0, T0 + DAY)


def test_a_phase_two_layers_share_is_in_tag_order_with_only_those_that_run() -> None:
    # At 02:00 on the daily circle: the daily c and e, and the hourly a and d, merged by tag.
    # a ran at 00:00 and 01:00 only (no start at 02:00 in the window): not in the group.
    jobs = [
        job("c", DAY, T0 + 2 * HOUR),
        job("e", DAY, T0 + 2 * HOUR),
        job("a", HOUR, T0, 2),
        job("d", HOUR, T0 + 2 * HOUR),
    ]
    groups, complete = timeline.collisions(jobs, T0, T0 + DAY)
    assert [(g.tags, g.period) for g in groups] == [(("c", "d", "e"), DAY)]
    assert (groups, complete) == reference.collisions(jobs, T0, T0 + DAY)
