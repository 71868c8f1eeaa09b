"""The desired state: manifests found, loaded, validated and normalised into Jobs.

Collects every problem of every file in one pass (unreadable files, syntax, bounds, duplicate
keys, schema, duplicate tags, suspicious values) so one run shows a reviewer everything to fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType

from .manifests import Document, load_documents, scan
from .model import (
    FIELDS,
    SECONDS_SUSPECT_BELOW_MS,
    FieldError,
    Job,
    Location,
    Problem,
    format_duration,
    show,
)
from .schema import check_document

# Intervals shorter than this draw a warning: a job that runs more than once a minute is
# more often a unit mistake (seconds written as milliseconds) than a wish.
SHORT_INTERVAL_MS = 60_000
# Problems shown for one file. A 100 KB file of 10,000 two-line documents made 70,000 lines
# (each missing six fields): a CI log flooded, a reviewer no wiser. Past the bound, one line
# says so, and the file's remaining documents are parsed (bounded) but not checked.
MAX_PROBLEMS_PER_FILE = 100


_FIELD_INDEX = {name: i + 1 for i, name in enumerate(FIELDS)}
_Seen = dict[str, tuple[str, tuple[int, int]]]  # tag -> (path, 0-based pair) first seen


@dataclass(frozen=True)
class Entry:
    """One valid job and where each of its fields was written.

    Positions are one flat tuple of 0-based ints: the document's start, then each field of
    ``FIELDS`` (its value, else its key, else the start). A run may hold 50,000 entries, and
    keeping each whole Document instead (its data and three position dicts) cost about
    2.4 KB a job, most of a large plan's memory.
    """

    job: Job
    path: str
    positions: tuple[int, ...]

    @classmethod
    def of(cls, job: Job, document: Document) -> Entry:
        flat = list(document.start_at)
        for name in FIELDS:
            at = document.value_at.get(name) or document.key_at.get(name) or document.start_at
            flat += at
        return cls(job, document.path, tuple(flat))

    def where(self, field: str | None = None) -> Location:
        """Where ``field``'s value was written; the document's start for None."""
        i = 2 * _FIELD_INDEX.get(field, 0) if field is not None else 0
        return Location(self.path, self.positions[i] + 1, self.positions[i + 1] + 1)


@dataclass(frozen=True)
class Desired:
    """Valid jobs in Git by tag, each with where it was written, and what was found wrong."""

    entries: Mapping[str, Entry]
    problems: tuple[Problem, ...]
    files: int

    @cached_property
    def jobs(self) -> Mapping[str, Job]:
        return MappingProxyType({tag: entry.job for tag, entry in self.entries.items()})

    @cached_property
    def sources(self) -> Mapping[str, Location]:
        """Where each job's tag was written."""
        return MappingProxyType({tag: entry.where("tag") for tag, entry in self.entries.items()})

    @cached_property
    def event_tag_at(self) -> Mapping[str, Location]:
        return MappingProxyType(
            {tag: entry.where("event_tag") for tag, entry in self.entries.items()}
        )

    def where(self, tag: str, field: str | None = None) -> Location:
        """Where job ``tag``'s ``field`` was written (KeyError for a tag not desired)."""
        return self.entries[tag].where(field)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if not p.is_error)

    @property
    def files_with_problems(self) -> int:
        """How many files hold at least one error (warnings alone do not count)."""
        return len({p.location.path for p in self.problems if p.is_error})


