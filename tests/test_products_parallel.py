"""With products: in .reconciler.yaml, products are read and planned side by side (bounded by
--product-parallelism), and reported in configuration order whatever order they finish in.

Seen at a real HTTP server on 127.0.0.1 whose reads take a while: it counts how many are in
flight at once. No timing is asserted.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from testing.cli import invoke
from testing.wire import PRODUCT, USER, WORKSPACE, answer, envelope, fake_ductape, raw_server

NAMES = ("zeta", "alpha", "mid", "beta", "last")  # configuration order is not sorted order


class SlowReads:
    """Answers every read after a pause, and keeps the most reads seen in flight at once."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __call__(self, conn: socket.socket) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(self.pause)
            answer(conn, 200, envelope({"_id": PRODUCT, "name": "p", "jobs": []}))
        finally:
            with self.lock:
                self.now -= 1


def _repository(root: Path) -> None:
    lines = ["products:"]
    for name in NAMES:
        (root / name).mkdir(parents=True)
        (root / name / "job.yaml").write_text(
            f"tag: {name}_job\nname: {name}\nevent_type: function\nevent_tag: f\n"
            "intervals: 1h\nstart_at: 2030-01-01T00:00:00Z\n"
        )
        lines.append(f"  {name}: {{paths: [{name}], product: '{PRODUCT}'}}")
    (root / ".reconciler.yaml").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(("parallelism", "most"), [(None, len(NAMES)), ("3", 3), ("1", 1)])
def test_products_are_planned_side_by_side_and_reported_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallelism: str | None, most: int
) -> None:
    _repository(tmp_path)
    monkeypatch.chdir(tmp_path)
    reads = SlowReads(0.3)
    with raw_server(fake_ductape(on_read=reads)) as url:
        for name, value in {
            "RECONCILER_TARGET": url,
            "DUCTAPE_USER_ID": USER,
            "DUCTAPE_WORKSPACE_ID": WORKSPACE,
            "DUCTAPE_PRIVATE_KEY": "k",
        }.items():
            monkeypatch.setenv(name, value)
        extra = ("--product-parallelism", parallelism) if parallelism else ()
        code, out, err = invoke("plan", "--format", "json", "--detailed-exitcode", *extra)

    assert code == 2, err
    products = json.loads(out)["products"]
    assert [p["name"] for p in products] == list(NAMES)
    assert all(p["report"]["summary"]["create"] == 1 for p in products), products
    assert reads.most == most  # the default (8) covers all five at once


def test_product_parallelism_must_be_at_least_one(tmp_path: Path) -> None:
    code, _, err = invoke("plan", str(tmp_path), "--product-parallelism", "0")
    assert code == 1 and "--product-parallelism" in err
