"""Which parts of issue 8's CLI this checkout has, for the tests written ahead of them.

Tests of the action and the hook that need a CLI feature the lead lands separately are
strict xfails while it is missing; each probe here asks the CLI itself (its click options,
or its behaviour), so the marker stops applying by itself once the feature is there.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import click
from conftest import SCRIPT, clean_env

from reconciler.cli import main as cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "jobs"


def formats_of(command: str) -> tuple[str, ...]:
    """The --format choices of ``reconciler COMMAND`` (none if there is no such command)."""
    found = cli.commands.get(command)
    for param in found.params if found else ():
        if param.name == "fmt" and isinstance(param.type, click.Choice):
            return tuple(str(choice) for choice in param.type.choices)
    return ()


@cache
def config_has_paths() -> bool:
    """Whether ``reconciler validate`` with no PATHS reads ``paths:`` from .reconciler.yaml."""
    with tempfile.TemporaryDirectory() as directory:
        here = Path(directory)
        (here / "jobs").mkdir()
        shutil.copy(EXAMPLES / "cache-warm.yaml", here / "jobs")
        (here / ".reconciler.yaml").write_text("paths: [jobs]\n")
        # Not a manifest: validated, and invalid, only when paths: is ignored.
        (here / "compose.yaml").write_text("services: {}\n")
        done = subprocess.run(
            [str(SCRIPT), "validate"],
            cwd=here,
            env=clean_env(),
            capture_output=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        return done.returncode == 0
