"""The job JSON Schema, loaded once from the package, and problems with file:line:col.

This is the only module that imports jsonschema (and jsonschema-rs). The schema is the same
file editors use (``schemas/job.schema.json``), shipped inside the package and read through
importlib.resources.

Two validators, one schema: jsonschema-rs answers "is this document valid?" about fifty times
faster than jsonschema, and nearly every document is valid; jsonschema then explains the few
that are not, in the words and paths our messages are built from.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .manifests import Document
from .model import Problem

SCHEMA_RESOURCE = ("schemas", "job.schema.json")


@functools.lru_cache(maxsize=1)
def job_schema() -> dict[str, Any]:
    """The job schema as a dict, read from the installed package."""
    text = resources.files("reconciler").joinpath(*SCHEMA_RESOURCE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    # Built once: checking the schema itself on every document (what jsonschema.validate()
    # does) costs twenty times the validation.
    schema = job_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


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
        _cut(f"{name}: {message}" if name else message)
        for error in validator.iter_errors(data)
        for name, message in _explain(error, data)
    }
    return sorted(out)


def _problems(document: Document, error: ValidationError) -> Iterator[Problem]:
    for name, message in _explain(error, document.data):
        if error.validator == "additionalProperties" and name:
            where = document.key(name)
        elif error.validator == "required":
            where = document.start
        else:
            where = document.where(name)
        yield Problem(where, _cut(message), tag=document.tag, field=name)


def _cut(message: str, limit: int = 300) -> str:
    """Messages quote the offending value; a pasted blob must not flood a CI log."""
    return message if len(message) <= limit else message[: limit - 3] + "..."


def _explain(error: ValidationError, instance: Any) -> Iterator[tuple[str | None, str]]:
    """(field, message) for an error, in words a person would use."""
    path = list(error.absolute_path)
    name = str(path[0]) if path else None
    properties = job_schema()["properties"]
    if error.validator == "required" and isinstance(instance, dict):
        required: list[str] = list(job_schema()["required"])
        for missing in required:
            if missing not in instance:
                yield missing, "is required"
        return
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        for extra in instance:
            if extra not in properties:
                yield str(extra), f"unknown field (known: {', '.join(properties)})"
        return
    if error.validator == "type" and not path:
        yield None, f"a job must be a mapping of fields, not {_kind(error.instance)}"
        return
    custom = properties.get(name, {}).get("x-message") if name else None
    if custom and error.validator in ("oneOf", "anyOf", "pattern"):
        shown = repr(error.instance) if _short(error.instance) else _kind(error.instance)
        yield name, f"{shown} {custom}"
        return
    yield name, error.message


def _kind(value: Any) -> str:
    if value is None:
        return "an empty document"
    return {list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _short(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and len(repr(value)) <= 80
