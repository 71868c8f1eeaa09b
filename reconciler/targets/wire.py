"""Ductape's wire documents, in one place: what a job and a product look like as JSON.

The shapes are in ``docs/wire.md`` section 4. The HTTP target reads them from the
network, the SQLite store keeps them as rows, the local server answers with them; all three
import this module and none imports another for it. Everything here is pure: no I/O.

A product document carries secrets (its own ``private_key``, apps' and environments' ``auth``
blocks): :func:`catalogue_tags` keeps only the tags a catalogue needs, so nothing else of a
product outlives the read that fetched it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

from ..errors import OutcomeUnknown, TargetError
from ..model import Job, show
from ..strings import is_object_id, shorten
from .base import Catalogue, LiveJobs, MalformedJob, WriteResult


class JobDocument(TypedDict, total=False):
    """A job as the wire carries it; ``_id`` is assigned by the service."""

    _id: str
    tag: str
    name: str
    event_type: str
    event_tag: str
    executions: int
    intervals: int
    start_at: int


class TaggedDocument(TypedDict, total=False):
    """A notification, function or database action: what a catalogue reads of it is its tag."""

    _id: str
    tag: str


class AppDocument(TypedDict, total=False):
    _id: str
    access_tag: str
    actions: list[TaggedDocument]


class DatabaseDocument(TypedDict, total=False):
    _id: str
    tag: str
    actions: list[TaggedDocument]


class ProductDocument(TypedDict, total=False):
    """A product ("integration"): its catalogue, its jobs, and secrets we must not keep."""

    _id: str
    name: str
    description: str
    status: str
    workspace_id: str
    apps: list[AppDocument]
    envs: list[dict[str, Any]]
    functions: list[TaggedDocument]
    notifications: list[TaggedDocument]
    databases: list[DatabaseDocument]
    caches: list[Any]
    features: list[Any]
    jobs: list[JobDocument]
    private_key: str


class CatalogueTags(TypedDict):
    """The secret-free part of a product a catalogue is made from."""

    apps: list[str]
    notifications: list[str]
    functions: list[str]
    databases: dict[str, list[str]]


# The top-level keys of a PUT body that address the request rather than describe the job.
ENVELOPE_KEYS = frozenset({"component", "user_id", "workspace_id", "public_key", "_id"})


def job_from_wire(doc: object) -> Job:
    """A live job document as a Job; TargetError naming the job if it is not one."""
    if not isinstance(doc, Mapping):
        raise TargetError(f"live job is not a JSON object ({type(doc).__name__})")
    try:
        return Job.from_mapping(doc)
    except ValueError as exc:
        tag = doc.get("tag")
        shown = shorten(tag, 80) if isinstance(tag, str) else "without a tag"
        raise TargetError(f"live job {shown} is malformed: {shorten(str(exc))}") from exc


def live_jobs(docs: Iterable[object]) -> LiveJobs:
    """Live job documents as Jobs; one that does not parse is reported and skipped.

    Two live jobs with one tag are a TargetError naming both ids: the tag is the
    reconciler's identity, and with two, whichever it compared Git with, the other would
    run unseen ("No drift" beside a copy running every minute) and an update would reach
    one of them by chance. Ductape has no delete, so only a person can settle it.
    """
    docs = list(docs)
    refuse_duplicate_tags(docs)
    jobs: list[Job] = []
    malformed: list[MalformedJob] = []
    for doc in docs:
        try:
            jobs.append(job_from_wire(doc))
        except TargetError as exc:
            tag = doc.get("tag") if isinstance(doc, Mapping) else None
            id_ = doc.get("_id") if isinstance(doc, Mapping) else None
            malformed.append(
                MalformedJob(
                    tag if isinstance(tag, str) else None,
                    id_ if isinstance(id_, str) else None,
                    str(exc),
                )
            )
    return LiveJobs(tuple(jobs), tuple(malformed))


def refuse_duplicate_tags(docs: Iterable[object]) -> None:
    """TargetError if two job documents carry one tag (malformed ones count: same identity)."""
    docs = list(docs)
    tags = [doc.get("tag") for doc in docs if isinstance(doc, Mapping)]
    tags = [tag for tag in tags if isinstance(tag, str)]
    if len(set(tags)) == len(tags):
        return  # what almost every read finds: no ids to gather and word
    ids: dict[str, list[str]] = {}
    for doc in docs:
        if isinstance(doc, Mapping) and isinstance(doc.get("tag"), str):
            id_ = doc.get("_id")
            ids.setdefault(doc["tag"], []).append(
                shorten(id_, 40) if isinstance(id_, str) else "(no id)"
            )
    held = [(tag, found) for tag, found in ids.items() if len(found) > 1]
    if not held:
        return
    tag, found = held[0]
    more = f"; {len(held) - 1} more tag(s) are held twice too" if len(held) > 1 else ""
    raise TargetError(
        f"the product holds {len(found)} live jobs tagged {show(tag, 80)} "
        f"(ids {', '.join(found[:5])}{', ...' if len(found) > 5 else ''}){more}; "
        "a tag must name one job: remove or rename the extra ones in Ductape by hand "
        "(there is no delete), then run again"
    )


def job_documents(product: Mapping[str, Any]) -> list[object]:
    """The ``jobs`` of a product document (each one still to be checked), or []."""
    jobs = product.get("jobs")
    return list(jobs) if isinstance(jobs, list) else []


def job_ids(docs: Iterable[object]) -> dict[str, str]:
    """Tag -> ``_id`` of the job documents that carry both as they should."""
    ids: dict[str, str] = {}
    for doc in docs:
        if isinstance(doc, Mapping):
            tag, id_ = doc.get("tag"), doc.get("_id")
            if isinstance(tag, str) and is_object_id(id_):
                ids[tag] = str(id_)
    return ids


def _tags(items: object, key: str = "tag") -> list[str]:
    if not isinstance(items, list):
        return []
    return [str(i[key]) for i in items if isinstance(i, Mapping) and isinstance(i.get(key), str)]


def catalogue_tags(product: Mapping[str, Any]) -> CatalogueTags | None:
    """Just the tags of a product's catalogue; None when it lists no catalogue at all."""
    if not any(key in product for key in ("apps", "notifications", "databases", "functions")):
        return None
    databases: dict[str, list[str]] = {}
    for db in product.get("databases") or ():
        if isinstance(db, Mapping) and isinstance(db.get("tag"), str):
            databases[db["tag"]] = _tags(db.get("actions"))
    return CatalogueTags(
        apps=_tags(product.get("apps"), "access_tag"),
        notifications=_tags(product.get("notifications")),
        functions=_tags(product.get("functions")),
        databases=databases,
    )


