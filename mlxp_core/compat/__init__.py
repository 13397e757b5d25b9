"""MLXP 1.0.5's public names that are not the Reader's or the run's: errors, enumerations,
ConfigDict. ``mlxp.errors``, ``mlxp.enumerations`` and ``mlxp.data_structures`` re-export them."""
