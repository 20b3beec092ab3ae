"""Supervision: the market supervisor and the runtime's tree of actors."""
