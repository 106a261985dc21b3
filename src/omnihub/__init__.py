"""omnihub: an omnichannel retail integration hub."""

__version__ = "0.1.0"
