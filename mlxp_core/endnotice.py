"""`python -m mlxp_core.endnotice`: the command OAR job scripts name in `#OAR --notify`.

Kept at this path because already-queued job scripts call it; the recorder itself is
:mod:`mlxp_core.schedulers.oar_notice`.
"""

from __future__ import annotations

import sys

from mlxp_core.schedulers.oar_notice import main

if __name__ == "__main__":
    sys.exit(main())
