"""The published JavaScript SDK (``ductape-sdk`` from npm) completes its handshake against the
local server: its requests, not ours, in the server's access log.

npm installs the package once per version into a cache under the system's temp folder, so
reruns take a second; the test is skipped, saying why, only where node or npm is absent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from testing.wire import access_lines, server_with

SDK_VERSION = "1.0.19"
CACHE = Path(tempfile.gettempdir()) / "reconciler-sdk-cache" / SDK_VERSION

# Points the SDK's exported base URLs at our server, then runs getProductBuilder(). Run twice,
# in two processes (the SDK caches its workspace client, token included, per process): the
# first finds no builder session (validate answers 404), logs in with the private key and
# opens one; the second is let in by validate's token alone.
SCRIPT = r"""
const urls = require("ductape-sdk/dist/api/urls");
const base = process.env.BASE;
for (const [name, service] of [["USER", "users"], ["WORKSPACES", "workspaces"],
                               ["APPS", "apps"], ["INTEGRATIONS", "integrations"]]) {
  urls[`${name}_BASE_URL`] = `${base}/${service}`;
}
const Ductape = require("ductape-sdk").default;
const log = console.log;
console.log = () => {};  // the SDK logs its 404 and errors with console.log
(async () => {
  const sdk = new Ductape({user_id: process.env.USER_ID, workspace_id: process.env.WORKSPACE_ID,
                           private_key: process.env.PRIVATE_KEY});
  const builder = await sdk.getProductBuilder();
  log(JSON.stringify({ok: !!builder, public_key: builder.public_key, has_token: !!builder.token}));
})().catch((e) => { log(JSON.stringify({error: String(e)})); process.exit(1); });
"""


def sdk_folder() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run the published ductape-sdk")
    if not (CACHE / "node_modules" / "ductape-sdk" / "package.json").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        (CACHE / "package.json").write_text('{"name": "sdk-check", "private": true}\n')
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts",
             f"ductape-sdk@{SDK_VERSION}"],
            cwd=CACHE, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if done.returncode != 0:
            pytest.fail(f"npm install ductape-sdk@{SDK_VERSION} failed: {done.stderr[-500:]}")
    return CACHE


def test_the_published_sdk_completes_its_handshake(tmp_path: Path) -> None:
    folder = sdk_folder()
    (folder / "handshake.js").write_text(SCRIPT)
    with server_with(tmp_path / "sdk.db") as s, access_lines() as log:
        runs = [
            subprocess.run(
                ["node", "handshake.js"],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=60,
                env={
                    "PATH": "/usr/bin:/bin:/usr/local/bin",
                    "BASE": s.base_url,
                    "USER_ID": s.user_id,
                    "WORKSPACE_ID": s.workspace_id,
                    "PRIVATE_KEY": s.private_key,
                },
            )
            for _ in range(2)
        ]
        lines = list(log.lines)
    for done in runs:
        assert done.returncode == 0, done.stdout + done.stderr
        outcome = json.loads(done.stdout.strip().splitlines()[-1])
        assert outcome == {"ok": True, "public_key": s.public_key, "has_token": True}
        assert s.private_key not in done.stdout + done.stderr
    methods_paths = [" ".join(line.split()[:3]) for line in lines]
    workspace = f"/workspaces/workspaces/v1/get/{s.workspace_id}"
    assert methods_paths == [
        # first: no session yet, so log in, open one, read the workspace
        "POST /users/users/v1/login/authKey 201",
        "POST /apps/apps/v1/builder/validate 404",
        "POST /users/users/v1/login/authKey 201",
        "POST /apps/apps/v1/builder 200",
        f"GET {workspace} 200",
        # second: validate lets it in with the session's token
        "POST /users/users/v1/login/authKey 201",
        "POST /apps/apps/v1/builder/validate 200",
        f"GET {workspace} 200",
    ]
