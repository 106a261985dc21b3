"""Warehouse-system adapters: delivery orders go in; confirmations, receipts and stock
changes come back as callbacks."""
