"""The JSON Schemas, loaded once from the package, and problems with file:line:col.

This is the only module that imports jsonschema (and jsonschema-rs). The job schema is the
same file editors use (``schemas/job.schema.json``), shipped inside the package and read
from beside this module; so is the saved plan's (``schemas/plan.schema.json``), which
:func:`plan_file_problem` checks a plan file against before anything of it is used.

Two validators, one schema: jsonschema-rs answers "is this document valid?" about fifty times
faster than jsonschema, and nearly every document is valid; jsonschema then explains the few
that are not, in the words and paths our messages are built from.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from .manifests import Document, show_text
from .model import Problem, event_type_hint, misspelt_duration, quoted_number, show, suggest
from .strings import shorten

if TYPE_CHECKING:
    # The python jsonschema is the explainer: imported only when a document is invalid (or a
    # schema is checked), since it costs a short command a third of its start-up.
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SCHEMA_RESOURCE = ("schemas", "job.schema.json")
PLAN_SCHEMA_RESOURCE = ("schemas", "plan.schema.json")


# A name, not an address: editors and validators match it, nothing fetches it. The last part
# is the schema's version, raised only when a manifest valid before would be refused.
JOB_SCHEMA_ID = "urn:ductape-reconciler:schema:job:1"
JOB_SCHEMA_FILE = SCHEMA_RESOURCE[-1]


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _packaged_text(resource: tuple[str, ...]) -> str:
    """A file shipped in the package: read beside this module, where every install puts it;
    through importlib.resources (whose imports cost a short command 15 ms) only when the
    package is not a directory on disk (run from a zip)."""
    try:
        with open(os.path.join(_PACKAGE_DIR, *resource), encoding="utf-8") as file:
            return file.read()
    except OSError:
        from importlib import resources

        return resources.files("reconciler").joinpath(*resource).read_text(encoding="utf-8")


def _packaged(resource: tuple[str, ...]) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(_packaged_text(resource))
    return schema


def job_schema_text() -> str:
    """The job schema exactly as shipped, for ``reconciler schema`` to print or keep."""
    return _packaged_text(SCHEMA_RESOURCE)


@functools.lru_cache(maxsize=1)
def job_schema() -> dict[str, Any]:
    """The job schema as a dict, read from the installed package."""
    return _packaged(SCHEMA_RESOURCE)


@functools.lru_cache(maxsize=1)
def plan_schema() -> dict[str, Any]:
    """The saved plan's schema (the ``reconciler-plan`` document), read from the package."""
    return _packaged(PLAN_SCHEMA_RESOURCE)


def _reference(schema: Mapping[str, Any]) -> Draft202012Validator:
    """The explaining validator of ``schema``, the schema itself checked first."""
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@functools.lru_cache(maxsize=1)
def _fast_plan_validator() -> Any:
    return jsonschema_rs.validator_for(plan_schema())


@functools.lru_cache(maxsize=1)
def _plan_validator() -> Draft202012Validator:
    return _reference(plan_schema())


def plan_file_problem(data: Any) -> str | None:
    """The first way a parsed plan document breaks its schema, as ``path: message``; None if
    it holds to it.

    As for jobs, jsonschema-rs answers whether the document is valid and jsonschema explains
    one that is not. Jobs inside are checked here for shape only: the caller rebuilds each
    one through the job schema and the model, as a manifest's.
    """
    try:
        if _fast_plan_validator().is_valid(data):
            return None
    except (ValueError, TypeError, OverflowError):
        pass  # a number too large for the fast validator: the reference one explains it
    from jsonschema.exceptions import best_match

    error = best_match(_plan_validator().iter_errors(data))
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    message = error.message
    if error.validator == "type":
        expected = error.validator_value
        names = expected if isinstance(expected, list) else [expected]
        want = " or ".join(_EXPECTED.get(str(n), str(n)) for n in names)
        message = f"{_shown(error.instance, None)} is not {want}"
    return shorten(f"{where.lstrip('.') or 'the document'}: {message}", MESSAGE_LIMIT)


