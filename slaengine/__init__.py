"""slaengine: SLIs from Kafka events, Prometheus gauges and rules, alert routing, forecasts, SLA
reports."""

__version__ = "0.1.0"
