"""mlxp_local passes Hydra's own launcher test suites (hydra.test_utils.launcher_common_tests)."""

from __future__ import annotations

import pytest
from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher
from hydra.test_utils.launcher_common_tests import IntegrationTestSuite, LauncherTestSuite
from hydra.test_utils.test_utils import chdir_plugin_root  # noqa: F401

from hydra_plugins.mlxp_launcher.launcher import LocalLauncher


def test_discovery() -> None:
    names = [x.__name__ for x in Plugins.instance().discover(Launcher)]
    assert LocalLauncher.__name__ in names
    assert "MLXPLauncher" not in names  # the abstract base is not a plugin


@pytest.mark.parametrize("launcher_name, overrides", [("mlxp_local", [])])
class TestMLXPLocalLauncher(LauncherTestSuite):
    pass


@pytest.mark.parametrize(
    "task_launcher_cfg, extra_flags",
    [({"defaults": [{"override hydra/launcher": "mlxp_local"}, "_self_"]}, ["-m"])],
)
class TestMLXPLocalLauncherIntegration(IntegrationTestSuite):
    pass
