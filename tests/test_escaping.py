"""Every untrusted string, escaped, in every format, checked by real parsers.

Every report of every command (validate, plan, show, drift, apply, and a stopped product) is
rendered in every format with a hostile value in every untrusted slot: file name, tag, name,
event_tag, product, target, server message, field name, both sides of a rename. The output
is then read as its consumer reads it:

- Markdown: cmark-gfm (GitHub's renderer, with GitHub's extensions, raw HTML let through as
  GitHub does before its sanitiser) into HTML, read by html.parser: only the elements we
  write, and no hostile text outside code, where GitHub would link a mention, a reference or
  a URL;
- github: the runner's workflow-command grammar (every line that starts with ``::`` after the
  indent is trimmed is one annotation we wrote, its properties and message escaped; no legacy
  ``##[`` anywhere);
- JSON: strict UTF-8 bytes, ``json.loads``, no lone surrogate in any string;
- text: no C0 or C1 control character, ESC, bidi override or lone surrogate.

The records are the real ones (Outcome, Plan, Change, Job, Result); the last tests run the
installed command against a real store and a real local server holding a hostile live tag.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options as CmarkOptions

from reconciler.apply import Result
from reconciler.diff import FieldChange
from reconciler.model import EventType, Job, Location, Problem
from reconciler.outcome import REPORT_BY_COMMAND as REPORT
from reconciler.outcome import Outcome
from reconciler.plan import Action, Change, Plan
from reconciler.render import FORMATS, REPORTER_BY_NAME, Options
from testing.process import EXAMPLES, SCRIPT, clean_env
from testing.server import running_server

NOW = 1_800_000_000_000  # 2027-01-15: a fixed clock, so no schedule depends on today

# One value for every attack at once, and each attack alone (so one cannot hide another).
PARTS = [
    "\n::error file=README.md,line=1::forged",
    "\r::warning::forged",
    "\x1b]8;;https://evil.example\x07link\x1b]8;;\x07",
    "\x1b[31mred\x1b[0m",
    "\x9b31m",
    "<img src=x onerror=alert(1)>",
    "</details></summary><script>alert(1)</script>",
    "@octocat",
    "#123",
    "https://evil.example/x",
    "www.evil.example",
    "`tick`` ```",
    "a | b || c",
    "*_[x](https://evil.example)_*~~s~~",
    "&amp; &lt;b&gt; &#64;octocat",
    "\udcff",
    "\u202eevil\u202c",
    "##[error]legacy",
    "%0A::error::percent",
    " ",
]
HOSTILE = ["job" + "".join(PARTS), *("job" + part for part in PARTS)]
# What must never be live in rendered Markdown: found only inside code, or not at all.
MARKERS = ("octocat", "#123", "evil.example", "onerror", "alert(1)", "forged")


def job(tag: str, name: str = "Job", event_tag: str = "fn", intervals: int = 3_600_000) -> Job:
    return Job(tag, name, EventType.FUNCTION, event_tag, 0, intervals, NOW)


def outcomes(h: str) -> dict[str, list[Outcome]]:
    """Every report of every command, with ``h`` in every untrusted slot."""
    where = Location(h + ".yaml", 3, 1)
    problems = (
        Problem(where, h, tag=h, field=h),
        Problem(Location(h), h, tag=h, field="name", severity="warning"),
        Problem(Location(""), h),
        # A file name that would start a log line: the runner trims the indent, then reads ::.
        Problem(Location("::error file=README.md,line=1::" + h, 1, 1), h),
        Problem(Location(" ::warning::" + h), h, severity="warning"),
    )
    desired = job(h, name=h, event_tag=h)
    live = job(h, name="old " + h, event_tag="old" + h, intervals=1_800_000)
    created = Change(Action.CREATE, h + "new", job(h + "new", h, h), source=where, rename=h)
    update = Change(
        Action.UPDATE,
        h,
        desired,
        live,
        (
            FieldChange("name", live.name, h),
            FieldChange("event_tag", live.event_tag, h),
            FieldChange("intervals", live.intervals, desired.intervals),
            FieldChange(h, h, h),  # a field name from a plan file may be anything
        ),
        source=where,
    )
    orphan = Change(Action.ORPHAN, h, None, job(h, h, h), rename=h + "new")
    foreign = Change(Action.FOREIGN, h + "f", None, job(h + "f", h, h))
    same = Change(Action.UNCHANGED, h + "u", job(h + "u", h, h), job(h + "u", h, h), source=where)
    plan = Plan((created, update, same, orphan, foreign), target=h)
    results = (
        Result(created, "ok", id="a" * 24),
        Result(update, "failed", error=h),
        Result(created, "unknown", error=h),
        Result(update, "skipped", error=h),
    )
    # The header's slots too: a commit is checked as hex where it is read, but a report may
    # hold anything; the paths are as the command line gave them.
    base: dict[str, Any] = {
        "product": h, "target": h, "now": NOW, "files": 2, "commit": h, "paths": (h, h + "2")
    }  # fmt: skip
    common = {**base, "problems": problems[1:], "files_with_problems": 1}
    return {
        "validate": [
            REPORT["validate"](problems=problems, files_with_problems=2, **base),
            REPORT["validate"](jobs=3, **common),
        ],
        "plan": [REPORT["plan"](plan=plan, **common)],
        "show": [REPORT["show"](plan=plan, **common)],
        "drift": [REPORT["drift"](plan=plan, **common)],
        "apply": [
            REPORT["apply"](plan=plan, results=results, stopped="too many failures", **common)
        ],
        "error": [REPORT[c](error=h, **base) for c in ("plan", "drift", "apply", "validate")],
        "unnamed": [REPORT["plan"](plan=plan, target=h, now=NOW)],
    }


# --- the checkers: one per format, each a real parser of what the consumer reads -----------

_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(text: str) -> None:
    """What a terminal or a CI log gets: nothing it would act on, and valid UTF-8."""
    assert not _CONTROL.search(text), repr(_CONTROL.search(text))
    assert not _SURROGATE.search(text)
    text.encode("utf-8")  # strict
    assert "##[" not in text, "the runner's legacy command prefix, read anywhere in a line"
    for line in text.splitlines():
        assert not line.lstrip().startswith("::"), line


_COMMAND = re.compile(r"::(?P<kind>error|warning|notice) (?P<props>[^:]*)::(?P<data>.*)")
_PROPERTY = re.compile(r"(file|line|col|title)=([^,:\r\n]*)")


def _percent_ok(text: str, allowed: tuple[str, ...]) -> bool:
    return all(text[i + 1 : i + 3] in allowed for i, c in enumerate(text) if c == "%")


def check_github(text: str, expected_commands: int) -> None:
    """The runner's grammar: every command line is one annotation we wrote, well escaped."""
    commands = [line for line in text.splitlines() if line.lstrip().startswith("::")]
    assert len(commands) == expected_commands, commands
    for line in commands:
        match = _COMMAND.fullmatch(line)
        assert match, f"not an annotation we write: {line!r}"
        props = match["props"].split(",")
        for prop in props:
            found = _PROPERTY.fullmatch(prop)
            assert found, f"property not escaped: {prop!r} in {line!r}"
            assert _percent_ok(found[2], ("25", "0D", "0A", "3A", "2C")), prop
        assert _percent_ok(match["data"], ("25", "0D", "0A")), line
        assert props[-1].startswith("title=")
    check_text("\n".join(line for line in text.splitlines() if line not in commands))
    assert not _CONTROL.search(text) and "##[" not in text


