"""The demo retailer: seed data, simulated channels and the live run of ``omnihub demo``."""
