"""The commands end to end through click's runner, on real files and a real SQLite file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from testing.cli import invoke as run

EXAMPLES = Path(__file__).parent.parent / "examples" / "jobs"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the examples in a fresh working directory (the default store lives there)."""
    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    (tmp_path / ".git").mkdir()  # a repository: .reconciler.yaml is looked for up to here
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("RECONCILER_TARGET", raising=False)
    monkeypatch.delenv("DUCTAPE_PRODUCT", raising=False)
    return tmp_path


def test_quickstart_cycle(work: Path) -> None:
    code, out, _ = run("plan", "jobs")
    assert code == 0
    assert "Plan: 6 to create, 0 to update, 0 unchanged." in out
    assert "+ create nightly_sales_report" in out
    assert not (work / ".reconciler").exists(), "plan must not create the store"

    code, out, _ = run("plan", "jobs", "--detailed-exitcode")
    assert code == 2

    code, out, _ = run("apply", "jobs", "--auto-approve")
    assert code == 0, out
    assert "Apply: 6 created, 0 updated, 0 failed." in out
    assert (work / ".reconciler" / "local.db").exists()

    code, out, _ = run("plan", "jobs", "--detailed-exitcode")
    assert code == 0
    assert "No changes." in out

    manifest = work / "jobs" / "billing" / "jobs.yaml"
    manifest.write_text(manifest.read_text().replace("intervals: 1h30m", "intervals: 30m"))
    code, out, _ = run("plan", "jobs", "--detailed-exitcode")
    assert code == 2
    assert "~ update billing.retry_failed" in out
    assert "intervals: 5400000 -> 1800000 (1h30m -> 30m)" in out
    assert "Plan: 0 to create, 1 to update, 5 unchanged." in out


def test_invalid_manifests_report_all_and_change_nothing(work: Path) -> None:
    run("apply", "jobs", "--auto-approve")
    before = (work / ".reconciler" / "local.db").read_bytes()
    (work / "jobs" / "broken.yaml").write_text("name: x\n tag: : y\n")
    (work / "jobs" / "dup.yaml").write_text(
        (work / "jobs" / "cache-warm.yaml").read_text().replace("15m", "5m")
    )
    code, out, err = run("apply", "jobs", "--auto-approve")
    assert code == 1
    assert "jobs/broken.yaml:2:5: -: -: YAML syntax error" in err
    assert "jobs/dup.yaml:3:6: warm_catalogue_cache: tag: duplicate tag" in err
    assert err.strip().endswith("nothing was planned or changed.")
    assert "Traceback" not in err + out
    assert (work / ".reconciler" / "local.db").read_bytes() == before


def test_apply_without_terminal_refuses(work: Path) -> None:
    code, _, err = run("apply", "jobs")
    assert code == 1
    assert "pass --auto-approve" in err
    assert not (work / ".reconciler").exists()


def test_deleted_manifest_is_an_orphan_and_drift(work: Path) -> None:
    run("apply", "jobs", "--auto-approve")
    (work / "jobs" / "cache-warm.yaml").unlink()
    code, out, err = run("plan", "jobs", "--detailed-exitcode")
    # apply cannot remove it, so the plan has nothing to write: exit 0, but it says so.
    assert code == 0
    assert (
        "  - orphan warm_catalogue_cache  live only; remove it by hand in Ductape (no delete)"
        in out
    )
    assert "Plan: 0 to create, 0 to update, 5 unchanged, 1 orphan." in out
    assert "live: warm_catalogue_cache: -: warning: orphan: live only" in err
    assert "Nothing for apply to write; the orphans above can only be removed by hand." in out
    assert "No changes." not in out
    code, out, _ = run("drift", "jobs")
    assert code == 2
    assert "orphan warm_catalogue_cache" in out
    code, out, _ = run("apply", "jobs", "--auto-approve")
    code, out, _ = run("plan", "jobs", "--format", "json")
    data = json.loads(out)
    assert data["summary"] == {
        "create": 0,
        "update": 0,
        "unchanged": 5,
        "orphan": 1,
        "foreign": 0,
    }
    assert [p["tag"] for p in data["problems"]] == ["warm_catalogue_cache"]
    # Owned by someone else: only counted, and not drift.
    (work / ".reconciler.yaml").write_text('owns: ["billing.*", "nightly_*"]\n')
    code, out, _ = run("drift", "jobs")
    assert code == 0, out
    code, out, _ = run("plan", "jobs")
    assert "1 foreign job(s) not shown; -v lists them" in out
    assert "warm_catalogue_cache" not in out
    code, out, _ = run("plan", "jobs", "-v")
    assert "? foreign warm_catalogue_cache" in out


