"""Benchmarks: ``python -m bench`` runs them all and writes ``bench/RESULTS.md``
(``bench.suite``); ``python -m bench.fill_path`` (and each other module) runs one and prints
its tables.

Each entry point sets logs as ``tradeactors run`` sets them by default (warning and above),
so a figure measures the runtime, not the rendering of its info lines. Importing the package
changes nothing, so a test or the CLI can import it.
"""
