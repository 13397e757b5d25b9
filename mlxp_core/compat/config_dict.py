"""``mlxp.ConfigDict``: MLXP's type of ``ctx.config`` (``as_ConfigDict: true``): a dict whose
keys are also attributes (``cfg.optimizer.lr``), nested dicts converted, ``to_dict()`` back.

Differences from MLXP 1.0.5, all fixes: dicts inside lists are converted too (MLXP leaves
them as they were); copies and pickles keep attribute access (MLXP's pickled copies do not
follow later changes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional


class ConfigDict(dict):
    """A dict whose keys can be read and written as attributes: ``cfg.a.b`` is
    ``cfg['a']['b']``. A key named like a dict method (``cfg.items``) is the value, as in MLXP;
    use ``dict.items(cfg)`` for the method then."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.__dict__ = self  # instance attributes are the items themselves

    def __repr__(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (dict(self),))

    def __copy__(self) -> ConfigDict:
        return self.__class__(dict(self))

    def __deepcopy__(self, memo: dict[int, Any]) -> ConfigDict:
        import copy

        return self.__class__({k: copy.deepcopy(v, memo) for k, v in dict.items(self)})

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (nested ConfigDicts, also inside lists, become dicts)."""
        return _plain(self)  # type: ignore[no-any-return]

    def update(self, new_dict: Any = (), **kwargs: Any) -> None:  # type: ignore[override]
        """Merge ``new_dict`` recursively: a nested dict updates the nested ConfigDict."""
        items = dict(new_dict, **kwargs) if kwargs else new_dict
        for key, value in (_items(items) if isinstance(items, Mapping) else items):
            if isinstance(value, Mapping):
                current = dict.get(self, key)
                if isinstance(current, ConfigDict):
                    current.update(value)
                    continue
                value = convert_dict(value, src_class=Mapping)
            self[key] = value


def _items(mapping: Any) -> Any:
    """The items of a mapping, also of a ConfigDict with a key named 'items'."""
    return dict.items(mapping) if isinstance(mapping, dict) else mapping.items()


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in _items(value)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def convert_dict(src_dict: Any, src_class: Optional[type] = None,
                 dst_class: type = ConfigDict) -> Any:
    """Convert ``src_dict`` and every nested mapping of type ``src_class`` (default:
    omegaconf's DictConfig) into ``dst_class``; omegaconf lists become lists. A DictConfig
    is read with its interpolations resolved."""
    if src_class is None:
        from omegaconf import DictConfig

        src_class = DictConfig
    list_types: tuple[type, ...] = (list, tuple)
    try:
        from omegaconf import ListConfig

        list_types = (list, tuple, ListConfig)
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass

    def convert(value: Any) -> Any:
        if isinstance(value, src_class) and hasattr(value, "items"):
            return dst_class({k: convert(v) for k, v in _items(value)})
        if isinstance(value, list_types) and not isinstance(value, str):
            return [convert(v) for v in value]
        return value

    if not hasattr(src_dict, "items"):
        raise TypeError(f"convert_dict: a mapping, got {type(src_dict).__name__}")
    return dst_class({k: convert(v) for k, v in _items(src_dict)})
