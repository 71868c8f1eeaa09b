"""The saved plan: the one owner of the ``reconciler-plan`` file, writing and reading it.

``plan --out`` saves the document ``plan --format json`` prints; ``apply --plan`` and
``show`` read it back. Between the two it is usually a pipeline artifact anyone with write
access to the pipeline can swap, so it is read as untrusted input, as hostile as a manifest:

1. bounded: its size is checked on the open file before a byte is read, its nesting depth
   before it is parsed, and JSON's laxities (a repeated key, ``NaN``, ``Infinity``, a
   fraction) are refused while parsing;
2. checked against ``schemas/plan.schema.json``, with its format and version;
3. every job in it is rebuilt through the job schema and the model, as a manifest's is
   (:func:`reconciler.schema.check_value`, :meth:`Job.from_mapping`), and each change must be
   what :func:`~reconciler.plan.build_plan` would have made of its two jobs: an update writes
   exactly the job fields where the desired job differs from the live one, never ``tag``.

Anything wrong is one :class:`DamagedPlan` line; nothing of a damaged plan is used.
:func:`check_ignore` then refuses a plan that ignores a field the current configuration does
not: a plan may compare more than the configuration asks, never less.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from . import jsonfile
from .diff import FieldChange
from .errors import UsageError
from .files import write_atomic
from .jsonfile import Refused, strict_loads, too_deep
from .model import MUTABLE_FIELDS, FieldError, Job, Location, Problem, Severity, show
from .plan import Action, Change, Plan
from .schema import check_value, plan_file_problem
from .strings import shorten

FORMAT = "reconciler-plan"
# 2: the changes carry both jobs and their field changes, and the plan its ignore_fields.
# 3: the plan may carry the commit and the manifests' paths it was made from. A reader of 2
# refuses those keys as damage, so a file that may hold them says 3; 2 is still read.
FORMAT_VERSION = 3
READS_VERSIONS = (2, 3)

# 64 MiB: a plan of 50,000 updates with 200-character names is 53 MB, and reading one costs
# several times its size in memory. A 300 MB file took 637 MB before this bound.
MAX_PLAN_BYTES = 64 * 1024 * 1024
# The deepest a valid plan goes is 5 (document, changes, change, fields, field change);
# json's decoder recurses once per level, so a file nested 100,000 deep is refused first.
MAX_DEPTH = 16


class DamagedPlan(UsageError):
    """A plan file that is not what ``plan --out`` wrote: one line saying where and why."""

    def __init__(self, path: str, why: str) -> None:
        where = f"{path}: " if path else ""
        super().__init__(f"the plan file is damaged: {where}{why}")


@dataclass(frozen=True)
class SavedPlan:
    """What a plan file holds: the plan, the problems shown with it, and why it stopped."""

    plan: Plan
    problems: tuple[Problem, ...] = ()
    left_out: int = 0
    error: str | None = None
    # Where the plan came from (format 3), for the header of ``show``.
    commit: str | None = None
    paths: tuple[str, ...] = ()


# --- writing ---------------------------------------------------------------------------------


def document(
    plan: Plan | None, target: str, common: Mapping[str, Any], left_out: int = 0
) -> dict[str, Any]:
    """The ``reconciler-plan`` document: what ``plan --format json`` prints and ``--out`` saves.

    ``common`` holds the fields every JSON report shares (product, target, summary line,
    error, files, problems), built by the JSON reporter; the plan's own fields are made here.
    """
    doc: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION}
    if plan is not None:
        doc.update(
            {
                "target": plan.target,
                "ignore_fields": list(plan.ignore_fields),
                "summary": {a.value: plan.counts[a] for a in Action},
                "has_changes": plan.has_changes,
                "has_drift": plan.has_drift,
                "changes": [_change_dict(c) for c in plan.changes],
            }
        )
    else:
        doc.update({"target": target, "has_changes": False, "has_drift": False, "changes": []})
    doc.update(common)
    doc["left_out"] = left_out
    return doc


def _change_dict(c: Change) -> dict[str, Any]:
    out: dict[str, Any] = {
        "action": c.action.value,
        "tag": c.tag,
        "source": str(c.source) if c.source else None,
        "desired": c.desired.to_wire() if c.desired else None,
        "live": c.live.to_wire() if c.live else None,
        "fields": [{"field": f.field, "old": f.old, "new": f.new} for f in c.fields],
        "rename": c.rename,
    }
    if c.desired is not None and c.desired.zone is not None:
        # Optional, so plans written before it still read: the zone start_at was written in.
        out["zone"] = c.desired.zone
    return out


def save(path: str, doc: Mapping[str, Any]) -> None:
    """Write the document to ``path`` whole or not at all (see reconciler.files)."""
    try:
        write_atomic(path, json.dumps(doc) + "\n", parents=True)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc


# --- reading: bytes, then JSON -------------------------------------------------------------------


def read(path: str) -> SavedPlan:
    """The plan saved at ``path``; DamagedPlan (or UsageError) if it cannot be trusted."""
    return from_document(parse(read_bytes(path), path), path)


def read_bytes(path: str) -> bytes:
    """The file's bytes, refused by size before any is read (see jsonfile.read_bytes)."""
    return jsonfile.read_bytes(
        path, "plan file", MAX_PLAN_BYTES, lambda size: DamagedPlan(path, _too_large(size))
    )


