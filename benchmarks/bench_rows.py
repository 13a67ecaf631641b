"""The row-wise pieces around a language model's output layer: minigrad vs PyTorch vs NumPy.

A word LM's logits are (batch x steps, vocabulary): 700 x 1,000 for bench_lstm.py's word LM.
Around them four passes that are not matrix products of the recurrent layer cost as much
as the layer itself at two threads: the decoder's bias, the cross-entropy's softmax, its
backward and the bias gradient. Each is timed here three ways in one process, median of
``--repeats`` calls (float32):

* ``minigrad``: the backend's call (backends/blas_gemm.py, softmax_rows.py, sum_rows),
* ``NumPy``: the plain NumPy expression it replaces,
* ``torch``: PyTorch's call for the same result, on as many threads as minigrad's BLAS
  (skipped if torch is not importable).

    python benchmarks/bench_rows.py [--rows 700] [--cols 1000] [--repeats 300]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Callable

# Run from a checkout without installing: put the repo root on the path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import minigrad  # noqa: E402,F401  (first: its short OpenBLAS spin, as the main job)
import numpy as np  # noqa: E402

from minigrad.backends import get_backend, threads  # noqa: E402


def median_ms(fn: Callable[[], Any], repeats: int) -> float:
    for _ in range(10):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=700)
    parser.add_argument("--cols", type=int, default=1000)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    threads.tick()  # start the load policy, as a training loop does
    backend = get_backend("numpy")
    rng = np.random.default_rng(0)
    n, c, h = args.rows, args.cols, args.hidden
    x, g = rng.standard_normal((n, c)).astype(np.float32), rng.random((n, c), np.float32)
    a, w = rng.standard_normal((n, h)).astype(np.float32), rng.standard_normal((c, h)).astype(
        np.float32)
    bias, scale = rng.standard_normal(c).astype(np.float32), rng.random(n, np.float32)

    def numpy_softmax() -> Any:
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e, e.sum(axis=1)

    def numpy_addmm() -> Any:
        out = a @ w.T
        out += bias
        return out

    cases = [
        ("decoder: bias + a @ w.T", lambda: backend.matmul_plus(bias, a, w.T), numpy_addmm,
         "torch.addmm(bias, a, w.T)"),
        ("softmax parts of the logits", lambda: backend.softmax_parts(x), numpy_softmax,
         "torch.softmax(x, 1)"),
        ("cross-entropy backward: rows scaled", lambda: backend.scale_rows(x, scale),
         lambda: x * scale[:, None], "x * scale[:, None]"),
        ("bias gradient: sum over rows", lambda: backend.sum_rows(g), lambda: g.sum(axis=0),
         "g.sum(0)"),
    ]
    try:
        import torch
        torch.set_num_threads(threads.blas_threads())  # as many threads as minigrad's BLAS
        tx, tg, ta, tw, tb, ts = map(torch.from_numpy, (x, g, a, w, bias, scale))
        torch_calls = {"torch.addmm(bias, a, w.T)": lambda: torch.addmm(tb, ta, tw.T),
                       "torch.softmax(x, 1)": lambda: torch.softmax(tx, 1),
                       "x * scale[:, None]": lambda: tx * ts[:, None],
                       "g.sum(0)": lambda: tg.sum(0)}
        peer = f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        torch_calls, peer = {}, "PyTorch not importable: skipped"
    print(f"bench_rows: ({n}, {c}) float32 rows, hidden {h}; median of {args.repeats} calls, "
          f"ms; minigrad kernels on {threads.kernel_threads()} thread(s), "
          f"{threads.describe()}; {peer}")
    print(f"{'':38s}{'minigrad':>10s}{'NumPy':>10s}{'torch':>10s}   torch call")
    for name, ours, plain, torch_name in cases:
        row = [median_ms(ours, args.repeats), median_ms(plain, args.repeats)]
        theirs = torch_calls.get(torch_name)
        row.append(median_ms(theirs, args.repeats) if theirs else float("nan"))
        print(f"{name:38s}" + "".join(f"{v:10.3f}" for v in row) + f"   {torch_name}")


if __name__ == "__main__":
    main()
