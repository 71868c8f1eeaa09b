"""settings.resolve: flag > environment > .reconciler.yaml > default, without click."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.config import Config, ProductConfig, load_config
from reconciler.errors import UsageError
from reconciler.settings import Asked, resolve
from testing.cli import invoke
from testing.process import EXAMPLES

SHOP = ProductConfig("shop", paths=("jobs/shop",), product="shop-live")
BILLING = ProductConfig("billing", paths=("jobs/billing",), target="https://api.ductape.app")
TWO = Config("repo/.reconciler.yaml", ProductConfig(""), (SHOP, BILLING))


def test_a_flag_beats_the_file_and_the_file_beats_the_default() -> None:
    config = Config("r/.reconciler.yaml", ProductConfig("", ("jobs",), target="sqlite:///a.db"))
    [spec] = resolve(config, Asked("plan"), {})
    assert (spec.target, spec.origin, spec.paths, spec.home) == (
        "sqlite:///a.db",
        "config",
        ("jobs",),
        "r",
    )
    flagged = Asked("plan", target="sqlite:///b.db", target_given=True)
    [spec] = resolve(config, flagged, {})
    assert (spec.target, spec.origin) == ("sqlite:///b.db", "option")
    [spec] = resolve(Config(), Asked("plan", paths=("x",)), {})
    assert (spec.target, spec.origin, spec.home) == (None, "default", "")


def test_an_empty_target_variable_is_an_empty_target_not_the_default() -> None:
    [spec] = resolve(Config(), Asked("plan", paths=("x",)), {"RECONCILER_TARGET": " "})
    assert (spec.target, spec.origin) == ("", "option")


def test_strict_flag_over_the_file() -> None:
    config = Config("c", ProductConfig("", ("jobs",), strict=True))
    assert resolve(config, Asked("plan"), {})[0].strict is True
    assert resolve(config, Asked("plan", strict=False), {})[0].strict is False


def test_every_configured_product_runs_with_its_own_product_and_target() -> None:
    specs = resolve(TWO, Asked("plan", product="from-env"), {})
    assert [(s.name, s.product, s.origin) for s in specs] == [
        ("shop", "shop-live", "default"),
        ("billing", "billing", "config"),
    ]
    with pytest.raises(UsageError, match="pick one with --only-product"):
        resolve(TWO, Asked("plan", product="x", product_from_flag=True), {})
    with pytest.raises(UsageError, match=r"no such product .*; did you mean shop"):
        resolve(TWO, Asked("plan", only_product="shpo"), {})


def test_a_path_on_the_command_line_selects_the_product_it_belongs_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("jobs/shop/sub", "jobs/billing", "elsewhere"):
        (tmp_path / name).mkdir(parents=True)
    [spec] = resolve(TWO, Asked("plan", paths=("jobs/shop/sub",)), {})
    assert (spec.name, spec.product, spec.paths) == ("shop", "shop-live", ("jobs/shop/sub",))
    both = resolve(TWO, Asked("plan", paths=("jobs/billing", "jobs/shop")), {})
    assert [s.name for s in both] == ["shop", "billing"]
    with pytest.raises(
        UsageError, match=r"elsewhere belongs to none of the products .*shop, billing"
    ):
        resolve(TWO, Asked("plan", paths=("elsewhere",)), {})


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES, root / "jobs")
    (root / ".git").mkdir()
    monkeypatch.chdir(root)
    return root


def test_from_a_subdirectory_the_store_is_the_one_beside_the_configuration(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / ".reconciler.yaml").write_text("paths: [jobs]\n")
    code, _, err = invoke("apply", "--auto-approve")
    assert code == 0, err
    monkeypatch.chdir(repo / "jobs" / "billing")
    code, out, err = invoke("drift")
    assert code == 0, out + err
    code, out, _ = invoke("plan")
    assert "6 unchanged" in out
    assert not (repo / "jobs" / "billing" / ".reconciler").exists()


def test_a_configuration_planted_above_a_directory_without_a_repository_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".reconciler.yaml").write_text("owns: [nothing_*]\ntarget: sqlite:///planted.db\n")
    shutil.copytree(EXAMPLES, tmp_path / "work" / "jobs")
    monkeypatch.chdir(tmp_path / "work")
    assert load_config(["jobs"]).path is None
    code, out, err = invoke("plan", "jobs")
    assert code == 0, err
    assert "sqlite:///.reconciler/local.db" in out and "planted" not in out
