"""The GitHub Action's run step (action/run.py), run as the runner runs it.

GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and RUNNER_TEMP point at files and a directory of the test,
inputs arrive as INPUT_* variables (as action.yml passes them), and RECONCILER_BIN is the
installed script, as the install step would output it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from testing.actions import parse_outputs
from testing.process import SCRIPT, clean_env, run_script
from testing.server import RunningServer

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "action" / "run.py"
EXAMPLES = ROOT / "examples" / "jobs"
INVALID = ROOT / "tests" / "data" / "invalid" / "wrong-types.yaml"


@dataclass(frozen=True)
class StepRun:
    """What a run of the step left: its exit status, its log, its outputs and summary."""

    returncode: int
    log: str
    outputs: dict[str, str]
    summary: str

    @property
    def report(self) -> str:
        return Path(self.outputs["report"]).read_text(encoding="utf-8")


def run_step(
    tmp_path: Path, cwd: Path | None = None, env_vars: dict[str, str] | None = None, **inputs: str
) -> StepRun:
    """Run ``run.py run`` with runner-like files; ``inputs`` as the action's inputs.

    ``env_vars``: what the caller's ``env:`` adds to the step (credentials, for one).
    """
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    output_file, summary_file = tmp_path / "github-output", tmp_path / "step-summary"
    output_file.write_text("")
    summary_file.write_text("")
    env = clean_env(
        GITHUB_ACTIONS="true",
        GITHUB_OUTPUT=str(output_file),
        GITHUB_STEP_SUMMARY=str(summary_file),
        RUNNER_TEMP=str(runner_temp),
        RECONCILER_BIN=str(SCRIPT),
    )
    env.update(env_vars or {})
    for name, value in inputs.items():
        env[f"INPUT_{name.upper()}"] = value
    done = subprocess.run(
        [sys.executable, str(RUN), "run"],
        cwd=cwd or ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return StepRun(
        done.returncode,
        done.stdout + done.stderr,
        parse_outputs(output_file.read_text(encoding="utf-8")),
        summary_file.read_text(encoding="utf-8"),
    )


def empty_target(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'live.db'}"


@pytest.mark.slow
@pytest.mark.process
def test_plan_of_the_examples_against_an_empty_target(tmp_path: Path) -> None:
    step = run_step(tmp_path, command="plan", paths="examples/jobs", target=empty_target(tmp_path))
    # Changes are an answer, not a failure: the step passes and says so in its outputs.
    assert step.returncode == 0, step.log
    assert step.outputs["exit-code"] == "2"
    assert step.outputs["has-changes"] == "true"
    report = Path(step.outputs["report"])
    assert report.parent == tmp_path / "runner-temp"
    assert report.suffix == ".md"
    assert "Plan: 6 to create, 0 to update" in step.summary
    for tag in ("archive_old_orders", "billing.retry_failed", "weekly_digest"):
        assert f"| `{tag}` | create | all (new job) |" in step.summary
    assert step.report == step.summary
    # The log shows the same report, with workflow commands paused around it.
    first, *body, last = step.log.splitlines()
    token = re.fullmatch(r"::stop-commands::([0-9a-f]{32})", first)
    assert token is not None, first
    assert last == f"::{token.group(1)}::"
    assert "Plan: 6 to create" in "\n".join(body)
    # Planning writes nothing: the empty target is still not there.
    assert not (tmp_path / "live.db").exists()


@pytest.mark.slow
@pytest.mark.process
def test_no_changes_gives_exit_0_and_no_changes(tmp_path: Path) -> None:
    target = empty_target(tmp_path)
    applied = run_script(
        ["apply", str(EXAMPLES), "--auto-approve", "--target", target], ROOT, clean_env()
    )
    assert applied.returncode == 0, applied.stderr
    step = run_step(tmp_path, command="plan", paths="examples/jobs", target=target)
    assert step.returncode == 0, step.log
    assert (step.outputs["exit-code"], step.outputs["has-changes"]) == ("0", "false")
    assert "Plan: 0 to create, 0 to update, 6 unchanged" in step.summary


@pytest.mark.slow
@pytest.mark.process
def test_an_invalid_manifest_fails_the_step(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    shutil.copy(INVALID, jobs / "wrong-types.yaml")
    step = run_step(
        tmp_path, cwd=tmp_path, command="plan", paths="jobs", target=empty_target(tmp_path)
    )
    assert step.returncode == 1
    assert (step.outputs["exit-code"], step.outputs["has-changes"]) == ("1", "false")
    # The summary and the report (what a comment shows) say why, at file:line:col.
    assert "reconciler plan failed (exit 1)" in step.summary
    assert "jobs/wrong-types.yaml:5:13: wrong_types: executions:" in step.summary
    assert step.report == step.summary


@pytest.mark.slow
@pytest.mark.process
def test_the_target_and_product_inputs_reach_a_ductape_server_and_the_key_stays_out(
    tmp_path: Path, ductape_server: RunningServer
) -> None:
    """Credentials come from the environment only, and never come back out."""
    s = ductape_server
    step = run_step(
        tmp_path,
        env_vars={
            "DUCTAPE_USER_ID": s.user_id,
            "DUCTAPE_WORKSPACE_ID": s.workspace_id,
            "DUCTAPE_PRIVATE_KEY": s.private_key,
        },
        command="plan",
        paths="examples/jobs",
        target=s.base_url,
        product=s.product_name,
        args="--references off",
    )
    assert step.returncode == 0, step.log
    assert step.outputs["has-changes"] == "true"
    assert s.base_url in step.summary
    everything = step.log + step.summary + "".join(step.outputs.values())
    assert s.private_key not in everything


@pytest.mark.slow
@pytest.mark.process
def test_args_are_split_like_a_shell_without_one(tmp_path: Path) -> None:
    saved = tmp_path / "a plan; touch pwned.json"
    step = run_step(
        tmp_path,
        command="plan",
        paths="examples/jobs",
        target=empty_target(tmp_path),
        args=f"--out '{saved}' --verbose",
    )
    assert step.returncode == 0, step.log
    assert saved.is_file()
    assert not (ROOT / "pwned.json").exists()


@pytest.mark.process
def test_the_summary_is_written_once_even_by_a_cli_that_writes_it_too(tmp_path: Path) -> None:
    """Issue 8 lets reconciler write the step summary itself under GITHUB_ACTIONS=true.

    The action owns the summary and the outputs, so the CLI does not see those files. No
    reconciler does this yet: a stand-in script plays that CLI.
    """
    stand_in = tmp_path / "reconciler"
    stand_in.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        "for name in ('GITHUB_STEP_SUMMARY', 'GITHUB_OUTPUT'):\n"
        "    if os.environ.get(name):\n"
        "        with open(os.environ[name], 'a') as f:\n"
        "            f.write('written by the CLI\\n')\n"
        "print('#### reconciler: Plan: 1 to create')\n"
        "sys.exit(2)\n"
    )
    stand_in.chmod(0o755)
    step = run_step(
        tmp_path,
        env_vars={"RECONCILER_BIN": str(stand_in)},
        command="plan",
        target=empty_target(tmp_path),
    )
    assert step.summary == "#### reconciler: Plan: 1 to create\n"
    assert step.outputs["has-changes"] == "true"
    assert "written by the CLI" not in "".join(step.outputs.values())


@pytest.mark.parametrize("command", ["plan", "drift"])
@pytest.mark.process
def test_a_rejected_command_line_is_a_failure_not_changes(tmp_path: Path, command: str) -> None:
    """click rejects unknown options with exit 2, the code that also means changes."""
    step = run_step(
        tmp_path,
        command=command,
        paths="examples/jobs",
        target=empty_target(tmp_path),
        args="--no-such-option",
    )
    assert step.returncode != 0
    assert step.outputs["has-changes"] == "false"
    assert f"reconciler {command} failed" in step.summary


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"command": "destroy"}, "must be one of validate, plan, apply, drift"),
        ({"command": "plan\n::add-mask::x"}, "must be one of validate, plan, apply, drift"),
        ({"command": ""}, "must be one of validate, plan, apply, drift"),
        ({"command": "plan", "args": "--out 'unclosed"}, "cannot be split"),
    ],
)
@pytest.mark.process
def test_a_misconfigured_action_fails_before_running_anything(
    tmp_path: Path, inputs: dict[str, str], message: str
) -> None:
    step = run_step(
        tmp_path, cwd=tmp_path, target=empty_target(tmp_path), paths=str(EXAMPLES), **inputs
    )
    assert step.returncode == 1
    assert (step.outputs["exit-code"], step.outputs["has-changes"]) == ("1", "false")
    # One annotation, and the input's own text is not echoed back into a workflow command.
    (annotation,) = [line for line in step.log.splitlines() if line.startswith("::")]
    assert annotation.startswith("::error title=reconciler action::")
    assert message in annotation
    assert "add-mask" not in step.log
    assert message in step.summary


def duplicate_tags(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    for name in ("a.yaml", "b.yaml"):
        shutil.copy(EXAMPLES / "cache-warm.yaml", jobs / name)


@pytest.mark.slow
@pytest.mark.process
def test_validate_annotates_the_lines(tmp_path: Path) -> None:
    duplicate_tags(tmp_path)
    step = run_step(tmp_path, cwd=tmp_path, command="validate", paths="jobs")
    assert step.returncode != 0
    # Annotations come first, outside the paused region, so the runner acts on them.
    first = step.log.splitlines()[0]
    assert first.startswith("::error file=jobs/b.yaml,line=3,col=6,"), first
    assert "duplicate tag 'warm_catalogue_cache'" in first


@pytest.mark.slow
@pytest.mark.process
def test_validate_fails_on_a_duplicate_tag(tmp_path: Path) -> None:
    duplicate_tags(tmp_path)
    step = run_step(tmp_path, cwd=tmp_path, command="validate", paths="jobs")
    assert step.returncode == 1
    assert (step.outputs["exit-code"], step.outputs["has-changes"]) == ("1", "false")
    assert "duplicate tag 'warm_catalogue_cache'" in step.summary


@pytest.mark.slow
@pytest.mark.process
def test_validate_passes_on_the_examples(tmp_path: Path) -> None:
    step = run_step(tmp_path, command="validate", paths="examples/jobs")
    assert step.returncode == 0, step.log
    assert (step.outputs["exit-code"], step.outputs["has-changes"]) == ("0", "false")
    assert step.summary.strip()


@pytest.mark.slow
@pytest.mark.process
def test_apply_with_a_max_changes_guard(tmp_path: Path) -> None:
    target = empty_target(tmp_path)
    refused = run_step(
        tmp_path,
        command="apply",
        paths="examples/jobs",
        target=target,
        args="--auto-approve --max-changes 5",
    )
    assert refused.returncode == 1
    assert "--max-changes 5" in refused.summary
    applied = run_step(
        tmp_path,
        command="apply",
        paths="examples/jobs",
        target=target,
        args="--auto-approve --max-changes 6",
    )
    assert applied.returncode == 0, applied.log
    assert (applied.outputs["exit-code"], applied.outputs["has-changes"]) == ("0", "false")


@pytest.mark.slow
@pytest.mark.process
def test_drift_reports_a_changed_live_job(tmp_path: Path) -> None:
    target = empty_target(tmp_path)
    applied = run_script(
        ["apply", str(EXAMPLES), "--auto-approve", "--target", target], ROOT, clean_env()
    )
    assert applied.returncode == 0, applied.stderr
    in_sync = run_step(tmp_path, command="drift", paths="examples/jobs", target=target)
    assert in_sync.returncode == 0, in_sync.log
    assert (in_sync.outputs["exit-code"], in_sync.outputs["has-changes"]) == ("0", "false")
    # Someone edits a job by hand, live: Git no longer says what runs.
    changed = tmp_path / "changed"
    shutil.copytree(EXAMPLES, changed)
    nightly = changed / "reports" / "nightly.yaml"
    nightly.write_text(nightly.read_text().replace("intervals: 1d", "intervals: 2d"))
    edited = run_script(
        ["apply", str(changed), "--auto-approve", "--target", target], ROOT, clean_env()
    )
    assert edited.returncode == 0, edited.stderr
    drifted = run_step(tmp_path, command="drift", paths="examples/jobs", target=target)
    assert drifted.returncode == 0, drifted.log
    assert (drifted.outputs["exit-code"], drifted.outputs["has-changes"]) == ("2", "true")
    assert "nightly_sales_report" in drifted.summary


@pytest.mark.slow
@pytest.mark.process
def test_empty_paths_come_from_the_configuration(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    (tmp_path / ".reconciler.yaml").write_text("paths: [jobs]\n")
    (tmp_path / "stray.yaml").write_text("not: a job\n")
    step = run_step(tmp_path, cwd=tmp_path, command="plan", target=empty_target(tmp_path))
    assert step.returncode == 0, step.log
    assert step.outputs["has-changes"] == "true"
    assert "Plan: 6 to create" in step.summary


# -- action.yml's own steps -----------------------------------------------------------------

BASH = shutil.which("bash") or "/bin/bash"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def evaluate(text: str, values: dict[str, str]) -> str:
    """Fill in the ``${{ ... }}`` of action.yml: only the names ``values`` holds are allowed."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"action.yml uses ${{{{ {name} }}}}, which this test cannot fill"
        return values[name]

    return EXPRESSION.sub(one, text)


