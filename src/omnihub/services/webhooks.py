"""Webhook use cases: subscribe a system to the hub's events, and the fan-out that queues one
signed delivery per subscriber that wants an event (the envelope as the bus carried it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from omnihub.domain.integration import validate_subscription
from omnihub.domain.values import new_id
from omnihub.ports import DeliveryQueue, Envelope, NewDelivery, Subscription, WebhookSubscriptions
from omnihub.services.recipients import Recipients


def subscribe(
    webhooks: WebhookSubscriptions, url: str, events: Sequence[str], secret: str, now: datetime
) -> Subscription:
    """A new subscription; ``InvalidInput`` says what is wrong with the url, the event
    patterns (each known once) or the secret."""
    patterns = validate_subscription(url, events, secret)
    subscription = Subscription(new_id(), url, tuple(patterns), secret, now)
    webhooks.add(subscription)
    return subscription


def fan_out(
    envelopes: Sequence[Envelope], recipients: Recipients, deliveries: DeliveryQueue, now: datetime
) -> int:
    """One delivery per subscriber that wants an event; a batch of events is queued in one
    write. The subscriptions are read now: one created a moment ago gets the next event."""
    subscriptions = recipients.subscriptions(fresh=True)
    items = [
        NewDelivery(
            endpoint=sub.endpoint,
            url=sub.url,
            event_id=envelope["id"],
            event_type=envelope["type"],
            payload=envelope,
        )
        for envelope in envelopes
        for sub in subscriptions
        if sub.wants(envelope["type"])
    ]
    return deliveries.enqueue(items, now)
