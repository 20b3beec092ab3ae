"""The actors (one module per kind) and the plain domain classes each one owns."""
