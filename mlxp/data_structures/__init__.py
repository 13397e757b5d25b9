"""MLXP's ``mlxp.data_structures`` package: ``config_dict`` (ConfigDict), ``dataframe``
(DataFrame, DataDict, GroupedDataFrame), ``artifacts`` (Artifact)."""
