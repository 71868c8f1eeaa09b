"""The fast validator (jsonschema-rs) and the explaining one (jsonschema) must agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from reconciler import model
from reconciler.manifests import load_documents
from reconciler.schema import check_value, is_valid, job_schema

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
