"""Everything that touches Hydra: the `@mlxp.launch` decorator, its command line, mlxp's Hydra
defaults, the mlxp sweeper and the in-process launcher.

The few Hydra/OmegaConf internals that speed needs are fenced in `internals`, each behind
one function with a test that fails loudly on a Hydra release that changes it.
"""
