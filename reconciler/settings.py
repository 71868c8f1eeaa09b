"""What to run: the command line, the environment and ``.reconciler.yaml`` resolved into one
:class:`RunSpec` per product, by one pure function (:func:`resolve`).

Precedence, for every setting: command-line flag > environment variable > the file > default.
The CLI only collects what was asked (:class:`Asked`, with where each value came from); every
rule about what wins, which products run and what an empty value means lives here, and is
tested without click.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from . import provenance
from .config import Config, ProductConfig, load_config, repository_root
from .defaults import DEFAULT_PRODUCT_PARALLELISM
from .errors import UsageError
from .model import MUTABLE_FIELDS
from .strings import printable
from .suggest import closest

if TYPE_CHECKING:  # an annotation only: validate opens no target
    from .targets import Origin

References = Literal["warn", "error", "off"]
TARGET_VARIABLE = "RECONCILER_TARGET"


@dataclass(frozen=True)
class RunSpec:
    """What to run for one product: manifests, target, and what the repository owns.

    ``home`` is where the embedded store lives when no target is named: beside the
    configuration file when there is one, so that a run from a subdirectory finds it.
    """

    paths: tuple[str, ...]
    name: str = ""
    target: str | None = None
    origin: Origin = "default"
    product: str | None = None
    owns: tuple[str, ...] = ("*",)
    ignore_fields: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    references: References = "warn"
    timeout: float | None = None
    strict: bool = False
    home: str = ""
    # schedule: in .reconciler.yaml: starts closer than ``collide`` ms collide; a plan that
    # raises the peak past ``max_starts_per_minute`` warns.
    collide: int = 60_000
    max_starts_per_minute: int = 10
    # How many products of the run are read and planned at once (the same in every spec).
    product_parallelism: int = DEFAULT_PRODUCT_PARALLELISM
    # The commit planned, for a report's header (GITHUB_SHA, else the repository's HEAD).
    commit: str | None = None
    # Where the target was written, for its messages.
    target_named: str = "--target"


@dataclass(frozen=True)
class Asked:
    """What the command line asked for, and whether each value came from a flag."""

    command: str
    paths: tuple[str, ...] = ()
    target: str | None = None  # from --target or RECONCILER_TARGET (click merges the two)
    target_given: bool = False
    target_from_env: bool = False  # RECONCILER_TARGET, not --target
    product: str | None = None
    product_from_flag: bool = False
    references: References = "warn"
    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    ignore_fields: tuple[str, ...] = ()
    only_product: str | None = None
    timeout: float | None = None
    strict: bool | None = None
    need_paths: bool = True
    product_parallelism: int = DEFAULT_PRODUCT_PARALLELISM


def from_command_line(
    command: str,
    paths: tuple[str, ...],
    run: Mapping[str, Any],
    source: Callable[[str], str | None],
    need_paths: bool = True,
) -> list[RunSpec]:
    """:func:`resolve` of what a command line asked, with the configuration its paths find.
    ``run``: the options of :class:`Asked`'s names; ``source(name)``: where an option's value
    came from (click's COMMANDLINE, ENVIRONMENT, DEFAULT)."""
    asked = Asked(
        command=command,
        paths=paths,
        target_given=source("target") in ("COMMANDLINE", "ENVIRONMENT"),
        target_from_env=source("target") == "ENVIRONMENT",
        product_from_flag=source("product") == "COMMANDLINE",
        need_paths=need_paths,
        **run,
    )
    return resolve(load_config(paths), asked, os.environ)


def did_you_mean(wanted: str, available: Sequence[str]) -> str:
    """``; did you mean a, b?`` for a name close to ones that exist, else empty."""
    close = closest(wanted, available, n=3)
    return f"; did you mean {printable(', '.join(close))}?" if close else ""


def resolve(config: Config, asked: Asked, env: Mapping[str, str]) -> list[RunSpec]:
    """One RunSpec per product to run; a UsageError for anything that cannot work."""
    for name in asked.ignore_fields:
        if name not in MUTABLE_FIELDS:
            meant = closest(name, MUTABLE_FIELDS)
            why = f"did you mean {meant[0]}?" if meant else f"one of {', '.join(MUTABLE_FIELDS)}"
            raise UsageError(f"--ignore-field {printable(name)}: not a job field ({why})")
    target, origin = _target(asked, env)
    several = bool(config.products) and not asked.paths
    if several and asked.product and asked.product_from_flag:
        raise UsageError(
            f"{config.path} lists products: pick one with --only-product, not --product"
        )
    home = os.path.dirname(config.path) if config.path else ""
    # The one read of files here: a few bounded bytes of .git, for the reports' header.
    commit = provenance.commit(env, repository_root((asked.paths or (home,))[0] or "."))
    specs = []
    for entry, paths in _entries(config, asked):
        if asked.need_paths and not paths:
            raise UsageError(
                "name the manifests' directory (for example: reconciler "
                f"{asked.command} jobs/), or set paths: in .reconciler.yaml"
            )
        spec_target, spec_origin = target, origin
        named = TARGET_VARIABLE if asked.target_from_env else "--target"
        if spec_origin == "default" and entry.target:
            spec_target, spec_origin = entry.target, "config"
            named = f"target: in {config.path or '.reconciler.yaml'}"
        specs.append(
            RunSpec(
                paths=paths,
                name=entry.name,
                target=spec_target,
                origin=spec_origin,
                # Each configured product names its own; DUCTAPE_PRODUCT is for one product.
                product=(entry.product or entry.name)
                if config.products and entry.name
                else (asked.product or entry.product),
                owns=entry.owns,
                ignore_fields=tuple(dict.fromkeys((*entry.ignore_fields, *asked.ignore_fields))),
                only=asked.only,
                exclude=asked.exclude,
                references=asked.references,
                timeout=asked.timeout,
                strict=entry.strict if asked.strict is None else asked.strict,
                home=home,
                collide=entry.collide,
                max_starts_per_minute=entry.max_starts_per_minute,
                product_parallelism=asked.product_parallelism,
                commit=commit,
                target_named=named,
            )
        )
    return specs


def _target(asked: Asked, env: Mapping[str, str]) -> tuple[str | None, Origin]:
    """The target the command line or the environment names, if any."""
    if asked.target is not None and asked.target_given:
        return asked.target, "option"
    if TARGET_VARIABLE in env and not env[TARGET_VARIABLE].strip():
        # click reads an empty variable as unset; an empty target is an error instead (the
        # target opener says so), never the embedded store.
        return "", "option"
    return None, "default"


def _entries(config: Config, asked: Asked) -> list[tuple[ProductConfig, tuple[str, ...]]]:
    """The configured products to run, each with the manifests it reads."""
    names = [p.name for p in config.products]
    if asked.only_product:
        if asked.only_product not in names:
            raise UsageError(
                f"--only-product {asked.only_product}: no such product in "
                f"{config.path or '.reconciler.yaml'}{did_you_mean(asked.only_product, names)}"
            )
        chosen = [p for p in config.products if p.name == asked.only_product]
        return [(p, asked.paths or p.paths) for p in chosen]
    if not config.products:
        return [(config.default, asked.paths or config.default.paths)]
    if not asked.paths:
        return [(p, p.paths) for p in config.products]
    # Paths on the command line select the configured products they belong to.
    by_product: dict[str, list[str]] = {}
    for path in asked.paths:
        owner = _owner(config.products, path)
        if owner is None:
            raise UsageError(
                f"{printable(path)} belongs to none of the products in {config.path} "
                f"({', '.join(names)}): name a path under one of theirs, or use --only-product"
            )
        by_product.setdefault(owner.name, []).append(path)
    return [(p, tuple(by_product[p.name])) for p in config.products if p.name in by_product]


def _owner(products: Sequence[ProductConfig], path: str) -> ProductConfig | None:
    """The product one of whose paths holds ``path`` (the deepest such path wins)."""
    real = os.path.realpath(path)
    best: tuple[int, ProductConfig] | None = None
    for product in products:
        for root in product.paths:
            base = os.path.realpath(root)
            inside = real == base or real.startswith(base.rstrip(os.sep) + os.sep)
            if inside and (best is None or len(base) > best[0]):
                best = (len(base), product)
    return best[1] if best else None
