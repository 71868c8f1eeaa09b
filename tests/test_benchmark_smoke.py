"""The benchmark scripts run end to end on a tiny set and report real figures.

No speed is asserted (a slow machine passes), but every figure must be measured: a float time
for each measured command, the HTTP plan and apply included, a positive speed-up, requests and
bytes counted at the proxy, and a load run that loses nothing. Peer tools are skipped
(``--quick``), so only the project's own dependencies (with the test extra) are needed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
APPLY_JOBS = 40  # what --quick applies
LATENCY_S = 0.020  # what the proxy adds to every request

TIMED_PER_SIZE = (
    "floor_s",
    "floor_fresh_process_s",
    "parse_c_s",
    "parse_pure_s",
    "validate_s",
    "plan_sqlite_s",
    "plan_sqlite_json_s",
    "plan_http_s",
    "plan_peak_rss_mb",
    "validate_peak_rss_mb",
    "deepdiff_all_pairs_s",
    "field_changes_differing_s",
)
# Not measured in a --quick run of one small size, and only these.
NOT_MEASURED = {
    "validate >= 5x faster than check-jsonschema at 100",
    "validate: time per job from 10,000 to 50,000 within 1.3x",
    "plan: time per job from 10,000 to 50,000 within 1.3x",
}


def _run(script: str, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line in the output:\n{proc.stdout}\n{proc.stderr}"
    return proc, json.loads(lines[-1])


def _positive_float(value: Any) -> bool:
    return isinstance(value, float) and value > 0


@pytest.mark.process
def test_benchmark_measures_every_figure_including_http() -> None:
    proc, report = _run("run.py", "--sizes", "100", "--repeat", "1", "--quick")

    assert proc.returncode == 0, proc.stderr
    assert report["error"] is None
    assert report["sizes"] == [100]
    assert _positive_float(report["startup_help_s"])
    figures = report["results"]["100"]
    assert (figures["jobs"], figures["updates"]) == (100, 10)
    for key in TIMED_PER_SIZE:
        assert _positive_float(figures[key]), key
    assert figures["check_jsonschema_s"] is None  # skipped by --quick, reported as missing

    apply = report["apply_http"]
    assert apply["jobs"] == APPLY_JOBS
    parallelism = apply["parallelism"]
    # The proxy's latency is real: one write at a time cannot beat it, nor can the bare PUTs.
    assert apply["p1_s"] >= APPLY_JOBS * LATENCY_S
    assert apply["writes_alone_s"] >= APPLY_JOBS * LATENCY_S / parallelism
    assert _positive_float(apply[f"p{parallelism}_s"])
    assert _positive_float(apply["speedup"])
    assert _positive_float(apply["apply_vs_writes_alone"])
    # Counted at the proxy: every create is one PUT, plus at least a login and a product read.
    assert apply["writes"] == apply["requests_by_kind"]["job write"] == APPLY_JOBS
    assert apply["requests_by_kind"]["login"] == 1
    assert apply["requests_by_kind"]["read product"] >= 1
    assert apply["requests"] == sum(apply["requests_by_kind"].values())
    assert apply["bytes_read"] == sum(apply["bytes_read_by_kind"].values()) > 0
    assert apply["bytes_sent"] > 0

    by_name = {check["target"]: check for check in report["targets"]}
    assert {n for n, c in by_name.items() if c["status"] == "n/a"} == NOT_MEASURED
    for name, check in by_name.items():
        if name not in NOT_MEASURED:
            assert check["status"] in ("PASS", "FAIL"), name
            assert isinstance(check["value"], float), name
    budget = by_name[f"requests per apply of {APPLY_JOBS} creates: at most writes + 3"]
    assert budget["limit"] == APPLY_JOBS + 3
    assert budget["value"] == apply["requests"]
    assert budget["status"] == ("PASS" if apply["requests"] <= APPLY_JOBS + 3 else "FAIL")
    # The human table comes before the JSON line.
    assert "reconciler plan --target http" in proc.stdout
    assert "counted at a proxy" in proc.stdout
    assert "\ntargets\n" in proc.stdout


@pytest.mark.process
def test_json_only_prints_one_line() -> None:
    proc, report = _run("run.py", "--sizes", "20", "--repeat", "1", "--quick", "--json-only")

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().count("\n") == 0
    assert _positive_float(report["results"]["20"]["validate_s"])


@pytest.mark.process
def test_load_script_writes_everything_and_loses_nothing() -> None:
    proc, report = _run("load.py", "--clients", "4", "--writes", "40", "--preload", "10")

    assert proc.returncode == 0, proc.stderr
    assert report["error"] is None
    assert (report["writes_sent"], report["acknowledged"], report["failed"]) == (40, 40, {})
    # Read back from the product, not taken from the answers.
    assert report["product_jobs_after"] == 50
    assert (report["lost_writes"], report["duplicates"]) == (0, 0)
    assert _positive_float(report["req_per_s"])
    assert 0 < report["p50_ms"] <= report["p99_ms"]
    assert "lost writes 0" in proc.stdout


@pytest.mark.process
def test_load_script_stops_by_itself_when_time_runs_out() -> None:
    proc, report = _run(
        "load.py", "--clients", "2", "--writes", "100000", "--preload", "10", "--seconds", "0.5"
    )

    assert proc.returncode == 0, proc.stderr
    assert report["stopped_by_time"] is True
    assert 0 < report["writes_sent"] < 100000
    assert report["product_jobs_after"] == report["acknowledged"] + report["preload"]
    assert report["lost_writes"] == 0


def test_counting_proxy_adds_latency_and_counts_what_passes() -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from benchlib.live import CountingProxy
    finally:
        sys.path.remove(str(BENCHMARKS))
    import http.server
    import threading
    import time

    import httpx

    body = b'{"status": true, "meta": {}, "data": {}}' * 50

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: several requests on one connection

        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=upstream.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{upstream.server_address[1]}"
        with CountingProxy(url, 0.1) as proxy, httpx.Client(timeout=10) as client:
            start = time.perf_counter()
            for _ in range(5):
                answer = client.put(f"{proxy.url}/integrations/integrations/v1/x", json={"a": 1})
                assert answer.content == body
            elapsed = time.perf_counter() - start
    finally:
        upstream.shutdown()
        upstream.server_close()

    assert elapsed >= 5 * 0.1
    assert proxy.errors == 0
    summary = proxy.traffic.summary()
    assert summary["requests_by_kind"] == {"job write": 5}
    assert summary["statuses"] == {"200": 5}
    assert 5 * len(body) < summary["bytes_read"] < 5 * (len(body) + 500)


SPEED_FIGURES = {
    "help_s": "help",
    "validate_vs_floor": "loader",
    "plan_vs_floor": "loader",
    "small_vs_floor": "small",
    "apply_vs_floor": "apply",
    "plan_peak_rss_mb": "rss",
    "peer_vs_validate": "peer",
    "products_vs_one": "products",
}
SPEED_SMALL = ("--size", "60", "--rss-size", "60", "--products", "3", "--repeat", "1")


@pytest.fixture
def peer(tmp_path: Path) -> str:
    """A stand-in for check-jsonschema (not a dependency): a real process that reads every
    file it is given, so the peer's figure is measured end to end."""
    shim = tmp_path / "check-jsonschema"
    shim.write_text(
        f"#!{sys.executable}\nimport sys\nfor name in sys.argv[3:]:\n    open(name).read()\n"
    )
    shim.chmod(0o755)
    return str(shim)


