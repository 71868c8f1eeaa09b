"""The job model: one canonical form, and the friendly forms people write.

Canonical form is the Ductape wire form (see ``shared/ductape-wire.md`` section 1): lower-case
``event_type``, integer milliseconds for ``intervals`` and ``start_at``. Everything the
reconciler compares, stores or sends is canonical; friendly forms (``1h30m``, ISO timestamps,
``ACTION``) are turned into it once, when a manifest is normalised.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

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
        choices = ", ".join(e.value for e in cls)
        raise ValueError(f"{value!r} is not an event type (one of {choices}, any case)")


@dataclass(frozen=True)
class Job:
    """A scheduled job in canonical form."""

    tag: str
    name: str
    event_type: EventType
    event_tag: str
    executions: int
    intervals: int
    start_at: int

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
        """Normalise a mapping in friendly or canonical form; raise ValueError on bad values.

        The error message starts with the field's name, as ``field: message``.
        """
        values: dict[str, Any] = {}
        for field, convert in _CONVERTERS.items():
            raw = data.get(field, _DEFAULTS.get(field))
            if raw is None:
                raise ValueError(f"{field}: is required")
            try:
                values[field] = convert(raw)
            except ValueError as exc:
                raise ValueError(f"{field}: {exc}") from None
        return cls(**values)

    def replace(self, changes: Mapping[str, Any]) -> Job:
        """This job with some fields changed (values in canonical or friendly form)."""
        data = self.to_wire()
        data.update(changes)
        return Job.from_mapping(data)


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a non-empty string")
    return value


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{value!r} is not a whole number >= 0")
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
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
DURATION_PATTERN = r"^\s*(\d+(ms|s|m|h|d|w))+\s*$"
_DURATION_RE = re.compile(DURATION_PATTERN)


def parse_duration(value: object) -> int:
    """Milliseconds from an integer or a duration string such as ``90s``, ``1h30m``, ``1d``."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"{value} is not a positive number of milliseconds")
        return value
    if isinstance(value, str) and _DURATION_RE.match(value):
        total = sum(int(n) * _UNIT_MS[unit] for n, unit in _DURATION_PART.findall(value))
        if total <= 0:
            raise ValueError(f"{value!r} is not a positive duration")
        return total
    raise ValueError(
        f"{value!r} is not a duration "
        "(milliseconds, or a string such as '90s', '5m', '1h30m', '1d')"
    )


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

# ISO-8601 date and time with a zone (Z or an offset); seconds and fractions optional.
TIMESTAMP_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?\s*([Zz]|[+-]\d{2}(:?\d{2})?)$"
)
_TIMESTAMP_RE = re.compile(TIMESTAMP_PATTERN)


def parse_timestamp(value: object) -> int:
    """Unix milliseconds from an integer, an ISO-8601 string with a zone, or an aware datetime."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a timestamp")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is before 1970")
        return value
    if isinstance(value, str):
        if not _TIMESTAMP_RE.match(value):
            raise ValueError(
                f"{value!r} is not a timestamp (Unix milliseconds, or ISO-8601 with a zone "
                "such as '2026-12-01T02:00:00Z')"
            )
        text = value.strip().replace(" ", "T", 1).replace("t", "T")
        text = re.sub(r"\s+", "", text)
        if text[-1] in "Zz":
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(_pad_fraction(text))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid date and time ({exc})") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value.isoformat()!r} has no time zone (add 'Z' or an offset)")
        delta = value - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    raise ValueError(f"{value!r} is not a timestamp")


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
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
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


def schedule_preview(job: Job, runs: int = 3) -> str:
    """One line describing when the job runs: cadence, count and its first run times."""
    every = format_duration(job.intervals)
    count = (
        "unlimited"
        if job.executions == 0
        else f"{job.executions} run" + ("s" if job.executions != 1 else "")
    )
    shown = runs if job.executions == 0 else min(runs, job.executions)
    times = [format_timestamp(job.start_at + i * job.intervals) for i in range(shown)]
    more = ", ..." if job.executions == 0 or job.executions > shown else ""
    return f"every {every}, {count}: {', '.join(times)}{more}"


# --- where things are, and what is wrong with them ---------------------------------------


@dataclass(frozen=True, order=True)
class Location:
    """A place in a manifest; line and column count from 1."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}" if self.line else self.path


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or suspicious, for a warning) in the manifests."""

    location: Location
    message: str
    tag: str | None = None
    field: str | None = None
    severity: str = "error"  # "error" or "warning"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        prefix = "" if self.is_error else "warning: "
        return f"{self.location}: {self.tag or '-'}: {self.field or '-'}: {prefix}{self.message}"
