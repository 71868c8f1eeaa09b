"""The cycle collector is paused while figures and plans are computed, and put back as it was."""

from __future__ import annotations

import gc

from reconciler import timeline
from reconciler.cycles import paused as no_cycle_collection
from reconciler.model import EventType, Job

T0 = 1_796_083_200_000  # 2026-12-01T00:00:00Z


def test_a_plan_pauses_the_collector_and_puts_it_back() -> None:
    assert gc.isenabled()
    with no_cycle_collection():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_paused_collector_stays_paused() -> None:
    gc.disable()
    try:
        with no_cycle_collection():
            pass
        figures = timeline.figures(
            [Job("a", "A", EventType.FUNCTION, "f", 0, 60_000, T0)], T0, timeline.DAY
        )
        assert figures.total_runs == 1440
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_figures_put_the_collector_back() -> None:
    timeline.impact([], [Job("a", "A", EventType.FUNCTION, "f", 0, 60_000, T0)], T0)
    assert gc.isenabled()


def test_the_collector_comes_back_only_when_the_last_pause_ends() -> None:
    # Products are planned in threads: one product's pause ending must not turn the
    # collector back on under another's (their ends need not nest).
    first, second = no_cycle_collection(), no_cycle_collection()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()
