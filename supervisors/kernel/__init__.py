"""The supervision library: the base actor, the scheduler, child specs and the supervisor.

It imports nothing but ``messages`` and its own modules, so every layer above may use it.
"""
