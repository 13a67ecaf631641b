"""Smoke tests: the digits CNN, the digits captioner and the date translator run end to end
(the last two decoding greedily and by beam search).

Each example runs in its ``--quick`` mode as a subprocess, exactly as a user would, on the backend
the suite runs on; the test checks the exit status, the headline line and the saved PNG. Quick
runs train too briefly for the quality bars, which the full runs (README) meet. Needs the
``examples`` extra (scikit-learn, matplotlib, tqdm) installed: a missing one fails, never skips.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BACKEND = os.environ.get("MINIGRAD_BACKEND", "numpy")


def run_quick(script: str, out: Path, *options: str) -> str:
    """Run ``examples/<script> --quick``; return its stdout after checking it succeeded."""
    result = subprocess.run([sys.executable, str(EXAMPLES / script), "--quick", "--backend",
                             BACKEND, "--out", str(out), *options],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def last_line(stdout: str) -> str:
    return stdout.strip().splitlines()[-1]


def test_digits_cnn_quick(tmp_path: Path) -> None:
    stdout = run_quick("digits_cnn.py", tmp_path)
    headline = re.fullmatch(r"test accuracy (\d+\.\d\d)% \| fine-tuned \(mirrored digits\) "
                            r"(\d+\.\d\d)%", last_line(stdout))
    assert headline, stdout
    assert float(headline.group(1)) > 30.0  # well above chance (10 %) after a few epochs
    assert "largest change of a frozen conv weight: 0.0e+00" in stdout
    assert (tmp_path / "digits_cnn.png").stat().st_size > 0


def test_digits_captioning_quick(tmp_path: Path) -> None:
    stdout = run_quick("digits_captioning.py", tmp_path, "--beam", "3")
    headline = re.fullmatch(r"caption exact-match accuracy (\d+\.\d\d)% greedy, (\d+\.\d\d)% "
                            r"beam 3 \(300 held-out pairs\)", last_line(stdout))
    assert headline, stdout
    assert 0.0 <= float(headline.group(1)) <= 100.0
    assert 0.0 <= float(headline.group(2)) <= 100.0
    assert (tmp_path / "digits_captions.png").stat().st_size > 0


def test_seq2seq_attention_quick(tmp_path: Path) -> None:
    stdout = run_quick("seq2seq_attention.py", tmp_path, "--beam", "3")
    headline = re.fullmatch(r"exact match (\d+\.\d\d)% greedy, (\d+\.\d\d)% beam 3 on 200 "
                            r"held-out dates", last_line(stdout))
    assert headline, stdout
    assert 0.0 <= float(headline.group(1)) <= 100.0
    assert 0.0 <= float(headline.group(2)) <= 100.0
    assert (tmp_path / "seq2seq_attention.png").stat().st_size > 0
