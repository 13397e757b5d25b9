"""The Reader on synthetic logs (tests/reader_data.py): index, DataFrame, queries, metrics,
the tutorial recipe, artifacts and bad input. Cache and concurrency: test_reader_cache.py."""

from __future__ import annotations

import logging
import math
import os
import pickle
import shutil

import pandas as pd
import pytest
import reader_data as data

from mlxp_core.errors import ArtifactError
from mlxp_core.reader import QuerySyntaxError, Reader, ReaderError, UnknownKeyError

GRID = list(range(1, 19))
ALL = list(range(1, 25))


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> str:
    parent = str(tmp_path_factory.mktemp("reader") / "logs")
    data.make_tutorial_logs(parent)
    data.age(parent)
    return parent


@pytest.fixture()
def reader(logs: str) -> Reader:
    return Reader(logs, cache=False)


def ids(frame: pd.DataFrame) -> list[int]:
    return frame["log_id"].tolist()


# -- the index and the DataFrame -----------------------------------------------------------------


def test_every_run_is_listed_with_its_status(reader: Reader) -> None:
    runs = reader.runs
    assert ids(runs) == ALL
    status = dict(zip(runs["log_id"], runs["info.status"]))
    assert [status[i] for i in GRID] == ["COMPLETE"] * 18
    assert status[19] == "FAILED"
    assert status[20] == "SUBMITTED"
    assert status[21] == "RUNNING"
    assert pd.isna(status[22])  # corrupt info.yaml: listed, status unknown
    assert status[23] == "INTERRUPTED"
    assert status[24] == "SUBMIT_FAILED"
    assert len(reader) == 24
    assert "18 COMPLETE" in repr(reader)


def test_columns_are_flattened_config_and_info(reader: Reader) -> None:
    runs = reader.runs
    cols = runs.columns.tolist()
    assert cols[:2] == ["log_id", "log_dir"]
    assert cols[-1] == "problems"
    assert "config.optimizer.lr" in cols and "config.data.train-frac" in cols
    assert "info.git.commit" in cols and "info.submit.job_id" in cols
    first_info = cols.index("info.status")
    assert all(c.startswith("config.") for c in cols[2:first_info])
    row = runs.set_index("log_id").loc[1]
    assert row["log_dir"] == os.path.join(reader.parent_log, "1")
    assert row["config.optimizer.lr"] == 0.01
    assert row["config.model.num_units"] == 100
    assert row["info.overrides"] == ["optimizer.lr=0.01", "model.num_units=100", "seed=1"]
    # ints stay ints even though the SUBMITTED runs have no config
    assert str(runs["config.seed"].dtype) == "Int64"
    assert pd.isna(runs.set_index("log_id").loc[20, "config.seed"])
    assert runs.set_index("log_id").loc[20, "info.submit.job_id"] == "777"


def test_runs_is_a_copy(reader: Reader) -> None:
    runs = reader.runs
    runs["config.seed"] = 0
    assert reader.runs["config.seed"].iloc[0] == 1


def test_order_is_numeric(tmp_path: str) -> None:
    parent = os.path.join(tmp_path, "logs")
    for log_id in (10, 2, 1, 100, 11):
        data.write_run(parent, log_id, config={"seed": log_id})
    os.makedirs(os.path.join(parent, "007"))  # not a run directory name
    os.makedirs(os.path.join(parent, "x1"))
    reader = Reader(parent, cache=False)
    assert reader.log_ids == [1, 2, 10, 11, 100]
    assert ids(reader.filter("")) == [1, 2, 10, 11, 100]
    assert ids(reader.filter("config.seed > 1")) == [2, 10, 11, 100]


def test_mlxp_exports_the_reader(logs: str) -> None:
    import mlxp

    assert mlxp.Reader is Reader


def test_log_id_comes_from_the_directory_name(tmp_path: str) -> None:
    parent = os.path.join(tmp_path, "logs")
    data.write_run(parent, 1, config={"seed": 1}, metrics={"x": [{"a": 1}]})
    shutil.copytree(os.path.join(parent, "1"), os.path.join(parent, "7"))
    with open(os.path.join(parent, "7", "metrics", "x.json"), "a") as f:
        f.write('{"a": 7}\n')
    reader = Reader(parent, cache=False)
    runs = reader.runs.set_index("log_id")
    assert runs.loc[7, "log_dir"].endswith(os.sep + "7")
    assert runs.loc[7, "info.log_id"] == 1
    assert any(p.log_id == 7 and "copied" in p.message for p in reader.problems)
    assert reader.metrics(7, "x")["x.a"].tolist() == [1, 7]
    assert reader.metrics(1, "x")["x.a"].tolist() == [1]


