"""The evaluator: alert rules over live SLI state (and capacity forecasts) -> alert transitions.

Pure: no Kafka, HTTP or Faust. ``rules.AlertEvaluator`` runs the SLO alert rules with
Prometheus' semantics, ``transitions`` turns two evaluations of the capacity rules into
firing/resolved alerts, ``metrics`` exports the evaluator's state. streams/evaluator.py runs it
in a worker and publishes the transitions to ``sla.alerts``, where the router
(slaengine.router) picks them up.
"""
