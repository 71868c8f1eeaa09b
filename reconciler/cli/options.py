"""The options the commands share, each declared once; each names the variable it reads."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from ..defaults import DEFAULT_PRODUCT_PARALLELISM, DEFAULT_TIMEOUT

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("text", "json", "markdown", "github")
CREDENTIALS = (
    "DUCTAPE_USER_ID, DUCTAPE_WORKSPACE_ID and DUCTAPE_PRIVATE_KEY (or DUCTAPE_TOKEN with "
    "DUCTAPE_PUBLIC_KEY)"
)

ONLY = "Only jobs whose tag matches (repeatable)."
EXCLUDE = "Leave out jobs whose tag matches (repeatable)."

color_option = click.option(
    "--color/--no-color",
    default=None,
    help="Colour the output (default: on a terminal, unless NO_COLOR is set).",
)
target_option = click.option(
    "--target",
    envvar="RECONCILER_TARGET",
    show_envvar=True,
    metavar="URL",
    help="Where live jobs are: sqlite:///PATH, snapshot:FILE or a Ductape base URL such as "
    "https://api.ductape.app (default: target: in .reconciler.yaml, else .reconciler/local.db). "
    f"A Ductape URL reads its credentials from {CREDENTIALS}; RECONCILER_ALLOWED_TARGETS "
    "lists the configured targets they may go to; RECONCILER_MAX_AGE bounds a snapshot's age.",
)
product_option = click.option(
    "--product",
    envvar="DUCTAPE_PRODUCT",
    show_envvar=True,
    help="The product whose jobs to manage, by name or id (default: product: in "
    ".reconciler.yaml, else 'default' in the embedded store).",
)
paths_argument = click.argument(
    "paths", nargs=-1, type=click.Path(exists=True, dir_okay=True, file_okay=True)
)
verbose_option = click.option(
    "-v", "--verbose", is_flag=True, help="List unchanged and foreign jobs too."
)
quiet_option = click.option(
    "-q", "--quiet", is_flag=True, help="Only the summary and the problems (for large plans)."
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
detailed_option = click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when apply has something to write, 1 on error.",
)


def combined(*decorators: Callable[[Any], Any]) -> Callable[[F], F]:
    """One decorator for several options, in the order written."""

    def decorate(func: F) -> F:
        for option in reversed(decorators):
            func = option(func)
        return func

    return decorate


selection_options = combined(
    click.option("--only", multiple=True, metavar="GLOB", help=ONLY),
    click.option("--exclude", multiple=True, metavar="GLOB", help=EXCLUDE),
)
REPORT_FORMATS = (
    "text for people; json for pipelines; markdown for a pull-request comment or step "
    "summary; github for workflow annotations."
)


def format_option(*formats: str, help: str = REPORT_FORMATS) -> Callable[[F], F]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(formats or FORMATS),
        default="text",
        show_default=True,
        help=help,
    )


references_option = click.option(
    "--references",
    type=click.Choice(["warn", "error", "off"]),
    default="warn",
    show_default=True,
    help="Check each event_tag against the product's catalogue, where the target has one.",
)
RUN_OPTIONS = [
    target_option,
    product_option,
    references_option,
    selection_options,
    click.option(
        "--ignore-field",
        "ignore_fields",
        multiple=True,
        metavar="FIELD",
        help="Leave a field an operator owns out of the comparison (repeatable; adds to "
        "ignore_fields: in .reconciler.yaml).",
    ),
    click.option(
        "--only-product", metavar="NAME", help="With products: in .reconciler.yaml, run only it."
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
# What run_options hands the command as ``run``: settings.Asked's fields of the same names.
RUN_NAMES = frozenset(
    {"target", "product", "references", "only", "exclude", "ignore_fields", "only_product"}
    | {"timeout", "strict", "product_parallelism"}
)


def run_options(func: F) -> F:
    """The target, selection and timeout options; the command gets them as one ``run``
    mapping (settings.Asked's fields)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        run = {name: kwargs.pop(name) for name in RUN_NAMES if name in kwargs}
        return func(*args, run=run, **kwargs)

    return combined(*RUN_OPTIONS)(wrapper)  # type: ignore[return-value]
