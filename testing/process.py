"""Paths and processes the tests share: the installed script, a clean environment."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "jobs"
EXAMPLE_SEED = ROOT / "examples" / "seed.yaml"
# The console script pip installed beside this interpreter: what a user runs.
SCRIPT = Path(sys.executable).parent / "reconciler"
# The tests' "now" (reconciler.clock reads RECONCILER_NOW): every date in the tests and the
# examples is seen from here, so no test depends on the day it runs (tests/conftest.py sets it).
TEST_NOW = "2026-11-01T00:00:00Z"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without reconciler or Ductape settings, plus ``extra``.

    The tests' clock (``RECONCILER_NOW``) is kept: it is not a setting a test means to drop.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DUCTAPE_", "RECONCILER_")) and k != "NO_COLOR"
    }
    env["RECONCILER_NOW"] = os.environ.get("RECONCILER_NOW", TEST_NOW)
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


def default_signals() -> None:
    """For ``preexec_fn``: the child gets SIGINT and SIGTERM as a fresh shell would give them.

    An ignored signal stays ignored through fork and exec: under a background job (SIGINT
    ignored) Python installs no KeyboardInterrupt handler and a test's SIGINT did nothing. A
    test that signals its child must not depend on how pytest itself was started.
    """
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)


def read_terminal(master: int, proc: subprocess.Popen[Any], seconds: float) -> bytes:
    """What a child wrote to the pseudo-terminal ``master`` until it closed its side or
    exited, within ``seconds``; ``master`` is closed after."""
    chunks = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed its side
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    return b"".join(chunks)
