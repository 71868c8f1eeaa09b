"""One rule for a duration wherever one is read: each unit at most once, largest first.

``1h1h`` and ``30m1h`` are slips (a unit pasted twice, a value half edited), not sums anyone
means; they are refused with the form that was probably meant, by the one parser every
reader uses: a manifest's intervals, ``schedule:`` in .reconciler.yaml, RECONCILER_MAX_AGE,
and schedule's --window and --collide.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.model import parse_duration
from testing.cli import invoke as run

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1h30m", 5_400_000),
        ("1w2d3h4m5s6ms", 604_800_000 + 2 * 86_400_000 + 3 * 3_600_000 + 245_006),
        ("5ms", 5),
        ("1m1ms", 60_001),  # m then ms: minutes are larger
        ("90s", 90_000),
        (" 1d ", 86_400_000),
    ],
)
def test_units_largest_first_each_once_parse(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize(
    ("text", "meant"),
    [
        ("1h1h", "; did you mean '2h'?"),
        ("30m1h", "; did you mean '1h30m'?"),
        ("1ms1m", "; did you mean '1m1ms'?"),
        ("1s1s1s", "; did you mean '3s'?"),
        ("0s0s", ""),  # nothing to offer: no duration is zero
    ],
)
def test_a_unit_twice_or_out_of_order_is_refused_saying_why(text: str, meant: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == (
        f"{text!r} is not a duration: each unit at most once, largest first "
        f"(such as '1h30m'){meant}"
    )


def test_every_duration_in_the_examples_still_parses() -> None:
    """The examples' manifests and configuration, validated as a user would."""
    code, out, err = run("validate", str(EXAMPLES / "jobs"))
    assert code == 0, out + err


def test_a_manifest_interval_follows_the_rule(examples_repo: Path) -> None:
    manifest = examples_repo / "jobs" / "billing" / "jobs.yaml"
    manifest.write_text(manifest.read_text().replace("intervals: 1h30m", "intervals: 1h1h"))
    code, out, err = run("validate", "jobs")
    assert code == 1
    assert "'1h1h' is not a duration: each unit at most once" in out + err
    assert "did you mean '2h'?" in out + err
    assert "Traceback" not in out + err


def test_schedule_options_and_max_age_follow_the_rule(examples_repo: Path) -> None:
    for option in ("--window", "--collide"):
        code, _, err = run("schedule", "jobs", option, "30m1h")
        assert code == 1
        assert err.strip().splitlines()[-1] == (
            f"error: {option} 30m1h: '30m1h' is not a duration: each unit at most once, "
            "largest first (such as '1h30m'); did you mean '1h30m'?"
        )
    code, _, err = run("apply", "jobs", "--auto-approve")
    assert code == 0, err
    code, _, err = run("snapshot", "--out", "snap.json")
    assert code == 0, err
    code, _, err = run(
        "plan", "jobs", "--target", "snapshot:snap.json", env={"RECONCILER_MAX_AGE": "1h1h"}
    )
    assert code == 1
    assert "RECONCILER_MAX_AGE='1h1h': '1h1h' is not a duration: each unit at most once" in err


def test_the_configuration_follows_the_rule(examples_repo: Path) -> None:
    (examples_repo / ".reconciler.yaml").write_text("paths: [jobs]\nschedule:\n  collide: 1m1m\n")
    code, out, err = run("validate", "jobs")
    assert code == 1
    assert "'1m1m' is not a duration: each unit at most once" in err
    assert "Traceback" not in out + err


@pytest.mark.parametrize(
    ("text", "valid"),
    [("1h30m", True), ("5ms", True), ("1m1ms", True), ("1h1h", False), ("30m1h", False)],
)
def test_the_schema_editors_read_applies_the_same_rule(text: str, valid: bool) -> None:
    """schemas/job.schema.json (what an editor or check-jsonschema reads) agrees with the CLI."""
    import json

    import jsonschema

    schema = json.loads((EXAMPLES.parent / "schemas" / "job.schema.json").read_text())
    job = {
        **{"tag": "t", "name": "T", "event_type": "action", "event_tag": "a:b", "executions": 1},
        **{"start_at": "2037-06-01T09:00:00Z", "intervals": text},
    }
    assert jsonschema.Draft202012Validator(schema).is_valid(job) is valid