def test_json_plan_and_saved_plan(work: Path) -> None:
    code, out, _ = run("plan", "jobs", "--format", "json", "--out", "plan.json")
    data = json.loads(out)
    assert data["summary"]["create"] == 6 and data["has_changes"] is True
    assert json.loads((work / "plan.json").read_text()) == data
    code, out, _ = run("apply", "--plan", "plan.json", "--auto-approve")
    assert code == 0 and "Apply: 6 created" in out
    # Applying the same saved plan again: every job it creates now exists live.
    code, out, err = run("apply", "--plan", "plan.json", "--auto-approve")
    assert code == 1 and "the saved plan is stale: 6 job(s) changed live" in err


def test_colours_only_when_asked(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, _ = run("plan", "jobs")
    assert "\x1b[" not in out  # the runner is not a terminal
    _, out, _ = run("--color", "plan", "jobs")
    assert "\x1b[32m+\x1b[0m" in out


def test_validate_formats(work: Path) -> None:
    code, out, _ = run("validate", "jobs")
    assert (code, out.strip()) == (0, "Valid: 6 job(s) in 5 file(s).")
    (work / "jobs" / "bad.yaml").write_text("name: x\ntag: bad\n")
    code, out, _ = run("validate", "jobs", "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["valid"] is False
    assert {p["field"] for p in report["problems"]} == {
        "event_type",
        "event_tag",
        "intervals",
        "start_at",
    }
    assert report["files_with_problems"] == 1
    code, out, _ = run("validate", "jobs", "--format", "github")
    assert "::error file=jobs/bad.yaml,line=1,col=1,title=bad%3A event_tag::is required" in out
    code, out, _ = run("validate", "jobs", "--format", "markdown")
    assert code == 1 and "Invalid: 4 problem(s) in 1 of 6 file(s)" in out


def test_unknown_target_is_one_line(work: Path) -> None:
    code, _, err = run("plan", "jobs", "--target", "ftp://nowhere")
    assert code == 1
    assert err.strip().splitlines() == [
        "error: --target ftp://nowhere: unknown target "
        "(use sqlite:///PATH, snapshot:FILE or an https:// URL)"
    ]


def test_help_documents_exit_codes() -> None:
    code, out, _ = run("--help")
    assert code == 0 and "Exit codes:" in out and "2    plan --detailed-exitcode" in out


def test_markdown_plan_for_a_pull_request(work: Path) -> None:
    run("apply", "jobs", "--auto-approve")
    manifest = work / "jobs" / "billing" / "jobs.yaml"
    manifest.write_text(manifest.read_text().replace("intervals: 1h30m", "intervals: 30m"))
    (work / "jobs" / "cache-warm.yaml").unlink()
    code, out, _ = run("plan", "jobs", "--format", "markdown")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "<!-- reconciler-report -->"
    assert lines[1] == "### Merging will update 1 job; 1 orphan left live (remove by hand)"
    assert lines[2].startswith("reconciler plan · ")
    assert lines[4] == "**Plan: 0 to create, 1 to update, 4 unchanged, 1 orphan.**"
    # Problems come before changes.
    assert out.index("#### Problems") < out.index("| job | action |")
    assert "| `billing.retry_failed` | update | intervals |" in out
    assert "| `warm_catalogue_cache` | orphan |" in out
    block = out.split("```diff\n", 1)[1].split("\n```", 1)[0].splitlines()
    assert block[:2] == ["- intervals: 5400000 (1h30m)", "+ intervals: 1800000 (30m)"]
    assert block[2].startswith("- schedule: every 1h30m, unlimited; next: ")
    assert block[3].startswith("+ schedule: every 30m, unlimited; next: ")


def test_max_changes_guards_against_a_mass_change(work: Path) -> None:
    code, _, err = run("apply", "jobs", "--auto-approve", "--max-changes", "5")
    assert code == 1
    assert "error: the plan writes 6 jobs, more than --max-changes 5; nothing was changed" in err
    assert not (work / ".reconciler").exists()
    code, out, _ = run("apply", "jobs", "--auto-approve", "--max-changes", "6")
    assert code == 0 and "Apply: 6 created" in out
