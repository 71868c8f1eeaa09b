"""Fixtures: real local Ductape servers on 127.0.0.1. Helpers live in the testing package."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from testing.process import EXAMPLES, TEST_NOW
from testing.server import RunningServer, ServerFactory, login, running_server

# Whole modules whose every test carries a marker (declared in pyproject.toml; the README's
# Tests section gives the fast loop that leaves them out). A single test carries its own mark
# in its file. "slow": over about a third of a second on this project's 2-core machine under
# load, most because they start processes, servers or wait by design.
MODULE_MARKERS: dict[str, tuple[str, ...]] = {
    "test_benchmark_smoke.py": ("slow",),
    "test_convergence.py": ("slow",),
    "test_empty_target.py": ("slow", "process"),
    "test_installed.py": ("process",),
    "test_precommit.py": ("slow", "process", "network"),  # pre-commit builds from PyPI
    "test_sdk.py": ("slow", "process", "network"),  # ductape-sdk from npm
    "test_serve_process.py": ("slow", "process"),
    "test_signals.py": ("slow", "process"),
    "test_terminal.py": ("process",),
    "test_whole_files.py": ("slow", "process"),
}


# Single tests over about a second, where their module is otherwise quick.
SLOW_TESTS = {
    "test_a_stalled_server_is_named_on_a_terminal_after_two_seconds",
    "test_a_quick_server_gets_no_notice",
    "test_a_merge_applies_the_plan_saved_on_main",
    "test_a_stale_snapshot_or_none_is_said_in_the_comment",
    "test_a_fork_pull_request_is_planned_against_the_snapshot_of_main_and_commented",
    "test_a_saved_plan_gone_stale_before_its_approval_is_refused",
    "test_nightly_drift_opens_the_issue_with_what_moved",
    "test_three_products_of_one_user_log_in_once_per_run",
    "test_products_are_planned_side_by_side_and_reported_in_order",
    "test_the_lines_are_made_as_they_are_read_never_all_held",
    "test_expanded_points_are_generated_not_held",
    "test_the_plain_path_builds_what_the_general_loop_builds",
    "test_a_stop_while_a_batch_waits_reports_it_unknown_never_not_started",
    "test_open_targets_share_a_log_in_only_with_the_same_credentials",
    "test_streamed_circles_equal_sorting_every_point",
    "test_a_reader_that_goes_away_is_one_line_and_exit_1",
    # Over about 0.4 s each, with a quicker test of the same module left in the fast loop.
    "test_every_collision_group_really_meets",
    "test_figures_equal_listing_every_run",
    "test_products_of_one_user_read_the_product_list_and_each_app_once",
    "test_targets_asking_at_once_wait_for_one_list_rather_than_each_sending_it",
    "test_an_invalid_manifest_is_still_explained",
    "test_json_of_every_command_matches_its_schema",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for name in MODULE_MARKERS.get(item.path.name, ()):
            item.add_marker(name)
        if item.name.split("[")[0] in SLOW_TESTS:
            item.add_marker("slow")


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test sees the same "now", whatever the date it runs on (see reconciler.clock).

    Set in the environment, so the CLI run in-process and every subprocess see it too.
    """
    monkeypatch.setenv("RECONCILER_NOW", TEST_NOW)
    return TEST_NOW


@pytest.fixture
def ductape_server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start servers on demand: ``factory(seed_path=..., max_body_bytes=..., db_path=...)``."""
    with ExitStack() as stack:
        count = 0

        def start(**options: Any) -> RunningServer:
            nonlocal count
            count += 1
            db_path = options.pop("db_path", tmp_path / f"ductape-{count}.db")
            manager: AbstractContextManager[RunningServer] = running_server(db_path, **options)
            return stack.enter_context(manager)

        yield start


@pytest.fixture
def ductape_server(ductape_server_factory: ServerFactory) -> RunningServer:
    """The server seeded from examples/seed.yaml (product "shop")."""
    return ductape_server_factory()


@pytest.fixture
def token(ductape_server: RunningServer) -> str:
    """A token for the seeded user of ``ductape_server``."""
    s = ductape_server
    with httpx.Client(base_url=s.base_url, timeout=10) as client:
        return login(client, s.user_id, s.workspace_id, s.private_key)


@pytest.fixture
def authed(ductape_server: RunningServer, token: str) -> Iterator[httpx.Client]:
    """A client that sends ``token`` as a Bearer token."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=ductape_server.base_url, headers=headers, timeout=10) as c:
        yield c


@pytest.fixture
def examples_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository holding a copy of the examples as ``jobs/``, as the working directory,
    with no target, product, colour choice or commit taken from the environment."""
    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    (tmp_path / ".git").mkdir()  # a repository: .reconciler.yaml is looked for up to here
    monkeypatch.chdir(tmp_path)
    for name in ("NO_COLOR", "RECONCILER_TARGET", "DUCTAPE_PRODUCT", "GITHUB_SHA"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path
