"""Benchmarks that print figures; run on demand (`python -m bench.fill_path`), never in tests."""
