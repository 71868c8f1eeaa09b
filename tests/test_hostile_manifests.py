"""Manifests written by an attacker (or a very unlucky colleague): refused fast, in one line.

``tests/data/hostile/X.yaml`` holds a case and ``X.expected`` the exact problem lines it must
give. Each case is also run as a user runs it, ``reconciler validate`` outside pytest, and
must exit 1 with those lines, no traceback, within :data:`MAX_SECONDS` of CPU and
:data:`MAX_RSS_MB` of memory. The cases share one process (:data:`_BATCH`): 39 interpreter
start-ups cost more than all the cases together. The tests that compare memory (a megabyte
value, every case at once, a flood of documents) keep a process each, measured by
``os.wait4``. Cases that cannot be files in Git (a FIFO, links, a file over the size limit) are
built by the tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import pytest

from reconciler import manifests
from reconciler.desired import load_desired
from reconciler.errors import UsageError
from reconciler.manifests import MAX_FILE_BYTES, find_manifests, load_yaml
from reconciler.model import Problem
from testing.process import TEST_NOW

HOSTILE = Path(__file__).parent / "data" / "hostile"
CASES = sorted(p.name for p in HOSTILE.glob("*.yaml"))
# Loose bounds, far above what a case costs (~0.2 s, ~35 MB, mostly interpreter start-up),
# far below what an unbounded case costs (the alias bomb took 88 s and 5.4 GB before).
MAX_SECONDS = 5.0
MAX_RSS_MB = 200
JOB = (
    "name: {tag}\ntag: {tag}\nevent_type: action\nevent_tag: app:x\nintervals: 1h\n"
    "start_at: 2026-12-01T00:00:00Z\n"
)


# Measures one run of the CLI from a small parent. Linux keeps a process's memory high-water
# mark across fork and exec, so a child of pytest itself would report pytest's own size; a
# grandchild forked from this small wrapper reports its own.
_MEASURE = """
import json, os, subprocess, sys
out_path, err_path, *command = sys.argv[1:]
with open(out_path, "w") as out, open(err_path, "w") as err:
    child = subprocess.Popen(
        [sys.executable, *command], stdin=subprocess.DEVNULL, stdout=out, stderr=err,
    )
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
print(json.dumps([child.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss]))
"""


# Runs ``reconciler validate CASE`` for each case in this one process, as the console script
# would (the CLI's own entry point, its own streams: each case's stdout and stderr are files
# put on descriptors 1 and 2). Per case: exit code and CPU time (rusage before and after); the
# memory figure is the process's high-water mark so far, so it bounds every case run before.
# Started by _MEASURE, so that mark is this process's own, not pytest's.
_BATCH = """
import json, os, resource, sys, traceback
from reconciler.cli import main
results_path, scratch, *cases = sys.argv[1:]
figures = {}
for number, case in enumerate(cases):
    out_path, err_path = (os.path.join(scratch, f"{number}.{s}") for s in ("out", "err"))
    sys.stdout.flush(), sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        os.dup2(out.fileno(), 1), os.dup2(err.fileno(), 2)
    before = resource.getrusage(resource.RUSAGE_SELF)
    try:
        main(["validate", case], prog_name="reconciler")
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush(), sys.stderr.flush()
    after = resource.getrusage(resource.RUSAGE_SELF)
    os.dup2(saved[0], 1), os.dup2(saved[1], 2)
    os.close(saved[0]), os.close(saved[1])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    figures[case] = [code, out_path, err_path, cpu, after.ru_maxrss]
with open(results_path, "w") as results:
    json.dump(figures, results)
