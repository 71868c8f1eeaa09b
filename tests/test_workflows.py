"""The workflows and the action: actionlint and zizmor find nothing, and the house rules hold.

actionlint reads action.yml through ci.yml's ``uses: ./`` step (it lints an action's inputs
and outputs where a workflow uses it); zizmor audits action.yml directly. Both run offline.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
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


@pytest.mark.process
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


@pytest.mark.process
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


# -- the github-script steps, run under node -----------------------------------------------
#
# GitHub's API cannot run here. This stand-in keeps only the state the scripts touch
# (comments, issues, labels) and is strict where GitHub may be: an issue cannot be created
# with a label that does not exist. The scripts run the way actions/github-script runs them:
# the body of an async function given require, github and context.
STAND_IN = r"""
const fs = require('fs');
const [stateFile, scriptFile] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
const bot = { login: 'github-actions[bot]', type: 'Bot' };
const fail = (status) => Object.assign(new Error(`HTTP ${status}`), { status });
const ok = (data) => ({ status: 200, data });
const issues = {
  async listComments({ issue_number }) {
    return ok(state.comments.filter((c) => c.issue_number === issue_number));
  },
  async createComment({ issue_number, body }) {
    const comment = { id: state.next++, issue_number, body, user: bot };
    state.comments.push(comment);
    return ok(comment);
  },
  async updateComment({ comment_id, body }) {
    const comment = state.comments.find((c) => c.id === comment_id);
    if (!comment) throw fail(404);
    comment.body = body;
    return ok(comment);
  },
  async listForRepo({ state: wanted = 'open', labels = '' }) {
    const names = labels ? labels.split(',') : [];
    return ok(state.issues.filter((i) => (wanted === 'all' || i.state === wanted)
      && names.every((n) => i.labels.some((l) => l.name === n))));
  },
  async update({ issue_number, ...fields }) {
    const issue = state.issues.find((i) => i.number === issue_number);
    if (!issue) throw fail(404);
    for (const key of ['title', 'body', 'state', 'state_reason']) {
      if (key in fields) issue[key] = fields[key];
    }
    return ok(issue);
  },
  async create({ title, body, labels = [] }) {
    if (!labels.every((name) => state.labels.some((l) => l.name === name))) throw fail(422);
    const issue = { number: state.next++, title, body, state: 'open', user: bot,
      labels: labels.map((name) => ({ name })) };
    state.issues.push(issue);
    return ok(issue);
  },
  async getLabel({ name }) {
    const label = state.labels.find((l) => l.name === name);
    if (!label) throw fail(404);
    return ok(label);
  },
  async createLabel({ name, color, description }) {
    if (state.labels.some((l) => l.name === name)) throw fail(422);
    state.labels.push({ name, color, description });
    return ok(state.labels.at(-1));
  },
};
const github = {
  rest: { issues },
  paginate: async (method, params) => (await method(params)).data,
};
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const script = fs.readFileSync(scriptFile, 'utf8');
new AsyncFunction('require', 'github', 'context', script)(require, github, state.context)
  .then(() => fs.writeFileSync(stateFile, JSON.stringify(state)))
  .catch((error) => { console.error(error); process.exit(1); });
"""
CONTEXT = {
    "repo": {"owner": "team", "repo": "jobs"},
    "issue": {"owner": "team", "repo": "jobs", "number": 7},
    "runId": 1234,
    "serverUrl": "https://github.com",
    "ref": "refs/heads/main",
    "payload": {"pull_request": {"head": {"sha": "f" * 40}}},
}


def github_script(workflow: str) -> str:
    steps = [
        step
        for job in load(ROOT / "examples" / "workflows" / workflow)["jobs"].values()
        for step in job["steps"]
        if str(step.get("uses", "")).startswith("actions/github-script@")
    ]
    (step,) = steps
    script = str(step["with"]["script"])
    # The report reaches the script as a file named in env, never pasted into its source.
    assert "${{" not in script
    return script


@dataclass
class GitHubStandIn:
    """The stand-in's state between runs of a script: comments, issues, labels."""

    tmp_path: Path
    state: dict[str, Any] = field(
        default_factory=lambda: {
            "comments": [],
            "issues": [],
            "labels": [],
            "next": 100,
            "context": CONTEXT,
        }
    )

    def run(self, workflow: str, report: str, **env: str) -> None:
        node = shutil.which("node")
        assert node, "node runs the github-script steps; it is on every machine of this kind"
        (self.tmp_path / "stand-in.js").write_text(STAND_IN)
        (self.tmp_path / "script.js").write_text(github_script(workflow))
        (self.tmp_path / "report.md").write_text(report)
        state_file = self.tmp_path / "state.json"
        state_file.write_text(json.dumps(self.state))
        done = subprocess.run(
            [node, "stand-in.js", str(state_file), "script.js"],
            cwd=self.tmp_path,
            env={"PATH": os.environ["PATH"], "REPORT": str(self.tmp_path / "report.md"), **env},
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stderr
        self.state = json.loads(state_file.read_text())

    def comments(self) -> list[dict[str, Any]]:
        return list(self.state["comments"])

    def issues(self, state: str = "open") -> list[dict[str, Any]]:
        return [i for i in self.state["issues"] if i["state"] == state]


PLAN = "plan-on-pull-request.yml"
DRIFT = "nightly-drift.yml"


@pytest.mark.slow
@pytest.mark.process
def test_the_plan_comment_is_written_once_then_edited(tmp_path: Path) -> None:
    gh = GitHubStandIn(tmp_path)
    # A person quoting the marker: their comment is never edited.
    gh.state["comments"].append(
        {
            "id": 1,
            "issue_number": 7,
            "body": "<!-- reconciler-plan --> me",
            "user": {"type": "User"},
        }
    )
    gh.run(PLAN, "#### reconciler: Plan: 6 to create\n")
    gh.run(PLAN, "#### reconciler: Plan: 1 to update\n")
    gh.run(PLAN, "#### reconciler: Plan: no changes\n")
    human, mine = gh.comments()
    assert human["body"] == "<!-- reconciler-plan --> me"
    assert mine["body"].startswith("<!-- reconciler-plan -->\n#### reconciler: Plan: no changes")
    assert "runs/1234" in mine["body"]


@pytest.mark.process
def test_a_plan_too_long_for_a_comment_is_cut(tmp_path: Path) -> None:
    gh = GitHubStandIn(tmp_path)
    gh.run(PLAN, "+ create x\n" * 20_000)
    (comment,) = gh.comments()
    assert len(comment["body"]) < 65_536
    assert "the whole plan is in the run summary" in comment["body"]


@pytest.mark.slow
@pytest.mark.process
def test_drift_opens_one_issue_updates_it_and_closes_it_in_sync(tmp_path: Path) -> None:
    gh = GitHubStandIn(tmp_path)
    # Someone else's issue with the same label is not this workflow's. No label "drift"
    # exists yet: the script creates it on first use.
    gh.state["issues"].append(
        {
            "number": 5,
            "title": "other",
            "body": "not ours",
            "state": "open",
            "labels": [{"name": "drift"}],
        }
    )
    gh.run(DRIFT, "nothing to see\n", HAS_DRIFT="false")
    assert [i["number"] for i in gh.issues()] == [5]

    gh.run(DRIFT, "#### drift: 1 job differs\n", HAS_DRIFT="true")
    gh.run(DRIFT, "#### drift: 2 jobs differ\n", HAS_DRIFT="true")
    other, ours = gh.issues()
    assert other["body"] == "not ours"
    assert ours["labels"] == [{"name": "drift"}]
    assert "#### drift: 2 jobs differ" in ours["body"]
    assert [label["name"] for label in gh.state["labels"]] == ["drift"]

    gh.run(DRIFT, "in sync\n", HAS_DRIFT="false")
    assert [i["number"] for i in gh.issues()] == [5]
    (closed,) = gh.issues("closed")
    assert closed["number"] == ours["number"] and closed["state_reason"] == "completed"
    assert any(c["issue_number"] == ours["number"] for c in gh.comments())

    # Drift again later: a new issue, the closed one stays closed.
    gh.run(DRIFT, "#### drift: again\n", HAS_DRIFT="true")
    assert len(gh.issues()) == 2 and len(gh.issues("closed")) == 1
