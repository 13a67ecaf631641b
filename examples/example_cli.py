"""The command-line options the examples share, and the set-up they imply."""
from __future__ import annotations

import argparse
import os

from threadpoolctl import threadpool_limits

import minigrad as mg


def add_run_options(parser: argparse.ArgumentParser, quick_help: str) -> None:
    """--seed, --backend, --threads, --out and --quick."""
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--backend", choices=mg.backends.BACKEND_CHOICES,
                        default=mg.backends.default_backend_name(),
                        help="array backend: numpy (CPU), cupy (NVIDIA GPU) or simgpu (simulated "
                             "GPU); default: $MINIGRAD_BACKEND, else numpy")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads (default 1: these matrices are too small to split, "
                             "and idle threads spin on a busy machine)")
    parser.add_argument("--out", default="runs", help="output directory (default runs/)")
    parser.add_argument("--quick", action="store_true", help=quick_help)


def start_run(args: argparse.Namespace) -> None:
    """Apply the shared options: BLAS threads, backend, seed, output directory."""
    threadpool_limits(args.threads)
    mg.set_backend(args.backend)
    mg.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
