"""Load on ``reconciler serve``: N concurrent clients writing distinct jobs, then a count.

    python benchmarks/load.py [--clients 20] [--writes 2000] [--preload 2000] [--seconds 120]

The script starts ``reconciler serve`` on 127.0.0.1 over a fresh store (the product holding
``--preload`` jobs already), then ``--clients`` threads, each with its own connection, create
``--writes`` distinct jobs between them with the product PUT, one request at a time, until
the writes run out or ``--seconds`` have passed (no new write starts after that; a request in
flight is bounded by a 30 s timeout). Then it reads the product once and counts:

- req/s: answered writes over the wall time of the writing phase;
- p50 / p99: latency of one write as its client saw it;
- lost writes: writes the server acknowledged (200) that the product does not hold; must be 0;
- duplicates: tags the product holds more than once; must be 0.

It prints a summary and a final JSON line, and exits 1 when a write failed, was lost or was
duplicated, 0 otherwise. No retries: a failure is counted, not hidden.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchlib.dataset import wire_job
from benchlib.live import WireClient, log_in, seeded_store, serve
from benchlib.measure import CommandFailed

REQUEST_TIMEOUT_S = 30.0


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (share in 0..1); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))  # ceil(n * share), at least 1
    return ordered[int(rank) - 1]


class Writes:
    """The jobs still to write, handed out one at a time until they or the time run out."""

    def __init__(self, first: int, count: int, seconds: float) -> None:
        self._next = first
        self._end = first + count
        self._deadline = time.monotonic() + seconds
        self._lock = threading.Lock()
        self.timed_out = False

    def take(self) -> int | None:
        with self._lock:
            if self._next >= self._end:
                return None
            if time.monotonic() >= self._deadline:
                self.timed_out = True
                return None
            self._next += 1
            return self._next - 1


def client(url: str, session: Any, writes: Writes, outcomes: list[tuple[str, str, float]]) -> None:
    """One client: take a job, PUT it, record (tag, outcome, seconds); until none is left."""
    import httpx

    wire = WireClient(url, session, timeout=REQUEST_TIMEOUT_S)
    try:
        while (i := writes.take()) is not None:
            job = wire_job(i)
            start = time.perf_counter()
            try:
                outcome = str(wire.create(job))
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            outcomes.append((job["tag"], outcome, time.perf_counter() - start))
    finally:
        wire.close()


def load(workdir: Path, clients: int, writes: int, preload: int, seconds: float) -> dict[str, Any]:
    """Run the load against a fresh server; every figure of the run."""
    db = seeded_store(workdir, "load", [wire_job(i) for i in range(preload)])
    with serve(db) as url:
        session = log_in(url)
        plan = Writes(preload, writes, seconds)
        outcomes: list[tuple[str, str, float]] = []  # list.append is atomic under the GIL
        threads = [
            threading.Thread(target=client, args=(url, session, plan, outcomes), daemon=True)
            for _ in range(clients)
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds + REQUEST_TIMEOUT_S + 5)
        elapsed = time.perf_counter() - start
        if any(thread.is_alive() for thread in threads):
            raise CommandFailed("a client did not finish within its bound")
        reader = WireClient(url, session, timeout=REQUEST_TIMEOUT_S)
        try:
            held = Counter(reader.job_tags())
        finally:
            reader.close()

    acknowledged = [tag for tag, outcome, _ in outcomes if outcome == "200"]
    latencies = [seconds for _, _, seconds in outcomes]
    failed = Counter(outcome for _, outcome, _ in outcomes if outcome != "200")
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    return {
        "clients": clients,
        "preload": preload,
        "writes_asked": writes,
        "writes_sent": len(outcomes),
        "acknowledged": len(acknowledged),
        "failed": dict(sorted(failed.items())),
        "stopped_by_time": plan.timed_out,
        "elapsed_s": elapsed,
        "req_per_s": len(outcomes) / elapsed if elapsed > 0 else None,
        "p50_ms": p50 * 1000 if p50 is not None else None,
        "p99_ms": p99 * 1000 if p99 is not None else None,
        "product_jobs_after": sum(held.values()),
        "lost_writes": sum(1 for tag in acknowledged if held[tag] == 0),
        "duplicates": sum(1 for n in held.values() if n > 1),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--writes", type=int, default=2000, help="distinct jobs to create")
    parser.add_argument("--preload", type=int, default=2000, help="jobs in the product before")
    parser.add_argument("--seconds", type=float, default=120.0, help="stop starting writes after")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 200 or args.writes < 1 or args.preload < 0 or args.seconds <= 0:
        parser.error("--clients 1..200, --writes >= 1, --preload >= 0, --seconds > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="reconciler-load-"))
    failure: str | None = None
    figures: dict[str, Any] = {}
    try:
        figures = load(workdir, args.clients, args.writes, args.preload, args.seconds)
    except CommandFailed as exc:
        failure = str(exc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if failure:
        print(f"error: {failure}", file=sys.stderr)
    elif not args.json_only:
        f = figures
        print(
            f"reconciler serve under load: {f['clients']} clients, "
            f"{f['writes_sent']} creates into a product of {f['preload']} jobs"
            + (" (stopped by --seconds)" if f["stopped_by_time"] else "")
        )
        print(f"  {f['req_per_s']:.1f} req/s over {f['elapsed_s']:.2f} s")
        print(f"  latency p50 {f['p50_ms']:.1f} ms, p99 {f['p99_ms']:.1f} ms")
        print(f"  acknowledged {f['acknowledged']}, failed {sum(f['failed'].values())}", end="")
        print(f" {f['failed']}" if f["failed"] else "")
        print(
            f"  product holds {f['product_jobs_after']} jobs; lost writes {f['lost_writes']}, "
            f"duplicates {f['duplicates']}"
        )
    print(json.dumps({"benchmark": "reconciler-load", **figures, "error": failure}))
    bad = failure or figures["lost_writes"] or figures["duplicates"] or figures["failed"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
