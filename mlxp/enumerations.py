"""MLXP's enumerations (``mlxp.enumerations``)."""

from mlxp_core.compat.enumerations import DataFrameType, Directories, SearchableKeys, Status

__all__ = ["DataFrameType", "Directories", "SearchableKeys", "Status"]
