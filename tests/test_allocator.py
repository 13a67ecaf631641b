"""Freed memory kept for reuse (backends/allocator.py): a step's large temporaries stop
costing page faults, and the user's own malloc settings win."""
import os
import platform
import subprocess
import sys

import pytest

from minigrad.backends.allocator import wanted

# A "step" that holds eight 1 MiB temporaries at once and frees them, twenty times;
# prints the page faults that cost.
PROBE = """
import resource, numpy as np, minigrad
def step():
    arrays = [np.ones(1 << 18, np.float32) for _ in range(8)]
    return sum(a.sum() for a in arrays)
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(**environ):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(environ)
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, check=True)
    return int(done.stdout)


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="tunes glibc's malloc only")
def test_repeated_large_temporaries_reuse_memory():
    assert faults() < 200                                  # reused: no fresh pages
    assert faults(MINIGRAD_KEEP_FREED_MEMORY="0") > 10_000  # mapped afresh: 2,048 a step


def test_the_users_choice_wins():
    assert wanted({})
    assert not wanted({"MINIGRAD_KEEP_FREED_MEMORY": "0"})
    assert not wanted({"MALLOC_TRIM_THRESHOLD_": "0"})
    assert not wanted({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=4096"})
    assert wanted({"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2", "PATH": "/bin"})