# What our Markdown writes; anything else came from a value.
OUR_ELEMENTS = {
    "h3", "h4", "h5", "p", "strong", "code", "pre", "ul", "li", "details", "summary",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


OUR_ATTRIBUTES = {
    ("pre", "lang", "diff"),
    ("pre", "lang", "mermaid"),
    *((cell, "align", side) for cell in ("th", "td") for side in ("left", "right", "center")),
}


class _Reader(HTMLParser):
    """Elements, their nesting, and the text outside code and pre."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.live_text: list[str] = []
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        # Our fenced blocks are <pre lang="text"> (and "mermaid" for schedule charts), our
        # tables align numbers; any other attribute came from a value.
        self.attributes += [f"{k}={v}" for k, v in attrs if (tag, k, v) not in OUR_ATTRIBUTES]
        if tag not in ("br", "hr", "img", "input"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not {"code", "pre"} & set(self.stack):
            self.live_text.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def markdown_html(text: str) -> str:
    """GitHub's renderer with its comment extensions; raw HTML kept, as before its sanitiser."""
    return cmarkgfm.github_flavored_markdown_to_html(text, options=CmarkOptions.CMARK_OPT_UNSAFE)


def check_markdown(text: str, expected_details: int) -> None:
    html = markdown_html(text)
    reader = _Reader()
    reader.feed(html)
    reader.close()
    assert not reader.stack, f"unclosed: {reader.stack}"
    assert set(reader.tags) <= OUR_ELEMENTS, set(reader.tags) - OUR_ELEMENTS
    assert reader.tags.count("details") == expected_details
    assert reader.attributes == [], reader.attributes  # no link, no image, no handler
    live = "".join(reader.live_text)
    for marker in MARKERS:
        assert marker not in live, f"{marker!r} is live in: {live!r}"
    # A mention or reference in text GitHub links: @name or #digits outside code.
    assert not re.search(r"(?<![\w`])@[A-Za-z0-9]", live)
    assert not re.search(r"(?<![\w&])#\d", live)
    assert reader.comments == ["reconciler-report"] or reader.comments == [" reconciler-report "]
    check_text(text)


def check_json(text: str) -> Any:
    data = json.loads(text.encode("utf-8").decode("utf-8", "strict"))

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for k, v in value.items():
                yield k
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)

    for s in strings(data):
        assert not _SURROGATE.search(s), repr(s)
    return data


