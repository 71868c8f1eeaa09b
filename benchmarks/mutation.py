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
UNCOVERED = {"no tests"}  # no selected test runs the mutated code: nothing would catch it


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


def _function(name: str) -> str:
    """The mutated function: ``mod.x_func__mutmut_3`` or ``mod.xǁClassǁmethod__mutmut_3``."""
    last = name.rsplit("__mutmut_", 1)[0].rsplit(".", 1)[-1]
    return last.split("ǁ")[-1] if "ǁ" in last else last.removeprefix("x_")


def where(cwd: Path, name: str) -> str:
    """``file:line: old -> new`` for one mutant; mutmut's diff is numbered within the function."""
    shown = mutmut("show", name, cwd=cwd).splitlines()
    path = next((t[4:].strip() for t in shown if t.startswith("--- ")), "?")
    hunk = next((i for i, t in enumerate(shown) if t.startswith("@@")), None)
    removed = next((t[1:] for t in shown if t.startswith("-") and not t.startswith("---")), "")
    added = next((t[1:] for t in shown if t.startswith("+") and not t.startswith("+++")), "")
    line: int | None = None
    source = REPO / path
    if hunk is not None and source.is_file():
        found = re.search(r"-(\d+)", shown[hunk])
        start = int(found.group(1)) if found else 1
        before = 0
        for text in shown[hunk + 1 :]:
            if text.startswith("-"):
                break
            before += 1
        lines = source.read_text(encoding="utf-8").splitlines()
        define = re.compile(rf"\s*(async\s+)?def {re.escape(_function(name))}\(")
        for i, text in enumerate(lines, 1):
            at = i + start - 1 + before
            # Methods are shown dedented: compare the lines without their indentation.
            if define.match(text) and at <= len(lines) and lines[at - 1].strip() == removed.strip():
                line = at
                break
        else:
            line = next((i for i, t in enumerate(lines, 1) if t.strip() == removed.strip()), None)
    return f"{path}:{line or '?'}: {removed.strip()}  ->  {added.strip()}"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--modules", default=DEFAULT_MODULES, help="modules of reconciler/")
    parser.add_argument("--tests", default=DEFAULT_TESTS, help="test files of tests/")
    parser.add_argument("--minutes", type=float, default=25.0, help="wall-time cap")
    parser.add_argument("--children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    parser.add_argument(
        "--results-of", metavar="DIR", help="only report on a run kept with --keep in DIR"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    modules = [m.strip() for m in args.modules.split(",") if m.strip()]
    tests = [t.strip() for t in args.tests.split(",") if t.strip()]
    kept = args.keep or args.results_of
    work = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="reconciler-mutmut-"))
    elapsed, capped = 0.0, False
    try:
        if not args.results_of:
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
        if not kept:
            shutil.rmtree(work, ignore_errors=True)
    counts = Counter(found.values())
    killed = sum(n for s, n in counts.items() if s in KILLED)
    uncovered = sum(n for s, n in counts.items() if s in UNCOVERED)
    tested = killed + len(survivors)
    per_module: dict[str, list[int]] = {}
    for name, status in found.items():
        module = name.split(".")[1] if name.startswith("reconciler.") else name.split(".")[0]
        row = per_module.setdefault(module, [0, 0, 0])
        row[0] += status in KILLED
        row[1] += status in KILLED | SURVIVED
        row[2] += status in UNCOVERED
    # The score counts uncovered mutants as not killed: they would break nothing the tests see.
    judged = tested + uncovered
    score = killed / judged if judged else None
    print(
        f"mutation score of reconciler/{{{','.join(modules)}}}.py with {', '.join(tests)}: "
        + (f"{score:.1%} ({killed} killed of {judged})" if score is not None else "n/a")
    )
    if tested:
        print(f"  of the {tested} mutants a test ran: {killed / tested:.1%} killed")
    print(f"  {len(found)} mutants; statuses {dict(sorted(counts.items()))}")
    stopped = " (stopped at the cap: not every mutant ran)" if capped else ""
    print(f"  {elapsed / 60:.1f} min{stopped}")
    for module, (k, t, u) in sorted(per_module.items()):
        share = f" = {k / (t + u):.1%}" if t + u else ""
        print(f"  {module}: {k} killed of {t + u}{share} ({u} with no test)")
    print(f"surviving mutants ({len(survivors)}; the {uncovered} with no test are not listed):")
    for line in shown:
        print(f"  {line}")
    report: dict[str, Any] = {
        "benchmark": "reconciler-mutation",
        "modules": modules,
        "tests": tests,
        "score": score,
        "killed": killed,
        "tested": tested,
        "no_tests": uncovered,
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
