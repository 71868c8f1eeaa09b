"""Accepting live changes: the examples applied to a real SQLite store, two fields moved live,
the drift written back into the manifests, then no drift, with only those two lines changed."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from reconciler.accept import Accepted, FileEdits, edits_from_drift, write
from reconciler.commands.plan import drift as drift_of
from reconciler.desired import load_desired
from reconciler.model import parse_timestamp
from reconciler.plan import build_plan
from reconciler.settings import RunSpec
from reconciler.targets import open_target
from reconciler.yamledit import Edit, EditRefused
from testing.cli import invoke

EXAMPLES = Path(__file__).parent.parent / "examples" / "jobs"
HOUR = 3_600_000


@pytest.fixture
def applied(tmp_path: Path) -> RunSpec:
    """A copy of the examples, applied to a SQLite store of its own."""
    jobs = tmp_path / "jobs"
    shutil.copytree(EXAMPLES, jobs)
    target = f"sqlite:///{tmp_path / 'live.db'}"
    code, out, err = invoke("apply", str(jobs), "--auto-approve", "--target", target)
    assert code == 0, out + err
    return RunSpec(paths=(str(jobs),), target=target, origin="option")


def move_live(spec: RunSpec, tag: str, changes: dict[str, object]) -> None:
    target = open_target(spec.target, spec.product)
    try:
        target.update_job(tag, changes)
    finally:
        target.close()


def texts(root: Path) -> dict[str, list[str]]:
    return {
        str(p.relative_to(root)): p.read_text().splitlines(keepends=True)
        for p in sorted(root.rglob("*.y*ml"))
    }


def changed_lines(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    out = []
    for name in sorted(set(before) | set(after)):
        for line in difflib.unified_diff(before.get(name, []), after.get(name, []), n=0):
            if line[:1] in "-+" and not line.startswith(("---", "+++")):
                out.append(f"{name}: {line.rstrip()}")
    return out


def comments(files: dict[str, list[str]]) -> list[str]:
    return [line for lines in files.values() for line in lines if "#" in line]


def test_accepting_drift_writes_the_two_live_values_in_their_friendly_forms(
    applied: RunSpec,
) -> None:
    jobs = Path(applied.paths[0])
    before = texts(jobs)
    # One field written as a duration (1h30m), one as an ISO time.
    move_live(applied, "billing.retry_failed", {"intervals": 2 * HOUR + 45 * 60_000})
    move_live(
        applied, "nightly_sales_report", {"start_at": parse_timestamp("2037-06-01T04:30:00Z")}
    )

    drift = drift_of([applied])[0]
    assert drift.plan is not None and drift.plan.has_drift
    accepted = edits_from_drift(drift.plan, load_desired(applied.paths))
    assert accepted.summary() == "2 fields in 2 files"
    written = write(accepted)

    assert [p.lines for p in written.edited] == [(8,), (8,)]
    again = drift_of([applied])[0]
    assert again.plan is not None and not again.plan.has_drift
    after = texts(jobs)
    assert changed_lines(before, after) == [
        "billing/jobs.yaml: -intervals: 1h30m",
        "billing/jobs.yaml: +intervals: 2h45m",
        "reports/nightly.yaml: -start_at: 2037-06-01T02:00:00Z",
        "reports/nightly.yaml: +start_at: 2037-06-01T04:30:00Z",
    ]
    assert comments(after) == comments(before)


def test_an_offset_time_moved_live_is_written_in_its_offset(applied: RunSpec) -> None:
    jobs = Path(applied.paths[0])
    before = texts(jobs)
    moved = parse_timestamp("2037-06-08T09:45:00+01:00")
    move_live(applied, "weekly_digest", {"start_at": moved, "executions": 10})

    drift = drift_of([applied])[0]
    assert drift.plan is not None
    write(edits_from_drift(drift.plan, load_desired(applied.paths)))

    assert changed_lines(before, texts(jobs)) == [
        'reports/weekly-digest.yaml: -start_at: "2037-06-08T08:30:00+01:00"',
        'reports/weekly-digest.yaml: +start_at: "2037-06-08T09:45:00+01:00"',
        "reports/weekly-digest.yaml: +executions: 10",
    ]
    again = drift_of([applied])[0]
    assert again.plan is not None and not again.plan.has_drift


def test_orphans_are_written_only_where_asked_and_creates_are_left_alone(
    applied: RunSpec, tmp_path: Path
) -> None:
    jobs = Path(applied.paths[0])
    (jobs / "cache-warm.yaml").rename(tmp_path / "cache-warm.yaml")  # live only now: an orphan
    (jobs / "new.yaml").write_text(
        "name: Not live yet\ntag: not_live\nevent_type: function\nevent_tag: f\n"
        "intervals: 1h\nstart_at: 2037-06-01T00:00:00Z\n"
    )
    before = texts(jobs)
    drift = drift_of([applied])[0]
    assert drift.plan is not None
    accepted = edits_from_drift(drift.plan, load_desired(applied.paths))
    assert [job.tag for job in accepted.orphans] == ["warm_catalogue_cache"]
    assert accepted.left_alone == ("not_live",)
    assert accepted.summary() == (
        "0 fields in 0 files, 1 orphan to write as new manifests; 1 job missing live left alone"
    )

    assert write(accepted).added == ()  # no directory named: nothing written
    assert texts(jobs) == before
    written = write(accepted, orphans_to=str(jobs / "adopted"))
    assert written.added == (str(jobs / "adopted" / "warm_catalogue_cache.yaml"),)
    again = drift_of([applied])[0]
    assert again.plan is not None
    assert [c.tag for c in again.plan.changes if c.action.value == "orphan"] == []


def test_the_edits_run_from_live_to_git() -> None:
    """build_plan's FieldChange is (old=live, new=Git): accepting live writes old over new."""
    desired = load_desired([str(EXAMPLES)])
    git = desired.jobs["weekly_digest"]
    live = git.replace({"intervals": 2 * HOUR})
    accepted = edits_from_drift(build_plan(desired.jobs, [live]), desired)
    path = str(EXAMPLES / "reports" / "weekly-digest.yaml")
    edit = Edit("weekly_digest", "intervals", old=git.intervals, new=2 * HOUR)
    assert accepted.files == (FileEdits(path, (edit,)),)
    assert accepted.left_alone == tuple(sorted(t for t in desired.jobs if t != "weekly_digest"))


def test_one_refused_file_leaves_every_file_as_it_was(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    first = tmp_path / "jobs" / "billing" / "jobs.yaml"
    second = tmp_path / "jobs" / "reports" / "nightly.yaml"
    before = texts(tmp_path / "jobs")
    accepted = Accepted(
        (
            FileEdits(str(first), (Edit("billing.retry_failed", "intervals", 90 * 60_000, HOUR),)),
            FileEdits(str(second), (Edit("nightly_sales_report", "intervals", HOUR, 2 * HOUR),)),
        )
    )
    with pytest.raises(EditRefused, match=r"nightly\.yaml:7:12: .*changed since it was read"):
        write(accepted)
    assert texts(tmp_path / "jobs") == before