def test_fields(reader: Reader) -> None:
    fields = reader.fields().set_index("key")
    assert fields.loc["config.seed", "kind"] == "config"
    assert fields.loc["config.seed", "runs"] == 22
    assert fields.loc["info.status", "runs"] == 23
    assert fields.loc["train.loss", "kind"] == "metric"
    assert fields.loc["test.accuracy", "runs"] == 18
    assert fields.loc["artifacts.pickle", "runs"] == 18
    assert fields.loc["log_id", "kind"] == "run"


def test_metadata_of_one_run(reader: Reader) -> None:
    assert reader.metadata(1, "config")["optimizer"]["lr"] == 0.01
    assert reader.metadata("1")["status"] == "COMPLETE"
    assert "logger" in reader.metadata(os.path.join(reader.parent_log, "1"), "mlxp")
    with pytest.raises(ReaderError, match="no run 99"):
        reader.metadata(99)


# -- queries (the language itself: test_reader_query.py) -----------------------------------------


def expected(pred) -> list[int]:  # type: ignore[no-untyped-def]
    grid = {i: data.tutorial_config(lr, u, s) for i, (lr, u, s) in enumerate(
        ((lr, u, s) for lr in data.LRS for u in data.NUM_UNITS for s in data.SEEDS), start=1)}
    return [i for i, cfg in grid.items() if pred(cfg)]


@pytest.mark.parametrize(("query", "want"), [
    ("info.status == 'COMPLETE'", GRID),
    ('info.status == "COMPLETE"', GRID),
    ("config.optimizer.lr > 0.01",
     [*expected(lambda c: c["optimizer"]["lr"] > 0.01), 19, 21, 22, 23]),
    ("config.seed in [1, 2]", expected(lambda c: c["seed"] in (1, 2))),
    ("~(config.seed in [1, 2])", [*expected(lambda c: c["seed"] == 3), 19, 20, 21, 22, 23, 24]),
    ("config.seed not in [1, 2]", [*expected(lambda c: c["seed"] == 3), 19, 21, 22, 23]),
    ("info.status == 'COMPLETE' & config.optimizer.lr == 1e-2 & config.seed == 1", [1, 4]),
    ("(config.seed == 1 | config.seed == 2) & config.model.num_units == 200",
     [4, 5, 10, 11, 16, 17]),
    ("config.seed == 1 | config.seed == 2 & config.model.num_units == 200",
     sorted([*expected(lambda c: c["seed"] == 1), 5, 11, 17])),
    ("config.model.dropout == None", ALL),
    ("config.model.dropout == null & info.status == 'SUBMITTED'", [20]),
    ("info.error.type != None", [19]),
    ("info.error.type != 'ValueError'", [19]),
    ("config.model.bias == true & log_id < 3", [1, 2]),
    ("config.seed == true", []),
    ("config.data.train-frac >= 0.9 & log_id <= 2", [1, 2]),
    ("0.5 < config.optimizer.lr", expected(lambda c: c["optimizer"]["lr"] > 0.5)),
    ("info.scheduler == null & info.submit.job_id == '777'", [20]),
    ("problems != None", [22]),
    ("log_id >= 23", [23, 24]),
    ("", ALL),
])
def test_filter(reader: Reader, query: str, want: list[int]) -> None:
    assert ids(reader.filter(query)) == want


def test_filter_result_is_a_fresh_frame(reader: Reader) -> None:
    out = reader.filter("config.seed == 2")
    assert out.index.tolist() == list(range(len(out)))
    out["config.seed"] = 5
    assert reader.filter("config.seed == 5").empty


def test_syntax_error_points_at_the_position(reader: Reader) -> None:
    with pytest.raises(QuerySyntaxError) as err:
        reader.filter("config.seed = 1")
    assert err.value.position == 12
    lines = str(err.value).splitlines()
    assert "use '=='" in lines[0]
    assert lines[1] == "    config.seed = 1"
    assert lines[2] == " " * 16 + "^"


def test_unknown_key_names_the_closest_keys(reader: Reader) -> None:
    with pytest.raises(UnknownKeyError) as err:
        reader.filter("info.status == 'COMPLETE' & config.optimiser.lr > 0.1")
    assert "config.optimizer.lr" in err.value.candidates
    assert "config.optimizer.lr" in str(err.value)
    with pytest.raises(UnknownKeyError, match=r"config\.seed"):
        reader.filter("seed == 1")
    with pytest.raises(UnknownKeyError, match=r"reader\.metrics"):
        reader.filter("train.loss < 1")


