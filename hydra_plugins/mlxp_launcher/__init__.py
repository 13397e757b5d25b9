"""Hydra plugin package of mlxp-core: launcher configs (`hydra/launcher=mlxp_*`) and callbacks."""