"""


def measured(cwd: Path, out_path: Path, err_path: Path, *command: str) -> list[object]:
    """Run ``python COMMAND`` under :data:`_MEASURE`; its figures (exit, CPU s, peak KiB).

    Bounded to 30 s, after which the whole process group is killed.
    """
    wrapper = subprocess.Popen(
        [sys.executable, "-c", _MEASURE, str(out_path), str(err_path), *command],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        start_new_session=True,
    )
    try:
        figures, _ = wrapper.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(wrapper.pid, signal.SIGKILL)
        wrapper.communicate()
        pytest.fail(f"{command} still running after 30 s")
    result: list[object] = json.loads(figures)
    return result


@pytest.fixture(scope="module")
def batched(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[int, str, str, float, float]]:
    """Every case through ``reconciler validate``, all in one process; figures by case name."""
    scratch = tmp_path_factory.mktemp("hostile-batch")
    results = scratch / "results.json"
    # A module-scoped fixture runs before the autouse clock fixture: the clock is set here.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECONCILER_NOW", TEST_NOW)
        code, _, _ = measured(
            HOSTILE,
            scratch / "out",
            scratch / "err",
            "-c",
            _BATCH,
            str(results),
            str(scratch),
            *CASES,
        )
    assert code == 0, (scratch / "err").read_text()
    figures = json.loads(results.read_text())
    return {
        case: (code, Path(out).read_text(), Path(err).read_text(), cpu, rss_kb / 1024)
        for case, (code, out, err, cpu, rss_kb) in figures.items()
    }


def validate(cwd: Path, *paths: str) -> tuple[int, str, str, float, float]:
    """Run ``reconciler validate`` in its own process; (exit code, stdout, stderr, CPU s, MB).

    CPU time and peak memory are that process's own, taken by ``os.wait4``; the run is
    bounded to 30 s, after which the whole process group is killed.
    """
    with tempfile.TemporaryDirectory() as scratch:
        out_path, err_path = Path(scratch, "out"), Path(scratch, "err")
        code, cpu, rss_kb = measured(
            cwd, out_path, err_path, "-m", "reconciler", "validate", *paths
        )
        assert isinstance(code, int) and isinstance(cpu, float) and isinstance(rss_kb, int)
        return code, out_path.read_text(), err_path.read_text(), cpu, rss_kb / 1024


def expected_lines(name: str) -> list[str]:
    return (HOSTILE / name).with_suffix(".expected").read_text(encoding="utf-8").splitlines()


def test_every_case_has_its_expectation() -> None:
    assert len(CASES) >= 25
    for name in CASES:
        assert (HOSTILE / name).with_suffix(".expected").exists(), name


@pytest.mark.parametrize("name", CASES)
def test_case_reports_exactly_the_expected_lines(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(HOSTILE)
    desired = load_desired([name])
    assert [str(p) for p in desired.problems] == expected_lines(name)
    assert desired.errors and not desired.jobs


@pytest.mark.parametrize("name", CASES)
@pytest.mark.process
def test_case_fails_validate_in_one_line_within_bounds(
    name: str, batched: dict[str, tuple[int, str, str, float, float]]
) -> None:
    code, out, err, cpu, rss_mb = batched[name]
    print(f"{name}: exit {code}, {cpu:.2f} s CPU, {rss_mb:.0f} MB peak")
    lines = err.splitlines()
    assert code == 1, err
    assert "Traceback" not in err and out == ""
    # The problem lines, then the one summary line.
    assert lines[:-1] == expected_lines(name)
    assert lines[-1].startswith("error: ")
    assert all(line.isprintable() for line in lines)
    assert cpu < MAX_SECONDS and rss_mb < MAX_RSS_MB


def test_the_13_byte_recursive_alias_and_the_bomb_cost_almost_nothing() -> None:
    """In-process, with the interpreter already warm: each is refused in milliseconds."""
    assert (HOSTILE / "recursive-alias.yaml").stat().st_size == 13
    load_desired([str(HOSTILE / "recursive-alias.yaml")])  # warm: schema and validators built
    for name in ("recursive-alias.yaml", "alias-bomb.yaml", "merge-alias.yaml"):
        tracemalloc.start()
        # This process's CPU time, not the wall clock: other work on a shared machine can take
        # the CPU for longer than the 0.1 s bound, and the cost is what is measured.
        started = time.process_time()
        desired = load_desired([str(HOSTILE / name)])
        elapsed = time.process_time() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{name}: {elapsed * 1000:.1f} ms, {peak / 1024:.0f} KiB allocated at peak")
        assert "names a list or mapping" in desired.problems[0].message
        assert elapsed < 0.1 and peak < 1024 * 1024, (name, elapsed, peak)


# --- cases built on disk: FIFOs, links, sizes ------------------------------------------------


def one_line_failure(cwd: Path, *paths: str) -> str:
    code, out, err, cpu, rss_mb = validate(cwd, *paths)
    print(f"{paths}: exit {code}, {cpu:.2f} s CPU, {rss_mb:.0f} MB peak")
    assert code == 1 and "Traceback" not in err and out == "", err
    assert cpu < MAX_SECONDS and rss_mb < MAX_RSS_MB
    problems = err.splitlines()[:-1]
    assert len(problems) == 1, err
    return problems[0]


@pytest.mark.slow
@pytest.mark.process
def test_a_fifo_named_yaml_is_refused_without_blocking(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "ok.yaml").write_text(JOB.format(tag="ok"))
    os.mkfifo(jobs / "x.yaml")  # nobody ever writes to it: opening it must not wait
    line = one_line_failure(tmp_path, "jobs")
    assert line == "jobs/x.yaml: -: -: not a regular file; not read"
    # Named directly on the command line too.
    assert one_line_failure(jobs, "x.yaml") == "x.yaml: -: -: not a regular file; not read"


@pytest.mark.slow
@pytest.mark.process
def test_links_out_of_the_given_paths_are_refused(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text("token: not-for-the-log\n")
    (jobs / "zero.yaml").symlink_to("/dev/zero")
    (jobs / "secret.yaml").symlink_to(outside / "secret.yaml")
    code, out, err, _, _ = validate(tmp_path, "jobs")
    assert code == 1 and "Traceback" not in err and "not-for-the-log" not in err + out
    refused = "a symbolic link to a file outside the given paths; not read"
    assert err.splitlines()[:-1] == [
        f"jobs/secret.yaml: -: -: {refused}",
        f"jobs/zero.yaml: -: -: {refused}",
    ]
    # A link named directly may not leave its own directory either.
    assert one_line_failure(jobs, "zero.yaml") == f"zero.yaml: -: -: {refused}"


def test_a_link_inside_the_tree_is_read_once(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(JOB.format(tag="a"))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yaml").symlink_to(tmp_path / "a.yaml")
    desired = load_desired([str(tmp_path)])
    assert desired.problems == () and list(desired.jobs) == ["a"] and desired.files == 1


def test_a_file_swapped_for_a_link_after_the_scan_is_not_read(tmp_path: Path) -> None:
    """The race of issue 14: listed as a regular file, a link to outside by the time it is read.

    The scan and the read are two steps; the swap is made between them, on real files.
    """
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "a.yaml").write_text(JOB.format(tag="a"))
    (jobs / "b.yaml").write_text(JOB.format(tag="b"))
    secret = tmp_path / "secret.yaml"
    secret.write_text(JOB.format(tag="stolen"))
    found = manifests.scan([str(jobs)])
    assert found.files == (str(jobs / "a.yaml"), str(jobs / "b.yaml")) and not found.refused
    (jobs / "b.yaml").unlink()
    (jobs / "b.yaml").symlink_to(secret)  # the swap
    problems: list[Problem] = []
    documents = list(manifests.load_documents(found.files, problems))
    assert [d.tag for d in documents] == ["a"]
    assert [str(p) for p in problems] == [
        f"{jobs}/b.yaml: -: -: now a symbolic link, not the file that was listed; not read"
    ]
    with pytest.raises(manifests.Refused, match="now a symbolic link"):
        manifests.read_bounded(str(jobs / "b.yaml"))


def test_a_link_inside_the_tree_is_read_as_its_target(tmp_path: Path) -> None:
    """Links the scan accepts are returned as their targets, so reads never follow a link."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.yaml").write_text(JOB.format(tag="a"))
    (tmp_path / "b.yaml").symlink_to(tmp_path / "sub" / "a.yaml")
    assert manifests.scan([str(tmp_path / "b.yaml")]).files == (f"{tmp_path}/sub/a.yaml",)
    root = str(tmp_path)
    assert manifests.scan([root]).files == (f"{root}/sub/a.yaml",)
    desired = load_desired([root, str(tmp_path / "b.yaml")])
    assert desired.problems == () and list(desired.jobs) == ["a"] and desired.files == 1