# -- metrics ---------------------------------------------------------------------------------


def test_metrics_long_frame(reader: Reader) -> None:
    runs = reader.filter("info.status == 'COMPLETE' & config.seed == 1")
    train = reader.metrics(runs, "train")
    assert train.columns.tolist() == ["log_id", "step", "train.epoch", "train.loss"]
    assert len(train) == len(runs) * data.EPOCHS
    assert train["log_id"].unique().tolist() == ids(runs)
    first = train[train.log_id == 1]
    assert first["step"].tolist() == list(range(data.EPOCHS))
    assert first["train.loss"].tolist() == pytest.approx(
        [data.tutorial_train_loss(0.01, 100, 1, e) for e in range(data.EPOCHS)])
    # pandas does the rest
    mean = train.groupby("step")["train.loss"].mean()
    assert len(mean) == data.EPOCHS


def test_metrics_keys_and_missing_values(tmp_path: str) -> None:
    parent = os.path.join(tmp_path, "logs")
    data.write_run(parent, 1, config={"a": 1}, metrics={"m": [{"x": 1}, {"y": 2.5}, {"x": 3}]})
    data.write_run(parent, 2, config={"a": 2}, metrics={"m": [{"z": "s"}]})
    reader = Reader(parent, cache=False)
    m = reader.metrics(None, "m")
    assert m.columns.tolist() == ["log_id", "step", "m.x", "m.y", "m.z"]
    assert m[["log_id", "step"]].values.tolist() == [[1, 0], [1, 1], [1, 2], [2, 0]]
    assert m["m.x"].isna().tolist() == [False, True, False, True]
    assert m.loc[[0, 2], "m.x"].tolist() == [1, 3]
    assert m["m.y"].isna().tolist() == [True, False, True, True] and m.loc[1, "m.y"] == 2.5
    assert m["m.z"].tolist()[3] == "s" and m["m.z"].isna().tolist()[:3] == [True] * 3
    only = reader.metrics(None, "m", keys=["m.y"])
    assert only.columns.tolist() == ["log_id", "step", "m.y"]
    assert reader.metrics([1], "m", keys="x")["m.x"].tolist()[0] == 1
    last = reader.metrics(None, "m", last=True)
    assert last.columns.tolist() == ["log_id", "m.x", "m.y", "m.z"]
    assert last.set_index("log_id").loc[1, "m.x"] == 3
    with pytest.raises(UnknownKeyError, match=r"the key 'xx' in metrics/m\.json; closest"):
        reader.metrics(None, "m", keys=["xx"])


def test_a_metric_file_is_parsed_once_whatever_the_keys(logs: str) -> None:
    reader = Reader(logs, cache=False)
    runs = reader.filter("info.status == 'COMPLETE'")
    assert reader.stats["metric_files_parsed"] == 0
    reader.metrics(runs, "train", keys=["loss"])
    assert reader.stats["metric_files_parsed"] == 18
    reader.metrics(runs, "train", keys=["epoch"])
    reader.metrics(runs, "train")
    assert reader.stats["metric_files_parsed"] == 18  # kept until the file changes


def test_a_changed_metric_file_is_parsed_again(tmp_path: str) -> None:
    parent = os.path.join(tmp_path, "logs")
    data.write_run(parent, 1, config={"a": 1}, metrics={"m": [{"x": 1}]})
    reader = Reader(parent, cache=False)
    assert len(reader.metrics(1, "m")) == 1
    with open(os.path.join(parent, "1", "metrics", "m.json"), "a") as f:
        f.write('{"x": 2}\n')
    assert reader.metrics(1, "m")["m.x"].tolist() == [1, 2]
    assert reader.stats["metric_files_parsed"] == 2


def test_metric_file_that_does_not_exist(reader: Reader) -> None:
    with pytest.raises(UnknownKeyError) as err:
        reader.metrics(reader.runs, "trian")
    assert "train" in err.value.candidates
    # runs without the file (not started) simply have no rows
    out = reader.metrics([1, 20], "train")
    assert out["log_id"].unique().tolist() == [1]
    assert reader.metrics([], "train").empty


# -- the tutorial's question -----------------------------------------------------------------


