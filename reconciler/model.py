"""The job model: one canonical form, and the friendly forms people write.

Canonical form is the Ductape wire form (see ``docs/wire.md`` section 1): lower-case
``event_type``, integer milliseconds for ``intervals`` and ``start_at``. Everything the
reconciler compares, stores or sends is canonical; friendly forms (``1h30m``, ISO timestamps,
``ACTION``) are turned into it once, when a manifest is normalised.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from functools import cache, lru_cache
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo, available_timezones

from .strings import printable, shorten
from .suggest import hint

# Fields of a job, in the order plans show them. ``tag`` is the identity and never changes.
FIELDS: tuple[str, ...] = (
    "tag",
    "name",
    "event_type",
    "event_tag",
    "executions",
    "intervals",
    "start_at",
)
MUTABLE_FIELDS: tuple[str, ...] = FIELDS[1:]

# Before 2001-09-09 read as milliseconds, a start_at is far more likely a Unix time in seconds
# (1e12 ms is 2001-09-09; 1e12 s is year 33658). Ductape's scheduling examples use milliseconds.
SECONDS_SUSPECT_BELOW_MS = 1_000_000_000_000

# The largest integer every number field may hold: JavaScript's Number.MAX_SAFE_INTEGER.
# Ductape is a Node service; past this a number is silently rounded there (and a start_at
# this large is already the year 287396). The schema says the same (a test checks).
MAX_SAFE_INTEGER = 2**53 - 1

Severity = Literal["error", "warning"]


class FieldError(ValueError):
    """A job field's value is wrong; ``field`` names it, ``message`` says why (no field name)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def show(value: object, limit: int = 40) -> str:
    """A value for a message: short, one line, escapes shown; never a whole pasted blob.

    Strings are quoted (``'acton'``), YAML's own words for true, false and null are used, and
    a number too long to read is shown by its length.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "an empty value"
    if isinstance(value, int):
        if value.bit_length() > 14_000:  # str() refuses past 4,300 digits (and is slow)
            return f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
        text = str(value)
        return text if len(text) <= limit else f"a number of {len(text.lstrip('-'))} digits"
    if isinstance(value, str):
        return "'" + escaped(value, limit) + "'"
    return shorten(repr(value), limit)


def escaped(text: str, limit: int) -> str:
    """``text`` on one line with every control character escaped, cut to ``limit``.

    Unlike :func:`~reconciler.strings.shorten`, white space is escaped, not folded: a value
    or tag ``'nightly\\n'`` must never read as the valid ``'nightly'``.
    """
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def suggest(word: object, choices: Iterable[str]) -> str | None:
    """The choice ``word`` was probably meant to be: ``startAt`` -> ``start_at``, ``interval``
    -> ``intervals``; None when nothing is close."""
    if not isinstance(word, str) or not 0 < len(word) <= 64:
        return None
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", word.strip()).lower().replace("-", "_")
    return hint(snake, choices)


class EventType(str, enum.Enum):
    """The kinds of event a job can run (the SDK's ``JobEventTypes``)."""

    ACTION = "action"
    NOTIFICATION = "notification"
    DATABASE_ACTION = "database_action"
    # The wire string of FUNCTION is inferred from the other enums' lower-case convention.
    FUNCTION = "function"

    @classmethod
    def parse(cls, value: object) -> EventType:
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        raise ValueError(f"{show(value)} {event_type_hint(value)}")


def event_type_hint(value: object) -> str:
    """What an event type must be, and the one ``value`` was probably meant to be."""
    names = [e.value for e in EventType]
    near = suggest(value, names)
    meant = f"; did you mean {near!r}?" if near else ""
    return f"must be one of {', '.join(names)} (any case){meant}"


# How each number field may be written instead, for a quoted number's message.
_UNQUOTED = {
    "executions": "",
    "intervals": " (milliseconds), or a duration such as '1h'",
    "start_at": " (Unix milliseconds), or an ISO-8601 timestamp such as '2026-12-01T02:00:00Z'",
}
_QUOTED_NUMBER = re.compile(r"[ \t]*[0-9]+[ \t]*$(?!\n)")


def quoted_number(field: str, value: object) -> str | None:
    """The message for a number written as a string (``intervals: "3600000"``), else None.

    YAML and JSON read a quoted number as text; saying "must be a number" to someone who
    wrote one does not help, saying it is a string and how to write it does.
    """
    if field not in _UNQUOTED or not isinstance(value, str) or len(value) > 64:
        return None
    if not _QUOTED_NUMBER.match(value):
        return None
    # int(): "010" unquoted is octal 8 to YAML; the decimal the person meant is 10.
    return f"{show(value)} is a string; write {int(value)} without quotes{_UNQUOTED[field]}"


@dataclass(frozen=True)
class Job:
    """A scheduled job in canonical form.

    ``zone`` is the IANA zone ``start_at`` was written in (``2027-06-01T09:00 Europe/Berlin``),
    kept only to show runs in that zone's local time; None for milliseconds, ``Z`` or an offset.
    It is not canonical: not on the wire, not compared (a live job never has one, and the same
    instant written two ways is the same job), one shared string per zone name.
    """

    tag: str
    name: str
    event_type: EventType
    event_tag: str
    executions: int
    intervals: int
    start_at: int
    zone: str | None = dataclasses.field(default=None, compare=False)

    def to_wire(self) -> dict[str, Any]:
        """The job as the Ductape wire carries it (without the service's ``_id``)."""
        return {
            "tag": self.tag,
            "name": self.name,
            "event_type": self.event_type.value,
            "event_tag": self.event_tag,
            "executions": self.executions,
            "intervals": self.intervals,
            "start_at": self.start_at,
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Job:
        """Normalise a mapping in friendly or canonical form; FieldError on a bad value.

        ``str(error)`` reads ``field: message``; ``error.field`` names the field.
        """
        job = _plain_job(cls, data)
        if job is not None:
            return job
        values: dict[str, Any] = {}
        for field, convert in _CONVERTERS.items():
            raw = data.get(field, _DEFAULTS.get(field))
            if raw is None:
                raise FieldError(field, "is required")
            quoted = quoted_number(field, raw)
            if quoted:
                raise FieldError(field, quoted)
            try:
                values[field] = convert(raw)
            except ValueError as exc:
                raise FieldError(field, str(exc)) from exc
        return cls(**values, zone=_written_zone(data.get("start_at")))

    def replace(self, changes: Mapping[str, Any]) -> Job:
        """This job with some fields changed (values in canonical or friendly form); the zone
        it was written in stays unless ``start_at`` changes."""
        data = self.to_wire()
        data.update(changes)
        job = Job.from_mapping(data)
        if self.zone is None or "start_at" in changes:
            return job
        return dataclasses.replace(job, zone=self.zone)


# Durations and timestamps written as text, converted once: most manifests of a repository
# share a handful of intervals and start times. Bounded; only valid texts are kept.
_CONVERTED: dict[tuple[str, str], tuple[int, str | None]] = {}
_CONVERTED_MAX = 4096
_EVENT_TYPES: dict[str, EventType] = {e.value: e for e in EventType}


def _plain_job(cls: type[Job], data: Mapping[str, Any]) -> Job | None:
    """``from_mapping``'s result for a mapping whose every value is already valid, else None.

    The usual manifest, without the general loop's per-field calls. It never decides that
    a value is wrong: anything unusual returns None and the general loop, the only place
    errors are worded, reads the mapping.
    """
    get = data.get
    tag, name, event_tag = get("tag"), get("name"), get("event_tag")
    if type(tag) is not str or type(name) is not str or type(event_tag) is not str:
        return None
    if not (tag.strip() and name.strip() and event_tag.strip()):
        return None
    kind = get("event_type")
    event_type = _EVENT_TYPES.get(kind.strip().lower()) if type(kind) is str else None
    executions = get("executions", 0)
    if event_type is None or type(executions) is not int or not 0 <= executions <= MAX_SAFE_INTEGER:
        return None
    intervals = _plain_number("intervals", get("intervals"), 1)
    start = _plain_number("start_at", get("start_at"), 0)
    if intervals is None or start is None:
        return None
    if cls is not Job:
        return cls(tag, name, event_type, event_tag, executions, intervals[0], start[0], start[1])
    # The values are checked: the instance's attributes are set in one step, not through the
    # frozen class's guarded __setattr__ once a field (two thirds of building a Job here,
    # and a plan builds one for every manifest and every live job). Equal to what cls(...)
    # builds, attribute for attribute (a test compares them over every field).
    job: Job = _new_object(Job)
    vars(job).update(
        tag=tag,
        name=name,
        event_type=event_type,
        event_tag=event_tag,
        executions=executions,
        intervals=intervals[0],
        start_at=start[0],
        zone=start[1],
    )
    return job


_new_object = object.__new__


def _plain_number(field: str, raw: object, least: int) -> tuple[int, str | None] | None:
    """A valid ``intervals`` or ``start_at`` and the zone it names; None for anything else."""
    if type(raw) is int:
        return (raw, None) if least <= raw <= MAX_SAFE_INTEGER else None
    if type(raw) is not str:
        return None
    known = _CONVERTED.get((field, raw))
    if known is not None:
        return known
    if quoted_number(field, raw):
        return None
    try:
        if field == "intervals":
            known = (parse_duration(raw), None)
        else:
            known = (parse_timestamp(raw), _written_zone(raw))
    except ValueError:
        return None
    if len(_CONVERTED) < _CONVERTED_MAX:
        _CONVERTED[(field, raw)] = known
    return known


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{show(value)} is not a non-empty string")
    return value


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{show(value)} is not a whole number >= 0")
    return _bounded(value)


def _bounded(value: int) -> int:
    if value > MAX_SAFE_INTEGER:
        largest = f"{MAX_SAFE_INTEGER}, the largest number Ductape holds"
        raise ValueError(f"{show(value)} is more than {largest}")
    return value


def _event_type(value: object) -> EventType:
    return EventType.parse(value)


def _duration(value: object) -> int:
    return parse_duration(value)


def _timestamp(value: object) -> int:
    return parse_timestamp(value)


# Functions defined below are reached through these wrappers, so the table can stand here.
_CONVERTERS: dict[str, Callable[[object], Any]] = {
    "tag": _text,
    "name": _text,
    "event_type": _event_type,
    "event_tag": _text,
    "executions": _count,
    "intervals": _duration,
    "start_at": _timestamp,
}
_DEFAULTS: dict[str, object] = {"executions": 0}


# --- durations ---------------------------------------------------------------------------

_UNIT_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
}
# Units largest first, so "1h30m" comes back out of format_duration as it went in.
_UNITS_DESC = sorted(_UNIT_MS.items(), key=lambda item: -item[1])
_DURATION_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w)")
# No unbounded repeat: "1m" repeated 500,000 times made Python's re (jsonschema's engine)
# keep 130 MB of backtracking state for one value against an open-ended one. The patterns
# here are the schema's, written so Python's re reads them as ECMA-262 does: [0-9] and
# [ \t] rather than the Unicode-wide \d and \s, and $(?!\n) because Python's $ also
# matches before a final newline.
END = r"$(?!\n)"
# Each unit at most once, largest first (parse_duration's rule, so that an editor checking
# against the schema refuses 1h1h as reconciler does); six optional parts, bounded by shape.
DURATION_PATTERN = (
    r"^[ \t]*(?=[0-9])([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?[ \t]*" + END
)
# What parse_duration reads before it applies that rule, to say what was meant.
_DURATION_RE = re.compile(r"^[ \t]*([0-9]+(ms|s|m|h|d|w)){1,12}[ \t]*" + END)


