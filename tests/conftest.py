"""Suite-wide fixtures. Kafka: the real single-node broker run by scripts/kafka-local."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from aiokafka.admin import AIOKafkaAdminClient

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class KafkaLocal:
    """Runs scripts/kafka-local for one port; `state_root` overrides .kafka-local/."""

    port: int
    state_root: Path | None = None
    extra_env: tuple[tuple[str, str], ...] = ()

    @property
    def state_dir(self) -> Path:
        root = self.state_root or Path(
            os.environ.get("KAFKA_LOCAL_DIR", REPO_ROOT / ".kafka-local")
        )
        return root / str(self.port)

    def run(self, command: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KAFKA_PORT": str(self.port), **dict(self.extra_env)}
        if self.state_root is not None:
            env["KAFKA_LOCAL_DIR"] = str(self.state_root)
        return subprocess.run(
            [str(REPO_ROOT / "scripts" / "kafka-local"), command],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _other_live_sessions(lease_dir: Path) -> list[int]:
    pids = []
    for lease in lease_dir.glob("[0-9]*"):
        pid = int(lease.name)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            lease.unlink(missing_ok=True)  # a session that crashed without cleaning up
            continue
        except PermissionError:
            pass  # alive, owned by another user
        pids.append(pid)
    return pids


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Anything that needs the broker is a `kafka` test, marked or not, so -m "not kafka" works.
    for item in items:
        if "kafka_bootstrap" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kafka)


@pytest.fixture(scope="session")
def kafka_local() -> type[KafkaLocal]:
    """The KafkaLocal runner, for tests that drive scripts/kafka-local on ports of their own."""
    return KafkaLocal


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """ "127.0.0.1:<port>" of a running broker (port from SLAENGINE_TEST_KAFKA_PORT, 9092).

    Starts the broker when needed and stops it at the end only if this session started it
    and no other pytest session (other engineers share the checkout) still uses it.
    """
    broker = KafkaLocal(int(os.environ.get("SLAENGINE_TEST_KAFKA_PORT", "9092")))
    lease_dir = broker.state_dir / "sessions"
    lease_dir.mkdir(parents=True, exist_ok=True)
    lease = lease_dir / str(os.getpid())
    lease.touch()
    started = broker.run("start")
    if started.returncode != 0:
        lease.unlink(missing_ok=True)
        pytest.fail(f"scripts/kafka-local start failed:\n{started.stdout}{started.stderr}")
    started_here = "already running" not in started.stdout
    try:
        yield f"127.0.0.1:{broker.port}"
    finally:
        lease.unlink(missing_ok=True)
        if started_here and not _other_live_sessions(lease_dir):
            broker.run("stop")


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to this test, so tests never share topics or consumer groups."""
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.fixture
async def kafka_admin(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started aiokafka AIOKafkaAdminClient on the test broker."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


CreateTopics = Callable[..., Awaitable[list[str]]]


@pytest.fixture
def create_topics(kafka_admin: AIOKafkaAdminClient, topic_prefix: str) -> CreateTopics:
    """`await create_topics("orders", "requests", partitions=3)` -> prefixed topic names.

    Returns once every partition has a leader, so consumers see all of them at once.
    """
    from aiokafka.admin import NewTopic

    async def create(*names: str, partitions: int = 4) -> list[str]:
        topics = [topic_prefix + name for name in names]
        await kafka_admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
        for _ in range(100):
            described = await kafka_admin.describe_topics(topics)
            led = [p for d in described for p in d["partitions"] if p["leader"] >= 0]
            if len(led) == partitions * len(topics):
                return topics
            await asyncio.sleep(0.05)
        raise TimeoutError(f"topics {topics} got no partition leaders within 5 s")

    return create
