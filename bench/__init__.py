"""Side-by-side benchmarks of mlxp-core, MLXP 1.0.5, plain Hydra and physical floors.

Run ``python -m bench`` from the repository root (``--help`` for the options); see
``bench/README.md``.
"""
