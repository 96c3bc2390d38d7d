"""Where PagerDuty lives, and the environment variables that override it.

Secrets (routing key, REST token, webhook secrets) come from the environment
or files, never from YAML that gets committed, and never show up in logs.
"""

DEFAULT_EVENTS_URL = "https://events.pagerduty.com"
DEFAULT_REST_URL = "https://api.pagerduty.com"
DEFAULT_TIMEOUT_SECONDS = 10.0

ROUTING_KEY_ENV = "SLAENGINE_PAGERDUTY_ROUTING_KEY"  # Events v2 integration key
EVENTS_URL_ENV = "SLAENGINE_PAGERDUTY_EVENTS_URL"  # default DEFAULT_EVENTS_URL
API_TOKEN_ENV = "SLAENGINE_PAGERDUTY_API_TOKEN"  # REST API v2 token, for sync
API_URL_ENV = "SLAENGINE_PAGERDUTY_API_URL"  # default DEFAULT_REST_URL
WEBHOOK_SECRET_ENV = "SLAENGINE_PAGERDUTY_WEBHOOK_SECRET"  # v3 webhook secrets, comma-separated