def test_recipe_best_learning_rate_per_num_units(logs: str) -> None:
    # the recipe of docs/reader.md, verbatim
    reader = Reader(logs)
    runs = reader.filter("info.status == 'COMPLETE'")
    last = reader.metrics(runs, "train", last=True).merge(
        reader.metrics(runs, "test", last=True), on="log_id")
    runs = runs.merge(last, on="log_id")
    by_lr = runs.groupby(["config.model.num_units", "config.optimizer.lr"])[
        ["train.loss", "test.loss"]].mean()
    best = by_lr.loc[by_lr.groupby(level="config.model.num_units")["train.loss"].idxmin()]

    got = {units: (lr, row["test.loss"]) for (units, lr), row in best.iterrows()}
    want = data.tutorial_expected()
    assert set(got) == set(want)
    for units, (lr, test_loss) in want.items():
        assert got[units][0] == lr
        assert got[units][1] == pytest.approx(test_loss)


# -- artifacts -------------------------------------------------------------------------------


def test_artifacts_list_and_load(reader: Reader) -> None:
    arts = reader.artifacts(1)
    assert [(a.type, a.name) for a in arts] == [("pickle", "last_ckpt.pkl")]
    assert arts[0].path == os.path.join(reader.parent_log, "1", "artifacts", "pickle",
                                        "last_ckpt.pkl")
    assert reader.load_artifact(1, "last_ckpt.pkl") == {"epoch": 9, "lr": 0.01}
    assert reader.load_artifact(reader.runs.iloc[12], "last_ckpt", "pickle")["lr"] == 1.0
    assert arts[0].load()["epoch"] == 9
    assert reader.artifacts(20) == []
    with pytest.raises(ArtifactError, match=r"pickle/last_ckpt\.pkl"):
        reader.load_artifact(1, "model")


def test_artifact_types(tmp_path: str) -> None:
    np = pytest.importorskip("numpy")
    parent = os.path.join(tmp_path, "logs")
    run = data.write_run(parent, 1, config={"a": 1}, artifacts={
        "numpy": {"arr.npy": np.arange(3)}, "pickle": {"arr.pkl": [1], "sub/deep.pkl": 2}})
    np.savez(os.path.join(run, "artifacts", "numpy", "many.npz"), a=np.ones(2), b=np.zeros(1))
    os.makedirs(os.path.join(run, "artifacts", "text"))
    with open(os.path.join(run, "artifacts", "text", "notes.txt"), "w") as f:
        f.write("hello")
    data._write(os.path.join(run, "artifacts", ".keys", "types.yaml"), data.dump_yaml(
        {"text": {"save": "reader_data:save_text", "load": "reader_data:load_text",
                  "extension": ".txt"}}))
    with open(os.path.join(run, "artifacts", "pickle", ".arr.pkl.x1y2.tmp"), "wb") as f:
        f.write(b"partial")  # a temporary file of an atomic write in progress
    reader = Reader(parent, cache=False)
    names = [(a.type, a.name) for a in reader.artifacts(1)]
    assert names == [("numpy", "arr.npy"), ("numpy", "many.npz"), ("pickle", "arr.pkl"),
                     ("pickle", "sub/deep.pkl"), ("text", "notes.txt")]
    assert reader.load_artifact(1, "arr", "numpy").tolist() == [0, 1, 2]
    assert sorted(reader.load_artifact(1, "many")) == ["a", "b"]
    assert reader.load_artifact(1, "sub/deep") == 2
    assert reader.load_artifact(1, "notes") == "hello"
    with pytest.raises(ArtifactError, match="ambiguous"):
        reader.load_artifact(1, "arr")


def test_image_artifact(tmp_path: str) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parent = os.path.join(tmp_path, "logs")
    run = data.write_run(parent, 1, config={"a": 1})
    os.makedirs(os.path.join(run, "artifacts", "image"))
    fig = plt.figure(figsize=(1, 1))
    fig.savefig(os.path.join(run, "artifacts", "image", "fig.png"))
    assert Reader(parent, cache=False).load_artifact(1, "fig").ndim == 3


# -- bad input -------------------------------------------------------------------------------


