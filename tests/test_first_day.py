"""A first day without surprises (issue 19): what a new user meets, through the real CLI.

Real files in a fresh directory, the embedded SQLite target or a real local server.
"""

from __future__ import annotations

import json
import os
import pty
import re
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from reconciler.model import EventType, Job
from reconciler.targets.local import LocalTarget
from testing.cli import invoke as run
from testing.process import ROOT, SCRIPT, clean_env, read_terminal, run_script
from testing.server import RunningServer
from testing.wire import raw_server, read_request

SCHEMA_ID = "urn:ductape-reconciler:schema:job:1"


@pytest.fixture
def work(examples_repo: Path) -> Path:
    """A repository holding a copy of the examples, as the working directory."""
    return examples_repo


def _live(db: Path, *tags: str) -> str:
    target = LocalTarget(str(db), "shop")
    for n, tag in enumerate(tags):
        target.create_job(
            Job(tag, f"Job {n}", EventType.FUNCTION, "f", 0, 3_600_000, 2_127_427_200_000)
        )
    target.close()
    return f"sqlite:///{db}"


# --- the README's first day --------------------------------------------------------------

# Steps of the Quickstart's blocks that install (the tests run the installed script instead).
_INSTALL_STEPS = (
    "python3 -m venv .venv",
    ". .venv/bin/activate",
    "pip install -q .",
    "pip install 'ductape-reconciler @ git+https://github.com/OWNER/reconciler'",
)
_PERL_EDIT = re.compile(r"^perl -pi -e 's/([^/]+)/([^/]*)/' (\S+)$")


def _quickstart_blocks() -> list[tuple[str, str]]:
    """(language, text) of each fenced block of the README's Quickstart, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```(\w*)\n(.*?)^```$", section, re.M | re.S)


@pytest.mark.slow
@pytest.mark.process
def test_the_readme_quickstart_as_written(tmp_path: Path) -> None:
    """Every command of the Quickstart, run in order in a fresh clone's place (the examples,
    no store yet); each exit code as its comment says, and each sample output exactly what
    the command before it printed."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = clean_env(NO_COLOR="1")
    blocks = _quickstart_blocks()
    assert [lang for lang, _ in blocks] == ["sh", "", "sh", "sh", "", "sh"]
    last: subprocess.CompletedProcess[str] | None = None
    samples = []
    for lang, text in blocks:
        if lang == "":
            assert last is not None, "a sample output before any command"
            assert last.stdout == text, f"the README's sample is not what {last.args} prints"
            samples.append(text)
            continue
        for line in text.splitlines():
            command, _, comment = line.partition(" # ")
            for step in (s.strip() for s in command.split("&&")):
                if step in _INSTALL_STEPS:
                    continue
                edit = _PERL_EDIT.match(step)
                if edit:  # perl's in-place substitution, done here as it does it
                    old, new, name = edit.groups()
                    path = tmp_path / name
                    assert path.read_text().count(old) == 1, step
                    path.write_text(path.read_text().replace(old, new))
                    continue
                words = shlex.split(step)
                assert words[0] == "reconciler", f"a step the test does not know: {step}"
                last = run_script(words[1:], tmp_path, env)
                wanted = re.search(r"exit (\d+)", comment)
                code = int(wanted.group(1)) if wanted else 0
                assert last.returncode == code, f"{step}\n{last.stdout}{last.stderr}"
    first, update = samples
    assert "Plan: 6 to create, 0 to update, 0 unchanged." in first
    assert "~ update billing.retry_failed" in update and "+ create" not in update
    # What the prose after the update says: it is pending until applied.
    assert (
        run_script(["plan", "examples/jobs", "--detailed-exitcode"], tmp_path, env).returncode == 2
    )
    drift = run_script(["drift", "examples/jobs"], tmp_path, env)
    assert drift.returncode == 2 and "changed billing.retry_failed" in drift.stdout


def test_the_readme_uses_one_reconciler_once_the_virtualenv_is_active() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("Quickstart", "A local Ductape for development and CI"):
        section = readme.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
        commands = [
            line
            for lang, text in re.findall(r"^```(\w*)\n(.*?)^```$", section, re.M | re.S)
            if lang == "sh"
            for line in text.splitlines()
        ]
        assert commands and not any(".venv/bin/reconciler" in line for line in commands), name
    assert ". .venv/bin/activate" in readme.split("\n## Quickstart\n", 1)[1].split("```")[1]


# --- files a team commits ---------------------------------------------------------------


def test_the_job_schema_has_a_stable_id_and_schema_prints_it_exactly() -> None:
    shipped = (ROOT / "schemas" / "job.schema.json").read_text(encoding="utf-8")
    assert json.loads(shipped)["$id"] == SCHEMA_ID
    code, out, err = run("schema")
    assert (code, err) == (0, "")
    assert out == shipped


