from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from reconciler import model
from reconciler.model import EventType, Job, format_duration, parse_duration, parse_timestamp
from reconciler.schema import job_schema


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("90s", 90_000),
        ("5m", 300_000),
        ("1h30m", 5_400_000),
        ("1d", 86_400_000),
        ("1w", 604_800_000),
        ("250ms", 250),
        (" 2h ", 7_200_000),
        (1234, 1234),
    ],
)
def test_durations_parse(text: str | int, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("bad", ["5 minutes", "1.5h", "", "h", 0, -5, True, "0s", None, 1.5])
def test_bad_durations_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize("ms", [1, 999, 1000, 60_000, 5_400_000, 86_400_000 + 1, 604_800_000 * 3])
def test_duration_round_trip(ms: int) -> None:
    assert parse_duration(format_duration(ms)) == ms


def test_duration_human_form() -> None:
    assert format_duration(5_400_000) == "1h30m"
    assert format_duration(1_800_000) == "30m"


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        ("2026-12-01T02:00:00Z", 1_796_090_400_000),
        ("2026-12-01T03:00:00+01:00", 1_796_090_400_000),
        ("2026-12-01T03:00:00+0100", 1_796_090_400_000),
        ("2026-12-01t02:00z", 1_796_090_400_000),
        ("2026-12-01 02:00:00.25Z", 1_796_090_400_250),
        ("2026-12-01T02:00:00.123456789Z", 1_796_090_400_123),
        (1_796_090_400_000, 1_796_090_400_000),
        (datetime(2026, 12, 1, 2, tzinfo=timezone.utc), 1_796_090_400_000),
        (datetime(2026, 12, 1, 4, tzinfo=timezone(timedelta(hours=2))), 1_796_090_400_000),
    ],
)
def test_timestamps_parse(value: object, ms: int) -> None:
    assert parse_timestamp(value) == ms


@pytest.mark.parametrize(
    "bad", ["2026-12-01T02:00:00", "tomorrow", "2026-13-01T00:00:00Z", -1, datetime(2026, 1, 1)]
)
def test_bad_timestamps_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(bad)


def test_timestamp_human_form() -> None:
    assert model.format_timestamp(1_796_090_400_000) == "2026-12-01T02:00:00Z"
    assert model.format_timestamp(1_796_090_400_250) == "2026-12-01T02:00:00.250Z"


@pytest.mark.parametrize("text", ["action", "ACTION", "Database_Action", " function "])
def test_event_type_any_case(text: str) -> None:
    assert EventType.parse(text).value == text.strip().lower()


def test_executions_default_to_unlimited() -> None:
    job = Job.from_mapping(
        {
            "tag": "t",
            "name": "n",
            "event_type": "action",
            "event_tag": "a:b",
            "intervals": "1h",
            "start_at": "2026-12-01T02:00:00Z",
        }
    )
    assert job.executions == 0
    assert job.to_wire()["event_type"] == "action"


def test_schema_and_model_share_their_patterns() -> None:
    """The schema (for editors) and the model (for the CLI) must accept the same strings."""
    props = job_schema()["properties"]
    assert props["intervals"]["oneOf"][1]["pattern"] == model.DURATION_PATTERN
    assert props["start_at"]["oneOf"][1]["pattern"] == model.TIMESTAMP_PATTERN
    assert set(props) == set(model.FIELDS)
    assert props["executions"]["default"] == 0


def test_schedule_preview() -> None:
    job = Job.from_mapping(
        {
            "tag": "t",
            "name": "n",
            "event_type": "action",
            "event_tag": "a:b",
            "executions": 2,
            "intervals": "6h",
            "start_at": "2026-12-01T00:00:00Z",
        }
    )
    assert model.schedule_preview(job) == (
        "every 6h, 2 runs: 2026-12-01T00:00:00Z, 2026-12-01T06:00:00Z"
    )
