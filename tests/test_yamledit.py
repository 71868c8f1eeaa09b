"""The manifest editor: a rewrite changes the edited values' lines and nothing else.

Each case is a manifest, the edits, and the exact lines the edits must change (old line, new
line; None for a line added). The diff of the file (difflib over lines, line endings kept)
must be exactly those lines, and the file must read back with the new values.
"""

from __future__ import annotations

import difflib
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from reconciler import yamledit
from reconciler.desired import load_desired
from reconciler.model import MUTABLE_FIELDS, format_duration, parse_timestamp
from reconciler.yamledit import Edit, EditRefused, commit, prepare, rewrite

T0 = parse_timestamp("2037-06-01T02:00:00Z")
HOUR = 3_600_000

JOB = """\
# yaml-language-server: $schema=../schemas/job.schema.json
# Nightly report: above the name.
name: Nightly report  # beside the name
tag: nightly

# A blank line above, and a comment.
event_type: action
event_tag: stripe:list_charges   # beside, after spaces
intervals: 1h30m # every ninety minutes
start_at: 2037-06-01T02:00:00Z
"""

MULTI = """\
# Three jobs, one file.
name: One
tag: one
event_type: function
event_tag: f_one
intervals: 1d
start_at: 2037-06-01T02:00:00Z
---
# The second.
name: Two
tag: two
event_type: FUNCTION
event_tag: f_two
executions: 3
intervals: 6h
start_at: 2127448800000
---
name: Three
tag: three
event_type: Function
event_tag: f_three
intervals: 3600000
start_at: "2037-06-08T08:30:00+01:00"
...
"""

FLOW = (
    "# A flow mapping, on one line.\n"
    '{name: Flow job, tag: flow, event_type: action, event_tag: "app:act", '
    "intervals: 90m, start_at: 2037-06-01T02:00:00Z}\n"
)

QUOTED = """\
name: 'Single quoted'
tag: "quoted"
event_type: "action"
event_tag: "app:act"
intervals: "1h"
start_at: '2037-06-01 02:00Z'
"""