def check(fmt: str, out: str, err: str, commands: int, details: int) -> None:
    if fmt == "text":
        check_text(out + err)
    elif fmt == "github":
        check_github(out, commands)
        check_text(err)
    elif fmt == "markdown":
        check_markdown(out, details)
        check_text(err)
    else:
        check_json(out)
        check_text(err)


def _expected(report: list[Outcome], verbose: bool, quiet: bool = False) -> tuple[int, int]:
    """Annotations (github) and collapsed sections (markdown) a report should have."""
    commands = details = 0
    for o in report:
        commands += len(o.problems) + (1 if o.error else 0)
        if o.plan is None or o.error or quiet:
            continue
        if o.command == "drift":
            drifted = o.plan.of(Action.CREATE, Action.UPDATE, Action.ORPHAN)
            commands += len(drifted)
            details += sum(1 for c in drifted if c.fields)
        else:
            commands += len(o.plan.of(Action.CREATE, Action.UPDATE, Action.ORPHAN))
            if getattr(o, "results", None) is None:
                details += len(o.plan.of(Action.CREATE, Action.UPDATE, Action.ORPHAN))
    return commands, details


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("verbose", "quiet"), [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("index", range(len(HOSTILE)))
def test_every_report_in_every_format_escapes_every_slot(
    fmt: str, verbose: bool, quiet: bool, index: int
) -> None:
    hostile = HOSTILE[index]
    for name, report in outcomes(hostile).items():
        rendered = REPORTER_BY_NAME[fmt](report, Options(verbose=verbose, quiet=quiet))
        commands, details = _expected(report, verbose, quiet)
        try:
            check(fmt, rendered.out, rendered.err, commands, details)
        except AssertionError as exc:
            raise AssertionError(f"{name} in {fmt}: {exc}") from exc


def test_several_products_in_one_report_are_checked_too() -> None:
    report = [o for h in HOSTILE[:3] for o in outcomes(h)["plan"]]
    for fmt in FORMATS:
        rendered = REPORTER_BY_NAME[fmt](report, Options())
        check(fmt, rendered.out, rendered.err, *_expected(report, False))


def test_json_keeps_values_as_data_with_surrogates_replaced() -> None:
    hostile = HOSTILE[0]
    doc = check_json(REPORTER_BY_NAME["json"](outcomes(hostile)["plan"], Options()).out)
    assert doc["products"][0]["name"] == hostile.replace("\udcff", "\ufffd")
    tags = [c["tag"] for c in doc["products"][0]["report"]["changes"]]
    assert hostile.replace("\udcff", "\ufffd") in tags


def test_the_terminal_shows_each_escape_as_text() -> None:
    hostile = "a\x1b[31m\n::error::x\udcff\u202e##[error]"
    out = REPORTER_BY_NAME["text"](outcomes(hostile)["plan"], Options()).out
    assert "Target: a\\x1b[31m\\x0a::error::x\\udcff\\u202e##\\x5berror]" in out
    assert "likely a rename of a\\x1b[31m" in out


def test_the_checkers_catch_what_they_guard() -> None:
    """Each checker fails on the raw attack it exists for, so a green run means something."""
    with pytest.raises(AssertionError):
        check_text("Target: \x1b]8;;x\x07")
    with pytest.raises(AssertionError):
        check_github("Target: x\n::error file=README.md,line=1::forged\n", 0)
    with pytest.raises(AssertionError):
        check_github("::error title=a:b::x\n", 1)
    with pytest.raises(AssertionError):
        check_markdown("<!-- reconciler-report -->\n<details><summary><img src=x></summary>\n", 0)
    with pytest.raises(AssertionError):
        check_markdown("<!-- reconciler-report -->\nhello @octocat\n", 0)
    with pytest.raises(AssertionError):
        check_markdown("<!-- reconciler-report -->\nsee https://evil.example\n", 0)
    with pytest.raises(AssertionError):
        check_json('{"tag": "\\udcff"}')


# --- the real command: a hostile live tag in a real store and behind a real server --------


def _hostile_row(db: Path, product_id: str, tag: str, name: str) -> None:
    """A live job no client could write: put straight into the store's SQLite file."""
    conn = sqlite3.connect(db)
    try:
        doc = {
            "_id": "f" * 24,
            "tag": tag,
            "name": name,
            "event_type": "function",
            "event_tag": tag,
            "executions": 0,
            "intervals": 3_600_000,
            "start_at": NOW,
        }
        conn.execute(
            "INSERT INTO jobs (id, product_id, tag, doc) VALUES (?, ?, ?, ?)",
            # SQLite text cannot hold a lone surrogate; the doc (JSON, escaped) does.
            ("f" * 24, product_id, tag.replace("\udcff", "?"), json.dumps(doc)),
        )
        conn.commit()
    finally:
        conn.close()


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    proc = subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        env={**env, "PYTHONIOENCODING": "utf-8", "NO_COLOR": "1"},
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    # Strict: a lone surrogate or a stray byte in the output is itself a failure.
    return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")


def _check_cli(fmt: str, out: str, err: str) -> None:
    if fmt == "text":
        check_text(out + err)
    elif fmt == "github":
        commands = [line for line in out.splitlines() if line.startswith("::")]
        check_github(out, len(commands))  # the grammar holds for every command line
        for line in commands:  # the hostile tag stays inside its title, escaped
            props = dict(p.split("=", 1) for p in line.split(" ", 1)[1].split("::")[0].split(","))
            assert props.get("file") != "README.md" and len(props) <= 4, line
        check_text(err)
    elif fmt == "markdown":
        check_markdown(out, out.count("<details>"))
        check_text(err)
    else:
        check_json(out)
        check_text(err)


@pytest.mark.parametrize("hostile", [HOSTILE[0], "job\udcff", "job\u202e@octocat\n::error::x"])
@pytest.mark.slow
@pytest.mark.process
def test_a_hostile_live_tag_in_the_embedded_store_in_every_format(
    tmp_path: Path, hostile: str
) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "a.yaml").write_text((EXAMPLES / "billing" / "jobs.yaml").read_text())
    env = clean_env()
    code, _, err = _run(["apply", "jobs", "--auto-approve"], tmp_path, env)
    assert code == 0, err
    db = tmp_path / ".reconciler" / "local.db"
    product = sqlite3.connect(db).execute("SELECT id FROM products").fetchone()[0]
    _hostile_row(db, product, hostile, hostile)
    _plan_and_drift_in_every_format(tmp_path, env)


