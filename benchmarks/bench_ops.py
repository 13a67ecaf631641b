"""Per-op cost of a long chain of small elementwise ops: minigrad vs PyTorch vs NumPy.

On 16x16 tensors the arithmetic is nearly free, so what this measures is the
framework's own overhead per recorded op (wrapping, taping, dispatch) in the
forward pass and in backward. Three implementations of the same computation
run in one process, interleaved repetition by repetition:

* minigrad (taped forward, ``loss.backward()``),
* PyTorch CPU eager autograd (skipped with a note if torch is not importable),
* a NumPy floor: the same forward on plain arrays plus a hand-written backward,
  i.e. the cost of the arithmetic with no autograd machinery at all.

The chain repeats an 8-op cycle chosen to stay bounded in value and gradient:
``h = log(exp(4 * sigmoid(tanh(h * w + b)) - 2))`` with leaves ``w``, ``b`` reused
by every cycle (their gradients accumulate, as a recurrent weight's do). Per-op
cost is the median total time divided by the number of chain ops. Each timed run
follows an untimed run of the same implementation, so none pays for the caches the
previous library filled (``--cold`` times them back to back instead).

    python benchmarks/bench_ops.py [--ops 1000] [--repeats 30] [--size 16] [--cold]
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable, Optional

import numpy as np

# Run from a checkout without installing: put the repo root on the path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import minigrad as mg  # noqa: E402

CYCLE = ("mul", "add", "tanh", "sigmoid", "mul4", "sub2", "exp", "log")
Timing = tuple[float, float]  # (forward seconds, backward seconds)


def make_inputs(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start value and leaves for which the chain neither explodes nor vanishes.

    With w just below 1 and a small b the cycle is a gentle contraction, so 1,000
    ops keep |grad| well inside float32's normal range (no denormal slow paths).
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (size, size)).astype(np.float32)
    w = rng.uniform(0.98, 1.0, (size, size)).astype(np.float32)
    b = rng.uniform(-0.01, 0.01, (size, size)).astype(np.float32)
    return x, w, b


def _chain(h: Any, w: Any, b: Any, n_ops: int, sigmoid: Callable[[Any], Any],
           tanh: Callable[[Any], Any], exp: Callable[[Any], Any],
           log: Callable[[Any], Any]) -> Any:
    """The forward chain, written once for any tensor type with these four functions."""
    full, rest = divmod(n_ops, len(CYCLE))
    for _ in range(full):  # unrolled so the loop itself costs ~nothing per op
        h = h * w
        h = h + b
        h = tanh(h)
        h = sigmoid(h)
        h = h * 4.0
        h = h - 2.0
        h = exp(h)
        h = log(h)
    steps = (lambda h: h * w, lambda h: h + b, tanh, sigmoid, lambda h: h * 4.0,
             lambda h: h - 2.0, exp, log)
    for k in range(rest):
        h = steps[k](h)
    return h


# -- minigrad ------------------------------------------------------------------------
def run_minigrad(x: np.ndarray, w: np.ndarray, b: np.ndarray, n_ops: int) -> tuple[Timing, np.ndarray]:
    """One forward + backward through minigrad; returns timings and dL/dw."""
    h0 = mg.tensor(x)
    wt = mg.tensor(w, requires_grad=True)
    bt = mg.tensor(b, requires_grad=True)
    t0 = time.perf_counter()
    h = _chain(h0, wt, bt, n_ops, mg.sigmoid, mg.tanh, mg.exp, mg.log)
    loss = h.sum()
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    return (t1 - t0, t2 - t1), wt.grad.numpy()


# -- PyTorch -------------------------------------------------------------------------
def run_torch(torch: Any, x: np.ndarray, w: np.ndarray, b: np.ndarray,
              n_ops: int) -> tuple[Timing, np.ndarray]:
    """One forward + backward through PyTorch eager autograd; returns timings and dL/dw."""
    h0 = torch.from_numpy(x.copy())
    wt = torch.from_numpy(w.copy()).requires_grad_(True)
    bt = torch.from_numpy(b.copy()).requires_grad_(True)
    t0 = time.perf_counter()
    h = _chain(h0, wt, bt, n_ops, torch.sigmoid, torch.tanh, torch.exp, torch.log)
    loss = h.sum()
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    return (t1 - t0, t2 - t1), wt.grad.numpy()


# -- NumPy floor -------------------------------------------------------------------------
def run_numpy(x: np.ndarray, w: np.ndarray, b: np.ndarray, n_ops: int) -> tuple[Timing, np.ndarray]:
    """The same chain with plain arrays and a hand-written backward: the no-autograd floor.

    Forward saves exactly what backward needs; backward walks the saved list in reverse.
    The sigmoid is the plain ``1 / (1 + exp(-t))`` (safe here: its input is a tanh).
    """
    exp, tanh, log = np.exp, np.tanh, np.log
    saved: list = []
    push = saved.append
    t0 = time.perf_counter()
    h = x
    for k in range(n_ops):
        op = CYCLE[k % 8]
        if op == "mul":
            push(h)
            h = h * w
        elif op == "add":
            h = h + b
        elif op == "tanh":
            h = tanh(h)
            push(h)
        elif op == "sigmoid":
            h = 1.0 / (1.0 + exp(-h))
            push(h)
        elif op == "mul4":
            h = h * np.float32(4.0)
        elif op == "sub2":
            h = h - np.float32(2.0)
        elif op == "exp":
            h = exp(h)
            push(h)
        else:  # log
            push(h)
            h = log(h)
    h.sum()
    t1 = time.perf_counter()
    g = np.ones_like(h)
    gw = np.zeros_like(w)
    gb = np.zeros_like(b)
    pop = saved.pop
    for k in reversed(range(n_ops)):
        op = CYCLE[k % 8]
        if op == "log":
            g = g / pop()
        elif op == "exp":
            g = g * pop()
        elif op == "sub2":
            pass
        elif op == "mul4":
            g = g * np.float32(4.0)
        elif op == "sigmoid":
            s = pop()
            g = g * (s * (1.0 - s))
        elif op == "tanh":
            t = pop()
            g = g * (1.0 - t * t)
        elif op == "add":
            gb += g
        else:  # mul
            gw += g * pop()
            g = g * w
    t2 = time.perf_counter()
    return (t1 - t0, t2 - t1), gw


def _torch_or_none() -> Optional[Any]:
    try:
        import torch
    except ImportError:
        return None
    return torch


def main(argv: Optional[list[str]] = None) -> int:
    """Run all implementations interleaved and print µs/op and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=1000, help="ops in the chain (default 1000)")
    parser.add_argument("--repeats", type=int, default=30, help="timed repetitions (median)")
    parser.add_argument("--size", type=int, default=16, help="tensors are size x size float32")
    parser.add_argument("--warmup", type=int, default=3, help="untimed repetitions first")
    parser.add_argument("--torch-default-threads", action="store_true",
                        help="also time PyTorch with its default thread count, in a separate "
                             "phase after the others (its idle OpenMP workers spin and would "
                             "slow whatever runs next on a small machine)")
    parser.add_argument("--cold", action="store_true",
                        help="time each run right after the previous implementation's run "
                             "(default: after an untimed run of its own). A run just after "
                             "another library's is slower, by how much that one displaced "
                             "from the caches: up to 15%% here, for whichever comes next")
    parser.add_argument("--no-gc", action="store_true",
                        help="disable Python's cyclic GC while timing (default: leave it on)")
    args = parser.parse_args(argv)
    if args.ops < 1 or args.repeats < 1:
        parser.error("--ops and --repeats must be positive")

    x, w, b = make_inputs(args.size)
    torch = _torch_or_none()
    runners: dict[str, Callable[[], tuple[Timing, np.ndarray]]] = {
        "minigrad": lambda: run_minigrad(x, w, b, args.ops),
        "numpy": lambda: run_numpy(x, w, b, args.ops),
    }
    default_threads = None
    if torch is not None:
        default_threads = torch.get_num_threads()

        def torch_with(threads: int) -> Callable[[], tuple[Timing, np.ndarray]]:
            def run() -> tuple[Timing, np.ndarray]:
                torch.set_num_threads(threads)
                return run_torch(torch, x, w, b, args.ops)
            return run

        runners["torch1"] = torch_with(1)
        if args.torch_default_threads and default_threads != 1:
            runners["torchN"] = torch_with(default_threads)

    # The three must compute the same thing: compare dL/dw before timing anything
    # (relative to its largest entry: float32 rounding over 1,000 ops differs by library).
    reference = runners["numpy"]()[1]
    scale = float(np.max(np.abs(reference)))
    for name, run in runners.items():
        err = float(np.max(np.abs(run()[1] - reference)))
        if not err <= 1e-3 * scale:
            print(f"error: {name} disagrees with the NumPy floor on dL/dw "
                  f"(max abs diff {err:.3g}, largest entry {scale:.3g})")
            return 1

    times: dict[str, list[Timing]] = {name: [] for name in runners}
    interleaved = [name for name in runners if name != "torchN"]
    phases = [interleaved] + ([["torchN"]] if "torchN" in runners else [])
    for names in phases:
        for rep in range(args.warmup + args.repeats):
            for name in names:  # interleaved: drift hits every column alike
                run = runners[name]
                if not args.cold:
                    run()  # its own untimed run first: see --cold
                if args.no_gc:
                    gc.disable()
                try:
                    timing = run()[0]
                finally:
                    gc.enable()
                if rep >= args.warmup:
                    times[name].append(timing)

    def per_op(name: str) -> tuple[float, float, float]:
        fwd = statistics.median(t[0] for t in times[name]) / args.ops * 1e6
        bwd = statistics.median(t[1] for t in times[name]) / args.ops * 1e6
        tot = statistics.median(t[0] + t[1] for t in times[name]) / args.ops * 1e6
        return fwd, bwd, tot

    labels = {"minigrad": f"minigrad {mg.__version__}", "numpy": f"NumPy floor {np.__version__}"}
    if torch is not None:
        labels["torch1"] = f"PyTorch {torch.__version__} (1 thread)"
        labels["torchN"] = f"PyTorch {torch.__version__} ({default_threads} threads)"

    print(f"bench_ops: chain of {args.ops} elementwise ops ({', '.join(CYCLE)}) on "
          f"{args.size}x{args.size} float32, forward + backward; median of {args.repeats} "
          f"runs (+{args.warmup} warm-up){', GC off' if args.no_gc else ''}"
          f"{', cold: each after the previous implementation' if args.cold else ''}")
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'':34s} {'fwd µs/op':>10s} {'bwd µs/op':>10s} {'total µs/op':>12s}")
    results = {}
    for name in runners:
        results[name] = per_op(name)
        fwd, bwd, tot = results[name]
        print(f"{labels[name]:34s} {fwd:10.2f} {bwd:10.2f} {tot:12.2f}")
    mgt = results["minigrad"][2]
    if torch is None:
        print("PyTorch not importable: its column is skipped "
              "(install it with `pip install torch==2.13.0`)")
    else:
        print(f"ratio minigrad / PyTorch (1 thread): {mgt / results['torch1'][2]:.2f}x")
        if "torchN" not in results and default_threads != 1:
            print(f"(PyTorch with its default {default_threads} threads: --torch-default-threads)")
        if "torchN" in results:
            print(f"ratio minigrad / PyTorch ({default_threads} threads): "
                  f"{mgt / results['torchN'][2]:.2f}x")
    print(f"ratio minigrad / NumPy floor:        {mgt / results['numpy'][2]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