CASES: dict[str, tuple[str, list[Edit], list[tuple[str | None, str | None]]]] = {
    "comments kept, duration and ISO Z": (
        JOB,
        [
            Edit("nightly", "intervals", 90 * 60_000, 2 * HOUR),
            Edit("nightly", "start_at", T0, T0 + HOUR),
            Edit("nightly", "name", "Nightly report", "Nightly sales report"),
        ],
        [
            (
                "name: Nightly report  # beside the name\n",
                "name: Nightly sales report  # beside the name\n",
            ),
            ("intervals: 1h30m # every ninety minutes\n", "intervals: 2h # every ninety minutes\n"),
            ("start_at: 2037-06-01T02:00:00Z\n", "start_at: 2037-06-01T03:00:00Z\n"),
        ],
    ),
    "a string that must be quoted once edited": (
        JOB,
        [
            Edit("nightly", "name", "Nightly report", "yes"),
            Edit("nightly", "event_tag", "stripe:list_charges", "stripe:1:30"),
        ],
        [
            ("name: Nightly report  # beside the name\n", 'name: "yes"  # beside the name\n'),
            (
                "event_tag: stripe:list_charges   # beside, after spaces\n",
                "event_tag: stripe:1:30   # beside, after spaces\n",
            ),
        ],
    ),
    "a colon and a hash in a name": (
        JOB,
        [Edit("nightly", "name", "Nightly report", "a: b # not a comment")],
        [
            (
                "name: Nightly report  # beside the name\n",
                'name: "a: b # not a comment"  # beside the name\n',
            ),
        ],
    ),
    "a leading question mark": (
        FLOW,
        [Edit("flow", "name", "Flow job", "?why")],
        [
            (
                '{name: Flow job, tag: flow, event_type: action, event_tag: "app:act", '
                "intervals: 90m, start_at: 2037-06-01T02:00:00Z}\n",
                '{name: "?why", tag: flow, event_type: action, event_tag: "app:act", '
                "intervals: 90m, start_at: 2037-06-01T02:00:00Z}\n",
            )
        ],
    ),
    "a letter outside ASCII stays readable": (
        JOB,
        [Edit("nightly", "name", "Nightly report", "Rapport de nuit é")],
        [
            (
                "name: Nightly report  # beside the name\n",
                "name: Rapport de nuit é  # beside the name\n",
            )
        ],
    ),
    "several documents, separators kept": (
        MULTI,
        [
            Edit("two", "executions", 3, 5),
            Edit("two", "event_type", "function", "action"),
            Edit("three", "intervals", HOUR, 2 * HOUR),
            Edit("three", "start_at", parse_timestamp("2037-06-08T07:30:00Z"), T0),
            Edit("three", "event_type", "function", "notification"),
        ],
        [
            ("executions: 3\n", "executions: 5\n"),
            ("event_type: FUNCTION\n", "event_type: ACTION\n"),
            ("intervals: 3600000\n", "intervals: 7200000\n"),
            ('start_at: "2037-06-08T08:30:00+01:00"\n', 'start_at: "2037-06-01T03:00:00+01:00"\n'),
            ("event_type: Function\n", "event_type: Notification\n"),
        ],
    ),
    "integer milliseconds stay integers": (
        MULTI,
        [Edit("two", "start_at", 2127448800000, 2127448801500)],
        [("start_at: 2127448800000\n", "start_at: 2127448801500\n")],
    ),
    "a field left to its default is added at the end of its job": (
        MULTI,
        [Edit("one", "executions", 0, 7)],
        [(None, "executions: 7\n")],
    ),
    "flow mapping": (
        FLOW,
        [
            Edit("flow", "name", "Flow job", "Flow job, renamed"),
            Edit("flow", "intervals", 90 * 60_000, 45 * 60_000),
            Edit("flow", "executions", 0, 2),
        ],
        [
            (
                '{name: Flow job, tag: flow, event_type: action, event_tag: "app:act", '
                "intervals: 90m, start_at: 2037-06-01T02:00:00Z}\n",
                '{name: "Flow job, renamed", tag: flow, event_type: action, event_tag: "app:act", '
                "intervals: 45m, start_at: 2037-06-01T02:00:00Z, executions: 2}\n",
            )
        ],
    ),
    "quote styles and a spaced ISO time without seconds": (
        QUOTED,
        [
            Edit("quoted", "name", "Single quoted", "It's single"),
            Edit("quoted", "event_tag", "app:act", "app:other"),
            Edit("quoted", "intervals", HOUR, 30 * 60_000),
            Edit("quoted", "start_at", T0, T0 + 30 * 60_000),
        ],
        [
            ("name: 'Single quoted'\n", "name: 'It''s single'\n"),
            ('event_tag: "app:act"\n', 'event_tag: "app:other"\n'),
            ('intervals: "1h"\n', 'intervals: "30m"\n'),
            ("start_at: '2037-06-01 02:00Z'\n", "start_at: '2037-06-01 02:30Z'\n"),
        ],
    ),
    "seconds and milliseconds appear when the new time needs them": (
        QUOTED,
        [Edit("quoted", "start_at", T0, T0 + 61_500)],
        [("start_at: '2037-06-01 02:00Z'\n", "start_at: '2037-06-01 02:01:01.500Z'\n")],
    ),
}


def diff(before: str, after: str) -> list[tuple[str, str]]:
    """The lines difflib marks removed ('-') and added ('+'), line endings kept."""
    lines = difflib.ndiff(before.splitlines(keepends=True), after.splitlines(keepends=True))
    return [(line[0], line[2:]) for line in lines if line[:1] in "-+"]


def expected_diff(changed: list[tuple[str | None, str | None]], eol: str) -> list[tuple[str, str]]:
    removed = [("-", old.replace("\n", eol)) for old, _ in changed if old is not None]
    added = [("+", new.replace("\n", eol)) for _, new in changed if new is not None]
    return sorted(removed + added)


def edited(path: Path) -> dict[str, dict[str, Any]]:
    desired = load_desired([str(path)])
    assert not desired.errors, desired.errors
    return {tag: job.to_wire() for tag, job in desired.jobs.items()}


@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("bom", [False, True], ids=["", "bom"])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.slow
def test_a_rewrite_changes_exactly_the_edited_lines(
    tmp_path: Path, case: str, bom: bool, eol: str
) -> None:
    text, edits, changed = CASES[case]
    text = text.replace("\n", eol)
    raw = ("\ufeff" if bom else "").encode() + text.encode()
    path = tmp_path / "jobs.yaml"
    path.write_bytes(raw)
    before = edited(path)

    result = rewrite(str(path), edits)

    out = path.read_bytes()
    assert out.startswith(b"\xef\xbb\xbf") is bom
    after_text = out.decode("utf-8-sig")
    assert sorted(diff(text, after_text)) == expected_diff(changed, eol)
    assert eol == "\n" or "\n" not in after_text.replace("\r\n", "")  # no bare LF crept in
    assert result.fields == len(edits)
    want = {tag: dict(job) for tag, job in before.items()}
    for edit in edits:
        want[edit.tag][edit.field] = edit.new
    assert edited(path) == want


