"""One clock: RECONCILER_NOW pins "now" for every command, and nothing else reads the time."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from reconciler.clock import now_ms, parse_now
from reconciler.errors import UsageError
from testing.cli import invoke
from testing.process import EXAMPLES, ROOT


def test_now_takes_milliseconds_or_iso_with_a_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_now("2127448800000") == 2_127_448_800_000
    assert parse_now("2037-06-01T06:00:00Z") == 2_127_448_800_000
    assert parse_now("2037-06-01T08:00:00+02:00") == 2_127_448_800_000
    monkeypatch.setenv("RECONCILER_NOW", "2037-06-01T06:00:00Z")
    assert now_ms() == 2_127_448_800_000


@pytest.mark.parametrize("bad", ["tomorrow", "2037-06-01T06:00:00", "-5", "1" * 40])
def test_a_bad_now_is_a_one_line_usage_error(bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="RECONCILER_NOW"):
        parse_now(bad)
    monkeypatch.setenv("RECONCILER_NOW", bad)
    code, _out, err = invoke("validate", str(EXAMPLES))
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: RECONCILER_NOW=")


def test_the_same_manifests_read_differently_only_through_the_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = tmp_path / "jobs"
    shutil.copytree(EXAMPLES, jobs)
    monkeypatch.chdir(tmp_path)
    # The back-fill's three runs are 2037-06-01 06:00, 12:00 and 18:00 UTC.
    monkeypatch.setenv("RECONCILER_NOW", "2037-06-01T12:00:00Z")
    code, out, err = invoke("plan", str(jobs))
    assert code == 0, err
    assert "next: 2037-06-01T12:00:00Z, 2037-06-01T18:00:00Z;" in out
    assert "never run" not in err
    monkeypatch.setenv("RECONCILER_NOW", "2037-06-02T00:00:00Z")
    code, out, err = invoke("plan", str(jobs))
    assert "billing.backfill_invoices: start_at: warning: all 3 run(s) are over" in err


# Reads of the wall clock that no user-visible decision depends on, and why.
ALLOWED_CLOCK_READS = {
    "reconciler/clock.py",  # the clock itself
    "reconciler/server/accounts.py",  # the local server's token lifetimes (relative)
    "reconciler/targets/store.py",  # the time part of a new ObjectId-like id
    "reconciler/targets/ductape/client.py",  # a Retry-After date as seconds from now (relative)
}


def test_no_module_but_the_clock_reads_the_time_for_a_decision() -> None:
    reads = re.compile(r"\btime\.time\(|datetime\.now\(|datetime\.utcnow\(|date\.today\(")
    found = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "reconciler").rglob("*.py")
        if reads.search(path.read_text())
    }
    assert found <= ALLOWED_CLOCK_READS, found - ALLOWED_CLOCK_READS
