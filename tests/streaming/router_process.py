"""One worker's alert routing (sla.alerts consumer group + sla.silences) as its own process,
so a test can SIGKILL it mid-delivery. Arguments: bootstrap, topic prefix. The PagerDuty URL and
routing key come from the environment, as in a worker."""

from __future__ import annotations

import asyncio
import logging
import sys

from slaengine.events import ALERTS_TOPIC
from slaengine.router.config import DEFAULT_ROUTING_FILE, load_routing_config
from slaengine.router.senders import DEFAULT_FACTORIES, build_senders
from streams.features import tolerate_missing_secrets
from streams.router import ROUTER_STATE_TOPIC, PartitionedRouter
from streams.shared_state import SILENCES_TOPIC, KafkaSilenceStore


def build(bootstrap: str, prefix: str) -> tuple[KafkaSilenceStore, PartitionedRouter]:
    """The routing half of a worker, wired as streams.features wires it."""
    config = load_routing_config(DEFAULT_ROUTING_FILE)
    factories = {kind: tolerate_missing_secrets(f) for kind, f in DEFAULT_FACTORIES.items()}
    silences = KafkaSilenceStore(bootstrap, prefix + SILENCES_TOPIC, config.silences)
    routers = PartitionedRouter(
        bootstrap,
        prefix + ALERTS_TOPIC,
        prefix + ROUTER_STATE_TOPIC,
        f"{prefix}slaengine-alert-router",
        config,
        build_senders(config, factories),
        silences,
        tick=0.2,
        session_timeout_ms=6000,
    )
    return silences, routers


async def main(bootstrap: str, prefix: str) -> None:
    silences, routers = build(bootstrap, prefix)
    await silences.start()
    await routers.start()
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(name)s %(message)s"
    )
    asyncio.run(main(sys.argv[1], sys.argv[2]))
