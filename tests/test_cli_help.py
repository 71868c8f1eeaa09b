"""The command line's own words: --help names what each option reads from the environment,
and export says when it wrote no schema modeline. Through the real CLI, on real files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from testing.cli import invoke as run
from testing.process import EXAMPLES

CREDENTIALS = ("DUCTAPE_USER_ID", "DUCTAPE_WORKSPACE_ID", "DUCTAPE_PRIVATE_KEY", "DUCTAPE_TOKEN")


@pytest.mark.parametrize("verb", ["plan", "drift", "apply", "schedule", "export", "snapshot"])
def test_help_names_the_environment_variables_each_option_reads(verb: str) -> None:
    code, out, _ = run(verb, "--help")
    assert code == 0
    out = " ".join(out.split())  # click wraps the help to the terminal's width
    assert "[env var: RECONCILER_TARGET]" in out
    assert "[env var: DUCTAPE_PRODUCT]" in out
    for name in (*CREDENTIALS, "RECONCILER_ALLOWED_TARGETS", "RECONCILER_MAX_AGE"):
        assert name in out, name


def test_the_top_help_lists_every_variable_and_colour_names_no_color() -> None:
    code, out, _ = run("--help")
    assert code == 0
    out = " ".join(out.split())
    for name in ("RECONCILER_TARGET", "DUCTAPE_PRODUCT", "DUCTAPE_*", "NO_COLOR"):
        assert name in out, name
    assert "NO_COLOR" in run("plan", "--help")[1]


@pytest.fixture
def applied(examples_repo: Path) -> Path:
    assert run("apply", "jobs", "--auto-approve")[0] == 0
    return examples_repo


def test_export_says_when_it_wrote_no_modeline_and_how_to_get_one(applied: Path) -> None:
    code, out, err = run("export", "--out", "exported")
    assert code == 0, err
    assert out.startswith("Exported 6 job(s) to exported.")
    assert "no schema modeline was written" in err
    assert "reconciler schema --write schemas" in err


def test_export_with_a_schema_copy_says_nothing_of_modelines(applied: Path) -> None:
    assert run("schema", "--write", "schemas")[0] == 0
    code, _, err = run("export", "--out", "exported")
    assert code == 0, err
    assert "modeline" not in err
    text = next((applied / "exported").iterdir()).read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../schemas/job.schema.json\n")


def test_plan_and_snapshot_out_create_the_directories_they_name(applied: Path) -> None:
    code, _, err = run("plan", "jobs", "--out", "build/plans/main.json")
    assert code == 0, err
    assert (applied / "build" / "plans" / "main.json").is_file()
    code, _, err = run("snapshot", "--target", "sqlite:///.reconciler/local.db",
                       "--out", "build/snapshots/live.json")  # fmt: skip
    assert code == 0, err
    assert (applied / "build" / "snapshots" / "live.json").is_file()


def test_the_comment_header_names_the_commit_and_paths_planned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    monkeypatch.delenv("RECONCILER_TARGET", raising=False)
    git = ["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t"]
    for argv in (["init", "-q"], ["add", "."], ["commit", "-qm", "jobs"]):
        subprocess.run([*git, *argv], check=True, cwd=tmp_path)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.strip()
    code, out, err = run("plan", "jobs", "--format", "markdown")
    assert code == 0, err
    header = out.splitlines()[2]
    assert f"commit `{head[:12]}`" in header and "paths `jobs`" in header
    sha = "ab" * 20
    monkeypatch.setenv("GITHUB_SHA", sha)
    assert f"commit `{sha[:12]}`" in run("plan", "jobs", "--format", "markdown")[1]


def test_quiet_keeps_the_summary_and_problems_through_the_cli(applied: Path) -> None:
    manifest = applied / "jobs" / "billing" / "jobs.yaml"
    manifest.write_text(manifest.read_text().replace("intervals: 1h30m", "intervals: 30m"))
    code, loud, _ = run("plan", "jobs", "--only", "billing.*", "--only", "nomatch")
    assert code == 0 and "~ update billing.retry_failed" in loud
    for verb in ("plan", "drift"):
        code, out, err = run(verb, "jobs", "--quiet", "--only", "billing.*", "--only", "nomatch")
        assert "billing.retry_failed" not in out, verb  # no per-job lines
        assert "nomatch" in out + err, verb  # the problems stay
    assert "Plan: 0 to create, 1 to update" in run("plan", "jobs", "-q")[1]


def test_validate_against_a_target_without_a_catalogue_says_nothing_was_checked(
    applied: Path,
) -> None:
    code, _, err = run("validate", "jobs", "--target", "sqlite:///.reconciler/local.db")
    assert code == 0
    assert "has no catalogue: no event_tag was checked" in err
    assert run("validate", "jobs", "--target", "sqlite:///.reconciler/local.db", "--strict")[0] == 1
    assert "catalogue" not in run("validate", "jobs")[2]  # no target: nothing to say


def test_quiet_and_verbose_together_is_a_usage_error(applied: Path) -> None:
    code, _, err = run("plan", "jobs", "-q", "-v")
    assert code == 1 and "give one of them" in err


def test_a_target_error_names_where_the_target_was_written(
    applied: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run("plan", "jobs", "--target", "sqlite:x.db")
    assert code == 1 and err.startswith("error: --target sqlite:x.db: unknown target")
    monkeypatch.setenv("RECONCILER_TARGET", "sqlite:x.db")
    code, _, err = run("plan", "jobs")
    assert code == 1 and err.startswith("error: RECONCILER_TARGET sqlite:x.db: unknown target")
    monkeypatch.delenv("RECONCILER_TARGET")
    for spec in ("sqlite:///", "snapshot:"):
        (applied / ".reconciler.yaml").write_text(f'target: "{spec}"\n')
        code, _, err = run("plan", "jobs")  # was a crash (ValueError in relpath)
        assert (
            code == 1
            and err == f"error: target: in .reconciler.yaml {spec}: no file path after {spec}\n"
        )
