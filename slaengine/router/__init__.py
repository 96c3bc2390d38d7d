"""Alert routing: route tree, grouping, inhibition, silences, e-mail/chat senders; notifications
wait in the one durable outbox (slaengine.outbox).

The pure core (matchers, routing, grouping, inhibition, silences, dispatcher) imports no
aiohttp, Faust or Kafka; senders, http and service are the adapters.
"""
