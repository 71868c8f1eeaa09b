"""The timeline: its arithmetic against listing every run, collisions, spread, and the pictures."""

from __future__ import annotations

import io
import json
import random
import re
import tracemalloc
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import replace
from pathlib import Path

import cairosvg
import cmarkgfm
import jsonschema
import pytest
import timeline_reference as reference
from cmarkgfm.cmark import Options as CmarkOptions
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler import timeline
from reconciler.model import EventType, Job
from reconciler.render import timeline as render
from reconciler.timeline import (
    DAY,
    HOUR,
    MINUTE,
    Collision,
    Impact,
    figures,
    impact,
    minute_counts,
    parse_between,
    run_time,
    runs,
    spread,
)

SCHEMA = Path(__file__).parent.parent / "schemas" / "schedule-report.schema.json"
T0 = 1_796_083_200_000  # 2026-12-01T00:00:00Z


def job(tag: str, intervals: int, start_at: int, executions: int = 0) -> Job:
    return Job(tag, tag.upper(), EventType.FUNCTION, "f", executions, intervals, start_at)


def listed(j: Job, lo: int, hi: int) -> list[int]:
    """Every run in [lo, hi), by walking from k = 0: the brute force the arithmetic must equal."""
    out, k = [], 0
    while not j.executions or k < j.executions:
        t = j.start_at + k * j.intervals
        if t >= hi:
            break
        if t >= lo:
            out.append(t)
        k += 1
    return out


# Intervals that exercise every branch of minute_counts: divisors of a minute (p == 1), near
# a minute, coprime with it, multiples of it, and long ones.
INTERVALS = st.one_of(
    st.sampled_from([1_000, 7_000, 15_000, 45_000, 59_999, 60_000, 61_000, 90_000, HOUR, DAY]),
    st.integers(min_value=5_000, max_value=3 * HOUR),
)
JOBS = st.lists(
    st.tuples(INTERVALS, st.integers(-2 * HOUR, 8 * HOUR), st.integers(0, 40)),
    min_size=0,
    max_size=8,
)


def make(specs: list[tuple[int, int, int]]) -> list[Job]:
    return [job(f"j{i}", iv, T0 + off, ex) for i, (iv, off, ex) in enumerate(specs)]


@settings(max_examples=150, deadline=None)
@given(JOBS, st.integers(0, 59_999), st.integers(1, 6 * HOUR))
@pytest.mark.slow
def test_minute_counts_equal_listing_every_run(
    specs: list[tuple[int, int, int]], shift: int, window: int
) -> None:
    jobs = make(specs)
    lo, hi = T0 + shift, T0 + shift + window
    base, counts = minute_counts(jobs, lo, hi)
    expected = Counter((t - base) // MINUTE for j in jobs for t in listed(j, lo, hi))
    assert {i: c for i, c in enumerate(counts) if c} == dict(expected)
    assert len(counts) == -(-(hi - base) // MINUTE)


@settings(max_examples=100, deadline=None)
@given(JOBS, st.integers(0, 3_599_999), st.integers(1, 30 * HOUR))
def test_figures_equal_listing_every_run(
    specs: list[tuple[int, int, int]], shift: int, window: int
) -> None:
    jobs = make(specs)
    lo, hi = T0 + shift, T0 + shift + window
    f = figures(jobs, lo, window)
    times = {j.tag: listed(j, lo, hi) for j in jobs}
    assert f.total_runs == sum(len(t) for t in times.values())
    assert f.active == sum(1 for t in times.values() if t)
    per_hour = Counter(t - t % HOUR for ts in times.values() for t in ts)
    grid = {row.day + h * HOUR: c for row in f.grid for h, c in enumerate(row.hours) if c}
    assert grid == dict(per_hour)
    per_minute = Counter(t - t % MINUTE for ts in times.values() for t in ts)
    peak = max(per_minute.values(), default=0)
    assert f.peak == peak
    for m in f.busiest:
        assert m.starts == per_minute[m.start]
        assert set(m.tags) == {
            tag for tag, ts in times.items() if any(m.start <= t < m.start + MINUTE for t in ts)
        }
    assert [m.starts for m in f.busiest] == sorted(per_minute.values(), reverse=True)[:5]
    assert {j.tag for j in f.frequent} == {
        j.tag for j in jobs if j.intervals < MINUTE and times[j.tag]
    }
    all_times = sorted(t for ts in times.values() for t in ts)
    for q in f.quiet:
        assert lo <= q.start < q.end <= hi
        assert not any(q.start <= t < q.end for t in all_times)
    if not all_times:
        assert [(q.start, q.end) for q in f.quiet] == [(lo, hi)]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([HOUR, DAY]), st.integers(0, DAY), st.integers(0, 5))),
    st.integers(0, DAY),
)
def test_every_collision_group_really_meets(specs: list[tuple[int, int, int]], shift: int) -> None:
    jobs = make(specs)
    lo, hi = T0 + shift, T0 + shift + 3 * DAY
    f = figures(jobs, lo, 3 * DAY)
    by_tag = {j.tag: j for j in jobs}
    for g in f.collisions:
        # At its first meeting, two or more members start in [first, first + span], all
        # less than collide apart.
        starts = [t for tag in g.tags for t in listed(by_tag[tag], g.first, g.first + g.span + 1)]
        assert len(starts) >= 2 and max(starts) - min(starts) < f.collide
        assert 1 <= g.occurrences <= (hi - lo) // g.period + 1


