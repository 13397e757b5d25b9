"""mlxp's sweeper and inline launcher as the *default* options of Hydra's groups.

Hydra's own `hydra/config` chooses `hydra/sweeper: basic` and `hydra/launcher: basic` in its
defaults list. While an `@mlxp.launch` app runs, that defaults list chooses `mlxp` and
`mlxp_inline` instead. Being defaults, not command-line overrides, they have the lowest
priority: `hydra/launcher=...` on the command line, and `override hydra/launcher: ...` in the
primary config or in any config of its defaults list, still choose the user's plugin (a
command-line `hydra/launcher=mlxp_inline` would beat a config's `override`).
"""

from __future__ import annotations

import contextlib
from typing import Dict, Iterator

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig

HYDRA_CONFIG = "hydra/config.yaml"
MLXP_DEFAULTS: Dict[str, str] = {"sweeper": "mlxp", "launcher": "mlxp_inline"}


@contextlib.contextmanager
def mlxp_plugin_defaults(defaults: Dict[str, str] = MLXP_DEFAULTS) -> Iterator[None]:
    """Within the block, Hydra's `basic` sweeper and launcher defaults are replaced."""
    store = ConfigStore.instance()
    original = store.load(HYDRA_CONFIG)  # a copy of the stored node
    node = store.load(HYDRA_CONFIG).node
    changed = False
    for item in node.get("defaults") or []:
        if not isinstance(item, DictConfig):
            continue
        for group, option in defaults.items():
            if item.get(group) == "basic":
                item[group] = option
                changed = True
    if not changed:  # another tool already changed Hydra's defaults: leave them
        yield
        return
    store.store(name=original.name, node=node, group=original.group, package=original.package,
                provider=original.provider)
    try:
        yield
    finally:
        store.store(name=original.name, node=original.node, group=original.group,
                    package=original.package, provider=original.provider)
