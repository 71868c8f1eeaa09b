"""The benchmark script runs end to end on a tiny set and reports every figure it promises.

No timing is asserted: this only proves ``benchmarks/run.py`` works, so a slow machine passes.
Peer tools are skipped (``--quick``), so only the project's own dependencies are needed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"

POSITIVE_PER_SIZE = (
    "floor_s",
    "floor_fresh_process_s",
    "parse_c_s",
    "parse_pure_s",
    "validate_s",
    "plan_sqlite_s",
    "plan_sqlite_json_s",
    "plan_peak_rss_mb",
    "validate_peak_rss_mb",
    "deepdiff_all_pairs_s",
    "field_changes_differing_s",
)


def _run(*args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line in the output:\n{proc.stdout}\n{proc.stderr}"
    return proc, json.loads(lines[-1])


def test_benchmark_runs_and_reports_every_figure() -> None:
    proc, report = _run("--sizes", "100", "--repeat", "1", "--quick")

    assert proc.returncode == 0, proc.stderr
    assert report["error"] is None
    assert report["sizes"] == [100]
    assert report["startup_help_s"] > 0
    figures = report["results"]["100"]
    assert figures["jobs"] == 100
    assert figures["updates"] == 10
    for key in POSITIVE_PER_SIZE:
        assert isinstance(figures[key], float), key
        assert figures[key] > 0, key
    # Skipped or not yet available: reported as missing, never faked.
    assert figures["check_jsonschema_s"] is None
    assert "plan_http_s" in figures
    statuses = {check["status"] for check in report["targets"]}
    assert statuses <= {"PASS", "FAIL", "n/a"}
    assert len(report["targets"]) == 9
    # The human table comes before the JSON line.
    assert "reconciler validate" in proc.stdout
    assert "targets" in proc.stdout


def test_json_only_prints_one_line() -> None:
    proc, report = _run("--sizes", "20", "--repeat", "1", "--quick", "--json-only")

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().count("\n") == 0
    assert report["results"]["20"]["validate_s"] > 0
