"""Live jobs written as manifests: how a team takes over a product that already has jobs.

One file per job, named from its tag, fields in the schema's order, durations and timestamps
in their friendly forms (each reads back to exactly the same canonical value), and on top the
schema modeline when the repository keeps a copy of the schema (``reconciler schema
--write``). Strings are written as YAML double-quoted scalars with every character that is
not plainly printable escaped, so a hostile live tag cannot inject YAML.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

from .config import repository_root
from .errors import TargetError, UsageError
from .files import NotReplaced, write_atomic
from .model import FIELDS, Job, format_duration, format_timestamp, show
from .plan import select
from .schema import is_valid
from .strings import printable

SCHEMA_PATH = os.path.join("schemas", "job.schema.json")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def yaml_string(text: str) -> str:
    """A double-quoted YAML scalar for any string."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable() and unicodedata.category(char) != "Cf":
            out.append(char)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def manifest_text(job: Job, schema_ref: str | None) -> str:
    """The manifest for one job; loading it gives back ``job`` exactly."""
    wire = job.to_wire()
    timestamp = format_timestamp(job.start_at)
    values = {
        "tag": yaml_string(job.tag),
        "name": yaml_string(job.name),
        "event_type": job.event_type.value,
        "event_tag": yaml_string(job.event_tag),
        "executions": str(job.executions),
        "intervals": format_duration(job.intervals),
        # format_timestamp falls back to "<n>ms" past what a date can show: keep the integer.
        "start_at": timestamp if timestamp.endswith("Z") else str(job.start_at),
    }
    assert set(values) == set(wire)
    lines = [f"# yaml-language-server: $schema={schema_ref}"] if schema_ref else []
    lines += [f"{name}: {values[name]}" for name in FIELDS]
    return "\n".join(lines) + "\n"


def file_name(tag: str, taken: set[str]) -> str:
    """A safe, unique, visible file name for a tag (hidden files are not read as manifests)."""
    stem = _UNSAFE_NAME.sub("_", tag).lstrip(".")[:100] or "job"
    name, n = f"{stem}.yaml", 1
    while name.lower() in taken:
        n += 1
        name = f"{stem}-{n}.yaml"
    taken.add(name.lower())
    return name


def schema_ref(directory: str) -> str | None:
    """Where the modeline points: a copy of the job schema kept in the repository.

    The nearest ``schemas/job.schema.json`` from ``directory`` up to the repository root,
    as a path relative to ``directory`` (what a colleague's editor and CI can follow too);
    None without one. Never the installed package's file: that path is this machine's alone.
    """
    here = os.path.realpath(directory)
    root = repository_root(here)
    while True:
        candidate = os.path.join(here, SCHEMA_PATH)
        if os.path.isfile(candidate):
            return os.path.relpath(candidate, os.path.realpath(directory)).replace(os.sep, "/")
        parent = os.path.dirname(here)
        if here == root or parent == here:
            return None
        here = parent


def _refuse_shared_tags(jobs: Sequence[Job]) -> None:
    # Two manifests with one tag would be a repository that never validates, and whichever
    # copy it kept, the other would run unmanaged. The targets refuse this at the read
    # (naming the ids); this holds for whatever else hands export its jobs.
    counts = Counter(job.tag for job in jobs)
    shared = sorted(tag for tag, n in counts.items() if n > 1)
    if shared:
        tag = shared[0]
        raise TargetError(
            f"the product holds {counts[tag]} live jobs tagged {show(tag, 80)}; "
            "nothing was exported: remove or rename the extra ones in Ductape by hand"
        )


def export_jobs(
    jobs: Iterable[Job],
    out: str,
    only: Sequence[str] = (),
    exclude: Sequence[str] = (),
    force: bool = False,
) -> tuple[list[str], int, list[str]]:
    """Write one manifest per job under ``out``: (files written, jobs left out, warnings).

    A live job the schema would refuse (a tag written by another client that no manifest may
    hold) is not written: a warning names it. Refuses before writing anything when a file
    exists and ``force`` is not given.
    """
    jobs = sorted(jobs, key=lambda job: job.tag)
    _refuse_shared_tags(jobs)
    left_out = select((job.tag for job in jobs), only, exclude)
    chosen, warnings = [], []
    for job in jobs:
        if job.tag in left_out:
            continue
        if is_valid(job.to_wire()):
            chosen.append(job)
        else:
            warnings.append(
                f"live job {printable(repr(job.tag))} cannot be written as a manifest (the job "
                "schema refuses one of its values); skipped: rename it in Ductape first"
            )
    taken: set[str] = set()
    paths = [os.path.join(out, file_name(job.tag, taken)) for job in chosen]
    existing = [p for p in paths if os.path.lexists(p)]
    if existing and not force:
        shown = ", ".join(existing[:3]) + (
            f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        )
        raise UsageError(f"{shown} already exist(s); pass --force to overwrite")
    try:
        os.makedirs(out, exist_ok=True)
        ref = schema_ref(out)
        for job, path in zip(chosen, paths, strict=True):
            # Whole or not at all; a link or a special file at the path is refused.
            write_atomic(path, manifest_text(job, ref))
    except NotReplaced as exc:  # names the one file in the way
        raise UsageError(f"cannot write {exc.filename}: {exc.strerror}") from exc
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc.strerror}") from exc
    return paths, len(left_out), warnings