def parse_duration(value: object) -> int:
    """Milliseconds from an integer or a duration string such as ``90s``, ``1h30m``, ``1d``."""
    if isinstance(value, bool):
        raise ValueError(f"{show(value)} is not a duration")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"{show(value)} is not a positive number of milliseconds")
        return _bounded(value)
    if isinstance(value, str) and len(value) <= 200 and _DURATION_RE.match(value):
        parts = _DURATION_PART.findall(value)
        if any(len(n) > 16 for n, _ in parts):
            raise ValueError(f"{show(value)} is longer than Ductape can count")
        total = sum(int(n) * _UNIT_MS[unit] for n, unit in parts)
        sizes = [_UNIT_MS[unit] for _, unit in parts]
        if any(later >= earlier for earlier, later in pairwise(sizes)):
            # 1h1h or 30m1h: a slip (a unit pasted twice, a value half edited), not a sum
            # anyone means; the same rule as duration_hint's, which offers none for them.
            meant = f"; did you mean {format_duration(total)!r}?" if total > 0 else ""
            raise ValueError(
                f"{show(value)} is not a duration: each unit at most once, largest first "
                f"(such as '1h30m'){meant}"
            )
        if total <= 0:
            raise ValueError(f"{show(value)} is not a positive duration")
        if total > MAX_SAFE_INTEGER:
            raise ValueError(f"{show(value)} is longer than Ductape can count")
        return total
    misspelt = misspelt_duration(value)
    if misspelt:
        raise ValueError(misspelt)
    raise ValueError(
        f"{show(value)} is not a duration "
        "(milliseconds, or a string such as '90s', '5m', '1h30m', '1d')"
    )


