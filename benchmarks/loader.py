"""The bounded loader against the parse-only floor, this tree beside an earlier one, in one run.

    python benchmarks/loader.py [--size 10000] [--repeat 3] [--before DIR] [--keep DIR]

Generates ``--size`` one-job manifests and a store holding the same jobs with one in ten changed
(``benchlib.dataset``), then measures, as medians of ``--repeat`` runs:

- the floor: walk, read and parse every file with PyYAML's C loader (timestamps kept as text),
  in this process; nothing validated;
- ``reconciler validate DIR`` and ``reconciler plan DIR --target sqlite:///...`` as a user runs
  them (a subprocess each, start-up included);
- the loader alone, in a fresh process: :func:`reconciler.manifests.load_documents` over the
  files :func:`~reconciler.manifests.scan` finds, timed inside that process;
- the hostile corpus (``tests/data/hostile``): every case loaded once in a warm process, the
  slowest case and the total.

With ``--before DIR`` (a checkout of an earlier commit, e.g. ``git archive REV | tar -x -C DIR``)
every figure but the floor is measured for that tree too, in the same run, on the same files;
each tree's commands run in that tree, so each imports its own code.
The script prints a table with the goals of issue 18 beside the ratios and a final JSON line;
it exits 0 whatever the figures (1 only when a command failed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchlib.dataset import PRODUCT, generate
from benchlib.measure import CommandFailed, compiled, run
from benchlib.peers import C_LOADER, parse_only

HERE = Path(__file__).resolve().parent.parent
HOSTILE = HERE / "tests" / "data" / "hostile"
GOALS = {"validate": 1.3, "plan": 1.8}  # issue 18: times the parse-only floor

# Run inside a fresh interpreter with the tree under test first on sys.path.
_LOADER_ONLY = """
import json, sys, time
from reconciler import manifests
root, repeat = sys.argv[1], int(sys.argv[2])
times = []
for _ in range(repeat):
    started = time.process_time()
    problems = []
    count = sum(1 for _ in manifests.load_documents(manifests.scan([root]).files, problems))
    times.append(time.process_time() - started)
    assert count and not problems, (count, problems[:3])
