"""MLXP 1.0.5's Reader API on our Reader: the same answers as MLXP 1.0.5's own Reader on logs
that MLXP 1.0.5 wrote (a real sweep in its own venv), then the details: lazy loading, the
Reader's arguments, fields, the pandas side, and errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlxp105
import pandas as pd
import pytest
import reader_data as data

from mlxp_core.reader import Reader
from mlxp_core.reader.dataframe import DataDict, DataFrame, GroupedDataFrame
from mlxp_core.reader.errors import InvalidKeyError, InvalidMapError, UnknownKeyError


@pytest.fixture(scope="module")
def mlxp_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    app = mlxp105.write_app(tmp_path_factory.mktemp("mlxp105") / "app")
    mlxp105.make_logs(app)
    return app


def ours(script: str, cwd: Path) -> Any:
    """Run an MLXP reading script with this package's Reader (``mlxp.Reader`` is
    ``mlxp_core.reader.Reader``: test_compat_modules checks it)."""
    code = script.replace("import mlxp\n", "import mlxp_core.reader as mlxp\n", 1)
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-6000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_same_answers_as_mlxp_105(mlxp_app: Path) -> None:
    script = mlxp105.reader_answers_script()
    theirs = mlxp105.run(script, mlxp_app)
    mine = ours(script, mlxp_app)
    assert theirs["len"] == mine["len"] == 18
    # our extension: every row also has log_id and log_dir
    assert set(mine["fields"]) - set(theirs["fields"]) == {"log_id", "log_dir"}
    assert set(theirs["fields"]) <= set(mine["fields"])
    assert mine["searchable"] == theirs["searchable"]
    assert mine["queries"] == theirs["queries"]
    for key in ("diff", "groups", "best", "first_train_loss", "first_ckpt", "sorted",
                "pandas_rows", "pandas_loss_len"):
        assert mine[key] == theirs[key], key
    # sums over the rows of a group: same values up to the order of the additions
    for key in ("agg", "selected"):
        assert mine[key].keys() == theirs[key].keys()
        for group, values in theirs[key].items():
            flat_theirs = json.loads(json.dumps(values).replace("[", "").replace("]", "")
                                     .join("[]"))
            flat_mine = json.loads(json.dumps(mine[key][group]).replace("[", "")
                                   .replace("]", "").join("[]"))
            assert flat_mine == pytest.approx(flat_theirs, rel=1e-12), (key, group)


def test_tutorial_read_py_runs_on_mlxp_logs(mlxp_app: Path) -> None:
    """MLXP's tutorial/read.py, verbatim (with our Reader), over MLXP 1.0.5's logs."""
    read_py = (Path(__file__).parents[1] / "mlxp_upstream" / "tutorial" / "read.py").read_text()
    code = read_py.replace("import mlxp\n", "import mlxp_core.reader as mlxp\n", 1)
    code = code.replace("config.model.num_units < 128", "config.model.num_units < 4")
    proc = subprocess.run([sys.executable, "-c", code], cwd=mlxp_app, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert "fmean.test.loss" in proc.stdout


# -- details on synthetic logs (tests/reader_data.py) ---------------------------------------


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> str:
    parent = str(tmp_path_factory.mktemp("reader") / "logs")
    data.make_tutorial_logs(parent)
    data.age(parent)
    return parent


def test_metrics_and_artifacts_load_on_access(logs: str) -> None:
    reader = Reader(logs, cache=False)
    res = reader.filter("info.status == 'COMPLETE'")
    assert isinstance(res, DataFrame) and len(res) == 18
    row = res[0]
    assert isinstance(row, DataDict)
    assert row.flattened()["train.loss"] == "METRIC"
    assert row.flattened()["artifact.pickle."] == "ARTIFACT"
    assert reader.stats["metric_files_parsed"] == 0
    loss = row["train.loss"]
    assert loss == pytest.approx([data.tutorial_train_loss(0.01, 100, 1, e)
                                  for e in range(data.EPOCHS)])
    assert row["train.epoch"] == list(range(data.EPOCHS))
    assert reader.stats["metric_files_parsed"] == 1  # one parse for all keys of train.json
    art = row["artifact.pickle."]
    assert list(art) == ["last_ckpt.pkl"]
    assert art["last_ckpt.pkl"].load() == {"epoch": 9, "lr": 0.01}
    assert res[:]["config.seed"] == [r["config.seed"] for r in res]
    assert res[-1]["log_id"] == 18


def test_reader_arguments_as_mlxp_names_them(logs: str, tmp_path: Path) -> None:
    reader = Reader(src_dir=logs, dst_dir=str(tmp_path / "db"), refresh=True)
    assert reader.src_dir == os.path.abspath(logs) == reader.parent_log
    assert reader.dst_dir == str(tmp_path / "db")
    assert reader.cache_path is not None and reader.cache_path.startswith(str(tmp_path / "db"))
    fields = reader.fields
    assert fields.index.name == "Fields" and fields.columns.tolist() == ["Type"]
    assert fields.loc["config.seed", "Type"] == "<class 'int'>"
    assert fields.loc["train.loss", "Type"] == "METRIC"
    assert fields.loc["artifact.pickle.", "Type"] == "Artifact"
    assert set(reader.filter().keys()) == set(fields.index)
    assert reader.fields().set_index("key").loc["config.seed", "kind"] == "config"
    assert set(reader.searchable.index) <= set(fields.index)
    assert all(k.startswith(("info.", "config.")) for k in reader.searchable.index)
    with pytest.raises(TypeError, match="once"):
        Reader(logs, parent_log=logs)


def test_refresh_false_uses_the_cached_index_as_it_is(tmp_path: Path) -> None:
    parent = str(tmp_path / "logs")
    data.write_run(parent, 1, config={"a": 1})
    assert len(Reader(parent)) == 1
    data.write_run(parent, 2, config={"a": 2})
    assert len(Reader(parent, refresh=False)) == 1  # MLXP: the existing database, unchanged
    assert len(Reader(parent)) == 2  # refresh=True (default): new runs are seen
    assert len(Reader(str(tmp_path / "logs"), refresh=False, cache=False)) == 2  # no cache


def test_result_formats(logs: str) -> None:
    reader = Reader(logs, cache=False)
    frame = reader.filter(query_string="config.seed == 1", result_format="pandas")
    assert isinstance(frame, pd.DataFrame) and len(frame) == 6
    assert all(len(x) == data.EPOCHS for x in frame["train.loss"])
    with pytest.raises(ValueError, match="'datadict', 'pandas'"):
        reader.filter("", result_format="json")


def test_a_parser_object_is_used_for_queries(logs: str) -> None:
    class SeedOne:
        def parse(self, query: str) -> Any:
            assert query == "seed one"
            return lambda doc: doc.get("config.seed") == 1

    reader = Reader(logs, parser=SeedOne(), cache=False)
    assert [r["config.seed"] for r in reader.filter("seed one")] == [1] * 6
    with pytest.raises(TypeError, match="parse"):
        Reader(logs, parser=object())


def test_pandas_side_of_the_result(logs: str) -> None:
    reader = Reader(logs, cache=False)
    res = reader.filter("config.seed == 2")
    assert res["log_id"].tolist() == [r["log_id"] for r in res]
    assert res[["log_id", "config.seed"]].shape == (6, 2)
    assert not res.empty and res.index.tolist() == list(range(6))
    merged = res.merge(reader.metrics(res, "train", last=True), on="log_id")
    assert isinstance(merged, pd.DataFrame) and "train.loss" in merged.columns
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        res.nope  # noqa: B018


def test_groupby_keeps_missing_values_and_checks_keys(tmp_path: Path) -> None:
    parent = str(tmp_path / "logs")
    data.write_run(parent, 1, config={"a": 1, "b": 1})
    data.write_run(parent, 2, config={"a": 1})
    data.write_run(parent, 3, config={"a": 2, "b": None})
    res = Reader(parent, cache=False).filter()
    grouped = res.groupby(["config.a", "config.b"])
    assert isinstance(grouped, GroupedDataFrame)
    assert list(grouped.keys()) == [(1, 1), (1, None), (2, None)]  # MLXP: (1,), (2,)
    assert [len(g) for g in grouped.values()] == [1, 1, 1]
    flat = grouped.ungroup()
    assert [r["config.b"] for r in flat] == [1, None, None]
    assert "config.b" not in res[1]  # ungroup did not change the rows it was given
    with pytest.raises(UnknownKeyError, match=r"config\.a") as err:
        res.groupby("config.aa")
    assert isinstance(err.value, InvalidKeyError)


def test_maps(logs: str) -> None:
    res = Reader(logs, cache=False).filter("config.seed == 1")

    def last(x: list[Any]) -> Any:
        return x[-1]

    assert res.aggregate((len, "config.seed"))[0]["flen.config.seed"] == 6
    mapped = res.map((last, "train.loss"))
    assert [r["flast.train.loss"] for r in mapped] == [r["train.loss"][-1] for r in res]
    both = res.apply((lambda a, b: a * b, ("config.seed", "config.model.num_units"), "p"),
                     map_type="Rowwise")
    assert [r["p"] for r in both] == [r["config.model.num_units"] for r in res]
    ranked = res.transform((lambda col: sorted(col), "config.optimizer.lr", "lr_sorted"))
    assert len(ranked) == 6
    kept = res.filter((lambda lr: [x > 0.05 for x in lr], "config.optimizer.lr"))
    assert all(r["config.optimizer.lr"] > 0.05 for r in kept) and len(kept) == 4
    by_units = res.sort("config.model.num_units", ascending=False)
    assert [r["config.model.num_units"] for r in by_units] == sorted(
        [r["config.model.num_units"] for r in res], reverse=True)
    assert res.diff() == ["config.model.num_units", "config.optimizer.lr"]
    with pytest.raises(InvalidMapError, match="one boolean per row"):
        res.filter((lambda lr: True, "config.optimizer.lr"))
    with pytest.raises(InvalidMapError, match="a map is a tuple"):
        res.aggregate([(len, "config.seed"), (len,)])
    with pytest.raises(InvalidMapError, match="map_type"):
        res.apply((len, "config.seed"), map_type="Columnar")