def test_speed_script_measures_every_figure_of_issue_18(peer: str) -> None:
    proc, report = _run("speed.py", *SPEED_SMALL, "--check-jsonschema", peer)

    assert proc.returncode == 0, proc.stderr
    assert report["failure"] is None and report["missing"] == []
    figures = report["this tree"]
    for key in SPEED_FIGURES:
        assert _positive_float(figures[key]), key
        assert report["verdicts"][key] in ("PASS", "FAIL"), key
        sign = ">=" if key == "peer_vs_validate" else "<="
        assert f"{sign} {report['goals'][key][0]:g}" in proc.stdout
    assert _positive_float(report["floor_s"])
    # The products were planned over HTTP through the proxy: every product logged in at most
    # once, and the run of three cannot beat one product's (its requests all wait 50 ms).
    assert 1 <= figures["products_logins"] <= 3
    assert figures["products_s"] >= figures["one_product_s"] * 0.5


def test_switching_a_measured_part_off_fails_the_speed_run(peer: str) -> None:
    proc, report = _run(
        "speed.py", *SPEED_SMALL, "--check-jsonschema", peer, "--off", "products", "--off", "help"
    )

    assert proc.returncode == 1
    assert report["missing"] == ["help_s", "products_vs_one"]
    assert report["verdicts"]["products_vs_one"] == "MISSING"
    assert "not measured: help_s, products_vs_one" in proc.stderr
    assert _positive_float(report["this tree"]["apply_vs_floor"])
    assert _positive_float(report["this tree"]["peer_vs_validate"])


def test_without_check_jsonschema_its_figure_is_missing(tmp_path: Path) -> None:
    absent = str(tmp_path / "no-such-check-jsonschema")
    only_peer = [f"--off={p}" for p in ("help", "loader", "small", "apply", "rss", "products")]
    proc, report = _run("speed.py", *SPEED_SMALL, "--check-jsonschema", absent, *only_peer)

    assert proc.returncode == 1
    assert "peer_vs_validate" in report["missing"]
