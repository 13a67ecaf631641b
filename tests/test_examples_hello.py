"""examples/hello_rnn.py learns "hello" and says so; an untrained run reports failure.

Run as a subprocess, exactly as a user would, on the backend the suite runs on.
"""
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "hello_rnn.py"
BACKEND = os.environ.get("MINIGRAD_BACKEND", "numpy")


def run_example(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--backend", BACKEND, *args],
                          capture_output=True, text=True, timeout=120)


def test_hello_rnn_learns_hello():
    result = run_example()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sampled from 'h': hello" in result.stdout
    assert "predicts 'ello'" in result.stdout  # teacher-forced predictions are right too


def test_hello_rnn_exits_nonzero_when_it_has_not_learned():
    result = run_example("--steps", "1")
    assert result.returncode == 1
    assert "FAILED" in result.stderr
