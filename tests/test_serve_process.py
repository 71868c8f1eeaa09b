"""`reconciler serve` as a user starts it: a real process, then plan/apply against it."""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx

from testing.process import SCRIPT, clean_env, run_script

ROOT = Path(__file__).parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def readme_walkthrough() -> list[str]:
    """The shell lines of the README's local-server block, as written there."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A local Ductape for development and CI", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "the local-server section lost its sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_local_server_walkthrough_as_written(tmp_path: Path) -> None:
    """Every line of the README's block, run in order; each exit code as its comment says."""
    lines = readme_walkthrough()
    serve_line, rest = lines[0], lines[1:]
    assert serve_line.startswith("reconciler serve ")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")  # the block's relative paths
    port = free_port()
    # The block's own port may be taken on this machine: only the port is changed.
    serve_args = re.sub(r"--port \d+", f"--port {port}", serve_line).split()[1:]
    env = clean_env(NO_COLOR="1")
    server = subprocess.Popen(
        [str(SCRIPT), *serve_args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    key = ""
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            assert server.poll() is None, server.communicate()
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        printed = []
        while len(printed) < 6 and server.stdout:
            printed.append(server.stdout.readline())
        text = "".join(printed)
        exports = dict(re.findall(r"export ((?:DUCTAPE|RECONCILER)_\w+)=(\S+)", text))
        assert set(exports) >= {"DUCTAPE_USER_ID", "DUCTAPE_WORKSPACE_ID", "DUCTAPE_PRODUCT"}
        assert exports["RECONCILER_TARGET"] == base
        assert "DUCTAPE_PRIVATE_KEY" not in exports  # the key is named, never printed
        client_env = {**env, **exports}

        ran = []
        for line in rest:
            command, _, comment = line.partition("#")
            command = command.strip()
            if not command:
                continue
            if command.startswith("export "):
                name, _, value = command[len("export ") :].partition("=")
                client_env[name] = value
                key = client_env.get("DUCTAPE_PRIVATE_KEY", key)
                continue
            words = shlex.split(command)
            assert words[0] == "reconciler", line
            expected = re.search(r"exit (\d+)(?::\s*(\w+))?", comment)
            done = run_script(words[1:], tmp_path, client_env)
            want = int(expected.group(1)) if expected else 0
            assert done.returncode == want, f"{line}\n{done.stdout}{done.stderr}"
            if want and expected and expected.group(2):  # "exit 2: <tag>": output names it
                assert expected.group(2) in done.stdout, done.stdout
            ran.append((words[1], done))
        assert key, "the block sets DUCTAPE_PRIVATE_KEY"
        assert [verb for verb, _ in ran].count("drift") >= 1
        applied = [done for verb, done in ran if verb == "apply"]
        assert "Apply: 6 created, 0 updated, 0 failed." in applied[0].stdout
        for _, done in ran:
            assert key not in done.stdout + done.stderr
    finally:
        server.terminate()
        out, err = server.communicate(timeout=20)
    assert key not in out + err


def start_serve(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], int]:
    """``reconciler serve --port 0`` as a process; it and the port it printed."""
    server = subprocess.Popen(
        [str(SCRIPT), "serve", "--port", "0", "--db", str(tmp_path / "s.db"),
         "--seed", str(ROOT / "examples" / "seed.yaml"), *extra],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert server.stdout is not None
    first = server.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:(\d+)", first)
    assert found is not None, first
    port = int(found.group(1))
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/nope", timeout=1)
            return server, port
        except httpx.TransportError:
            assert time.monotonic() < deadline and server.poll() is None
            time.sleep(0.1)


def test_port_0_prints_the_port_it_got(tmp_path: Path) -> None:
    server, port = start_serve(tmp_path)
    try:
        assert port != 0
        answer = httpx.get(f"http://127.0.0.1:{port}/nope", timeout=1)
        assert answer.status_code == 404 and answer.json()["status"] is False
    finally:
        server.terminate()
        server.communicate(timeout=20)


def test_wire_and_token_lifetime_options(tmp_path: Path) -> None:
    import yaml

    seed = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())
    user, workspace = seed["user"]["id"], seed["workspace"]["id"]
    product = seed["products"][0]["_id"]
    server, port = start_serve(tmp_path, "--wire", "full", "--token-ttl", "2")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            answer = client.post(
                "/users/users/v1/login/authKey",
                json={
                    "private_key": seed["user"]["private_key"],
                    "user_id": user,
                    "workspace_id": workspace,
                },
            )
            token, public_key = (
                answer.json()["data"]["auth_token"],
                answer.json()["data"]["public_key"],
            )
            body = {
                "component": "job", "tag": "t1", "name": "T", "event_type": "function",
                "event_tag": "purge_sessions", "executions": 0, "intervals": 60000,
                "start_at": 1796083200000, "user_id": user, "workspace_id": workspace,
                "public_key": public_key,
            }  # fmt: skip
            auth = {"Authorization": f"Bearer {token}"}
            put = client.put(f"/integrations/integrations/v1/{product}", json=body, headers=auth)
            assert put.status_code < 300, put.text
            # --wire full: the answer carries the product, jobs included.
            assert "t1" in [job["tag"] for job in put.json()["data"]["jobs"]]
            time.sleep(2.5)  # --token-ttl 2: the token is gone
            again = client.put(f"/integrations/integrations/v1/{product}", json=body, headers=auth)
            assert again.status_code == 401
    finally:
        server.terminate()
        server.communicate(timeout=20)


def test_a_taken_port_is_one_error_line_and_no_exports(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = run_script(
            ["serve", "--port", str(port), "--db", str(tmp_path / "s.db"),
             "--seed", str(ROOT / "examples" / "seed.yaml")],
            tmp_path, clean_env(),
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