# How people write the units of a duration elsewhere (prose, other tools), and ours for each.
_UNIT_WORDS = {
    **dict.fromkeys(("ms", "msec", "msecs", "millis", "millisecond", "milliseconds"), "ms"),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "s"),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "m"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "h"),
    **dict.fromkeys(("d", "day", "days"), "d"),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), "w"),
}
# A number and a unit word, then blanks, a comma or "and" before the next: "1 hour 30 minutes",
# "1H", "5 mins", "1h 30m", "1.5h". Bounded like DURATION_PATTERN.
_SPOKEN_PART = r"([0-9]{1,16}(?:\.[0-9]{1,9})?)[ \t]*([a-z]{1,12})"
_SPOKEN_RE = re.compile(
    r"^[ \t]*"
    + _SPOKEN_PART
    + r"(?:(?:[ \t]*,[ \t]*|[ \t]*)(?:and[ \t]+)?"
    + _SPOKEN_PART
    + r"){0,11}[ \t]*"
    + END
)
_SPOKEN_PART_RE = re.compile(_SPOKEN_PART)
# ISO-8601 durations (what Java, .NET and some schedulers write): PT1H30M, P1D, P2W.
_ISO_RE = re.compile(
    r"^p(?:([0-9]{1,9})w)?(?:([0-9]{1,9})d)?(?:t(?:([0-9]{1,9})h)?(?:([0-9]{1,9})m)?"
    r"(?:([0-9]{1,9})s)?)?" + END
)


