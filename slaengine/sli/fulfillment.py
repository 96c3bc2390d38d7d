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
GROUP_MS = 3_600_000  # orders are persisted in one record per hour of their first event ...
GROUP_ORDERS = 4_096  # ... of at most this many orders (~330 kB of JSON, under Kafka's 1 MB)
GROUPS_PER_HOUR = 1_000  # group id = hour * GROUPS_PER_HOUR + part


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
        return cls(
            state.get("c"), state.get("s"), state.get("r"), int(state.get("o", -1)), state.get("x")
        )


@dataclass(frozen=True, slots=True)
class Decision:
    created_ms: int
    good: bool
    count: int = 1  # -1 withdraws an outcome recorded earlier


def _earliest(current: int | None, ts_ms: int) -> int:
    return ts_ms if current is None else min(current, ts_ms)


class FulfillmentTracker:
    """Open and recently decided orders of one SLO and one source partition.

    Orders are persisted by group: one record holds every order whose first event fell in
    one hour (``group_state``). A replay at full speed touches thousands of orders per
    flush but only a few hours: one record per order and SLO made the changelog writes,
    not the SLI math, the bottleneck of a 50-SLO replay.
    """

    def __init__(self, within_ms: int, grace_ms: int) -> None:
        self.within_ms = within_ms
        self.grace_ms = grace_ms
        self.orders: dict[str, OrderState] = {}
        self._expiries: list[tuple[int, str]] = []  # heap of (expiry time, order_id)
        self.group_of: dict[str, int] = {}  # order_id -> its group (hour of its first event)
        self.members: dict[int, set[str]] = {}  # group -> order ids held
        self.dirty: set[int] = set()  # groups to write
        self.legacy: set[str] = set()  # ids restored from per-order records, deleted at next write

    def _group_with_room(self, ts_ms: int) -> int:
        """The first part of ``ts_ms``'s hour holding fewer than GROUP_ORDERS orders."""
        group = ts_ms // GROUP_MS * GROUPS_PER_HOUR
        while len(self.members.get(group, ())) >= GROUP_ORDERS:
            group += 1
        return group

    def _join(self, order_id: str, group: int) -> None:
        self.group_of[order_id] = group
        self.members.setdefault(group, set()).add(order_id)

    def _leave(self, order_id: str) -> int | None:
        """Take the order out of its group; returns the group."""
        group = self.group_of.pop(order_id, None)
        if group is not None:
            members = self.members[group]
            members.discard(order_id)
            if not members:
                del self.members[group]
        return group

    def group_state(self, group: int) -> dict[str, Any] | None:
        """The record of one group: ``{order_id: order state}``, None once it holds no order."""
        members = self.members.get(group)
        if not members:
            return None
        return {order_id: self.orders[order_id].to_state() for order_id in sorted(members)}

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
            self._join(event.order_id, self._group_with_room(event.ts_ms))
        elif offset <= order.offset:
            return []  # replayed after a crash or rebalance: already applied
        kind = event.event
        counted_at = order.created_ms  # where the recorded outcome is counted
        first_event = (
            order.created_ms is None and order.shipped_ms is None and order.cancelled_ms is None
        )
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
        self.dirty.add(self.group_of[event.order_id])
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
        heapq.heappush(
            self._expiries, (base_ms + self.within_ms + self.grace_ms + EXPIRY_MS, order_id)
        )

    def expire(self, watermark_ms: int, offset: int) -> list[Decision]:
        """Forget orders a day past their deadline; an open one is recorded as missed."""
        decisions = []
        while self._expiries and self._expiries[0][0] < watermark_ms:
            _, order_id = heapq.heappop(self._expiries)
            order = self.orders.pop(order_id, None)
            if order is None:
                continue
            group = self._leave(order_id)
            if group is not None:
                self.dirty.add(group)
            if order.outcome is None and order.created_ms is not None:
                decisions.append(Decision(order.created_ms, False))
        return decisions

    def overdue_open(self, now_ms: int) -> list[int]:
        """Creation times of open orders already past deadline + grace at ``now_ms`` (query-time
        view)."""
        return [
            o.created_ms
            for o in self.orders.values()
            if o.outcome is None
            and o.created_ms is not None
            and o.created_ms + self.within_ms + self.grace_ms < now_ms
        ]

    def load(self, order_id: str, state: dict[str, Any], group: int | None = None) -> None:
        """Restore one order of group ``group``; without one (a per-order record of older
        versions) it joins the group of its earliest time and is rewritten at the next flush."""
        if group is None and order_id in self.group_of:
            self.legacy.add(order_id)  # its group (restored too) is newer: only delete the record
            return
        order = OrderState.from_state(state)
        self.orders[order_id] = order
        times = [
            t for t in (order.created_ms, order.shipped_ms, order.cancelled_ms) if t is not None
        ]
        if times:  # as ``apply`` schedules it: from its creation, or its first event without one
            self._schedule_expiry(
                order_id, order.created_ms if order.created_ms is not None else min(times)
            )
        if group is None:
            group = self._group_with_room(min(times) if times else 0)
            self.legacy.add(order_id)
            self.dirty.add(group)
        self._leave(order_id)  # a restored snapshot replaces the order wherever it was
        self._join(order_id, group)

    def load_group(self, group: int, state: dict[str, dict[str, Any]]) -> None:
        for order_id, order_state in state.items():
            self.load(order_id, order_state, group)

    def put_group(self, group: int, state: dict[str, dict[str, Any]] | None) -> None:
        """Replace the orders of ``group`` with a newer snapshot of it (a global view's copy:
        no expiry is scheduled, the sources expire orders)."""
        for order_id in self.members.pop(group, set()):
            self.orders.pop(order_id, None)
            self.group_of.pop(order_id, None)
        for order_id, order_state in (state or {}).items():
            self.orders[order_id] = OrderState.from_state(order_state)
            self._join(order_id, group)
