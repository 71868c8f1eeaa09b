"""The fast validator (jsonschema-rs) and the explaining one (jsonschema) must agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from reconciler.manifests import load_documents
from reconciler.schema import is_valid, job_schema

ROOT = Path(__file__).parent.parent
REFERENCE = Draft202012Validator(job_schema())

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 2 * 10**12),
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
