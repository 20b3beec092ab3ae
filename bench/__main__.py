"""``python -m bench``: the whole suite (``bench.suite``)."""

from bench.suite import main

# Guarded: a spawned process (the ZeroMQ client, the echo floor's) imports this module too.
if __name__ == "__main__":
    raise SystemExit(main())
