"""`hydra/sweeper=mlxp` and `hydra/launcher=mlxp_inline` against Hydra's basic ones.

- the sweeper expands, numbers and batches jobs exactly as Hydra's basic sweeper;
- a job Hydra cannot compose fails with Hydra's own error before anything runs;
- the inline launcher's job configs equal what Hydra's `load_sweep_config` composes;
- `@mlxp.launch` uses both by default, and any choice of the user wins;
- Hydra's own launcher and batched-sweeper test suites pass.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
from conftest import info, run, run_dirs, write_app
from hydra import initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn
from hydra.test_utils.launcher_common_tests import (
    BatchedSweeperTestSuite,
    IntegrationTestSuite,
    LauncherTestSuite,
)
from hydra.test_utils.test_utils import chdir_plugin_root  # noqa: F401
from hydra.types import RunMode
from omegaconf import DictConfig, ListConfig, OmegaConf

from mlxp_core.hydra_app.defaults import mlxp_plugin_defaults
from mlxp_core.hydra_app.sweep import Composer, expand

# Hydra's global state (version base, config store) is restored after every test
pytestmark = pytest.mark.usefixtures("hydra_restore_singletons")

# --- a config tree with groups, packages, a structured config and interpolations ----------

FILES = {
    "config.yaml": """\
        defaults:
          - db: mysql
          - model: small
          - _self_
        x: 1
        y: ${x}
        name: run
        msg: hello
        when: ${now:%H-%M-%S}
        home: ${oc.env:HOME}
        job: ${hydra:job.name}
        nested:
          a:
            b: 1
          l: [1, 2, 3]
        d: {}
        nothing: null
        """,
    "db/mysql.yaml": "driver: mysql\nuser: root\nonly_mysql: 1\n",
    "db/postgresql.yaml": "driver: postgresql\nuser: pg\n",
    "extra/one.yaml": "extra_value: 5\n",
    "extra/two.yaml": "extra_value: 6\nmore: [1]\n",
    "model/small.yaml": "units: 10\n",
    "model/big.yaml": "units: 100\n",
    # hydra.sweeper.params: sweep overrides from the config, before the command line's
    "params.yaml": """\
        defaults:
          - config
          - _self_
        hydra:
          sweeper:
            params:
              x: 7,8
              name: p,q
        """,
}


@dataclass
class TypedModel:
    units: int = 1
    lr: float = 0.1
    name: str = "s"
    opt: Optional[int] = None
    tags: List[str] = field(default_factory=list)
    table: Dict[str, int] = field(default_factory=dict)


@pytest.fixture
def conf_dir(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "conf"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    ConfigStore.instance().store(group="model", name="typed", node=TypedModel,
                                 provider="test_sweeper")
    yield root


def _node_shape(node: Any) -> Any:
    """What to_container does not show: node classes, reference types, optionality, flags."""
    meta = node._metadata
    own = (type(node).__name__, str(meta.ref_type), str(getattr(meta, "object_type", None)),
           meta.optional, dict(meta.flags or {}))
    if isinstance(node, DictConfig) and isinstance(node.__dict__["_content"], dict):
        return own, {k: _node_shape(v) for k, v in node.__dict__["_content"].items()}
    if isinstance(node, ListConfig) and isinstance(node.__dict__["_content"], list):
        return own, [_node_shape(v) for v in node.__dict__["_content"]]
    return own


def _jobs_and_composer(conf: Path, args: List[str]) -> Tuple[Any, DictConfig, List[List[str]]]:
    loader = GlobalHydra.instance().config_loader()
    hydra_args = [a for a in args if a.startswith("hydra")]
    task_args = [a for a in args if not a.startswith("hydra")]
    master = loader.load_configuration(
        "config", [*task_args, *hydra_args, "hydra.mode=MULTIRUN"], RunMode.MULTIRUN)
    parser = OverridesParser.create(config_loader=loader)
    jobs = expand(parser.parse_overrides([str(a) for a in master.hydra.overrides.task]))
    return loader, master, jobs


# --- 1. derived job configs equal Hydra's load_sweep_config ------------------------------

DERIVED_SHAPES = {
    "values_and_add": ["x=1,2", "+new=a,b"],
    "force_add": ["++x=5,6", "++fresh=1"],
    "group_choice_and_value_in_its_package": ["db=mysql,postgresql", "db.user=u1,u2"],
    "appended_group": ["+extra=one,two", "+extra.more=[2]"],
    "deletions": ["~y", "~db"],
    "structured_config": ["model=typed", "model.units=1,2", "model.lr=1,0.5",
                          "model.opt=null,3"],
    "structured_containers": ["model=typed", "model.tags=[a],[b,c]", "+model.table.k=1,2"],
    "interpolations": ["y=${name},${nested.a.b}", "when=${now:%Y}"],
    "override_dirname_settings": [
        "hydra.job.config.override_dirname.kv_sep=_",
        "hydra.job.config.override_dirname.item_sep=/",
        "hydra.job.config.override_dirname.exclude_keys=[x]", "x=1,2", "db=postgresql"],
    "nested_keys_lists_and_dict_merge": ["nested.a.b=1,2", "nested.l.0=9",
                                         "nested={a:{b:3}},{a:{b:4}}"],
    "related_keys_in_one_job": ["+d.k=1", "d.k=2,3"],
    "env_copy_chdir_and_range": ["hydra.job.env_copy=[HOME]", "hydra.job.chdir=true",
                                 "x=range(0,3)"],
    "package_override": ["+db@backup=mysql,postgresql", "x=3"],
    "quoted_strings": ["msg='a b','c=d',\"e,f\"", "name=a\\,b"],
    "glob_and_choice": ["db=glob(*)", "model=choice(small,big)"],
}


@pytest.mark.parametrize("args", DERIVED_SHAPES.values(), ids=DERIVED_SHAPES.keys())
def test_derived_config_equals_load_sweep_config(conf_dir: Path, args: List[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(conf_dir.parent)
    with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
        loader, master, jobs = _jobs_and_composer(conf_dir, args)
        assert len(jobs) >= 2 or args == DERIVED_SHAPES["deletions"]
        composer = Composer(loader, master)
        for job in jobs:
            expected = loader.load_sweep_config(master, job)
            composer.check(job)
            derived = composer.derive(job)
            assert derived is not None, job
            assert OmegaConf.to_container(derived, resolve=False) == OmegaConf.to_container(
                expected, resolve=False), job
            assert _node_shape(derived) == _node_shape(expected), job
            assert (derived._metadata.resolver_cache
                    == expected._metadata.resolver_cache), job
        # every job derived, and group choices composed once per combination
        assert composer.stats["hydra_fallbacks"] == 0
        combos = set()
        for job in jobs:
            split = composer.split(job)
            assert split is not None
            combos.add(split[0])
        assert composer.stats["compositions"] == len(combos)


def test_derived_config_of_an_unpicklable_config_is_a_deep_copy(
        conf_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclass
    class LocalModel:  # a local class cannot be pickled: the composer deep-copies instead
        units: int = 1

    ConfigStore.instance().store(group="model", name="local", node=LocalModel)
    monkeypatch.chdir(conf_dir.parent)
    with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
        loader, master, jobs = _jobs_and_composer(conf_dir, ["model=local", "model.units=1,2"])
        composer = Composer(loader, master)
        for job in jobs:
            derived = composer.derive(job)
            assert derived is not None
            expected = loader.load_sweep_config(master, job)
            assert OmegaConf.to_container(derived, resolve=False) == OmegaConf.to_container(
                expected, resolve=False)
            assert _node_shape(derived) == _node_shape(expected)
        assert list(composer._snapshots.values()) == [None]


# --- 2. a job Hydra cannot compose fails with Hydra's error, every other one passes --------

ERROR_SHAPES = {
    "key_missing_in_one_group_option": ["db=mysql,postgresql", "db.only_mysql=7"],
    "wrong_types_in_structured_config": ["model=typed", "model.units=5,abc,3.5,True"],
    "wrong_type_in_typed_dict": ["model=typed", "+model.table.k=1,z"],
    "unknown_key_in_merged_dict": ["model=typed", "model.table={a:1},{a:q}",
                                   "model={units:2},{bogus:1}"],
    "bad_group_option": ["db=nope,mysql,postgresql"],
    "deletion_value_mismatch": ["~x=1,2"],
    "append_to_existing_key": ["+x=1,2", "+brand_new=1,2"],
    "force_add_of_a_group": ["++db=mysql,postgresql"],
    "path_through_a_value": ["nested.a.b.c=1,2", "x.y=1,2"],
    "group_with_bad_package": ["db@pkg=mysql,postgresql"],
    "non_optional_null": ["model=typed", "model.units=null,3"],
}


@pytest.mark.parametrize("args", ERROR_SHAPES.values(), ids=ERROR_SHAPES.keys())
def test_check_raises_exactly_what_hydra_raises(conf_dir: Path, args: List[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(conf_dir.parent)
    with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
        loader, master, jobs = _jobs_and_composer(conf_dir, args)
        composer = Composer(loader, master)
        failures = 0
        for job in jobs:
            try:
                expected: Any = loader.load_sweep_config(master, job)
            except Exception as exc:
                expected = exc
            if isinstance(expected, Exception):
                failures += 1
                with pytest.raises(type(expected)) as got:
                    composer.check(job)
                assert str(got.value) == str(expected)
                assert str(got.value.__cause__) == str(expected.__cause__)
                continue
            composer.check(job)
            derived = composer.job_config(job)
            assert OmegaConf.to_container(derived, resolve=False) == OmegaConf.to_container(
                expected, resolve=False), job
        assert failures >= 1


# --- 3. expansion, numbering, batches and errors identical to the basic sweeper ------------

EXPANSIONS = [
    [],
    ["x=1,2,3"],
    ["x=range(0,5)", "y=a,b"],
    ["x=range(1,10,3)", "+z=range(3)"],
    ["x=range(0,1,0.25)"],
    ["x=choice(1,2)", "+z=choice(a,b,c)"],
    ["db=glob(*)", "model=glob(*,exclude=big)"],
    ["x=1,2", "y=3", "x=5,6"],
    ["x=1", "+new=[1,2],[3]", "msg='a,b',c"],
    ["~y", "x=1,2"],
    ["x=1,2", "db=mysql,postgresql", "+extra=one,two"],
    ["x=sort(3,1,2)", "name=tag(t,choice(a,b))"],
    ["x=sort(range(3),reverse=true)", "+m={a:1},{a:2}"],
    ["x=glob(*)"],
    ["x=range(0,5)", "hydra.sweeper.max_batch_size=2"],
    ["x=range(0,4)", "y=a,b", "hydra.sweeper.max_batch_size=3"],
    ["--config-name=params"],
    ["--config-name=params", "x=1,2", "+new=a,b"],
]
# a sweep type the basic sweeper refuses, and jobs Hydra cannot compose
EXPANSION_ERRORS = [
    ["x=interval(0,1)"],
    ["db=mysql,nope"],
    ["x=1,oops", "model=typed", "model.units=1,abc"],
]
EXPANSIONS += EXPANSION_ERRORS


def _sweep(runner: Any, conf: Path, sweeper: str, launcher: str, args: List[str],
           tmp: Path) -> Tuple[Any, List[Dict[str, Any]]]:
    calls: List[Dict[str, Any]] = []
    name = "config"
    if args and args[0].startswith("--config-name="):
        name, args = args[0].split("=", 1)[1], args[1:]

    def task(cfg: DictConfig) -> Any:
        from hydra.core.hydra_config import HydraConfig

        calls.append({"num": HydraConfig.get().job.num,
                      "task": list(HydraConfig.get().overrides.task)})
        return len(calls)

    sweep = runner(calling_file=None, calling_module="hydra.test_utils.a_module",
                   task_function=task, config_path=str(conf), config_name=name,
                   overrides=[f"hydra/sweeper={sweeper}", f"hydra/launcher={launcher}", *args],
                   temp_dir=tmp)
    try:
        with sweep:
            returns = sweep.returns
    except Exception as exc:
        return exc, calls
    return returns, calls


def _summary(returns: Any) -> Any:
    if isinstance(returns, Exception):
        text = str(returns).replace("MLXPSweeper", "BasicSweeper")
        return type(returns).__name__, text, str(returns.__cause__)
    return [[(list(r.overrides), r.hydra_cfg.hydra.job.num, r.return_value) for r in batch]
            for batch in returns]


@pytest.mark.parametrize("args", EXPANSIONS, ids=[" ".join(a) or "none" for a in EXPANSIONS])
def test_same_jobs_order_numbers_batches_and_errors_as_basic_sweeper(
        hydra_sweep_runner: Any, conf_dir: Path, tmp_path: Path, args: List[str]) -> None:
    basic, basic_calls = _sweep(hydra_sweep_runner, conf_dir, "basic", "basic", args,
                                tmp_path / "basic")
    ours, our_calls = _sweep(hydra_sweep_runner, conf_dir, "mlxp", "basic", args,
                             tmp_path / "ours")
    assert isinstance(basic, Exception) == (args in EXPANSION_ERRORS), _summary(basic)
    assert _summary(ours) == _summary(basic)
    assert our_calls == basic_calls
    if isinstance(ours, Exception):
        assert our_calls == []  # nothing ran: every job is checked before the first launch


# --- 4. the inline launcher runs the jobs Hydra's basic launcher runs, with the same config ---

PIPELINE_SHAPES = [
    ["x=1,2", "db=mysql,postgresql", "+new=1", "hydra.job.chdir=true"],
    ["model=typed", "model.lr=1,2", "y=${name}", "hydra.job.config.override_dirname.kv_sep=:"],
    ["x=range(0,5)", "hydra.sweeper.max_batch_size=2"],
]
_LAUNCHER_SPECIFIC = ("launcher", "sweeper")


def _job_view(ret: JobReturn) -> Any:
    hydra_cfg = OmegaConf.to_container(ret.hydra_cfg.hydra, resolve=False)
    assert isinstance(hydra_cfg, dict)
    for key in _LAUNCHER_SPECIFIC:
        hydra_cfg.pop(key)
        hydra_cfg["runtime"]["choices"].pop(f"hydra/{key}")
    hydra_cfg["overrides"]["hydra"] = [
        o for o in hydra_cfg["overrides"]["hydra"] if not o.startswith(("hydra/", "hydra.sweep"))]
    hydra_cfg["runtime"].pop("output_dir")
    hydra_cfg.pop("sweep")
    return (list(ret.overrides), OmegaConf.to_container(ret.cfg, resolve=False), hydra_cfg,
            ret.status, ret.return_value)


@pytest.mark.parametrize("args", PIPELINE_SHAPES)
def test_inline_launcher_jobs_equal_basic_launcher_jobs(
        hydra_sweep_runner: Any, conf_dir: Path, tmp_path: Path, args: List[str]) -> None:
    basic, _ = _sweep(hydra_sweep_runner, conf_dir, "basic", "basic", args, tmp_path / "b")
    ours, _ = _sweep(hydra_sweep_runner, conf_dir, "mlxp", "mlxp_inline", args, tmp_path / "o")
    assert not isinstance(basic, Exception) and not isinstance(ours, Exception)
    assert [[_job_view(r) for r in batch] for batch in ours] == [
        [_job_view(r) for r in batch] for batch in basic]


# --- 5. Hydra's own suites ------------------------------------------------------------------


def test_discovery() -> None:
    from hydra.core.plugins import Plugins
    from hydra.plugins.launcher import Launcher
    from hydra.plugins.sweeper import Sweeper

    assert "InlineLauncher" in [x.__name__ for x in Plugins.instance().discover(Launcher)]
    assert "MLXPSweeper" in [x.__name__ for x in Plugins.instance().discover(Sweeper)]


@pytest.mark.parametrize("launcher_name, overrides", [
    ("mlxp_inline", []),
    ("mlxp_inline", ["hydra/sweeper=mlxp"]),
    ("basic", ["hydra/sweeper=mlxp"]),
])
class TestInlineLauncherAndSweeper(LauncherTestSuite):
    pass


@pytest.mark.parametrize("launcher_name, overrides", [
    ("mlxp_inline", ["hydra/sweeper=mlxp", "hydra.sweeper.max_batch_size=2"]),
    ("mlxp_inline", ["hydra/sweeper=basic", "hydra.sweeper.max_batch_size=2"]),
])
class TestBatchedSweeper(BatchedSweeperTestSuite):
    pass


@pytest.mark.parametrize(
    "task_launcher_cfg, extra_flags",
    [({"defaults": [{"override hydra/launcher": "mlxp_inline"},
                    {"override hydra/sweeper": "mlxp"}, "_self_"]}, ["-m"])],
)
class TestInlineIntegration(IntegrationTestSuite):
    pass


# --- 6. @mlxp.launch: the defaults, and the user's choices winning --------------------------

CLUSTER = "defaults:\n  - mlxp_local\nmax_workers: 1\n"


def _choice(app: Path, what: str, *args: str) -> str:
    proc = run(app, "--cfg", "hydra", "-p", f"hydra.{what}", *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_defaults_and_the_users_choices(app: Path) -> None:
    write_app(app, "pass")
    assert "InlineLauncher" in _choice(app, "launcher")
    assert "MLXPSweeper" in _choice(app, "sweeper")
    assert "BasicLauncher" in _choice(app, "launcher", "hydra/launcher=basic")
    assert "BasicSweeper" in _choice(app, "sweeper", "hydra/sweeper=basic")
    (app / "configs/hydra/launcher").mkdir(parents=True)
    (app / "configs/hydra/launcher/my_cluster.yaml").write_text(CLUSTER)
    config = "defaults:\n  - override hydra/launcher: my_cluster\n  - override hydra/sweeper: " \
             "basic\n  - _self_\nseed: 0\n"
    (app / "configs/config.yaml").write_text(config)
    assert "LocalLauncher" in _choice(app, "launcher")
    assert "BasicSweeper" in _choice(app, "sweeper")
    # the command line still beats the config
    assert "InlineLauncher" in _choice(app, "launcher", "hydra/launcher=mlxp_inline")


def test_users_launcher_in_config_defaults_runs_the_sweep(app: Path) -> None:
    write_app(app, "print('POINT', ctx.config.seed)")
    (app / "configs/hydra/launcher").mkdir(parents=True)
    (app / "configs/hydra/launcher/my_cluster.yaml").write_text(CLUSTER)
    (app / "configs/config.yaml").write_text(
        "defaults:\n  - override hydra/launcher: my_cluster\n  - _self_\nseed: 0\n")
    proc = run(app, "seed=1,2")
    assert proc.returncode == 0, proc.stderr
    assert run_dirs(app) == [1, 2]
    for log_id in (1, 2):  # mlxp_local's job scripts and logs, not an inline run
        assert (app / f"logs/{log_id}/script.sh").is_file()
        assert "POINT" in (app / f"logs/{log_id}/log.stdout").read_text()


def test_default_sweep_runs_inline_in_one_process(app: Path) -> None:
    write_app(app, "print('POINT', ctx.config.seed)")
    proc = run(app, "seed=1,2,3", "hydra.sweeper.max_batch_size=2")
    assert proc.returncode == 0, proc.stderr
    assert run_dirs(app) == [1, 2, 3]
    assert len({info(app, i)["process_id"] for i in (1, 2, 3)}) == 1
    assert [info(app, i)["overrides"] for i in (1, 2, 3)] == [["seed=1"], ["seed=2"], ["seed=3"]]
    assert proc.stdout.count("Launching 2 jobs locally") == 1
    assert proc.stdout.count("Launching 1 jobs locally") == 1
    assert not (app / "script.sh").exists() and not (app / "logs/1/script.sh").exists()


def test_failing_point_others_still_run_and_exit_non_zero(app: Path) -> None:
    write_app(app, "if ctx.config.seed == 2:\n    raise ValueError('boom')")
    proc = run(app, "seed=1,2,3")
    assert proc.returncode != 0
    assert [info(app, i)["status"] for i in (1, 2, 3)] == ["COMPLETE", "FAILED", "COMPLETE"]
    assert "ValueError: boom" in proc.stderr
    assert "1 of 3 runs did not complete" in proc.stderr


TYPED_APP_HEADER = """
from dataclasses import dataclass
from hydra.core.config_store import ConfigStore

