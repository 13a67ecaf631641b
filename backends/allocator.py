"""Freed memory kept for reuse, instead of going back to the operating system (glibc).

A training step allocates the same large temporaries every step: gate buffers,
logits, gradients. glibc serves a block above its mmap threshold with a fresh mapping
and hands the free top of its heap back to the system beyond its trim threshold, so
every step the kernel maps and zeroes those pages again: about 4,000 page faults per
main-job step (``MINIGRAD_KEEP_FREED_MEMORY=0 python benchmarks/bench_lstm.py --rows
main`` prints them), none with this. Raising both
thresholds lets the next step reuse what the last one freed. The price is that the
process keeps its peak heap (up to ``TRIM`` of free memory) rather than returning it:
what a training loop wants, and what PyTorch users get by preloading jemalloc or
tcmalloc.

Applied once, when minigrad is imported, on Linux with glibc; not where the user
tuned malloc already (``MALLOC_*_`` variables, ``GLIBC_TUNABLES``) or set
``MINIGRAD_KEEP_FREED_MEMORY=0``.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import platform
from typing import Mapping

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3   # mallopt's parameters (malloc.h)
MMAP = 32 << 20    # glibc's largest mmap threshold on 64-bit: blocks above it are mapped
TRIM = 1 << 30     # free memory kept at the top of the heap before any goes back


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether to tune: not switched off, and malloc not tuned by the user."""
    if environ.get("MINIGRAD_KEEP_FREED_MEMORY", "1").strip().lower() in ("0", "false", "no"):
        return False
    if "malloc" in environ.get("GLIBC_TUNABLES", ""):
        return False
    return not any(name.startswith("MALLOC_") and name.endswith("_") for name in environ)


def keep_freed_memory(environ: Mapping[str, str]) -> bool:
    """Raise glibc's mmap and trim thresholds if :func:`wanted`; True if done."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or not wanted(environ):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP)) and \
            bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM))
    except (OSError, AttributeError):
        return False
