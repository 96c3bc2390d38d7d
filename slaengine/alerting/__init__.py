"""Alert routing: route tree, grouping, inhibition, silences, durable outbox, e-mail/chat senders.

The pure core (matchers, routing, grouping, inhibition, silences, dispatcher) imports no
aiohttp, Faust or Kafka; outbox, delivery, senders, http and service are the adapters.
"""
