"""Instant-delivery (即时配送) provider adapters: rider tasks go in; status callbacks with the
rider and, on query, the rider's position and the fee come back."""
