"""The options the commands share, each declared once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import wraps
from typing import Any, TypeVar

import click

from ..defaults import DEFAULT_PRODUCT_PARALLELISM, DEFAULT_TIMEOUT

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("text", "json", "markdown", "github")


def color_option(func: F) -> F:
    return click.option(
        "--color/--no-color",
        default=None,
        help="Colour the output (default: on a terminal, unless NO_COLOR is set).",
    )(func)


target_option = click.option(
    "--target",
    envvar="RECONCILER_TARGET",
    metavar="URL",
    help="Where live jobs are: sqlite:///PATH or a Ductape base URL such as "
    "https://api.ductape.app (default: target: in .reconciler.yaml, else .reconciler/local.db).",
)
product_option = click.option(
    "--product",
    envvar="DUCTAPE_PRODUCT",
    help="The product whose jobs to manage, by name or id (default: product: in "
    ".reconciler.yaml, else 'default' in the embedded store).",
)
references_option = click.option(
    "--references",
    type=click.Choice(["warn", "error", "off"]),
    default="warn",
    show_default=True,
    help="Check each event_tag against the product's catalogue, where the target has one.",
)
paths_argument = click.argument(
    "paths", nargs=-1, type=click.Path(exists=True, dir_okay=True, file_okay=True)
)
verbose_option = click.option(
    "-v", "--verbose", is_flag=True, help="List unchanged and foreign jobs too."
)
strict_option = click.option(
    "--strict/--no-strict",
    default=None,
    help="Treat warnings as errors: exit 1, and apply writes nothing (default: strict: in "
    ".reconciler.yaml, else off).",
)
timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Deadline for the whole run against the target.",
)


def format_option(default: str = "text") -> Callable[[F], F]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default=default,
        show_default=True,
        help="text for people; json for pipelines; markdown for a pull-request comment or "
        "step summary; github for workflow annotations.",
    )


@dataclass(frozen=True)
class RunOptions:
    """The options every command that reads a target shares, as one value."""

    target: str | None = None
    product: str | None = None
    references: str = "warn"
    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    ignore_field: tuple[str, ...] = ()
    only_product: str | None = None
    timeout: float | None = None
    strict: bool | None = None
    product_parallelism: int = DEFAULT_PRODUCT_PARALLELISM


_RUN_OPTION_NAMES = tuple(f.name for f in fields(RunOptions))


def run_options(func: F) -> F:
    """Add the target, selection and timeout options; the command gets one ``run`` value."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in _RUN_OPTION_NAMES if name in kwargs}
        return func(*args, run=RunOptions(**values), **kwargs)

    decorators = [
        target_option,
        product_option,
        references_option,
        click.option(
            "--only",
            multiple=True,
            metavar="GLOB",
            help="Only jobs whose tag matches (repeatable).",
        ),
        click.option(
            "--exclude",
            multiple=True,
            metavar="GLOB",
            help="Leave out jobs whose tag matches (repeatable).",
        ),
        click.option(
            "--ignore-field",
            "ignore_field",
            multiple=True,
            metavar="FIELD",
            help="Leave a field an operator owns out of the comparison (repeatable; adds to "
            "ignore_fields: in .reconciler.yaml).",
        ),
        click.option(
            "--only-product",
            metavar="NAME",
            help="With products: in .reconciler.yaml, run only this one.",
        ),
        timeout_option,
        strict_option,
        click.option(
            "--product-parallelism",
            type=click.IntRange(min=1),
            default=DEFAULT_PRODUCT_PARALLELISM,
            show_default=True,
            metavar="N",
            help="With products: in .reconciler.yaml, read and plan up to N products at once.",
        ),
    ]
    for decorate in reversed(decorators):
        wrapper = decorate(wrapper)
    return wrapper  # type: ignore[return-value]
