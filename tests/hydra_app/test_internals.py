"""Each Hydra/OmegaConf internal mlxp relies on (mlxp_core/hydra_app/internals.py), checked
against the installed release: these fail loudly when a Hydra or OmegaConf upgrade moves one."""

from __future__ import annotations

import re

import pytest
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ValueType
from omegaconf import DictConfig, ListConfig, OmegaConf

from mlxp_core.hydra_app import internals
from mlxp_core.hydra_app.internals import HydraInternalsChanged


def test_element_override_is_what_the_parser_gives() -> None:
    parser = OverridesParser.create()
    sweep = parser.parse_override("lr=0.1,2,abc,true")
    for text, value in zip(sweep.sweep_string_iterator(), sweep.sweep_iterator()):
        made = internals.element_override(sweep, value, f"lr={text}")
        parsed = parser.parse_override(f"lr={text}")
        assert made.value_type == ValueType.ELEMENT
        assert made.value() == parsed.value() and type(made.value()) is type(parsed.value())
        assert made.key_or_group == parsed.key_or_group and made.input_line == f"lr={text}"
        assert made.get_value_element_as_str() == parsed.get_value_element_as_str()


def test_container_content_holds_the_child_nodes_unresolved() -> None:
    cfg = OmegaConf.create({"a": {"b": 1}, "c": "${a.b}", "l": [1, "${a.b}"], "n": None})
    content = internals.container_content(cfg)
    assert content is not None and set(content) == {"a", "c", "l", "n"}
    assert isinstance(content["a"], DictConfig)
    assert content["c"]._value() == "${a.b}"  # the interpolation, not resolved
    items = internals.container_content(cfg.l)
    assert items is not None and isinstance(cfg.l, ListConfig) and set(items) == {0, 1}
    assert internals.container_content(OmegaConf.create({"x": None}).x) is None


def test_the_stored_hydra_config_is_the_node_hydra_composes_from() -> None:
    node = internals.stored_hydra_config(ConfigStore.instance())
    assert isinstance(node, DictConfig)
    choices = [item for item in node.defaults if isinstance(item, DictConfig)]
    assert any("launcher" in item for item in choices)  # hydra/launcher: basic
    # the same object each time: edits to it are what Hydra composes from
    assert internals.stored_hydra_config(ConfigStore.instance()) is node


def test_a_moved_internal_fails_with_a_message_naming_the_fix() -> None:
    class Store:
        repo: dict = {}

    with pytest.raises(HydraInternalsChanged, match=re.escape("hydra-core>=1.3.2,<1.4")):
        internals.stored_hydra_config(Store())  # type: ignore[arg-type]
