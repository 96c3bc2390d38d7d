"""Attempting due outbox deliveries: capped exponential backoff with full jitter.

Each attempt takes the head of one (channel, group_key) queue; heads of different queues are
sent concurrently. Retry-After from the receiver is honoured as a lower bound on the delay.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from slaengine.alerting.outbox import Delivery, Outbox, to_epoch
from slaengine.alerting.senders import Sender
from slaengine.errors import FatalDeliveryError, RetryableDeliveryError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackoffPolicy:
    initial: float = 1.0
    cap: float = 120.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based); any attempt number
        works (the exponent is capped long before 2**n overflows a float)."""
        ceiling = min(self.cap, self.initial * 2.0 ** min(max(attempt - 1, 0), 60))
        jittered = rng.uniform(0, ceiling)  # full jitter spreads a retry storm over the window
        return max(jittered, retry_after) if retry_after else jittered


class DeliveryWorker:
    def __init__(self, outbox: Outbox, senders: Mapping[str, Sender], policy: BackoffPolicy,
                 clock: Callable[[], datetime], rng: random.Random | None = None,
                 concurrency: int = 16) -> None:
        self.outbox = outbox
        self.senders = senders
        self.policy = policy
        self.clock = clock
        self.rng = rng or random.Random()
        self._limit = asyncio.Semaphore(concurrency)

    async def deliver_due(self, now: datetime) -> int:
        """Attempt every due queue head once; returns the number of attempts made."""
        due = await asyncio.to_thread(self.outbox.due, to_epoch(now))
        await asyncio.gather(*(self._attempt(delivery) for delivery in due))
        return len(due)

    async def _attempt(self, delivery: Delivery) -> None:
        sender = self.senders.get(delivery.channel)
        async with self._limit:
            try:
                if sender is None:
                    raise FatalDeliveryError(f"no receiver integration {delivery.channel!r} configured")
                await sender.send(delivery.notification)
            except RetryableDeliveryError as err:
                delay = self.policy.delay(delivery.attempts + 1, err.retry_after, self.rng)
                await self._fail(delivery, f"retryable: {err}", delay)
            except FatalDeliveryError as err:
                await self._fail(delivery, f"fatal: {err}", None)
            except Exception as err:  # a sender bug must not stall the queue; retried until max_age
                log.exception("sender %s crashed", delivery.channel)
                delay = self.policy.delay(delivery.attempts + 1, None, self.rng)
                await self._fail(delivery, f"unexpected {type(err).__name__}: {err}", delay)
            else:
                await asyncio.to_thread(self.outbox.mark_delivered, delivery, self._now())

    async def _fail(self, delivery: Delivery, error: str, retry_in: float | None) -> None:
        retried = await asyncio.to_thread(self.outbox.mark_failed, delivery, self._now(), error,
                                          retry_in)
        if retried:
            log.warning("delivery %s to %s failed (attempt %d), retrying in %.1fs: %s",
                        delivery.notification.notification_id, delivery.channel,
                        delivery.attempts + 1, retry_in, error)

    def _now(self) -> float:
        return to_epoch(self.clock())
