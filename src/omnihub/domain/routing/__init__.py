"""Fulfilment routing: automatic review of orders and the sourcing engine that picks nodes."""
