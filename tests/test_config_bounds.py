"""A repository's .reconciler.yaml points only inside the repository."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from testing.cli import invoke
from testing.process import EXAMPLES


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES, root / "jobs")
    (root / ".git").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "planted.yaml").write_text((EXAMPLES / "cache-warm.yaml").read_text())
    monkeypatch.chdir(root)
    return root


@pytest.mark.parametrize(
    ("setting", "shown"),
    [
        ('paths: ["/"]', "paths: '/'"),
        ("paths: [../outside]", "paths: '../outside'"),
        ("products: {a: {paths: [jobs]}, b: {paths: [../outside]}}", "products.b: paths:"),
        ("target: sqlite:///../outside/live.db", "target: '../outside/live.db'"),
        ("target: sqlite:////tmp/live.db", "target: '/tmp/live.db'"),
        ("target: snapshot:../outside/live.json", "target: '../outside/live.json'"),
    ],
)
def test_paths_and_files_outside_the_repository_are_refused(
    repo: Path, setting: str, shown: str
) -> None:
    (repo / ".reconciler.yaml").write_text(setting + "\n")
    code, out, err = invoke("plan")
    assert code == 1
    assert len(err.splitlines()) == 1 and shown in err and "is outside the repository" in err
    assert "planted" not in out + err
    assert not (repo.parent / "outside" / "live.db").exists()


def test_a_link_that_leaves_the_repository_is_outside(repo: Path) -> None:
    (repo / "escape").symlink_to(repo.parent / "outside")
    (repo / ".reconciler.yaml").write_text("paths: [escape]\n")
    code, _, err = invoke("validate")
    assert code == 1 and "'escape' is outside the repository" in err


def test_paths_inside_are_read_from_the_files_own_directory(repo: Path) -> None:
    (repo / "jobs" / ".reconciler.yaml").write_text("paths: [.]\ntarget: sqlite:///../live.db\n")
    code, _out, err = invoke("apply", "--auto-approve", "jobs")
    assert code == 0, err
    assert (repo / "live.db").is_file()


def test_a_configuration_that_links_outside_the_repository_is_refused(repo: Path) -> None:
    outside = repo.parent / "outside" / "config.yaml"
    outside.write_text("owns: [nothing_*]\n")
    (repo / ".reconciler.yaml").symlink_to(outside)
    code, _, err = invoke("plan", "jobs")
    assert code == 1
    assert err == "error: .reconciler.yaml is a link to a file outside the repository; refused\n"


@pytest.mark.parametrize(
    ("setting", "error"),
    [
        (
            "paths: [jobs]\ntargt: sqlite:///live.db\n",
            "2:1: unknown setting 'targt'; did you mean 'target'?",
        ),
        (
            "schedule:\n  colide: 90s\n",
            "2:3: schedule: unknown setting 'colide'; did you mean 'collide'?",
        ),
        (
            "schedule:\n  collide: 1H\n",
            "2:12: schedule.collide: '1H' is not a duration; did you mean '1h'?",
        ),
        (
            "schedule: {collide: 5 minutes}\n",
            "1:21: schedule.collide: '5 minutes' is not a duration; did you mean '5m'?",
        ),
        (
            "target: 127.0.0.1:8080\n",
            "1:9: target: 127.0.0.1:8080: unknown target; did you mean 'http://127.0.0.1:8080'?",
        ),
        (
            "target: sqlite://live.db\n",
            "1:9: target: sqlite://live.db: unknown target; did you mean 'sqlite:///live.db'?",
        ),
        (
            "products:\n  shop:\n    paths: [jobs]\n    target: localhost:8080\n",
            "4:13: products.shop: target: localhost:8080: unknown target; "
            "did you mean 'http://127.0.0.1:8080'?",
        ),
        (
            "products:\n  shop:\n    pathz: [jobs]\n",
            "3:5: products.shop: unknown setting 'pathz'; did you mean 'paths'?",
        ),
        (
            "ignore_fields: [interval]\n",
            "1:16: ignore_fields: 'interval' is not a job field (did you mean 'intervals'?)",
        ),
        # Nothing close: the known keys; a secret's name: where credentials belong instead.
        (
            "colour: red\n",
            "1:1: unknown setting 'colour' (known: paths, product, target, owns, "
            "ignore_fields, strict, schedule, products)",
        ),
        (
            "api_token: x\n",
            "1:1: unknown setting 'api_token'; credentials belong in DUCTAPE_* environment "
            "variables, never in a file",
        ),
        # A key from the file is untrusted: shown escaped.
        ('"targ\\x1bt": x\n', "1:1: unknown setting 'targ\\x1bt'; did you mean 'target'?"),
    ],
)
def test_a_setting_written_another_way_names_the_one_meant_at_its_place(
    repo: Path, setting: str, error: str
) -> None:
    (repo / ".reconciler.yaml").write_text(setting)
    code, out, err = invoke("plan", "jobs")
    assert (code, out) == (1, "")
    assert err == f"error: .reconciler.yaml:{error}\n"
    assert not (repo / ".reconciler").exists() and not (repo / "live.db").exists()
