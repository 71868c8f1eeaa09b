"""The figures of issue 18 beyond the loader, with their goals: this tree beside an earlier one.

    python benchmarks/speed.py [--size 10000] [--rss-size 50000] [--repeat 3] [--before DIR]
                               [--products 20] [--check-jsonschema PATH] [--off PART ...]

Every figure is measured in one run, its floor in the same run on the same files:

- ``help``: ``reconciler --help``, wall seconds, median of ``--repeat`` x 5 runs (goal <= 0.05 s);
- ``loader``: ``reconciler validate`` and ``reconciler plan`` (the embedded store holding the
  same jobs, one in ten changed: ``benchlib.dataset.generate``) of the ``--size`` files, whole
  process, CPU, vs the parse-only floor below; goals <= 1.3x and <= 1.8x (``loader.py``
  measures the same with the loader alone and the hostile corpus);
- ``small``: ``reconciler validate`` of the example manifests, whole process, CPU seconds, vs the
  small floor (a fresh Python that imports yaml and jsonschema_rs, reads the same files,
  parses them with the C loader and validates each document), medians of ``--repeat`` x 3
  runs, goal <= 2x;
- ``apply``: ``reconciler apply --auto-approve`` of ``--size`` creates into a fresh embedded
  store, wall seconds (a commit's sync of the journal is waiting, not CPU; CPU is shown
  too), vs the parse-only floor of ``loader.py`` (walk, read, parse with the C
  loader, in-process), goal <= 5x;
- ``rss``: peak RSS of ``reconciler plan`` of ``--rss-size`` creates (an empty store), goal
  <= 150 MB;
- ``peer``: check-jsonschema (``--check-jsonschema PATH``, else the one on ``PATH``) on the
  ``--size`` files with the project's schema, batched under ARG_MAX, CPU seconds summed, vs
  ``reconciler validate`` of the same files, whole process, CPU; goal: the peer at least 10x
  slower. Without a check-jsonschema the figure is missing (``pip install check-jsonschema``
  into any environment and pass its path);
- ``products``: ``reconciler plan`` of ``--products`` products of 5 jobs each, from
  ``products:`` in ``.reconciler.yaml``, against ``reconciler serve`` behind the counting proxy
  adding 50 ms to every request, vs one product's whole run (``--only-product``) the same way;
  wall seconds, goal <= 2.5x. Each run gets a fresh server (its log-in limit is per minute);
  the figure is the median of 2 x ``--repeat`` + 1 rounds' ratios (one run of each, in
  alternating order), their range shown, and each run's requests by kind.

Each tree's modules are compiled to bytecode first (``compileall``), as ``pip install`` does:
a run with ``PYTHONDONTWRITEBYTECODE`` set (this machine's sandbox) would otherwise compile
every module from source on every start, which no installed copy does (about 70 ms of
``validate``'s 200 ms here).

``--before DIR`` (``git archive REV | tar -x -C DIR``) measures that tree too: ``help``,
``loader``, ``small`` and ``peer`` run by run, alternating; the others tree after tree.
``--off PART [PART ...]`` leaves parts out: their figures are then missing, which the run
reports and exits 1 for (the smoke test checks that). Otherwise it exits 0 whatever the
figures: a measurement, not a test. A table first, then one JSON line.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from benchlib.dataset import PRODUCT, generate, write_manifests
from benchlib.live import (
    PRIVATE_KEY,
    USER_ID,
    WORKSPACE_ID,
    CountingProxy,
    client_env,
    log_in,
    serve,
)
from benchlib.measure import CommandFailed, compiled, peak_rss_mb, run
from benchlib.peers import batches, find_peer
from loader import HERE, cpu_of, floor_cpu, tree_env

PARTS = ("help", "loader", "small", "apply", "rss", "peer", "products")
EXAMPLES = HERE / "examples" / "jobs"
LATENCY_S = 0.050
JOBS_PER_PRODUCT = 5
# figure -> (goal, unit of the goal, what it is measured against); a figure must be at most
# its goal, or at least it for those in AT_LEAST.
GOALS: dict[str, tuple[float, str, str]] = {
    "help_s": (0.05, "s", "reconciler --help, wall"),
    "validate_vs_floor": (1.3, "x", "validate of the files vs the parse floor, CPU"),
    "plan_vs_floor": (1.8, "x", "plan of the files (10% changed) vs the parse floor, CPU"),
    "small_vs_floor": (2.0, "x", "validate of the examples vs the small floor, CPU"),
    "apply_vs_floor": (5.0, "x", "apply of the creates (embedded, wall) vs the parse floor"),
    "plan_peak_rss_mb": (150.0, "MB", "peak RSS of plan of the creates"),
    "peer_vs_validate": (10.0, "x", "check-jsonschema on the creates vs validate, CPU"),
    "products_vs_one": (2.5, "x", "plan of the products over HTTP (+50 ms) vs one product"),
}
AT_LEAST = frozenset({"peer_vs_validate"})
FIGURE_OF_PART = {
    "help": "help_s",
    "loader": "validate_vs_floor",
    "small": "small_vs_floor",
    "apply": "apply_vs_floor",
    "rss": "plan_peak_rss_mb",
    "peer": "peer_vs_validate",
    "products": "products_vs_one",
}

_SMALL_FLOOR = """
import sys
from pathlib import Path
import jsonschema_rs, yaml
schema = Path(sys.argv[1]).read_text()
validator = jsonschema_rs.validator_for(__import__("json").loads(schema))
class Loader(yaml.CSafeLoader):
    pass
