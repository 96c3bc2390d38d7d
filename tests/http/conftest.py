"""The whole HTTP API in a process of its own (tests/http/apiserver.py), for fuzz and load."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
TOKEN = "fuzz-token"
WEBHOOK_SECRET = "whsec-fuzz"


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ApiServer:
    url: str
    process: subprocess.Popen[str]

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Answer:
        request = urllib.request.Request(
            self.url + path, data=body, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return Answer(response.status, response.read(), dict(response.headers))
        except urllib.error.HTTPError as err:
            return Answer(err.code, err.read(), dict(err.headers))

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.request("GET", path, **kwargs)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    port = free_port()
    folder = tmp_path_factory.mktemp("api")
    log_path = folder / "server.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "SLAENGINE_PAGERDUTY_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "tests/http/apiserver.py"),
                str(port),
                str(folder / "data"),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=REPO,
        )
    deadline = time.monotonic() + 90
    while "ready" not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"API server did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)
    try:
        yield ApiServer(f"http://127.0.0.1:{port}", process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server_log = log_path.read_text()
        # no handler may ever fail, whatever the input (aiohttp's own log of a request line it
        # could not parse, answered 400 by aiohttp itself, is not a handler failure)
        for marker in (
            "unhandled error in",
            "exception was never retrieved",
            "Exception in callback",
        ):
            assert marker not in server_log, server_log[-5000:]
