"""Mutation score of the core modules: how many small breakages the fast tests catch.

    python benchmarks/mutation.py [--modules model,plan,diff] [--tests test_model.py,...]
                                  [--minutes 25] [--children 2] [--keep DIR]

It copies the tracked tree (as it is on disk) into a scratch folder, adds a ``[tool.mutmut]``
section there (the project's own pyproject.toml is left alone), and runs ``mutmut run`` under
``nice`` with a wall-time cap: when the cap is reached the run is stopped and the mutants tested
so far are counted. It prints the score (killed / tested), every surviving mutant as
``file:line`` with the mutated line, and a final JSON line. A figure, not a gate: exit 0 unless
mutmut itself could not run. Needs ``pip install mutmut`` (3.x).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODULES = "model,plan,diff"
DEFAULT_TESTS = "test_model.py,test_plan.py,test_schema.py,test_manifests.py"
KILLED = {"killed", "timeout", "segfault", "caught by type check"}
SURVIVED = {"survived"}


def copy_tree(dest: Path) -> None:
    """The tracked files as they are on disk (uncommitted edits included)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        src = REPO / os.fsdecode(name)
        if src.is_file():
            target = dest / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def configure(dest: Path, modules: list[str], tests: list[str]) -> None:
    only = ", ".join(json.dumps(f"reconciler/{m}.py") for m in modules)
    selection = ", ".join(json.dumps(f"tests/{t}") for t in tests)
    with open(dest / "pyproject.toml", "a", encoding="utf-8") as handle:
        handle.write(
            "\n[tool.mutmut]\n"
            'source_paths = ["reconciler"]\n'
            f"only_mutate = [{only}]\n"
            f"pytest_add_cli_args_test_selection = [{selection}]\n"
            'also_copy = ["schemas", "examples", "reconciler"]\n'
        )


def mutmut(*args: str, cwd: Path, timeout: float = 120) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "mutmut", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"mutmut {args[0]}: exit {proc.returncode}: {proc.stderr[-500:]}")
    return proc.stdout


def run_capped(cwd: Path, children: int, seconds: float) -> tuple[float, bool]:
    """``nice mutmut run``; stopped (its own process group only) when ``seconds`` pass."""
    start = time.monotonic()
    proc = subprocess.Popen(
        ["nice", "-n", "10", sys.executable, "-m", "mutmut", "run", f"--max-children={children}"],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        proc.wait(seconds)
        capped = False
    except subprocess.TimeoutExpired:
        capped = True
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return time.monotonic() - start, capped


_RESULT = re.compile(r"^\s*([\w.]+__mutmut_\d+): (.+?)\s*$")


def statuses(cwd: Path) -> dict[str, str]:
    out = mutmut("results", "--all", "true", cwd=cwd)
    return {m.group(1): m.group(2) for line in out.splitlines() if (m := _RESULT.match(line))}


def where(cwd: Path, name: str) -> str:
    """``file:line: the mutated line`` for one mutant, from ``mutmut show``."""
    shown = mutmut("show", name, cwd=cwd)
    path, line = "?", "?"
    removed = added = ""
    for text in shown.splitlines():
        if text.startswith("+++ ") or text.startswith("--- "):
            path = text[4:].strip().removeprefix("a/").removeprefix("b/")
        elif text.startswith("@@"):
            found = re.search(r"-(\d+)", text)
            line = found.group(1) if found else "?"
        elif text.startswith("-") and not removed:
            removed = text[1:].strip()
        elif text.startswith("+") and not added:
            added = text[1:].strip()
    if removed and added:
        ops = difflib.SequenceMatcher(None, removed, added).get_opcodes()
        change = "; ".join(
            f"{removed[i1:i2]!r} -> {added[j1:j2]!r}"
            for tag, i1, i2, j1, j2 in ops
            if tag != "equal"
        )
        return f"{path}:{line}: {removed}   [{change}]"
    return f"{path}:{line}: {removed or added}"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--modules", default=DEFAULT_MODULES, help="modules of reconciler/")
    parser.add_argument("--tests", default=DEFAULT_TESTS, help="test files of tests/")
    parser.add_argument("--minutes", type=float, default=25.0, help="wall-time cap")
    parser.add_argument("--children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    modules = [m.strip() for m in args.modules.split(",") if m.strip()]
    tests = [t.strip() for t in args.tests.split(",") if t.strip()]
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="reconciler-mutmut-"))
    try:
        copy_tree(work)
        configure(work, modules, tests)
        elapsed, capped = run_capped(work, args.children, args.minutes * 60)
        found = statuses(work)
        survivors = sorted(n for n, s in found.items() if s in SURVIVED)
        shown = [where(work, n) for n in survivors]
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    counts = Counter(found.values())
    killed = sum(n for s, n in counts.items() if s in KILLED)
    tested = killed + len(survivors)
    per_module: dict[str, list[int]] = {}
    for name, status in found.items():
        module = name.split(".")[1] if name.startswith("reconciler.") else name.split(".")[0]
        row = per_module.setdefault(module, [0, 0])
        if status in KILLED:
            row[0] += 1
        if status in KILLED | SURVIVED:
            row[1] += 1
    score = killed / tested if tested else None
    print(
        f"mutation score of reconciler/{{{','.join(modules)}}}.py with {', '.join(tests)}: "
        + (f"{score:.1%} ({killed} killed of {tested} tested)" if score is not None else "n/a")
    )
    print(f"  {len(found)} mutants; statuses {dict(sorted(counts.items()))}")
    print(
        f"  {elapsed / 60:.1f} min"
        + (" (stopped at the cap: not every mutant ran)" if capped else "")
    )
    for module, (k, t) in sorted(per_module.items()):
        print(f"  {module}: {k}/{t}" + (f" = {k / t:.1%}" if t else ""))
    print(f"surviving mutants ({len(survivors)}):")
    for line in shown:
        print(f"  {line}")
    report: dict[str, Any] = {
        "benchmark": "reconciler-mutation",
        "modules": modules,
        "tests": tests,
        "score": score,
        "killed": killed,
        "tested": tested,
        "mutants": len(found),
        "statuses": dict(counts),
        "minutes": elapsed / 60,
        "capped": capped,
        "survivors": shown,
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
