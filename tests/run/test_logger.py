"""The Logger on its own: metric lines, scalar types, artifacts of every type, atomic writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mlxp_core.errors import ArtifactError, LogNameError
from mlxp_core.record.layout import allocate
from mlxp_core.run.logger import Logger

HELPERS = Path(__file__).resolve().parents[1] / "helpers"


@pytest.fixture
def logger(tmp_path: Path) -> Logger:
    log_id, path = allocate(tmp_path / "logs")
    return Logger(path.parent, log_id)


def _lines(logger: Logger, name: str) -> list[dict]:
    logger.flush()
    text = (Path(logger.log_dir) / "metrics" / f"{name}.json").read_text()
    return [json.loads(x) for x in text.splitlines()]


def test_numpy_and_torch_scalars_are_numbers(logger: Logger) -> None:
    logger.log_metrics({"f32": np.float32(0.5), "i64": np.int64(3), "b": np.bool_(True),
                        "t": torch.tensor(2.5), "arr0": np.array(1.5)}, "train")
    assert _lines(logger, "train") == [{"f32": 0.5, "i64": 3, "b": True, "t": 2.5, "arr0": 1.5}]


def test_multi_element_tensor_is_refused_naming_the_key(logger: Logger) -> None:
    logger.log_metrics({"ok": 1}, "train")
    with pytest.raises(TypeError, match="key 'vec'"):
        logger.log_metrics({"ok": 2, "vec": torch.ones(3)}, "train")
    with pytest.raises(TypeError, match="expects a dict"):
        logger.log_metrics([1, 2], "train")  # type: ignore[arg-type]
    assert _lines(logger, "train") == [{"ok": 1}]


def test_a_refused_line_leaves_the_encoder_usable(logger: Logger) -> None:
    """The C encoder is reused across calls: a failure half-way must not poison the next.

    (CPython's encoder leaves the containers it was inside marked as "being encoded" when a
    value fails: logging the same, fixed, dict again would then be a false circular reference.)
    """
    row = {"opt": {"lr": 0.1, "bad": object()}}
    with pytest.raises(TypeError, match="key 'opt'"):
        logger.log_metrics(row, "train")
    del row["opt"]["bad"]
    logger.log_metrics(row, "train")
    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(TypeError, match="key 'loop'"):
        logger.log_metrics({"loop": loop}, "train")
    logger.log_metrics({"nan": float("nan"), "s": "é"}, "train")
    logger.flush()
    text = (Path(logger.log_dir) / "metrics" / "train.json").read_text()
    assert text == json.dumps(row) + "\n" + json.dumps({"nan": float("nan"), "s": "é"}) + "\n"


def test_keys_file_is_updated_only_for_new_keys(logger: Logger) -> None:
    keys = Path(logger.log_dir) / "metrics" / ".keys.yaml"
    logger.log_metrics({"a": 1}, "train")
    first = keys.stat().st_mtime_ns
    for i in range(100):
        logger.log_metrics({"a": i}, "train")
    assert keys.stat().st_mtime_ns == first
    logger.log_metrics({"a": 1, "b": 2}, "train")
    logger.log_metrics({"x": 1}, "test")
    import yaml

    assert yaml.safe_load(keys.read_text()) == {"train": ["a", "b"], "test": ["x"]}
    # MLXP's per-name files: first-seen order, `key: ''`; no metrics.yaml among them (MLXP's
    # Reader would take it for a log named "metrics")
    per_name = Path(logger.log_dir) / "metrics" / ".keys"
    assert sorted(p.name for p in per_name.iterdir()) == ["test.yaml", "train.yaml"]
    assert list(yaml.safe_load((per_name / "train.yaml").read_text())) == ["a", "b"]


@pytest.mark.parametrize("name", ["", "config", "../evil", "a/b", "/abs", ".keys", "a..b", 3])
def test_bad_names(logger: Logger, name: object) -> None:
    with pytest.raises(LogNameError):
        logger.log_metrics({"a": 1}, name)  # type: ignore[arg-type]
    with pytest.raises(LogNameError):
        logger.log_artifacts(1, name, "pickle")  # type: ignore[arg-type]


def test_checkpoint_round_trip_and_symmetry(logger: Logger) -> None:
    logger.log_checkpoint({"epoch": 3}, log_name="last_ckpt")
    assert (Path(logger.log_dir) / "artifacts/pickle/last_ckpt.pkl").is_file()
    assert logger.load_checkpoint("last_ckpt") == {"epoch": 3}
    logger.log_checkpoint({"epoch": 4}, log_name="last_ckpt.pkl")  # extension not doubled
    assert logger.load_checkpoint("last_ckpt") == {"epoch": 4}
    logger.log_checkpoint("default")
    assert logger.load_checkpoint() == "default"
    with pytest.raises(FileNotFoundError, match="no artifact named 'missing'"):
        logger.load_checkpoint("missing")


def test_builtin_artifact_types(logger: Logger) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arr = np.arange(6.0).reshape(2, 3)
    logger.log_artifacts(arr, "weights", "numpy")
    logger.log_artifacts({"a": arr, "b": np.ones(2)}, "bundle", "numpy")
    logger.log_artifacts({"w": torch.ones(2)}, "state", "torch")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    logger.log_artifacts(fig, "curve", "image")
    root = Path(logger.log_dir) / "artifacts"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == [
        ".keys/artifacts.yaml",
        "image/curve.png", "numpy/bundle.npz", "numpy/weights.npy", "torch/state.pt"]
    import yaml

    # MLXP's artifact index: {type: {dir key: {file name: ''}}}
    assert yaml.safe_load((root / ".keys/artifacts.yaml").read_text()) == {
        "numpy": {"": {"weights.npy": "", "bundle.npz": ""}}, "torch": {"": {"state.pt": ""}},
        "image": {"": {"curve.png": ""}}}
    np.testing.assert_array_equal(logger.load_artifacts("weights", "numpy"), arr)
    bundle = logger.load_artifacts("bundle")
    assert set(bundle) == {"a", "b"}
    np.testing.assert_array_equal(bundle["a"], arr)
    assert torch.equal(logger.load_artifacts("state", "torch")["w"], torch.ones(2))
    image = logger.load_artifacts("curve", "image")
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    with pytest.raises(TypeError, match="matplotlib Figure"):
        logger.log_artifacts("not a figure", "bad", "image")
    assert not (root / "image" / "bad.png").exists()
    assert [p.name for p in (root / "image").iterdir()] == ["curve.png"]
    with pytest.raises(ArtifactError, match="unknown artifact type 'hdf5'"):
        logger.log_artifacts(1, "x", "hdf5")


def test_user_type_is_recorded_by_import_path_and_loads_in_a_fresh_process(
    logger: Logger,
) -> None:
    sys.path.insert(0, str(HELPERS))
    try:
        import custom_artifacts as ca

        logger.register_artifact_type("json", ca.save_json, ca.load_json, extension=".json")
        logger.log_artifacts({"k": [1, 2]}, "table", "json")
    finally:
        sys.path.remove(str(HELPERS))
    assert (Path(logger.log_dir) / "artifacts/json/table.json").is_file()
    types = (Path(logger.log_dir) / "artifacts/.keys/types.yaml").read_text()
    assert "custom_artifacts:save_json" in types and "custom_artifacts:load_json" in types
    code = (
        "import sys; from pathlib import Path; from mlxp_core.run.logger import Logger;"
        f"lg = Logger(Path({logger.log_dir!r}).parent, 1); "
        "print(lg.load_artifacts('table', 'json'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(HELPERS), "PATH": "/usr/bin:/bin"}, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "{'k': [1, 2]}"


def test_script_local_user_types_work_and_are_recorded_as_mlxp_does(logger: Logger) -> None:
    """Functions defined in a script or a function (MLXP accepts them): usable in this
    process, recorded as MLXP records them (marshalled code), not by import path."""
    import marshal
    import types

    import yaml

    def save(obj: object, path: str) -> None:
        Path(path).write_text(repr(obj))

    def load(path: str) -> object:
        import ast

        return ast.literal_eval(Path(path).read_text())

    logger.register_artifact_type("text", save, load)
    logger.log_artifacts([1, 2], "numbers.txt", "text")
    assert logger.load_artifacts("numbers.txt", "text") == [1, 2]
    keys = Path(logger.log_dir) / "artifacts/.keys"
    assert not (keys / "types.yaml").exists()
    recorded = yaml.safe_load((keys / "custom_types.yaml").read_text())
    rebuilt = types.FunctionType(marshal.loads(recorded["text"]["load"]), {"Path": Path})
    assert rebuilt(str(Path(logger.log_dir) / "artifacts/text/numbers.txt")) == [1, 2]
    with pytest.raises(ArtifactError, match="builtin"):
        logger.register_artifact_type("pickle", print, print)


def test_resumed_writer_truncates_a_partial_last_line(tmp_path: Path) -> None:
    log_id, path = allocate(tmp_path / "logs")
    first = Logger(path.parent, log_id)
    first.log_metrics({"a": 1}, "train")
    first.close()
    with open(path / "metrics/train.json", "a") as handle:
        handle.write('{"a": 2, "b"')  # what a kill -9 mid-write can leave
    second = Logger(path.parent, log_id)
    second.log_metrics({"a": 3}, "train")
    second.close()
    assert (path / "metrics/train.json").read_text() == '{"a": 1}\n{"a": 3}\n'


def test_files_are_readable_by_others(tmp_path: Path) -> None:
    import os
    import stat

    log_id, path = allocate(tmp_path / "logs")
    logger = Logger(path.parent, log_id)
    logger.log_metrics({"a": 1}, "train")
    logger.log_checkpoint({"e": 1}, "last_ckpt")
    logger.close()
    for rel in ["metrics/train.json", "metrics/.keys.yaml",
                "artifacts/pickle/last_ckpt.pkl"]:
        mode = stat.S_IMODE(os.stat(path / rel).st_mode)
        assert mode & stat.S_IROTH, (rel, oct(mode))
