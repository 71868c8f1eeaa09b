"""The PR comment as a reviewer reads it (issue 19), and ``--quiet`` in every reporter.

Reports are built by the real commands on a real SQLite store (the examples, applied, then
edited as a pull request would), and rendered in-process by the real reporters. The header's
commit and paths are filled in here as the command layer fills them in.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from reconciler import provenance
from reconciler.apply import Result
from reconciler.commands.plan import drift, plan
from reconciler.model import EventType, Job
from reconciler.outcome import ApplyReport, Outcome, PlanReport, ReportVisitor
from reconciler.plan import Action, Change, Plan
from reconciler.render import REPORTER_BY_NAME, Options
from reconciler.render.markdown import MAX_CHARS
from reconciler.settings import RunSpec
from testing.cli import invoke as run

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples" / "jobs"
SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def work(examples_repo: Path) -> Path:
    """The examples applied to a fresh store."""
    code, _, err = run("apply", "jobs", "--auto-approve")
    assert code == 0, err
    return examples_repo


def edit_retry_interval(work: Path) -> None:
    manifest = work / "jobs" / "billing" / "jobs.yaml"
    manifest.write_text(manifest.read_text().replace("intervals: 1h30m", "intervals: 30m"))


def spec(work: Path, **changes: object) -> RunSpec:
    base = RunSpec(paths=("jobs",), target="sqlite:///.reconciler/local.db", origin="option")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def with_header(reports: Sequence[Outcome], work: Path) -> list[Outcome]:
    """What the command layer adds: the commit (from the environment here) and the paths."""
    commit = provenance.commit({"GITHUB_SHA": SHA}, str(work))
    return [dataclasses.replace(r, commit=commit, paths=("jobs",)) for r in reports]


def markdown(reports: Sequence[Outcome], **options: bool) -> str:
    return REPORTER_BY_NAME["markdown"](reports, Options(**options)).out


# --- the first line and the header -------------------------------------------------------


def test_the_first_line_says_what_merging_will_do_then_names_commit_paths_target(
    work: Path,
) -> None:
    edit_retry_interval(work)
    out = markdown(with_header(plan([spec(work)]), work))
    lines = out.splitlines()
    assert lines[0] == "<!-- reconciler-report -->"  # hidden: the workflow finds it
    assert lines[1] == "### Merging will update 1 job"
    assert lines[2] == (
        "reconciler plan · commit `0123456789ab` · paths `jobs` · "
        "target `sqlite:///.reconciler/local.db (product default)`"
    )
    assert lines[4] == "**Plan: 0 to create, 1 to update, 5 unchanged.**"


def test_no_changes_and_a_failed_plan_say_so_first(work: Path) -> None:
    lines = markdown(plan([spec(work)])).splitlines()
    assert lines[1] == "### No changes: merging changes nothing live"
    (work / "jobs" / "cache-warm.yaml").unlink()
    lines = markdown(plan([spec(work)])).splitlines()
    assert lines[1] == (
        "### No changes: merging changes nothing live; 1 orphan left live (remove by hand)"
    )
    (work / "jobs" / "bad.yaml").write_text("name: x\ntag: bad\n")
    lines = markdown(plan([spec(work)])).splitlines()
    assert lines[1] == "### Plan failed: 4 errors; nothing can be applied"
    (work / "jobs" / "bad.yaml").unlink()
    lines = markdown(plan([spec(work, target="ftp://nowhere")])).splitlines()
    assert lines[1] == "### Plan failed; nothing can be applied"
    assert lines[4].startswith("**Error: ")


def test_creates_and_updates_are_counted_in_one_line(work: Path) -> None:
    edit_retry_interval(work)
    new = (work / "jobs" / "cache-warm.yaml").read_text().replace("warm_catalogue_cache", "x_y")
    (work / "jobs" / "new.yaml").write_text(new.replace("name: ", "name: New "))
    lines = markdown(plan([spec(work)])).splitlines()
    assert lines[1] == "### Merging will create 1 and update 1 jobs"


def test_drift_and_apply_lead_with_what_drifted_and_what_was_written(work: Path) -> None:
    assert markdown(drift([spec(work)])).splitlines()[1] == "### No drift: live matches Git"
    edit_retry_interval(work)
    (work / "jobs" / "cache-warm.yaml").unlink()
    lines = markdown(drift([spec(work)])).splitlines()
    assert lines[1] == "### Live differs from Git: 1 job changed live, 1 orphan"
    assert lines[2].startswith("reconciler drift · paths `jobs` · target ")
    code, out, _ = run("apply", "jobs", "--auto-approve", "--format", "markdown")
    assert code == 0
    assert out.splitlines()[1] == "### Applied: updated 1 job"
    code, out, _ = run("apply", "jobs", "--auto-approve", "--format", "markdown")
    assert out.splitlines()[1] == "### No changes: apply wrote nothing"


def test_a_plan_against_a_snapshot_names_it_and_its_age(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("snapshot", "--out", "live.json")[0] == 0
    monkeypatch.setenv("RECONCILER_NOW", "2026-11-01T22:00:00Z")  # 22h after TEST_NOW
    edit_retry_interval(work)
    out = markdown(with_header(plan([spec(work, target="snapshot:live.json")]), work))
    header = out.splitlines()[2]
    assert header.startswith("reconciler plan · commit `0123456789ab` · paths `jobs` · ")
    assert header.endswith(
        "target `snapshot:live.json (product default, taken 2026-11-01T00:00:00Z, 22h old)`"
    )


def test_field_changes_are_a_diff_block_github_colours(work: Path) -> None:
    edit_retry_interval(work)
    out = markdown(plan([spec(work)]))
    assert "```text" not in out
    block = out.split("```diff\n", 1)[1].split("\n```", 1)[0].splitlines()
    assert block[:2] == ["- intervals: 5400000 (1h30m)", "+ intervals: 1800000 (30m)"]
    assert block[2].startswith("- schedule: every 1h30m") and block[3].startswith("+ schedule")
    out = markdown(drift([spec(work)]))
    block = out.split("```diff\n", 1)[1].split("\n```", 1)[0].splitlines()
    assert block == ["- intervals: 5400000 (1h30m) (live)", "+ intervals: 1800000 (30m) (git)"]


# --- the budget counts jobs ----------------------------------------------------------------


def test_past_the_budget_the_comment_counts_the_jobs_it_left_out() -> None:
    now = 1_800_000_000_000
    creates = tuple(
        Change(
            Action.CREATE,
            f"job_{i:05d}",
            Job(f"job_{i:05d}", f"Generated job {i}", EventType.FUNCTION, "f", 0, 3_600_000, now),
        )
        for i in range(3000)
    )
    report = PlanReport(plan=Plan(creates, target="t"), now=now, target="t")
    out = markdown([report])
    assert len(out) < MAX_CHARS
    rows = sum(1 for line in out.splitlines() if line.startswith("| `job_"))
    details = out.count("<details><summary>create ")
    found = re.search(r"\*\*([\d,]+) more job\(s\) not shown \(of 3,000\)", out)
    assert found, out[-400:]
    assert int(found.group(1).replace(",", "")) == 3000 - rows
    assert f"{rows - details:,} shown without their details" in out
    assert "see the pipeline log" in out


# --- quiet: the summary and the problems ------------------------------------------------


def test_quiet_keeps_the_summary_and_the_problems_only(work: Path) -> None:
    edit_retry_interval(work)
    (work / "jobs" / "cache-warm.yaml").unlink()  # an orphan: a warning
    reports = plan([spec(work)])
    loud = REPORTER_BY_NAME["text"](reports, Options()).out
    text = REPORTER_BY_NAME["text"](reports, Options(quiet=True))
    assert "~ update billing.retry_failed" in loud and "~ update" not in text.out
    assert "- orphan" not in text.out and "intervals:" not in text.out
    assert text.out.splitlines()[-1] == "Plan: 0 to create, 1 to update, 4 unchanged, 1 orphan."
    assert "Target: sqlite:///.reconciler/local.db (product default)" in text.out
    assert "warm_catalogue_cache: -: warning: orphan: live only" in text.err  # problems stay
    md = markdown(reports, quiet=True)
    assert md.splitlines()[1] == (
        "### Merging will update 1 job; 1 orphan left live (remove by hand)"
    )
    assert "#### Problems (0 error(s), 1 warning(s))" in md
    assert "| job |" not in md and "<details>" not in md and "```" not in md
    assert "| job |" in markdown(reports) and "<details>" in markdown(reports)
    github = REPORTER_BY_NAME["github"](reports, Options(quiet=True)).out
    annotations = [line for line in github.splitlines() if line.startswith("::")]
    assert annotations and all(line.startswith("::warning ") for line in annotations)
    assert "~ update" not in github
    loud_github = REPORTER_BY_NAME["github"](reports, Options()).out
    assert any(line.startswith("::notice ") for line in loud_github.splitlines())


def test_quiet_apply_shows_only_the_writes_that_failed(work: Path) -> None:
    edit_retry_interval(work)
    (report,) = plan([spec(work)])
    code, out, _ = run("apply", "jobs", "--auto-approve", "--format", "markdown")
    assert code == 0 and "#### Results" in out
    # A write that failed is a problem: quiet still shows it, and only it.
    assert report.plan is not None
    change = next(c for c in report.plan.changes if c.action is Action.UPDATE)
    applied = ApplyReport(
        plan=report.plan,
        now=report.now,
        results=(Result(change, "ok", id="a" * 24), Result(change, "failed", error="boom")),
    )
    md = markdown([applied], quiet=True)
    assert md.splitlines()[1] == "### Apply failed: 1 of 2 writes failed; updated 1 job"
    assert "#### Failed writes" in md and "boom" in md and "updated (id" not in md
    assert "updated (id" in markdown([applied])
    text = REPORTER_BY_NAME["text"]([applied], Options(quiet=True)).out
    assert "boom" in text and "(id aaaa" not in text


# --- every reporter has a method per report type ---------------------------------------------


def test_a_reporter_missing_a_report_type_cannot_be_made() -> None:
    class NoDrift(ReportVisitor[str]):
        def validate(self, report: object) -> str:
            return "v"

        def plan(self, report: object) -> str:
            return "p"

        def apply(self, report: object) -> str:
            return "a"

    with pytest.raises(TypeError, match="drift"):
        NoDrift()  # type: ignore[abstract]


def test_json_carries_the_header_and_still_matches_its_schemas(work: Path) -> None:
    import json

    import jsonschema

    edit_retry_interval(work)
    schema = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
    doc = json.loads(REPORTER_BY_NAME["json"](plan([spec(work)]), Options()).out)
    jsonschema.Draft202012Validator(schema).validate(doc)
    assert "commit" not in doc and doc["paths"] == ["jobs"]  # no commit known: left out
    for reports, name in ((plan([spec(work)]), "plan"), (drift([spec(work)]), "drift-report")):
        doc = json.loads(REPORTER_BY_NAME["json"](with_header(reports, work), Options()).out)
        schema = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text())
        jsonschema.Draft202012Validator(schema).validate(doc)
        assert (doc["commit"], doc["paths"]) == (SHA, ["jobs"])
