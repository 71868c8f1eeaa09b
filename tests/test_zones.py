"""start_at as a local time in an IANA zone: parsed once to milliseconds, shown in the zone.

Refused at validate: a zone the database does not list, a local time the zone skips (spring
forward) and one it shows twice (fall back). In a plan: next runs in UTC and in the zone, and a
warning where fixed whole-day intervals drift off the local clock at a daylight-saving change.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from pathlib import Path

import httpx
import jsonschema_rs
import pytest
from jsonschema import Draft202012Validator

from reconciler.diff import field_changes
from reconciler.model import (
    TIMESTAMP_PATTERN,
    ZONE_PATTERN,
    EventType,
    FieldError,
    Job,
    parse_timestamp,
    zone_info,
    zone_of,
)
from reconciler.plan import Action, Change
from reconciler.render.common import schedule_lines
from reconciler.schedule import offset_changes, preview, warnings
from reconciler.schema import job_schema
from reconciler.strings import terminal
from testing.cli import invoke
from testing.server import RunningServer

BERLIN_0900_JUNE = 1_811_833_200_000  # 2027-06-01T07:00:00Z
MAY = "2027-05-20T00:00:00Z"
JOB = """\
name: Morning report
tag: {tag}
event_type: function
event_tag: compute_kpis
intervals: {intervals}
start_at: {start_at}
"""


def manifest(tmp_path: Path, start_at: str, intervals: str = "1d", tag: str = "morning") -> Path:
    jobs = tmp_path / "jobs"
    jobs.mkdir(exist_ok=True)
    (jobs / f"{tag}.yaml").write_text(JOB.format(tag=tag, intervals=intervals, start_at=start_at))
    return jobs


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECONCILER_NOW", MAY)
    for name in ("RECONCILER_TARGET", "DUCTAPE_PRODUCT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def job(start_at: str, intervals: str = "1d", executions: int = 0) -> Job:
    return Job.from_mapping(
        {
            "tag": "t",
            "name": "T",
            "event_type": "function",
            "event_tag": "f",
            "executions": executions,
            "intervals": intervals,
            "start_at": start_at,
        }
    )


# --- parsing -------------------------------------------------------------------------------


def test_a_local_time_in_a_zone_is_the_instant_in_milliseconds() -> None:
    assert parse_timestamp("2027-06-01T09:00 Europe/Berlin") == BERLIN_0900_JUNE
    assert parse_timestamp("2027-06-01T07:00:00Z") == BERLIN_0900_JUNE
    # Winter in Berlin is +01:00; Tokyo has no daylight saving.
    assert parse_timestamp("2027-01-15T09:00 Europe/Berlin") == parse_timestamp("2027-01-15T08:00Z")
    assert parse_timestamp("2027-01-15T09:00 Asia/Tokyo") == parse_timestamp("2027-01-15T00:00Z")


def test_the_zone_is_kept_for_display_but_is_not_part_of_the_job() -> None:
    zoned = job("2027-06-01T09:00 Europe/Berlin")
    plain = Job("t", "T", EventType.FUNCTION, "f", 0, 86_400_000, BERLIN_0900_JUNE)
    assert zoned.zone == "Europe/Berlin" and plain.zone is None
    assert zoned == plain and hash(zoned) == hash(plain)  # live jobs have no zone
    assert "zone" not in zoned.to_wire() and zoned.to_wire() == plain.to_wire()
    # One string per zone name, however many jobs name it (plans hold 50,000 jobs).
    assert zoned.zone is job("2027-07-01T09:00 Europe/Berlin").zone
    assert zoned.replace({"name": "U"}).zone == "Europe/Berlin"
    assert zoned.replace({"start_at": "2027-06-01T07:00:00Z"}).zone is None
    assert zone_of("2027-06-01T09:00+02:00") is None and zone_of(BERLIN_0900_JUNE) is None
    assert zone_of("2027-06-01T09:00 Z") is None  # UTC, as without the blank


@pytest.mark.parametrize(
    ("start_at", "message"),
    [
        (
            "2027-03-28T02:30 Europe/Berlin",
            "'2027-03-28T02:30 Europe/Berlin' does not exist: clocks in Europe/Berlin go "
            "forward 1h on 2027-03-28 and skip it; write a time outside the gap",
        ),
        (
            "2027-10-31T02:30 Europe/Berlin",
            "'2027-10-31T02:30 Europe/Berlin' happens twice: clocks in Europe/Berlin go back 1h "
            "on 2027-10-31; write it with an offset, '2027-10-31T02:30+02:00' (the first) or "
            "'2027-10-31T02:30+01:00' (the second)",
        ),
        (
            "2027-10-03T02:10 Australia/Lord_Howe",
            "'2027-10-03T02:10 Australia/Lord_Howe' does not exist: clocks in "
            "Australia/Lord_Howe go forward 30m on 2027-10-03 and skip it; write a time "
            "outside the gap",
        ),
        (
            "2027-06-01T09:00 Europe/Berln",
            "'2027-06-01T09:00 Europe/Berln' names no known time zone 'Europe/Berln'; "
            "did you mean 'Europe/Berlin'?",
        ),
        (
            "2027-06-01T09:00 Mars/Olympus_Mons",
            "'2027-06-01T09:00 Mars/Olympus_Mons' names no known time zone 'Mars/Olympus_Mons' "
            "(an IANA name such as 'Europe/Berlin')",
        ),
    ],
)
def test_gap_fold_and_unknown_zone_are_refused_in_one_line(start_at: str, message: str) -> None:
    with pytest.raises(FieldError) as caught:
        job(start_at)
    assert (caught.value.field, caught.value.message) == ("start_at", message)


def test_both_offsets_of_a_fold_are_accepted_as_the_refusal_suggests() -> None:
    first, second = (parse_timestamp(f"2027-10-31T02:30{o}") for o in ("+02:00", "+01:00"))
    assert second - first == 3_600_000


def test_validate_refuses_them_with_file_line_and_column(work: Path) -> None:
    jobs = manifest(work, "2027-03-28T02:30 Europe/Berlin", tag="gap")
    manifest(work, "2027-10-31T02:30 Europe/Berlin", tag="fold")
    manifest(work, "2027-06-01T09:00 Europe/Berln", tag="typo")
    code, out, err = invoke("validate", str(jobs.relative_to(work)))
    assert code == 1, out
    lines = [line for line in (out + err).splitlines() if line.startswith("jobs/")]
    assert lines == [
        "jobs/fold.yaml:6:11: fold: start_at: '2027-10-31T02:30 Europe/Berlin' happens twice: "
        "clocks in Europe/Berlin go back 1h on 2027-10-31; write it with an offset, "
        "'2027-10-31T02:30+02:00' (the first) or '2027-10-31T02:30+01:00' (the second)",
        "jobs/gap.yaml:6:11: gap: start_at: '2027-03-28T02:30 Europe/Berlin' does not exist: "
        "clocks in Europe/Berlin go forward 1h on 2027-03-28 and skip it; write a time "
        "outside the gap",
        "jobs/typo.yaml:6:11: typo: start_at: '2027-06-01T09:00 Europe/Berln' names no known "
        "time zone 'Europe/Berln'; did you mean 'Europe/Berlin'?",
    ]
    assert "Traceback" not in out + err


# Zone names become paths inside zoneinfo: the pattern keeps out anything but letters, digits,
# '_', '+' and '-' in at most three parts, and only names the database lists are opened.
ODD_NAMES = [
    "../../etc/passwd",
    "/etc/localtime",
    "Europe/../Europe/Berlin",
    "Europe//Berlin",
    "Europe/Berlin/",
    "Europe\\Berlin",
    "Europe/Zürich",
    "A/B/C/D",
    "Europe/" + "x" * 33,
    "Europe/Berlin.tzif",
    "-Europe/Berlin",
    "%2e%2e/etc",
    "Europe/Berlin\x00",
]
FAST = jsonschema_rs.validator_for(job_schema())
REFERENCE = Draft202012Validator(job_schema())
BASE = {"tag": "t", "name": "T", "event_type": "function", "event_tag": "f", "intervals": "1d"}


@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_zone_names_are_refused_by_both_validators_and_the_model(name: str) -> None:
    doc = {**BASE, "start_at": f"2027-06-01T09:00 {name}"}
    assert not FAST.is_valid(doc) and not REFERENCE.is_valid(doc)
    with pytest.raises(FieldError):
        job(doc["start_at"])


@pytest.mark.parametrize(
    "name", ["Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "UTC", "NZ"]
)
def test_real_zone_names_pass_both_validators(name: str) -> None:
    doc = {**BASE, "start_at": f"2027-06-01T09:00 {name}"}
    assert FAST.is_valid(doc) and REFERENCE.is_valid(doc)
    assert job(doc["start_at"]).zone == name


def test_only_listed_zones_are_opened() -> None:
    # Files in the zone directory that are no place, or another clock (leap seconds): refused
    # even where the file exists; case counts on every file system.
    for name in ("localtime", "posixrules", "Factory", "right/Europe/Berlin", "europe/berlin"):
        assert zone_info(name) is None, name
    assert zone_info("Europe/Berlin") is not None


# --- previews and the daylight-saving warning ---------------------------------------------


def test_next_runs_are_shown_in_utc_and_in_the_zone() -> None:
    now = parse_timestamp(MAY)
    assert preview(job("2027-06-01T09:00 Europe/Berlin"), now) == (
        "every 1d, unlimited; next: 2027-06-01T07:00:00Z (09:00 Europe/Berlin), "
        "2027-06-02T07:00:00Z (09:00 Europe/Berlin), 2027-06-03T07:00:00Z (09:00 Europe/Berlin), "
        "..."
    )
    # The local date is shown where it is not the UTC one; a finite job's last run too.
    assert preview(job("2027-06-01T23:30 America/New_York", executions=2), now) == (
        "every 1d, 2 runs; next: 2027-06-02T03:30:00Z (2027-06-01 23:30 America/New_York), "
        "2027-06-03T03:30:00Z (2027-06-02 23:30 America/New_York); "
        "last: 2027-06-03T03:30:00Z (2027-06-02 23:30 America/New_York)"
    )
    # Written with an offset: UTC only, as before.
    assert "(" not in preview(job("2027-06-01T09:00+02:00"), now).split("next:")[1]


def test_the_next_offset_changes_of_a_zone_are_found_to_the_second() -> None:
    assert offset_changes("Europe/Berlin", 2027) == (
        parse_timestamp("2027-03-28T01:00:00Z"),
        parse_timestamp("2027-10-31T01:00:00Z"),
    )
    assert offset_changes("Asia/Tokyo", 2027) == ()


def test_a_whole_day_interval_warns_of_the_next_daylight_saving_change() -> None:
    now = parse_timestamp(MAY)
    shift = (
        "runs at 08:00 Europe/Berlin from 2027-10-31: fixed 24 h intervals do not follow "
        "daylight saving"
    )
    assert warnings(job("2027-06-01T09:00 Europe/Berlin"), now, new=True) == [shift]
    # From November, the next change is the spring one: back to 09:00 from 2028-03-26.
    november = parse_timestamp("2027-11-15T00:00:00Z")
    assert warnings(job("2027-06-01T09:00 Europe/Berlin"), november, new=False) == [
        "runs at 09:00 Europe/Berlin from 2028-03-26: fixed 24 h intervals do not follow "
        "daylight saving"
    ]
    assert warnings(job("2027-06-01T09:00 Europe/Berlin", "7d"), now, new=True) == [
        "runs at 08:00 Europe/Berlin from 2027-11-02: fixed 1w intervals do not follow "
        "daylight saving"
    ]


@pytest.mark.parametrize(
    ("start_at", "intervals", "executions"),
    [
        ("2027-06-01T09:00 Europe/Berlin", "1h", 0),  # whole hours: no local hour to keep
        ("2027-06-01T09:00 Europe/Berlin", "25h", 0),
        ("2027-06-01T09:00 Asia/Tokyo", "1d", 0),  # no daylight saving
        ("2027-06-01T09:00+02:00", "1d", 0),  # an offset names no zone
        ("2027-06-01T09:00 Europe/Berlin", "1d", 30),  # every run is over before October
    ],
)
def test_no_daylight_saving_warning(start_at: str, intervals: str, executions: int) -> None:
    assert warnings(job(start_at, intervals, executions), parse_timestamp(MAY), new=True) == []


# --- end to end: plan, apply, export -------------------------------------------------------


def test_plan_shows_the_zone_and_warns_of_the_change(work: Path) -> None:
    jobs = manifest(work, "2027-06-01T09:00 Europe/Berlin")
    manifest(work, "2027-06-01T09:00 Europe/Berlin", intervals="1h", tag="hourly")
    manifest(work, "2027-06-01T09:00 Asia/Tokyo", tag="tokyo")
    code, out, err = invoke("plan", str(jobs.relative_to(work)))
    assert code == 0, out + err
    assert (
        "schedule: every 1d, unlimited; next: 2027-06-01T07:00:00Z (09:00 Europe/Berlin), "
        "2027-06-02T07:00:00Z (09:00 Europe/Berlin), 2027-06-03T07:00:00Z (09:00 Europe/Berlin), "
        "..."
    ) in out
    assert "next: 2027-06-01T00:00:00Z (09:00 Asia/Tokyo)" in out
    warned = [line for line in (out + err).splitlines() if "daylight saving" in line]
    assert warned == [
        "jobs/morning.yaml:2:6: morning: start_at: warning: runs at 08:00 Europe/Berlin from "
        "2027-10-31: fixed 24 h intervals do not follow daylight saving"
    ]
    code, out, _ = invoke("plan", "jobs", "--format", "json")
    report = json.loads(out)
    (change,) = [c for c in report["changes"] if c["tag"] == "morning"]
    assert change["desired"]["start_at"] == BERLIN_0900_JUNE  # milliseconds on the wire
    assert [p["message"] for p in report["problems"] if "daylight" in p["message"]] == [
        "runs at 08:00 Europe/Berlin from 2027-10-31: fixed 24 h intervals do not follow "
        "daylight saving"
    ]


@pytest.mark.slow
def test_apply_sends_milliseconds_and_export_writes_utc(
    work: Path, ductape_server: RunningServer, authed: httpx.Client
) -> None:
    """Through a real local Ductape server: the PUT carries the instant, export writes UTC."""
    s = ductape_server
    env = s.client_env(RECONCILER_NOW=MAY)
    (work / "jobs").mkdir()
    (work / "jobs" / "morning.yaml").write_text(
        JOB.format(
            tag="zoned_morning", intervals="1d", start_at="2027-06-01T09:00 Europe/Berlin"
        ).replace("compute_kpis", "purge_sessions")
    )
    code, out, err = invoke("apply", "jobs", "--auto-approve", "--only", "zoned_*", env=env)
    assert code == 0, out + err
    answer = authed.get(
        f"/integrations/integrations/v1/{s.product_id}",
        params={"workspace_id": s.workspace_id, "public_key": s.public_key, "user_id": s.user_id},
    )
    (live,) = [j for j in answer.json()["data"]["jobs"] if j["tag"] == "zoned_morning"]
    assert live["start_at"] == BERLIN_0900_JUNE
    code, out, err = invoke("export", "--out", "exported", "--only", "zoned_*", env=env)
    assert code == 0, out + err
    exported = "".join(p.read_text() for p in sorted((work / "exported").rglob("*.y*ml")))
    assert "start_at: 2027-06-01T07:00:00Z" in exported and "Europe" not in exported
    # Unchanged afterwards: the zone is how start_at was written, not a difference from live.
    code, out, err = invoke("plan", "jobs", "--detailed-exitcode", "--only", "zoned_*", env=env)
    assert code == 0 and "No changes." in out, out + err


def test_an_update_that_keeps_the_schedule_does_not_show_it_moved() -> None:
    """Live jobs have no zone: the before side is shown in the manifest's, so a new name alone
    is not read as a new schedule."""
    want = job("2027-06-01T09:00 Europe/Berlin")
    have = Job("t", "Old name", EventType.FUNCTION, "f", 0, 86_400_000, BERLIN_0900_JUNE)
    change = Change(Action.UPDATE, "t", want, have, field_changes(have, want, ()))
    (line,) = [m.render(terminal) for m in schedule_lines(change, parse_timestamp(MAY))]
    assert line.startswith("schedule: every 1d, unlimited; next: 2027-06-01T07:00:00Z (09:00 ")


def test_tzdata_is_a_dependency_for_systems_without_a_zone_database() -> None:
    requires = importlib.metadata.requires("ductape-reconciler") or []
    assert any(r.split(">")[0].split("=")[0].strip() == "tzdata" for r in requires)
    assert importlib.util.find_spec("tzdata") is not None


def test_a_saved_plan_keeps_the_zone_for_show(work: Path) -> None:
    manifest(work, "2027-06-01T09:00 Europe/Berlin")
    code, _, err = invoke("plan", "jobs", "--out", "plan.json")
    assert code == 0, err
    saved = json.loads((work / "plan.json").read_text())
    (change,) = saved["changes"]
    assert change["zone"] == "Europe/Berlin"
    assert change["desired"]["start_at"] == BERLIN_0900_JUNE
    code, out, err = invoke("show", "plan.json")
    assert code == 0, err
    assert "next: 2027-06-01T07:00:00Z (09:00 Europe/Berlin)" in out
    # The zone is untrusted there too: a name that is no zone is a damaged plan, in one line.
    change["zone"] = "../../etc/passwd"
    (work / "plan.json").write_text(json.dumps(saved))
    code, out, err = invoke("show", "plan.json")
    assert code == 1 and "Traceback" not in err
    assert err.startswith("error: the plan file is damaged: plan.json: changes[0].zone: ")
    assert len(err.strip().splitlines()) == 1


def test_the_plan_schema_spells_zone_names_as_the_model_does() -> None:
    plan_schema = json.loads(
        (Path(__file__).parent.parent / "schemas" / "plan.schema.json").read_text()
    )
    pattern = plan_schema["$defs"]["change"]["properties"]["zone"]["pattern"]
    assert pattern == "^" + ZONE_PATTERN + "$(?!\\n)"
    assert ZONE_PATTERN in TIMESTAMP_PATTERN
