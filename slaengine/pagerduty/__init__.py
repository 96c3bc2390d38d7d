"""PagerDuty: Events v2 delivery, escalation as code, v3 webhooks, a local contract server.

Import the submodules directly (``slaengine.pagerduty.sender`` etc.); this
package file stays empty so the pure modules load without HTTP libraries.
"""
