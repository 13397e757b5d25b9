"""What a job's composed Hydra config says that mlxp needs: where `mlxp.yaml` is, the
`mlxp.*` overrides, the task's overrides, whether the mlxp callback is configured.

Public OmegaConf reads of Hydra's documented `hydra.*` keys only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from omegaconf import DictConfig, OmegaConf

from mlxp_core.run import CALLBACK_TARGET


def primary_config_dir(config: DictConfig) -> Optional[Path]:
    """The directory of the app's primary config (where `mlxp.yaml` is looked up)."""
    sources = OmegaConf.select(config, "hydra.runtime.config_sources") or []
    for source in sources:
        if source.get("provider") == "main" and source.get("schema") == "file":
            return Path(str(source["path"]))
    return None


def mlxp_overrides(config: DictConfig) -> Optional[Dict[str, Any]]:
    """The `mlxp.*` command-line overrides, which Hydra puts under the config's `mlxp` key."""
    node = config.get("mlxp") if isinstance(config, DictConfig) else None
    if node is None:
        return None
    return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]


def raw_list(config: DictConfig, key: str) -> List[str]:
    """A list of strings from the config, interpolations left as written (`${hydra.job.num}`)."""
    node = OmegaConf.select(config, key)
    if node is None:
        return []
    return [str(x) for x in OmegaConf.to_container(node, resolve=False)]  # type: ignore[union-attr]


def task_overrides(config: DictConfig) -> List[str]:
    """The overrides of this job's task config, as written on the command line."""
    return raw_list(config, "hydra.overrides.task")


def has_mlxp_callback(config: DictConfig) -> bool:
    callbacks = OmegaConf.select(config, "hydra.callbacks") or {}
    return any(
        isinstance(cb, DictConfig) and cb.get("_target_") == CALLBACK_TARGET
        for cb in callbacks.values()
    )
