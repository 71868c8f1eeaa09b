from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.apply import apply_plan
from reconciler.diff import FieldChange
from reconciler.errors import StalePlanError, UsageError
from reconciler.model import MUTABLE_FIELDS, EventType, Job
from reconciler.outcome import REPORT_BY_COMMAND
from reconciler.plan import Action, Plan, build_plan, check_fresh
from reconciler.planfile import from_document
from reconciler.render.jsonfmt import document
from reconciler.targets.local import LocalTarget


def job(tag: str, **changes: object) -> Job:
    base = Job(tag, f"Job {tag}", EventType.ACTION, "app:act", 0, 3_600_000, 1_796_090_400_000)
    return base.replace(changes) if changes else base


def saved(plan: Plan) -> dict[str, object]:
    """The plan as ``plan --out`` saves it, read back as JSON."""
    data: dict[str, object] = json.loads(
        json.dumps(document(REPORT_BY_COMMAND["plan"](target=plan.target, plan=plan)))
    )
    return data


def test_plan_sorts_actions_and_tags() -> None:
    desired = {"b": job("b"), "a": job("a"), "u": job("u", intervals=1_800_000), "s": job("s")}
    live = [job("s"), job("u"), job("zz_live_only")]
    plan = build_plan(desired, live)
    assert [(c.action.value, c.tag) for c in plan.changes] == [
        ("create", "a"),
        ("create", "b"),
        ("update", "u"),
        ("unchanged", "s"),
        ("orphan", "zz_live_only"),
    ]
    assert plan.summary() == "Plan: 2 to create, 1 to update, 1 unchanged, 1 orphan."
    assert plan.has_changes


def test_update_lists_only_changed_fields_in_model_order() -> None:
    live = job("t")
    want = job("t", start_at=1_796_090_400_001, name="Renamed", event_type="function")
    (change,) = build_plan({"t": want}, [live]).changes
    assert change.fields == (
        FieldChange("name", "Job t", "Renamed"),
        FieldChange("event_type", "action", "function"),
        FieldChange("start_at", 1_796_090_400_000, 1_796_090_400_001),
    )


def test_equal_sets_have_no_changes() -> None:
    jobs = {t: job(t) for t in "abc"}
    plan = build_plan(jobs, jobs.values())
    assert not plan.has_changes
    assert plan.counts[Action.UNCHANGED] == 3


def test_saved_plan_round_trips_and_goes_stale(tmp_path: Path) -> None:
    target = LocalTarget(str(tmp_path / "live.db"))
    target.create_job(job("u"))
    desired = {"u": job("u", intervals="30m"), "n": job("n")}
    plan = build_plan(desired, target.fetch_jobs(), target=target.describe())
    again = from_document(saved(plan)).plan
    assert again.changes == plan.changes and again.target == plan.target
    check_fresh(again, target.fetch_jobs(), target.describe())  # still fresh

    # A job the plan does not touch may change live: the plan stays safe.
    target.create_job(job("other"))
    check_fresh(again, target.fetch_jobs(), target.describe())

    # The job it updates changed live after planning: applying would overwrite unseen work.
    target.update_job("u", {"name": "edited by hand"})
    with pytest.raises(StalePlanError, match=r"1 job\(s\) changed live since it was made \(u\)"):
        check_fresh(again, target.fetch_jobs(), target.describe())
    with pytest.raises(StalePlanError, match="made for"):
        check_fresh(again, [], "sqlite:///elsewhere.db (product default)")
    target.close()


@pytest.mark.parametrize("data", [{}, [], {"format": "reconciler-plan", "format_version": 99}])
def test_foreign_plan_files_are_refused(data: object) -> None:
    with pytest.raises(UsageError):
        from_document(data)


def test_apply_reports_each_job_and_goes_on_after_a_failure(tmp_path: Path) -> None:
    target = LocalTarget(str(tmp_path / "live.db"))
    target.create_job(job("taken"))
    # A plan made against an empty product tries to create "taken" again: that one fails.
    plan = build_plan({t: job(t) for t in ["a", "taken", "z"]}, [])
    report = apply_plan(plan, target, parallelism=3)
    assert [(r.change.tag, r.ok) for r in report.results] == [
        ("a", True),
        ("taken", False),
        ("z", True),
    ]
    assert "already exists" in (report.failed[0].error or "")
    assert {j.tag for j in target.fetch_jobs()} == {"a", "taken", "z"}
    target.close()


