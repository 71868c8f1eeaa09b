"""Outcomes as versioned JSON documents, described by the JSON Schemas in ``schemas/``.

One document per command: ``reconciler-validate``, ``reconciler-plan`` (plan and show; the
same document ``plan --out`` saves and ``apply --plan`` reads), ``reconciler-drift`` and
``reconciler-apply``. Several products give ``reconciler-products``, whose ``products`` hold
one such document each. Strings are data here, not escaped: JSON encodes every character,
but a lone surrogate (a non-UTF-8 file name, a ``\\udcff`` from a server) is no character that
strict UTF-8 parsers accept, so it becomes U+FFFD (:func:`~reconciler.strings.json_safe`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from .. import planfile
from ..model import Problem
from ..outcome import ApplyReport, DriftReport, Outcome, PlanReport, ReportVisitor, ValidateReport
from ..strings import json_safe, terminal
from . import Options, Rendered
from .common import drift_items, files_total, headline

# A lone surrogate as json.dumps writes it (ASCII output): a high half not followed by a low
# one, or a low half not after a high one. Seeing one is rare; then the document is walked.
_LONE_SURROGATE = re.compile(
    r"\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f][0-9a-f]{2})|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}"
)


def dumps(doc: Any) -> str:
    """``doc`` as compact ASCII JSON that strict UTF-8 parsers accept."""
    # Compact: pipelines read it, and indenting forces json's slow pure-Python encoder.
    text = json.dumps(doc)
    return json.dumps(json_safe(doc)) if _has_lone_surrogate(text) else text


def _has_lone_surrogate(text: str) -> bool:
    return "\\ud" in text and _LONE_SURROGATE.search(text) is not None


FORMAT_VERSION = 1
SCHEMA_BY_FORMAT = {
    "reconciler-validate": "validate-report.schema.json",
    "reconciler-plan": "plan.schema.json",
    "reconciler-drift": "drift-report.schema.json",
    "reconciler-apply": "apply-report.schema.json",
    "reconciler-products": "products-report.schema.json",
}


def report(outcomes: Sequence[Outcome], options: Options) -> Rendered:
    if len(outcomes) == 1 and not outcomes[0].product:
        doc = _document(outcomes[0])
    else:
        doc = {
            "format": "reconciler-products",
            "format_version": FORMAT_VERSION,
            "command": outcomes[0].command if outcomes else "plan",
            "products": [{"name": o.product, "report": _document(o)} for o in outcomes],
        }
    return Rendered(dumps(doc) + "\n")


def problem_dict(p: Problem) -> dict[str, Any]:
    return {
        "file": p.location.path or None,
        "line": p.location.line or None,
        "column": p.location.col or None,
        "tag": p.tag,
        "field": p.field,
        "severity": p.severity,
        "message": p.message,
    }


def _common(o: Outcome) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if o.schedule is not None:
        from .timeline import document as schedule_document

        extra["schedule"] = schedule_document(o.schedule)
    # Where the run came from, when the command knows: optional, so older readers see nothing new.
    if o.commit:
        extra["commit"] = o.commit
    if o.paths:
        extra["paths"] = list(o.paths)
    return {
        **extra,
        "product": o.product or None,
        "target": o.target or None,
        "summary_line": headline(o).render(terminal),
        "error": o.error,
        "files": files_total(o),
        "files_with_problems": o.files_with_problems,
        "problems": [problem_dict(p) for p in o.problems],
    }


def document(o: Outcome) -> dict[str, Any]:
    """The JSON document of one outcome, every string one that strict parsers accept."""
    doc = _document(o)
    return json_safe(doc) if _has_lone_surrogate(json.dumps(doc)) else doc


def _document(o: Outcome) -> dict[str, Any]:
    return o.accept(_Documents())


class _Documents(ReportVisitor[dict[str, Any]]):
    """The JSON document of each report type."""

    def validate(self, o: ValidateReport) -> dict[str, Any]:
        return {
            "format": "reconciler-validate",
            "format_version": FORMAT_VERSION,
            "valid": not o.errors,
            "jobs": o.jobs,
            **_common(o),
        }

    def plan(self, o: PlanReport) -> dict[str, Any]:
        return planfile.document(o.plan, o.target, _common(o), o.left_out)

    def drift(self, o: DriftReport) -> dict[str, Any]:
        return _drift(o)

    def apply(self, o: ApplyReport) -> dict[str, Any]:
        return _apply(o)


def _drift(o: DriftReport) -> dict[str, Any]:
    items = drift_items(o.plan) if o.plan is not None else []
    return {
        "format": "reconciler-drift",
        "format_version": FORMAT_VERSION,
        "in_sync": o.plan is not None and not o.plan.has_drift and not o.failed,
        "drift": [
            {
                "kind": item.kind,
                "tag": item.change.tag,
                "source": str(item.change.source) if item.change.source else None,
                "fields": [
                    {"field": f.field, "live": f.old, "git": f.new} for f in item.change.fields
                ],
                "live": item.change.live.to_wire() if item.change.live else None,
                "git": item.change.desired.to_wire() if item.change.desired else None,
            }
            for item in items
        ],
        "left_out": o.left_out,
        **_common(o),
    }


def _apply(o: ApplyReport) -> dict[str, Any]:
    results = o.results or ()
    status = [r.status for r in results]
    return {
        "format": "reconciler-apply",
        "format_version": FORMAT_VERSION,
        "applied": o.results is not None,
        "plan_summary": o.plan.summary() if o.plan is not None else None,
        "results": [
            {
                "tag": r.change.tag,
                "action": r.change.action.value,
                "status": s,
                "id": r.id,
                "error": r.error,
            }
            for r, s in zip(results, status, strict=True)
        ],
        "counts": {key: status.count(key) for key in ("ok", "failed", "unknown", "skipped")},
        "stopped": o.stopped,
        "left_out": o.left_out,
        **_common(o),
    }
