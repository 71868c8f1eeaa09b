"""Pictures of a schedule: text heatmap, Markdown with Mermaid charts, SVG, a JSON document.

Pure functions from :class:`reconciler.timeline.Impact` (the figures before and after a
change; ``before`` is None offline) to strings. Tags and names are untrusted: each output
context has its own small escaping function below (``_terminal``, ``_md``, ``_mermaid``,
``_xml``), applied to every tag this module writes.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from ..model import format_duration, format_timestamp
from ..strings import markdown_code, printable
from ..timeline import DAY, Collision, Figures, Impact, Spread, duration_words

FORMAT = "reconciler-schedule"
FORMAT_VERSION = 1
SHADES = " ░▒▓█"
OUTSIDE = "·"
# Foreground colours (256-colour ANSI) for shades 1-4, only when asked.
_ANSI = ("", "\x1b[38;5;151m", "\x1b[38;5;114m", "\x1b[38;5;172m", "\x1b[38;5;160m")
_RESET = "\x1b[0m"
_SVG_FILL = ("#f4f4f4", "#c6e9c6", "#7cc47c", "#f0a040", "#d73027")
MAX_NAMES = 10


# --- escaping: one small rule per context -----------------------------------------------------


def _terminal(text: str) -> str:
    """Control and reordering characters shown as escapes (reconciler.strings.printable)."""
    return printable(text)


def _md(text: str) -> str:
    """Markdown inline text: the project's one rule, a code span nothing inside can close
    (no HTML, mention, reference or autolink from a tag); ``|`` escaped for tables too."""
    return markdown_code(text, table=True)


_MERMAID_UNSAFE = re.compile(r"[^A-Za-z0-9 _.:/-]")


def _mermaid(text: str, limit: int = 60) -> str:
    """A Mermaid label: a safe character set only (no quotes, brackets, semicolons or newlines)."""
    return _MERMAID_UNSAFE.sub("_", text)[:limit]


def _xml(text: str) -> str:
    """XML character data: printable (XML 1.0 forbids most controls), then &, < and > escaped."""
    return escape(printable(text))


def _attr(text: str) -> str:
    """An XML attribute value, quoted."""
    return quoteattr(printable(text))


# --- text ---------------------------------------------------------------------------------------


def level(count: int, peak: int) -> int:
    """The shade of an hour: 0 for no start, then 1-4 by quarters of the busiest hour."""
    if count <= 0 or peak <= 0:
        return 0
    return min(4, -(-4 * count // peak))


def legend(peak: int) -> str:
    """What each shade means, in starts per hour."""
    parts = [f"'{SHADES[0]}' none"]
    for i in range(1, 5):
        lo = (i - 1) * peak // 4 + 1
        hi = i * peak // 4
        if hi >= lo:
            parts.append(f"{SHADES[i]} {lo}-{hi}" if hi > lo else f"{SHADES[i]} {lo}")
    parts.append(f"{OUTSIDE} outside the window")
    return "legend (starts per hour): " + ", ".join(parts)


def heatmap_text(figures: Figures, color: bool = False) -> str:
    """A day x hour grid (UTC) of shade blocks, two characters an hour, with its legend."""
    peak = figures.max_hour
    header = [" "] * 48
    for h in range(0, 24, 3):
        header[h * 2 : h * 2 + 2] = f"{h:02d}"
    lines = [f"{'UTC':<10}  {''.join(header).rstrip()}"]
    for row in figures.grid:
        cells = []
        for count in row.hours:
            if count is None:
                cells.append(OUTSIDE * 2)
                continue
            shade = level(count, peak)
            block = SHADES[shade] * 2
            cells.append(f"{_ANSI[shade]}{block}{_RESET}" if color and shade else block)
        lines.append(f"{format_timestamp(row.day)[:10]}  {''.join(cells)}")
    lines.append(legend(peak))
    return "\n".join(lines) + "\n"


def _names(tags: tuple[str, ...], escape_one: Any, limit: int = MAX_NAMES) -> str:
    shown = ", ".join(escape_one(t) for t in tags[:limit])
    return shown + (f", ... ({len(tags) - limit} more)" if len(tags) > limit else "")


def _group_line(group: Collision, collide: int, escape_one: Any) -> str:
    return (
        f"{group.size} jobs within {duration_words(collide)} {group.when()} "
        f"({group.occurrences}x in the window): {_names(group.tags, escape_one)}"
    )


def text(impact: Impact, color: bool = False) -> str:
    """The whole schedule report for a terminal: heatmaps, figures, groups, spread."""
    out = []
    after = impact.after
    span = f"{format_timestamp(after.start)} .. {format_timestamp(after.end)}"
    panels = [("live (before)", impact.before), ("manifests (after)", after)]
    for title, figures in panels if impact.before else [("runs per hour", after)]:
        if figures is None:
            continue
        out.append(f"{title}, {span}")
        out.append(heatmap_text(figures, color))
    f = after
    line = f"total runs: {f.total_runs} ({f.runs_per_day:.0f} a day), {f.active} of {f.jobs} jobs"
    if impact.before:
        b = impact.before
        line += f"; before: {b.total_runs} ({b.runs_per_day:.0f} a day)"
    out.append(line)
    peak = f"peak starts per minute: {f.peak}"
    out.append(peak + (f" (before: {impact.before.peak})" if impact.before else ""))
    out.append("busiest minutes:")
    for m in f.busiest:
        out.append(f"  {format_timestamp(m.start)}  {m.starts}  {_names(m.tags, _terminal)}")
    out.append("longest quiet windows:")
    for q in f.quiet:
        shown = f"{format_timestamp(q.start)} .. {format_timestamp(q.end)}"
        out.append(f"  {shown} ({format_duration(q.length)})")
    if f.collisions:
        out.append("collision groups:")
        out.extend(f"  {_group_line(g, f.collide, _terminal)}" for g in f.collisions)
    if not f.collisions_complete:
        out.append("  (jobs with short intervals were not all checked against longer ones)")
    if f.frequent:
        out.append("more often than once a minute:")
        out.extend(
            f"  {_terminal(j.tag)} every {format_duration(j.intervals)} ({j.runs} runs)"
            for j in f.frequent
        )
    out.extend(f"warning: {_terminal(w)}" for w in impact.warnings())
    if impact.spread:
        out.append(spread_text(impact.spread))
    return "\n".join(out) + "\n"


def spread_text(spread: Spread) -> str:
    lines = [f"spread: peak starts per minute {spread.peak_before} -> {spread.peak_after}"]
    lines.extend(
        f"  {_terminal(p.tag)}: start_at {format_timestamp(p.old_start_at)} -> "
        f"{format_timestamp(p.new_start_at)}"
        for p in spread.proposals
    )
    return "\n".join(lines)


# --- markdown -----------------------------------------------------------------------------------


def _series(figures: Figures) -> tuple[list[str], list[int], str]:
    """Labels and values for a chart: hours up to a week, days beyond (bounded size)."""
    cells = [(row.day, h, c) for row in figures.grid for h, c in enumerate(row.hours)]
    inside = [(d, h, c) for d, h, c in cells if c is not None]
    if len(inside) <= 7 * 24:
        labels = [
            f"{h:02d}" if len(inside) <= 24 else f"{d // DAY % 100}.{h:02d}" for d, h, _ in inside
        ]
        return labels, [c for _, _, c in inside], "hour (UTC)"
    days = [(row.day, sum(c or 0 for c in row.hours)) for row in figures.grid]
    return [format_timestamp(d)[5:10] for d, _ in days], [c for _, c in days], "day (UTC)"


def mermaid_chart(figures: Figures, title: str) -> str:
    """A Mermaid xychart (GitHub renders it in comments) of starts per hour (or per day)."""
    labels, values, axis = _series(figures)
    top = max(values, default=0) or 1
    if len(labels) > 24:
        x_axis = (
            f'    x-axis "{axis}, from {format_timestamp(figures.start)[:16]}Z" 1 --> {len(labels)}'
        )
    else:
        x_axis = "    x-axis [" + ", ".join(f'"{_mermaid(x)}"' for x in labels) + "]"
    return "\n".join(
        [
            "```mermaid",
            "xychart-beta",
            f'    title "{_mermaid(title)}"',
            x_axis,
            f'    y-axis "starts" 0 --> {top}',
            "    bar [" + ", ".join(str(v) for v in values) + "]",
            "```",
        ]
    )


def markdown(impact: Impact, max_chars: int = 60_000) -> str:
    """Charts before and after, a short table, then groups and minutes while ``max_chars`` lasts.

    The result is never longer than ``max_chars``: a plan's PR comment has its own budget, and
    what does not fit is counted in a closing line instead.
    """
    a, b = impact.after, impact.before
    head = ["#### Schedule", ""]
    if b:
        head += [mermaid_chart(b, "before: starts per hour"), ""]
    head += [mermaid_chart(a, "after: starts per hour" if b else "starts per hour"), ""]

    def cell(f: Figures | None, value: Any) -> str:
        return "-" if f is None else str(value(f))

    rows = [
        ("runs in the window", lambda f: f.total_runs),
        ("runs per day", lambda f: f"{f.runs_per_day:.0f}"),
        ("peak starts per minute", lambda f: f.peak),
        ("collision groups", lambda f: len(f.collisions)),
        (
            "longest quiet window",
            lambda f: format_duration(f.quiet[0].length) if f.quiet else "-",
        ),
    ]
    head += ["| | before | after |", "|---|---:|---:|"]
    head += [f"| {name} | {cell(b, fn)} | {cell(a, fn)} |" for name, fn in rows]
    head.append("")
    body: list[str] = []
    body += [f"- :warning: {_md(w)}" for w in _md_warnings(impact)]
    groups = impact.created if b else a.collisions
    if groups:
        body.append("")
        body.append("Collision groups" + (" this change creates:" if b else ":"))
        body += [f"- {_group_line(g, a.collide, _md)}" for g in groups]
    if a.busiest:
        body += ["", "Busiest minutes:"]
        body += [
            f"- {format_timestamp(m.start)}: {m.starts} starts ({_names(m.tags, _md, 5)})"
            for m in a.busiest
        ]
    if impact.spread:
        s = impact.spread
        body += ["", f"Spread: peak starts per minute {s.peak_before} -> {s.peak_after}"]
        body += [
            f"- {_md(p.tag)}: {format_timestamp(p.old_start_at)} -> "
            f"{format_timestamp(p.new_start_at)}"
            for p in s.proposals
        ]
    return _fit(head, body, max_chars)


def _md_warnings(impact: Impact) -> list[str]:
    return impact.warnings(max_names=MAX_NAMES)


def _fit(head: list[str], body: list[str], max_chars: int) -> str:
    """Head, then body lines while they fit, then a line counting the rest; within max_chars."""
    note = "\n_{} more lines not shown: `reconciler schedule --format json` has them all._\n"
    out = "\n".join(head) + "\n"
    if len(out) > max_chars:
        return out[: max(0, max_chars - 2)].rsplit("\n", 1)[0] + "\n"
    for i, line in enumerate(body):
        rest = len(body) - i
        reserve = len(note.format(rest))
        if len(out) + len(line) + 1 + reserve > max_chars and (
            len(out) + len(line) + 1 > max_chars or i < len(body) - 1
        ):
            return out + note.format(rest)
        out += line + "\n"
    return out


# --- svg ----------------------------------------------------------------------------------------

_CELL = 14
_LEFT = 84
_TOP = 40


def _panel(figures: Figures, title: str, y0: int) -> tuple[list[str], int]:
    peak = figures.max_hour
    parts = [f'<text x="{_LEFT}" y="{y0 + 16}" class="title">{_xml(title)}</text>']
    for h in range(0, 24, 3):
        x = _LEFT + h * _CELL
        parts.append(f'<text x="{x}" y="{y0 + 32}" class="label">{h:02d}</text>')
    for r, row in enumerate(figures.grid):
        y = y0 + _TOP + r * _CELL
        day = format_timestamp(row.day)[:10]
        parts.append(f'<text x="4" y="{y + 11}" class="label">{day}</text>')
        for h, count in enumerate(row.hours):
            if count is None:
                continue
            fill = _SVG_FILL[level(count, peak)]
            parts.append(
                f'<rect x="{_LEFT + h * _CELL}" y="{y}" width="{_CELL - 1}" '
                f'height="{_CELL - 1}" fill="{fill}"><title>{day} {h:02d}:00Z: {count}'
                "</title></rect>"
            )
    return parts, _TOP + len(figures.grid) * _CELL + 20


def svg(impact: Impact, title: str = "reconciler schedule") -> str:
    """A self-contained SVG: the heatmap before and after (or alone offline), and a legend."""
    panels = [("live (before)", impact.before), ("manifests (after)", impact.after)]
    if impact.before is None:
        panels = [("runs per hour (UTC)", impact.after)]
    body: list[str] = []
    y = 28
    for name, figures in panels:
        if figures is None:
            continue
        heading = (
            f"{name}: {figures.total_runs} runs, peak {figures.peak} starts/min, "
            f"busiest hour {figures.max_hour}"
        )
        parts, height = _panel(figures, heading, y)
        body += parts
        y += height
    for i, fill in enumerate(_SVG_FILL):
        x = _LEFT + i * 60
        body.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{fill}"/>')
        label = "none" if i == 0 else f"{'<=' if i < 4 else '>'} {i * 25 if i < 4 else 75}%"
        body.append(f'<text x="{x + 16}" y="{y + 11}" class="label">{_xml(label)}</text>')
    width = _LEFT + 24 * _CELL + 200
    height = y + 24
    return "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
            f"<title>{_xml(title)}</title>",
            "<style>.title{font-size:13px;font-weight:bold}.label{font-size:10px;fill:#444}</style>",
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
            f'<text x="4" y="16" class="title" data-title={_attr(title)}>{_xml(title)}</text>',
            *body,
            "</svg>",
            "",
        ]
    )


# --- json ---------------------------------------------------------------------------------------


def _moment(ms: int) -> dict[str, Any]:
    return {"ms": ms, "utc": format_timestamp(ms)}


def _group(g: Collision) -> dict[str, Any]:
    return {
        "tags": list(g.tags),
        "size": g.size,
        "period_ms": g.period,
        "first": _moment(g.first),
        "span_ms": g.span,
        "occurrences": g.occurrences,
        "when": g.when(),
    }


def _number(value: float) -> int | float:
    rounded = round(value, 3)
    return int(rounded) if rounded.is_integer() else rounded


def figures_dict(f: Figures) -> dict[str, Any]:
    return {
        "jobs": f.jobs,
        "active_jobs": f.active,
        "total_runs": f.total_runs,
        # A whole number stays an integer: a saved plan holds whole numbers only, and a
        # plan's one-day window always gives one.
        "runs_per_day": _number(f.runs_per_day),
        "peak_starts_per_minute": f.peak,
        "runs_per_hour": [
            {"day": format_timestamp(r.day)[:10], "hours": list(r.hours)} for r in f.grid
        ],
        "busiest_minutes": [
            {"start": _moment(m.start), "starts": m.starts, "tags": list(m.tags)} for m in f.busiest
        ],
        "collision_groups": [_group(g) for g in f.collisions],
        "collisions_complete": f.collisions_complete,
        "quiet_windows": [
            {"start": _moment(q.start), "end": _moment(q.end), "length_ms": q.length}
            for q in f.quiet
        ],
        "frequent": [
            {"tag": j.tag, "name": j.name, "intervals_ms": j.intervals, "runs": j.runs}
            for j in f.frequent
        ],
    }


def document(impact: Impact) -> dict[str, Any]:
    """The versioned JSON document (schemas/schedule-report.schema.json)."""
    a = impact.after
    s = impact.spread
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "window": {"start": _moment(a.start), "end": _moment(a.end)},
        "collide_ms": a.collide,
        "after": figures_dict(a),
        "before": figures_dict(impact.before) if impact.before else None,
        "created_groups": [_group(g) for g in impact.created],
        "warnings": impact.warnings(),
        "spread": None
        if s is None
        else {
            "between": None if s.between is None else [_clock(s.between[0]), _clock(s.between[1])],
            "peak_before": s.peak_before,
            "peak_after": s.peak_after,
            "proposals": [
                {
                    "tag": p.tag,
                    "intervals_ms": p.intervals,
                    "old_start_at": _moment(p.old_start_at),
                    "new_start_at": _moment(p.new_start_at),
                }
                for p in s.proposals
            ],
        },
    }


def _clock(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}"


def json_text(impact: Impact) -> str:
    # Strings are data here: JSON encodes every character.
    return json.dumps(document(impact)) + "\n"
