"""slaengine's HTTP API (aiohttp): health, metrics, alert intake, reports, capacity."""
