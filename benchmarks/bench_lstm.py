"""One training step of a character LSTM: minigrad vs PyTorch vs a hand-written NumPy floor.

The step: one-hot input (vocab 65), 1-layer LSTM, batch 32, 64 time steps, a
linear decoder, mean cross-entropy, full backpropagation through time, one Adam
step (lr 1e-3, PyTorch's defaults). All implementations start from the same
float32 weights and data, and their first three losses are checked to agree
(that covers the forward, the gradients and the Adam update).

* ``minigrad``       -- ``nn.LSTM`` + ``nn.Linear`` + ``F.cross_entropy`` + ``mg.optim.Adam``
* ``torch``          -- PyTorch ``nn.LSTM`` (its fused C++ kernel), eager, CPU
* ``torch_unrolled`` -- PyTorch eager autograd over the same op graph minigrad records:
  one matmul projecting the whole input sequence, then per step ``h @ W_hh.T``,
  one sigmoid over the four gates, tanh of the g slice, the cell update
* ``numpy``          -- a hand-written forward and BPTT in NumPy (fused gates, one GEMM
  for the input projection and one each for the weight gradients, in-place Adam):
  the floor a NumPy backend can reach, with no autograd machinery at all

Each (implementation, hidden size) runs in its own worker process; the parent
interleaves them round by round (each round runs every worker a few steps), so
drifts in machine load hit all of them alike. Reported: median ms/step and the
peak training memory of one step, measured after warm-up:
  minigrad, numpy -- tracemalloc peak (NumPy reports its buffers to tracemalloc;
                     Python objects such as the tape's nodes are included)
  torch*          -- peak of PyTorch's own allocation events during the step
                     (torch.profiler with profile_memory=True: live tensor bytes)
Threads: every library runs with its default thread count (printed); pass
``--threads N`` to pin PyTorch and the NumPy BLAS to N.

    python benchmarks/bench_lstm.py [--hidden 128 512] [--rounds 10] [--steps 2]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from typing import Callable

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB, BATCH, STEPS, LR = 65, 32, 64, 1e-3
IMPLS = ("minigrad", "torch", "torch_unrolled", "numpy")
MARK = "@@"  # prefixes the worker's replies, so library chatter on stdout is ignored

Step = Callable[[], float]  # one training step; returns the loss before the update


def make_problem(hidden: int, seed: int = 0) -> dict:
    """Shared float32 data and initial weights (PyTorch's init ranges)."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCAB, size=(STEPS + 1, BATCH))
    x = np.eye(VOCAB, dtype=np.float32)[tokens[:-1]]            # (T, B, V) one-hot
    k = 1 / np.sqrt(hidden)  # LSTM and Linear(hidden, vocab) alike

    def u(bound: float, *shape: int) -> np.ndarray:
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    return dict(x=x, y=tokens[1:].reshape(-1), w_ih=u(k, 4 * hidden, VOCAB),
                w_hh=u(k, 4 * hidden, hidden), b_ih=u(k, 4 * hidden), b_hh=u(k, 4 * hidden),
                w_dec=u(k, VOCAB, hidden), b_dec=u(k, VOCAB))


# -- the four implementations ----------------------------------------------------------

def build_minigrad(p: dict, hidden: int) -> Step:
    sys.path.insert(0, ROOT)
    import minigrad as mg
    import minigrad.nn as nn
    import minigrad.nn.functional as F

    lstm, dec = nn.LSTM(VOCAB, hidden), nn.Linear(hidden, VOCAB)
    lstm.load_state_dict({"weight_ih_l0": p["w_ih"], "weight_hh_l0": p["w_hh"],
                          "bias_ih_l0": p["b_ih"], "bias_hh_l0": p["b_hh"]})
    dec.load_state_dict({"weight": p["w_dec"], "bias": p["b_dec"]})
    opt = mg.optim.Adam(list(lstm.parameters()) + list(dec.parameters()), lr=LR)
    x, y = mg.tensor(p["x"]), mg.tensor(p["y"])

    def step() -> float:
        opt.zero_grad()
        out, _ = lstm(x)
        loss = F.cross_entropy(dec(out.reshape(STEPS * BATCH, hidden)), y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def build_torch(p: dict, hidden: int) -> Step:
    import torch
    import torch.nn.functional as F

    lstm, dec = torch.nn.LSTM(VOCAB, hidden), torch.nn.Linear(hidden, VOCAB)
    lstm.load_state_dict({"weight_ih_l0": torch.tensor(p["w_ih"]),
                          "weight_hh_l0": torch.tensor(p["w_hh"]),
                          "bias_ih_l0": torch.tensor(p["b_ih"]),
                          "bias_hh_l0": torch.tensor(p["b_hh"])})
    dec.load_state_dict({"weight": torch.tensor(p["w_dec"]), "bias": torch.tensor(p["b_dec"])})
    opt = torch.optim.Adam(list(lstm.parameters()) + list(dec.parameters()), lr=LR)
    x, y = torch.tensor(p["x"]), torch.tensor(p["y"])

    def step() -> float:
        opt.zero_grad()
        out, _ = lstm(x)
        loss = F.cross_entropy(dec(out.reshape(STEPS * BATCH, hidden)), y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def build_torch_unrolled(p: dict, hidden: int) -> Step:
    import torch
    import torch.nn.functional as F

    names = ("w_ih", "w_hh", "b_ih", "b_hh", "w_dec", "b_dec")
    w_ih, w_hh, b_ih, b_hh, w_dec, b_dec = params = [
        torch.tensor(p[n], requires_grad=True) for n in names]
    opt = torch.optim.Adam(params, lr=LR)
    x2d, y = torch.tensor(p["x"]).reshape(STEPS * BATCH, VOCAB), torch.tensor(p["y"])
    n = hidden

    def step() -> float:
        opt.zero_grad()
        xg = (x2d @ w_ih.T + (b_ih + b_hh)).reshape(STEPS, BATCH, 4 * n)
        w_hh_t = w_hh.T
        h = c = torch.zeros(BATCH, n)
        hs = []
        for t in range(STEPS):
            gates = xg[t] + h @ w_hh_t
            s = gates.sigmoid()
            c = s[:, n:2 * n] * c + s[:, :n] * gates[:, 2 * n:3 * n].tanh()
            h = s[:, 3 * n:] * c.tanh()
            hs.append(h)
        out = torch.stack(hs).reshape(STEPS * BATCH, n)
        loss = F.cross_entropy(out @ w_dec.T + b_dec, y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def _sigmoid_(a: np.ndarray) -> None:
    """In place, as 0.5 * tanh(x / 2) + 0.5 (no overflow, three passes)."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5


def build_numpy(p: dict, hidden: int) -> Step:
    n, T, B = hidden, STEPS, BATCH
    x2d, y = p["x"].reshape(T * B, VOCAB), p["y"]
    rows = np.arange(T * B)
    params = [p[k].copy() for k in ("w_ih", "w_hh", "b_ih", "b_hh", "w_dec", "b_dec")]
    moments = [(np.zeros_like(w), np.zeros_like(w)) for w in params]
    count = [0]

    def adam(grads: list) -> None:
        count[0] += 1
        b1, b2, eps = 0.9, 0.999, 1e-8
        bc1, bc2 = 1 - b1 ** count[0], 1 - b2 ** count[0]
        for w, g, (m, v) in zip(params, grads, moments):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            denom = np.sqrt(v)
            denom *= 1 / np.sqrt(bc2)
            denom += eps
            w -= (LR / bc1) * (m / denom)

    def step() -> float:
        w_ih, w_hh, b_ih, b_hh, w_dec, b_dec = params
        # forward: the whole input projection in one GEMM, then the recurrence
        xg = (x2d @ w_ih.T).reshape(T, B, 4 * n)
        xg += b_ih + b_hh
        acts = np.empty((T, B, 4 * n), np.float32)      # activated gates i, f, g, o
        hs = np.zeros((T + 1, B, n), np.float32)
        cs = np.zeros((T + 1, B, n), np.float32)
        tcs = np.empty((T, B, n), np.float32)           # tanh(c_t)
        w_hh_t = w_hh.T
        for t in range(T):
            a = acts[t]
            np.matmul(hs[t], w_hh_t, out=a)
            a += xg[t]
            _sigmoid_(a[:, :2 * n])
            np.tanh(a[:, 2 * n:3 * n], out=a[:, 2 * n:3 * n])
            _sigmoid_(a[:, 3 * n:])
            c = cs[t + 1]
            np.multiply(a[:, n:2 * n], cs[t], out=c)
            c += a[:, :n] * a[:, 2 * n:3 * n]
            np.tanh(c, out=tcs[t])
            np.multiply(a[:, 3 * n:], tcs[t], out=hs[t + 1])
        h2d = hs[1:].reshape(T * B, n)
        logits = h2d @ w_dec.T + b_dec
        shift = logits.max(axis=1, keepdims=True)
        e = np.exp(logits - shift)
        total = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(total[:, 0]) + shift[:, 0] - logits[rows, y]))
        # backward
        dlogits = e / total
        dlogits[rows, y] -= 1
        dlogits *= 1 / (T * B)
        d_w_dec, d_b_dec = dlogits.T @ h2d, dlogits.sum(axis=0)
        dhs = (dlogits @ w_dec).reshape(T, B, n)
        dg = np.empty((T, B, 4 * n), np.float32)        # gradient of the pre-activations
        dh = np.zeros((B, n), np.float32)
        dc = np.zeros((B, n), np.float32)
        for t in range(T - 1, -1, -1):
            a, tc, d = acts[t], tcs[t], dg[t]
            i, f, g, o = a[:, :n], a[:, n:2 * n], a[:, 2 * n:3 * n], a[:, 3 * n:]
            dh += dhs[t]
            np.multiply(dh, tc, out=d[:, 3 * n:])
            d[:, 3 * n:] *= o * (1 - o)
            dc += dh * o * (1 - tc * tc)
            np.multiply(dc * g, i * (1 - i), out=d[:, :n])
            np.multiply(dc * cs[t], f * (1 - f), out=d[:, n:2 * n])
            np.multiply(dc * i, 1 - g * g, out=d[:, 2 * n:3 * n])
            dc *= f
            dh = d @ w_hh
        dg2d = dg.reshape(T * B, 4 * n)
        d_b = dg2d.sum(axis=0)
        adam([dg2d.T @ x2d, dg2d.T @ hs[:-1].reshape(T * B, n), d_b, d_b, d_w_dec, d_b_dec])
        return loss
    return step


BUILDERS = {"minigrad": build_minigrad, "torch": build_torch,
            "torch_unrolled": build_torch_unrolled, "numpy": build_numpy}


# -- measuring one worker ----------------------------------------------------------------

def peak_bytes(impl: str, step: Step) -> tuple[int, str]:
    """Peak memory allocated during one training step, and how it was measured."""
    if impl.startswith("torch"):
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            step()
        events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                        if e.name() == "[memory]")
        live = peak = 0
        for _, nbytes in events:
            live += nbytes
            peak = max(peak, live)
        return peak, "torch.profiler allocation events"
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1], "tracemalloc"
    finally:
        tracemalloc.stop()


def worker(impl: str, hidden: int, threads: int) -> None:
    """Serve the parent: 'run K' -> K step times; 'mem' -> peak bytes; 'quit'."""
    if threads:
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads)
    if impl.startswith("torch"):
        import torch
        if threads:
            torch.set_num_threads(threads)
    step = BUILDERS[impl](make_problem(hidden), hidden)
    losses = [step() for _ in range(3)]  # warm-up; these losses are cross-checked
    print(MARK + json.dumps({"losses": losses, "info": _thread_info(impl)}), flush=True)
    for line in sys.stdin:
        command = line.split()
        if command[0] == "run":
            times = []
            for _ in range(int(command[1])):
                start = time.perf_counter()
                step()
                times.append(time.perf_counter() - start)
            print(MARK + json.dumps({"times": times}), flush=True)
        elif command[0] == "mem":
            peak, how = peak_bytes(impl, step)
            print(MARK + json.dumps({"peak": peak, "how": how}), flush=True)
        else:
            return


def _thread_info(impl: str) -> str:
    if impl.startswith("torch"):
        import torch
        return f"torch threads={torch.get_num_threads()}"
    try:
        from threadpoolctl import threadpool_info
        blas = [f"{i['internal_api']} threads={i['num_threads']}" for i in threadpool_info()
                if i.get("user_api") == "blas"]
        return "numpy BLAS " + (", ".join(blas) or "unknown")
    except ImportError:
        return "numpy BLAS threads unknown (threadpoolctl not installed)"


# -- the parent: interleave the workers and report -----------------------------------------

class Worker:
    def __init__(self, impl: str, hidden: int, threads: int) -> None:
        self.impl, self.hidden = impl, hidden
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", impl, "--hidden",
             str(hidden), "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.times: list = []
        hello = self.reply()
        self.losses, self.info = hello["losses"], hello["info"]

    def reply(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith(MARK):
                return json.loads(line[len(MARK):])
        self.log.seek(0)
        raise RuntimeError(f"worker {self.impl} H={self.hidden} died:\n{self.log.read()}")

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.reply()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--impls", nargs="+", default=list(IMPLS), choices=IMPLS)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=2, help="steps per worker per round")
    parser.add_argument("--threads", type=int, default=0, help="0: each library's default")
    parser.add_argument("--worker", choices=IMPLS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.hidden[0], args.threads)
        return
    impls = list(args.impls)
    if "torch" in " ".join(impls):
        try:
            import torch  # noqa: F401
        except ImportError:
            print("PyTorch is not installed: skipping the torch columns")
            impls = [i for i in impls if not i.startswith("torch")]
    print(f"char-LSTM training step: vocab {VOCAB}, batch {BATCH}, {STEPS} steps, 1 layer, "
          f"Adam; float32; {platform.python_implementation()} {platform.python_version()}, "
          f"NumPy {np.__version__}, {os.cpu_count()} CPUs")
    workers = [Worker(impl, h, args.threads) for h in args.hidden for impl in impls]
    try:
        for w in workers:
            reference = workers[[v.hidden for v in workers].index(w.hidden)].losses
            if not np.allclose(w.losses, reference, rtol=1e-4):
                raise RuntimeError(f"{w.impl} H={w.hidden} losses {w.losses} disagree with "
                                   f"{reference}")
        for r in range(args.rounds):
            order = workers[r % len(workers):] + workers[:r % len(workers)]
            for w in order:
                w.times += w.ask(f"run {args.steps}")["times"]
        memory = {(w.impl, w.hidden): w.ask("mem") for w in workers}
    finally:
        for w in workers:
            w.close()
    print("threads: " + "; ".join(sorted({f"{w.impl}: {w.info}" for w in workers})))
    for h in args.hidden:
        row = {w.impl: w for w in workers if w.hidden == h}
        print(f"\nH={h}   (first losses agree: {row[impls[0]].losses[0]:.5f})")
        print(f"  {'implementation':<16}{'median ms/step':>16}{'min':>9}{'peak MB':>10}"
              "  memory via")
        for impl in impls:
            w, mem = row[impl], memory[(impl, h)]
            print(f"  {impl:<16}{1e3 * statistics.median(w.times):>16.2f}"
                  f"{1e3 * min(w.times):>9.2f}{mem['peak'] / 2**20:>10.1f}  {mem['how']}")
        med = {impl: statistics.median(row[impl].times) for impl in impls}
        if "minigrad" in med:
            for other in ("torch_unrolled", "numpy", "torch"):
                if other in med:
                    mem_ratio = memory[("minigrad", h)]["peak"] / memory[(other, h)]["peak"]
                    print(f"  minigrad / {other:<15} time {med['minigrad'] / med[other]:5.2f}x"
                          f"   memory {mem_ratio:5.2f}x")


if __name__ == "__main__":
    main()
