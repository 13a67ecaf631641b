"""Data-parallel scaling on this machine: 1 rank x 1 thread, 1 rank x N threads and
N ranks x 1 thread (MPI) training the main job at the same global batch.

Per-step time is (wall time of a long run - wall time of a short run) / the step
difference, so start-up, data loading and the final evaluation cancel out; each layout
is measured ``--repeats`` times, interleaved with the others (so drifts in machine load
hit all alike), and the median is reported with the final validation loss (which must be
the same for every layout: DDP takes the steps one process would take).

    python benchmarks/bench_ddp.py                 # 2 ranks, the quick configuration
    python benchmarks/bench_ddp.py --model main --short 5 --long 45   # the main job's model
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"quick": ["--layers", "1", "--hidden", "128", "--embed", "32", "--batch", "32",
                    "--seq", "64"],
          "main": []}  # the main job's defaults: 2 x LSTM 256, embedding 64, batch 32 x 64
FINAL_LOSS = re.compile(r"val(?:idation)? loss[^0-9]*([0-9]+\.[0-9]+)", re.IGNORECASE)


def run(model: list, layout: str, ranks: int, threads: int, steps: int, workdir: str) -> tuple:
    """(wall seconds, final validation loss) of one main-job run of ``steps`` steps."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), MINIGRAD_THREADS=str(threads))
    job = [sys.executable, str(ROOT / "examples" / "char_lstm.py"), *model,
           "--steps", str(steps), "--eval-every", str(steps), "--checkpoint-every", "1000000",
           "--checkpoint", os.path.join(workdir, f"{layout}.npz"),
           "--plot", os.path.join(workdir, f"{layout}.png"), "--sample-length", "0",
           "--time-limit", "1000", "--val-chunks", "10"]
    if ranks > 1:
        mpiexec = shutil.which("mpiexec") or str(Path(sys.executable).parent / "mpiexec")
        job = [mpiexec, "-n", str(ranks), *job, "--distributed"]
    start = time.perf_counter()
    done = subprocess.run(job, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{layout} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    losses = FINAL_LOSS.findall(done.stdout)
    return wall, float(losses[-1]) if losses else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--model", choices=sorted(MODELS), default="quick")
    parser.add_argument("--short", type=int, default=10, help="steps of the short run")
    parser.add_argument("--long", type=int, default=210, help="steps of the long run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.ranks
    layouts = {"1 rank x 1 thread": (1, 1), f"1 rank x {n} threads": (1, n),
               f"{n} ranks x 1 thread": (n, 1)}
    per_step = {name: [] for name in layouts}
    final = {}
    with tempfile.TemporaryDirectory() as workdir:
        for _ in range(args.repeats):
            for name, (ranks, threads) in layouts.items():
                tag = name.replace(" ", "")
                short, _ = run(MODELS[args.model], tag, ranks, threads, args.short, workdir)
                long, loss = run(MODELS[args.model], tag, ranks, threads, args.long, workdir)
                per_step[name].append((long - short) / (args.long - args.short))
                final[name] = loss
    print(f"main job {' '.join(MODELS[args.model]) or '(defaults)'}, global batch 32 x 64 "
          f"characters, {args.long} - {args.short} steps; load average "
          f"{os.getloadavg()[0]:.1f} at the end")
    print(f"{'layout':<22} {'ms/step':>8} {'chars/s':>9} {'speed-up':>9}  final val loss")
    base = statistics.median(per_step["1 rank x 1 thread"])
    for name in layouts:
        t = statistics.median(per_step[name])
        print(f"{name:<22} {1000 * t:8.1f} {32 * 64 / t:9.0f} {base / t:8.2f}x  "
              f"{final[name]:.4f}")


if __name__ == "__main__":
    main()
