"""examples/char_lstm.py --distributed: the same training as one process, and a clear
message when started without a launcher."""
import re
import subprocess
import sys

import pytest

import minigrad as mg
from minigrad.backends import default_backend_name
from mpi_jobs import ROOT, job_env

QUICK = ["--quick", "--steps", "4", "--eval-every", "2", "--val-chunks", "2",
         "--sample-length", "10"]


def lines(output: str) -> list:
    return re.findall(r"^step +\d+ +train \S+ +val \S+|^final val loss \S+", output, re.M)


def test_without_a_launcher_it_says_how_to_launch():
    result = subprocess.run([sys.executable, "examples/char_lstm.py", "--distributed", "--quick"],
                            cwd=ROOT, env=job_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "--distributed needs an MPI launcher" in result.stderr
    assert "mpiexec -n 2 python examples/char_lstm.py --distributed" in result.stderr
    assert "--backend cupy" in result.stderr


def test_two_ranks_train_as_one_process_and_resume(launch, tmp_path):
    if default_backend_name() == "cupy" and mg.cuda.device_count() < 2:
        pytest.skip("on CuPy the example's ranks talk through NCCL, which needs a GPU per rank")
    one = subprocess.run([sys.executable, "examples/char_lstm.py", *QUICK,
                          "--checkpoint", str(tmp_path / "one.npz"), "--plot",
                          str(tmp_path / "one.png")], cwd=ROOT, env=job_env(),
                         capture_output=True, text=True, timeout=120, check=True)
    program = str(ROOT / "examples" / "char_lstm.py")
    ck = ["--checkpoint", str(tmp_path / "two.npz"), "--plot", str(tmp_path / "two.png")]
    first = launch("", "--distributed", *QUICK, *ck, "--stop-at", "2", program=program)
    assert first.returncode == 0, first.stderr[-3000:]
    second = launch("", "--distributed", *QUICK, *ck, "--resume", program=program)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resumed from" in second.stdout
    expected = lines(one.stdout)
    assert len(expected) == 3
    assert lines(first.stdout)[0] == expected[0]
    assert lines(second.stdout) == expected[1:]
