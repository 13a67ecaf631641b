"""Where a main-job training step's time goes on a GPU: forward, backward, optimizer.

    MINIGRAD_BACKEND=cupy python benchmarks/gpu_phases.py   (CuPy and PyTorch with CUDA)

Times the main job's model (2-layer LSTM) at H = 1024 (B = 64) and H = 256 (B = 32), T = 64,
with the fused per-step kernels and with the generic per-step ufuncs (the fused ones
switched off for the run), PyTorch's cuDNN LSTM in TF32 and in float32, and how far the
fused and generic results differ in float32. Medians of 10 steps after 3 warm-ups.
"""
import statistics
import time

import numpy as np
import torch

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.backends.cupy_backend import CupyBackend

V, E = 84, 64


def minigrad_step(hidden, batch, steps):
    """The main job's model and step; ``phases`` collects each part's seconds."""
    mg.manual_seed(0)
    emb, rnn, head = nn.Embedding(V, E), nn.LSTM(E, hidden, 2), nn.Linear(hidden, V)
    model = nn.ModuleList([emb, rnn, head]).to("cuda")
    opt = mg.optim.Adam(model.parameters(), lr=2e-3)
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.integers(0, V, (steps, batch)), device="cuda")
    y = mg.tensor(rng.integers(0, V, (steps * batch,)), device="cuda")
    phases = {"fwd": [], "bwd": [], "opt": []}

    def step():
        t0 = time.perf_counter()
        out, _ = rnn(emb(x))
        loss = F.cross_entropy(head(out).reshape(-1, V), y)
        mg.cuda.synchronize()
        t1 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        mg.cuda.synchronize()
        t2 = time.perf_counter()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        mg.cuda.synchronize()
        t3 = time.perf_counter()
        for name, seconds in zip(phases, (t1 - t0, t2 - t1, t3 - t2)):
            phases[name].append(seconds)
    return step, phases


def medians(step, phases, n=10):
    for _ in range(3):
        step()
    for times in phases.values():
        times.clear()
    for _ in range(n):
        step()
    return {name: statistics.median(times) * 1e3 for name, times in phases.items()}


class generic_steps:
    """Within: the CuPy backend offers no fused kernels, so the generic steps run."""

    def __enter__(self):
        self.kept = CupyBackend.recurrent_kernels
        CupyBackend.recurrent_kernels = lambda backend, dtype: {}

    def __exit__(self, *exc):
        CupyBackend.recurrent_kernels = self.kept


def torch_ms(hidden, batch, steps, tf32):
    torch.backends.cudnn.allow_tf32 = tf32
    torch.manual_seed(0)
    emb, rnn = torch.nn.Embedding(V, E).cuda(), torch.nn.LSTM(E, hidden, 2).cuda()
    head = torch.nn.Linear(hidden, V).cuda()
    params = [*emb.parameters(), *rnn.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=2e-3)
    x = torch.randint(0, V, (steps, batch), device="cuda")
    y = torch.randint(0, V, (steps * batch,), device="cuda")

    def step():
        out, _ = rnn(emb(x))
        loss = torch.nn.functional.cross_entropy(head(out).reshape(-1, V), y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(10):
        t0 = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def outputs_and_grads():
    """A bidirectional 2-layer LSTM with lengths: output and every gradient, on the host."""
    mg.manual_seed(1)
    lstm = nn.LSTM(32, 48, 2, bidirectional=True).to("cuda")
    x = mg.randn(20, 4, 32, device="cuda", requires_grad=True)
    out, (h, c) = lstm(x, lengths=[20, 17, 9, 1])
    (out.sum() + (c * 2).sum()).backward()
    return [out.detach().cpu().numpy()] + [t.grad.cpu().numpy()
                                           for t in [x, *lstm.parameters()]]


def report(parts):
    return " ".join(f"{k} {v:.1f}" for k, v in parts.items()) + \
        f" total {sum(parts.values()):.1f} ms"


for hidden, batch in ((1024, 64), (256, 32)):
    fused = medians(*minigrad_step(hidden, batch, 64))
    with generic_steps():
        generic = medians(*minigrad_step(hidden, batch, 64))
    print(f"TIMING H={hidden} B={batch} T=64 fused: {report(fused)} | "
          f"generic steps: {report(generic)}")
print("TORCH H=1024 B=64 T=64: cuDNN TF32 %.1f ms, cuDNN float32 %.1f ms"
      % (torch_ms(1024, 64, 64, True), torch_ms(1024, 64, 64, False)))
fused = outputs_and_grads()
with generic_steps():
    generic = outputs_and_grads()
print("AGREE fused vs generic float32, max rel diff:",
      max(float(np.abs(f - g).max() / (np.abs(g).max() + 1e-30))
          for f, g in zip(fused, generic)))
