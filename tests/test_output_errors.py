"""An output that cannot take the report is one error line and exit 1, never a crash log:
a full disk (/dev/full, a real kernel refusal) and a reader that goes away (a closed pipe).
Through the installed script, in real processes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testing.process import EXAMPLES, SCRIPT, clean_env

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full"),
]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    (tmp_path / ".git").mkdir()
    return tmp_path


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_full_disk_on_stdout_is_one_line_and_exit_1(work: Path, fmt: str) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [str(SCRIPT), "plan", "jobs", "-v", "--format", fmt],
            cwd=work, env=clean_env(), stdout=full, stderr=subprocess.PIPE, text=True,
            timeout=60, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "error: cannot write to standard output: No space left on device"
    )
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe sizes as on Linux")
def test_a_reader_that_goes_away_is_one_line_and_exit_1(work: Path) -> None:
    # More than a pipe holds (64 KiB): the writes after the reader closes meet EPIPE.
    for i in range(300):
        text = (work / "jobs" / "cache-warm.yaml").read_text()
        (work / "jobs" / f"many-{i}.yaml").write_text(text.replace("warm_catalogue_cache", f"m{i}"))
    process = subprocess.Popen(
        [str(SCRIPT), "plan", "jobs"], cwd=work, env=clean_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(100)
    process.stdout.close()
    try:
        err = process.stderr.read()
        code = process.wait(timeout=60)
    finally:
        process.kill()
        process.stderr.close()
    assert code == 1, err
    assert err.strip().splitlines()[-1] == "error: cannot write to standard output: Broken pipe"
    assert "internal error" not in err
