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

from testing.actions import parse_outputs
from testing.process import EXAMPLES, SCRIPT, clean_env, run_script
from testing.server import RunningServer

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
    # Checked against the tags of their repositories' snapshots (node24 both).
    "actions/upload-artifact": {"bbbca2ddaa5d8feaa63e36b76fdaad77386f024f": "v7.0.0"},
    "actions/download-artifact": {"3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c": "v8.0.1"},
}
# The examples use the reconciler action from its own repository, whose owner and release the
# user fills in: the all-zero commit is a placeholder no one can mistake for a release.
PLACEHOLDER = ("OWNER/reconciler", "0" * 40)
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?:\s+#\s*(?P<comment>.*))?$")
# git as a fresh runner has it: no user or system configuration of this machine.
GIT_ALONE = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
TEAM = {
    "GIT_AUTHOR_NAME": "A. Teammate",
    "GIT_AUTHOR_EMAIL": "teammate@example.com",
    "GIT_COMMITTER_NAME": "A. Teammate",
    "GIT_COMMITTER_EMAIL": "teammate@example.com",
}


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` (a work tree or a bare repository); its output."""
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ALONE, **TEAM},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


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
    # The job that may push holds no key, and the job with the key may not push.
    accept = drift["jobs"]["accept"]
    assert accept["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert "environment" not in accept and "secrets." not in json.dumps(accept)
    # The pull request's run only reads; the comment is written by the workflow_run that
    # follows it, which checks nothing out.
    plan = examples["plan-on-pull-request.yml"]
    assert plan["jobs"]["plan"]["permissions"] == {"contents": "read", "actions": "read"}
    comment = examples["plan-comment.yml"]
    assert comment[True]["workflow_run"]["workflows"] == [plan["name"]]
    assert comment["jobs"]["comment"]["permissions"] == {
        "actions": "read",
        "pull-requests": "write",
    }
    assert not any(
        "actions/checkout@" in str(step.get("uses"))
        for job in comment["jobs"].values()
        for step in job["steps"]
    )
    # Every job that holds the key names an environment, and only main reaches them.
    for name, workflow in examples.items():
        for job_name, job in workflow["jobs"].items():
            if "secrets." in json.dumps(job):
                assert job.get("environment"), f"{name}: {job_name}"
                assert "github.ref == 'refs/heads/main'" in job.get("if", ""), f"{name}: {job_name}"


# -- the github-script steps, run under node -----------------------------------------------
#
# GitHub's API cannot run here. This stand-in keeps only the state the scripts touch
# (comments, issues, labels, pull requests) and is strict where GitHub may be: an issue cannot
# be created with a label that does not exist; a pull request needs its head branch pushed to
# the repository (the bare git repository the checkout clones, read with real git), at least
# one commit over its base, and no other open pull request from that branch. The scripts run
# the way actions/github-script runs them: the body of an async function given require,
# github and context.
STAND_IN = r"""
const fs = require('fs');
const { execFileSync } = require('child_process');
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
const actions = {
  async listArtifactsForRepo({ name }) {
    const artifacts = state.artifacts.filter((a) => !name || a.name === name);
    return ok({ total_count: artifacts.length, artifacts });
  },
};
// A branch of the repository as git has it: its commit, or null when it was never pushed.
const commitOf = (ref) => {
  try {
    return execFileSync('git', ['--git-dir', state.remote, 'rev-parse', '--verify', '--quiet',
      `refs/heads/${ref}^{commit}`], { encoding: 'utf8' }).trim();
  } catch (error) {
    return null;
  }
};
const ahead = (base, head) => Number(execFileSync('git', ['--git-dir', state.remote, 'rev-list',
  '--count', `refs/heads/${base}..refs/heads/${head}`], { encoding: 'utf8' }).trim());
const pulls = {
  async get({ pull_number }) {
    const pull = state.pulls.find((p) => p.number === pull_number);
    if (!pull) throw fail(404);
    return ok(pull);
  },
  async list({ owner, state: wanted = 'open', head = '', base = '' }) {
    // "head" is "owner:branch"; pulls made by the tests before have no state: open.
    return ok(state.pulls.filter((p) => (wanted === 'all' || (p.state || 'open') === wanted)
      && (!head || `${owner}:${p.head.ref}` === head)
      && (!base || (p.base && p.base.ref === base))));
  },
  async create({ head, base, title, body }) {
    const sha = commitOf(head);
    if (sha === null || commitOf(base) === null) throw fail(422);
    if (ahead(base, head) === 0) throw fail(422); // "No commits between"
    if (state.pulls.some((p) => p.state === 'open' && p.head.ref === head)) throw fail(422);
    const pull = { number: state.next++, title, body, state: 'open', user: bot,
      head: { ref: head, sha }, base: { ref: base } };
    state.pulls.push(pull);
    return ok(pull);
  },
  async update({ pull_number, ...fields }) {
    const pull = state.pulls.find((p) => p.number === pull_number);
    if (!pull) throw fail(404);
    if ('state' in fields && !['open', 'closed'].includes(fields.state)) throw fail(422);
    for (const key of ['title', 'body', 'state']) {
      if (key in fields) pull[key] = fields[key];
    }
    return ok(pull);
  },
};
const github = {
  rest: { issues, actions, pulls },
  paginate: async (method, params) => (await method(params)).data,
};
// What a script says through core: its outputs, its failure, its notes for the log.
state.outputs = {};
state.failed = null;
const core = {
  setOutput: (name, value) => { state.outputs[name] = String(value); },
  setFailed: (message) => { state.failed = String(message); },
  notice: (message) => console.log(`::notice::${message}`),
  warning: (message) => console.log(`::warning::${message}`),
  info: (message) => console.log(message),
};
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const script = fs.readFileSync(scriptFile, 'utf8');
const body = new AsyncFunction('require', 'github', 'context', 'core', script);
body(require, github, state.context, core)
  .then(() => {
    fs.writeFileSync(stateFile, JSON.stringify(state));
    if (state.failed !== null) { console.log(`::error::${state.failed}`); process.exit(1); }
  })
  .catch((error) => { console.error(error); process.exit(1); });
"""
CONTEXT = {
    "repo": {"owner": "team", "repo": "jobs"},
    "issue": {"owner": "team", "repo": "jobs", "number": 7},
    "runId": 1234,
    "serverUrl": "https://github.com",
    "ref": "refs/heads/main",
    "payload": {
        "pull_request": {"number": 7, "head": {"sha": "f" * 40}},
        "workflow_run": {"id": 99, "head_sha": "f" * 40, "html_url": "https://github.com/run/99"},
    },
}


def github_script(workflow: str, job: str | None = None) -> str:
    """The one github-script step of ``workflow`` (of its job ``job``, when it has several)."""
    jobs = load(ROOT / "examples" / "workflows" / workflow)["jobs"]
    steps = [
        step
        for name, one in jobs.items()
        if job in (None, name)
        for step in one["steps"]
        if str(step.get("uses", "")).startswith("actions/github-script@")
    ]
    (step,) = steps
    script = str(step["with"]["script"])
    # The report reaches the script as a file named in env, never pasted into its source.
    assert "${{" not in script
    return script


@dataclass
class GitHubStandIn:
    """The stand-in's state between runs of a script: comments, issues, labels, pulls.

    ``remote``: the repository as GitHub holds it, a bare git repository (the ``repo``
    fixture makes it). A checkout clones it; a push lands in it.
    """

    tmp_path: Path
    state: dict[str, Any] = field(
        default_factory=lambda: {
            "comments": [],
            "issues": [],
            "labels": [],
            "artifacts": [],
            # The pull request of CONTEXT, at the commit its plan run planned.
            "pulls": [{"number": 7, "head": {"sha": "f" * 40}}],
            "next": 100,
            "context": CONTEXT,
        }
    )

    def __post_init__(self) -> None:
        self.state.setdefault("remote", str(self.remote))

    @property
    def remote(self) -> Path:
        return self.tmp_path / "origin.git"

    def run(
        self, workflow: str, report: str, number: str = "7", job: str | None = None, **env: str
    ) -> None:
        """Run the one github-script step of ``workflow`` on ``report``, as the step would
        find it: a file named in REPORT (drift), or in PLAN_DIR beside the pull request's
        number (the plan comment, from the plan run's artifact)."""
        plan_dir = self.tmp_path / "plan"
        plan_dir.mkdir(exist_ok=True)
        (plan_dir / "report.md").write_text(report)
        (plan_dir / "pull-request").write_text(f"{number}\n")
        env = {"REPORT": str(plan_dir / "report.md"), "PLAN_DIR": str(plan_dir), **env}
        done = self.script(github_script(workflow, job), env, self.tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr

    def script(
        self, script: str, env: dict[str, str], cwd: Path
    ) -> subprocess.CompletedProcess[str]:
        """Run a github-script body under node against the stand-in's state."""
        node = shutil.which("node")
        assert node, "node runs the github-script steps; it is on every machine of this kind"
        (cwd / "stand-in.js").write_text(STAND_IN)
        (cwd / "script.js").write_text(script)
        state_file = cwd / "state.json"
        state_file.write_text(json.dumps(self.state))
        done = subprocess.run(
            [node, "stand-in.js", str(state_file), "script.js"],
            cwd=cwd,
            env={"PATH": os.environ["PATH"], **env},
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        if state_file.stat().st_size:
            self.state = json.loads(state_file.read_text())
        return done

    def comments(self) -> list[dict[str, Any]]:
        return list(self.state["comments"])

    def issues(self, state: str = "open") -> list[dict[str, Any]]:
        return [i for i in self.state["issues"] if i["state"] == state]

    def pulls(self, state: str = "open") -> list[dict[str, Any]]:
        """The pull requests the scripts opened (not the tests' own), in ``state``."""
        return [p for p in self.state["pulls"] if p.get("user") and p["state"] == state]


PLAN = "plan-comment.yml"
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
    # It links the plan run that made the report, not its own run.
    assert "https://github.com/run/99" in mine["body"]


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
    gh.run(DRIFT, "nothing to see\n", job="drift", HAS_DRIFT="false")
    assert [i["number"] for i in gh.issues()] == [5]

    gh.run(DRIFT, "#### drift: 1 job differs\n", job="drift", HAS_DRIFT="true")
    gh.run(DRIFT, "#### drift: 2 jobs differ\n", job="drift", HAS_DRIFT="true")
    other, ours = gh.issues()
    assert other["body"] == "not ours"
    assert ours["labels"] == [{"name": "drift"}]
    assert "#### drift: 2 jobs differ" in ours["body"]
    assert [label["name"] for label in gh.state["labels"]] == ["drift"]

    gh.run(DRIFT, "in sync\n", job="drift", HAS_DRIFT="false")
    assert [i["number"] for i in gh.issues()] == [5]
    (closed,) = gh.issues("closed")
    assert closed["number"] == ours["number"] and closed["state_reason"] == "completed"
    assert any(c["issue_number"] == ours["number"] for c in gh.comments())

    # Drift again later: a new issue, the closed one stays closed.
    gh.run(DRIFT, "#### drift: again\n", job="drift", HAS_DRIFT="true")
    assert len(gh.issues()) == 2 and len(gh.issues("closed")) == 1


# -- whole workflows, job by job -------------------------------------------------------------
#
# The stand-in also runs a workflow's jobs as the runner would, for the steps these workflows
# use: checkout (a copy of the test's repository), the reconciler action (action/run.py, as
# action.yml runs it, with the installed script), github-script (under node, above), artifacts
# (kept by the stand-in, with the run that uploaded them) and run: scripts (bash). Expressions
# are evaluated by a small reader of GitHub's syntax: names, strings, ==, !=, !, &&, ||,
# parentheses and the status functions. Environments are the only holders of secrets and admit
# main only; a pull_request run gets no secret at all, as a fork's or Dependabot's does.

REPO_ID, FORK_ID = 1001, 2002
MAIN = "refs/heads/main"
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>\d+)"
    r"|(?P<op>==|!=|&&|\|\||!|\(|\))|(?P<name>[A-Za-z_][\w.\-]*))"
)
STATUS = re.compile(r"\b(?:success|failure|cancelled|always)\(")


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Expression:
    """One GitHub expression, read by recursive descent and evaluated against ``contexts``."""

    def __init__(self, text: str, contexts: dict[str, Any], status: dict[str, bool]) -> None:
        self.tokens: list[tuple[str, str]] = []
        position, text = 0, text.strip()
        while position < len(text):
            match = TOKEN.match(text, position)
            assert match and match.end() > position, f"cannot read {text[position:]!r}"
            kind = next(k for k, v in match.groupdict().items() if v is not None)
            self.tokens.append((kind, match[kind]))
            position = match.end()
        self.contexts, self.status, self.at = contexts, status, 0

    def value(self) -> Any:
        value = self._or()
        assert self.at == len(self.tokens), f"left over: {self.tokens[self.at :]}"
        return value

    def _take(self, op: str) -> bool:
        if self.at < len(self.tokens) and self.tokens[self.at] == ("op", op):
            self.at += 1
            return True
        return False

    def _or(self) -> Any:
        value = self._and()
        while self._take("||"):
            right = self._and()
            value = value if as_text(value) not in ("", "false", "0") else right
        return value

    def _and(self) -> Any:
        value = self._not()
        while self._take("&&"):
            right = self._not()
            value = right if as_text(value) not in ("", "false", "0") else value
        return value

    def _not(self) -> Any:
        if self._take("!"):
            return as_text(self._not()) in ("", "false", "0")
        value = self._primary()
        for op in ("==", "!="):
            if self._take(op):
                same = as_text(value).lower() == as_text(self._primary()).lower()
                return same if op == "==" else not same
        return value

    def _primary(self) -> Any:
        kind, text = self.tokens[self.at]
        self.at += 1
        if (kind, text) == ("op", "("):
            value = self._or()
            assert self._take(")")
            return value
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return int(text)
        assert kind == "name", f"unexpected {text!r}"
        if self._take("("):
            assert self._take(")") and text in self.status, f"unknown function {text}"
            return self.status[text]
        value: Any = self.contexts
        for part in text.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value


@dataclass
class JobRun:
    """What a job left: its result, its outputs, its steps' outcomes and outputs, its log."""

    result: str
    outputs: dict[str, str] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: str = ""
    secrets_seen: dict[str, str] = field(default_factory=dict)


@dataclass
class WorkflowRun:
    run_id: int
    jobs: dict[str, JobRun]


def run_workflow(
    gh: GitHubStandIn,
    workflow: str,
    repo: Path,
    *,
    event: str,
    ref: str = MAIN,
    payload: dict[str, Any] | None = None,
    environments: dict[str, dict[str, str]] | None = None,
    settings: dict[str, str] | None = None,
    now: str | None = None,
    before_job: dict[str, Any] | None = None,
) -> WorkflowRun:
    """Run every job of ``workflow`` in order of ``needs``, as GitHub would for ``event``.

    ``environments``: each environment's secrets (they admit main only). ``settings``: the
    values the user sets in their copy (RECONCILER_TARGET, DUCTAPE_PRODUCT): only names the
    workflow already sets. ``before_job``: a callable per job name, run just before it (to
    change live jobs between the plan and the apply, say).
    """
    document = load(ROOT / "examples" / "workflows" / workflow)
    run_id = gh.state["next"]
    gh.state["next"] += 1
    event_payload = {
        "repository": {"id": REPO_ID, "full_name": "team/jobs"},
        **(payload or {}),
    }
    pull = event_payload.get("pull_request")
    head_sha = pull["head"]["sha"] if pull else "a" * 40
    if pull:
        head_branch, head_repo = pull["head"]["ref"], pull["head"]["repo"]["id"]
    else:
        head_branch, head_repo = ref.removeprefix("refs/heads/"), REPO_ID
    github = {
        "event_name": event,
        "ref": ref,
        "sha": head_sha,
        "event": event_payload,
        "run_id": str(run_id),
        "repository": "team/jobs",
        # A stand-in token: the scripts' API calls go to the stand-in, never to GitHub.
        "token": "ghs_stand-in-token",
    }
    script_context = {
        "repo": {"owner": "team", "repo": "jobs"},
        "issue": {"owner": "team", "repo": "jobs", "number": (pull or {}).get("number")},
        "runId": run_id,
        "serverUrl": "https://github.com",
        "ref": ref,
        "eventName": event,
        "payload": event_payload,
    }
    settings = dict(settings or {})

    def with_settings(env: dict[str, Any] | None) -> dict[str, str]:
        out = {k: str(v) for k, v in (env or {}).items()}
        for name, value in settings.items():
            if name in out:
                out[name] = value
        return out

    workflow_env = with_settings(document.get("env"))
    runs: dict[str, JobRun] = {}
    pending = dict(document["jobs"])
    while pending:
        name, job = next((n, j) for n, j in pending.items() if all(d in runs for d in needs_of(j)))
        del pending[name]
        needs = {d: {"result": runs[d].result, "outputs": runs[d].outputs} for d in needs_of(job)}
        status = {
            "success": all(n["result"] == "success" for n in needs.values()),
            "failure": any(n["result"] == "failure" for n in needs.values()),
            "cancelled": False,
            "always": True,
        }
        contexts = {"github": github, "needs": needs, "env": workflow_env}
        if not condition(job.get("if"), contexts, status):
            runs[name] = JobRun("skipped")
            continue
        if before_job and name in before_job:
            before_job[name]()
        runs[name] = run_job(
            gh,
            name,
            job,
            repo,
            github=github,
            script_context=script_context,
            needs=needs,
            env={**workflow_env, **with_settings(job.get("env"))},
            environments=environments or {},
            artifact_run={
                "id": run_id,
                "repository_id": REPO_ID,
                "head_repository_id": head_repo,
                "head_branch": head_branch,
                "head_sha": head_sha,
            },
            now=now,
        )
    return WorkflowRun(run_id, runs)


def needs_of(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def condition(text: Any, contexts: dict[str, Any], status: dict[str, bool]) -> bool:
    """An ``if:``, with GitHub's implied ``success() &&`` when it names no status function."""
    if text is None:
        return status["success"]
    text = str(text).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    if not STATUS.search(text):
        text = f"success() && ({text})"
    return as_text(Expression(text, contexts, status).value()) not in ("", "false", "0")


def substitute(value: Any, contexts: dict[str, Any]) -> str:
    def one(match: re.Match[str]) -> str:
        status = {"success": True, "failure": False, "cancelled": False, "always": True}
        return as_text(Expression(match[1], contexts, status).value())

    return EXPRESSION.sub(one, as_text(value))


def run_job(
    gh: GitHubStandIn,
    name: str,
    job: dict[str, Any],
    repo: Path,
    *,
    github: dict[str, Any],
    script_context: dict[str, Any],
    needs: dict[str, Any],
    env: dict[str, str],
    environments: dict[str, dict[str, str]],
    artifact_run: dict[str, Any],
    now: str | None,
) -> JobRun:
    base = gh.tmp_path / f"run-{artifact_run['id']}-{name}"
    workspace, temp = base / "workspace", base / "runner-temp"
    workspace.mkdir(parents=True)
    temp.mkdir()
    environment = job.get("environment")
    secrets: dict[str, str] = {}
    if environment:
        assert environment in environments, f"{name}: no environment {environment!r} set up"
        if github["ref"] != MAIN:
            # Deployment branches: main only. GitHub fails the job before any step runs.
            return JobRun("failure", log=f"{environment}: {github['ref']} may not deploy")
        if github["event_name"] != "pull_request":
            secrets = dict(environments[environment])
    run = JobRun("success", secrets_seen=secrets)
    steps: dict[str, dict[str, Any]] = {}
    failed = False
    for number, step in enumerate(job["steps"]):
        contexts = {
            "github": github,
            "needs": needs,
            "env": env,
            "secrets": secrets,
            "steps": steps,
            "runner": {"temp": str(temp)},
        }
        status = {"success": not failed, "failure": failed, "cancelled": False, "always": True}
        step_id = step.get("id", f"step-{number}")
        if not condition(step.get("if"), contexts, status):
            steps[step_id] = {"outcome": "skipped", "conclusion": "skipped", "outputs": {}}
            continue
        step_env = {**env, **{k: substitute(v, contexts) for k, v in step.get("env", {}).items()}}
        inputs = {k: substitute(v, contexts) for k, v in step.get("with", {}).items()}
        ok, outputs, log = run_step(
            gh, step, inputs, step_env, workspace, temp, repo, script_context, artifact_run, now
        )
        run.log += log
        steps[step_id] = {
            "outcome": "success" if ok else "failure",
            "conclusion": "success" if ok else "failure",
            "outputs": outputs,
        }
        failed = failed or not ok
    run.steps = steps
    run.result = "failure" if failed else "success"
    contexts = {"steps": steps, "github": github, "needs": needs, "env": env}
    run.outputs = {k: substitute(v, contexts) for k, v in job.get("outputs", {}).items()}
    return run


def run_step(
    gh: GitHubStandIn,
    step: dict[str, Any],
    inputs: dict[str, str],
    env: dict[str, str],
    workspace: Path,
    temp: Path,
    repo: Path,
    script_context: dict[str, Any],
    artifact_run: dict[str, Any],
    now: str | None,
) -> tuple[bool, dict[str, str], str]:
    """Run one step; (passed, outputs, log)."""
    uses = str(step.get("uses", ""))
    action = uses.partition("@")[0]
    output_file, summary = temp / "github-output", temp / "step-summary"
    output_file.write_text("")
    process_env = clean_env(
        GITHUB_ACTIONS="true",
        GITHUB_REF=script_context["ref"],
        GITHUB_EVENT_NAME=script_context["eventName"],
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_OUTPUT=str(output_file),
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_SERVER_URL="https://github.com",
        GITHUB_REPOSITORY="team/jobs",
        RUNNER_TEMP=str(temp),
        **GIT_ALONE,
        **({"RECONCILER_NOW": now} if now else {}),
        **env,
    )
    if action == "actions/checkout":
        if gh.remote.is_dir():
            # What actions/checkout leaves: a git repository at the commit, its origin the
            # repository (here the bare one), no credentials anywhere in it.
            git(workspace, "clone", "--quiet", "--branch", "main", str(gh.remote), ".")
        else:
            shutil.copytree(repo, workspace, dirs_exist_ok=True)
        return True, {}, ""
    if action == "actions/github-script":
        gh.state["context"] = script_context
        done = gh.script(inputs["script"], process_env, temp)
        return done.returncode == 0, dict(gh.state.get("outputs", {})), done.stdout + done.stderr
    if action == "actions/upload-artifact":
        return upload(gh, inputs, artifact_run)
    if action == "actions/download-artifact":
        return download(gh, inputs, artifact_run)
    if action == PLACEHOLDER[0]:
        # As action.yml runs it: every input as an INPUT_* variable, the installed script.
        process_env.update({f"INPUT_{k.upper()}": v for k, v in inputs.items()})
        process_env.update(GITHUB_ACTION_PATH=str(ROOT), RECONCILER_BIN=str(SCRIPT))
        argv = [sys.executable, str(ROOT / "action" / "run.py"), "run"]
    else:
        assert "run" in step and not uses, f"the stand-in cannot run {uses}"
        (temp / "step.sh").write_text(str(step["run"]))
        argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(temp / "step.sh")]
    done = subprocess.run(
        argv,
        cwd=workspace,
        env=process_env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return done.returncode == 0, parse_outputs(output_file.read_text()), done.stdout + done.stderr


def upload(
    gh: GitHubStandIn, inputs: dict[str, str], artifact_run: dict[str, Any]
) -> tuple[bool, dict[str, str], str]:
    source = Path(inputs["path"])
    if not source.exists():
        # if-no-files-found: error fails the step; the others would only warn.
        return inputs.get("if-no-files-found") != "error", {}, f"no files at {source}\n"
    artifact_id = gh.state["next"]
    gh.state["next"] += 1
    kept = gh.tmp_path / "artifacts" / str(artifact_id)
    if source.is_dir():
        shutil.copytree(source, kept)
    else:
        kept.mkdir(parents=True)
        shutil.copy(source, kept / source.name)
    gh.state["artifacts"].insert(
        0,
        {
            "id": artifact_id,
            "name": inputs["name"],
            "expired": False,
            # Each upload is newer than the one before: ids grow with time.
            "created_at": f"2026-11-01T00:00:{artifact_id % 60:02d}.{artifact_id:06d}Z",
            "workflow_run": dict(artifact_run),
        },
    )
    return True, {"artifact-id": str(artifact_id)}, ""


def download(
    gh: GitHubStandIn, inputs: dict[str, str], artifact_run: dict[str, Any]
) -> tuple[bool, dict[str, str], str]:
    run_id = int(inputs.get("run-id") or artifact_run["id"])
    if run_id != artifact_run["id"]:
        # Another run's artifacts need a token that may read actions.
        assert inputs.get("github-token"), "download from another run without github-token"
    found = [
        a
        for a in gh.state["artifacts"]
        if a["workflow_run"]["id"] == run_id
        and (
            str(a["id"]) in inputs.get("artifact-ids", "").split(",")
            if inputs.get("artifact-ids")
            else a["name"] == inputs["name"]
        )
    ]
    if len(found) != 1:
        return False, {}, f"::error::artifact not found in run {run_id}\n"
    shutil.copytree(
        gh.tmp_path / "artifacts" / str(found[0]["id"]), Path(inputs["path"]), dirs_exist_ok=True
    )
    return True, {"download-path": inputs["path"]}, ""


SNAPSHOT = "snapshot.yml"
PULL_REQUEST = "plan-on-pull-request.yml"
APPLY = "apply-on-merge.yml"
FIVE_HOURS_LATER = "2026-11-01T05:00:00Z"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The repository a team keeps: the example manifests under jobs/, owning their tags.

    The seeded product has a job of its own beside them (purge_expired_sessions): owned by
    nobody here, it is foreign, as another team's job would be, so --strict plans pass.
    A git work tree on main, and its bare copy tmp_path/origin.git as GitHub would hold it:
    checkouts clone that one (see publish).
    """
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES, repo / "jobs")
    git(repo.parent, "init", "--quiet", "--initial-branch=main", str(repo))
    tags = sorted(
        str(doc["tag"])
        for path in (repo / "jobs").rglob("*.y*ml")
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict)
    )
    (repo / ".reconciler.yaml").write_text(f"owns: {json.dumps(tags)}\n", encoding="utf-8")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "The jobs")
    git(tmp_path, "clone", "--quiet", "--bare", str(repo), "origin.git")
    return repo


def publish(repo: Path, message: str) -> None:
    """Commit every change of the work tree and push it to main, as a merge would."""
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", message)
    git(repo, "push", "--quiet", str(repo.parent / "origin.git"), "main")


def environments(server: RunningServer) -> dict[str, dict[str, str]]:
    """The two environments of the examples, each holding the key (and nothing else does)."""
    key = {
        "DUCTAPE_USER_ID": server.user_id,
        "DUCTAPE_WORKSPACE_ID": server.workspace_id,
        "DUCTAPE_PRIVATE_KEY": server.private_key,
    }
    return {"ductape-main": dict(key), "ductape-production": dict(key)}


def settings(server: RunningServer) -> dict[str, str]:
    """What a team sets in its copies: its target (here the local server) and product."""
    return {"RECONCILER_TARGET": server.base_url, "DUCTAPE_PRODUCT": server.product_name}


def live_tags(server: RunningServer) -> set[str]:
    return {doc["tag"] for doc in server.store.job_documents(server.product_id)}


def fork_pull_request(gh: GitHubStandIn, number: int, sha: str) -> dict[str, Any]:
    """A pull request from a fork's branch named main: the case a filter on names alone misses."""
    gh.state["pulls"].append({"number": number, "head": {"sha": sha}})
    return {
        "number": number,
        "head": {"sha": sha, "ref": "main", "repo": {"id": FORK_ID, "full_name": "fork/jobs"}},
    }


def comment_run(gh: GitHubStandIn, repo: Path, planned: WorkflowRun, sha: str) -> WorkflowRun:
    """plan-comment.yml, as GitHub starts it once the pull request's run completed."""
    conclusion = (
        "success" if all(j.result != "failure" for j in planned.jobs.values()) else "failure"
    )
    return run_workflow(
        gh,
        "plan-comment.yml",
        repo,
        event="workflow_run",
        payload={
            "workflow_run": {
                "id": planned.run_id,
                "event": "pull_request",
                "conclusion": conclusion,
                "head_sha": sha,
                "head_branch": "main",
                "head_repository": {"full_name": "fork/jobs"},
                "html_url": f"https://github.com/team/jobs/actions/runs/{planned.run_id}",
            }
        },
    )


def plan_a_fork_pull_request(
    gh: GitHubStandIn, repo: Path, server: RunningServer, now: str
) -> tuple[WorkflowRun, str]:
    """The pull request's run, then the comment's; the comment on pull request 12."""
    sha = "b" * 40
    planned = run_workflow(
        gh,
        PULL_REQUEST,
        repo,
        event="pull_request",
        ref="refs/pull/12/merge",
        payload={"pull_request": fork_pull_request(gh, 12, sha)},
        environments=environments(server),
        settings=settings(server),
        now=now,
    )
    commented = comment_run(gh, repo, planned, sha)
    assert commented.jobs["comment"].result == "success", commented.jobs["comment"].log
    (comment,) = [c for c in gh.comments() if c["issue_number"] == 12]
    return planned, comment["body"]


def take_snapshot(gh: GitHubStandIn, repo: Path, server: RunningServer) -> None:
    taken = run_workflow(
        gh,
        SNAPSHOT,
        repo,
        event="schedule",
        environments=environments(server),
        settings=settings(server),
    )
    assert taken.jobs["snapshot"].result == "success", taken.jobs["snapshot"].log


def test_a_fork_pull_request_is_planned_against_the_snapshot_of_main_and_commented(
    tmp_path: Path, repo: Path, ductape_server: RunningServer
) -> None:
    gh = GitHubStandIn(tmp_path)
    take_snapshot(gh, repo, ductape_server)
    (snapshot,) = gh.state["artifacts"]
    assert snapshot["name"] == "ductape-snapshot"
    # The fork's own run uploaded an artifact of the same name, later: it is not main's.
    forged = tmp_path / "artifacts" / "1"
    forged.mkdir()
    (forged / "live.json").write_text("{}")
    gh.state["artifacts"].insert(
        0,
        {
            "id": 1,
            "name": "ductape-snapshot",
            "expired": False,
            "created_at": "2026-11-01T04:00:00Z",
            "workflow_run": {
                "id": 2,
                "repository_id": REPO_ID,
                "head_repository_id": FORK_ID,
                "head_branch": "main",
                "head_sha": "c" * 40,
            },
        },
    )

    planned, body = plan_a_fork_pull_request(gh, repo, ductape_server, FIVE_HOURS_LATER)
    job = planned.jobs["plan"]
    assert job.result == "success", job.log
    assert job.secrets_seen == {}
    assert body.startswith("<!-- reconciler-plan -->\n<!-- reconciler-report -->")
    # The report's target line: the snapshot, and how old it was when the plan was made.
    assert "(product shop, taken 2026-11-01T00:00:00Z, 5h old)" in body
    assert "Plan: 6 to create, 0 to update" in body
    assert f"commit {'b' * 40}" in body


def test_a_stale_snapshot_or_none_is_said_in_the_comment(
    tmp_path: Path, repo: Path, ductape_server: RunningServer
) -> None:
    gh = GitHubStandIn(tmp_path)
    # No snapshot yet: the run fails on one line saying how to take the first one.
    planned, body = plan_a_fork_pull_request(gh, repo, ductape_server, FIVE_HOURS_LATER)
    assert planned.jobs["plan"].result == "failure"
    assert 'run the workflow "reconciler snapshot" on main' in planned.jobs["plan"].log
    assert "No snapshot of main to plan against" in body

    take_snapshot(gh, repo, ductape_server)
    gh.state["comments"].clear()
    planned, body = plan_a_fork_pull_request(gh, repo, ductape_server, "2026-11-04T00:00:00Z")
    assert planned.jobs["plan"].result == "failure"
    assert "older than RECONCILER_MAX_AGE=48h" in body


def test_the_comment_goes_only_on_the_pull_request_at_the_planned_commit(
    tmp_path: Path,
) -> None:
    gh = GitHubStandIn(tmp_path)
    # An artifact naming pull request 8, whose head is another commit than the one planned.
    gh.state["pulls"].append({"number": 8, "head": {"sha": "d" * 40}})
    gh.run(PLAN, "#### reconciler: Plan: no changes\n", number="8")
    assert gh.comments() == []
    for number in ("8; rm -rf /", "-1", "1e3", ""):
        with pytest.raises(AssertionError, match="not a pull request number"):
            gh.run(PLAN, "x\n", number=number)


def strings(node: Any) -> list[str]:
    """Every key and string of a YAML document."""
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*strings(k), *strings(v))]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return [node] if isinstance(node, str) else []


def test_no_pull_request_workflow_names_a_secret() -> None:
    """A pull_request run uses the pull request's own copy of the workflow: nothing in it may
    reach a secret, and no job of it names an environment that holds one."""
    checked = []
    for path in WORKFLOWS:
        workflow = load(path)
        triggers = workflow[True]
        if not {"pull_request", "pull_request_target"} & set(
            [triggers] if isinstance(triggers, str) else triggers
        ):
            continue
        checked.append(path.name)
        for text in strings(workflow):
            for expression in EXPRESSION.findall(text):
                assert not re.search(r"\bsecrets\b", expression), f"{path.name}: {expression}"
            assert "DUCTAPE_PRIVATE_KEY" not in text, path.name
        for name, job in workflow["jobs"].items():
            assert "environment" not in job, f"{path.name}: {name}"
    assert {"ci.yml", PULL_REQUEST} <= set(checked)


def test_a_merge_applies_the_plan_saved_on_main(
    tmp_path: Path, repo: Path, ductape_server: RunningServer
) -> None:
    gh = GitHubStandIn(tmp_path)
    before = live_tags(ductape_server)
    run = run_workflow(
        gh,
        APPLY,
        repo,
        event="push",
        environments=environments(ductape_server),
        settings=settings(ductape_server),
    )
    jobs = run.jobs
    assert jobs["refuse"].result == "skipped"
    assert jobs["plan"].result == "success", jobs["plan"].log
    assert jobs["plan"].outputs == {"has-changes": "true"}
    assert jobs["apply"].result == "success", jobs["apply"].log
    assert "Saved the plan to" in jobs["plan"].log
    assert len(live_tags(ductape_server) - before) == 6
    # Git now describes the product.
    done = run_script(
        ["plan", "--detailed-exitcode", str(repo / "jobs")],
        tmp_path,
        clean_env(**ductape_server.client_env()),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The snapshot taken after the writes is the newest: the next pull request plans on it.
    newest = gh.state["artifacts"][0]
    assert newest["name"] == "ductape-snapshot" and newest["workflow_run"]["id"] == run.run_id
    assert {a["name"] for a in gh.state["artifacts"]} == {
        "ductape-snapshot",
        "reconciler-plan-main",
    }


def test_a_saved_plan_gone_stale_before_its_approval_is_refused(
    tmp_path: Path, repo: Path, ductape_server: RunningServer
) -> None:
    gh = GitHubStandIn(tmp_path)
    before = live_tags(ductape_server)
    # Between the plan and the reviewer's approval, someone creates one of its jobs live.
    meanwhile = {
        "name": "Warm the catalogue cache",
        "tag": "warm_catalogue_cache",
        "event_type": "action",
        "event_tag": "catalogue:list_products",
        "executions": 0,
        "intervals": 600_000,
        "start_at": 2_127_600_000_000,
    }
    run = run_workflow(
        gh,
        APPLY,
        repo,
        event="push",
        environments=environments(ductape_server),
        settings=settings(ductape_server),
        before_job={"apply": lambda: ductape_server.put_jobs([meanwhile])},
    )
    assert run.jobs["plan"].result == "success", run.jobs["plan"].log
    apply = run.jobs["apply"]
    assert apply.result == "failure"
    assert "the saved plan is stale: 1 job(s) changed live since it was made" in apply.log
    assert live_tags(ductape_server) == before | {"warm_catalogue_cache"}


def test_a_manual_run_from_another_branch_is_refused(
    tmp_path: Path, repo: Path, ductape_server: RunningServer
) -> None:
    gh = GitHubStandIn(tmp_path)
    before = live_tags(ductape_server)
    run = run_workflow(
        gh,
        APPLY,
        repo,
        event="workflow_dispatch",
        ref="refs/heads/feature",
        environments=environments(ductape_server),
        settings=settings(ductape_server),
    )
    refuse = run.jobs["refuse"]
    assert refuse.result == "failure"
    assert (
        "::error title=reconciler apply::this workflow applies main only, not "
        "refs/heads/feature: run it from main"
    ) in refuse.log
    # Skipped by their own if:, not stopped by the environment: no job even asked for the key.
    assert (run.jobs["plan"].result, run.jobs["apply"].result) == ("skipped", "skipped")
    assert live_tags(ductape_server) == before
    assert gh.state["artifacts"] == []


def test_nightly_drift_opens_the_issue_with_what_moved(
    tmp_path: Path, repo: Path, ductape_server: RunningServer
) -> None:
    env = clean_env(**ductape_server.client_env())
    done = run_script(["apply", "--auto-approve", str(repo / "jobs")], tmp_path, env)
    assert done.returncode == 0, done.stdout + done.stderr
    (doc,) = [
        d
        for d in ductape_server.store.job_documents(ductape_server.product_id)
        if d["tag"] == "warm_catalogue_cache"
    ]
    # Someone edits a job in Ductape's console.
    ductape_server.put_jobs([{**doc, "intervals": 600_000}])

    gh = GitHubStandIn(tmp_path)
    run = run_workflow(
        gh,
        DRIFT,
        repo,
        event="schedule",
        environments=environments(ductape_server),
        settings=settings(ductape_server),
    )
    drift = run.jobs["drift"]
    assert drift.result == "success", drift.log
    assert drift.outputs == {"has-drift": "true"}
    (issue,) = gh.issues()
    assert issue["labels"] == [{"name": "drift"}]
    assert "warm_catalogue_cache" in issue["body"] and "intervals" in issue["body"]


ACCEPT_BRANCH = "reconciler/accept-live"


def nightly(
    gh: GitHubStandIn, repo: Path, server: RunningServer, accept: str = "success", **kwargs: Any
) -> WorkflowRun:
    run = run_workflow(
        gh,
        DRIFT,
        repo,
        event="schedule",
        environments=environments(server),
        settings=settings(server),
        **kwargs,
    )
    assert run.jobs["drift"].result == "success", run.jobs["drift"].log
    assert run.jobs["accept"].result == accept, run.jobs["accept"].log
    return run


def change_live(server: RunningServer, changes: dict[str, dict[str, Any]]) -> None:
    """Edit live jobs as someone in Ductape's console would: tag -> fields to set."""
    docs = {d["tag"]: d for d in server.store.job_documents(server.product_id)}
    server.put_jobs([{**docs[tag], **fields} for tag, fields in changes.items()])


def branch_changes(gh: GitHubStandIn, branch: str = ACCEPT_BRANCH) -> list[str]:
    """The lines the branch changes against main, as git on the pushed repository has them."""
    diff = git(gh.remote, "diff", "--unified=0", "main", branch)
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def branches(gh: GitHubStandIn) -> list[str]:
    return git(gh.remote, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()


def applied(repo: Path, server: RunningServer) -> None:
    env = clean_env(**server.client_env())
    done = run_script(["apply", "--auto-approve", str(repo / "jobs")], repo.parent, env)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.process
def test_nightly_drift_proposes_the_live_values_as_one_pull_request(
    tmp_path: Path, repo: Path, ductape_server: RunningServer
) -> None:
    applied(repo, ductape_server)
    as_applied = {
        d["tag"]: d for d in ductape_server.store.job_documents(ductape_server.product_id)
    }
    gh = GitHubStandIn(tmp_path)

    # In sync: nothing proposed, no branch pushed.
    run = nightly(gh, repo, ductape_server)
    assert run.jobs["accept"].steps["push"]["outcome"] == "skipped"
    assert (gh.pulls(), branches(gh)) == ([], ["main"])

    # Two fields changed live, one written 1h30m and one an ISO time in its manifest.
    change_live(
        ductape_server,
        {
            "billing.retry_failed": {"intervals": 9_900_000},  # 2h45m
            "nightly_sales_report": {"start_at": 2_127_435_400_000},  # 02:16:40Z
        },
    )
    run = nightly(gh, repo, ductape_server)
    accept = run.jobs["accept"]
    (pull,) = gh.pulls()
    assert (pull["title"], pull["head"]["ref"], pull["base"]["ref"]) == (
        "Accept live changes",
        ACCEPT_BRANCH,
        "main",
    )
    # Exactly those two values, in their friendly forms; every comment and line else intact.
    assert branch_changes(gh) == [
        "-intervals: 1h30m",
        "+intervals: 2h45m",
        "-start_at: 2037-06-01T02:00:00Z",
        "+start_at: 2037-06-01T02:16:40Z",
    ]
    # One commit over main, by the bot; the pull request names it.
    assert git(
        gh.remote, "log", "--format=%an <%ae>|%s", f"main..{ACCEPT_BRANCH}"
    ).splitlines() == [
        "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"
        "|Accept live changes from Ductape"
    ]
    assert pull["head"]["sha"] == git(gh.remote, "rev-parse", ACCEPT_BRANCH).strip()
    assert "Drift: 2 changed live, 0 missing live, 0 orphan(s)" in pull["body"]
    assert "**close and reopen it**" in pull["body"]
    # Beside the issue, as before.
    (issue,) = gh.issues()
    assert "billing.retry_failed" in issue["body"]
    # The token reached the push and nothing else: not the checkout's config, not the log.
    workspace = tmp_path / f"run-{run.run_id}-accept" / "workspace"
    assert "ghs_stand-in-token" not in (workspace / ".git" / "config").read_text()
    assert "ghs_stand-in-token" not in accept.log

    # Another change the next night: the same pull request, its branch rewritten from main.
    change_live(ductape_server, {"warm_catalogue_cache": {"intervals": 600_000}})
    nightly(gh, repo, ductape_server)
    (again,) = gh.pulls()
    assert again["number"] == pull["number"] and len(gh.state["pulls"]) == 2  # and CONTEXT's
    assert "Drift: 3 changed live, 0 missing live, 0 orphan(s)" in again["body"]
    assert branch_changes(gh) == [
        "-intervals: 1h30m",
        "+intervals: 2h45m",
        "-intervals: 15m",
        "+intervals: 10m",
        "-start_at: 2037-06-01T02:00:00Z",
        "+start_at: 2037-06-01T02:16:40Z",
    ]
    assert len(git(gh.remote, "rev-list", f"main..{ACCEPT_BRANCH}").split()) == 1

    # Undone live: back in sync, the pull request is closed with a word why, as is the issue.
    ductape_server.put_jobs(
        [
            as_applied[t]
            for t in ("billing.retry_failed", "nightly_sales_report", "warm_catalogue_cache")
        ]
    )
    run = nightly(gh, repo, ductape_server)
    (closed,) = gh.pulls("closed")
    assert closed["number"] == pull["number"] and gh.pulls() == []
    (said,) = [c for c in gh.comments() if c["issue_number"] == pull["number"]]
    assert said["body"].startswith("Nothing left to accept as of [this run]")
    assert gh.issues() == []


@pytest.mark.slow
@pytest.mark.process
def test_an_orphan_is_proposed_as_a_new_manifest_under_imported(
    tmp_path: Path, repo: Path, ductape_server: RunningServer
) -> None:
    applied(repo, ductape_server)
    # Its manifest deleted on main, the job lives on in Ductape under an owned tag.
    (repo / "jobs" / "cache-warm.yaml").unlink()
    publish(repo, "Drop the cache warmer's manifest")
    gh = GitHubStandIn(tmp_path)
    nightly(gh, repo, ductape_server)
    (pull,) = gh.pulls()
    assert "Drift: 0 changed live, 0 missing live, 1 orphan(s)" in pull["body"]
    (added,) = git(gh.remote, "diff", "--name-status", "main", ACCEPT_BRANCH).splitlines()
    status, path = added.split("\t")
    assert status == "A" and path.startswith("jobs/imported/") and path.endswith(".yaml"), added
    manifest = yaml.safe_load(git(gh.remote, "show", f"{ACCEPT_BRANCH}:{path}"))
    assert (manifest["tag"], manifest["intervals"]) == ("warm_catalogue_cache", "15m")


@pytest.mark.slow
@pytest.mark.process
def test_a_patch_that_reaches_outside_the_manifests_is_not_pushed(
    tmp_path: Path, repo: Path, ductape_server: RunningServer
) -> None:
    applied(repo, ductape_server)
    change_live(ductape_server, {"warm_catalogue_cache": {"intervals": 600_000}})
    gh = GitHubStandIn(tmp_path)

    def tamper() -> None:
        # Whatever wrote the artifact, the job that can push takes only manifests from it.
        (kept,) = [a for a in gh.state["artifacts"] if a["name"] == "reconciler-accept-live"]
        patch = tmp_path / "artifacts" / str(kept["id"]) / "accept-live.patch"
        patch.write_text(
            "diff --git a/.github/workflows/x.yml b/.github/workflows/x.yml\n"
            "new file mode 100644\n--- /dev/null\n+++ b/.github/workflows/x.yml\n"
            "@@ -0,0 +1 @@\n+on: push\n" + patch.read_text()
        )

    accept = nightly(gh, repo, ductape_server, "failure", before_job={"accept": tamper}).jobs[
        "accept"
    ]
    assert "::error title=reconciler drift::the patch changes files outside jobs/" in accept.log
    assert (gh.pulls(), branches(gh)) == ([], ["main"])
