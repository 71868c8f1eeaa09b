"""The human table and the JSON report of one run."""

from __future__ import annotations

import platform
from typing import Any

from .peers import LIBYAML


def _row(label: str, seconds: float | None, jobs: int, floor: float, note: str = "") -> str:
    if seconds is None:
        return f"  {label:<50} {note}"
    per_job = seconds / jobs * 1e6
    return f"  {label:<50} {seconds:>9.3f} {per_job:>9.1f} {seconds / floor:>8.2f}x  {note}"


def _size_table(size: int, r: dict[str, Any], peer_note: str) -> list[str]:
    floor = r["floor_s"]
    out = [
        f"\n{size} jobs ({r['updates']} changed live)",
        f"  {'measurement':<50} {'seconds':>9} {'us/job':>9} {'vs floor':>9}",
        _row("1  floor: read + CSafeLoader + jsonschema", floor, size, floor, "in-process"),
        _row("1  floor, in a fresh interpreter", r["floor_fresh_process_s"], size, floor),
        _row("1a parse only, CSafeLoader", r["parse_c_s"], size, floor, "in-process"),
        _row("1b parse only, pure-Python SafeLoader", r["parse_pure_s"], size, floor),
        _row("2  reconciler validate", r["validate_s"], size, floor),
    ]
    peer = r["check_jsonschema_s"]
    note = peer_note
    if peer:
        n = r["check_jsonschema_batches"]
        batch = f"{n} batches, times summed; " if n > 1 else ""
        note = f"{batch}validate is {peer / r['validate_s']:.1f}x faster"
    out.append(_row("2  check-jsonschema --schemafile", peer, size, floor, note))
    rows = [
        ("3  reconciler plan --target sqlite (text)", r["plan_sqlite_s"], ""),
        ("3  reconciler plan --target sqlite --format json", r["plan_sqlite_json_s"], ""),
        ("4  reconciler plan --target http (reconciler serve)", r["plan_http_s"], ""),
    ]
    out += [_row(label, seconds, size, floor, note) for label, seconds, note in rows]
    rss = f"{r['plan_peak_rss_mb']:.0f} MB / {r['validate_peak_rss_mb']:.0f} MB"
    out.append(f"  {'6  peak RSS: plan / validate':<50} {rss:>9}")
    out.append(
        _row("   deepdiff on all pairs", r["deepdiff_all_pairs_s"], size, floor, "in-process")
    )
    out.append(
        _row("   field_changes on the differing pairs", r["field_changes_differing_s"], size, floor)
    )
    return out


def _apply_lines(apply: dict[str, Any]) -> list[str]:
    p = int(apply["parallelism"])
    latency_ms = apply["latency_s"] * 1000
    kinds = ", ".join(f"{kind} {n}" for kind, n in apply["requests_by_kind"].items())
    writes = apply["writes"]
    return [
        f"5  apply {apply['jobs']} creates over HTTP, {latency_ms:g} ms added a request: "
        f"--parallelism 1 {apply['p1_s']:.2f} s, --parallelism {p} {apply[f'p{p}_s']:.2f} s, "
        f"speed-up {apply['speedup']:.2f}x",
        f"5b one apply at --parallelism {p}, counted at a proxy: {apply['requests']} requests "
        f"for {writes} writes ({kinds}); {apply['bytes_read'] / 1e6:.2f} MB read, "
        f"{apply['bytes_read'] / max(writes, 1) / 1e3:.1f} kB per write; "
        f"{apply['bytes_sent'] / 1e6:.2f} MB sent",
        f"5c the same {writes} creates as bare PUTs at --parallelism {p}: "
        f"{apply['writes_alone_s']:.2f} s; apply takes {apply['apply_vs_writes_alone']:.2f}x that",
    ]


def print_table(
    results: dict[int, dict[str, Any]],
    extra: dict[str, Any],
    checks: list[dict[str, Any]],
    repeat: int,
    peer_note: str,
) -> None:
    print(f"reconciler benchmark: medians of {repeat} run(s); CLI timings include start-up")
    for size, r in results.items():
        print("\n".join(_size_table(size, r, peer_note)))
    print()
    if "startup_help_s" in extra:
        runs = extra["help_runs"]
        print(f"7  reconciler --help: {extra['startup_help_s']:.3f} s (median of {runs})")
    if extra.get("apply_http"):
        print("\n".join(_apply_lines(extra["apply_http"])))
    print("\ntargets")
    for check in checks:
        print(f"  {check['status']:<5} {check['target']}: {check['detail']}")


def report(
    args: Any,
    results: dict[int, dict[str, Any]],
    extra: dict[str, Any],
    checks: list[dict[str, Any]],
    peer_note: str,
    failure: str | None,
) -> dict[str, Any]:
    """Every figure of the run, for the final JSON line."""
    notes = [
        "CLI timings are subprocesses and include interpreter start-up; the floor is in-process",
        "plan targets compare against the validate floor (read + parse + schema)",
        "HTTP figures run against `reconciler serve`; apply traffic is counted at a proxy",
    ]
    if peer_note:
        notes.append(f"check-jsonschema: {peer_note}")
    return {
        "benchmark": "reconciler",
        "python": platform.python_version(),
        "yaml_libyaml": LIBYAML,
        "repeat": args.repeat,
        "sizes": args.size_list,
        "results": {str(size): r for size, r in results.items()},
        "startup_help_s": extra.get("startup_help_s"),
        "apply_http": extra.get("apply_http"),
        "apply_jobs": extra.get("apply_jobs"),
        "targets": checks,
        "notes": notes,
        "error": failure,
    }
