"""The two steps of the reconciler GitHub Action (action.yml): install, then run one command.

    python run.py install   a virtualenv under $RUNNER_TEMP: the pinned, hashed packages of
                            action/requirements.lock, then the action's own checkout
                            ($GITHUB_ACTION_PATH) without dependencies; output ``bin``
    python run.py run       reconciler COMMAND PATHS --format markdown ARGS (plan with
                            --detailed-exitcode; validate first once more with --format github,
                            for annotations); the report goes to a file, the log and
                            $GITHUB_STEP_SUMMARY; outputs ``exit-code``, ``has-changes``,
                            ``report``

action.yml hands every input over as an environment variable (INPUT_COMMAND, INPUT_PATHS,
INPUT_TARGET, INPUT_PRODUCT, INPUT_ARGS), never as a template inside a script, so no input
becomes shell code. Credentials are read by reconciler itself from DUCTAPE_* variables the
caller sets from its secrets. Only the standard library: ``install`` runs before reconciler
exists. Python 3.10 or newer, like the package.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

COMMANDS = ("validate", "plan", "apply", "drift", "snapshot")
# Commands whose exit 2 is an answer (changes to apply, drift found), not a failure.
EXIT_2_MEANS_CHANGES = ("plan", "drift")
# Commands that read or write a product: they must name it.
NEEDS_TARGET = ("plan", "apply", "drift", "snapshot")
EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
# The pinned, hashed requirements the install uses, relative to the action's checkout.
LOCK = Path("action") / "requirements.lock"


class ActionInputError(Exception):
    """An input of the action that cannot work; the message is shown as one annotation."""


def main(argv: list[str]) -> int:
    if argv[1:] == ["install"]:
        return install()
    if argv[1:] == ["run"]:
        return run()
    print("usage: run.py install|run", file=sys.stderr)
    return EXIT_ERROR


# -- install -------------------------------------------------------------------------------


def install() -> int:
    """Install the action's checkout into a virtualenv of its own; output its script."""
    source = Path(_required("GITHUB_ACTION_PATH"))
    # One virtualenv per action checkout: a job may use the action several times (validate,
    # then plan) and pay for the install once, and two versions of the action never mix.
    key = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:12]
    venv = Path(_required("RUNNER_TEMP")) / f"reconciler-venv-{key}"
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    script = bindir / ("reconciler.exe" if os.name == "nt" else "reconciler")
    if not script.exists():
        pip = [str(bindir / "python"), "-m", "pip", "--disable-pip-version-check"]
        for argv in (
            [sys.executable, "-m", "venv", str(venv)],
            # Only what the lock names, each file checked against its hash; then the
            # checkout itself with nothing more (its build backend is in the lock too).
            [*pip, "install", "-q", "--require-hashes", "-r", str(source / LOCK)],
            [*pip, "install", "-q", "--no-deps", "--no-build-isolation", str(source)],
        ):
            if subprocess.run(argv, stdin=subprocess.DEVNULL, check=False).returncode != 0:
                # Its own output is above; the run must fail on this line, not a traceback.
                step = " ".join(argv[1:3])
                print(
                    f"::error title=reconciler action::could not install reconciler: {step} failed"
                )
                return EXIT_ERROR
    _set_outputs({"bin": str(script)})
    return EXIT_OK


# -- run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    """The command the inputs ask for, split into words; never passed through a shell."""

    binary: str
    command: str
    paths: tuple[str, ...]
    args: tuple[str, ...]

    def argv(self, fmt: str) -> list[str]:
        if self.command == "snapshot":
            # It reads no manifests and has no report formats: its one line is the report.
            return [self.binary, self.command, *self.args]
        extra = ["--detailed-exitcode"] if self.command == "plan" else []
        # ARGS come after the action's options: one given there (a second --format) wins.
        # PATHS come after "--", so a path that starts with "-" is never read as an option.
        paths = ["--", *self.paths] if self.paths else []
        return [self.binary, self.command, *extra, "--format", fmt, *self.args, *paths]


