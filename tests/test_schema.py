"""The fast validator (jsonschema-rs) and the explaining one (jsonschema) must agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from reconciler import model
from reconciler.manifests import load_documents
from reconciler.schema import check_value, is_valid, job_schema
from testing.cli import invoke

ROOT = Path(__file__).parent.parent
REFERENCE = Draft202012Validator(job_schema())

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 2 * 10**12),
    st.integers(2**53 - 3, 2**53 + 3),
    st.integers(2**53, 10**30),
    st.sampled_from(
        [
            "",
            "action",
            "ACTION",
            "Database_Action",
            "acton",
            "1h30m",
            "5 minutes",
            "90s",
            "0s",
            "2026-12-01T02:00:00Z",
            "2026-12-01T02:00:00",
            "2026-12-01 02:00+05:30",
            "a:b",
            "-x",
            "nightly_report",
            "x" * 300,
        ]
    ),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=2),
)
documents = st.dictionaries(
    st.sampled_from(
        ["tag", "name", "event_type", "event_tag", "executions", "intervals", "start_at", "colour"]
    ),
    values,
)


@settings(max_examples=400, deadline=None)
@given(documents)
@pytest.mark.slow
def test_validators_agree_on_generated_documents(doc: dict[str, Any]) -> None:
    assert is_valid(doc) == REFERENCE.is_valid(doc)


def test_validators_agree_on_every_example_file() -> None:
    files = sorted((ROOT / "tests" / "data").rglob("*.yaml")) + sorted(
        (ROOT / "examples" / "jobs").rglob("*.y*ml")
    )
    checked = 0
    for document in load_documents([str(p) for p in files], []):
        assert is_valid(document.data) == REFERENCE.is_valid(document.data), document.path
        checked += 1
    assert checked >= 15


def test_values_json_has_no_type_for_are_invalid_not_a_crash() -> None:
    doc = {
        "tag": "t",
        "name": "n",
        "event_type": "action",
        "event_tag": b"bytes",
        "intervals": "1h",
        "start_at": "2026-12-01T00:00:00Z",
    }
    assert is_valid(doc) is False


def test_the_schema_bounds_every_number_as_the_model_does() -> None:
    props = job_schema()["properties"]
    assert props["executions"]["maximum"] == model.MAX_SAFE_INTEGER
    assert props["intervals"]["oneOf"][0]["maximum"] == model.MAX_SAFE_INTEGER
    assert props["start_at"]["oneOf"][0]["maximum"] == model.MAX_SAFE_INTEGER
    assert props["start_at"]["oneOf"][0]["minimum"] == 0


def test_the_server_side_check_names_the_bound() -> None:
    """check_value is what the local server answers a PUT with (a 422's text)."""
    body = {
        "tag": "t",
        "name": True,
        "event_type": "actions",
        "event_tag": "a:b",
        "executions": 2**53,
        "intervals": 2**53,
        "start_at": -1,
    }
    assert check_value(body) == [
        "event_type: 'actions' must be one of action, notification, database_action, "
        "function (any case); did you mean 'action'?",
        "executions: 9007199254740992 is more than 9007199254740991, the largest number "
        "Ductape holds",
        "intervals: 9007199254740992 is more than 9007199254740991, the largest number "
        "Ductape holds",
        "name: true is not text",
        "start_at: -1 must be Unix milliseconds or an ISO-8601 timestamp with a zone such as "
        "'2026-12-01T02:00:00Z'",
    ]


# --- the two validators agree on hostile text, in every field with a pattern ---------------

FAST = jsonschema_rs.validator_for(job_schema())
# What Python's re and ECMA-262 (jsonschema-rs, editors) read differently: $ before a final
# newline, the width of \s and \d; and what a manifest must never smuggle into a field.
HOSTILE_TEXT = [
    "\n",
    "\r\n",
    "\r",
    "\n\n",
    "\u2028",
    "\u2029",
    "\x00",
    "\x85",
    "\x1c",
    "\x1f",
    "\t",
    " ",
    "\v",
    "\f",
    "\u00a0",
    "\u200b",
    "\u202e",
    "\ufeff",
]
# Digits Python's \d takes and ECMA-262's does not.
FOREIGN_DIGITS = ["\u0661", "\uff11", "\u09e7"]
BASE_JOB = {
    "tag": "nightly",
    "name": "Nightly",
    "event_type": "action",
    "event_tag": "app:x",
    "intervals": "1h",
    "start_at": "2026-12-01T02:00:00Z",
}


def _patterned_fields() -> dict[str, list[str]]:
    """Each field with a string pattern (directly or in a oneOf branch) and its examples."""
    out = {}
    for name, prop in job_schema()["properties"].items():
        branches = [prop, *prop.get("oneOf", ())]
        if any("pattern" in b for b in branches):
            out[name] = [e for e in prop.get("examples", ()) if isinstance(e, str)]
    return out


def _variants(value: str) -> list[str]:
    out = []
    for bad in HOSTILE_TEXT:
        out += [value + bad, bad + value, value[:1] + bad + value[1:]]
    for digit in FOREIGN_DIGITS:
        out += [value.replace("0", digit), value.replace("1", digit)]
    return out


def test_every_patterned_field_is_covered() -> None:
    fields = _patterned_fields()
    assert set(fields) == {"tag", "name", "event_type", "event_tag", "intervals", "start_at"}
    assert all(fields.values()), fields


def test_validators_agree_on_hostile_text_in_every_patterned_field() -> None:
    checked = 0
    for field, examples in _patterned_fields().items():
        for example in examples:
            assert FAST.is_valid({**BASE_JOB, field: example}), (field, example)
            for value in _variants(example):
                doc = {**BASE_JOB, field: value}
                assert FAST.is_valid(doc) == REFERENCE.is_valid(doc), (field, value)
                checked += 1
    assert checked > 900


def test_no_trailing_newline_passes_either_validator() -> None:
    """'nightly' and 'nightly\\n' would be two live jobs side by side: neither may pass."""
    for field, examples in _patterned_fields().items():
        for example in examples:
            for end in ("\n", "\r\n", "\u2028"):
                doc = {**BASE_JOB, field: example + end}
                if field != "intervals":  # "1h " and "1h\t" are fine; a newline is not
                    assert not REFERENCE.is_valid(doc), (field, example + end)
                assert not FAST.is_valid(doc), (field, example + end)
                assert not is_valid(doc), (field, example + end)


def test_validators_agree_on_the_hostile_and_invalid_corpus() -> None:
    files = sorted((ROOT / "tests" / "data" / "hostile").glob("*.yaml")) + sorted(
        (ROOT / "tests" / "data" / "invalid").glob("*.yaml")
    )
    checked = 0
    for document in load_documents([str(p) for p in files], []):
        try:
            fast = FAST.is_valid(document.data)
        except (ValueError, TypeError):
            continue  # a value JSON has no type for: is_valid() hands it to jsonschema
        assert fast == REFERENCE.is_valid(document.data), document.path
        checked += 1
    assert checked >= 20


def test_validate_refuses_a_tag_with_a_trailing_newline(tmp_path: Path) -> None:
    """Acceptance: ``tag: "x\\n"`` exits 1 with one file:line:col line naming the field."""
    (tmp_path / "x.yaml").write_text(
        'name: X\ntag: "x\\n"\nevent_type: action\nevent_tag: app:x\nintervals: 1h\n'
        "start_at: 2026-12-01T00:00:00Z\n"
    )
    code, out, err = invoke("validate", str(tmp_path / "x.yaml"))
    assert code == 1
    problems = [line for line in (out + err).splitlines() if not line.startswith("error:")]
    assert problems == [
        f"{tmp_path / 'x.yaml'}:2:6: x\\x0a: tag: 'x\\x0a' must start with a letter or digit "
        "and hold only letters, digits, '_', '.', ':' and '-'"
    ]


def test_the_server_side_check_refuses_a_trailing_newline() -> None:
    """The local server checks a PUT's fields with check_value: a rename to 'a_job\\n' is 422."""
    assert check_value({**BASE_JOB, "tag": "a_job\n"}) == [
        "tag: 'a_job\\x0a' must start with a letter or digit and hold only letters, digits, "
        "'_', '.', ':' and '-'"
    ]
