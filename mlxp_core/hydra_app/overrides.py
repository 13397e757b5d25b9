"""Applying one value override to a composed config exactly as Hydra applies command-line ones.

Used by the mlxp sweeper (`mlxp_core.hydra_app.sweep`) to check a job's value overrides (`lr=0.1`,
`+new=1`, `~key`) against a config composed once per combination of config-group choices,
and to derive the job configs of the inline launcher. `path_copy` gives a copy of a config
in which only what an override of one key can touch is new.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from hydra.core.override_parser.types import Override
from hydra.errors import ConfigCompositionException
from omegaconf import Container, DictConfig, ListConfig, OmegaConf, open_dict

from mlxp_core.hydra_app.internals import container_content


def apply_value_override(cfg: DictConfig, override: Override) -> None:
    """Apply a non-group override to `cfg` with Hydra's semantics (raises when Hydra would).

    The error raised here is never shown: a failing job is composed again by Hydra, which
    raises its own error.
    """
    if override.package is not None:
        raise ConfigCompositionException(f"{override.input_line}: not a config group")
    key = override.key_or_group
    value = override.value()
    if override.is_delete():
        current = OmegaConf.select(cfg, key, throw_on_missing=False)
        if current is None or (value is not None and value != current):
            raise ConfigCompositionException(f"cannot delete {override.input_line}")
        parent_key, _, last = key.rpartition(".")
        with open_dict(cfg):
            parent = OmegaConf.select(cfg, parent_key) if parent_key else cfg
            del parent[last]
    elif override.is_add():
        exists = OmegaConf.select(cfg, key, throw_on_missing=False) is not None
        if exists and not isinstance(value, (dict, list)):
            raise ConfigCompositionException(f"cannot append {override.input_line}")
        OmegaConf.update(cfg, key, value, merge=True, force_add=True)
    elif override.is_force_add():
        OmegaConf.update(cfg, key, value, merge=True, force_add=True)
    else:
        OmegaConf.update(cfg, key, value, merge=True)


def _children(node: Any) -> Iterator[Tuple[Any, Any]]:
    """(key, child node) of a container that holds content (not None, ??? or ${...})."""
    content = container_content(node)
    if content is not None:
        yield from content.items()


def path_copy(root: DictConfig, segments: Sequence[str]) -> Optional[DictConfig]:
    """A copy of `root` in which only what an override of `a.b.c` can touch is new.

    The containers along the path and the whole node at its end are deep copies; every
    other node is shared with `root` (an override of `a.b.c` neither reads nor changes them).
    None when that cannot be decided safely (an interpolation on the path, keys that are not
    plain strings): the caller then copies everything.
    """
    memo: Dict[int, Any] = {}
    node: Any = root
    for depth, segment in enumerate(segments):
        if isinstance(node, ListConfig) and segment != str(_as_index(segment)):
            return None
        following: Any = None
        for key, child in _children(node):
            if isinstance(node, DictConfig) and type(key) is not str:
                return None
            if str(key) == segment:
                following = child
                if OmegaConf.is_interpolation(node, key):
                    return None
            else:
                memo[id(child)] = child  # deepcopy returns memo entries as they are
        if following is None or depth == len(segments) - 1:
            break
        if not isinstance(following, Container):
            break
        node = following
    return copy.deepcopy(root, memo)


def _as_index(segment: str) -> Optional[int]:
    try:
        return int(segment)
    except ValueError:
        return None


def related(paths: List[Tuple[str, ...]]) -> bool:
    """True when one key is a prefix of (or equal to) another: apply them together."""
    for i, first in enumerate(paths):
        for second in paths[i + 1:]:
            n = min(len(first), len(second))
            if first[:n] == second[:n]:
                return True
    return False


def override_dirname(overrides: Sequence[Override], cfg: DictConfig) -> str:
    """`hydra.job.override_dirname` of a job with these task overrides."""
    settings = cfg.hydra.job.config.override_dirname
    excluded = settings.exclude_keys
    lines = sorted(str(o.input_line) for o in overrides if o.key_or_group not in excluded)
    return re.sub("[=]", settings.kv_sep, settings.item_sep.join(lines))
