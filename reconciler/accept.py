"""Accept live changes: the manifest edits that make Git say what the product already does.

``drift --write`` is :func:`edits_from_drift` on a plan made against live, then :func:`write`.
The plan's direction (see :mod:`reconciler.diff`): an update's ``FieldChange.old`` is the live
value and ``new`` the one in Git, so accepting live writes ``old`` over ``new``. Jobs missing
live (creates) are left alone: Git is ahead there, not behind. Orphans (live jobs this
repository owns but has no manifest for) come back as jobs, written as new manifests only
into a directory the caller names, as ``export`` writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .desired import Desired
from .export import export_jobs
from .model import Job
from .plan import Action, Plan
from .yamledit import Edit, Prepared, commit, prepare


@dataclass(frozen=True)
class FileEdits:
    """The edits to one manifest file."""

    path: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class Accepted:
    """What accepting live changes would write: edits by file, and orphans to add."""

    files: tuple[FileEdits, ...]
    orphans: tuple[Job, ...] = ()
    left_alone: tuple[str, ...] = ()  # tags in Git but not live: not edited

    @property
    def field_count(self) -> int:
        return sum(len(f.edits) for f in self.files)

    @property
    def empty(self) -> bool:
        return not self.files and not self.orphans

    def summary(self) -> str:
        """``3 fields in 2 files, 1 orphan to write`` (what the CLI prints)."""
        text = f"{_count(self.field_count, 'field')} in {_count(len(self.files), 'file')}"
        if self.orphans:
            text += f", {_count(len(self.orphans), 'orphan')} to write as new manifests"
        if self.left_alone:
            text += f"; {_count(len(self.left_alone), 'job')} missing live left alone"
        return text


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def edits_from_drift(plan: Plan, desired: Desired) -> Accepted:
    """The edits that make Git equal live for every field that differs. Pure: no I/O.

    ``plan`` must be built from ``desired`` against the live product (``core.plan``); fields
    the plan ignores never appear in it, so they are never written.
    """
    by_file: dict[str, list[Edit]] = {}
    for change in plan.of(Action.UPDATE):
        path = desired.entries[change.tag].path
        by_file.setdefault(path, []).extend(
            Edit(change.tag, f.field, old=f.new, new=f.old) for f in change.fields
        )
    # An orphan that is likely a rename of a create stays out: writing it would put the old
    # tag back into Git beside the new one.
    orphans = tuple(c.live for c in plan.of(Action.ORPHAN) if c.live is not None and not c.rename)
    return Accepted(
        tuple(FileEdits(path, tuple(edits)) for path, edits in sorted(by_file.items())),
        orphans,
        tuple(c.tag for c in plan.of(Action.CREATE)),
    )


@dataclass(frozen=True)
class Written:
    """What :func:`write` changed: files edited (with their lines), manifests added."""

    edited: tuple[Prepared, ...]
    added: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def write(accepted: Accepted, orphans_to: str | None = None) -> Written:
    """Edit the manifests in place; write orphans under ``orphans_to`` when given.

    Every file is prepared and checked before any is written, so a refused edit
    (:class:`~reconciler.yamledit.EditRefused`) leaves every file as it was. Orphan manifests
    are refused before any is written when one exists already (``export``'s rule).
    """
    prepared = [prepare(f.path, f.edits) for f in accepted.files]
    added: Sequence[str] = ()
    notes: Sequence[str] = ()
    if orphans_to is not None and accepted.orphans:
        added, _, notes = export_jobs(accepted.orphans, orphans_to)
    for one in prepared:
        commit(one)
    return Written(tuple(prepared), tuple(added), tuple(notes))
