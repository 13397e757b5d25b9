"""Pausing Python's cyclic garbage collector around loops that build many small objects.

Checking and submitting 1,000 jobs allocates many small objects while Hydra's composed
configs, already alive, hold hundreds of thousands more; every full collection walks them
all. In a 1,000-job array submission that was about a quarter of the wall time. The loops
create no garbage cycles worth collecting, so the collector is paused for their duration
and restored (to what it was) afterwards; the user's task never runs inside the pause.
The Reader pauses it the same way while it indexes thousands of runs.
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
