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

from ..checks import app_tags, check_references
from ..errors import ReconcilerError
from ..model import Severity
from ..outcome import ValidateReport
from ..settings import RunSpec
from .common import manifests, opened, strictly


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
                    if catalogue is not None:
                        severity: Severity = "error" if spec.references == "error" else "warning"
                        found = check_references(desired, desired.jobs, catalogue, severity)
                        report = replace(report, problems=(*report.problems, *found))
            out.append(strictly(spec, report))
    return out