def test_the_model_is_anchored_at_start_at_and_shared_with_previews() -> None:
    j = job("a", HOUR, T0 + 5 * MINUTE, executions=3)
    assert list(runs(j, 0)) == [0, 1, 2]
    assert [run_time(j, k) for k in runs(j, T0 + HOUR)] == [
        T0 + HOUR + 5 * MINUTE,
        T0 + 2 * HOUR + 5 * MINUTE,
    ]
    assert list(runs(job("u", HOUR, T0), T0 + 1, T0 + 3 * HOUR + 1)) == [1, 2, 3]


@settings(max_examples=100, deadline=None)
@given(JOBS, st.data())
def test_the_spans_of_many_jobs_are_their_runs(
    specs: list[tuple[int, int, int]], data: st.DataObject
) -> None:
    # _spans writes out runs() and run_time() for a whole figure's jobs: it must say the same,
    # also where the window opens or closes on a run, a millisecond off, or anywhere.
    jobs = make(specs)
    on_a_run = [
        j.start_at + k * j.intervals + d for j in jobs for k in (-1, 0, 3) for d in (-1, 0, 1)
    ]
    edge = st.sampled_from(on_a_run) if on_a_run else st.nothing()
    lo, hi = sorted(data.draw(st.tuples(*[edge | st.integers(T0 - 3 * HOUR, T0 + 9 * HOUR)] * 2)))
    expected = [
        (j, run_time(j, r.start), run_time(j, r.stop - 1) + 1)
        for j in jobs
        if (r := runs(j, lo, hi))
    ]
    total = sum(len(runs(j, lo, hi)) for j in jobs)
    assert timeline._spans(jobs, lo, hi) == (expected, total)


def test_ten_thousand_jobs_every_minute_are_counted_not_listed() -> None:
    rng = random.Random(1)
    jobs = [job(f"j{i}", MINUTE, T0 - rng.randrange(DAY)) for i in range(2000)]
    f = figures(jobs, T0, 30 * DAY)
    assert f.total_runs == 2000 * 43_200
    assert f.peak == 2000 and f.busiest[0].start == T0
    # One group; the window's edges may cut one meeting in two (both halves have 2+ starts).
    assert len(f.collisions) == 1 and 43_200 <= f.collisions[0].occurrences <= 43_201


def twelve() -> list[Job]:
    return [job(f"report_{i:02d}", DAY, T0 + 2 * HOUR + i * 1000) for i in range(12)]


def test_twelve_daily_jobs_in_one_minute_are_one_group_and_a_warning() -> None:
    f = figures(twelve(), T0, 7 * DAY)
    assert [(g.size, g.when(), g.occurrences) for g in f.collisions] == [
        (12, "at 02:00:00Z daily", 7)
    ]
    assert f.peak == 12
    warnings = impact([], twelve(), T0).warnings(max_names=3)
    assert warnings == [
        "this change makes 12 jobs start within 60 s at 02:00:00Z daily: report_00, report_01, "
        "report_02, ... (reconciler schedule --spread)"
    ]


def test_a_group_already_live_is_not_created_by_the_change() -> None:
    live = twelve()
    after = [*live, job("other", DAY, T0 + 9 * HOUR)]
    assert impact(live, after, T0).created == ()
    grown = [*live, job("late", DAY, T0 + 2 * HOUR + 30_000)]
    created = impact(live, grown, T0).created
    assert [g.size for g in created] == [13]


def test_groups_wrap_around_the_period_and_need_less_than_collide() -> None:
    wrap = [job("a", DAY, T0 - 20_000), job("b", DAY, T0 + 20_000)]
    assert [g.tags for g in figures(wrap, T0, 2 * DAY).collisions] == [("a", "b")]
    apart = [job("a", DAY, T0), job("b", DAY, T0 + MINUTE)]
    assert figures(apart, T0, 2 * DAY).collisions == ()


