"""The test suite: a regular package, so that another distribution's top-level ``tests``
(py-clob-client ships one) never shadows ``tests.stubs`` and the other shared helpers."""
