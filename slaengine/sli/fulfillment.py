"""Order fulfillment: an order created at t is good if shipped by t + within.

Cancelled orders (cancelled before their deadline) are excluded. An order is
decided by its first shipment or cancellation *in event time*: shipped first →
good or missed by the deadline; cancelled first → excluded, or missed when the
cancellation came after the deadline. One still open after its deadline plus
the grace period counts as missed at query time (``overdue_open``), and is
recorded as missed when it expires a day after its deadline. The outcome
depends only on the order's own events and their timestamps — not on the
order they arrive in (a ``cancelled`` read before its ``created`` is still an
exclusion), nor on how other orders interleave — so streaming and batch agree.
When a late event changes an outcome already recorded, the old outcome is
withdrawn (a decision with ``count = -1``) and the new one recorded.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

from slaengine.events import OrderEvent

GOOD, BAD, EXCLUDED = "good", "bad", "excluded"
EXPIRY_MS = 24 * 3_600_000  # how long after its deadline an order is kept for late events


@dataclass(slots=True)
class OrderState:
    created_ms: int | None = None
    shipped_ms: int | None = None  # earliest shipment
    outcome: str | None = None  # as recorded in the buckets
    offset: int = -1  # highest source offset applied to this order
    cancelled_ms: int | None = None  # earliest cancellation

    def to_state(self) -> dict[str, Any]:
        state = {"c": self.created_ms, "s": self.shipped_ms, "r": self.outcome, "o": self.offset}
        if self.cancelled_ms is not None:
            state["x"] = self.cancelled_ms
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> OrderState:
        return cls(state.get("c"), state.get("s"), state.get("r"), int(state.get("o", -1)), state.get("x"))


@dataclass(frozen=True, slots=True)
class Decision:
    created_ms: int
    good: bool
    count: int = 1  # -1 withdraws an outcome recorded earlier


def _earliest(current: int | None, ts_ms: int) -> int:
    return ts_ms if current is None else min(current, ts_ms)


class FulfillmentTracker:
    """Open and recently decided orders of one SLO and one source partition."""

    def __init__(self, within_ms: int, grace_ms: int) -> None:
        self.within_ms = within_ms
        self.grace_ms = grace_ms
        self.orders: dict[str, OrderState] = {}
        self._expiries: list[tuple[int, str]] = []  # heap of (expiry time, order_id)
        self.dirty: set[str] = set()

    def outcome_of(self, order: OrderState) -> str | None:
        """GOOD / BAD / EXCLUDED from the order's own event times, or None while open."""
        if order.created_ms is None:
            return None
        deadline = order.created_ms + self.within_ms
        shipped, cancelled = order.shipped_ms, order.cancelled_ms
        if shipped is not None and (cancelled is None or shipped <= cancelled):
            return GOOD if shipped <= deadline else BAD
        if cancelled is not None:
            return EXCLUDED if cancelled <= deadline else BAD
        return None

    def apply(self, event: OrderEvent, offset: int) -> list[Decision]:
        order = self.orders.get(event.order_id)
        if order is None:
            order = self.orders[event.order_id] = OrderState()
        elif offset <= order.offset:
            return []  # replayed after a crash or rebalance: already applied
        kind = event.event
        counted_at = order.created_ms  # where the recorded outcome is counted
        first_event = order.created_ms is None and order.shipped_ms is None and order.cancelled_ms is None
        if kind == "created":
            order.created_ms = _earliest(order.created_ms, event.ts_ms)
        elif kind == "shipped":
            order.shipped_ms = _earliest(order.shipped_ms, event.ts_ms)
        elif kind == "cancelled":
            order.cancelled_ms = _earliest(order.cancelled_ms, event.ts_ms)
        if first_event or (kind == "created" and order.created_ms == event.ts_ms):
            self._schedule_expiry(event.order_id, event.ts_ms)
        decisions = self._record(order, counted_at, self.outcome_of(order))
        order.offset = max(order.offset, offset)
        self.dirty.add(event.order_id)
        return decisions

    @staticmethod
    def _record(order: OrderState, counted_at: int | None, outcome: str | None) -> list[Decision]:
        """Decisions that move the recorded outcome (counted at ``counted_at``) to ``outcome``."""
        if outcome is None or (outcome == order.outcome and counted_at == order.created_ms):
            return []
        decisions = []
        if order.outcome in (GOOD, BAD) and counted_at is not None:
            decisions.append(Decision(counted_at, order.outcome == GOOD, -1))
        if outcome in (GOOD, BAD) and order.created_ms is not None:
            decisions.append(Decision(order.created_ms, outcome == GOOD))
        order.outcome = outcome
        return decisions

    def _schedule_expiry(self, order_id: str, base_ms: int) -> None:
        heapq.heappush(self._expiries, (base_ms + self.within_ms + self.grace_ms + EXPIRY_MS, order_id))

    def expire(self, watermark_ms: int, offset: int) -> list[Decision]:
        """Forget orders a day past their deadline; an open one is recorded as missed."""
        decisions = []
        while self._expiries and self._expiries[0][0] < watermark_ms:
            _, order_id = heapq.heappop(self._expiries)
            order = self.orders.pop(order_id, None)
            if order is None:
                continue
            self.dirty.add(order_id)
            if order.outcome is None and order.created_ms is not None:
                decisions.append(Decision(order.created_ms, False))
        return decisions

    def overdue_open(self, now_ms: int) -> list[int]:
        """Creation times of open orders already past deadline + grace at ``now_ms`` (query-time view)."""
        return [o.created_ms for o in self.orders.values()
                if o.outcome is None and o.created_ms is not None
                and o.created_ms + self.within_ms + self.grace_ms < now_ms]

    def load(self, order_id: str, state: dict[str, Any]) -> None:
        order = OrderState.from_state(state)
        self.orders[order_id] = order
        base = order.created_ms if order.created_ms is not None else order.shipped_ms
        if base is not None:
            self._schedule_expiry(order_id, base)
