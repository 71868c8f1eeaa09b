"""An empty target is an error, and credentials without a target never fall back to the local
file: a green apply that never reached Ductape is the failure this guards against."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from testing.process import EXAMPLES, clean_env, run_script

CREDENTIALS = {
    "DUCTAPE_USER_ID": "a" * 24,
    "DUCTAPE_WORKSPACE_ID": "b" * 24,
    "DUCTAPE_PRIVATE_KEY": "the-key-that-must-stay-home",
    "DUCTAPE_TOKEN": "a-token-that-must-stay-home",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    return tmp_path


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--target", ""], {}),
        (["--target", "  "], CREDENTIALS),
        ([], {"RECONCILER_TARGET": ""}),
        ([], {"RECONCILER_TARGET": "", **CREDENTIALS}),
    ],
    ids=["empty-flag", "blank-flag-with-credentials", "empty-variable", "empty-variable-with-keys"],
)
def test_an_empty_target_is_a_usage_error(repo: Path, args: list[str], env: dict[str, str]) -> None:
    done = run_script(["apply", "jobs", "--auto-approve", *args], repo, clean_env(**env))
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        "error: the target is empty (--target or RECONCILER_TARGET): name one, such as "
        "https://api.ductape.app or sqlite:///.reconciler/local.db, or unset it"
    ]
    assert not (repo / ".reconciler").exists()
    assert "the-key" not in done.stdout + done.stderr


@pytest.mark.parametrize("command", ["plan", "apply", "drift", "export"])
@pytest.mark.parametrize("variable", sorted(CREDENTIALS))
def test_credentials_without_a_target_refuse_the_local_file(
    repo: Path, command: str, variable: str
) -> None:
    args = {"apply": ["jobs", "--auto-approve"], "export": ["--out", "out"]}.get(command, ["jobs"])
    done = run_script([command, *args], repo, clean_env(**{variable: CREDENTIALS[variable]}))
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"error: {variable} is set but no target is named: pass --target (or "
        "RECONCILER_TARGET) https://api.ductape.app, or sqlite:///.reconciler/local.db to use "
        "the local file"
    ]
    assert not (repo / ".reconciler").exists() and not (repo / "out").exists()


def test_the_local_file_named_outright_still_works_with_credentials(repo: Path) -> None:
    target = ["--target", "sqlite:///.reconciler/local.db"]
    done = run_script(["apply", "jobs", "--auto-approve", *target], repo, clean_env(**CREDENTIALS))
    assert done.returncode == 0, done.stderr
    assert (repo / ".reconciler" / "local.db").is_file()


def test_the_apply_summary_names_the_target_it_wrote_to(repo: Path) -> None:
    target = ["--target", "sqlite:///.reconciler/local.db"]
    done = run_script(["apply", "jobs", "--auto-approve", *target], repo, clean_env())
    assert done.returncode == 0, done.stderr
    assert (
        "Apply: 6 created, 0 updated, 0 failed. Target: sqlite:///.reconciler/local.db "
        "(product default)." in done.stdout
    )
