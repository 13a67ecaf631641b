"""OpenBLAS's idle threads told to sleep sooner: set before NumPy loads OpenBLAS.

After each product OpenBLAS's worker threads spin for 2^28 cycles (about 0.1 s; measured
here: 130 ms of a core after a 2-thread product) before they sleep. A recurrent layer's
step loop runs minigrad's own kernel between BLAS calls, and its helper thread
(backends/packed_matmul.py) would share a core with that spinning thread and gain
nothing; under load a spinning thread is also what makes a step collapse
(backends/threads.py). OpenBLAS reads ``OPENBLAS_THREAD_TIMEOUT`` once, when it loads, so
minigrad sets it to 22 (2^22 cycles, about 1.5 ms) when it is imported before NumPy and
the user has not set it: import minigrad first, or set the variable yourself, to get
the helper thread. Measured on the main job's model at 2 threads, a training step took
0.82-0.84x the time with 22 (or 18) and the helper as with OpenBLAS's default and none;
the small word LM lost 7 % to 18 (the BLAS threads' wake-up on each small product),
nothing to 22.
"""
from __future__ import annotations

import os
import sys
from typing import MutableMapping

SPIN_VARIABLES = ("OPENBLAS_THREAD_TIMEOUT", "GOTO_THREAD_TIMEOUT")
SHORT = 22  # log2 of the cycles an idle OpenBLAS thread spins: about 1.5 ms


def shorten(environ: MutableMapping[str, str], numpy_loaded: bool) -> bool:
    """Set the short spin where it still takes effect and the user chose nothing;
    return whether OpenBLAS's idle threads spin briefly in this process."""
    chosen = next((environ[name] for name in SPIN_VARIABLES if environ.get(name)), None)
    if chosen is None and not numpy_loaded:
        environ["OPENBLAS_THREAD_TIMEOUT"] = chosen = str(SHORT)
    return is_short(chosen)


def is_short(value: object) -> bool:
    """Whether a timeout setting (OpenBLAS clamps it to 4..30) is the short spin or less."""
    text = str(value).strip() if value is not None else ""
    return text.isdigit() and int(text) <= SHORT


SHORT_SPIN: bool = shorten(os.environ, "numpy" in sys.modules)
