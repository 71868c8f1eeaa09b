from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler import model
from reconciler.model import (
    EventType,
    FieldError,
    Job,
    format_duration,
    parse_duration,
    parse_timestamp,
)
from reconciler.schema import check_value, job_schema


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


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("executions", -1),
        ("executions", True),
        ("executions", 1.5),
        ("name", ""),
        ("name", "   "),
        ("tag", 7),
        ("intervals", 0),
        ("intervals", -60_000),
    ],
)
def test_the_model_refuses_what_the_schema_refuses(field: str, value: object) -> None:
    """Live jobs reach the model without the schema: it must hold the same line."""
    data = {
        "tag": "t",
        "name": "n",
        "event_type": "action",
        "event_tag": "a:b",
        "intervals": "6h",
        "start_at": "2026-12-01T00:00:00Z",
        field: value,
    }
    with pytest.raises(model.FieldError) as caught:
        Job.from_mapping(data)
    assert caught.value.field == field


# --- bounds: what the platform can hold -------------------------------------------------------

JOB = {
    "tag": "t",
    "name": "n",
    "event_type": "action",
    "event_tag": "a:b",
    "intervals": "1h",
    "start_at": "2026-12-01T02:00:00Z",
}


@pytest.mark.parametrize("field", ["executions", "intervals", "start_at"])
def test_every_number_is_bounded_by_javascripts_safe_integer(field: str) -> None:
    assert model.MAX_SAFE_INTEGER == 9_007_199_254_740_991
    job = Job.from_mapping({**JOB, field: model.MAX_SAFE_INTEGER})
    assert job.to_wire()[field] == model.MAX_SAFE_INTEGER
    with pytest.raises(model.FieldError) as caught:
        Job.from_mapping({**JOB, field: model.MAX_SAFE_INTEGER + 1})
    assert caught.value.field == field
    assert caught.value.message == (
        "9007199254740992 is more than 9007199254740991, the largest number Ductape holds"
    )
    assert str(caught.value) == f"{field}: {caught.value.message}"


@pytest.mark.parametrize(
    "value",
    [
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:30:00+01:00",
        "0001-01-01T00:00:00Z",
        datetime(1969, 7, 20, 20, 17, tzinfo=timezone.utc),
    ],
)
def test_a_start_before_1970_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match=r"is before 1970-01-01T00:00:00Z$"):
        parse_timestamp(value)


def test_the_epoch_itself_is_a_valid_start() -> None:
    assert parse_timestamp("1970-01-01T00:00:00Z") == 0
    assert parse_timestamp("1970-01-01T01:00:00+01:00") == 0
    assert parse_timestamp(0) == 0


@pytest.mark.parametrize("text", ["99999999999999w", "1" + "0" * 17 + "ms", "9" * 150 + "s"])
def test_a_duration_past_the_bound_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="longer than Ductape can count"):
        parse_duration(text)
    assert parse_duration("14892w") == 14892 * 604_800_000  # ~285 years: still fine


def test_a_pasted_blob_is_not_a_duration_and_not_quoted_whole() -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration("9" * 5000 + "s")
    assert str(caught.value).startswith("'" + "9" * 37 + "...' is not a duration")


def test_a_huge_integer_is_refused_in_a_short_message() -> None:
    with pytest.raises(model.FieldError) as caught:
        Job.from_mapping({**JOB, "executions": 10**5000})
    assert caught.value.message.startswith("a number of about 5001 digits is more than")
    assert len(str(caught.value)) < 120


def test_model_errors_name_their_field_as_an_attribute() -> None:
    with pytest.raises(model.FieldError) as caught:
        Job.from_mapping({**JOB, "event_type": "actions"})
    assert caught.value.field == "event_type"
    assert caught.value.message == (
        "'actions' must be one of action, notification, database_action, function (any case); "
        "did you mean 'action'?"
    )
    with pytest.raises(model.FieldError) as missing:
        Job.from_mapping({k: v for k, v in JOB.items() if k != "name"})
    assert (missing.value.field, missing.value.message) == ("name", "is required")


# --- messages --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (True, "true"),
        (False, "false"),
        (None, "an empty value"),
        (42, "42"),
        (10**50, "a number of 51 digits"),
        (-(10**50), "a number of 51 digits"),
        ("acton", "'acton'"),
        ("x" * 1000, "'" + "x" * 37 + "...'"),
        ("\x1b[2Jboom\nerror: x", "'\\x1b[2Jboom\\x0aerror: x'"),
        # A trailing newline is shown, so 'nightly\n' never reads as the valid 'nightly'.
        ("nightly\n", "'nightly\\x0a'"),
        ([1, 2], "[1, 2]"),
    ],
)
def test_values_are_shown_short_and_safe(value: object, shown: str) -> None:
    assert model.show(value) == shown


@pytest.mark.parametrize(
    ("word", "meant"),
    [
        ("interval", "intervals"),
        ("eventType", "event_type"),
        ("startAt", "start_at"),
        ("StartAt", "start_at"),
        ("event-tag", "event_tag"),
        ("execution", "executions"),
        ("colour", None),
        ("x" * 100, None),
        ("", None),
        (42, None),
    ],
)
def test_did_you_mean(word: object, meant: str | None) -> None:
    assert model.suggest(word, model.FIELDS) == meant


