"""The ``launch`` fixture: ``launch("script.py", *args)`` runs ``mpiexec -n 2 python
tests/distributed/ranks/script.py ...`` from the repository root, with a time limit."""
from __future__ import annotations

import subprocess
import sys
from typing import Callable

import pytest

from mpi_jobs import RANKS, ROOT, job_env, mpiexec


@pytest.fixture
def launch() -> Callable[..., subprocess.CompletedProcess]:
    launcher = mpiexec()

    def run(script: str, *args: str, ranks: int = 2, timeout: float = 120,
            program: str = "") -> subprocess.CompletedProcess:
        target = program or str(RANKS / script)
        return subprocess.run([launcher, "-n", str(ranks), sys.executable, target, *args],
                              cwd=ROOT, env=job_env(), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    return run
