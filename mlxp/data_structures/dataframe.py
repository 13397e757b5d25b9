"""``mlxp.data_structures.dataframe``: the Reader's result types."""

from mlxp_core.reader.dataframe import (
    LAZYARTIFACT,
    LAZYDATA,
    DataDict,
    DataFrame,
    GroupedDataFrame,
    Map,
)

__all__ = ["LAZYARTIFACT", "LAZYDATA", "DataDict", "DataFrame", "GroupedDataFrame", "Map"]
