"""Running commands the way a user does, timing them, and their peak memory."""

from __future__ import annotations

import compileall
import gc
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


class CommandFailed(Exception):
    """A measured command (or a figure's own check) failed; the run's exit code becomes 1."""


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compiled(tree: Path) -> None:
    """Bytecode for every module of ``tree``, as an installed copy has it.

    With ``PYTHONDONTWRITEBYTECODE`` set (this machine's sandbox sets it) a measured start
    would compile every module from source, which no installed copy does.
    """
    if not compileall.compile_dir(str(tree / "reconciler"), quiet=1, workers=1):
        raise CommandFailed(f"could not compile {tree / 'reconciler'}")


def reconciler_cmd() -> list[str]:
    """The console script a user runs, next to this interpreter if it is there."""
    script = Path(sys.executable).parent / "reconciler"
    if script.exists():
        return [str(script)]
    found = shutil.which("reconciler")
    if found:
        return [found]
    return [sys.executable, "-c", "from reconciler.cli import main; main()"]


def run(
    cmd: Sequence[str],
    cwd: Path | None = None,
    ok: Sequence[int] = (0,),
    capture: bool = False,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> str:
    """Run ``cmd``; its stdout when ``capture``; CommandFailed on an unexpected exit code."""
    shown = " ".join(cmd[:6]) + (" ..." if len(cmd) > 6 else "")
    try:
        proc = subprocess.run(
            list(cmd),
            cwd=cwd,
            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(f"{shown}: still running after {timeout:g} s") from exc
    if proc.returncode not in ok:
        tail = proc.stderr.strip().splitlines()[-3:]
        raise CommandFailed(f"{shown}: exit {proc.returncode}: {' | '.join(tail)}")
    return proc.stdout if capture else ""


def time_cmd(cmd: Sequence[str], repeat: int, cwd: Path | None = None, **kw: Any) -> float:
    return median_time(lambda: run(cmd, cwd, **kw), repeat)


_RSS_WRAPPER = textwrap.dedent(
    """
    import resource, subprocess, sys
    code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(code, rss * (1 if sys.platform == "darwin" else 1024))
    """
)


def peak_rss_mb(cmd: Sequence[str]) -> float:
    """Max RSS of one run of ``cmd``, measured by a fresh wrapper process that only runs it."""
    out = run([sys.executable, "-c", _RSS_WRAPPER, *cmd], capture=True).split()
    if out[0] != "0":
        raise CommandFailed(f"{' '.join(cmd[:3])} ...: exit {out[0]} under the RSS wrapper")
    return int(out[1]) / 2**20
