"""Who the hub sends to: its sales channels and webhook subscribers, as the reactions and the
delivery loops read them. They change rarely and are read on every event, so each list is kept
for a moment (``max_age_seconds``); a reader that must not miss one created a moment ago asks
for it ``fresh``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from omnihub.ports import ChannelDirectory, ChannelRecord, Subscription, WebhookSubscriptions


@dataclass
class Recipients:
    directory: ChannelDirectory
    webhooks: WebhookSubscriptions
    max_age_seconds: float = 2.0
    monotonic: Callable[[], float] = time.monotonic
    _subscriptions: tuple[float, list[Subscription]] = field(default=(0.0, []), repr=False)
    _channels: tuple[float, list[ChannelRecord]] = field(default=(0.0, []), repr=False)

    def subscriptions(self, *, fresh: bool = False) -> list[Subscription]:
        """The active subscriptions; ``fresh`` reads them now (a subscription created a moment
        ago must get the next event, and its deliveries must be signed)."""
        if fresh or self.monotonic() - self._subscriptions[0] > self.max_age_seconds:
            self._subscriptions = (self.monotonic(), self.webhooks.active())
        return self._subscriptions[1]

    def channels(self, *, fresh: bool = False) -> list[ChannelRecord]:
        if fresh or self.monotonic() - self._channels[0] > self.max_age_seconds:
            self._channels = (self.monotonic(), self.directory.all())
        return self._channels[1]

    def channel(self, code: str, *, read_again: bool = True) -> ChannelRecord | None:
        """The channel ``code``; not in the list kept, the list is read again (it may have been
        created since) unless ``read_again`` is False."""
        found = next((c for c in self.channels() if c.code == code), None)
        if found is None and read_again:
            found = next((c for c in self.channels(fresh=True) if c.code == code), None)
        return found

    def secret_for(self, endpoint: str) -> str | None:
        """The secret that signs the hub's JSON deliveries to ``endpoint`` (``webhook:<id>``
        or ``channel:<code>``); None when it has none."""
        kind, _, key = endpoint.partition(":")
        for fresh in (False, True):  # not in the list kept: created since, read it again
            if kind == "webhook":
                sub = next((s for s in self.subscriptions(fresh=fresh) if s.id == key), None)
                if sub is not None:
                    return sub.secret
            else:
                channel = next((c for c in self.channels(fresh=fresh) if c.code == key), None)
                if channel is not None:
                    return channel.secret
        return None
