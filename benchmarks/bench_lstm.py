"""Recurrent training steps: minigrad vs PyTorch (vs a hand-written NumPy floor), paired.

One training step = forward, mean cross-entropy, full backpropagation through
time, (gradient clipping,) one optimizer step. Rows (``--rows``):

* ``lstm-128``, ``lstm-512`` -- character LSTM: one-hot input (vocab 65), 1 layer,
  batch 32, 64 time steps, linear decoder, Adam (lr 1e-3)
* ``gru-128``, ``gru-512``, ``rnn-128``, ``rnn-512`` -- the same with ``nn.GRU`` and
  ``nn.RNN`` (tanh)
* ``main`` -- the main job's model (examples/char_lstm.py): Embedding 84 -> 64,
  LSTM 2 x 256, Linear; batch 32 x 64 steps; Adam (lr 2e-3); clip the global norm at 5
* ``wordlm`` -- a small word-level LSTM language model: vocab 1,000, Embedding
  1,000 -> 64, LSTM 1 x 64, Linear; batch 20 x 35 steps; PyTorch's word-LM recipe
  (SGD lr 20, clip 0.25)

Implementations (every row has the first two; the LSTM char rows all four):

* ``minigrad``       -- ``nn.RNN/LSTM/GRU`` (+ Embedding, Linear, F.cross_entropy, mg.optim)
* ``torch``          -- the same program on PyTorch (its fused C++ recurrent kernels),
  eager, CPU: the peer that counts
* ``torch_unrolled`` -- PyTorch eager autograd over an unrolled LSTM built from
  primitives (one input GEMM, then per step ``h @ W_hh.T`` and the gate arithmetic)
* ``numpy``          -- a hand-written LSTM forward and BPTT in NumPy with in-place
  Adam: the floor a NumPy backend can reach with no autograd machinery (LSTM only)

All implementations of a row start from the same float32 weights and data, and
their first three losses must agree (that covers forward, gradients and update).

Each (row, implementation) runs in its own worker process; the parent interleaves
a row's workers round by round, so drifts in machine load hit all alike (with a
pause of ``--settle`` seconds between turns, so that one worker's idle BLAS threads,
which spin for a while, do not compete with the next). Each turn starts with one
untimed step: after the pause every library's threads are asleep and must be woken,
which a training loop, running its steps back to back, does not pay. Untimed steps then
go on until ``--warm`` seconds (0.05) have passed since the turn began: on the 2-vCPU
VM these figures come from, a process that runs in short bursts between pauses runs
slower (both libraries; measured 2026-11-28: LSTM H = 128 at 2 threads, turns of one
untimed and two timed steps after 0.2 s pauses, minigrad 8.8-9.0 ms and PyTorch 5.5-8.9
ms a step, against 4.4-4.6 and 5.4-5.9 ms with 0.05 s of untimed steps first), and a
training loop's steady pace is what this benchmark is after. ``--warm 0`` gives the
shorter turns. A worker
doing one large float32 matmul in NumPy (``sgemm``, 2048^3, same thread count)
runs interleaved with every row: its median rate is this machine's sgemm peak in
this run, and each row reports its GEMM work (forward + backward FLOPs of its
matrix products) per second as a fraction of it. Reported: median ms/step, min,
peak training memory of one step after warm-up (tracemalloc for minigrad/NumPy,
PyTorch's own allocation events for torch), page faults per step (memory the kernel
had to map afresh; minigrad keeps freed memory for reuse, backends/allocator.py:
``MINIGRAD_KEEP_FREED_MEMORY=0`` in the environment shows it without), and the
ratios minigrad / others.

Threads: by default every library gets all cores (``len(os.sched_getaffinity(0))``):
PyTorch via ``torch.set_num_threads``, the NumPy floor and the sgemm worker via
threadpoolctl, and minigrad its default: all cores under its load policy
(backends/threads.py), with no flag. ``--threads N`` pins every library to N
threads (minigrad through ``MINIGRAD_THREADS=N``, which turns the policy off);
an implementation named ``impl@N`` in ``--impls`` (``minigrad@1``) is pinned to N
threads on its own, so pinned and default runs can be compared in one run.

``--load N`` starts N competing busy-loop processes (pure ``while True`` loops,
ended by pid on exit and on Ctrl-C) to reproduce the robust-under-load
measurement. Several levels, ``--load 0 1 2``, alternate round by round (the loops
are paused and resumed with SIGSTOP/SIGCONT) and each level has its own workers,
so quiet and loaded times come from one interleaved run and each row also prints
every implementation's time under load as a multiple of its time at the first level.

    python benchmarks/bench_lstm.py [--rows ...] [--threads N] [--load 0 1 2] [--rounds 10]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from typing import Callable, NamedTuple

try:
    import resource
except ImportError:  # Windows: no page-fault counts
    resource = None

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if sys.argv[1:3] == ["--worker", "minigrad"]:  # as a program that imports minigrad before
    sys.path.insert(0, ROOT)                    # NumPy (the main job does): it shortens
    import minigrad  # noqa: F401               # OpenBLAS's idle spin (minigrad/blas_spin.py)

import numpy as np  # noqa: E402

MARK = "@@"  # prefixes the worker's replies, so library chatter on stdout is ignored
SGEMM_SIZE = 2048
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
ALL_IMPLS = ("minigrad", "torch", "torch_unrolled", "numpy")
PAIR = ALL_IMPLS[:2]

Step = Callable[[], float]  # one training step; returns the loss before the update


class Row(NamedTuple):
    cell: str       # LSTM, GRU or RNN
    hidden: int
    layers: int
    vocab: int
    embed: int      # 0: one-hot input of width vocab
    batch: int
    steps: int
    optimizer: str  # Adam or SGD (torch.optim's names)
    lr: float
    clip: float     # max global gradient norm; 0: none
    impls: tuple

    def describe(self) -> str:
        given = f"Embedding {self.vocab}->{self.embed}" if self.embed else \
            f"one-hot {self.vocab}"
        clip = f", clip {self.clip:g}" if self.clip else ""
        return (f"{self.cell} {self.layers}x{self.hidden}, {given}, batch {self.batch} x "
                f"{self.steps} steps, {self.optimizer} lr {self.lr:g}{clip}")


ROWS = {
    "lstm-128": Row("LSTM", 128, 1, 65, 0, 32, 64, "Adam", 1e-3, 0.0, ALL_IMPLS),
    "lstm-512": Row("LSTM", 512, 1, 65, 0, 32, 64, "Adam", 1e-3, 0.0, ALL_IMPLS),
    "gru-128": Row("GRU", 128, 1, 65, 0, 32, 64, "Adam", 1e-3, 0.0, PAIR),
    "gru-512": Row("GRU", 512, 1, 65, 0, 32, 64, "Adam", 1e-3, 0.0, PAIR),
    "rnn-128": Row("RNN", 128, 1, 65, 0, 32, 64, "Adam", 1e-3, 0.0, PAIR),
    "rnn-512": Row("RNN", 512, 1, 65, 0, 32, 64, "Adam", 1e-3, 0.0, PAIR),
    "main": Row("LSTM", 256, 2, 84, 64, 32, 64, "Adam", 2e-3, 5.0, PAIR),
    "wordlm": Row("LSTM", 64, 1, 1000, 64, 20, 35, "SGD", 20.0, 0.25, PAIR),
}


def step_flops(row: Row) -> int:
    """FLOPs of a step's matrix products (forward, input and weight gradients); the
    elementwise work and the optimizer are not counted."""
    tokens, h, g = row.steps * row.batch, row.hidden, GATES[row.cell]
    total, width = 0, row.embed or row.vocab
    for layer in range(row.layers):
        projection, recurrence = 2 * tokens * width * g * h, 2 * tokens * h * g * h
        input_grad = layer > 0 or row.embed > 0  # a one-hot input needs no gradient
        total += projection * (2 + input_grad) + recurrence * 3
        width = h
    return total + 3 * 2 * tokens * h * row.vocab  # the decoder


def make_problem(row: Row, seed: int = 0) -> dict:
    """Shared float32 data and initial weights (PyTorch's init ranges), as a state dict
    in PyTorch's names."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, row.vocab, size=(row.steps + 1, row.batch))
    k, gh = 1 / np.sqrt(row.hidden), GATES[row.cell] * row.hidden

    def u(bound: float, *shape: int) -> np.ndarray:
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    state = {}
    if row.embed:
        state["embed.weight"] = rng.standard_normal((row.vocab, row.embed)).astype(np.float32)
    width = row.embed or row.vocab
    for layer in range(row.layers):
        state.update({f"rnn.weight_ih_l{layer}": u(k, gh, width),
                      f"rnn.weight_hh_l{layer}": u(k, gh, row.hidden),
                      f"rnn.bias_ih_l{layer}": u(k, gh), f"rnn.bias_hh_l{layer}": u(k, gh)})
        width = row.hidden
    state.update({"decoder.weight": u(k, row.vocab, row.hidden), "decoder.bias": u(k, row.vocab)})
    x = tokens[:-1] if row.embed else np.eye(row.vocab, dtype=np.float32)[tokens[:-1]]
    return dict(x=x, y=tokens[1:].reshape(-1), state=state)


# -- the implementations ----------------------------------------------------------------

def build_library(lib, row: Row, p: dict) -> Step:
    """The same program on minigrad or on PyTorch: ``import minigrad as torch`` holds."""
    nn, F = lib.nn, lib.nn.functional

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            if row.embed:
                self.embed = nn.Embedding(row.vocab, row.embed)
            self.rnn = getattr(nn, row.cell)(row.embed or row.vocab, row.hidden,
                                             num_layers=row.layers)
            self.decoder = nn.Linear(row.hidden, row.vocab)

        def forward(self, x):
            out, _ = self.rnn(self.embed(x) if row.embed else x)
            return self.decoder(out.reshape(row.steps * row.batch, row.hidden))

    model = Model()
    model.load_state_dict({name: lib.tensor(value) for name, value in p["state"].items()})
    optimizer = getattr(lib.optim, row.optimizer)(model.parameters(), lr=row.lr)
    x, y = lib.tensor(p["x"]), lib.tensor(p["y"])

    def step() -> float:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        if row.clip:
            nn.utils.clip_grad_norm_(model.parameters(), row.clip)
        optimizer.step()
        return loss.item()
    return step


def build_minigrad(row: Row, p: dict) -> Step:
    sys.path.insert(0, ROOT)
    import minigrad
    return build_library(minigrad, row, p)


def build_torch(row: Row, p: dict) -> Step:
    import torch
    return build_library(torch, row, p)


def _lstm_weights(p: dict) -> list:
    s = p["state"]
    return [s[k] for k in ("rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                           "rnn.bias_hh_l0", "decoder.weight", "decoder.bias")]


def build_torch_unrolled(row: Row, p: dict) -> Step:
    import torch
    import torch.nn.functional as F

    w_ih, w_hh, b_ih, b_hh, w_dec, b_dec = params = [
        torch.tensor(w, requires_grad=True) for w in _lstm_weights(p)]
    opt = torch.optim.Adam(params, lr=row.lr)
    n, T, B = row.hidden, row.steps, row.batch
    x2d, y = torch.tensor(p["x"]).reshape(T * B, row.vocab), torch.tensor(p["y"])

    def step() -> float:
        opt.zero_grad()
        xg = (x2d @ w_ih.T + (b_ih + b_hh)).reshape(T, B, 4 * n)
        w_hh_t = w_hh.T
        h = c = torch.zeros(B, n)
        hs = []
        for t in range(T):
            gates = xg[t] + h @ w_hh_t
            s = gates.sigmoid()
            c = s[:, n:2 * n] * c + s[:, :n] * gates[:, 2 * n:3 * n].tanh()
            h = s[:, 3 * n:] * c.tanh()
            hs.append(h)
        out = torch.stack(hs).reshape(T * B, n)
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


def build_numpy(row: Row, p: dict) -> Step:
    n, T, B, lr = row.hidden, row.steps, row.batch, row.lr
    x2d, y = p["x"].reshape(T * B, row.vocab), p["y"]
    rows = np.arange(T * B)
    params = [w.copy() for w in _lstm_weights(p)]
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
            w -= (lr / bc1) * (m / denom)

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


def build_sgemm(row: Row, p: dict) -> Step:
    """Not a training step: one large float32 matmul, for the machine's sgemm peak."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((SGEMM_SIZE, SGEMM_SIZE)).astype(np.float32) for _ in "ab")
    out = np.empty_like(a)

    def step() -> float:
        np.matmul(a, b, out=out)
        return 0.0
    return step


BUILDERS = {"minigrad": build_minigrad, "torch": build_torch,
            "torch_unrolled": build_torch_unrolled, "numpy": build_numpy,
            "sgemm": build_sgemm}


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


def worker(impl: str, row_name: str, threads: int) -> None:
    """Serve the parent: 'run K' -> K step times; 'mem' -> peak bytes; 'info'; 'quit'."""
    if impl in ("numpy", "sgemm"):
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads, user_api="blas")
    elif impl.startswith("torch"):
        import torch
        torch.set_num_threads(threads)
    # minigrad: MINIGRAD_THREADS in its environment when pinned, else its own policy
    row = ROWS[row_name]
    step = BUILDERS[impl](row, make_problem(row))
    losses = [step() for _ in range(3)]  # warm-up; these losses are cross-checked
    print(MARK + json.dumps({"losses": losses}), flush=True)
    for line in sys.stdin:
        command = line.split()
        if command[0] == "run":
            if impl != "sgemm":
                warm_until = time.perf_counter() + float(command[2])
                step()  # untimed: wakes the threads that slept through the pause ...
                while time.perf_counter() < warm_until:
                    step()  # ... and brings the machine back to a training loop's pace
            times, faults, reduced = [], _page_faults(), 0
            for _ in range(int(command[1])):
                start = time.perf_counter()
                step()
                times.append(time.perf_counter() - start)
                reduced += _below_full_threads(impl)
            faults = _page_faults() - faults
            print(MARK + json.dumps({"times": times, "faults": faults, "reduced": reduced}),
                  flush=True)
        elif command[0] == "mem":
            peak, how = peak_bytes(impl, step)
            print(MARK + json.dumps({"peak": peak, "how": how}), flush=True)
        elif command[0] == "info":
            print(MARK + json.dumps({"info": _thread_info(impl)}), flush=True)
        else:
            return


def _below_full_threads(impl: str) -> bool:
    """Whether minigrad's load policy (backends/threads.py) ran this step's BLAS on fewer
    threads than the machine's: on a quiet machine it should never."""
    if impl != "minigrad":
        return False
    from minigrad.backends import threads
    return threads.reduced()


def _reduced(w: "Worker") -> str:
    """How many timed steps minigrad's load policy ran below full threads, if any."""
    return f" (below full for {w.reduced} of {len(w.times)} steps)" if w.reduced else ""


def _page_faults() -> int:
    """Minor page faults of this process so far: the kernel mapping fresh memory."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource else 0


def _thread_info(impl: str) -> str:
    if impl.startswith("torch"):
        import torch
        return f"torch threads={torch.get_num_threads()}"
    if impl == "minigrad":
        from minigrad.backends import threads
        pinned = os.environ.get("MINIGRAD_THREADS")
        return f"MINIGRAD_THREADS={pinned}" if pinned else threads.describe()
    blas = [f"{i['internal_api']} threads={i['num_threads']}" for i in _numpy_blas()]
    return "NumPy BLAS " + ", ".join(blas)


def _numpy_blas() -> list:
    """threadpoolctl's records of the BLAS libraries loaded (NumPy's)."""
    from threadpoolctl import threadpool_info
    return [i for i in threadpool_info() if i.get("user_api") == "blas"]


def _blas_kernels() -> str:
    """NumPy's BLAS and the kernels it picked for this CPU: OPENBLAS_CORETYPE in the
    environment overrides the pick (some machines set it; AVX2 kernels on an AVX-512 CPU
    halve every GEMM's speed, PyTorch's are not affected)."""
    try:
        blas = _numpy_blas()
    except ImportError:
        return "NumPy's BLAS kernels unknown (no threadpoolctl)"
    found = [f"{i['internal_api']} {i.get('version')} with {i.get('architecture')} kernels"
             for i in blas]
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return "NumPy BLAS " + ", ".join(found) + \
        (f" (OPENBLAS_CORETYPE={forced} set in the environment)" if forced else "")


# -- the parent: interleave the workers and report -----------------------------------------

class Worker:
    def __init__(self, impl: str, row: str, threads: int, pinned: bool, level: int) -> None:
        self.impl, self.row, self.level = impl, row, level  # impl may be "name@threads"
        base, _, own = impl.partition("@")
        threads, pinned = (int(own), True) if own else (threads, pinned)
        self.log = tempfile.TemporaryFile(mode="w+")
        env = dict(os.environ)
        env.pop("MINIGRAD_THREADS", None)
        if pinned and base == "minigrad":
            env["MINIGRAD_THREADS"] = str(threads)
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", base, "--rows", row,
             "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        self.times: list = []
        self.faults = 0  # page faults (minor) during the timed steps
        self.reduced = 0  # timed steps that ended with minigrad's BLAS below full threads
        self.losses = self.reply()["losses"]

    def reply(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith(MARK):
                return json.loads(line[len(MARK):])
        self.log.seek(0)
        raise RuntimeError(f"worker {self.impl} {self.row} died:\n{self.log.read()}")

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.reply()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait()


class Load:
    """Busy-loop competitors (their own processes), switched on and off by signals so
    that load levels can alternate round by round; ended by pid."""

    def __init__(self, most: int) -> None:
        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                      for _ in range(most)]
        self.level = most
        self.set(0)

    def set(self, level: int) -> None:
        if level != self.level:
            for k, proc in enumerate(self.procs):
                os.kill(proc.pid, signal.SIGCONT if k < level else signal.SIGSTOP)
            self.level = level

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


def measure_row(name: str, impls: list, sgemm: Worker, load: Load,
                args: argparse.Namespace, threads: int) -> None:
    row, levels = ROWS[name], args.load
    pinned = args.threads is not None
    workers = [Worker(impl, name, threads, pinned, level) for level in levels for impl in impls]
    try:
        reference = workers[0].losses
        for w in workers:
            if not np.allclose(w.losses, reference, rtol=1e-4):
                raise RuntimeError(f"{w.impl} {name} losses {w.losses} disagree with "
                                   f"{workers[0].impl}'s {reference}")
        everyone, first = workers + [sgemm], len(sgemm.times)
        for r in range(args.rounds):
            for w in everyone[r % len(everyone):] + everyone[:r % len(everyone)]:
                load.set(w.level)
                time.sleep(args.settle)  # the last worker's BLAS threads stop spinning
                done = w.ask(f"run {1 if w is sgemm else args.steps} {args.warm}")
                w.times += done["times"]
                w.faults += done["faults"]
                w.reduced += done["reduced"]
        load.set(levels[0])
        memory = {w.impl: w.ask("mem") for w in workers[:len(impls)]}
        info = {(w.impl, w.level): w.ask("info")["info"] for w in workers}
    finally:
        for w in workers:
            w.close()
    med = {(w.impl, w.level): statistics.median(w.times) for w in workers}
    peak = 2 * SGEMM_SIZE ** 3 / statistics.median(sgemm.times[first:])  # during this row
    flops = step_flops(row)
    print(f"\n{name}: {row.describe()}; first losses agree: {reference[0]:.5f}; "
          f"{flops / 1e9:.2f} GFLOP of GEMMs per step; {_busy(levels[0])}")
    print(f"  {'implementation':<16}{'median ms/step':>15}{'min':>9}{'peak MB':>9}"
          f"{'GFLOP/s':>9}{'of sgemm':>10}{'faults':>8}  threads; memory via")
    for w in workers[:len(impls)]:
        rate = flops / med[w.impl, w.level]
        print(f"  {w.impl:<16}{1e3 * med[w.impl, w.level]:>15.2f}{1e3 * min(w.times):>9.2f}"
              f"{memory[w.impl]['peak'] / 2**20:>9.1f}{rate / 1e9:>9.1f}{rate / peak:>9.1%}"
              f"{w.faults / len(w.times):>8.0f}  {info[w.impl, w.level]}{_reduced(w)}; "
              f"{memory[w.impl]['how']}")
    ours = [i for i in impls if i.startswith("minigrad")]
    others = [i for i in impls if not i.startswith("minigrad")]
    for mine in ours:
        for other in others:
            time_ratio = med[mine, levels[0]] / med[other, levels[0]]
            mem_ratio = memory[mine]["peak"] / memory[other]["peak"]
            print(f"  {mine + ' / ' + other:<30} time {time_ratio:5.2f}x"
                  f"   memory {mem_ratio:5.2f}x")
    for level in levels[1:]:
        print(f"  {_busy(level)}, same run, interleaved (median, mean ms/step):")
        for impl in impls:
            w = next(w for w in workers if (w.impl, w.level) == (impl, level))
            print(f"    {impl:<14}{1e3 * med[impl, level]:>10.2f}"
                  f"{1e3 * statistics.mean(w.times):>10.2f} = "
                  f"{med[impl, level] / med[impl, levels[0]]:5.2f}x its median with "
                  f"{_busy(levels[0])}  ({info[impl, level]}{_reduced(w)})")
        for mine in ours:
            for other in (i for i in others if i.startswith("torch")):
                ratio = med[mine, level] / med[other, level]
                print(f"    {mine + ' / ' + other:<28} time {ratio:5.2f}x")


def _busy(level: int) -> str:
    return f"{level} busy competitor{'s' * (level != 1)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--impls", nargs="+", default=list(ALL_IMPLS), type=_impl,
                        help=f"of {', '.join(ALL_IMPLS)}; name@N pins that one to N threads")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=2, help="steps per worker per round")
    parser.add_argument("--settle", type=float, default=0.2,
                        help="seconds between two workers' turns, for the previous one's "
                             "BLAS/OpenMP threads to stop spinning (OpenBLAS spins ~0.1 s)")
    parser.add_argument("--warm", type=float, default=0.05,
                        help="seconds of untimed steps at the start of each turn (at least "
                             "one step): a training loop runs its steps back to back, and "
                             "this machine runs the first ones after a pause slower")
    parser.add_argument("--threads", type=int, default=None,
                        help="pin every library to N threads (default: all cores, minigrad "
                             "under its load policy)")
    parser.add_argument("--load", type=int, nargs="+", default=[0],
                        help="N busy-loop processes competing for the cores; several levels "
                             "(e.g. 0 1 2) alternate round by round, each with its own workers")
    parser.add_argument("--worker", choices=list(BUILDERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = args.threads or cores
    if args.worker:
        worker(args.worker, args.rows[0], threads)
        return
    impls = list(args.impls)
    try:
        import torch
        torch_version = f"torch {torch.__version__}"
    except ImportError:
        print("PyTorch is not installed: skipping the torch columns")
        impls, torch_version = [i for i in impls if not i.startswith("torch")], "no torch"
    # a SIGTERM ends the run like Ctrl-C does: through the finally that stops the load
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    load = Load(max(args.load))
    try:
        how = f"{threads}, pinned" if args.threads else \
            f"{threads} (all cores), minigrad's BLAS under its load policy"
        print(f"recurrent training steps, float32; {platform.python_implementation()} "
              f"{platform.python_version()}, NumPy {np.__version__}, {torch_version}; "
              f"{cores} cores; {_blas_kernels()}; threads: {how}; load levels: "
              f"{', '.join(_busy(level) for level in args.load)}; "
              f"load average {_load()} at start", flush=True)
        sgemm = Worker("sgemm", "lstm-128", threads, True, args.load[0])
        try:
            for name in args.rows:
                measure_row(name, [i for i in impls if i.partition("@")[0] in ROWS[name].impls],
                            sgemm, load, args, threads)
            rate = 2 * SGEMM_SIZE ** 3 / statistics.median(sgemm.times)
            print(f"\nsgemm peak: {rate / 1e9:.1f} GFLOP/s (NumPy matmul {SGEMM_SIZE}^3 float32, "
                  f"median of {len(sgemm.times)}, {sgemm.ask('info')['info']}, "
                  f"{_busy(args.load[0])}); load average {_load()} at the end")
        finally:
            sgemm.close()
    finally:
        load.stop()


def _impl(spec: str) -> str:
    base, at, threads = spec.partition("@")
    if base not in ALL_IMPLS or at and not (threads.isdigit() and int(threads) > 0):
        raise argparse.ArgumentTypeError(f"{spec!r}: expected one of {', '.join(ALL_IMPLS)}, "
                                         "optionally with @threads (minigrad@1)")
    return spec


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
