"""Environment variables that configure PagerDuty (secrets stay out of YAML and logs)."""

ROUTING_KEY_ENV = "SLAENGINE_PAGERDUTY_ROUTING_KEY"  # Events v2 integration key
EVENTS_URL_ENV = "SLAENGINE_PAGERDUTY_EVENTS_URL"  # default https://events.pagerduty.com
API_TOKEN_ENV = "SLAENGINE_PAGERDUTY_API_TOKEN"  # REST API v2 token, for sync
API_URL_ENV = "SLAENGINE_PAGERDUTY_API_URL"  # default https://api.pagerduty.com
WEBHOOK_SECRET_ENV = "SLAENGINE_PAGERDUTY_WEBHOOK_SECRET"  # v3 webhook secrets, comma-separated
