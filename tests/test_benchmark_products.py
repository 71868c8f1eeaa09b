"""The products part of benchmarks/speed.py: what one run of each kind sends, counted at the
benchmark's proxy, and how its figure is taken. Figures are printed, never asserted."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

SPEED = Path(__file__).resolve().parent.parent / "benchmarks" / "speed.py"
OTHERS = ("help", "loader", "small", "apply", "rss", "peer")


@pytest.mark.slow
@pytest.mark.process
def test_products_part_counts_one_list_and_one_app_read_for_every_product() -> None:
    proc = subprocess.run(
        [sys.executable, str(SPEED), "--products", "3", "--repeat", "1", "--off", *OTHERS],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, proc.stdout + proc.stderr
    report = json.loads(lines[-1])
    # Every other part was left out by one --off: exactly their figures are missing.
    assert proc.returncode == 1 and report["failure"] is None, proc.stderr
    assert report["missing"] == sorted(set(report["goals"]) - {"products_vs_one"})
    figures = report["this tree"]

    # Log-in, the workspace's product list and the app (its tag, then itself) once for the
    # run; each product's own document once per product.
    assert figures["products_requests"] == {
        "apps": 2,
        "list products": 1,
        "login": 1,
        "read product": 3,
    }
    assert figures["one_product_requests"] == {
        "apps": 2,
        "list products": 1,
        "login": 1,
        "read product": 1,
    }
    assert figures["products_logins"] == 1
    # The figure is the median of 2 x --repeat + 1 rounds' own ratios.
    rounds = figures["products_vs_one_rounds"]
    assert figures["product_rounds"] == len(rounds) == 3
    assert figures["products_vs_one"] == statistics.median(rounds)
    pairs = zip(figures["products_rounds_s"], figures["one_product_rounds_s"], strict=True)
    assert rounds == [many / one for many, one in pairs]  # each round's runs, paired
    assert "ratio median of 3 rounds" in proc.stdout
    assert "requests of all: 7 (apps 2, list products 1, login 1, read product 3)" in proc.stdout