def test_the_examples_keep_their_friendly_forms(tmp_path: Path) -> None:
    source = Path(__file__).parent.parent / "examples" / "jobs" / "reports" / "weekly-digest.yaml"
    path = tmp_path / "weekly-digest.yaml"
    path.write_bytes(source.read_bytes())
    old = parse_timestamp("2037-06-08T08:30:00+01:00")
    rewrite(str(path), [Edit("weekly_digest", "start_at", old, old + 2 * HOUR)])
    assert diff(source.read_text(), path.read_text()) == [
        ("-", 'start_at: "2037-06-08T08:30:00+01:00"\n'),
        ("+", 'start_at: "2037-06-08T10:30:00+01:00"\n'),
    ]


def test_an_edit_to_the_value_already_there_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(JOB)
    before = path.stat().st_mtime_ns
    result = rewrite(str(path), [Edit("nightly", "intervals", 90 * 60_000, 90 * 60_000)])
    assert result.fields == 0 and not result.changed
    assert path.stat().st_mtime_ns == before


# --- refusals: one line naming file:line, the file left as it was ---------------------------


def refused(path: Path, edits: list[Edit]) -> str:
    before = path.read_bytes()
    with pytest.raises(EditRefused) as caught:
        rewrite(str(path), edits)
    assert path.read_bytes() == before
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_tag_not_in_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(MULTI)
    message = refused(path, [Edit("four", "intervals", HOUR, 2 * HOUR)])
    assert message == f"{path}:1: no job tagged 'four' in this file"


def test_a_file_changed_since_it_was_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(MULTI)
    # The plan saw intervals 2h; the file now says 6h (line 15).
    message = refused(path, [Edit("two", "intervals", 2 * HOUR, HOUR)])
    assert message.startswith(f"{path}:15:12: two: intervals: the manifest holds 21600000, ")
    assert "changed since it was read" in message


def test_a_file_changed_while_being_edited_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(MULTI)
    prepared = prepare(str(path), [Edit("two", "executions", 3, 4)])
    path.write_text(MULTI.replace("name: One", "name: One, edited by hand"))
    with pytest.raises(EditRefused, match="changed while it was being edited"):
        commit(prepared)
    assert "edited by hand" in path.read_text()


def test_a_value_behind_an_anchor_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(JOB.replace("event_tag: stripe:list_charges", "event_tag: &e stripe:list"))
    message = refused(path, [Edit("nightly", "event_tag", "stripe:list", "stripe:other")])
    assert message.startswith(f"{path}:8:12: event_tag: written with an anchor")


def test_a_duplicate_tag_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(MULTI.replace("tag: two", "tag: one"))
    message = refused(path, [Edit("one", "intervals", 86_400_000, HOUR)])
    assert message.startswith(f"{path}:11:6: one: the tag is also at {path}:3:6")


def test_a_new_value_that_is_not_canonical_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(JOB)
    message = refused(path, [Edit("nightly", "intervals", 90 * 60_000, "2h")])
    assert message.startswith(f"{path}:9:12: nightly: intervals: '2h' is not a canonical value")


