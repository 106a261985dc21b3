"""Use cases: each takes a unit of work, loads, calls the domain once and commits."""