def misspelt_duration(value: object) -> str | None:
    """``'5 minutes' is not a duration; did you mean '5m'?`` when :func:`duration_hint` has a
    guess, else None: the one message for a duration written another way."""
    if isinstance(value, str) and len(value) <= 200 and _DURATION_RE.match(value):
        try:  # our units, but repeated or out of order (the schema's pattern refuses those)
            parse_duration(value)
        except ValueError as exc:
            return str(exc)
        return None
    meant = duration_hint(value)
    return f"{show(value)} is not a duration; did you mean {meant!r}?" if meant else None


def duration_hint(value: object) -> str | None:
    """The duration ``value`` was probably meant to be, as this tool writes it; else None.

    ``1H`` -> ``1h``, ``5 minutes`` -> ``5m``, ``90 seconds`` -> ``90s``, ``1 hour 30
    minutes`` -> ``1h30m``, ``1.5h`` -> ``1h30m``, ``PT1H30M`` -> ``1h30m``. The units written
    are kept (``90 seconds`` is ``90s``, not ``1m30s``); only a value that parses is offered,
    and none for a unit written twice (``1 hour 1 hour``).
    """
    if not isinstance(value, str) or len(value) > 200:
        return None
    text = value.strip().lower()
    iso = _ISO_RE.match(text)
    if iso and text != "p" and not text.endswith("t"):
        units = ("w", "d", "h", "m", "s")
        meant = "".join(
            f"{int(n)}{u}" for n, u in zip(iso.groups(), units, strict=True) if n and int(n)
        )
    elif re.search(r"[0-9][ \t]*M(?![A-Za-z])", value):
        return None  # 1M: a month to many tools, a minute to this one; no guess
    elif _SPOKEN_RE.match(text):
        parts = _SPOKEN_PART_RE.findall(text)
        if any(word not in _UNIT_WORDS for _, word in parts):
            return None
        written = [_UNIT_WORDS[word] for _, word in parts]
        if len(set(written)) != len(written):
            return None  # "1 hour 1 hour": a slip, not 1h1h (nobody writes one unit twice)
        if any("." in number for number, _ in parts):
            # 1.5h is 5400000 ms; a fraction of a millisecond is no duration.
            total = sum(Fraction(n) * _UNIT_MS[_UNIT_WORDS[w]] for n, w in parts)
            if total.denominator != 1:
                return None
            meant = format_duration(int(total))
        else:
            meant = "".join(f"{int(n)}{_UNIT_WORDS[w]}" for n, w in parts)
    else:
        return None
    if not meant or meant == value:
        return None
    try:
        parse_duration(meant)
    except ValueError:
        return None
    return meant


