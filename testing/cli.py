"""One way for tests to run the command line in-process, on real files."""

from __future__ import annotations

from click.testing import CliRunner

from reconciler.cli import main


def invoke(
    *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``reconciler ARGS``; a bug's exception is raised."""
    result = CliRunner(env=env).invoke(main, list(args), input=input, prog_name="reconciler")
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr
