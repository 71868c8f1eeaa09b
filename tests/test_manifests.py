"""Validation driven by example files: tests/data/valid and tests/data/invalid.

A new case is a new file: ``valid/X.yaml`` with the canonical jobs it must give in
``valid/X.json``; ``invalid/X.yaml`` with the exact problem lines in ``invalid/X.expected``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reconciler import manifests
from reconciler.desired import load_desired
from reconciler.model import Problem

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


# --- the plain path and the careful path build the same documents ------------------------------

REPO = Path(__file__).parent.parent
CORPUS = sorted(
    [*DATA.glob("*/*.yaml"), *(REPO / "examples").rglob("*.yaml")], key=lambda p: str(p)
)
JOB_LINES = (
    "name: Nightly\ntag: nightly\nevent_type: action\nevent_tag: app:x\nintervals: 1h\n"
    "start_at: 2026-12-01T00:00:00Z\n"
)
# Texts each worth a look: some the plain path builds, some it must hand back.
TRICKY = [
    JOB_LINES,
    JOB_LINES + "---\n" + JOB_LINES.replace("nightly", "second") + "---\n",
    "---\n---\n" + JOB_LINES + "...\n",
    "%YAML 1.1\n---\n" + JOB_LINES,
    JOB_LINES.replace("\n", "\r\n"),
    "\ufeff" + JOB_LINES,
    "# a comment: with - dashes ? and colons\n" + JOB_LINES + "# the end\n",
    JOB_LINES.replace("Nightly", "'It''s: quoted'"),
    JOB_LINES.replace("Nightly", '"tab\\there \\u00e9"'),
    JOB_LINES.replace("name: Nightly", "name: |\n  two\n  lines\n"),
    JOB_LINES.replace("name: Nightly", "name: >-\n  folded\n  text\n"),
    JOB_LINES.replace("name: Nightly", "name: plain\n  continued"),
    JOB_LINES.replace("name: Nightly", "name: 0x1F"),
    JOB_LINES.replace("name: Nightly", "name: 0o17"),
    JOB_LINES.replace("name: Nightly", "name: yes"),
    JOB_LINES.replace("name: Nightly", "name: ~"),
    JOB_LINES.replace("name: Nightly", "name:"),
    JOB_LINES.replace("name: Nightly", "name: .inf"),
    JOB_LINES.replace("name: Nightly", "name: -1.5e3"),
    JOB_LINES.replace("name: Nightly", "name: 1:30"),
    JOB_LINES.replace("name: Nightly", "name: 2026-12-01"),
    JOB_LINES + "executions: 0\n",
    JOB_LINES + "executions: -0\n",
    JOB_LINES + "executions: +7\n",
    JOB_LINES + "executions: 010\n",
    JOB_LINES + "executions: 1_000\n",
    JOB_LINES + "executions: 1e3\n",
    JOB_LINES + "executions: '010'\n",
    JOB_LINES.replace("intervals: 1h", "intervals: 1:30:00"),
    JOB_LINES.replace("intervals: 1h", "intervals: 3600000"),
    JOB_LINES.replace("intervals: 1h", "intervals: 0x10"),
    JOB_LINES + "tag: again\n",
    JOB_LINES + "on: true\n",
    JOB_LINES + "1: one\n",
    JOB_LINES + "<<:\n  executions: 3\n",
    JOB_LINES + "=: value\n",
    JOB_LINES + "? complex\n: key\n",
    JOB_LINES + "?\n  - a\n: x\n",
    JOB_LINES + "nested:\n  deeper: 1\n",
    JOB_LINES + "list:\n- 1\n- 2\n",
    "- " + JOB_LINES.replace("\n", "\n  "),
    "just a scalar\n",
    JOB_LINES.replace("Nightly", "Nightly & co"),
    JOB_LINES.replace("Nightly", "a" * 300),
    JOB_LINES + "name: [\n",
    JOB_LINES + " bad: indent\n",
    "a: b: c\n",
    "- - - - - - - - - - - - - - - - - - - - x\n",
    "".join(f"k{i}:\n{'  ' * (i + 1)}" for i in range(20)) + "x\n",
    "".join(f"k{i}: {i}\n" for i in range(600)),
    ("a: 1\n---\n" * 2_000),
]


def _careful(path: str, text: bytes) -> tuple[list[manifests.Document], list[str]]:
    problems: list[Problem] = []
    documents = list(manifests._load_file(path, text, problems))
    return documents, [str(p) for p in problems]


def _assert_same(path: str, text: bytes) -> bool:
    """The plain path gives what the careful one gives, or hands the file back; True: built."""
    plain = manifests._load_plain(path, text)
    careful, problems = _careful(path, text)
    if plain is None:
        return False
    assert problems == [] and all(d.problems == () for d in careful), path
    assert plain == careful, path
    return True


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_example_file_loads_the_same_on_both_paths(path: Path) -> None:
    _assert_same(str(path), path.read_bytes())


@pytest.mark.parametrize("index", range(len(TRICKY)))
def test_tricky_texts_load_the_same_on_both_paths(index: int) -> None:
    _assert_same("t.yaml", TRICKY[index].encode("utf-8"))


def test_the_plain_path_builds_plain_files_and_hands_back_the_rest() -> None:
    """What makes loading cheap: the plain path must actually be taken for honest files."""
    built = [p for p in CORPUS if _assert_same(str(p), p.read_bytes())]
    assert {p.name for p in built} >= {"canonical.yaml", "multi-document.yaml", "bom-crlf.yaml"}
    # Built only where the careful path finds nothing (_assert_same checks it): here, the
    # files whose problems are the schema's or the model's, never the loader's.
    assert _assert_same("t.yaml", JOB_LINES.encode()) and _assert_same("t", TRICKY[1].encode())
    for text in (JOB_LINES + "tag: again\n", JOB_LINES + "executions: 010\n", "a: &x 1\nb: *x\n"):
        assert manifests._load_plain("t.yaml", text.encode()) is None


def test_the_faster_resolve_answers_as_pyyaml_does() -> None:
    """_Loader.resolve skips what PyYAML's looks at and this loader never has (path and
    wildcard resolvers); for every first character and every kind of value it must agree."""
    import yaml

    loader = manifests._Loader("")
    assert loader.yaml_path_resolvers == {} and None not in loader.yaml_implicit_resolvers
    values = [chr(c) for c in range(32, 127)] + [
        "", "yes", "No", "ON", "true", "null", "~", "Null", "0", "-0", "+1", "010", "0o7",
        "0x1F", "0b101", "1_000", "1:30", "190:20:30", "1.5", ".inf", "-.Inf", ".NaN", "1e3",
        "1.0e+3", "6.8523015e+5", "2026-12-01", "2026-12-01T00:00:00Z", "<<", "=", "nightly",
        "é", "1h30m", " 1", "1 ", "true\n",
    ]  # fmt: skip
    manifests._RESOLVED.clear()
    for value in values * 2:  # the second time from what resolve remembered
        for implicit in ((True, False), (False, True), (False, False)):
            ours = loader.resolve(yaml.ScalarNode, value, implicit)
            theirs = yaml.resolver.BaseResolver.resolve(loader, yaml.ScalarNode, value, implicit)
            assert ours == theirs, (value, implicit)
    for kind in (yaml.SequenceNode, yaml.MappingNode):
        theirs = yaml.resolver.BaseResolver.resolve(loader, kind, None, (True, False))
        assert loader.resolve(kind, None, (True, False)) == theirs
    loader.dispose()


def test_plain_files_never_reach_the_careful_composer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The careful path is for the files that need it; a plain file costs one C parse."""
    (tmp_path / "a.yaml").write_text(JOB_LINES)
    (tmp_path / "b.yaml").write_text(JOB_LINES.replace("nightly", "other") + "tag: again\n")
    composed: list[str] = []
    real = manifests._compose_document

    def spy(loader: object, max_nodes: int) -> object:
        composed.append(str(getattr(loader, "name", "")))
        return real(loader, max_nodes)

    monkeypatch.setattr(manifests, "_compose_document", spy)
    desired = load_desired([str(tmp_path)])
    assert list(desired.jobs) == ["nightly"] and len(desired.problems) == 1
    assert len(composed) == 1  # b.yaml's repeated key, from the careful path
