"""The desired state: manifests found, loaded, validated and normalised into Jobs.

Collects every problem of every file in one pass (syntax, duplicate keys, schema, duplicate
tags, suspicious values) so one run shows a reviewer everything to fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .manifests import find_manifests, load_documents
from .model import SECONDS_SUSPECT_BELOW_MS, Job, Location, Problem
from .schema import check_document


@dataclass(frozen=True)
class Desired:
    """Jobs in Git by tag, where each was defined, and what was found wrong."""

    jobs: dict[str, Job]
    sources: dict[str, Location]
    problems: tuple[Problem, ...]
    files: int
    event_tag_at: dict[str, Location]

    @property
    def files_with_problems(self) -> int:
        return len({p.location.path for p in self.problems})

    def where(self, tag: str, field: str) -> Location:
        return self.event_tag_at[tag] if field == "event_tag" else self.sources[tag]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if not p.is_error)


def load_desired(paths: Iterable[str]) -> Desired:
    """Read every manifest under ``paths``; never raises for bad manifests, reports them."""
    files = find_manifests(paths)
    problems: list[Problem] = []
    documents = load_documents(files, problems)  # streamed: one file's documents at a time
    jobs: dict[str, Job] = {}
    sources: dict[str, Location] = {}
    event_tag_at: dict[str, Location] = {}
    first_seen: dict[str, Location] = {}
    for document in documents:
        tag = document.tag
        duplicate = False
        if tag is not None:
            here = document.where("tag")
            first = first_seen.setdefault(tag, here)
            if first is not here:
                duplicate = True
                problems.append(
                    Problem(
                        here,
                        f"duplicate tag {tag!r}, also defined at {first}",
                        tag,
                        "tag",
                    )
                )
        schema_problems = check_document(document)
        problems.extend(schema_problems)
        if schema_problems or duplicate:
            continue
        try:
            job = Job.from_mapping(document.data)
        except ValueError as exc:
            # The schema accepts the shape; only a value such as 2026-02-30 gets here.
            name, _, message = str(exc).partition(": ")
            problems.append(Problem(document.where(name), message, tag, name))
            continue
        start_value = document.data.get("start_at")
        if isinstance(start_value, int) and start_value < SECONDS_SUSPECT_BELOW_MS:
            problems.append(
                Problem(
                    document.where("start_at"),
                    f"{start_value} is before September 2001 read as milliseconds; "
                    f"if it is Unix seconds, write {start_value * 1000}",
                    job.tag,
                    "start_at",
                    severity="warning",
                )
            )
        jobs[job.tag] = job
        sources[job.tag] = document.where("tag")
        event_tag_at[job.tag] = document.where("event_tag")
    problems.sort(key=lambda p: (p.location, p.field or "", p.message))
    return Desired(jobs, sources, tuple(problems), len(files), event_tag_at)