def load_desired(paths: Iterable[str]) -> Desired:
    """Read every manifest under ``paths``; never raises for bad manifests, reports them.

    UsageError (from :func:`~reconciler.manifests.scan`) only when a path does not exist or
    no manifest is found at all.
    """
    found = scan(paths)
    problems: list[Problem] = list(found.refused)
    documents = load_documents(found.files, problems)  # streamed: one file at a time
    entries: dict[str, Entry] = {}
    first_seen: _Seen = {}
    shown: dict[str, int] = {}  # problems reported per file
    for document in documents:
        path = document.path
        count = shown.get(path, 0)
        if count >= MAX_PROBLEMS_PER_FILE:
            continue
        faults, entry = _read(document, first_seen)
        if faults:
            count += len(faults)
            shown[path] = count
            problems.extend(faults)
            if count >= MAX_PROBLEMS_PER_FILE:
                message = f"more than {MAX_PROBLEMS_PER_FILE} problems; the rest are not shown"
                problems.append(Problem(Location(path), message))
        if entry is not None:
            entries[entry.job.tag] = entry
    problems.sort(key=lambda p: (p.location, p.field or "", p.message))
    return Desired(MappingProxyType(entries), tuple(problems), len(found.files))


def _read(document: Document, first_seen: _Seen) -> tuple[list[Problem], Entry | None]:
    """One document's problems, and its job when it has no error."""
    found = _check(document, first_seen)
    if any(p.is_error for p in found):
        return found, None
    try:
        job = Job.from_mapping(document.data)
    except FieldError as exc:
        # The schema accepts the shape; only a value such as 2026-02-30 gets here.
        where = document.where(exc.field)
        return [*found, Problem(where, exc.message, document.tag, exc.field)], None
    return [*found, *_warnings(document, job)], Entry.of(job, document)


def _check(document: Document, first_seen: _Seen) -> list[Problem]:
    """Every problem of one document: the loader's, a repeated tag, the schema's."""
    out = list(document.problems)
    tag = document.tag
    if tag is not None:
        # Where each tag was first seen, as the loader's 0-based pair: a Location is made
        # only for a repeated tag (most runs have none, and a run may read 50,000 tags).
        at = document.value_at.get("tag") or document.key_at.get("tag") or document.start_at
        mine = (document.path, at)
        first = first_seen.setdefault(tag, mine)
        if first is not mine:
            where = Location(first[0], first[1][0] + 1, first[1][1] + 1)
            message = f"duplicate tag {show(tag, 64)}, also defined at {where}"
            out.append(Problem(document.where("tag"), message, tag, "tag"))
    if None in document.flagged:
        return out  # the document as a whole could not be read: the schema has nothing to add
    data = document.data
    if isinstance(data, dict) and "jobs" in data and not set(data) & {"tag", "name"}:
        out.append(
            Problem(
                document.key("jobs"),
                "a top-level 'jobs:' list is not read: write one job per document, "
                "with '---' between them",
                field="jobs",
            )
        )
        return out
    # A field the loader already explained (010, a repeated key, !!int abc) needs no second
    # line from the schema about the same value.
    out.extend(p for p in check_document(document) if p.field not in document.flagged)
    return out


def _warnings(document: Document, job: Job) -> list[Problem]:
    """Values that are valid but probably not what was meant."""
    out = []
    start = document.data.get("start_at")
    if isinstance(start, int) and start < SECONDS_SUSPECT_BELOW_MS:
        out.append(
            Problem(
                document.where("start_at"),
                f"{start} is before September 2001 read as milliseconds; "
                f"if it is Unix seconds, write {start * 1000}",
                job.tag,
                "start_at",
                severity="warning",
            )
        )
    written = document.data.get("intervals")
    every = job.intervals
    message = None
    if isinstance(written, int) and every % 1000 and every % 60 == 0:
        # 3600 or 86400: whole minutes or hours when read as seconds, odd as milliseconds.
        message = (
            f"{every} is {format_duration(every)} read as milliseconds; "
            f"if it is seconds, write {format_duration(every * 1000)}"
        )
    elif every < SHORT_INTERVAL_MS:
        shown = written if isinstance(written, str) else every
        message = f"{shown} is under a minute: the job would run every {format_duration(every)}"
    if message:
        out.append(Problem(document.where("intervals"), message, job.tag, "intervals", "warning"))
    return out