def test_corrupt_info_yaml_is_reported_once(logs: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mlxp.reader"):
        reader = Reader(logs, cache=False)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "22/metadata/info.yaml" in warnings[0].getMessage()
    (problem,) = [p for p in reader.problems if p.severity == "warning"]
    assert (problem.log_id, problem.file) == (22, "metadata/info.yaml")
    assert problem.log_dir == os.path.join(logs, "22")
    assert "not valid YAML at line" in problem.message
    row = reader.runs.set_index("log_id").loc[22]
    assert row["config.seed"] == 4 and "not valid YAML" in row["problems"]
    assert "metadata/info.yaml" in reader.report()


def test_truncated_and_corrupt_metric_lines(reader: Reader) -> None:
    running = reader.metrics(21, "train")
    assert running["step"].tolist() == [0, 1, 2, 3, 4]  # the partial 6th line is ignored
    interrupted = reader.metrics(23, "train")
    assert interrupted["step"].tolist() == [0, 2, 3]  # line 2 is corrupt: skipped
    by_run = {p.log_id: p for p in reader.problems if p.file == "metrics/train.json"}
    assert by_run[21].severity == "note" and "incomplete" in by_run[21].message
    assert by_run[23].severity == "warning" and "line 2" in by_run[23].message


def test_odd_run_directories(tmp_path: str) -> None:
    parent = os.path.join(tmp_path, "logs")
    data.write_run(parent, 1, config={"a": 1})
    os.makedirs(os.path.join(parent, "2"))  # just allocated, nothing written yet
    os.makedirs(os.path.join(parent, "3", "metadata"))
    with open(os.path.join(parent, "3", "metadata", "info.yaml"), "w") as f:
        f.write("- a list\n")
    data.write_run(parent, 4, config={"a": 4}, status="COMPLETE")
    os.remove(os.path.join(parent, "4", "metadata", "config.yaml"))
    with open(os.path.join(parent, "5"), "w") as f:
        f.write("a file, not a run")
    reader = Reader(parent, cache=False)
    assert reader.log_ids == [1, 2, 3, 4]
    problems = {(p.log_id, p.severity): p.message for p in reader.problems}
    assert "no metadata/ directory" in problems[(2, "note")]
    assert "expected a mapping" in problems[(3, "warning")]
    assert "missing" in problems[(4, "warning")]


def test_metric_file_listed_but_deleted(tmp_path: str) -> None:
    parent = os.path.join(tmp_path, "logs")
    data.write_run(parent, 1, config={"a": 1}, metrics={"m": [{"x": 1}]})
    data.write_run(parent, 2, config={"a": 1}, metrics={"m": [{"x": 2}]})
    os.remove(os.path.join(parent, "1", "metrics", "m.json"))
    reader = Reader(parent, cache=False)
    assert reader.metrics(None, "m")["log_id"].tolist() == [2]
    assert any(p.log_id == 1 and "does not exist" in p.message for p in reader.problems)


def test_missing_parent_log(tmp_path: str) -> None:
    with pytest.raises(FileNotFoundError, match="not a directory"):
        Reader(os.path.join(tmp_path, "nope"))


def test_non_finite_metric_values(tmp_path: str) -> None:
    parent = os.path.join(tmp_path, "logs")
    run = data.write_run(parent, 1, config={"a": 1})
    os.makedirs(os.path.join(run, "metrics"))
    with open(os.path.join(run, "metrics", "m.json"), "w") as f:
        f.write('{"x": NaN}\n{"x": Infinity}\n{"x": -Infinity}\n')
    x = Reader(parent, cache=False).metrics(1, "m")["m.x"].tolist()
    assert math.isnan(x[0]) and x[1] == math.inf and x[2] == -math.inf


def test_pickle_checkpoint_roundtrip_matches_logger_layout(tmp_path: str) -> None:
    parent = os.path.join(tmp_path, "logs")
    run = data.write_run(parent, 1, config={"a": 1})
    from pathlib import Path

    from mlxp_core.run import artifacts as core

    core.save_atomic(core.BUILTIN_TYPES["pickle"], {"w": [1, 2]},
                     core.target_path(Path(run, "artifacts", "pickle"), "last_ckpt", ".pkl"))
    reader = Reader(parent, cache=False)
    assert reader.load_artifact(1, "last_ckpt") == {"w": [1, 2]}
    with open(reader.artifacts(1)[0].path, "rb") as f:
        assert pickle.load(f) == {"w": [1, 2]}


def test_argument_errors(reader: Reader) -> None:
    with pytest.raises(ValueError, match="not a metric log name"):
        reader.metrics(None, "../1/metadata/info")
    with pytest.raises(ReaderError, match="expected one run, got 18"):
        reader.artifacts(reader.filter("info.status == 'COMPLETE'"))
    with pytest.raises(ValueError, match="metadata name"):
        reader.metadata(1, "../../x")
    with pytest.raises(ReaderError, match="not a run directory"):
        reader.artifacts("/tmp")
    with pytest.raises(ReaderError, match="no run 99"):
        reader.metrics([1, 99], "train")