@functools.lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    # Built once: checking the schema itself on every document (what jsonschema.validate()
    # does) costs twenty times the validation.
    return _reference(job_schema())


@functools.lru_cache(maxsize=1)
def _fast_validator() -> Any:
    return jsonschema_rs.validator_for(job_schema())


def is_valid(data: Any) -> bool:
    """Whether a document satisfies the schema (the fast validator's answer)."""
    try:
        return bool(_fast_validator().is_valid(data))
    except (ValueError, TypeError):
        # A value JSON has no type for (an explicit !!timestamp or !!binary in YAML): the
        # fast validator refuses to look; the reference one calls it the wrong type.
        return bool(_validator().is_valid(data))


def check_document(document: Document) -> list[Problem]:
    """Every schema problem of one document, each placed on the offending key or value.

    Empty when valid. Should the two validators ever disagree, jsonschema (the reference
    implementation) decides: a document it finds nothing wrong with is valid.
    """
    if is_valid(document.data):
        return []
    validator = _validator()
    # One `required` error per missing field, each explained as all missing: keep distinct ones.
    problems = {
        problem
        for error in validator.iter_errors(document.data)
        for problem in _problems(document, error)
    }
    return sorted(problems, key=lambda p: (p.location, p.field or "", p.message))


def check_value(data: Any) -> list[str]:
    """Schema problems of a job body from elsewhere (the local server), as ``field: message``."""
    if is_valid(data):
        return []
    validator = _validator()
    out = {
        shorten(f"{name}: {message}" if name else message, MESSAGE_LIMIT)
        for error in validator.iter_errors(data)
        for name, message in _explain(error, data, None)
    }
    return sorted(out)


# Messages quote the offending value in a short form; a pasted blob must not flood a CI log.
MESSAGE_LIMIT = 300


def _problems(document: Document, error: ValidationError) -> Iterator[Problem]:
    for name, message in _explain(error, document.data, document.written):
        if error.validator == "additionalProperties" and name:
            where = document.key(name)
        elif error.validator == "required":
            where = document.start
        else:
            where = document.where(name)
        yield Problem(where, shorten(message, MESSAGE_LIMIT), tag=document.tag, field=name)


_EXPECTED = {
    "string": "text",
    "integer": "a whole number",
    "object": "a mapping",
    "array": "a list",
}


def _explain(
    error: ValidationError, instance: Any, written: Mapping[str, str] | None
) -> Iterator[tuple[str | None, str]]:
    """(field, message) for an error, in words a person would use.

    Values are shown as they were written (``yes``, ``010``, an empty value), not as Python
    holds them (``True``, ``8``, ``None``), and never longer than a few dozen characters.
    ``written`` is the manifest's text of its non-text values; None for a body that did not
    come from YAML (the server's PUT), where YAML's readings are not worth a word.
    """
    path = list(error.absolute_path)
    name = str(path[0]) if path else None
    properties = job_schema()["properties"]
    if error.validator == "required" and isinstance(instance, dict):
        required: list[str] = list(job_schema()["required"])
        # `startAt:` already says "did you mean 'start_at'?"; "start_at is required" adds nothing.
        meant = {suggest(key, properties) for key in instance if key not in properties}
        for missing in required:
            if missing not in instance and missing not in meant:
                yield missing, "is required"
        return
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        for extra in instance:
            if extra not in properties:
                near = suggest(extra, properties)
                hint = f"did you mean {near!r}?" if near else f"known: {', '.join(properties)}"
                yield str(extra), f"unknown field ({hint})"
        return
    if error.validator == "type" and not path:
        hint = "; write one job per document, with '---' between them"
        kind = _kind(error.instance)
        yield (
            None,
            f"a job must be a mapping of fields, not {kind}"
            + (hint if isinstance(error.instance, list) else ""),
        )
        return
    value: Any = error.instance
    quoted = quoted_number(name, value) if name and len(path) == 1 else None
    if quoted:
        yield name, quoted
        return
    as_written = written.get(name) if written and name and len(path) == 1 else None
    shown = _shown(value, as_written)
    if error.validator == "type" and len(path) == 1:
        yield name, _wrong_type(value, shown, str(error.validator_value), written is not None)
        return
    if error.validator in ("maximum", "minimum"):
        yield name, _out_of_range(shown, error.validator, error.validator_value)
        return
    if error.validator in ("maxLength", "minLength"):
        limit = error.validator_value
        yield (
            name,
            (
                f"{shown} is longer than {limit} characters"
                if error.validator == "maxLength"
                else f"{shown} must not be empty"
            ),
        )
        return
    custom = properties.get(name, {}).get("x-message") if name else None
    if custom and error.validator in ("oneOf", "anyOf", "pattern"):
        bounds = _int_branch(properties[name])
        if _is_int(value) and bounds is not None and int(value) > bounds[1]:
            yield name, _out_of_range(shown, "maximum", bounds[1])
            return
        if name == "event_type":
            yield name, f"{shown} {event_type_hint(value)}"
            return
        misspelt = misspelt_duration(value) if name == "intervals" else None
        if misspelt:
            yield name, misspelt
            return
        yield name, f"{shown} {custom}"
        return
    yield name, shorten(error.message, MESSAGE_LIMIT)


