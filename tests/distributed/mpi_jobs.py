"""Helpers for launching real MPI jobs from the tests (the ``launch`` fixture is in
conftest.py). Skipped, with the reason, where mpi4py or an ``mpiexec`` is missing
(``pip install -e '.[distributed]'`` installs both).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# not resolved: in benchmarks/gpu_check.sh's tree of links the package is laid out only there
HERE = Path(os.path.abspath(__file__)).parent
ROOT, RANKS = HERE.parents[1], HERE / "ranks"


def mpiexec() -> str:
    """The mpiexec beside this Python (a virtualenv's MPICH wheel) or on PATH."""
    pytest.importorskip("mpi4py", reason="mpi4py is not installed: pip install -e '.[distributed]'")
    found = shutil.which("mpiexec", path=os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if found is None:
        pytest.skip("no mpiexec found: pip install -e '.[distributed]' (the mpich wheel)")
    return found


def job_env() -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), str(ROOT / "examples"), os.environ.get("PYTHONPATH", "")]))
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    # Open MPI's mpiexec refuses to start as root (containers, GPU machines) without these;
    # MPICH ignores them
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return env


def passed(result: subprocess.CompletedProcess, ranks: int = 2) -> bool:
    """Every rank printed its PASS line and the job exited 0 (else show what happened)."""
    ok = result.returncode == 0 and result.stdout.count("PASS") == ranks
    if not ok:
        print(result.stdout[-4000:], result.stderr[-4000:], sep="\n-- stderr --\n")
    return ok
