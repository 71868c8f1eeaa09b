"""``reconciler validate``: the manifests alone; with ``--target``, their event_tags too.

Without a target named on the command line no target is read (the pre-commit hook stays
offline and fast, whatever ``.reconciler.yaml`` or the environment names). With one, each
event_tag is checked against that product's catalogue: ``--target snapshot:live.json`` does
it with no credentials at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING

from ..checks import NO_FILE, app_tags
from ..desired import Desired
from ..errors import ReconcilerError
from ..model import Problem
from ..outcome import ValidateReport
from ..settings import RunSpec
from .common import manifests, opened, references, strictly

if TYPE_CHECKING:
    from ..targets.base import Catalogue


def run(specs: Sequence[RunSpec], references: bool = False) -> list[ValidateReport]:
    out = []
    with ExitStack() as stack:  # targets of one user share a log-in while any is open
        for spec in specs:
            desired, report = manifests(spec, ValidateReport)
            if references and not desired.errors and spec.references != "off":
                try:
                    target = stack.enter_context(opened(spec))
                    report = replace(report, target=target.describe())
                    catalogue = target.catalogue(app_tags(desired))
                except ReconcilerError as exc:
                    report = replace(report, error=str(exc))
                else:
                    report = replace(
                        report, problems=(*report.problems, *_references(spec, desired, catalogue))
                    )
            out.append(strictly(spec, report))
    return out


def _references(spec: RunSpec, desired: Desired, catalogue: Catalogue | None) -> list[Problem]:
    if catalogue is None:  # the embedded store, or a snapshot of one: nothing to check against
        unchecked = f"{spec.target} has no catalogue: no event_tag was checked"
        return [Problem(NO_FILE, unchecked, None, "event_tag", "warning")]
    return references(spec, desired, desired.jobs, catalogue)
