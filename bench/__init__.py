"""Benchmarks that print figures; run on demand (`python -m bench.fill_path`), never in tests.

Importing the package sets logs as `tradeactors run` sets them by default (warning and
above), so a figure measures the runtime, not the rendering of its info lines.
"""

from tools.logging_setup import configure_logging

configure_logging("warning")