Loader.yaml_implicit_resolvers = {
    k: [(t, r) for t, r in v if t != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}
for path in sorted(p for p in Path(sys.argv[2]).rglob("*") if p.suffix in (".yaml", ".yml")):
    for doc in yaml.load_all(path.read_text(), Loader=Loader):
        validator.is_valid(doc)
"""


def rec(tree: Path) -> list[str]:
    """The tree's ``reconciler`` console script, as pip would write it: its entry point from
    ``[project.scripts]``, called with ``argv[0]`` set to ``reconciler``."""
    found = re.search(
        r'^reconciler = "([\w.]+):(\w+)"', (tree / "pyproject.toml").read_text(), re.M
    )
    if found is None:
        raise SystemExit(f"{tree}/pyproject.toml names no reconciler script")
    module, function = found.groups()
    script = "import sys; sys.argv[0] = 'reconciler'; from {} import {} as f; sys.exit(f())"
    # -P: no working directory first on sys.path, whence a run started in a checkout would
    # import that checkout's reconciler instead of the tree's (PYTHONPATH, tree_env).
    return [sys.executable, "-P", "-c", script.format(module, function)]


def wall_of(cmd: Sequence[str], env: dict[str, str], ok: Sequence[int] = (0,)) -> float:
    started = time.perf_counter()
    run(cmd, env=env, ok=ok)
    return time.perf_counter() - started


def _median(fn: Callable[[], float], times: int) -> float:
    return statistics.median(fn() for _ in range(times))


# --- the parts ---------------------------------------------------------------------------------


def interleaved(
    trees: dict[str, Path], rounds: int, once: Callable[[Path], tuple[float, ...]]
) -> dict[str, list[tuple[float, ...]]]:
    """``once(tree)`` for every tree, round by round: the machine's swings hit both alike."""
    out: dict[str, list[tuple[float, ...]]] = {name: [] for name in trees}
    for _ in range(rounds):
        for name, tree in trees.items():
            out[name].append(once(tree))
    return out


def help_once(tree: Path) -> tuple[float, ...]:
    return (wall_of([*rec(tree), "--help"], tree_env(tree)),)


def small_once(tree: Path) -> tuple[float, ...]:
    env = tree_env(tree)
    schema = HERE / "schemas" / "job.schema.json"
    floor = cpu_of([sys.executable, "-c", _SMALL_FLOOR, str(schema), str(EXAMPLES)], env)
    return floor, cpu_of([*rec(tree), "validate", str(EXAMPLES)], env)


def small_figures(samples: list[tuple[float, ...]]) -> dict[str, float]:
    floor = statistics.median(f for f, _ in samples)
    spent = statistics.median(v for _, v in samples)
    return {"small_floor_s": floor, "small_validate_s": spent, "small_vs_floor": spent / floor}


def loader_once(tree: Path, root: Path, store: Path) -> tuple[float, ...]:
    env = tree_env(tree)
    validate = [*rec(tree), "validate", str(root)]
    plan = [*rec(tree), "plan", str(root), "--target", f"sqlite:///{store}", "--product", PRODUCT]
    return cpu_of(validate, env), cpu_of(plan, env, ok=(0, 2))


def loader_figures(samples: list[tuple[float, ...]], floor: float) -> dict[str, float]:
    spent = statistics.median(v for v, _ in samples)
    planned = statistics.median(p for _, p in samples)
    return {
        "validate_s": spent,
        "plan_s": planned,
        "validate_vs_floor": spent / floor,
        "plan_vs_floor": planned / floor,
    }


def apply(tree: Path, root: Path, work: Path, repeat: int, floor: float) -> dict[str, float]:
    env = tree_env(tree)

    def once() -> tuple[float, float]:
        store = work / "apply.db"
        for stale in (store, Path(f"{store}-wal"), Path(f"{store}-shm")):
            stale.unlink(missing_ok=True)
        target = f"sqlite:///{store}"
        cmd = [*rec(tree), "apply", str(root), "--target", target, "--auto-approve"]
        started = time.perf_counter()
        cpu = cpu_of([*cmd, "--product", PRODUCT], env)
        return time.perf_counter() - started, cpu

    runs = [once() for _ in range(repeat)]
    wall = statistics.median(w for w, _ in runs)
    cpu = statistics.median(c for _, c in runs)
    # Judged on wall time: what a write costs beyond CPU is the journal's sync per commit.
    return {"apply_s": wall, "apply_cpu_s": cpu, "apply_vs_floor": wall / floor}


def rss(tree: Path, root: Path, work: Path) -> dict[str, float]:
    env = tree_env(tree)
    target = f"sqlite:///{work / 'absent.db'}"
    cmd = [*rec(tree), "plan", str(root), "--target", target, "--product", PRODUCT]
    saved = dict(os.environ)
    os.environ.update(env)  # the wrapper passes its environment on
    try:
        return {"plan_peak_rss_mb": peak_rss_mb(cmd)}
    finally:
        os.environ.clear()
        os.environ.update(saved)


def peer_once(tree: Path, root: Path, command: list[str]) -> tuple[float, ...]:
    env = tree_env(tree)
    files = sorted(str(p) for p in root.rglob("*.yaml"))
    fixed = [*command, "--schemafile", str(HERE / "schemas" / "job.schema.json")]
    groups = batches(files, fixed)
    spent = sum(cpu_of([*fixed, *group], env) for group in groups)
    return spent, cpu_of([*rec(tree), "validate", str(root)], env), float(len(groups))


def peer_figures(samples: list[tuple[float, ...]]) -> dict[str, float]:
    spent = statistics.median(s for s, _, _ in samples)
    validate = statistics.median(v for _, v, _ in samples)
    return {
        "peer_s": spent,
        "peer_validate_s": validate,
        "peer_batches": samples[0][2],
        "peer_vs_validate": spent / validate,
    }


def products_repo(work: Path, count: int) -> Path:
    """``count`` products of JOBS_PER_PRODUCT jobs each, listed in .reconciler.yaml."""
    repo = work / f"products-{count}"
    shutil.rmtree(repo, ignore_errors=True)
    lines = ["products:"]
    for n in range(count):
        name = f"p{n:02d}"
        write_manifests(repo / name, JOBS_PER_PRODUCT, layout=f"{name}-")
        lines.append(f"  {name}: {{paths: [{name}], product: {name}}}")
    repo.mkdir(exist_ok=True)
    (repo / ".reconciler.yaml").write_text("\n".join(lines) + "\n")
    (repo / ".git").mkdir(exist_ok=True)  # the configuration is looked for up to here
    return repo


def _products_seed(work: Path, count: int) -> Path:
    from benchlib.live import seed_document

    seed = seed_document()
    template = seed["products"][0]
    seed["products"] = [
        {"name": f"p{n:02d}", "catalogue": json.loads(json.dumps(template["catalogue"]))}
        for n in range(count)
    ]
    path = work / f"products-{count}.seed.yaml"
    path.write_text(yaml.safe_dump(seed))
    return path


def _fresh_server_db(work: Path, seed: Path, name: str) -> Path:
    from reconciler.server import load_seed
    from reconciler.targets.store import Store

    db = work / f"{name}.db"
    for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        stale.unlink(missing_ok=True)
    store = Store(str(db))
    try:
        load_seed(store, str(seed))
    finally:
        store.close()
    return db


def product_rounds(repeat: int) -> int:
    """Rounds of the products part: 2 x ``repeat`` + 1, an odd count whose median is one of
    them. Each round is two process runs of about a second on a machine shared with other
    work, whose swings (hundreds of ms) are the size of the figure's margin."""
    return 2 * repeat + 1


def products(tree: Path, work: Path, count: int, repeat: int) -> dict[str, Any]:
    """Round by round, one product's run and all the products' run, each on a fresh server
    (warmed by a log-in straight to it, not counted), in alternating order; the figure is
    the median of the rounds' ratios: both runs of a round meet the same load."""
    repo = products_repo(work, count)
    seed = _products_seed(work, count)
    env = {**tree_env(tree), **{k: v for k, v in client_env().items() if k.startswith("DUCTAPE")}}
    assert env["DUCTAPE_USER_ID"] == USER_ID and env["DUCTAPE_WORKSPACE_ID"] == WORKSPACE_ID
    assert env["DUCTAPE_PRIVATE_KEY"] == PRIVATE_KEY

    def once(extra: Sequence[str]) -> tuple[float, dict[str, int]]:
        db = _fresh_server_db(work, seed, "products-server")
        with serve(db) as url, CountingProxy(url, LATENCY_S) as proxy:
            log_in(url)  # the server's first request pays its own start-up: not the client's
            cmd = [*rec(tree), "plan", "--target", proxy.url, "--detailed-exitcode", *extra]
            started = time.perf_counter()
            run(cmd, cwd=repo, env=env, ok=(2,))
            spent = time.perf_counter() - started
        if proxy.errors:
            raise CommandFailed(f"the counting proxy saw {proxy.errors} broken exchange(s)")
        kinds: dict[str, int] = proxy.traffic.summary()["requests_by_kind"]
        return spent, kinds

    one, many, ratios, logins = [], [], [], []
    kinds_one: dict[str, int] = {}
    kinds_many: dict[str, int] = {}
    for n in range(product_rounds(repeat)):
        runs = [("one", ("--only-product", "p00")), ("many", ())]
        timed = {}
        for name, extra in runs if n % 2 == 0 else runs[::-1]:
            timed[name] = once(extra)
        (a, kinds_one), (b, kinds_many) = timed["one"], timed["many"]
        one.append(a)
        many.append(b)
        ratios.append(b / a)
        logins.append(kinds_many.get("login", 0))
    return {
        "products": count,
        "product_rounds": len(ratios),
        "one_product_s": statistics.median(one),
        "products_s": statistics.median(many),
        "products_vs_one": statistics.median(ratios),
        "products_vs_one_rounds": ratios,
        "one_product_rounds_s": one,
        "products_rounds_s": many,
        "products_logins": max(logins),
        # The requests of one run, by kind, as the proxy counted them (the last round's).
        "one_product_requests": kinds_one,
        "products_requests": kinds_many,
    }


# --- the run -----------------------------------------------------------------------------------


def measure(args: argparse.Namespace, trees: dict[str, Path], work: Path) -> dict[str, Any]:
    parts = [p for p in PARTS if p not in args.off]
    out: dict[str, Any] = {name: {} for name in trees}
    root = work / f"manifests-{args.size}"
    peer_cmd, peer_note = find_peer(False, args.check_jsonschema)
    if args.check_jsonschema and peer_cmd != [args.check_jsonschema]:
        peer_cmd, peer_note = None, f"{args.check_jsonschema} is not an executable"
    if "peer" in parts and peer_cmd is None:
        say(f"peer: {peer_note}")
        parts.remove("peer")
    store = work / f"live-{args.size}.db"
    if "loader" in parts:
        generate(work, args.size)  # root and a store of the same jobs, one in ten changed
    elif "apply" in parts or "peer" in parts:
        write_manifests(root, args.size)
    if "apply" in parts or "loader" in parts:
        floors = [floor_cpu(root) for _ in range(args.repeat)]
        out["floor_s"] = statistics.median(floors)
    if "rss" in parts:
        rss_root = root if args.rss_size == args.size else work / f"manifests-{args.rss_size}"
        if not rss_root.exists():
            write_manifests(rss_root, args.rss_size)
    for tree in trees.values():
        compiled(tree)
    say(f"measuring {', '.join(parts)} for {', '.join(trees)} ...")
    # Interleaved tree by tree, run by run: the machine's swings hit both trees alike. Apply,
    # memory and the products (each on its own store or server) go tree after tree.
    if "help" in parts:
        for name, runs in interleaved(trees, args.repeat * 5, help_once).items():
            out[name]["help_s"] = statistics.median(r[0] for r in runs)
    if "small" in parts:
        for name, runs in interleaved(trees, args.repeat * 3, small_once).items():
            out[name].update(small_figures(runs))
    if "loader" in parts:
        once = functools.partial(loader_once, root=root, store=store)
        for name, runs in interleaved(trees, args.repeat, once).items():
            out[name].update(loader_figures(runs, out["floor_s"]))
    if "peer" in parts and peer_cmd is not None:
        once = functools.partial(peer_once, root=root, command=peer_cmd)
        for name, runs in interleaved(trees, args.repeat, once).items():
            out[name].update(peer_figures(runs))
    for name, tree in trees.items():
        figures = out[name]
        if "apply" in parts:
            figures.update(apply(tree, root, work, args.repeat, out["floor_s"]))
        if "rss" in parts:
            figures.update(rss(tree, rss_root, work))
        if "products" in parts:
            figures.update(products(tree, work, args.products, args.repeat))
    return out


def verdicts(figures: dict[str, Any]) -> dict[str, str]:
    return {
        key: ("PASS" if met(key, figures[key], goal) else "FAIL") if key in figures else "MISSING"
        for key, (goal, _, _) in GOALS.items()
    }


def met(key: str, value: float, goal: float) -> bool:
    return value >= goal if key in AT_LEAST else value <= goal


def goal_text(key: str) -> str:
    goal, unit, _ = GOALS[key]
    return f"{'>=' if key in AT_LEAST else '<='} {goal:g}{unit}"


def print_table(args: argparse.Namespace, result: dict[str, Any], names: list[str]) -> None:
    print(
        f"\nissue 18 figures: {args.size:,} creates, plan RSS at {args.rss_size:,} creates, "
        f"{args.products} products x {JOBS_PER_PRODUCT} jobs over HTTP (+{LATENCY_S * 1000:.0f} "
        f"ms a request); medians of {args.repeat}"
    )
    if "floor_s" in result:
        print(f"parse floor (walk, read, C loader, in-process): {result['floor_s']:.3f} s CPU")
    print(f"{'figure':<58}" + "".join(f"{n:>14}" for n in names) + f"{'goal':>10}")
    last = result[names[-1]]
    for key, (_, unit, label) in GOALS.items():
        cells = "".join(
            f"{result[n][key]:>12.3f}{unit:<2}" if key in result[n] else f"{'missing':>14}"
            for n in names
        )
        print(f"{label:<58}{cells}{goal_text(key):>10} {verdicts(last)[key]}")
    for n in names:
        f = result[n]
        if "apply_s" in f:
            print(f"  {n}: apply {f['apply_s']:.2f} s wall, {f['apply_cpu_s']:.2f} s CPU")
        if "plan_s" in f:
            print(f"  {n}: validate {f['validate_s']:.2f} s CPU, plan {f['plan_s']:.2f} s CPU")
        if "small_floor_s" in f:
            print(
                f"  {n}: small floor {f['small_floor_s']:.3f} s CPU, "
                f"validate {f['small_validate_s']:.3f} s CPU"
            )
        if "peer_s" in f:
            print(
                f"  {n}: check-jsonschema {f['peer_s']:.2f} s CPU in {f['peer_batches']:.0f} "
                f"batch(es), validate {f['peer_validate_s']:.2f} s CPU"
            )
        if "products_s" in f:
            print(
                f"  {n}: {f['products']} products {f['products_s']:.2f} s, one product "
                f"{f['one_product_s']:.2f} s (medians); ratio median of "
                f"{f['product_rounds']} rounds, from {min(f['products_vs_one_rounds']):.2f}x to "
                f"{max(f['products_vs_one_rounds']):.2f}x; log-ins per run {f['products_logins']}"
            )
            for label, key in (("all", "products_requests"), ("one", "one_product_requests")):
                kinds = ", ".join(f"{k} {v}" for k, v in f[key].items())
                print(f"    requests of {label}: {sum(f[key].values())} ({kinds})")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=10_000, help="creates applied")
    parser.add_argument("--rss-size", type=int, default=50_000, help="creates planned for RSS")
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", metavar="DIR", help="an earlier tree to measure beside")
    parser.add_argument(
        "--off", action="extend", nargs="+", default=[], choices=PARTS, metavar="PART"
    )
    parser.add_argument("--check-jsonschema", metavar="PATH", help="the peer's executable")
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    args = parser.parse_args(argv)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="reconciler-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    trees = {"before": Path(args.before)} if args.before else {}
    trees["this tree"] = HERE
    failure = None
    result: dict[str, Any] = {}
    try:
        result = measure(args, trees, work)
    except CommandFailed as exc:
        failure = str(exc)
        print(f"error: a command failed: {failure}", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    names = list(trees)
    if not failure:
        print_table(args, result, names)
    checks = verdicts(result.get(names[-1], {}))
    missing = sorted(k for k, v in checks.items() if v == "MISSING")
    if missing and not failure:
        print(f"\nnot measured: {', '.join(missing)}", file=sys.stderr)
    result.update(failure=failure, goals=GOALS, verdicts=checks, missing=missing)
    result["args"] = {k: getattr(args, k) for k in ("size", "rss_size", "products", "repeat")}
    print(json.dumps(result, separators=(",", ":")))
    return 1 if failure or missing else 0


if __name__ == "__main__":
    sys.exit(main())
