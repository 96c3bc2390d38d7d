"""Real worker processes on the real broker, and batch mode to compare them with."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG = REPO_ROOT / "slaengine" / "data" / "slo.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class WorkerProcess:
    bootstrap: str
    prefix: str
    data_dir: Path
    worker_id: str = "worker-1"
    store: str = "rocksdb://"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    config: Path = CONFIG
    flush_interval: float = 0.2

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WorkerProcess:
        self.log_path = self.data_dir / f"{self.worker_id}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "SLAENGINE_TOPIC_PREFIX": self.prefix,
            "SLAENGINE_KAFKA_BOOTSTRAP": self.bootstrap,
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "slaengine.cli",
                    "worker",
                    "--store",
                    self.store,
                    "--data-dir",
                    str(self.data_dir),
                    "--http-port",
                    str(self.port),
                    "--worker-id",
                    self.worker_id,
                    "--config",
                    str(self.config),
                    "--flush-interval",
                    str(self.flush_interval),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO_ROOT,
            )
        self.wait_until_ready()
        return self

    def wait_until_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"worker exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if "Worker ready" in self.log_text():
                try:
                    self.get("/health")
                    return
                except OSError:
                    pass
            time.sleep(0.2)
        raise AssertionError(f"worker not ready within {timeout} s:\n{self.log_tail()}")

    def log_text(self) -> str:
        return (
            self.log_path.read_text(errors="replace")
            if self.log_path and self.log_path.exists()
            else ""
        )

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return response.read()

    def slo_rows(self, at: str) -> list[dict]:
        return json.loads(self.get(f"/api/v1/slos?at={at}"))["slos"]

    def metric(self, name: str, **labels: str) -> float:
        total = 0.0
        for line in self.get("/metrics?windows=all").decode().splitlines():  # every SLO window
            if line.startswith((name + "{", name + " ")) and all(
                f'{k}="{v}"' in line for k, v in labels.items()
            ):
                total += float(line.rsplit(" ", 1)[1])
        return total

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def workers(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> Iterator[list[WorkerProcess]]:
    """A list to which tests add started workers; all are stopped at the end."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


def produce(bootstrap: str, prefix: str, path: Path, batch_size: int = 1) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "slaengine.cli",
            "produce",
            str(path),
            "--bootstrap",
            bootstrap,
            "--topic-prefix",
            prefix,
            "--batch-size",
            str(batch_size),
            "--no-progress",
        ],
        check=True,
        cwd=REPO_ROOT,
        capture_output=True,
    )


def batch_rows(events: Path, at: str, config: Path = CONFIG) -> list[dict]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "slaengine.cli",
            "compute",
            "--events",
            str(events),
            "--config",
            str(config),
            "--at",
            at,
        ],
        check=True,
        capture_output=True,
        cwd=REPO_ROOT,
    )
    return json.loads(result.stdout)["slos"]


def comparable(rows: list[dict]) -> dict[tuple[str, str], tuple[int, int]]:
    """(slo, window) → (good, total), leaving out the lag SLO: it measures the pipeline itself."""
    return {(r["name"], r["window"]): (r["good"], r["total"]) for r in rows if r["sli"] != "lag"}
