"""The Hydra and OmegaConf internals mlxp relies on, each behind one small function.

Public APIs are used everywhere else. Each function here names what it relies on, why (what
the public way would cost), and fails with `HydraInternalsChanged` rather than misbehaving
when a release moves it; `tests/hydra_app/test_internals.py` checks every one against the
installed Hydra. `hydra-core` is pinned to `>=1.3.2,<1.4` in pyproject.toml.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.types import Override, ValueType
from omegaconf import DictConfig, ListConfig


class HydraInternalsChanged(RuntimeError):
    """An internal of Hydra/OmegaConf that mlxp uses is not where Hydra 1.3 keeps it."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"mlxp: {what}; this Hydra/OmegaConf release is not supported "
            "(pip install 'hydra-core>=1.3.2,<1.4' 'omegaconf>=2.2,<2.4')")


def element_override(sweep: Override, value: Any, text: str) -> Override:
    """The element override `text` would parse to, made from a sweep override's element.

    Relies on `Override` being a dataclass with a `_value` field (Hydra 1.1-1.3). Saves
    running Hydra's ANTLR parser once per job (~0.3 ms each, 1,000 jobs: 0.3 s).
    """
    try:
        return dataclasses.replace(sweep, value_type=ValueType.ELEMENT, _value=value,
                                   input_line=text)
    except (TypeError, ValueError) as exc:
        raise HydraInternalsChanged(f"hydra's Override has no `_value` field ({exc})") from None


def container_content(node: Any) -> Optional[Dict[Any, Any]]:
    """The child nodes of a DictConfig/ListConfig without resolving or copying them.

    `{key: node}` (list: `{index: node}`), or None when the container holds no content
    (None, `???` or an interpolation). Relies on OmegaConf keeping them in
    `__dict__["_content"]` (2.1-2.3); the public iteration resolves interpolations and wraps
    values, which would make copying one path of a large config cost a walk of all of it.
    """
    if not isinstance(node, (DictConfig, ListConfig)):
        return None
    try:
        content = node.__dict__["_content"]
    except KeyError:
        raise HydraInternalsChanged("omegaconf containers have no `_content`") from None
    if isinstance(node, DictConfig):
        return content if isinstance(content, dict) else None
    return dict(enumerate(content)) if isinstance(content, list) else None


def stored_hydra_config(store: ConfigStore) -> DictConfig:
    """The node ConfigStore holds for `hydra/config` (the object itself, not a copy).

    Relies on `ConfigStore.repo["hydra"]["config.yaml"].node` (Hydra 1.1-1.3). The public
    `load`/`store` deep-copy the whole node (~6% of a run's start-up).
    """
    group = getattr(store, "repo", {}).get("hydra")
    entry = group.get("config.yaml") if isinstance(group, dict) else None
    node = getattr(entry, "node", None)
    if not isinstance(node, DictConfig):
        raise HydraInternalsChanged(
            "Hydra's ConfigStore has no hydra/config node where Hydra 1.1-1.3 keep it")
    return node
