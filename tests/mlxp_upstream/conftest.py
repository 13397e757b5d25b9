"""MLXP's vendored tests run only through tests/compat/test_mlxp_upstream.py (see README.md)."""

collect_ignore = ["tests", "tutorial"]
