"""Shopify: a shop's order webhooks and its Admin REST API."""

from omnihub.simulators.channels.shopify.platform import (
    RATE_LIMITED,
    Delivery,
    ShopifySimulator,
    webhook_hmac,
)

__all__ = ["RATE_LIMITED", "Delivery", "ShopifySimulator", "webhook_hmac"]
