"""`reconciler serve` as a user starts it: a real process, then plan/apply against it."""

from __future__ import annotations

import re
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


def test_serve_then_plan_apply_plan(tmp_path: Path) -> None:
    found = re.search(r"^\s+private_key:\s*(\S+)", (ROOT / "examples/seed.yaml").read_text(), re.M)
    assert found is not None
    key = found.group(1)
    port = free_port()
    env = clean_env(NO_COLOR="1")
    server = subprocess.Popen(
        [
            str(SCRIPT),
            "serve",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "server.db"),
            "--seed",
            str(ROOT / "examples" / "seed.yaml"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
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
        banner = server.stdout.readline() if server.stdout else ""
        lines = [banner]
        while len(lines) < 6 and server.stdout:
            lines.append(server.stdout.readline())
        text = "".join(lines)
        assert base in text
        exports = dict(re.findall(r"export ((?:DUCTAPE|RECONCILER)_\w+)=(\S+)", text))
        assert set(exports) >= {"DUCTAPE_USER_ID", "DUCTAPE_WORKSPACE_ID", "DUCTAPE_PRODUCT"}
        assert exports["RECONCILER_TARGET"] == base
        assert "DUCTAPE_PRIVATE_KEY" not in exports  # the key is named, never printed

        client_env = {**env, **exports, "DUCTAPE_PRIVATE_KEY": key}
        shutil.copytree(ROOT / "examples" / "jobs", tmp_path / "jobs")

        def reconciler(*args: str) -> subprocess.CompletedProcess[str]:
            return run_script(list(args), tmp_path, client_env)  # target from the exports

        first = reconciler("plan", "jobs", "--detailed-exitcode")
        assert first.returncode == 2, first.stderr
        applied = reconciler("apply", "jobs", "--auto-approve")
        assert applied.returncode == 0, applied.stderr
        assert "Apply: 6 created, 0 updated, 0 failed." in applied.stdout
        again = reconciler("plan", "jobs", "--detailed-exitcode")
        assert again.returncode == 0, again.stdout + again.stderr
        for output in (first, applied, again):
            assert key not in output.stdout + output.stderr
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