@dataclass
class Typed:
    units: int = 1

ConfigStore.instance().store(group="model", name="typed", node=Typed)
"""
HUNDRED = list(range(99))
BAD_POINTS = {
    "unknown_key_2nd": (["db=mysql,postgresql", "db.only_mysql=1"],
                        "Could not override 'db.only_mysql'"),
    "bad_group_option_2nd": (["db=mysql,nope"], "Could not find 'db/nope'"),
    "wrong_type_100th": (["model.units=" + ",".join([*map(str, HUNDRED), "abc"])],
                         "Error merging override model.units=abc"),
    "bad_group_option_100th": (["db=" + ",".join(["mysql"] * 99 + ["nope"])],
                               "Could not find 'db/nope'"),
    "unknown_key_100th": (["model=" + ",".join([*(f"{{units:{i}}}" for i in HUNDRED),
                                                "{bogus:1}"])],
                          "Key 'bogus' not in 'Typed'"),
}


@pytest.mark.parametrize("args, message", BAD_POINTS.values(), ids=BAD_POINTS.keys())
def test_bad_point_fails_before_any_run_directory(app: Path, args: List[str],
                                                  message: str) -> None:
    write_app(app, "print('RAN')", config="defaults:\n  - db: mysql\n  - model: typed\n"
              "  - _self_\nseed: 0\n")
    main = app / "main.py"
    main.write_text(main.read_text().replace("import mlxp\n", "import mlxp\n" + TYPED_APP_HEADER))
    for rel, text in (("db/mysql.yaml", "driver: mysql\nonly_mysql: 1\n"),
                      ("db/postgresql.yaml", "driver: pg\n")):
        (app / "configs" / rel).parent.mkdir(parents=True, exist_ok=True)
        (app / "configs" / rel).write_text(text)
    proc = run(app, *args)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert "RAN" not in proc.stdout
    assert run_dirs(app) == []


def test_plugin_defaults_are_restored() -> None:
    store = ConfigStore.instance()
    before = store.load("hydra/config.yaml").node.defaults
    with mlxp_plugin_defaults():
        inside = store.load("hydra/config.yaml").node.defaults
    after = store.load("hydra/config.yaml").node.defaults
    assert {"launcher": "mlxp_inline"} in inside and {"sweeper": "mlxp"} in inside
    assert before == after and {"launcher": "basic"} in after