tags = st.sampled_from([f"job{i}" for i in range(12)])
jobs = st.builds(
    Job,
    tag=tags,
    name=st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=12
    ).filter(str.strip),
    event_type=st.sampled_from(list(EventType)),
    event_tag=st.sampled_from(["app:a", "app:b", "notify", "db:x"]),
    executions=st.integers(0, 5),
    intervals=st.integers(1, 10**9),
    start_at=st.integers(0, 2 * 10**12),
)
job_sets = st.lists(jobs, max_size=10, unique_by=lambda j: j.tag)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(desired=job_sets, live=job_sets)
@pytest.mark.slow
def test_apply_then_plan_again_has_no_changes(
    tmp_path_factory: pytest.TempPathFactory, desired: list[Job], live: list[Job]
) -> None:
    """Whatever Git and the product hold, applying the plan converges in one step."""
    target = LocalTarget(str(tmp_path_factory.mktemp("prop") / "live.db"))
    try:
        for existing in live:
            target.create_job(existing)
        wanted = {j.tag: j for j in desired}
        report = apply_plan(build_plan(wanted, target.fetch_jobs()), target, parallelism=2)
        assert report.failed == ()
        after = build_plan(wanted, target.fetch_jobs())
        assert not after.has_changes
        # Nothing live was removed: live-only jobs stay exactly as they were.
        assert {j.tag for j in target.fetch_jobs()} == set(wanted) | {j.tag for j in live}
        assert [c.live for c in after.of(Action.ORPHAN)] == sorted(
            (j for j in live if j.tag not in wanted), key=lambda j: j.tag
        )
    finally:
        target.close()


# Names as the job schema allows them (a manifest's desired job passed it): no control,
# format or separator characters.
schema_names = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Cf", "Zl", "Zp"]),
    min_size=1,
    max_size=12,
).filter(str.strip)


@settings(max_examples=150, deadline=None)
@given(
    desired=st.lists(
        st.builds(
            Job,
            tag=tags,
            name=schema_names,
            event_type=st.sampled_from(list(EventType)),
            event_tag=st.sampled_from(["app:a", "app:b", "notify", "db:x"]),
            executions=st.integers(0, 5),
            intervals=st.integers(1, 10**9),
            start_at=st.integers(0, 2 * 10**12),
        ),
        max_size=10,
        unique_by=lambda j: j.tag,
    ),
    live=job_sets,
    ignore=st.sets(st.sampled_from(MUTABLE_FIELDS)),
    owns=st.sampled_from([("*",), ("job1*",), ()]),
)
@pytest.mark.slow
def test_every_plan_reads_back_as_it_was_saved(
    desired: list[Job], live: list[Job], ignore: set[str], owns: tuple[str, ...]
) -> None:
    """The reader's checks (field changes, renames, counts) accept whatever build_plan makes."""
    plan = build_plan(
        {j.tag: j for j in desired}, live, target="t", owns=owns, ignore_fields=ignore
    )
    assert from_document(saved(plan)).plan == plan


def test_orphans_renames_sources_and_ignored_fields_survive_a_save() -> None:
    """Everything a saved plan holds comes back: sources, renames, orphans, ignore_fields."""
    from reconciler.model import Location

    renamed = job("new_name", name="Job old_name")  # equal to old_name but for the tag
    desired = {"new_name": renamed, "u": job("u", intervals=60_000, executions=3)}
    live = [job("old_name"), job("u", executions=5), job("theirs", name="Other")]
    sources = {"new_name": Location("jobs/a:b.yaml", 3, 6), "u": Location("jobs/u.yaml", 2, 6)}
    plan = build_plan(
        desired, live, sources, "t", owns=["*_name", "u"], ignore_fields=["executions"]
    )
    assert [(c.action.value, c.tag, c.rename) for c in plan.changes] == [
        ("create", "new_name", "old_name"),
        ("update", "u", None),
        ("orphan", "old_name", "new_name"),
        ("foreign", "theirs", None),
    ]
    # executions is ignored: only intervals is an update, and only intervals is written.
    assert [f.field for f in plan.changes[1].fields] == ["intervals"]
    assert plan.summary() == "Plan: 1 to create, 1 to update, 0 unchanged, 1 orphan, 1 foreign."
    assert plan.has_changes and plan.has_drift
    data = saved(plan)
    assert data["summary"] == {"create": 1, "update": 1, "unchanged": 0, "orphan": 1, "foreign": 1}
    assert data["changes"][0]["source"] == "jobs/a:b.yaml:3:6"
    assert data["changes"][2]["desired"] is None and data["ignore_fields"] == ["executions"]
    again = from_document(data).plan
    assert again == plan
    assert again.changes[0].source == Location("jobs/a:b.yaml", 3, 6)
    # A live change to an ignored field does not make the saved plan stale.
    check_fresh(again, [job("old_name"), job("u", executions=9), job("theirs")], "t")


def test_orphans_alone_are_drift_but_not_changes() -> None:
    plan = build_plan({"a": job("a")}, [job("a"), job("gone")])
    assert not plan.has_changes and plan.has_drift
    plan = build_plan({"a": job("a")}, [job("a"), job("gone")], owns=["a"])
    assert not plan.has_changes and not plan.has_drift
    assert plan.summary() == "Plan: 0 to create, 0 to update, 1 unchanged, 1 foreign."