def format_duration(ms: int) -> str:
    """The shortest friendly form of a duration: ``5400000`` -> ``1h30m``."""
    if ms <= 0:
        return f"{ms}ms"
    parts = []
    rest = ms
    for unit, size in _UNITS_DESC:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


# --- timestamps --------------------------------------------------------------------------

# ISO-8601 date and time with a zone (Z or an offset), seconds and fractions optional; or a
# local date and time, blanks, and an IANA zone name ('2027-06-01T09:00 Europe/Berlin'). A zone
# name is untrusted text that zoneinfo turns into a file path: only letters, digits, '_', '+'
# and '-', each of at most 3 parts starting with a letter (no '.', no leading '/'), and the
# first part at least 2 long so that '09:00 Z' reads one way only.
_ZONE_PART = r"[A-Za-z][A-Za-z0-9_+-]{0,31}"
ZONE_PATTERN = r"[A-Za-z][A-Za-z0-9_+-]{1,31}(/" + _ZONE_PART + r"){0,2}"
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
    r"([ \t]*([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)|[ \t]+" + ZONE_PATTERN + ")" + END
)
_TIMESTAMP_RE = re.compile(TIMESTAMP_PATTERN)
# Applied to what TIMESTAMP_PATTERN took: the local date and time, and the zone name.
_ZONED_RE = re.compile(r"^(.{10}[Tt ][0-9:.]+)[ \t]+(" + ZONE_PATTERN + ")" + END)
# The longest timestamp read: 29 characters of date and time, a zone name of at most 98.
MAX_TIMESTAMP_CHARS = 160
# Names in the zone list that are no place: 'localtime' is whatever the machine is set to (a
# manifest must mean the same in CI as on a laptop), 'Factory' means "not set".
_NOT_A_PLACE = frozenset({"localtime", "Factory", "posixrules"})


