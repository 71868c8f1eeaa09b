"""Paths and processes the tests share: the installed script, a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "jobs"
EXAMPLE_SEED = ROOT / "examples" / "seed.yaml"
# The console script pip installed beside this interpreter: what a user runs.
SCRIPT = Path(sys.executable).parent / "reconciler"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without reconciler or Ductape settings, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DUCTAPE_", "RECONCILER_")) and k != "NO_COLOR"
    }
    env.update(extra)
    return env


def run_script(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the installed script to completion, no terminal, bounded in time."""
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
