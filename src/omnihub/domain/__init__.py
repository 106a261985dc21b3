"""The domain: pure Python rules of omnichannel retail, no I/O and no framework."""