def parse_timestamp(value: object) -> int:
    """Unix milliseconds from an integer, an ISO-8601 string with a zone (``Z``, an offset, or
    a local time and an IANA zone name), or an aware datetime."""
    if isinstance(value, bool):
        raise ValueError(f"{show(value)} is not a timestamp")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{show(value)} is before 1970")
        return _bounded(value)
    if isinstance(value, str):
        if len(value) > MAX_TIMESTAMP_CHARS or not _TIMESTAMP_RE.match(value):
            raise ValueError(
                f"{show(value)} is not a timestamp (Unix milliseconds, or ISO-8601 with a zone "
                "such as '2026-12-01T02:00:00Z' or '2027-06-01T09:00 Europe/Berlin')"
            )
        written: object = value
        zoned = _ZONED_RE.match(value)
        if zoned:
            value = _local(value, zoned.group(1), zoned.group(2))
        else:
            text = value.strip().replace(" ", "T", 1).replace("t", "T")
            text = re.sub(r"\s+", "", text)
            if text[-1] in "Zz":
                text = text[:-1] + "+00:00"
            try:
                value = datetime.fromisoformat(_pad_fraction(text))
            except ValueError as exc:
                raise ValueError(f"{show(written)} is not a valid date and time ({exc})") from exc
    else:
        written = value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value.isoformat()!r} has no time zone (add 'Z' or an offset)")
        delta = value - _EPOCH
        ms = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
        if ms < 0:
            # Negative milliseconds reach Ductape as a start it cannot schedule, and a job
            # cannot be deleted there: refuse it here, before anything is written.
            shown = show(written) if isinstance(written, str) else repr(value.isoformat())
            raise ValueError(f"{shown} is before 1970-01-01T00:00:00Z")
        return _bounded(ms)
    raise ValueError(f"{show(value)} is not a timestamp")


def zone_of(value: object) -> str | None:
    """The IANA zone a valid ``start_at`` was written in, else None (one shared string each)."""
    if not isinstance(value, str) or len(value) > MAX_TIMESTAMP_CHARS:
        return None
    return _written_zone(value) if _TIMESTAMP_RE.match(value) else None


def _written_zone(start_at: object) -> str | None:
    # For a start_at parse_timestamp took already: no second match of the whole pattern.
    zoned = _ZONED_RE.match(start_at) if isinstance(start_at, str) else None
    return sys.intern(zoned.group(2)) if zoned else None