def test_schema_write_keeps_a_copy_in_the_repository(work: Path) -> None:
    code, out, _ = run("schema", "--write", "schemas")
    assert code == 0
    assert out == "Wrote the job schema to schemas/job.schema.json\n"
    copy = work / "schemas" / "job.schema.json"
    assert copy.read_text(encoding="utf-8") == (ROOT / "schemas" / "job.schema.json").read_text()
    blocked = work / "blocked"
    blocked.write_text("a file, not a directory")
    code, out, err = run("schema", "--write", "blocked/inner")
    assert code == 1 and out == ""
    assert err == "error: cannot write blocked/inner/job.schema.json: Not a directory\n"
    assert "Traceback" not in err


class _EditorLoader(yaml.SafeLoader):
    """YAML as an editor's language server reads it (1.2: a date is a string)."""


_EditorLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _modeline(path: Path) -> str | None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    return first[len(prefix) :] if first.startswith(prefix) else None


def test_export_points_its_modeline_at_the_repository_copy(work: Path) -> None:
    spec = _live(work / "live.db", "nightly_report", "billing.retry")
    assert run("schema", "--write", "schemas")[0] == 0
    code, _, err = run("export", "--target", spec, "--product", "shop", "--out", "jobs/shop")
    assert code == 0, err
    written = sorted((work / "jobs" / "shop").iterdir())
    assert [p.name for p in written] == ["billing.retry.yaml", "nightly_report.yaml"]
    for path in written:
        text = path.read_text(encoding="utf-8")
        # What `git diff` of the exported files would show: no path of this machine.
        assert str(work) not in text and "site-packages" not in text
        ref = _modeline(path)
        assert ref == "../../schemas/job.schema.json"
        # An editor-style check: the schema the modeline names, relative to the file.
        schema = json.loads((path.parent / ref).read_text(encoding="utf-8"))
        document = yaml.load(text, _EditorLoader)
        assert list(Draft202012Validator(schema).iter_errors(document)) == []


def test_export_without_a_copy_writes_no_modeline(work: Path) -> None:
    spec = _live(work / "live.db", "nightly_report")
    code, _, err = run("export", "--target", spec, "--product", "shop", "--out", "jobs/shop")
    assert code == 0, err
    text = (work / "jobs" / "shop" / "nightly_report.yaml").read_text(encoding="utf-8")
    assert text.startswith('tag: "nightly_report"\n')
    assert "schema" not in text and os.sep + "reconciler" + os.sep not in text


def test_a_saved_plan_with_its_schedule_reads_back(work: Path) -> None:
    """plan --out saves the schedule's figures; show and apply --plan must read them."""
    assert run("apply", "jobs", "--auto-approve")[0] == 0
    manifest = work / "jobs" / "billing" / "jobs.yaml"
    manifest.write_text(manifest.read_text().replace("intervals: 1h30m", "intervals: 30m"))
    code, _, err = run("plan", "jobs", "--out", "plan.json")
    assert code == 0, err
    assert json.loads((work / "plan.json").read_text())["schedule"] is not None
    code, out, err = run("show", "plan.json")
    assert code == 0, err
    assert "~ update billing.retry_failed" in out


# --- silence that misleads ----------------------------------------------------------------


def test_validate_counts_files_it_could_not_read_as_files(work: Path, tmp_path: Path) -> None:
    manifests = work / "bad"
    manifests.mkdir()
    for tag in ("a", "b", "c"):
        (manifests / f"{tag}.yaml").write_text(f"tag: {tag}\n")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.yaml"
    outside.write_text("tag: x\n")
    (manifests / "d.yaml").symlink_to(outside)
    code, _, err = run("validate", "bad")
    assert code == 1
    assert "bad/d.yaml: -: -: a symbolic link to a file outside the given paths; not read" in err
    assert err.endswith(
        "error: Invalid: 16 problem(s) in 4 of 4 file(s); nothing was planned or changed.\n"
    )
    code, out, _ = run("validate", "bad", "--format", "json")
    document = json.loads(out)
    assert (document["files"], document["files_with_problems"]) == (4, 4)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_apply_says_each_warning_and_the_schedule_once(work: Path) -> None:
    assert run("apply", "jobs", "--auto-approve")[0] == 0
    (work / "jobs" / "cache-warm.yaml").unlink()  # an orphan: a warning
    billing = work / "jobs" / "billing" / "jobs.yaml"
    _edit(billing, "intervals: 1h30m", "intervals: 3600")  # milliseconds? a warning
    code, out, err = run("apply", "jobs", "--auto-approve")
    assert code == 0, err
    assert err.count("warning: 3600 is 3s600ms read as milliseconds") == 1
    assert err.count("warning: orphan: live only") == 1
    assert out.count("Schedule, the day from") == 1
    assert out.count("~ update billing.retry_failed") == 1
    assert "ok   billing.retry_failed: updated" in out


def test_apply_without_a_terminal_says_only_why_it_refuses(work: Path) -> None:
    code, out, err = run("apply", "jobs")
    assert code == 1
    assert out == ""  # no plan printed only to be refused
    assert err == (
        "error: refusing to apply without confirmation: no terminal to ask on; "
        "pass --auto-approve to apply from a pipeline\n"
    )


