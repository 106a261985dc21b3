"""WooCommerce: a site's order webhooks and its REST API v3."""

from omnihub.simulators.channels.woocommerce.platform import (
    Delivery,
    WooCommerceSimulator,
    wc_json,
    webhook_signature,
)

__all__ = ["Delivery", "WooCommerceSimulator", "wc_json", "webhook_signature"]