def _too_large(size: int) -> str:
    return (
        f"it holds {size:,} bytes, more than the {MAX_PLAN_BYTES:,} "
        f"({MAX_PLAN_BYTES // 1024 // 1024} MiB) a plan file may; "
        "plan fewer jobs at once (--only, --exclude)"
    )


def parse(data: bytes, path: str = "") -> Any:
    """Strict JSON: UTF-8, bounded depth, no repeated keys, integers only."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DamagedPlan(
            path, f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not UTF-8"
        ) from exc
    if too_deep(data, MAX_DEPTH):
        raise DamagedPlan(path, f"it nests deeper than {MAX_DEPTH} levels")
    try:
        return strict_loads(text, "a number a plan holds", whole_numbers="a plan")
    except json.JSONDecodeError as exc:
        raise DamagedPlan(path, f"line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except Refused as exc:
        raise DamagedPlan(path, str(exc)) from exc
    except RecursionError as exc:  # brackets that do not pair, nested past the depth check
        raise DamagedPlan(path, f"it nests deeper than {MAX_DEPTH} levels") from exc
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise DamagedPlan(path, shorten(str(exc))) from exc


# --- reading: the document -------------------------------------------------------------------


def from_document(data: Any, path: str = "") -> SavedPlan:
    """A parsed document as a SavedPlan, checked by its schema, the job schema and the model."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f"{path or 'the file'} is not a reconciler plan file")
    _check_version(data.get("format_version"), path)
    problem = plan_file_problem(data)
    if problem is not None:
        raise DamagedPlan(path, problem)
    ignore = tuple(data.get("ignore_fields") or ())
    changes = tuple(
        _change(item, f"changes[{i}]", ignore, path) for i, item in enumerate(data["changes"])
    )
    _check_set(changes, path)
    plan = Plan(changes, data["target"] or "", ignore)
    _check_summary(data, plan, path)
    return SavedPlan(
        plan,
        tuple(_problem(item) for item in data["problems"]),
        data["left_out"],
        data["error"],
        data.get("commit"),
        tuple(data.get("paths") or ()),
    )


def _check_version(version: object, path: str) -> None:
    """A version this reconciler reads, or one line saying which side is out of date."""
    if version in READS_VERSIONS and type(version) is int:
        return
    reads = " and ".join(str(v) for v in READS_VERSIONS)
    where = f"the plan file {path}" if path else "the plan file"
    if type(version) is int and version > FORMAT_VERSION:
        raise UsageError(
            f"{where} was written by a newer reconciler (format_version {version}); this one "
            f"reads {reads}: upgrade reconciler, or run plan again with this one"
        )
    if type(version) is int:
        raise UsageError(
            f"{where} was written by an older reconciler (format_version {version}); this one "
            f"reads {reads}: run plan again"
        )
    raise DamagedPlan(path, f"format_version: {show(version)} is not a version")


def _job(data: Mapping[str, Any] | None, where: str, path: str, desired: bool) -> Job | None:
    """A job of the plan rebuilt as a manifest's is: the job schema (for a job the plan
    would write, which came from Git), then the model (for every job)."""
    if data is None:
        return None
    if desired:
        problems = check_value(data)
        if problems:
            # The plan's schema has made it a mapping of the job fields: each problem names one.
            raise DamagedPlan(path, f"{where}.{problems[0]}")
    try:
        return Job.from_mapping(data)
    except FieldError as exc:
        raise DamagedPlan(path, f"{where}.{exc.field}: {exc.message}") from exc


# Which jobs each action has: (desired, live).
_SHAPE = {
    Action.CREATE: (True, False),
    Action.UPDATE: (True, True),
    Action.UNCHANGED: (True, True),
    Action.ORPHAN: (False, True),
    Action.FOREIGN: (False, True),
}


