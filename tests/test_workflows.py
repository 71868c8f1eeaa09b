"""The workflows and the action: actionlint and zizmor find nothing, and the house rules hold.

actionlint reads action.yml through ci.yml's ``uses: ./`` step (it lints an action's inputs
and outputs where a workflow uses it); zizmor audits action.yml directly. Both run offline.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ACTION = ROOT / "action.yml"
CI = ROOT / ".github" / "workflows" / "ci.yml"
WORKFLOWS = sorted([CI, *(ROOT / "examples" / "workflows").glob("*.yml")])
HOOKS = ROOT / ".pre-commit-hooks.yaml"

# Every action a workflow or the action uses, pinned to a commit checked against the tag in
# the action's own repository (2026-11-30). Each is a node24 release: GitHub removed node20
# from its runners in September 2026 (checkout v5, setup-python v6, github-script v8 and up).
KNOWN_PINS = {
    "actions/checkout": {"3d3c42e5aac5ba805825da76410c181273ba90b1": "v7.0.1"},
    "actions/setup-python": {"5fda3b95a4ea91299a34e894583c3862153e4b97": "v7.0.0"},
    "actions/github-script": {"ed597411d8f924073f98dfc5c65a23a2325f34cd": "v8.0.0"},
}
# The examples use the reconciler action from its own repository, whose owner and release the
# user fills in: the all-zero commit is a placeholder no one can mistake for a release.
PLACEHOLDER = ("OWNER/reconciler", "0" * 40)
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?:\s+#\s*(?P<comment>.*))?$")


def run_tool(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def load(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_there_is_something_to_lint() -> None:
    names = {p.name for p in WORKFLOWS}
    assert {
        "ci.yml",
        "plan-on-pull-request.yml",
        "apply-on-merge.yml",
        "nightly-drift.yml",
    } <= names
    assert ACTION.is_file() and HOOKS.is_file()


def test_actionlint_finds_nothing() -> None:
    # shellcheck from its wheel checks every run: script; pyflakes is off (no Python steps),
    # so the result never depends on what else is on PATH.
    done = run_tool(
        [
            str(BIN / "actionlint"),
            "-no-color",
            "-oneline",
            f"-shellcheck={BIN / 'shellcheck'}",
            "-pyflakes=",
            *map(str, WORKFLOWS),
        ]
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_actionlint_reads_the_action_through_ci() -> None:
    """Proof that the lint above covers action.yml: a wrong input name is caught."""
    steps = load(CI)["jobs"]["action"]["steps"]
    assert any(step.get("uses") == "./" for step in steps)


def test_zizmor_finds_nothing() -> None:
    # --offline: no network, so no audit needs a GitHub token; the online-only audits
    # (impostor commits, known-vulnerable actions) are off. The auditor persona reports even
    # low-confidence findings; an accepted one is suppressed in place with its reason.
    done = run_tool(
        [
            str(BIN / "zizmor"),
            "--offline",
            "--persona=auditor",
            "--no-progress",
            "--color=never",
            "--format=plain",
            str(ACTION),
            str(HOOKS),
            *map(str, WORKFLOWS),
        ]
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout, done.stdout


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_known_node24_commit(path: Path) -> None:
    seen = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = USES.match(line)
        if not match:
            continue
        seen += 1
        ref, comment = match["ref"], match["comment"] or ""
        if ref == "./":
            continue
        name, _, sha = ref.partition("@")
        where = f"{path.name}:{number}"
        if (name, sha) == PLACEHOLDER:
            assert comment.startswith("v1"), where
            continue
        assert name in KNOWN_PINS, f"{where}: {name} has no verified pin in KNOWN_PINS"
        assert sha in KNOWN_PINS[name], f"{where}: {sha} is not a verified commit of {name}"
        # The comment names the release, so an update bot and a reviewer can read it.
        assert comment.split()[0] == KNOWN_PINS[name][sha], where
    assert seen, f"{path.name} uses no action"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_and_a_timeout_everywhere(path: Path) -> None:
    workflow = load(path)
    # Nothing granted by default; each job asks for exactly what it needs.
    assert workflow["permissions"] == {}, path.name
    for name, job in workflow["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), f"{path.name}: {name}"
        permissions = job.get("permissions")
        assert isinstance(permissions, dict), f"{path.name}: {name} has no permissions:"
        assert set(permissions.values()) <= {"read", "write", "none"}, f"{path.name}: {name}"
        assert "write-all" not in str(permissions)
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                # No token left in .git/config for later steps to read.
                assert step["with"]["persist-credentials"] is False, f"{path.name}: {name}"


def test_ci_runs_the_supported_pythons_through_ci_run() -> None:
    test = load(CI)["jobs"]["test"]
    assert test["strategy"]["matrix"]["python"] == ["3.10", "3.11", "3.12", "3.13"]
    assert {"run": "bash .ci/run"} in test["steps"]


def test_examples_keep_credentials_in_secrets_and_writes_behind_an_environment() -> None:
    examples = {p.name: load(p) for p in WORKFLOWS if p != CI}
    for name, workflow in examples.items():
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                with_ = step.get("with", {})
                # Credentials are never inputs of the action: inputs may be echoed.
                assert not any("secrets." in str(v) for v in with_.values()), name
                env = step.get("env", {})
                for variable in ("DUCTAPE_USER_ID", "DUCTAPE_WORKSPACE_ID", "DUCTAPE_PRIVATE_KEY"):
                    if variable in env:
                        assert env[variable] == f"${{{{ secrets.{variable} }}}}", name
    apply = examples["apply-on-merge.yml"]
    assert apply["concurrency"]["cancel-in-progress"] is False
    job = apply["jobs"]["apply"]
    assert job["environment"]
    step = next(s for s in job["steps"] if "OWNER/reconciler@" in str(s.get("uses")))
    assert step["with"]["command"] == "apply"
    assert re.search(r"--max-changes \d+", step["with"]["args"])
    drift = examples["nightly-drift.yml"]
    # YAML 1.1 reads the key "on" as true.
    assert drift[True]["schedule"][0]["cron"]
    assert drift["jobs"]["drift"]["permissions"] == {"contents": "read", "issues": "write"}
    plan = examples["plan-on-pull-request.yml"]
    assert plan["jobs"]["plan"]["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
    }


@pytest.mark.parametrize(
    ("workflow", "marker", "calls"),
    [
        (
            "plan-on-pull-request.yml",
            "<!-- reconciler-plan -->",
            ["listComments", "updateComment", "createComment"],
        ),
        (
            "nightly-drift.yml",
            "<!-- reconciler-drift -->",
            ["listForRepo", "issues.update", "issues.create", "state: 'closed'"],
        ),
    ],
)
def test_one_comment_or_issue_found_again_by_its_marker(
    workflow: str, marker: str, calls: list[str]
) -> None:
    """The scripts find their earlier comment or issue by a hidden marker and edit it."""
    steps = load(ROOT / "examples" / "workflows" / workflow)
    script = next(
        step["with"]["script"]
        for job in steps["jobs"].values()
        for step in job["steps"]
        if "github-script" in str(step.get("uses"))
    )
    assert marker in script
    for call in calls:
        assert call in script, call
    # The report reaches the script as a file named in env, never pasted into its source.
    assert "${{" not in script
    assert "process.env.REPORT" in script
