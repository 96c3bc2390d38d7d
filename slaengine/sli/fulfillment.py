"""Order fulfillment: an order created at t is good if shipped by t + within.

Cancelled orders (cancelled before their deadline) are excluded. An order is
decided at shipment (or cancellation); one still open after its deadline plus
the grace period counts as missed at query time (``overdue_open``), and is
recorded as missed when it expires a day after its deadline. The outcome
depends only on the order's own events — never on how other orders' events
interleave in a partition — so streaming and batch agree.
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
    shipped_ms: int | None = None
    outcome: str | None = None
    offset: int = -1  # highest source offset applied to this order

    def to_state(self) -> dict[str, Any]:
        return {"c": self.created_ms, "s": self.shipped_ms, "r": self.outcome, "o": self.offset}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> OrderState:
        return cls(state.get("c"), state.get("s"), state.get("r"), int(state.get("o", -1)))


@dataclass(frozen=True, slots=True)
class Decision:
    created_ms: int
    good: bool


class FulfillmentTracker:
    """Open and recently decided orders of one SLO and one source partition."""

    def __init__(self, within_ms: int, grace_ms: int) -> None:
        self.within_ms = within_ms
        self.grace_ms = grace_ms
        self.orders: dict[str, OrderState] = {}
        self._expiries: list[tuple[int, str]] = []  # heap of (expiry time, order_id)
        self.dirty: set[str] = set()

    def _decide(self, order_id: str, order: OrderState, outcome: str, offset: int) -> Decision | None:
        order.outcome = outcome
        order.offset = max(order.offset, offset)
        self.dirty.add(order_id)
        if outcome == EXCLUDED or order.created_ms is None:
            return None
        return Decision(order.created_ms, outcome == GOOD)

    def apply(self, event: OrderEvent, offset: int) -> list[Decision]:
        order = self.orders.get(event.order_id)
        if order is None:
            order = self.orders[event.order_id] = OrderState()
        elif offset <= order.offset:
            return []  # replayed after a crash or rebalance: already applied
        decisions: list[Decision] = []
        kind = event.event
        if order.outcome is None:
            if kind == "created" and order.created_ms is None:
                order.created_ms = event.ts_ms
                if order.shipped_ms is not None:  # shipment arrived before creation
                    decision = self._decide_shipment(event.order_id, order, offset)
                    if decision:
                        decisions.append(decision)
                self._schedule_expiry(event.order_id, event.ts_ms)
            elif kind == "shipped":
                order.shipped_ms = event.ts_ms
                if order.created_ms is None:
                    self._schedule_expiry(event.order_id, event.ts_ms)
                else:
                    decision = self._decide_shipment(event.order_id, order, offset)
                    if decision:
                        decisions.append(decision)
            elif kind == "cancelled" and order.created_ms is not None:
                outcome = EXCLUDED if event.ts_ms <= order.created_ms + self.within_ms else BAD
                decision = self._decide(event.order_id, order, outcome, offset)
                if decision:
                    decisions.append(decision)
        order.offset = max(order.offset, offset)
        self.dirty.add(event.order_id)
        return decisions

    def _decide_shipment(self, order_id: str, order: OrderState, offset: int) -> Decision | None:
        assert order.created_ms is not None and order.shipped_ms is not None
        on_time = order.shipped_ms - order.created_ms <= self.within_ms
        return self._decide(order_id, order, GOOD if on_time else BAD, offset)

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
