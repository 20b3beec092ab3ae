"""Operator tools: the CLI and the synthetic feed generator; never imported by the runtime."""
