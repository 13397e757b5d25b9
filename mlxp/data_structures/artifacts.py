"""``mlxp.data_structures.artifacts``: the Artifact of a Reader's artifact column
(``art['last_ckpt.pkl'].load()``)."""

from mlxp_core.reader.artifacts import Artifact

__all__ = ["Artifact"]
