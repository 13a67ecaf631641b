"""OpenBLAS's idle threads told to sleep sooner: set before NumPy loads OpenBLAS.

After each product OpenBLAS's worker threads spin for 2^28 cycles (about 0.1 s; measured
here: 130 ms of a core after a 2-thread product) before they sleep. A recurrent layer's
step loop runs minigrad's own kernel between BLAS calls, and its helper thread
(backends/packed_matmul.py) would share a core with that spinning thread and gain
nothing; under load a spinning thread is also what makes a step collapse
(backends/threads.py). OpenBLAS reads ``OPENBLAS_THREAD_TIMEOUT`` once, when it loads, so
minigrad sets it to 16 (2^16 cycles, about 20 us) when it is imported before NumPy and the
user has not set it: import minigrad first, or set the variable yourself, to get the
helper thread. A setting up to 22 (about 1.5 ms) still leaves the helpers on.
Measured: in the fourth session, a main-job step at 2 threads took 0.82-0.84x the time
with 22 (or 18) and the helper as with OpenBLAS's default and none. In the fifth, with the
LSTM's whole loops compiled (the loop's call follows the input projection's GEMM, so that a
worker spinning for 1.5 ms held a core through most of it), loops of steps at 2 threads,
22 against 16: main model 40.0 against 35.8 ms a step; an MLP (784-512-512-10, batch 256,
Adam) 4.93 against 4.96; the word LM 3.53 against 3.71, RNN H 128 3.89 against 4.31, GRU
H 128 7.88 against 8.10 (their BLAS workers now sleep between products and must be woken).
Shorter still (12, about a microsecond) cost the MLP 11 % (4.85 against 5.42 ms): its workers
slept between every two products.
"""
from __future__ import annotations

import os
import sys
from typing import MutableMapping

SPIN_VARIABLES = ("OPENBLAS_THREAD_TIMEOUT", "GOTO_THREAD_TIMEOUT")
SHORT = 16  # log2 of the cycles an idle OpenBLAS thread spins: about 20 us
SHORT_ENOUGH = 22  # the longest spin (about 1.5 ms) with which the helpers still pay


def shorten(environ: MutableMapping[str, str], numpy_loaded: bool) -> bool:
    """Set the short spin where it still takes effect and the user chose nothing;
    return whether OpenBLAS's idle threads spin briefly in this process."""
    chosen = next((environ[name] for name in SPIN_VARIABLES if environ.get(name)), None)
    if chosen is None and not numpy_loaded:
        environ["OPENBLAS_THREAD_TIMEOUT"] = chosen = str(SHORT)
    return is_short(chosen)


def is_short(value: object) -> bool:
    """Whether a timeout setting (OpenBLAS clamps it to 4..30) is short enough for the
    helper threads (SHORT_ENOUGH or less)."""
    text = str(value).strip() if value is not None else ""
    return text.isdigit() and int(text) <= SHORT_ENOUGH


SHORT_SPIN: bool = shorten(os.environ, "numpy" in sys.modules)
