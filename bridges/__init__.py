"""Edges to the outside world: each a core with no I/O plus thin adapters around it."""
