"""MLXP's public modules and names: mlxp.ConfigDict, mlxp.DataFrame, mlxp.reader,
mlxp.data_structures.*, mlxp.errors, mlxp.enumerations (MLXP 1.0.5's names and values)."""

from __future__ import annotations

import copy
import importlib
import pickle
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from mlxp_core.compat.config_dict import ConfigDict, convert_dict


def test_config_dict() -> None:
    cfg = convert_dict(OmegaConf.create(
        {"a": {"b": 1, "c": "${a.b}"}, "l": [{"x": 1}, 2], "items": 3}))
    assert isinstance(cfg, ConfigDict) and isinstance(cfg.a, ConfigDict)
    assert cfg.a.b == 1 and cfg["a"]["c"] == 1  # interpolations resolved
    assert isinstance(cfg.l, list) and cfg.l[0].x == 1  # MLXP leaves dicts in lists as they are
    assert cfg.items == 3  # a key shadows the dict method, as in MLXP
    cfg.a.b = 5
    assert cfg["a"]["b"] == 5
    cfg.update({"a": {"d": 2}, "e": {"f": 1}})
    assert cfg.a.to_dict() == {"b": 5, "c": 1, "d": 2} and cfg.e.f == 1
    plain = cfg.to_dict()
    assert type(plain) is dict and type(plain["a"]) is dict and type(plain["l"][0]) is dict
    for clone in (pickle.loads(pickle.dumps(cfg)), copy.deepcopy(cfg), copy.copy(cfg)):
        assert clone == cfg and clone.a.b == 5
        clone["z"] = 1
        assert clone.z == 1
    assert "a:\n  b: 5" in repr(cfg)
    with pytest.raises(AttributeError):
        cfg.missing  # noqa: B018
    assert convert_dict({"a": {"b": 1}}, src_class=dict).a.b == 1


def test_errors_map_onto_ours() -> None:
    from mlxp_core.compat import errors
    from mlxp_core.errors import ArtifactError, MLXPError, SettingsError
    from mlxp_core.reader.errors import UnknownKeyError

    assert errors.InvalidArtifactError is ArtifactError
    assert errors.InvalidConfigFileError is SettingsError
    assert issubclass(UnknownKeyError, errors.InvalidKeyError)
    assert issubclass(errors.InvalidKeyError, KeyError)
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), MLXPError), name


def test_enumerations_have_mlxp_values() -> None:
    from mlxp_core.compat.enumerations import DataFrameType, Directories, SearchableKeys, Status

    assert DataFrameType.DataFrame.value == "datadict" and DataFrameType.Pandas.value == "pandas"
    assert [k.value for k in SearchableKeys] == ["info.", "config."]
    assert Directories.Metrics.value == "metrics" and Directories.Artifacts.value == "artifacts"
    assert {"STARTING", "RUNNING", "COMPLETE", "FAILED"} <= {s.value for s in Status}


# -- the facade: MLXP's module paths under `import mlxp` --------------------------------------

FACADE = {
    "mlxp.reader": ["Reader"],
    "mlxp.errors": ["InvalidKeyError", "InvalidMapError", "InvalidArtifactError",
                    "MissingFieldError", "JobSubmissionError", "InvalidSchedulerError",
                    "InvalidConfigFileError", "InvalidShellPathError", "UnknownSystemError"],
    "mlxp.enumerations": ["Status", "Directories", "DataFrameType", "SearchableKeys"],
    "mlxp.data_structures.config_dict": ["ConfigDict", "convert_dict"],
    "mlxp.data_structures.dataframe": ["DataFrame", "DataDict", "GroupedDataFrame"],
    "mlxp.data_structures.artifacts": ["Artifact"],
}


@pytest.mark.parametrize("module", sorted(FACADE))
def test_mlxp_module_paths(module: str) -> None:
    mod = importlib.import_module(module)
    for name in FACADE[module]:
        assert hasattr(mod, name), f"{module}.{name}"


def test_mlxp_top_level_names() -> None:
    import mlxp
    from mlxp_core.reader import Reader
    from mlxp_core.reader.dataframe import DataFrame

    assert mlxp.ConfigDict is ConfigDict
    assert mlxp.DataFrame is DataFrame
    assert mlxp.Reader is Reader
    assert importlib.import_module("mlxp.reader").Reader is Reader


def test_importing_the_compat_modules_does_not_import_pandas() -> None:
    code = ("import sys, mlxp.errors, mlxp.enumerations, mlxp.data_structures.config_dict, "
            "mlxp.data_structures.dataframe; print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
