"""SLI engine: event-time buckets, percentiles, fulfillment — pure, shared by streaming and
batch."""