def run() -> int:
    """Run the command the inputs ask for; the step fails on 1 and 3, never on 2 alone."""
    command = os.environ.get("INPUT_COMMAND", "").strip()
    report = _report_path(command if command in COMMANDS else "invalid")
    try:
        invocation = _invocation(command)
    except ActionInputError as exc:
        print(f"::error title=reconciler action::{_escape(str(exc))}")
        text = f"#### reconciler: the action was misconfigured\n\n{exc}\n"
        report.write_text(text, encoding="utf-8")
        _summarise(text)
        _set_outputs({"exit-code": str(EXIT_ERROR), "has-changes": "false", "report": report})
        return EXIT_ERROR

    env = dict(os.environ)
    # The action writes the summary and outputs; a reconciler that also writes them when it
    # sees GITHUB_ACTIONS must not write them twice.
    for variable in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"):
        env.pop(variable, None)
    # The inputs win over variables the caller set; empty inputs leave those alone.
    for name, variable in (
        ("INPUT_TARGET", "RECONCILER_TARGET"),
        ("INPUT_PRODUCT", "DUCTAPE_PRODUCT"),
    ):
        value = os.environ.get(name, "").strip()
        if value:
            env[variable] = value

    if command == "validate":
        # Annotations on the pull request's lines: workflow commands, meant for the runner.
        subprocess.run(invocation.argv("github"), env=env, stdin=subprocess.DEVNULL, check=False)
        sys.stdout.flush()

    with report.open("w", encoding="utf-8") as out:
        done = subprocess.run(
            invocation.argv("markdown"),
            env=env,
            stdout=out,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    code = done.returncode
    errors = done.stderr.decode("utf-8", "replace")
    text = report.read_text(encoding="utf-8", errors="replace")
    # Changes come with their report. An exit 2 with nothing on stdout is click rejecting the
    # command line (its usage errors exit 2), never changes.
    changes = code == EXIT_CHANGES and command in EXIT_2_MEANS_CHANGES and bool(text.strip())
    failed = code != EXIT_OK and not changes

    _log(text, errors)
    if failed:
        # The report is what a pull-request comment or an issue shows: it must say why.
        text += f"\n**reconciler {command} failed (exit {code})**\n\n"
        text += _fenced(errors.strip() or "(no message)")
        report.write_text(text, encoding="utf-8")
    _summarise(text)
    _set_outputs(
        {
            "exit-code": str(code),
            "has-changes": "true" if changes else "false",
            "report": str(report),
        }
    )
    return code if failed else EXIT_OK


def _invocation(command: str) -> Invocation:
    if command not in COMMANDS:
        raise ActionInputError(f"the input 'command' must be one of {', '.join(COMMANDS)}")
    try:
        paths = shlex.split(os.environ.get("INPUT_PATHS", ""))
        args = shlex.split(os.environ.get("INPUT_ARGS", ""))
    except ValueError as exc:
        raise ActionInputError(f"the input 'paths' or 'args' cannot be split: {exc}") from exc
    target = os.environ.get("INPUT_TARGET", "").strip() or os.environ.get("RECONCILER_TARGET", "")
    if command in NEEDS_TARGET and not target.strip():
        # An empty target would be the runner's own throw-away file: a green run that never
        # reached the product.
        raise ActionInputError(
            f"the input 'target' is required for {command}: the product's Ductape URL (such "
            "as https://api.ductape.app), or a sqlite:/// file; or set RECONCILER_TARGET"
        )
    binary = os.environ.get("RECONCILER_BIN") or shutil.which("reconciler")
    if not binary:
        raise ActionInputError("reconciler is not installed (RECONCILER_BIN is not set)")
    return Invocation(binary, command, tuple(paths), tuple(args))


def _report_path(command: str) -> Path:
    directory = Path(os.environ.get("RUNNER_TEMP") or tempfile.gettempdir())
    handle, name = tempfile.mkstemp(prefix=f"reconciler-{command}-", suffix=".md", dir=directory)
    os.close(handle)
    return Path(name)


def _log(report: str, errors: str) -> None:
    """Echo the report and errors to the log, with workflow commands switched off.

    The report quotes manifests and live jobs: a line of it that starts with ``::`` must not
    reach the runner as a command. A random token ends the pause, so the text cannot.
    """
    token = secrets.token_hex(16)
    print(f"::stop-commands::{token}")
    print(report, end="" if report.endswith("\n") else "\n")
    if errors:
        print(errors, end="" if errors.endswith("\n") else "\n")
    print(f"::{token}::", flush=True)


def _summarise(markdown: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(markdown if markdown.endswith("\n") else markdown + "\n")


def _set_outputs(outputs: dict[str, str | Path]) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        for name, value in outputs.items():
            # The multi-line form with a random delimiter: no value can end it early.
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
            out.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def _fenced(text: str) -> str:
    """A Markdown code block that no run of backticks inside ``text`` can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}\n"


def _escape(text: str) -> str:
    """Escape a workflow command's message: %, CR and LF."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"run.py: {name} is not set; this script runs inside the action")
    return value


if __name__ == "__main__":
    sys.exit(main(sys.argv))