def test_an_hourly_job_meets_a_daily_one_once_a_day() -> None:
    jobs = [job("daily", DAY, T0 + 2 * HOUR), job("hourly", HOUR, T0 + 10_000)]
    groups = figures(jobs, T0, 3 * DAY).collisions
    assert [(g.tags, g.when(), g.occurrences) for g in groups] == [
        (("daily", "hourly"), "at 02:00:00Z daily", 3)
    ]


def test_finite_jobs_meet_only_while_both_run() -> None:
    jobs = [job("short", DAY, T0 + HOUR, executions=2), job("long", DAY, T0 + HOUR)]
    assert [g.occurrences for g in figures(jobs, T0, 10 * DAY).collisions] == [2]


def test_spread_flattens_twelve_daily_jobs_the_same_way_every_time() -> None:
    between = parse_between("02:00-04:00")
    first = spread(twelve(), T0, collide=MINUTE, between=between)
    assert first.peak_before == 12 and first.peak_after <= 2
    shuffled = twelve()
    random.Random(3).shuffle(shuffled)
    again = spread(shuffled, T0, collide=MINUTE, between=between)
    assert again == first
    assert len(first.proposals) == 12
    for p in first.proposals:
        assert p.intervals == DAY and p.new_start_at >= T0
        assert 2 * HOUR <= p.new_start_at % DAY < 4 * HOUR
    moved = {p.tag: p.new_start_at for p in first.proposals}
    after = [replace(j, start_at=moved[j.tag]) for j in twelve()]
    assert figures(after, T0, 7 * DAY).collisions == ()