def test_a_refused_saved_plan_says_why_first_and_only_that(work: Path) -> None:
    assert run("apply", "jobs", "--auto-approve")[0] == 0
    billing = work / "jobs" / "billing" / "jobs.yaml"
    _edit(billing, "intervals: 1h30m", "intervals: 30m")
    assert run("plan", "jobs", "--out", "plan.json")[0] == 0
    _edit(billing, "intervals: 30m", "intervals: 40m")
    assert run("apply", "jobs", "--auto-approve")[0] == 0  # live moves on: the plan is stale
    code, out, err = run("apply", "--plan", "plan.json")
    assert code == 1
    assert out == ""
    assert err.startswith("error: the saved plan is stale: 1 job(s) changed live since it was")
    # A fresh saved plan is still shown, once, before its results.
    _edit(billing, "intervals: 40m", "intervals: 45m")
    assert run("plan", "jobs", "--out", "plan.json")[0] == 0
    code, out, err = run("apply", "--plan", "plan.json")
    assert code == 0, err
    assert out.index("~ update billing.retry_failed") < out.index("ok   billing.retry_failed")
    assert out.count("~ update billing.retry_failed") == 1


SCOPE = (
    "Owns billing.*, warm_* (other tags are foreign, left as they are). "
    "Ignored fields: executions (never planned, written or drift)."
)


def test_plans_say_what_is_owned_and_ignored(work: Path) -> None:
    code, out, _ = run("plan", "jobs")
    assert code == 0 and "Owns" not in out and "Ignored fields" not in out
    (work / ".reconciler.yaml").write_text(
        'owns: ["billing.*", "warm_*"]\nignore_fields: [executions]\n'
    )
    code, out, _ = run("plan", "jobs")
    assert code == 0
    assert out.splitlines()[:3] == [
        "Target: sqlite:///.reconciler/local.db (product default)",
        SCOPE,
        "",
    ]
    code, out, _ = run("plan", "jobs", "--format", "markdown")
    assert code == 0
    assert (
        "Owns `billing.*`, `warm_*` (other tags are foreign, left as they are). "
        "Ignored fields: `executions` (never planned, written or drift)."
    ) in out.splitlines()
    code, out, _ = run("drift", "jobs")
    assert SCOPE in out.splitlines()


def _stderr_on_a_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run the installed script with stderr on a pseudo-terminal; its code and stderr."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [str(SCRIPT), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    text = read_terminal(master, proc, 30).decode()
    return proc.wait(timeout=10), text


def test_a_stalled_server_is_named_on_a_terminal_after_two_seconds(work: Path) -> None:
    def stall(conn: socket.socket) -> None:
        read_request(conn)
        time.sleep(6)  # no answer: the run's --timeout ends it first

    with raw_server(stall) as url:
        env = clean_env(
            RECONCILER_TARGET=url,
            RECONCILER_ALLOWED_TARGETS=url,
            DUCTAPE_PRODUCT="shop",
            DUCTAPE_USER_ID="a" * 24,
            DUCTAPE_WORKSPACE_ID="b" * 24,
            DUCTAPE_PRIVATE_KEY="k" * 32,
        )
        started = time.monotonic()
        code, err = _stderr_on_a_terminal(["plan", "jobs", "--timeout", "4"], work, env)
        took = time.monotonic() - started
    assert code == 1
    notice = f"Waiting for {url} to answer (it gives up after 4 s) ..."
    assert err.count(notice) == 1, err
    assert took < 20
    # Without a terminal, nothing but the error.
    with raw_server(stall) as url:
        env["RECONCILER_TARGET"] = env["RECONCILER_ALLOWED_TARGETS"] = url
        done = run_script(["plan", "jobs", "--timeout", "3"], work, env)
    assert done.returncode == 1 and "Waiting for" not in done.stderr


def test_a_quick_server_gets_no_notice(work: Path, ductape_server: RunningServer) -> None:
    env = clean_env(**ductape_server.client_env())
    code, err = _stderr_on_a_terminal(["plan", "jobs"], work, env)
    assert code == 0 and "Waiting for" not in err, err


# --- the PR comment, read by a reviewer ---------------------------------------------------


def test_the_comment_says_warning_once_names_renames_and_titles_show_as_plan(
    work: Path,
) -> None:
    assert run("apply", "jobs", "--auto-approve")[0] == 0
    cache = work / "jobs" / "cache-warm.yaml"
    _edit(cache, "tag: warm_catalogue_cache", "tag: catalogue_warmer")  # a likely rename
    code, out, _ = run("plan", "jobs", "--format", "markdown", "--out", "plan.json")
    assert code == 0
    lines = out.splitlines()
    problems = [line for line in lines if line.startswith("- **")]
    assert problems and all(line.count("warning") == 1 for line in problems), problems
    assert not any("`-`" in line or "live:" in line for line in problems), problems
    assert (
        "| `catalogue_warmer` | create | all (new job); likely a rename of `warm_catalogue_cache` |"
        in out
    )
    assert (
        "live only; remove it by hand in Ductape (no delete); likely renamed to `catalogue_warmer`"
        in out
    )
    assert "rename of/to" not in out
    code, out, _ = run("show", "plan.json", "--format", "markdown")
    assert code == 0
    assert out.splitlines()[2].startswith("reconciler plan · ")
