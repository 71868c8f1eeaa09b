"""The pre-commit hook, used as a team uses it: a git repository of manifests, pre-commit run.

The hook repository is a copy of this project committed at a path named after its content,
so that pre-commit's environment for it (PRE_COMMIT_HOME under the temp directory) is built
once and reused until the project changes: the first run installs reconciler (some seconds),
later ones take about one.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.process import clean_env

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EXAMPLES = ROOT / "examples" / "jobs"
CACHE = Path(tempfile.gettempdir()) / "reconciler-test-precommit"
HOOK = "reconciler-validate"
# What pip needs to build and install the package, and the hook's definition.
HOOK_REPO_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml")

# Commits with fixed names and dates: the same files give the same commit, and pre-commit
# keys its environments on (repository, commit).
GIT_ENV = {
    "GIT_AUTHOR_NAME": "reconciler tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_COMMITTER_NAME": "reconciler tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        env=clean_env(**GIT_ENV),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return done.stdout.strip()


def project_files() -> list[Path]:
    package = [
        p
        for p in sorted((ROOT / "reconciler").rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]
    return [ROOT / name for name in HOOK_REPO_FILES] + package


@pytest.fixture(scope="module")
def hook_repo() -> tuple[Path, str]:
    """This project as a committed git repository; its path and commit."""
    files = project_files()
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    target = CACHE / f"repo-{digest.hexdigest()[:16]}"
    if not (target / ".git").is_dir():
        CACHE.mkdir(parents=True, exist_ok=True)
        building = CACHE / f"building-{uuid.uuid4().hex}"
        for path in files:
            copy = building / path.relative_to(ROOT)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)
        git(building, "init", "-q")
        git(building, "add", "-A")
        git(building, "commit", "-q", "-m", "reconciler, as a hook repository")
        try:
            building.rename(target)
        except OSError:  # another run built the same content first
            shutil.rmtree(building)
    return target, git(target, "rev-parse", "HEAD")


@pytest.fixture
def manifests(tmp_path: Path) -> Iterator[Path]:
    """A team's repository: two valid manifests under jobs/, staged."""
    repo = tmp_path / "team"
    (repo / "jobs").mkdir(parents=True)
    shutil.copy(EXAMPLES / "cache-warm.yaml", repo / "jobs" / "a.yaml")
    shutil.copy(EXAMPLES / "reports" / "nightly.yaml", repo / "jobs" / "b.yaml")
    git(repo, "init", "-q")
    (repo / ".reconciler.yaml").write_text("paths: [jobs]\n")
    git(repo, "add", "-A")
    yield repo


def pre_commit(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(
        **GIT_ENV,
        PRE_COMMIT_HOME=str(CACHE / "home"),
        PIP_CACHE_DIR=str(CACHE / "pip"),
        PRE_COMMIT_COLOR="never",
    )
    return subprocess.run(
        [str(BIN / "pre-commit"), *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def duplicate(repo: Path) -> None:
    """A third file that repeats a.yaml's tag: only seen with every manifest at once."""
    shutil.copy(repo / "jobs" / "a.yaml", repo / "jobs" / "c.yaml")
    git(repo, "add", "-A")


def test_try_repo_passes_on_valid_manifests(manifests: Path, hook_repo: tuple[Path, str]) -> None:
    path, commit = hook_repo
    done = pre_commit(manifests, "try-repo", str(path), HOOK, "--ref", commit, "--all-files")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validate Ductape job manifests" in done.stdout
    assert "Passed" in done.stdout


def test_try_repo_fails_on_a_duplicate_tag_with_file_and_line(
    manifests: Path, hook_repo: tuple[Path, str]
) -> None:
    path, commit = hook_repo
    duplicate(manifests)
    done = pre_commit(manifests, "try-repo", str(path), HOOK, "--ref", commit, "--all-files")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Failed" in done.stdout
    # "./jobs/..." when validate walks ".", "jobs/..." when paths: names jobs.
    assert re.search(
        r"^(\./)?jobs/c\.yaml:3:6: warm_catalogue_cache: tag: duplicate tag "
        r"'warm_catalogue_cache', also defined at (\./)?jobs/a\.yaml:3:6$",
        done.stdout,
        re.M,
    ), done.stdout


def test_a_config_with_args_checks_every_manifest_when_one_file_changes(
    manifests: Path, hook_repo: tuple[Path, str]
) -> None:
    """The README's lines: args name the manifests; other YAML in the repository is left be."""
    path, commit = hook_repo
    (manifests / "compose.yaml").write_text("services: {web: {image: nginx}}\n")
    (manifests / ".pre-commit-config.yaml").write_text(
        f"repos:\n"
        f"  - repo: {path}\n"
        f"    rev: {commit}\n"
        f"    hooks:\n"
        f"      - id: {HOOK}\n"
        f"        args: [jobs]\n"
    )
    git(manifests, "add", "-A")
    passed = pre_commit(manifests, "run", "--all-files")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    duplicate(manifests)
    # Only c.yaml is given; pass_filenames: false still validates all of jobs/ at once.
    failed = pre_commit(manifests, "run", "--files", "jobs/c.yaml")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "jobs/c.yaml:3:6" in failed.stdout
    assert "also defined at jobs/a.yaml:3:6" in failed.stdout
    # A change to no YAML file does not run the hook at all.
    (manifests / "notes.txt").write_text("hello\n")
    git(manifests, "add", "-A")
    skipped = pre_commit(manifests, "run", "--files", "notes.txt")
    assert skipped.returncode == 0
    assert "(no files to check)Skipped" in skipped.stdout


def test_paths_from_the_configuration_leave_other_yaml_alone(
    manifests: Path, hook_repo: tuple[Path, str]
) -> None:
    path, commit = hook_repo
    (manifests / "compose.yaml").write_text("services: {web: {image: nginx}}\n")
    git(manifests, "add", "-A")
    done = pre_commit(manifests, "try-repo", str(path), HOOK, "--ref", commit, "--all-files")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Passed" in done.stdout