def _plan_and_drift_in_every_format(cwd: Path, env: dict[str, str]) -> None:
    """plan and drift of ``cwd/jobs`` in every format, each output checked for its context."""
    for command in ("plan", "drift"):
        for fmt in FORMATS:
            code, out, err = _run([command, "jobs", "-v", "--format", fmt], cwd, env)
            assert code in (0, 2), (command, fmt, code, err)
            _check_cli(fmt, out, err)


@pytest.mark.slow
@pytest.mark.process
def test_a_hostile_live_tag_behind_the_local_server_in_every_format(tmp_path: Path) -> None:
    # No lone surrogate here: the server cannot send one as JSON (issue 14, another item).
    hostile = HOSTILE[0].replace("\udcff", "")
    with running_server(tmp_path / "server.db") as server:
        _hostile_row(Path(server.db_path), server.product_id, hostile, hostile)
        env = clean_env(**server.client_env())
        jobs = tmp_path / "jobs"
        jobs.mkdir()
        (jobs / "a.yaml").write_text((EXAMPLES / "billing" / "jobs.yaml").read_text())
        _plan_and_drift_in_every_format(tmp_path, env)


@pytest.mark.slow
@pytest.mark.process
def test_a_non_utf8_file_name_with_a_utf8_stream(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    # A name no UTF-8 decoder reads: Python sees it as a lone surrogate (\udcff).
    bad = str(jobs).encode() + b"/bad\xff@octocat\n::error::x.yaml"
    with open(bad, "w") as handle:
        handle.write("tag: [unclosed\n")
    for fmt in FORMATS:
        code, out, err = _run(["validate", "jobs", "--format", fmt], tmp_path, clean_env())
        assert code == 1, (fmt, code, err)
        _check_cli(fmt, out, err)
        assert "bad" in out + err