def test_the_round_trip_check_refuses_a_value_that_reads_back_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the YAML 1.1 resolver, ``yes`` would be written plain: PyYAML reads a boolean.

    (The fault is planted: the editor's own guard prevents it, so only a broken guard shows
    that the read-back check stands behind it.)
    """
    monkeypatch.setattr(yamledit, "_RESOLVERS", yamledit._RESOLVERS[1:])
    path = tmp_path / "jobs.yaml"
    path.write_text(JOB)
    message = refused(path, [Edit("nightly", "name", "Nightly report", "yes")])
    assert message == (
        f"{path}:3:7: nightly: name: yes is true or false to YAML, not text; "
        "quote it if you mean the text; not edited"
    )


def test_a_value_the_job_schema_refuses_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(JOB)
    message = refused(path, [Edit("nightly", "event_tag", "stripe:list_charges", "a b")])
    assert message.startswith(f"{path}:8:12: nightly: event_tag: ")
    assert message.endswith("; not edited")


def test_an_invisible_character_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(JOB)
    message = refused(path, [Edit("nightly", "name", "Nightly report", "Nightly\u200breport")])
    assert message.startswith(f"{path}:3:7: nightly: name: 'Nightly\\u200breport' must not hold")


# --- property: any manifest, any edits, only the edited lines change ------------------------

OFFSETS = ["Z", "z", "+01:00", "-05:30", "+0200", "+03"]
NAMES = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 :#'\"-_,{}[]&*!|>%@`é")), min_size=1, max_size=24
)
EVENT_TAGS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,12}", fullmatch=True)
INTERVALS = st.integers(1, 40 * 86_400_000)
STARTS = st.integers(parse_timestamp("2030-01-01T00:00:00Z"), parse_timestamp("2099-12-31T00:00Z"))
EVENT_TYPES = st.sampled_from(["action", "notification", "database_action", "function"])


def iso(ms: int, zone: str) -> str:
    return yamledit._iso_like(f"2030-01-01T00:00:00{zone}", ms)


@st.composite
def manifests(draw: st.DrawFn) -> tuple[str, dict[str, object], list[Edit], bool]:
    values: dict[str, object] = {
        "name": draw(NAMES.map(str.strip).filter(bool)),
        "tag": "job",
        "event_type": draw(EVENT_TYPES),
        "event_tag": draw(EVENT_TAGS),
        "intervals": draw(INTERVALS),
        "start_at": draw(STARTS),
    }
    if draw(st.booleans()):
        values["executions"] = draw(st.integers(0, 1000))
    flow = draw(st.booleans())
    written: dict[str, str] = {}
    for field, value in values.items():
        quote = draw(st.sampled_from(["", "'", '"']))
        if field == "intervals":
            as_int = draw(st.booleans())
            text = str(value) if as_int else format_duration(int(str(value)))
            quote = "" if as_int else quote
        elif field == "start_at":
            as_int = draw(st.booleans())
            text = str(value) if as_int else iso(int(str(value)), draw(st.sampled_from(OFFSETS)))
            quote = "" if as_int else quote
        elif field == "executions":
            text, quote = str(value), ""
        elif field == "event_type":
            text = draw(st.sampled_from([str, str.upper, str.capitalize]))(str(value))
        else:
            text, quote = yamledit._string(str(value), None, flow), ""
        written[field] = f"{quote}{text}{quote}"
    order = draw(st.permutations(list(written)))
    if flow:
        body = "{" + ", ".join(f"{k}: {written[k]}" for k in order) + "}\n"
    else:
        body = "".join(
            f"{k}: {written[k]}" + draw(st.sampled_from(["", "  # why", " #x"])) + "\n"
            for k in order
        )
    text = "# top comment\n" + body
    fields = draw(st.lists(st.sampled_from(MUTABLE_FIELDS), unique=True, max_size=4))
    new_values = {
        "name": NAMES.map(str.strip).filter(bool),
        "event_type": EVENT_TYPES,
        "event_tag": EVENT_TAGS,
        "executions": st.integers(0, 1000),
        "intervals": INTERVALS,
        "start_at": STARTS,
    }
    edits = []
    for field in fields:
        new = draw(new_values[field])
        edits.append(Edit("job", field, values.get(field, 0), new))
    return text, values, edits, flow


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(manifests(), st.booleans())
@pytest.mark.slow
def test_property_any_edit_changes_only_its_lines(
    case: tuple[str, dict[str, object], list[Edit], bool], crlf: bool
) -> None:
    text, values, edits, flow = case
    eol = "\r\n" if crlf else "\n"
    text = text.replace("\n", eol)
    note(repr(text))
    note(repr(edits))
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "job.yaml"
        path.write_bytes(text.encode())
        before = edited(path)
        result = rewrite(str(path), edits)
        after_text = path.read_bytes().decode()
        after = edited(path)
    want = dict(before["job"])
    want.update({e.field: e.new for e in edits})
    assert after == {"job": want}
    changed = [e for e in edits if e.new != before["job"][e.field]]
    assert result.fields == len(changed)
    lines = diff(text, after_text)
    if not changed:
        assert lines == []
    elif flow:
        assert [sign for sign, _ in lines] == ["-", "+"]
    else:
        replaced = [e for e in changed if e.field in values]
        assert sorted(line.split(":")[0] for sign, line in lines if sign == "-") == sorted(
            e.field for e in replaced
        )
        assert len(lines) == 2 * len(replaced) + (len(changed) - len(replaced))
    assert all(line.endswith(eol) for _, line in lines)
