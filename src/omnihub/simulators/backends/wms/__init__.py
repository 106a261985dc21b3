"""Warehouse systems: the Qimen (奇门) protocol."""
