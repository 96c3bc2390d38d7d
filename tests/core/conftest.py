from __future__ import annotations

import pytest

from slaengine.config import SlaConfig

MONTH_START_MS = 1_790_812_800_000  # 2026-10-01T00:00:00Z


@pytest.fixture
def sla_config() -> SlaConfig:
    return SlaConfig.model_validate(
        {
            "timezone": "UTC",
            "slos": [
                {
                    "name": "api-availability",
                    "service": "orders-api",
                    "sli": "availability",
                    "target": 99.9,
                },
                {
                    "name": "api-latency",
                    "service": "orders-api",
                    "sli": "latency",
                    "threshold_ms": 500,
                    "target": 95,
                },
                {
                    "name": "api-uptime",
                    "service": "orders-api",
                    "sli": "uptime",
                    "target": 99.9,
                    "slice_good_ratio": 0.95,
                    "no_traffic": "ignore",
                },
                {"name": "order-fulfillment", "sli": "fulfillment", "within": "24h", "target": 95},
                {"name": "projection-lag", "sli": "lag", "threshold_s": 1, "target": 99},
            ],
        }
    )
