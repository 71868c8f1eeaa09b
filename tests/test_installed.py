"""The installed console script, run as a user runs it: a real process, another directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testing.process import SCRIPT, clean_env, run_script

EXAMPLES = Path(__file__).parent.parent / "examples" / "jobs"


@pytest.fixture
def env() -> dict[str, str]:
    return clean_env(NO_COLOR="1")


@pytest.mark.slow
def test_console_script_plans_applies_and_converges(tmp_path: Path, env: dict[str, str]) -> None:
    assert SCRIPT.exists(), "install the package first (see README)"
    shutil.copytree(EXAMPLES, tmp_path / "jobs")

    def reconciler(*args: str) -> subprocess.CompletedProcess[str]:
        return run_script(list(args), tmp_path, env)

    first = reconciler("plan", "jobs", "--detailed-exitcode")
    assert first.returncode == 2, first.stderr
    assert "Plan: 6 to create, 0 to update, 0 unchanged." in first.stdout
    refused = reconciler("apply", "jobs")
    assert refused.returncode == 1 and "--auto-approve" in refused.stderr
    applied = reconciler("apply", "jobs", "--auto-approve")
    assert applied.returncode == 0, applied.stderr
    again = reconciler("plan", "jobs", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout
    (tmp_path / "jobs" / "bad.yaml").write_text("name: [\n")
    broken = reconciler("plan", "jobs")
    assert broken.returncode == 1
    assert "Traceback" not in broken.stderr
    assert broken.stderr.splitlines()[0].startswith("jobs/bad.yaml:2:1: -: -: YAML syntax error")


def test_installed_package_finds_its_schema(tmp_path: Path, env: dict[str, str]) -> None:
    """importlib.resources, from a directory where the source tree is not on sys.path."""
    code = (
        "import json, importlib.resources as r; from reconciler.schema import job_schema; "
        "p = r.files('reconciler').joinpath('schemas', 'job.schema.json'); "
        "print(p.is_file(), job_schema()['title'])"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "True Ductape scheduled job"
