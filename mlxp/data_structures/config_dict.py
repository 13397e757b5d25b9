"""``mlxp.data_structures.config_dict``: ConfigDict and convert_dict."""

from mlxp_core.compat.config_dict import ConfigDict, convert_dict

__all__ = ["ConfigDict", "convert_dict"]