print(json.dumps(sorted(times)[len(times) // 2]))
"""

_HOSTILE = """
import json, sys, time
from pathlib import Path
from reconciler.desired import load_desired
cases = sorted(Path(sys.argv[1]).glob("*.yaml"))
load_desired([str(cases[0])])  # warm: schema and validators built once
spent = {}
for case in cases:
    best = None
    for _ in range(3):
        started = time.perf_counter()
        desired = load_desired([str(case)])
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    assert desired.errors, case.name
    spent[case.name] = best
print(json.dumps(spent))
"""


def tree_env(tree: Path) -> dict[str, str]:
    """The environment that makes ``python -m reconciler`` run the code of ``tree``.

    Run it in ``tree`` too (:func:`where`): ``-m`` and ``-c`` put the working directory first
    on ``sys.path``, ahead of ``PYTHONPATH``, so a run started in another checkout would
    import that checkout's code whatever the environment says.
    """
    return {**os.environ, "PYTHONPATH": str(tree), "NO_COLOR": "1"}


def where(env: dict[str, str]) -> str | None:
    """The working directory for a command run in ``env``: the tree it runs the code of."""
    return env.get("PYTHONPATH")


def cpu_of(cmd: Sequence[str], env: dict[str, str], ok: Sequence[int] = (0,)) -> float:
    """CPU seconds (user + system) of one run of ``cmd``, taken by ``os.wait4`` on it.

    CPU time, not wall time: on a machine shared with other work, wall time swings by half
    from one run to the next, and what the loader costs is CPU either way.
    """
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: nothing can block on it
        child = subprocess.Popen(
            list(cmd),
            env=env,
            cwd=where(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        err = errors.read()
    code = child.returncode
    if code not in ok:
        tail = " | ".join(err.decode(errors="replace").strip().splitlines()[-3:])
        raise CommandFailed(f"{' '.join(cmd[:4])} ...: exit {code}: {tail}")
    return usage.ru_utime + usage.ru_stime


def floor_cpu(root: Path) -> float:
    started = time.process_time()
    parse_only(root, C_LOADER)
    return time.process_time() - started


def commands(root: Path, store: Path) -> dict[str, tuple[list[str], tuple[int, ...]]]:
    rec = [sys.executable, "-m", "reconciler"]
    plan = [*rec, "plan", str(root), "--target", f"sqlite:///{store}", "--product", PRODUCT]
    return {"validate_s": ([*rec, "validate", str(root)], (0,)), "plan_s": (plan, (0, 2))}


def measure(
    trees: dict[str, Path], root: Path, store: Path, repeat: int
) -> tuple[float, dict[str, dict[str, Any]]]:
    """The floor and each tree's commands, interleaved round by round; medians of CPU time."""
    floors: list[float] = []
    times: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    for tree in trees.values():  # warm: bytecode compiled, files and store cached
        compiled(tree)
        for cmd, ok in commands(root, store).values():
            cpu_of(cmd, tree_env(tree), ok)
    for _ in range(repeat):
        floors.append(floor_cpu(root))
        for name, tree in trees.items():
            for key, (cmd, ok) in commands(root, store).items():
                times[name].setdefault(key, []).append(cpu_of(cmd, tree_env(tree), ok))
    out: dict[str, dict[str, Any]] = {}
    for name, tree in trees.items():
        env = tree_env(tree)
        figures: dict[str, Any] = {k: statistics.median(v) for k, v in times[name].items()}
        loader = [sys.executable, "-c", _LOADER_ONLY, str(root), str(repeat)]
        figures["loader_s"] = json.loads(run(loader, cwd=tree, env=env, capture=True))
        hostile = json.loads(
            run([sys.executable, "-c", _HOSTILE, str(HOSTILE)], cwd=tree, env=env, capture=True)
        )
        slowest = max(hostile, key=hostile.__getitem__)
        figures["hostile_cases"] = len(hostile)
        figures["hostile_total_s"] = sum(hostile.values())
        figures["hostile_slowest"] = [slowest, hostile[slowest]]
        figures["hostile_s"] = hostile
        out[name] = figures
    return statistics.median(floors), out


def print_table(size: int, floor: float, trees: dict[str, dict[str, Any]]) -> None:
    names = list(trees)
    print(f"\n{size:,} one-job manifests, 10% changed live; CPU seconds, medians")
    print(f"floor (walk, read, parse with the C loader, in-process): {floor:.3f} s")
    print(f"{'figure':<28}" + "".join(f"{n:>22}" for n in names) + f"{'goal':>10}")
    for key, label in (("validate_s", "validate"), ("plan_s", "plan"), ("loader_s", "loader")):
        cells = "".join(
            f"{trees[n][key]:>10.3f} s {trees[n][key] / floor:>7.2f}x   " for n in names
        )
        goal = GOALS.get(label)
        verdict = ""
        if goal is not None:
            verdict = "PASS" if trees[names[-1]][key] / floor <= goal else "FAIL"
        print(f"{label + ' vs floor':<28}{cells}{f'<= {goal}x' if goal else '':>10} {verdict}")
    for n in names:
        t = trees[n]
        name, spent = t["hostile_slowest"]
        print(
            f"hostile corpus ({n}): {t['hostile_cases']} cases, "
            f"{t['hostile_total_s'] * 1000:.1f} ms in all, slowest {name} {spent * 1000:.2f} ms"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", metavar="DIR", help="an earlier tree to measure beside")
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    args = parser.parse_args(argv)
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="reconciler-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    failure = None
    result: dict[str, Any] = {"size": args.size}
    try:
        (workdir / f"live-{args.size}.db").unlink(missing_ok=True)  # a kept run's store
        data = generate(workdir, args.size)
        parse_only(data.root, C_LOADER)  # warm the page cache
        named = {"before": Path(args.before)} if args.before else {}
        named["this tree"] = HERE
        floor, trees = measure(named, data.root, data.store, args.repeat)
        result["floor_s"] = floor
        result["trees"] = trees
        print_table(args.size, floor, trees)
    except CommandFailed as exc:
        failure = str(exc)
        print(f"error: a command failed: {failure}", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result["failure"] = failure
    print(json.dumps(result, separators=(",", ":")))
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())
