"""What reconciler is measured against: the in-process floor, check-jsonschema, deepdiff."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from .dataset import Dataset
from .measure import CommandFailed, median_time, run

REPO = Path(__file__).resolve().parent.parent.parent
SCHEMA_PATH = REPO / "schemas" / "job.schema.json"

# --- the floor: read, parse with libyaml, validate with a compiled validator, in-process -------

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


def _without_timestamps(base: type[Any]) -> type[Any]:
    """A loader that keeps timestamps as text, as reconciler does (the schema wants strings)."""
    resolvers = {
        first: [(tag, regexp) for tag, regexp in pairs if tag != _TIMESTAMP_TAG]
        for first, pairs in base.yaml_implicit_resolvers.items()
    }
    return type(f"Text{base.__name__}", (base,), {"yaml_implicit_resolvers": resolvers})


C_LOADER = _without_timestamps(getattr(yaml, "CSafeLoader", yaml.SafeLoader))
PY_LOADER = _without_timestamps(yaml.SafeLoader)
LIBYAML = bool(getattr(yaml, "__with_libyaml__", False))


def walk(root: Path) -> list[str]:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        found.extend(os.path.join(dirpath, n) for n in filenames if n.endswith((".yaml", ".yml")))
    return sorted(found)


def compiled_validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def floor_pass(root: Path, validator: Draft202012Validator) -> int:
    """Find, read, parse (C loader) and validate every manifest; the count of valid docs."""
    valid = 0
    for path in walk(root):
        with open(path, "rb") as handle:
            text = handle.read()
        for doc in yaml.load_all(text, Loader=C_LOADER):
            if validator.is_valid(doc):
                valid += 1
            else:
                errors = list(validator.iter_errors(doc))
                raise CommandFailed(f"floor: {path} invalid: {errors[0].message}")
    return valid


def parse_only(root: Path, loader: type[Any]) -> int:
    count = 0
    for path in walk(root):
        with open(path, "rb") as handle:
            count += len(list(yaml.load_all(handle.read(), Loader=loader)))
    return count


# --- check-jsonschema: the peer tool ----------------------------------------------------------


def find_peer(quick: bool, given: str | None) -> tuple[list[str] | None, str]:
    """The peer's command, or None and why it is not measured."""
    if quick:
        return None, "n/a (skipped: --quick)"
    candidates: list[str | None] = [given] if given else []
    candidates.append(shutil.which("check-jsonschema"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return [candidate], ""
    return None, (
        "n/a (check-jsonschema not found: pip install check-jsonschema, "
        "or pass --check-jsonschema PATH)"
    )


def batches(args: Sequence[str], fixed: Sequence[str]) -> list[list[str]]:
    """Split ``args`` so each command line stays well under ARG_MAX (with the environment)."""
    try:
        arg_max = os.sysconf("SC_ARG_MAX")
    except (ValueError, OSError):
        arg_max = 131_072
    env_size = sum(len(k) + len(v) + 2 for k, v in os.environ.items())
    budget = max(arg_max // 2 - env_size - sum(len(a) + 9 for a in fixed), 4096)
    out: list[list[str]] = [[]]
    used = 0
    for arg in args:
        cost = len(arg) + 9  # the string, its NUL and its pointer
        if out[-1] and used + cost > budget:
            out.append([])
            used = 0
        out[-1].append(arg)
        used += cost
    return out


def peer_figures(data: Dataset, peer: list[str], repeat: int) -> dict[str, Any]:
    """check-jsonschema on every file, batched under ARG_MAX, batch times summed."""
    fixed = [*peer, "--schemafile", str(SCHEMA_PATH)]
    groups = batches(data.files, fixed)

    def all_batches() -> None:
        for group in groups:
            run([*fixed, *group], cwd=data.root)

    return {
        "check_jsonschema_batches": len(groups),
        "check_jsonschema_s": median_time(all_batches, repeat),
    }


# --- deepdiff: the general diff reconciler.diff wraps ------------------------------------------


def diff_figures(data: Dataset, repeat: int) -> dict[str, float]:
    """deepdiff on every (live, desired) pair vs field_changes on the pairs that differ."""
    from deepdiff import DeepDiff

    from reconciler.diff import field_changes

    wire = [(live.to_wire(), want.to_wire()) for live, want in data.pairs]
    differing = [(live, want) for live, want in data.pairs if live != want]
    return {
        "deepdiff_all_pairs_s": median_time(
            lambda: [DeepDiff(a, b, view="tree") for a, b in wire], repeat
        ),
        "field_changes_differing_s": median_time(
            lambda: [field_changes(a, b) for a, b in differing], repeat
        ),
    }
