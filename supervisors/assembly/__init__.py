"""The runtime's assembly: the tree of actors, the facade, its config, recovery, the ZeroMQ edge."""
