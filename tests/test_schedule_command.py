"""``reconciler schedule`` and the schedule in every plan, through the real CLI on real files."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest

from testing.cli import invoke
from testing.process import EXAMPLES, ROOT

NOW = "2027-01-01T00:00:00Z"


def twelve(jobs: Path) -> None:
    """Twelve daily jobs that all start at 02:00:00Z, each in a file with a comment."""
    jobs.mkdir(parents=True, exist_ok=True)
    for i in range(12):
        (jobs / f"job{i:02d}.yaml").write_text(
            f"# report {i}: keep this comment\n"
            f"name: Report {i}\ntag: report_{i:02d}\nevent_type: function\n"
            f"event_tag: report_{i:02d}\nintervals: 1d\nstart_at: 2027-01-02T02:00:00Z\n"
        )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    twelve(tmp_path / "jobs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECONCILER_NOW", NOW)
    return tmp_path


def test_a_plan_names_the_collision_group_it_creates_in_every_format(repo: Path) -> None:
    code, out, err = invoke("plan", "jobs")
    assert code == 0
    assert "this change makes 12 jobs start within 60 s at 02:00:00Z daily: report_00" in err
    assert "peak 0 -> 12 starts a minute" in out
    code, out, _ = invoke("plan", "jobs", "--format", "json")
    document = json.loads(out)
    assert document["schedule"]["after"]["peak_starts_per_minute"] == 12
    assert any("12 jobs start within 60 s" in p["message"] for p in document["problems"])
    code, out, _ = invoke("plan", "jobs", "--format", "markdown")
    assert "peak 0 -&gt; 12" in out or "peak 0 -> 12" in out
    assert "```mermaid" in out
    code, out, _ = invoke("plan", "jobs", "--format", "github")
    assert re.search(r"^::warning .*12 jobs start within 60 s", out, re.M)
    code, _, err = invoke("plan", "jobs", "--strict")
    assert code == 1 and "12 jobs start within 60 s" in err


def test_the_limit_comes_from_the_configuration(repo: Path) -> None:
    (repo / ".reconciler.yaml").write_text("schedule: {collide: 60s, max_starts_per_minute: 12}\n")
    code, _, err = invoke("plan", "jobs")
    assert code == 0 and "start within" not in err


def test_spread_flattens_the_peak_the_same_way_twice_and_writes_it_keeping_comments(
    repo: Path,
) -> None:
    code, first, err = invoke("schedule", "jobs", "--spread", "--between", "02:00-04:00")
    assert code == 0, err
    code, second, _ = invoke("schedule", "jobs", "--spread", "--between", "02:00-04:00")
    assert first == second
    peak = re.search(r"peak starts per minute (\d+) -> (\d+)", first)
    assert peak and peak.group(1) == "12" and int(peak.group(2)) <= 2, first
    assert invoke("apply", "jobs", "--auto-approve", "--target", "sqlite:///live.db")[0] == 0
    code, _, err = invoke("schedule", "jobs", "--spread", "--between", "02:00-04:00", "--write")
    assert code == 0 and "Wrote the proposed start_at values into 12 file(s)" in err
    for path in sorted((repo / "jobs").iterdir()):
        text = path.read_text()
        assert text.startswith("# report ") and "keep this comment" in text
        assert re.search(r"start_at: 2027-01-0[23]T0[23]:[0-5][0-9]:00Z\n", text), text
    code, out, err = invoke("schedule", "jobs")
    assert re.search(r"peak starts per minute: [12]\b", out), out
    # The plan then writes exactly those start_at values, and nothing else.
    code, out, _ = invoke("plan", "jobs", "--target", "sqlite:///live.db", "--format", "json")
    changes = json.loads(out)["changes"]
    assert {c["action"] for c in changes} == {"update"} and len(changes) == 12
    assert all([f["field"] for f in c["fields"]] == ["start_at"] for c in changes)


def test_schedule_formats(repo: Path) -> None:
    code, out, _ = invoke("schedule", "jobs", "--format", "json")
    assert code == 0
    schema = json.loads((ROOT / "schemas" / "schedule-report.schema.json").read_text())
    jsonschema.validate(json.loads(out), schema)
    code, out, _ = invoke("schedule", "jobs", "--format", "svg")
    assert code == 0
    assert ElementTree.fromstring(out).tag.endswith("svg")
    code, out, _ = invoke("schedule", "jobs", "--format", "markdown")
    assert code == 0 and "```mermaid" in out


def test_schedule_against_a_target_shows_before_and_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECONCILER_NOW", "2037-05-30T00:00:00Z")
    target = ["--target", "sqlite:///live.db"]
    assert invoke("apply", "jobs", "--auto-approve", *target)[0] == 0
    code, out, err = invoke("schedule", "jobs", *target, "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    assert document["before"] is not None and document["after"]["total_runs"] > 0


def test_the_default_window_starts_at_the_first_day_with_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The examples start on 2037-06-01: a week from 2026-11-01 would be empty.
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    code, out, _ = invoke("schedule", str(EXAMPLES))
    assert code == 0
    assert out.startswith("runs per hour, 2037-06-01T00:00:00Z .. 2037-06-08T00:00:00Z")
    code, out, _ = invoke("schedule", str(EXAMPLES), "--from", "2026-11-01T00:00:00Z")
    assert out.startswith("runs per hour, 2026-11-01T00:00:00Z .. 2026-11-08T00:00:00Z")


@pytest.mark.slow
def test_a_plan_of_five_thousand_creates_keeps_its_comment_under_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    docs = [
        f"name: Job {i}\ntag: job_{i:04d}\nevent_type: function\nevent_tag: f\n"
        f"intervals: 1d\nstart_at: 2027-01-02T02:{i % 60:02d}:00Z\n"
        for i in range(5000)
    ]
    (jobs / "all.yaml").write_text("---\n".join(docs))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECONCILER_NOW", NOW)
    code, out, _ = invoke("plan", "jobs", "--format", "markdown")
    assert code == 0
    assert "Schedule, the day from 2027-01-02T00:00:00Z" in out and "```mermaid" in out
    assert len(out) < 60_000, len(out)
