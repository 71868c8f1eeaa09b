"""Speed of reconciler at 1,000 to 50,000 jobs, measured against a floor and peers in one run.

    python benchmarks/run.py [--sizes 1000,10000,50000] [--repeat N] [--json-only] [--quick]

For every size it generates N manifests (one job each, every event type, friendly forms mixed
with canonical ones) and a SQLite store holding the same jobs with 10% of them changed, then
times, as medians of ``--repeat`` runs:

1. the floor: read the files, parse with PyYAML's C loader, validate with a compiled
   jsonschema validator, all in this process;
1b. the same parse with PyYAML's pure-Python loader;
2. ``reconciler validate DIR`` and ``check-jsonschema --schemafile ...`` on the same files;
3. ``reconciler plan DIR --target sqlite:///...`` against the pre-filled store;
4. ``reconciler plan`` against ``reconciler serve`` holding the same live jobs;
5. ``reconciler apply`` of 1,000 creates against ``reconciler serve`` behind a proxy that adds
   20 ms a request and counts requests and bytes: --parallelism 1 vs the default, and the same
   creates as bare PUTs at the default parallelism;
6. the peak RSS of the plan; 7. ``reconciler --help``; and deepdiff on all pairs vs
   ``reconciler.diff.field_changes`` on the pairs that differ.

CLI commands run in subprocesses so start-up counts the way a user sees it. The script prints
a table, PASS/FAIL per target and a final JSON line with every figure. It exits 0 unless a
command itself failed: it is a measurement, not a test. The parts live in ``benchlib/``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchlib.dataset import PRODUCT, Dataset, generate
from benchlib.judge import Figures, judge
from benchlib.live import apply_http, check_summary, plan_http
from benchlib.measure import CommandFailed, median_time, peak_rss_mb, reconciler_cmd, run, time_cmd
from benchlib.peers import (
    C_LOADER,
    PY_LOADER,
    compiled_validator,
    diff_figures,
    find_peer,
    floor_pass,
    parse_only,
    peer_figures,
)
from benchlib.table import print_table, report

APPLY_JOBS = 1000
APPLY_JOBS_QUICK = 40


def measure_size(
    data: Dataset, workdir: Path, repeat: int, peer: list[str] | None
) -> dict[str, Any]:
    """Every per-size figure: the floor, validate, the peer, plan (embedded and HTTP), memory."""
    rec = reconciler_cmd()
    validator = compiled_validator()
    if floor_pass(data.root, validator) != data.size:
        raise CommandFailed(f"floor at {data.size}: not every document was valid")
    out: dict[str, Any] = {"jobs": data.size, "updates": data.updates}
    out["floor_s"] = median_time(lambda: floor_pass(data.root, validator), repeat)
    out["floor_fresh_process_s"] = time_cmd(
        [sys.executable, __file__, "--floor-of", str(data.root)], repeat
    )
    out["parse_c_s"] = median_time(lambda: parse_only(data.root, C_LOADER), repeat)
    out["parse_pure_s"] = median_time(lambda: parse_only(data.root, PY_LOADER), repeat)

    out["validate_s"] = time_cmd([*rec, "validate", str(data.root)], repeat)
    out["check_jsonschema_s"] = None
    if peer:
        out.update(peer_figures(data, peer, repeat))

    target = f"sqlite:///{data.store}"
    plan_cmd = [*rec, "plan", str(data.root), "--target", target, "--product", PRODUCT]
    check_summary(run([*plan_cmd, "--format", "json"], capture=True), data)
    out["plan_sqlite_s"] = time_cmd(plan_cmd, repeat)
    out["plan_sqlite_json_s"] = time_cmd([*plan_cmd, "--format", "json"], repeat)
    out["plan_peak_rss_mb"] = peak_rss_mb(plan_cmd)
    out["validate_peak_rss_mb"] = peak_rss_mb([*rec, "validate", str(data.root)])

    out["plan_http_s"] = plan_http(data, workdir, repeat)
    out.update(diff_figures(data, repeat))
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,10000,50000", help="comma-separated job counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"skip the peer tool and apply {APPLY_JOBS_QUICK} jobs, not {APPLY_JOBS}",
    )
    parser.add_argument("--apply-jobs", type=int, help="creates in the HTTP apply figures")
    parser.add_argument("--check-jsonschema", metavar="PATH", help="the peer's executable")
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    parser.add_argument("--floor-of", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.size_list = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if not args.size_list or min(args.size_list) < 10 or args.repeat < 1:
        parser.error("--sizes wants counts >= 10 and --repeat >= 1")
    if args.apply_jobs is None:
        args.apply_jobs = APPLY_JOBS_QUICK if args.quick else APPLY_JOBS
    if args.apply_jobs < 2:
        parser.error("--apply-jobs wants at least 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.floor_of:
        floor_pass(Path(args.floor_of), compiled_validator())
        return 0
    peer, peer_note = find_peer(args.quick, args.check_jsonschema)
    say: Callable[[str], None] = (
        (lambda _m: None) if args.json_only else (lambda m: print(m, file=sys.stderr, flush=True))
    )
    results: dict[int, dict[str, Any]] = {}
    extra: dict[str, Any] = {}
    failure: str | None = None
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="reconciler-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        help_runs = 3 if args.quick else 10
        extra["help_runs"] = help_runs
        extra["startup_help_s"] = time_cmd([*reconciler_cmd(), "--help"], help_runs)
        for size in args.size_list:
            say(f"[{size}] generating manifests and the live store ...")
            data = generate(workdir, size)
            say(f"[{size}] measuring ...")
            results[size] = measure_size(data, workdir, args.repeat, peer)
        extra["apply_jobs"] = args.apply_jobs
        say(f"apply over HTTP: {args.apply_jobs} creates, 3 settings x {args.repeat} ...")
        extra["apply_http"] = apply_http(workdir, args.apply_jobs, args.repeat)
    except CommandFailed as exc:
        failure = str(exc)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    checks = judge(Figures(results, extra)) if results else []
    if not args.json_only and results:
        print_table(results, extra, checks, args.repeat, peer_note)
    if failure:
        print(f"\nerror: a command failed: {failure}", file=sys.stderr)
    print(
        json.dumps(report(args, results, extra, checks, peer_note, failure), separators=(",", ":"))
    )
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())
