"""Supervision: the library every actor runs on (``kernel``) and the runtime built on it
(``assembly``)."""
