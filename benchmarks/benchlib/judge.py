"""The targets of the issues as one table, each judged on figures from the same run."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REFERENCE_SIZE = 10_000  # where the single-size targets are judged, when it was run
SCALING_SIZES = (10_000, 50_000)


@dataclass(frozen=True)
class Figures:
    """Everything one run measured: per-size results and the run-wide figures."""

    results: dict[int, dict[str, Any]]
    extra: dict[str, Any]

    @property
    def ref(self) -> int:
        return REFERENCE_SIZE if REFERENCE_SIZE in self.results else max(self.results)

    def at_ref(self, key: str) -> float | None:
        value = self.results[self.ref].get(key)
        return float(value) if value is not None else None

    def apply(self, key: str) -> float | None:
        apply = self.extra.get("apply_http")
        return float(apply[key]) if apply and apply.get(key) is not None else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _vs_floor(key: str) -> Callable[[Figures], float | None]:
    return lambda f: _ratio(f.at_ref(key), f.at_ref("floor_s"))


def _growth(key: str) -> Callable[[Figures], float | None]:
    """Time per job at 50,000 over time per job at 10,000."""

    def value(f: Figures) -> float | None:
        small, big = (f.results.get(n) for n in SCALING_SIZES)
        if not small or not big:
            return None
        return float((big[key] / big["jobs"]) / (small[key] / small["jobs"]))

    return value


def _parallel_need(f: Figures) -> float:
    return 0.75 * (f.apply("parallelism") or 4)


def _request_budget(f: Figures) -> float:
    return (f.apply("writes") or 0) + 3


@dataclass(frozen=True)
class Goal:
    """One target: what is measured, how it compares with its limit, and how it is shown."""

    name: str  # may name {ref} (the size it is judged at) and {jobs} (creates applied)
    value: Callable[[Figures], float | None]
    compare: str  # ">=", "<=" or "<": value compare limit is a PASS
    limit: float | Callable[[Figures], float]
    unit: str  # "x", "s", "MB" or "" (a count)
    missing: str  # why the value can be absent

    def judge(self, figures: Figures) -> dict[str, Any]:
        value = self.value(figures)
        limit = self.limit(figures) if callable(self.limit) else self.limit
        if value is None:
            status, detail = "n/a", self.missing
        else:
            status = "PASS" if _COMPARE[self.compare](value, limit) else "FAIL"
            detail = f"{_show(value, self.unit)} (limit {self.compare} {_show(limit, self.unit)})"
        name = self.name.format(ref=f"{figures.ref:,}", jobs=figures.extra.get("apply_jobs"))
        return {"target": name, "status": status, "value": value, "limit": limit, "detail": detail}


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "<": operator.lt,
}


def _show(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:,.0f}"


NEEDS_SCALING = "needs --sizes with 10000 and 50000"

GOALS: tuple[Goal, ...] = (
    Goal(
        "validate >= 5x faster than check-jsonschema at {ref}",
        lambda f: _ratio(f.at_ref("check_jsonschema_s"), f.at_ref("validate_s")),
        ">=",
        5.0,
        "x",
        "check-jsonschema not measured",
    ),
    Goal("validate within 1.5x of the floor at {ref}", _vs_floor("validate_s"), "<=", 1.5, "x", ""),
    Goal(
        "plan (embedded) within 2x of the floor at {ref}",
        _vs_floor("plan_sqlite_s"),
        "<=",
        2.0,
        "x",
        "",
    ),
    Goal(
        "plan over HTTP within 3x of the floor at {ref}",
        _vs_floor("plan_http_s"),
        "<=",
        3.0,
        "x",
        "",
    ),
    Goal(
        "validate: time per job from 10,000 to 50,000 within 1.3x",
        _growth("validate_s"),
        "<=",
        1.3,
        "x",
        NEEDS_SCALING,
    ),
    Goal(
        "plan: time per job from 10,000 to 50,000 within 1.3x",
        _growth("plan_sqlite_s"),
        "<=",
        1.3,
        "x",
        NEEDS_SCALING,
    ),
    Goal(
        "parallel apply speed-up >= 0.75 x parallelism",
        lambda f: f.apply("speedup"),
        ">=",
        _parallel_need,
        "x",
        "apply over HTTP not measured",
    ),
    Goal(
        "requests per apply of {jobs} creates: at most writes + 3",
        lambda f: f.apply("requests"),
        "<=",
        _request_budget,
        "",
        "apply over HTTP not measured",
    ),
    Goal(
        "apply with 20 ms latency within 1.2x of the writes alone",
        lambda f: f.apply("apply_vs_writes_alone"),
        "<=",
        1.2,
        "x",
        "apply over HTTP not measured",
    ),
    Goal(
        "peak RSS of the plan at {ref} < 200 MB",
        lambda f: f.at_ref("plan_peak_rss_mb"),
        "<",
        200.0,
        "MB",
        "",
    ),
    Goal(
        "reconciler --help < 0.25 s",
        lambda f: f.extra.get("startup_help_s"),
        "<",
        0.25,
        "s",
        "",
    ),
)


def judge(figures: Figures) -> list[dict[str, Any]]:
    """PASS, FAIL or n/a for every goal, in the table's order."""
    return [goal.judge(figures) for goal in GOALS]