def run_composite(tmp_path: Path, inputs: dict[str, str]) -> tuple[dict[str, str], str]:
    """Run action.yml's steps as the runner would; the action's outputs and the summary.

    setup-python is the one step not run: its ``python-path`` output is this interpreter.
    Each ``run:`` goes through bash with its step's ``env:`` filled in, as the runner does.
    """
    with (ROOT / "action.yml").open(encoding="utf-8") as handle:
        action = yaml.safe_load(handle)
    values = {f"inputs.{name}": spec.get("default", "") for name, spec in action["inputs"].items()}
    values.update({f"inputs.{name}": value for name, value in inputs.items()})
    summary = tmp_path / "step-summary"
    summary.write_text("")
    for number, step in enumerate(action["runs"]["steps"]):
        outputs: dict[str, str] = {}
        if "uses" in step:
            assert step["uses"].startswith("actions/setup-python@"), step["uses"]
            outputs["python-path"] = sys.executable
        else:
            output_file = tmp_path / f"output-{number}"
            output_file.write_text("")
            env = clean_env(
                GITHUB_ACTIONS="true",
                GITHUB_ACTION_PATH=str(ROOT),
                GITHUB_OUTPUT=str(output_file),
                GITHUB_STEP_SUMMARY=str(summary),
                RUNNER_TEMP=str(tmp_path),
                # Not this test's virtualenv: the step must run the reconciler it installed.
                PATH=os.defpath,
            )
            env.update({k: evaluate(str(v), values) for k, v in step.get("env", {}).items()})
            assert step["shell"] == "bash"
            assert "${{" not in step["run"], "inputs reach the script only through env:"
            done = subprocess.run(
                [BASH, "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                stdin=subprocess.DEVNULL,
            )
            outputs = parse_outputs(output_file.read_text(encoding="utf-8"))
            outputs["__exit__"] = str(done.returncode)
        values.update({f"steps.{step['id']}.outputs.{k}": v for k, v in outputs.items()})
        if outputs.get("__exit__", "0") != "0":
            break  # a failed step ends the action, as on the runner
    results = {name: evaluate(spec["value"], values) for name, spec in action["outputs"].items()}
    results["__exit__"] = outputs["__exit__"]
    return results, summary.read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.network
def test_the_action_steps_install_then_plan(tmp_path: Path) -> None:
    """action.yml's steps hand inputs and outputs to each other under the names run.py reads."""
    inputs: dict[str, str] = {
        "command": "plan",
        "paths": "examples/jobs",
        "target": empty_target(tmp_path),
    }
    outputs, summary = run_composite(tmp_path, inputs)
    assert outputs["__exit__"] == "0"
    assert (outputs["exit-code"], outputs["has-changes"]) == ("2", "true")
    assert Path(outputs["report"]).read_text(encoding="utf-8") == summary
    assert "Plan: 6 to create" in summary
    # The reconciler that ran is the one installed under RUNNER_TEMP, from this checkout.
    (venv,) = tmp_path.glob("reconciler-venv-*")
    script = venv / "bin" / "reconciler"
    installed = script.stat().st_mtime_ns
    # A second use in the same job finds that install and leaves it alone.
    again, _ = run_composite(tmp_path, inputs)
    assert again["has-changes"] == "true"
    assert script.stat().st_mtime_ns == installed
    version = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert version.stdout.startswith("reconciler")
    # Installed under the distribution's own name, beside exactly the lock's packages.
    python = str(venv / "bin" / "python")
    shown = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.version('ductape-reconciler'))"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert shown.stdout.strip() == version.stdout.split()[-1]
    freeze = subprocess.run(
        [python, "-m", "pip", "freeze", "--all", "--exclude", "pip", "--exclude", "setuptools"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    pairs = [line.split("==", 1) for line in freeze.stdout.splitlines() if "==" in line]
    installed = {canonicalize_name(name): pinned for name, pinned in pairs}
    lock = read_lock(LOCK.read_text(encoding="utf-8"))
    pins = {
        canonicalize_name(r.name): next(iter(r.specifier)).version
        for r, _ in lock
        if r.marker is None or r.marker.evaluate()
    }
    assert installed == pins


@pytest.mark.parametrize("command", ["plan", "apply", "drift"])
@pytest.mark.slow
@pytest.mark.process
def test_commands_that_reach_a_product_require_a_target(tmp_path: Path, command: str) -> None:
    step = run_step(tmp_path, command=command, paths="examples/jobs", target="  ")
    assert step.returncode == 1
    assert step.outputs["exit-code"] == "1"
    assert f"the input 'target' is required for {command}" in step.summary
    # The caller's RECONCILER_TARGET counts as naming one.
    named = run_step(
        tmp_path,
        env_vars={"RECONCILER_TARGET": empty_target(tmp_path)},
        command=command,
        paths="examples/jobs",
        args="--auto-approve" if command == "apply" else "",
    )
    assert named.outputs["exit-code"] in ("0", "2"), named.log


@pytest.mark.slow
@pytest.mark.process
def test_a_path_that_looks_like_an_option_is_a_path(tmp_path: Path) -> None:
    jobs = tmp_path / "--help"
    shutil.copytree(EXAMPLES, jobs)
    step = run_step(tmp_path, cwd=tmp_path, command="validate", paths="--help")
    assert step.returncode == 0, step.log
    assert "Valid: 6 job(s) in 5 file(s)." in step.log


# --- the install: only the lock -------------------------------------------------------------

LOCK = ROOT / "action" / "requirements.lock"


def read_lock(text: str) -> list[tuple[Requirement, list[str]]]:
    """Each pinned requirement of a hashed lock file, with its hashes."""
    entries: list[tuple[Requirement, list[str]]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("--hash="):
            assert entries, f"a hash before any requirement: {line}"
            entries[-1][1].append(stripped.removeprefix("--hash=").rstrip(" \\"))
            continue
        assert not line[0].isspace(), f"unexpected line in the lock: {line}"
        entries.append((Requirement(stripped.rstrip(" \\")), []))
    return entries


def test_the_lock_pins_every_dependency_of_pyproject_with_hashes() -> None:
    """Every requirement of pyproject (and its build backend) is pinned at a version its
    specifier allows; every line is an exact pin with hashes. Fails when the two disagree."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = [Requirement(r) for r in project["project"]["dependencies"]]
    wanted += [Requirement(r) for r in project["build-system"]["requires"]]
    pinned: dict[str, list[str]] = {}
    for requirement, hashes in read_lock(LOCK.read_text(encoding="utf-8")):
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"{requirement} is not pinned exactly"
        assert hashes and all(h.startswith("sha256:") for h in hashes), f"{requirement}: hashes"
        pinned.setdefault(canonicalize_name(requirement.name), []).append(spec.version)
    for requirement in wanted:
        versions = pinned.get(canonicalize_name(requirement.name))
        assert versions, f"{requirement.name} (pyproject.toml) is not in {LOCK.name}"
        for version in versions:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{LOCK.name} pins {requirement.name}=={version}, "
                f"outside pyproject.toml's {requirement}"
            )


def test_the_lock_reader_sees_a_disagreement() -> None:
    entries = read_lock("click==8.0.0 \\\n    --hash=sha256:00\n")
    (requirement, hashes), = entries  # fmt: skip
    assert hashes == ["sha256:00"]
    assert not Requirement("click>=8.1").specifier.contains(
        next(iter(requirement.specifier)).version
    )


@pytest.mark.slow
@pytest.mark.network
def test_the_install_takes_only_what_the_lock_names(tmp_path: Path) -> None:
    """A lock whose hash for one package is wrong: the install fails, nothing runs.

    Real pip, a real virtualenv: if the install read pyproject.toml's ranges, or the lock
    without --require-hashes, it would succeed.
    """
    checkout = tmp_path / "action-checkout"
    checkout.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "action.yml"):
        shutil.copy2(ROOT / name, checkout / name)
    for name in ("reconciler", "schemas", "action"):
        shutil.copytree(ROOT / name, checkout / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    lock = checkout / "action" / "requirements.lock"
    text = lock.read_text(encoding="utf-8")
    # idna: small, pure Python, needed on every platform. Every hash of it made wrong.
    start = text.index("\nidna==")
    end = text.index("# via", start)
    lock.write_text(text[:start] + re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64,
                    text[start:end]) + text[end:], encoding="utf-8")  # fmt: skip
    output = tmp_path / "github-output"
    output.write_text("")
    env = clean_env(
        GITHUB_ACTION_PATH=str(checkout), RUNNER_TEMP=str(tmp_path), GITHUB_OUTPUT=str(output)
    )
    done = subprocess.run(
        [sys.executable, str(checkout / "action" / "run.py"), "install"],
        env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in done.stderr
    assert "::error title=reconciler action::could not install reconciler" in done.stdout
    assert "bin" not in parse_outputs(output.read_text(encoding="utf-8"))
