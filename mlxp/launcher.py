"""MLXP's ``mlxp.launcher`` module: ``launch``, ``Context`` and ``instantiate``."""

from typing import Any

from mlxp_core.hydra_app.launch import launch
from mlxp_core.run.artifacts import resolve_import_path
from mlxp_core.run.context import Context

__all__ = ["Context", "instantiate", "launch"]


def instantiate(class_name: str) -> Any:
    """The object named by an import path: ``instantiate("mlxp.DefaultLogger")`` is the class.

    ``package.module.name`` and ``package.module:name`` are both accepted.
    """
    path = class_name if ":" in class_name else ":".join(class_name.rsplit(".", 1))
    return resolve_import_path(path)
