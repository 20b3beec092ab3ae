"""Immutable message and event types exchanged by the actors.

pykka does not copy messages between actors, so every type here is a frozen attrs class
holding only immutable values (tuples, frozensets, ``Decimal``, ``int``, ``str``, enums).
"""