@pytest.mark.slow
@pytest.mark.process
def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    body = JOB.format(tag="big") + "# " + "x" * MAX_FILE_BYTES + "\n"
    (tmp_path / "big.yaml").write_text(body)
    line = one_line_failure(tmp_path, "big.yaml")
    assert line == "big.yaml: -: -: larger than 1 MiB, the limit for one file; not read"


def test_a_file_just_under_the_limit_is_read(tmp_path: Path) -> None:
    body = JOB.format(tag="fits")
    body += "# " + "x" * (MAX_FILE_BYTES - len(body) - 3) + "\n"
    (tmp_path / "fits.yaml").write_text(body)
    assert (tmp_path / "fits.yaml").stat().st_size == MAX_FILE_BYTES
    desired = load_desired([str(tmp_path / "fits.yaml")])
    assert desired.problems == () and list(desired.jobs) == ["fits"]


def test_a_file_growing_past_the_limit_while_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fstat said small, the reads say otherwise (a file appended to meanwhile)."""
    path = tmp_path / "grows.yaml"
    path.write_text(JOB.format(tag="grows"))
    monkeypatch.setattr(manifests, "MAX_FILE_BYTES", 16)
    real_fstat = os.fstat

    def small_fstat(fd: int) -> os.stat_result:
        info = real_fstat(fd)
        return os.stat_result((info.st_mode, *info[1:6], 1, *info[7:]))

    monkeypatch.setattr(manifests.os, "fstat", small_fstat)
    desired = load_desired([str(path)])
    assert [p.message for p in desired.problems] == [
        "larger than 1 MiB, the limit for one file; not read"
    ]


@pytest.mark.slow
@pytest.mark.process
def test_many_files_stay_within_bounds(tmp_path: Path) -> None:
    """Every hostile case in one directory: every problem reported, still one process, bounded."""
    for name in CASES:
        (tmp_path / name).write_bytes((HOSTILE / name).read_bytes())
    code, _, err, cpu, rss_mb = validate(tmp_path, ".")
    print(f"all {len(CASES)} cases in one run: {cpu:.2f} s CPU, {rss_mb:.0f} MB peak")
    assert code == 1 and "Traceback" not in err
    expected = sum(len(expected_lines(name)) for name in CASES)
    assert len(err.splitlines()) == expected + 1
    assert cpu < MAX_SECONDS and rss_mb < MAX_RSS_MB


# --- paths ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.process
def test_no_manifest_found_is_a_usage_error_naming_the_paths(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README.txt").write_text("not a manifest\n")
    with pytest.raises(UsageError, match=r"^no manifests \(\*\.yaml, \*\.yml\) found in .*empty"):
        find_manifests([str(tmp_path / "empty")])
    with pytest.raises(UsageError, match="notes"):
        load_desired([str(tmp_path / "notes")])
    code, out, err, _, _ = validate(tmp_path, "empty", "notes")
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.splitlines() == [
        "error: no manifests (*.yaml, *.yml) found in empty, notes",
    ]


@pytest.mark.process  # not slow: the fast loop's one run of ``python -m reconciler``
def test_the_same_directory_twice_is_read_once(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "a.yaml").write_text(JOB.format(tag="a"))
    assert find_manifests([str(jobs), f"{tmp_path}/./jobs/", str(jobs / "a.yaml")]) == [
        str(jobs / "a.yaml")
    ]
    code, out, err, _, _ = validate(tmp_path, "jobs", "./jobs/")
    assert code == 0, err
    assert out.strip() == "Valid: 1 job(s) in 1 file(s)."


# --- settings files share the loader and its bounds ------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("target: &r [*r]\n", "x.yaml:1:13: the configuration: alias *r names a list or mapping"),
        ("a: " + "[" * 50 + "]" * 50 + "\n", "x.yaml:1:19: the configuration: lists and mappings"),
        ("a: 1\n---\nb: 2\n", "x.yaml:2:1: the configuration: more than one document"),
        ("a: \xff\n", "x.yaml:1:4: the configuration: byte 0xff is not UTF-8"),
        ("a: caf\xe9 au lait\n", "x.yaml:1:7: the configuration: byte 0xe9 is not UTF-8"),
        ("a: !!int abc\n", "x.yaml: the configuration holds a value YAML cannot build"),
        ("a: [\n", "x.yaml:2:1: the configuration is not valid YAML"),
        ("owns: [a]\nb:\n  c: 1\n  c: 2\n", "x.yaml:4:3: the configuration: duplicate key 'c'"),
    ],
)
def test_load_yaml_refuses_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("x.yaml").write_bytes(text.encode("latin-1"))
    with pytest.raises(UsageError) as caught:
        load_yaml("x.yaml", "configuration")
    assert str(caught.value).startswith(message)
    assert caught.value.__cause__ is not None


def test_load_yaml_refuses_a_fifo_and_a_huge_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    os.mkfifo("fifo.yaml")
    with pytest.raises(UsageError, match=r"cannot read the seed file fifo\.yaml: not a regular"):
        load_yaml("fifo.yaml", "seed file")
    Path("big.yaml").write_text("a: " + "x" * MAX_FILE_BYTES + "\n")
    with pytest.raises(UsageError, match=r"big\.yaml: larger than 1 MiB"):
        load_yaml("big.yaml", "seed file")
    Path("ok.yaml").write_text("a: &v 1\nb: *v\nwhen: 2026-12-01T00:00:00Z\n")
    assert load_yaml("ok.yaml", "seed file") == {"a": 1, "b": 1, "when": "2026-12-01T00:00:00Z"}


@pytest.mark.slow
@pytest.mark.process
def test_a_key_given_twice_in_the_configuration_fails_the_real_cli(tmp_path: Path) -> None:
    """Issue 14: ``owns:`` twice let the last one win and hid an orphan; now it is refused."""
    from testing.process import clean_env, run_script

    (tmp_path / ".git").mkdir()  # the repository root: the configuration is looked for up to it
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "a.yaml").write_text(JOB.format(tag="a"))
    store = tmp_path / "live.db"
    (tmp_path / ".reconciler.yaml").write_text(
        f"paths: [jobs]\ntarget: sqlite:///{store}\nowns: ['a*']\nowns: ['*']\n"
    )
    proc = run_script(["plan"], cwd=tmp_path, env=clean_env(NO_COLOR="1"))
    assert proc.returncode == 1 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        "error: .reconciler.yaml:4:1: the configuration: duplicate key 'owns', "
        "first defined at line 3"
    ]
    assert not store.exists()


# --- defences behind the first line ----------------------------------------------------------


def test_the_walk_is_bounded_even_on_a_graph_with_a_cycle() -> None:
    """PyYAML's own composer builds `&r [*r]` into a list that holds itself; the walk that
    checks keys and values must still stop (ours never builds such a graph: a backstop)."""
    import yaml

    node = yaml.compose("name: &r [*r]\n", Loader=yaml.SafeLoader)
    inner = node.value[0][1]
    assert inner.value[0] is inner  # a cycle, as in issue 9
    loader = manifests._Loader("")
    with pytest.raises(manifests.Refused, match="more than 1,000 values"):
        manifests._check_tree(loader, node, [])


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes the loader asks os.read for, from now on, in order."""
    reads: list[int] = []
    real_read = os.read

    def counting_read(fd: int, size: int) -> bytes:
        reads.append(size)
        return real_read(fd, size)

    monkeypatch.setattr(manifests.os, "read", counting_read)
    return reads