def test_parse_between_says_what_is_wrong() -> None:
    assert parse_between("02:00-04:00") == (2 * HOUR, 4 * HOUR)
    assert parse_between("22:00-02:00") == (22 * HOUR, 2 * HOUR)
    for bad in ("2-4", "02:00", "02:00-02:00", "25:00-26:00"):
        try:
            parse_between(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


# --- renderers ------------------------------------------------------------------------------

HOSTILE = 'x<y>&"\x1b[31m`*_|]@here'


def hostile_impact() -> Impact:
    live = [job("a", DAY, T0 + HOUR)]
    after = [*twelve(), job(HOSTILE, DAY, T0 + 2 * HOUR + 5_000), job("fast", 30_000, T0)]
    result = impact(live, after, T0, window=2 * DAY)
    return replace(result, spread=spread(after, T0, 2 * DAY))


def test_text_heatmap_has_a_legend_and_colour_only_when_asked() -> None:
    result = hostile_impact()
    plain = render.text(result)
    assert "legend (starts per hour)" in plain and "█" in plain
    assert "\x1b" not in plain and "\\x1b" in plain  # the hostile tag's escape is shown
    assert "\x1b[38;5;" in render.text(result, color=True)
    assert "fast every 30s" in plain


@pytest.mark.slow
def test_markdown_has_mermaid_before_and_after_and_keeps_its_budget() -> None:
    md = render.markdown(hostile_impact())
    assert md.count("```mermaid") == 2 and "xychart-beta" in md
    assert "| peak starts per minute |" in md
    # Tags sit in code spans: shown as written, never an element or a mention once rendered.
    rendered = cmarkgfm.github_flavored_markdown_to_html(md, options=CmarkOptions.CMARK_OPT_UNSAFE)
    outside_code = re.sub(r"<code>.*?</code>", "", rendered, flags=re.S)
    assert "<y>" not in rendered and "\x1b" not in md and "@here" not in outside_code
    many = [job(f"create_{i:04d}", DAY, T0 + (i % 7) * 1000) for i in range(5000)]
    big = impact([], many, T0)
    big = replace(big, spread=spread(many, T0, DAY))
    text = render.markdown(big, max_chars=60_000)
    assert len(text) <= 60_000 and "more lines not shown" in text
    assert len(render.markdown(big, max_chars=3_000)) <= 3_000


def test_mermaid_labels_keep_a_safe_character_set() -> None:
    assert render._mermaid('a"]; click x "evil"\n') == "a___ click x _evil__"


def test_svg_is_well_formed_and_renders_to_png() -> None:
    picture = render.svg(hostile_impact(), title=HOSTILE).encode()
    root = ET.fromstring(picture)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert HOSTILE.replace("\x1b", "\\x1b") in "".join(root.itertext())
    png = cairosvg.svg2png(bytestring=picture)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    out = io.BytesIO()
    cairosvg.svg2png(bytestring=render.svg(impact(None, [], T0)).encode(), write_to=out)
    assert out.getvalue()[:4] == b"\x89PNG"


def test_json_document_follows_its_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    between = replace(
        hostile_impact(), spread=spread(twelve(), T0, between=parse_between("02:00-04:00"))
    )
    for doc_of in (hostile_impact(), impact(None, twelve(), T0), impact(None, [], T0), between):
        doc = json.loads(render.json_text(doc_of))
        validator.validate(doc)
        assert doc["format"] == "reconciler-schedule" and doc["format_version"] == 1


def test_spread_takes_the_next_free_slot_when_two_tags_hash_alike() -> None:
    # 100 jobs into 120 two-hour slots: hashes alone collide (birthdays); probing must not.
    many = [job(f"batch_{i:03d}", DAY, T0 + 2 * HOUR) for i in range(100)]
    between = parse_between("02:00-04:00")
    assert spread(many, T0, collide=MINUTE, between=between).peak_after == 1
    more = [job(f"batch_{i:03d}", DAY, T0 + 2 * HOUR) for i in range(300)]
    assert spread(more, T0, collide=MINUTE, between=between).peak_after == 3


def _sorted_collisions(
    jobs: list[Job], lo: int, hi: int, collide: int, budget: int
) -> tuple[tuple[Collision, ...], bool]:
    """The collision groups by listing and sorting every point of every circle, as the
    streaming merge replaced: the reference it must equal exactly."""
    by_iv: dict[int, list[Job]] = {}
    for j in jobs:
        if runs(j, lo, hi):
            by_iv.setdefault(j.intervals, []).append(j)
    found, complete = [], True
    for period in sorted(by_iv):
        points = [(j.start_at % period, j.tag, j, True) for j in by_iv[period]]
        for iv in sorted(by_iv):
            if iv >= period or period % iv or iv <= 2 * collide:
                continue
            ratio = period // iv
            if ratio * len(by_iv[iv]) > budget:
                complete = False
                continue
            budget -= ratio * len(by_iv[iv])
            for j in by_iv[iv]:
                points += [(j.start_at % iv + m * iv, j.tag, j, False) for m in range(ratio)]
        if len(points) < 2:
            continue
        points.sort(key=lambda p: (p[0], p[1]))
        n = len(points)
        gaps = [points[i + 1][0] - points[i][0] for i in range(n - 1)]
        gaps.append(points[0][0] + period - points[-1][0])
        start = (max(range(n), key=lambda i: (gaps[i], -i)) + 1) % n
        seq = [(p[0] + period, *p[1:]) if i < start else p for i, p in enumerate(points)]
        seq = seq[start:] + seq[:start]
        i = 0
        while i < n:
            k = i
            while k + 1 < n and seq[k + 1][0] - seq[i][0] < collide:
                k += 1
            cluster = seq[i : k + 1]
            if k > i and any(p[3] for p in cluster):
                group = reference._meetings(cluster, period, lo, hi)
                if group is not None:
                    found.append(group)
            i = k + 1
    found.sort(key=lambda c: (-c.size, c.first, c.tags))
    return tuple(found), complete


CIRCLE_INTERVALS = st.sampled_from(
    [90_000, 2 * MINUTE, 5 * MINUTE, 15 * MINUTE, HOUR, 3 * HOUR, DAY]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            CIRCLE_INTERVALS,
            st.sampled_from([0, 30_000, 59_999, 60_000, 2 * HOUR, 2 * HOUR + 1])
            | st.integers(0, DAY),
            st.integers(0, 5),
            st.integers(0, 3),
        ),
        max_size=12,
    ),
    st.integers(0, DAY),
    st.sampled_from([MINUTE, 5 * MINUTE]),
    st.sampled_from([0, 30, 200, timeline.EXPANSION_BUDGET]),
)
def test_streamed_circles_equal_sorting_every_point(
    specs: list[tuple[int, int, int, int]], shift: int, collide: int, budget: int
) -> None:
    # Tags repeat now and then (a live product may hold duplicates): the order must still
    # be the stable sort's.
    jobs = [job(f"j{tag}", iv, T0 + off, ex) for iv, off, ex, tag in specs]
    lo, hi = T0 + shift, T0 + shift + 2 * DAY
    saved = timeline.EXPANSION_BUDGET
    timeline.EXPANSION_BUDGET = budget
    try:
        streamed = timeline.collisions(jobs, lo, hi, collide)
    finally:
        timeline.EXPANSION_BUDGET = saved
    assert streamed == _sorted_collisions(jobs, lo, hi, collide, budget)


def test_expanded_points_are_generated_not_held() -> None:
    # 2,000 quarter-hourly jobs on one daily job's circle: 192,000 points. Held as tuples
    # they took ~20 MB; generated, the memory is the jobs' (and one cluster's).
    jobs = [job(f"q{i:04d}", 15 * MINUTE, T0 + i * 450) for i in range(2000)]
    jobs.append(job("daily", DAY, T0 + 2 * HOUR))
    tracemalloc.start()
    try:
        groups, complete = timeline.collisions(jobs, T0, T0 + DAY)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert complete and any("daily" in g.tags for g in groups)
    assert peak < 3_000_000, f"{peak:,} bytes at the peak"
