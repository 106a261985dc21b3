"""Instant-delivery platforms: Dada (达达)."""