def _shown(value: Any, written: str | None) -> str:
    """The value as written, when YAML read it as something other than text."""
    if isinstance(value, (list, dict, tuple, set)):
        return _kind(value)
    if isinstance(value, bytes):
        return "binary data"
    if written is not None and not isinstance(value, str):
        return show_text(written)
    return show(value)


def _wrong_type(value: Any, shown: str, expected: str, from_yaml: bool) -> str:
    want = _EXPECTED.get(expected, expected)
    if not from_yaml:
        return f"{shown} is not {want}"
    if expected == "string" and isinstance(value, (bool, int, float)):
        what = "true or false" if isinstance(value, bool) else "a number"
        return f"{shown} is {what} to YAML, not text; quote it if you mean the text"
    if isinstance(value, bool):
        return f"{shown} is true or false to YAML, not {want}"
    if value is None and shown != "an empty value":
        return f"{shown} is null to YAML, not {want}"
    return f"{shown} is not {want}"


def _out_of_range(shown: str, validator: str, limit: Any) -> str:
    if validator == "maximum":
        return f"{shown} is more than {limit}, the largest number Ductape holds"
    return f"{shown} is less than {limit}"


def _int_branch(prop: Mapping[str, Any]) -> tuple[int, int] | None:
    for branch in prop.get("oneOf", ()):
        if branch.get("type") == "integer":
            return int(branch.get("minimum", 0)), int(branch["maximum"])
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    if value is None:
        return "an empty document"
    return {
        list: "a list",
        dict: "a mapping",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true or false",
        bytes: "binary data",
    }.get(type(value), type(value).__name__)


# --- other documents the package reads back (a snapshot) ------------------------------------


@functools.lru_cache(maxsize=4)
def _document_schema(name: str) -> dict[str, Any]:
    return _packaged(("schemas", name))


@functools.lru_cache(maxsize=4)
def _document_validator(name: str) -> Draft202012Validator:
    return _reference(_document_schema(name))


@functools.lru_cache(maxsize=4)
def _fast_document_validator(name: str) -> Any:
    return jsonschema_rs.validator_for(_document_schema(name))


def document_problems(name: str, data: Any) -> list[str]:
    """Problems of a JSON document against the package's schema ``name`` (for example
    ``snapshot.schema.json``), each ``<JSON path>: message``, shortest path first; [] if valid.

    As for jobs, the fast validator answers and jsonschema explains: a 100,000-job snapshot
    (22 MB) took 18 s to check in jsonschema, 0.1 s in jsonschema-rs.
    """
    if _fast_document_validator(name).is_valid(data):
        return []
    errors = sorted(
        _document_validator(name).iter_errors(data),
        key=lambda e: (len(e.absolute_path), e.json_path),
    )
    return [shorten(f"{e.json_path}: {e.message}", MESSAGE_LIMIT) for e in errors]