def test_event_type_suggestions() -> None:
    names = [e.value for e in EventType]
    assert model.suggest("actions", names) == "action"
    assert model.suggest("notifications", names) == "notification"
    assert model.suggest("databaseAction", names) == "database_action"
    assert model.suggest("cron", names) is None


def test_a_problem_is_one_printable_line_whatever_it_quotes() -> None:
    problem = model.Problem(
        model.Location("evil\n\x1b[31m.yaml", 3, 4),
        "bad \x1b]0;title\x07 value\r\nerror: forged " + "y" * 1000,
        tag="t\u202e" + "g" * 500,
        field="f\n" * 100,
    )
    text = str(problem)
    assert "\n" not in text and "\x1b" not in text and "\u202e" not in text
    assert text.startswith("evil\\x0a\\x1b[31m.yaml:3:4: t\\u202eggg")
    assert len(problem.tag or "") == 128 and len(problem.field or "") == 64
    assert len(problem.message) == 400 and problem.message.endswith("...")
    assert model.Problem(model.Location("a.yaml"), "m", severity="warning").is_error is False


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "intervals",
            "3600000",
            "'3600000' is a string; write 3600000 without quotes (milliseconds), or a duration "
            "such as '1h'",
        ),
        ("executions", "3", "'3' is a string; write 3 without quotes"),
        (
            "start_at",
            "1796090400000",
            "'1796090400000' is a string; write 1796090400000 without quotes (Unix "
            "milliseconds), or an ISO-8601 timestamp such as '2026-12-01T02:00:00Z'",
        ),
    ],
)
def test_a_quoted_number_is_called_a_string(field: str, value: str, message: str) -> None:
    """A plan file or live job with a quoted number gets the words a manifest gets."""
    job = {
        "tag": "t",
        "name": "n",
        "event_type": "action",
        "event_tag": "app:x",
        "intervals": 3600000,
        "start_at": 1796090400000,
        field: value,
    }
    with pytest.raises(FieldError) as caught:
        Job.from_mapping(job)
    assert (caught.value.field, caught.value.message) == (field, message)
    assert check_value(job) == [f"{field}: {message}"]


# Values of every kind a manifest's field may hold: valid, near-valid and wrong.
_ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 3),
    st.sampled_from([model.MAX_SAFE_INTEGER, model.MAX_SAFE_INTEGER + 1, 1_800_000_000_000]),
    st.sampled_from(
        [
            "",
            " ",
            "x",
            " Action ",
            "action",
            "NOTIFICATION",
            "funct",
            "1h30m",
            "90s",
            "0s",
            "3600000",
            " 10 ",
            "2026-12-01T02:00:00Z",
            "2026-12-01T08:30:00+05:30",
            "2027-06-01T09:00 Europe/Berlin",
            "2027-03-28T02:30 Europe/Berlin",
            "2026-02-30T00:00Z",
            "1969-12-31T23:59:59Z",
            "2026-12-01T02:00:00",
        ]
    ),
    st.text(max_size=6),
    st.floats(allow_nan=False, max_value=10, min_value=-1),
    st.just(datetime(2026, 12, 1, tzinfo=timezone.utc)),
)


_VALID = {
    "tag": "nightly",
    "name": "Nightly",
    "event_type": "action",
    "event_tag": "stripe:list_charges",
    "executions": 3,
    "intervals": "1h",
    "start_at": "2027-06-01T09:00 Europe/Berlin",
}


@settings(max_examples=500, deadline=None)
@given(
    st.dictionaries(st.sampled_from(model.FIELDS), _ANY_VALUE, max_size=2),
    st.sets(st.sampled_from(model.FIELDS), max_size=1),
)
def test_the_plain_path_builds_what_the_general_loop_builds(
    changed: dict[str, object], dropped: set[str]
) -> None:
    # A valid job with one or two values changed and perhaps one field left out.
    data = {k: v for k, v in {**_VALID, **changed}.items() if k not in dropped}

    def general() -> object:
        saved = model._plain_job
        model._plain_job = lambda cls, data: None  # type: ignore[assignment]
        try:
            return _outcome(data)
        finally:
            model._plain_job = saved

    expected = general()
    assert _outcome(data) == expected
    assert _outcome(data) == expected  # and again, from what the plain path remembered
    if isinstance(expected, Job):
        assert expected.zone == _built(data).zone
        # The plain path sets the attributes itself: the very same ones, nothing more.
        plain = _outcome(data)
        assert type(plain) is Job and vars(plain) == vars(expected)
        assert repr(plain) == repr(expected) and hash(plain) == hash(expected)


def _built(data: dict[str, object]) -> Job:
    return Job.from_mapping(data)


def _outcome(data: dict[str, object]) -> object:
    try:
        return _built(data)
    except FieldError as exc:
        return ("error", exc.field, str(exc))