def _local(written: str, local: str, name: str) -> datetime:
    """The aware datetime of ``local`` wall-clock time in zone ``name``.

    Refused: a zone the database does not list, and a wall-clock time the zone skips (clocks
    going forward) or shows twice (clocks going back): either would leave the platform to
    guess which instant was meant.
    """
    text = local.replace(" ", "T", 1).replace("t", "T")
    # Python 3.10's fromisoformat takes exactly 3 or 6 fraction digits.
    text = re.sub(r"\.([0-9]+)$", lambda m: "." + (m.group(1) + "00000")[:6], text)
    try:
        naive = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{show(written, 80)} is not a valid date and time ({exc})") from exc
    zone = zone_info(name)
    if zone is None:
        near = _near_zone(name)
        hint = f"; did you mean {near!r}?" if near else " (an IANA name such as 'Europe/Berlin')"
        raise ValueError(f"{show(written, 80)} names no known time zone {show(name, 64)}{hint}")
    early, late = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    before, after = early.utcoffset(), late.utcoffset()
    if before is None or after is None or before == after:
        return early
    day = naive.date().isoformat()
    back = early.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)
    if back != naive:
        step = format_duration((after - before) // timedelta(milliseconds=1))
        raise ValueError(
            f"{show(written, 80)} does not exist: clocks in {name} go forward {step} on {day} "
            "and skip it; write a time outside the gap"
        )
    step = format_duration((before - after) // timedelta(milliseconds=1))
    first, second = (local.strip() + _offset_text(o) for o in (before, after))
    raise ValueError(
        f"{show(written, 80)} happens twice: clocks in {name} go back {step} on {day}; "
        f"write it with an offset, '{first}' (the first) or '{second}' (the second)"
    )


def _offset_text(offset: timedelta) -> str:
    minutes = offset // timedelta(minutes=1)
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


@cache
def _zone_names() -> frozenset[str]:
    # Read once (about 0.1 s: it opens every file of the zone database), and only when a
    # start_at names a zone.
    return frozenset(available_timezones()) - _NOT_A_PLACE


@lru_cache(maxsize=256)
def zone_info(name: str) -> ZoneInfo | None:
    """The zone called ``name`` if the zone database lists it, else None.

    Only listed names reach :class:`ZoneInfo`, so a name never becomes an odd path ('right/',
    a directory, a machine's 'localtime'), and a name means the same on every machine that
    has the zone: case counts even where the file system ignores it.
    """
    if name not in _zone_names():
        return None
    return ZoneInfo(name)


def local_time(ms: int, zone: str) -> datetime | None:
    """The wall-clock time in ``zone`` at Unix ``ms``; None for an unlisted zone or a time past
    what datetime holds (year 9999)."""
    info = zone_info(zone)
    if info is None:
        return None
    try:
        return (_EPOCH + timedelta(milliseconds=ms)).astimezone(info)
    except OverflowError:
        return None


def _near_zone(name: str) -> str | None:
    return hint(name, sorted(_zone_names()))


def _pad_fraction(text: str) -> str:
    # Python 3.10's fromisoformat takes exactly 3 or 6 fraction digits and HH:MM offsets.
    match = re.match(r"^(.*T\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?([+-]\d{2}):?(\d{2})?$", text)
    if not match:
        return text
    base, fraction, hours, minutes = match.groups()
    fraction = f".{(fraction + '000000')[:6]}" if fraction else ""
    return f"{base}{fraction}{hours}:{minutes or '00'}"


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def format_timestamp(ms: int) -> str:
    """ISO-8601 in UTC: ``1796090400000`` -> ``2026-12-01T02:00:00Z``."""
    seconds, millis = divmod(ms, 1000)
    try:
        moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"{ms}ms"
    # isoformat is several times cheaper than strftime (a plan shows tens of thousands of
    # next runs); strftime for years below 1000, which isoformat pads and %Y does not.
    text = moment.isoformat()[:19] if moment.year >= 1000 else moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def human(field: str, value: object) -> str | None:
    """A friendly rendering of a canonical value, where one helps a reader."""
    if isinstance(value, int) and not isinstance(value, bool):
        if field == "intervals":
            return format_duration(value)
        if field == "start_at":
            return format_timestamp(value)
        if field == "executions" and value == 0:
            return "unlimited"
    return None


# --- where things are, and what is wrong with them ---------------------------------------


@dataclass(frozen=True, order=True)
class Location:
    """A place in a manifest; line and column count from 1."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        # A file name comes from the repository: it may hold a newline or an escape.
        path = printable(self.path)
        return f"{path}:{self.line}:{self.col}" if self.line else path


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or suspicious, for a warning) in the manifests."""

    location: Location
    message: str
    tag: str | None = None
    field: str | None = None
    severity: Severity = "error"

    def __post_init__(self) -> None:
        # Tags, field names and messages quote manifests from anyone: whatever format shows a
        # problem gets one short line with every control character escaped.
        if self.tag is not None:
            object.__setattr__(self, "tag", escaped(self.tag, 128))
        if self.field is not None:
            object.__setattr__(self, "field", shorten(self.field, 64))
        object.__setattr__(self, "message", shorten(self.message, 400))

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        """``path:line:col: tag: field: message`` on one line, whatever the manifest held."""
        prefix = "" if self.is_error else "warning: "
        return f"{self.location}: {self.tag or '-'}: {self.field or '-'}: {prefix}{self.message}"
