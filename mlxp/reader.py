"""MLXP's ``mlxp.reader`` module: the Reader (docs/reader.md). Imports pandas only when a
Reader result needs it."""

from mlxp_core.reader import Reader

__all__ = ["Reader"]
