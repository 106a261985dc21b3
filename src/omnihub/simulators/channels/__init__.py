"""The sales channels' platforms, one folder each."""