def catalogue(tags: CatalogueTags, app_actions: Mapping[str, Iterable[str]]) -> Catalogue:
    """The catalogue: ``app_actions`` maps an app's access tag to its actions' tags.

    Action tags are written ``<app access_tag>:<action tag>`` and database actions
    ``<database tag>:<action tag>``, the way a product addresses them.
    """
    return Catalogue(
        action=frozenset(
            f"{app}:{action}" for app in tags["apps"] for action in app_actions.get(app, ())
        ),
        notification=frozenset(tags["notifications"]),
        database_action=frozenset(
            f"{db}:{action}" for db, actions in tags["databases"].items() for action in actions
        ),
        function=frozenset(tags["functions"]),
    )


def inline_app_actions(product: Mapping[str, Any]) -> dict[str, list[str]]:
    """Actions of apps that carry them inline (the local store's products do)."""
    out: dict[str, list[str]] = {}
    for app in product.get("apps") or ():
        if isinstance(app, Mapping) and isinstance(app.get("access_tag"), str):
            out[app["access_tag"]] = _tags(app.get("actions"))
    return out


def app_action_tags(app: object) -> list[str]:
    """The action tags of an app document from the apps service."""
    return _tags(app.get("actions")) if isinstance(app, Mapping) else []


def confirm_written(
    written: Sequence[WriteResult], docs: Sequence[object]
) -> dict[str, WriteResult | TargetError]:
    """Check each write against one read: present once and equal to what was sent."""
    by_tag: dict[str, list[object]] = {}
    for doc in docs:
        if isinstance(doc, dict) and isinstance(doc.get("tag"), str):
            by_tag.setdefault(doc["tag"], []).append(doc)
    out: dict[str, WriteResult | TargetError] = {}
    for w in written:
        found = by_tag.get(w.job.tag, [])
        if not found:
            out[w.job.tag] = OutcomeUnknown(
                "the job is not in the product after the write; outcome unknown; re-run plan"
            )
        elif len(found) > 1:
            out[w.job.tag] = TargetError(f"the product holds {len(found)} jobs with this tag")
        else:
            try:
                live = job_from_wire(found[0])
            except TargetError as exc:
                out[w.job.tag] = exc
                continue
            if live != w.job:
                out[w.job.tag] = TargetError("the live job differs from what was written")
            else:
                out[w.job.tag] = WriteResult(live, job_ids(found).get(w.job.tag, w.id))
    return out