def test_an_oversized_file_is_refused_before_any_byte_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sparse.yaml"
    with path.open("wb") as handle:
        handle.truncate(64 * MAX_FILE_BYTES)  # 64 MiB that occupy no disk
    reads = _count_reads(monkeypatch)
    with pytest.raises(manifests.Refused, match="larger than 1 MiB"):
        manifests.read_bounded(str(path))
    assert reads == []


def test_a_manifest_is_read_in_one_call_and_a_short_read_reads_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One read of one byte more than the file's size says where it ends. A read that returns
    fewer bytes than the file holds (a network or FUSE file system may; a local file cannot be
    made to, hence the patch) is not taken for the end: nothing is cut off."""
    path = tmp_path / "job.yaml"
    text = JOB.format(tag="whole").encode()
    path.write_bytes(text)
    real_read = os.read
    reads = _count_reads(monkeypatch)
    assert manifests.read_bounded(str(path)) == text
    assert reads == [len(text) + 1]

    def short_read(fd: int, size: int) -> bytes:
        return real_read(fd, min(size, 7))

    monkeypatch.setattr(manifests.os, "read", short_read)
    assert manifests.read_bounded(str(path)) == text


def test_a_document_yaml_cannot_build_leaves_the_next_one_intact(tmp_path: Path) -> None:
    """A failed build stops half way; what it left behind must not spill into the next."""
    path = tmp_path / "two.yaml"
    path.write_text(
        "name: Broken\ntag: broken\nnested:\n  deeper:\n    ? [a, b]\n    : x\n---\n"
        + JOB.format(tag="fine")
    )
    desired = load_desired([str(path)])
    assert [str(p) for p in desired.problems] == [
        f"{path}:5:7: -: -: YAML cannot build this value: found unhashable key"
    ]
    assert list(desired.jobs) == ["fine"]


@pytest.mark.slow
@pytest.mark.process
def test_a_file_of_many_bad_documents_does_not_flood_the_log(tmp_path: Path) -> None:
    """10,000 two-line documents, each missing six fields: 70,000 lines before the bound."""
    (tmp_path / "flood.yaml").write_text("a: 1\n---\n" * 9_999)
    (tmp_path / "other.yaml").write_text("name: [\n")
    code, out, err, cpu, rss_mb = validate(tmp_path, ".")
    print(f"flood: exit {code}, {cpu:.2f} s CPU, {rss_mb:.0f} MB peak")
    lines = err.splitlines()
    assert code == 1 and "Traceback" not in err and out == ""
    assert lines[0] == "./flood.yaml: -: -: more than 100 problems; the rest are not shown"
    flood = [line for line in lines if line.startswith("./flood.yaml:")]
    assert 100 < len(flood) <= 100 + 8  # the bound, overshot by at most one document's worth
    assert lines[-2].startswith("./other.yaml:2:1: -: -: YAML syntax error")  # others still read
    assert cpu < MAX_SECONDS and rss_mb < MAX_RSS_MB


def test_a_directory_that_cannot_be_listed_is_one_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Permissions cannot stop root (the test may run as root): the fault is injected."""
    (tmp_path / "ok.yaml").write_text(JOB.format(tag="ok"))
    (tmp_path / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(manifests.os, "scandir", scandir)
    desired = load_desired([str(tmp_path)])
    assert [str(p) for p in desired.problems] == [
        f"{tmp_path}/locked: -: -: cannot list this directory: Permission denied"
    ]
    assert list(desired.jobs) == ["ok"]


@pytest.mark.parametrize(
    "value",
    [
        '"' + "1m" * 500_000 + 'x"',  # a duration of 500,000 parts
        '"' + "1" * 1_000_000 + '"',  # a million digits, quoted
        '"2026-12-01T00:00' + " " * 1_000_000 + 'x"',  # a timestamp padded to 1 MB
    ],
)
@pytest.mark.slow
@pytest.mark.process
def test_a_megabyte_value_costs_no_more_memory_than_a_small_one(tmp_path: Path, value: str) -> None:
    """Patterns are checked by two regex engines; neither may keep state per character."""
    # The small file is invalid too: the python jsonschema, which explains an invalid file,
    # is imported only then, and its modules are not the value's cost.
    small = JOB.format(tag="small").replace("intervals: 1h", 'intervals: "1mx"')
    (tmp_path / "small.yaml").write_text(small)
    body = JOB.format(tag="huge").replace("intervals: 1h", f"intervals: {value}")
    if "2026" in value:
        body = JOB.format(tag="huge").replace("2026-12-01T00:00:00Z", value)
    (tmp_path / "huge.yaml").write_text(body)
    assert (tmp_path / "huge.yaml").stat().st_size < MAX_FILE_BYTES
    *_, base_cpu, base_mb = validate(tmp_path, "small.yaml")
    code, _, err, cpu, rss_mb = validate(tmp_path, "huge.yaml")
    print(f"1 MB value: {cpu:.2f} s CPU, {rss_mb:.0f} MB peak (a small file: {base_mb:.0f} MB)")
    assert code == 1 and len(err.splitlines()) == 2 and "Traceback" not in err
    assert rss_mb - base_mb < 30 and cpu - base_cpu < 1.0
