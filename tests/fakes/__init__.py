"""Fake batch-scheduler commands (``bin/``), their shared library and pytest helpers."""
