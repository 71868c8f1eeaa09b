"""Validation driven by example files: tests/data/valid and tests/data/invalid.

A new case is a new file: ``valid/X.yaml`` with the canonical jobs it must give in
``valid/X.json``; ``invalid/X.yaml`` with the exact problem lines in ``invalid/X.expected``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reconciler.desired import load_desired

DATA = Path(__file__).parent / "data"
VALID = sorted(p.name for p in (DATA / "valid").glob("*.yaml"))
INVALID = sorted(p.name for p in (DATA / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("name", VALID)
def test_valid_case_gives_the_canonical_jobs(name: str) -> None:
    desired = load_desired([str(DATA / "valid" / name)])
    assert desired.problems == ()
    expected = json.loads((DATA / "valid" / name).with_suffix(".json").read_text())
    assert [job.to_wire() for job in desired.jobs.values()] == expected


@pytest.mark.parametrize("name", INVALID)
def test_invalid_case_reports_exactly_the_expected_lines(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(DATA / "invalid")
    desired = load_desired([name])
    expected = (DATA / "invalid" / name).with_suffix(".expected").read_text().splitlines()
    assert [str(p) for p in desired.problems] == expected


def test_every_case_has_its_expectation() -> None:
    for name in VALID:
        assert (DATA / "valid" / name).with_suffix(".json").exists(), name
    for name in INVALID:
        assert (DATA / "invalid" / name).with_suffix(".expected").exists(), name
    assert len(VALID) >= 3 and len(INVALID) >= 6


def test_four_kinds_of_problem_in_one_run(tmp_path: Path) -> None:
    """Syntax error, duplicate tag, duplicate key and wrong type: all four, each with file:line."""
    job = "name: {n}\ntag: {t}\nevent_type: action\nevent_tag: app:x\nintervals: 5m\n{extra}"
    start = "start_at: 2026-12-01T00:00:00Z\n"
    (tmp_path / "a.yaml").write_text(job.format(n="A", t="same", extra=start))
    (tmp_path / "b.yaml").write_text(job.format(n="B", t="same", extra=start))
    (tmp_path / "c.yaml").write_text(job.format(n="C", t="c", extra=start + "intervals: 1h\n"))
    (tmp_path / "d.yaml").write_text(job.format(n="D", t="d", extra="start_at: [1]\n"))
    (tmp_path / "e.yaml").write_text("name: E\n tag: : e\n")
    desired = load_desired([str(tmp_path)])
    lines = [str(p) for p in desired.errors]
    base = str(tmp_path)
    assert lines == [
        f"{base}/b.yaml:2:6: same: tag: duplicate tag 'same', also defined at {base}/a.yaml:2:6",
        f"{base}/c.yaml:7:1: c: intervals: duplicate key 'intervals', first defined at line 5",
        f"{base}/d.yaml:6:11: d: start_at: a list must be Unix milliseconds or an ISO-8601 "
        "timestamp with a zone such as '2026-12-01T02:00:00Z'",
        f"{base}/e.yaml:2:5: -: -: YAML syntax error: "
        "mapping values are not allowed in this context",
    ]
    # A document with an error gives no job; the first of two equal tags still does.
    assert set(desired.jobs) == {"same"}


def test_finds_yaml_and_yml_recursively_sorted_and_skips_hidden(tmp_path: Path) -> None:
    body = "name: N\ntag: {}\nevent_type: action\nevent_tag: a:b\nintervals: 1m\nstart_at: 0\n"
    for rel, tag in [
        ("z.yml", "z"),
        ("sub/a.yaml", "a"),
        (".hidden/h.yaml", "h"),
        ("sub/.h.yaml", "h2"),
        ("notes.txt", "t"),
    ]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body.format(tag))
    desired = load_desired([str(tmp_path)])
    assert list(desired.jobs) == ["a", "z"]
    assert desired.files == 2
    assert [os.path.basename(str(s)).split(":")[0] for s in desired.sources.values()] == [
        "a.yaml",
        "z.yml",
    ]


def test_one_record_per_job_and_where_each_field_stands(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "# two jobs\nname: A\ntag: a\nevent_type: action\nevent_tag: app:x\nintervals: 1h\n"
        "start_at: 2026-12-01T00:00:00Z\n---\nname: B\ntag: b\nevent_type: function\n"
        "event_tag: f\nintervals: 2h\nstart_at: 2026-12-01T00:00:00Z\n"
    )
    (tmp_path / "bad1.yaml").write_text("name: [\n")
    (tmp_path / "bad2.yaml").write_text("name: X\ntag: x\ncolour: red\ncolor: blue\n")
    (tmp_path / "warn.yaml").write_text(
        "name: W\ntag: w\nevent_type: action\nevent_tag: app:x\nintervals: 3600\nstart_at: 0\n"
    )
    desired = load_desired([str(tmp_path)])
    assert list(desired.entries) == ["a", "b", "w"]
    entry = desired.entries["b"]
    assert entry.job.event_type.value == "function"
    assert str(entry.where("event_tag")) == f"{tmp_path}/a.yaml:12:12"
    assert desired.where("a", "intervals") == desired.entries["a"].where("intervals")
    assert str(desired.where("a", "intervals")) == f"{tmp_path}/a.yaml:6:12"
    assert str(desired.where("a")) == f"{tmp_path}/a.yaml:2:1"
    assert desired.sources["b"] == desired.where("b", "tag")
    assert desired.event_tag_at["a"] == desired.where("a", "event_tag")
    assert desired.jobs["a"] is desired.entries["a"].job
    with pytest.raises(TypeError):
        desired.jobs["z"] = desired.jobs["a"]  # type: ignore[index]
    # Errors in two files, warnings (3600 looks like seconds, start_at 0) in a third.
    assert desired.files == 4
    assert desired.files_with_problems == 2
    assert {p.location.path for p in desired.warnings} == {f"{tmp_path}/warn.yaml"}
    assert all(p.severity in ("error", "warning") for p in desired.problems)
