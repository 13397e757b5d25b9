"""Make mlxp's Hydra plugins visible to Hydra's plugin scan, whatever the install mode.

Hydra finds plugins by walking the `hydra_plugins` namespace package's `__path__`. Some
install modes keep our `hydra_plugins/mlxp_launcher` importable but outside that path (an
editable install whose finder maps the subpackage only, or a copy of the source tree put on
`PYTHONPATH` after another plugin's `hydra_plugins`): the scan then misses `hydra/sweeper=mlxp`
and the launchers. `pyproject.toml` declares `hydra_plugins` itself as a package so that
setuptools' editable finder adds our directory to the namespace; `ensure_visible` is the
decorator's own guarantee, run before `hydra.main` (Hydra scans once, on first use).
Cost: one import of the (empty) plugin package and a list lookup.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("mlxp")


def ensure_visible() -> None:
    """Put the directory holding `hydra_plugins/mlxp_launcher` on `hydra_plugins.__path__`."""
    import hydra_plugins
    import hydra_plugins.mlxp_launcher as ours

    where = os.path.dirname(os.path.dirname(os.path.abspath(ours.__file__)))
    if where not in [os.path.abspath(p) for p in hydra_plugins.__path__]:
        log.debug("mlxp: adding %s to hydra_plugins.__path__ for Hydra's plugin scan", where)
        hydra_plugins.__path__.append(where)