def _change(item: Mapping[str, Any], where: str, ignore: Sequence[str], path: str) -> Change:
    action = Action(item["action"])
    tag: str = item["tag"]
    desired = _job(item["desired"], f"{where}.desired", path, desired=True)
    live = _job(item["live"], f"{where}.live", path, desired=False)
    wants = _SHAPE[action]
    if (desired is not None, live is not None) != wants:
        has = " and ".join(n for n, j in (("desired", desired), ("live", live)) if j) or "no"
        raise DamagedPlan(path, f"{where}: {action.value} {show(tag)} has {has} job(s)")
    for name, job in (("desired", desired), ("live", live)):
        if job is not None and job.tag != tag:
            raise DamagedPlan(
                path,
                f"{where}.{name}.tag: {show(job.tag)} is not the change's tag {show(tag)}; "
                "a plan never changes a tag",
            )
    fields = tuple(FieldChange(f["field"], f["old"], f["new"]) for f in item["fields"])
    # What build_plan makes of these two jobs: apply writes exactly these values.
    expected = _differences(live, desired, ignore) if desired and live else ()
    if fields != expected:
        raise DamagedPlan(
            path,
            f"{where}.fields: the field changes of {show(tag)} are not the difference "
            "between its live and desired jobs",
        )
    if action is Action.UPDATE and not fields:
        raise DamagedPlan(path, f"{where}: update {show(tag)} changes no field")
    if action is Action.UNCHANGED and fields:
        raise DamagedPlan(path, f"{where}: unchanged {show(tag)} has field changes")
    zone = item.get("zone")
    if zone is not None:
        if desired is None:
            raise DamagedPlan(path, f"{where}.zone: {action.value} {show(tag)} has no desired job")
        # The schema has checked its spelling; a zone this machine does not list is kept
        # and only ever shown as UTC (reconciler.schedule.at).
        desired = replace(desired, zone=sys.intern(zone))
    return Change(action, tag, desired, live, fields, _location(item["source"]), item["rename"])


def _differences(live: Job, desired: Job, ignore: Sequence[str]) -> tuple[FieldChange, ...]:
    """The field changes build_plan records for two jobs (diff.field_changes' answer).

    Jobs are flat records of canonical scalars, so a comparison field by field gives the
    same answer as deepdiff at a fraction of its cost: deepdiff took 60 of the 70 seconds of
    reading a plan of 50,000 updates. A property test holds the two to the same answer.
    """
    if live == desired:
        return ()
    old, new = live.to_wire(), desired.to_wire()
    return tuple(
        FieldChange(name, old[name], new[name])
        for name in MUTABLE_FIELDS
        if name not in ignore and old[name] != new[name]
    )


def _check_set(changes: Sequence[Change], path: str) -> None:
    """One change per tag; a rename names its partner (a create and an orphan), both ways."""
    by_tag: dict[str, Change] = {}
    for change in changes:
        if change.tag in by_tag:
            raise DamagedPlan(path, f"the tag {show(change.tag)} has more than one change")
        by_tag[change.tag] = change
    partner = {Action.CREATE: Action.ORPHAN, Action.ORPHAN: Action.CREATE}
    for change in changes:
        if change.rename is None:
            continue
        other = by_tag.get(change.rename)
        if (
            change.action not in partner
            or other is None
            or other.action is not partner[change.action]
            or other.rename != change.tag
        ):
            raise DamagedPlan(
                path,
                f"the rename of {show(change.tag)} to {show(change.rename)} does not pair a "
                "create with an orphan",
            )


def _check_summary(data: Mapping[str, Any], plan: Plan, path: str) -> None:
    """The counts a reviewer reads must be those of the changes apply writes."""
    summary = data.get("summary")
    if summary is not None and summary != {a.value: plan.counts[a] for a in Action}:
        raise DamagedPlan(path, "summary: the counts are not those of the changes")
    if data["has_changes"] != plan.has_changes or data["has_drift"] != plan.has_drift:
        raise DamagedPlan(path, "has_changes, has_drift: not those of the changes")


def _problem(item: Mapping[str, Any]) -> Problem:
    location = Location(item["file"] or "", item["line"] or 0, item["column"] or 0)
    severity: Severity = item["severity"]
    return Problem(location, item["message"], item["tag"], item["field"], severity)


def _location(text: str | None) -> Location | None:
    """``path:line:col`` back into a Location (the path may itself hold colons)."""
    if not text:
        return None
    path, _, rest = text.rpartition(":")
    path2, _, line = path.rpartition(":")
    if path2 and line.isdigit() and rest.isdigit():
        return Location(path2, int(line), int(rest))
    return Location(text)


# --- applying ------------------------------------------------------------------------------


def check_ignore(plan: Plan, configured: Collection[str], path: str = "") -> None:
    """Refuse a plan that ignores a field the current configuration does not ignore.

    Ignored fields are left out of the staleness check, so a plan file that could widen
    them could switch that check off for any field it writes over.
    """
    wider = [name for name in plan.ignore_fields if name not in configured]
    if wider:
        names = ", ".join(wider)
        raise DamagedPlan(
            path,
            f"it ignores {names}, which the current configuration does not (ignore_fields: "
            f"in .reconciler.yaml, --ignore-field); plan again, or ignore {names} here too",
        )
