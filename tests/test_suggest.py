"""Did you mean (issue 19): one helper, one cut-off, and the spellings people bring along.

Durations, targets and `.reconciler.yaml` keys written as other tools write them get the
spelling this tool takes, wherever they reach it: a manifest (validate, at file:line:col and
field), `.reconciler.yaml`, `--target` / `RECONCILER_TARGET`, `schedule --window/--collide`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import suggest
from reconciler.model import duration_hint, parse_duration
from reconciler.targets import target_hint
from testing.cli import invoke


@pytest.mark.parametrize(
    ("word", "choices", "meant"),
    [
        ("interval", ["intervals", "start_at"], ["intervals"]),
        ("strat_at", ["intervals", "start_at"], ["start_at"]),
        ("shpo", ["shop", "billing"], ["shop"]),  # 0.75: the cut-off itself
        ("Europe/berlin", ["Europe/Berlin", "Europe/Bern"], ["Europe/Berlin"]),  # case first
        ("cron", ["action", "function"], []),  # 0.6: not close
        ("tag", ["target"], []),
        ("x" * 201, ["x" * 201], []),  # a pasted blob is no typo
    ],
)
def test_one_helper_and_one_cut_off(word: str, choices: list[str], meant: list[str]) -> None:
    assert suggest.closest(word, choices) == meant


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("1H", "1h"),
        ("5 minutes", "5m"),
        ("5 mins", "5m"),
        ("5min", "5m"),
        ("90 seconds", "90s"),  # the units written are kept, not 1m30s
        ("1 hour 30 minutes", "1h30m"),
        ("1 hour, 30 minutes", "1h30m"),
        ("1 hour and 30 minutes", "1h30m"),
        ("1h 30m", "1h30m"),
        ("2 Weeks", "2w"),
        ("1.5h", "1h30m"),
        ("PT1H30M", "1h30m"),
        ("P1D", "1d"),
        ("PT1M", "1m"),
        # No guess: a month to many tools, a unit we do not know, nothing, a fraction of a ms.
        ("1M", None),
        ("P1M", None),
        ("5 fortnights", None),
        ("0 minutes", None),
        ("0.0001ms", None),
        ("1h", None),
        # A unit written twice is a slip, not 1h1h (however the unit is spelt).
        ("1 hour 1 hour", None),
        ("1h 1h", None),
        ("1 hr, 30 minutes and 1 hour", None),
        ("1.5 hours 1 hour", None),
    ],
)
def test_a_duration_written_another_way_names_ours(written: str, meant: str | None) -> None:
    assert duration_hint(written) == meant
    if written == "1h":
        return  # ours already: nothing to hint
    with pytest.raises(ValueError) as caught:
        parse_duration(written)
    if meant:
        assert str(caught.value) == f"{written!r} is not a duration; did you mean {meant!r}?"
    else:
        assert "did you mean" not in str(caught.value)


def test_a_long_hostile_duration_is_answered_at_once() -> None:
    for text in ("1h" + " " * 190 + "x", "1 " * 99 + "x", "1h " * 66 + "q"):
        assert duration_hint(text) is None


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        # The local server listens on IPv4 loopback; localhost may resolve to ::1 first.
        ("localhost:8080", "http://127.0.0.1:8080"),
        ("[::1]:8080", "http://[::1]:8080"),
        ("api.ductape.app", "https://api.ductape.app"),
        ("sqlite://x.db", "sqlite:///x.db"),
        ("sqlite:x.db", "sqlite:///x.db"),
        ("sqlite:/abs/x.db", "sqlite:////abs/x.db"),
        ("SQLITE:///x.db", "sqlite:///x.db"),
        ("x.db", "sqlite:///x.db"),
        ("https//api.ductape.app", "https://api.ductape.app"),
        ("https:/api.ductape.app", "https://api.ductape.app"),
        ("HTTPS://api.ductape.app", "https://api.ductape.app"),
        ("htps://api.ductape.app", "https://api.ductape.app"),
        ("snapshot//live.json", "snapshot:live.json"),
        ("ftp://nowhere", None),  # another scheme, not a typo of http
        ("ftp://h/x.db", None),  # another scheme's URL, not a file path
        # Plain http only to this machine (open_target refuses it elsewhere): https or nothing.
        ("http//example.com", "https://example.com"),
        ("htp://api.ductape.app", "https://api.ductape.app"),
        ("HTTP://10.0.0.5:8080", "https://10.0.0.5:8080"),
        ("http//127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http:/localhost:8080", "http://localhost:8080"),
        ("htp://[::1]:8080", "http://[::1]:8080"),
        ("10.0.0.5:8080", "https://10.0.0.5:8080"),
        ("example.com:8080", "https://example.com:8080"),
        ("http//[::1", None),  # no URL to offer at all
        # A JSON file is a snapshot, not a host named live.json.
        ("live.json", "snapshot:live.json"),
        ("snapshot.json", "snapshot:snapshot.json"),
        ("build/live.JSON", "snapshot:build/live.JSON"),
        ("/abs/live.json", "snapshot:/abs/live.json"),
        # A file URL names a path.
        ("file:///tmp/x.db", "sqlite:////tmp/x.db"),
        ("file:/tmp/x.db", "sqlite:////tmp/x.db"),
        ("file://localhost/tmp/x.db", "sqlite:////tmp/x.db"),
        ("file:x.db", "sqlite:///x.db"),
        ("file:///tmp/live.json", "snapshot:/tmp/live.json"),
        ("file://elsewhere/tmp/x.db", None),  # another machine's file
        ("file:///tmp/notes.txt", None),
        ("nowhere:99999", None),
        ("https://api.ductape.app", None),
    ],
)
def test_a_target_written_another_way_names_ours(written: str, meant: str | None) -> None:
    assert target_hint(written) == meant


@pytest.fixture
def work(examples_repo: Path) -> Path:
    return examples_repo


def test_the_flag_and_the_variable_name_the_target_meant(work: Path) -> None:
    code, out, err = invoke("plan", "jobs", "--target", "127.0.0.1:8080")
    assert (code, out) == (1, "")
    assert err == (
        "error: --target 127.0.0.1:8080: unknown target; did you mean 'http://127.0.0.1:8080'?\n"
    )
    code, _, err = invoke("plan", "jobs", env={"RECONCILER_TARGET": "sqlite://x.db"})
    assert code == 1 and err.endswith("did you mean 'sqlite:///x.db'?\n")
    assert not (work / "x.db").exists() and not (work / ".reconciler").exists()


def test_a_snapshot_file_given_as_the_target_names_its_spelling(work: Path) -> None:
    (work / "live.json").write_text("{}\n")
    code, out, err = invoke("plan", "jobs", "--target", "live.json")
    assert (code, out) == (1, "")
    assert err == "error: --target live.json: unknown target; did you mean 'snapshot:live.json'?\n"
    code, _, err = invoke("plan", "jobs", "--target", "ftp://h/x.db")
    assert code == 1
    assert err == (
        "error: --target ftp://h/x.db: unknown target "
        "(use sqlite:///PATH, snapshot:FILE or an https:// URL)\n"
    )


def test_an_escape_in_a_target_is_shown_escaped(work: Path) -> None:
    code, _, err = invoke("plan", "jobs", "--target", "sqlite:x\x1b[2J.db")
    assert code == 1
    assert "\x1b" not in err and "did you mean 'sqlite:///x\\x1b[2J.db'?" in err


def test_ignore_field_names_the_field_meant(work: Path) -> None:
    code, out, err = invoke("plan", "jobs", "--ignore-field", "intervalz")
    assert (code, out) == (1, "")
    assert err == "error: --ignore-field intervalz: not a job field (did you mean intervals?)\n"
    code, _, err = invoke("plan", "jobs", "--ignore-field", "cron")
    assert code == 1
    assert err == (
        "error: --ignore-field cron: not a job field "
        "(one of name, event_type, event_tag, executions, intervals, start_at)\n"
    )


@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_duration_option_reads_as_one(work: Path, value: str) -> None:
    code, _, err = invoke("schedule", "jobs", "--window", value)
    assert code == 1
    assert err.startswith(f"error: --window: {value!r} is not a duration ("), err


def test_schedule_window_and_collide_name_the_duration_meant(work: Path) -> None:
    code, _, err = invoke("schedule", "jobs", "--window", "1 hour 30 minutes")
    assert code != 0 and "'1 hour 30 minutes' is not a duration; did you mean '1h30m'?" in err
    assert err.startswith("error: --window 1 hour 30 minutes: ")  # the option is named
    code, _, err = invoke("schedule", "jobs", "--collide", "90 seconds")
    assert code != 0 and "'90 seconds' is not a duration; did you mean '90s'?" in err


def test_validate_names_the_duration_meant_at_its_place(work: Path) -> None:
    manifest = work / "jobs" / "billing" / "jobs.yaml"
    manifest.write_text(manifest.read_text().replace("intervals: 1h30m", "intervals: 1H"))
    code, _, err = invoke("validate", "jobs")
    assert code == 1
    assert err.splitlines()[0] == (
        "jobs/billing/jobs.yaml:8:12: billing.retry_failed: intervals: "
        "'1H' is not a duration; did you mean '1h'?"
    )
