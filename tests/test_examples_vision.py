"""Smoke tests: the digits CNN, the digits captioner and the date translator run end to end
(the last two decoding greedily and by beam search).

Each example runs in its ``--quick`` mode as a subprocess, exactly as a user would, on the backend
the suite runs on; the test checks the exit status, the headline line and the saved PNG. Quick
runs train too briefly for the quality bars, which the full runs (README) meet. Needs the
``examples`` extra (scikit-learn, matplotlib, tqdm) installed: a missing one fails, never skips.
"""
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

import minigrad as mg
from test_examples_rnn import load_example  # one loader for the examples' modules

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


# -- a training step of each example makes no host sync (simulated GPU, strict) ------------

def assert_step_makes_no_host_sync(step) -> None:
    """Two warm-up steps (optimizer state appears), then a step and its device-side loss
    bookkeeping under a strict counter: any host sync there raises, naming its line. The
    loss is read afterwards, as a logging step does."""
    from example_cli import LossMeter
    meter = LossMeter()
    for _ in range(2):
        meter.add(step())
    with mg.cuda.sync_counter(strict=True) as syncs:
        meter.add(step())
    assert syncs.count == 0
    assert np.isfinite(meter.mean())


def test_digits_cnn_step_makes_no_host_sync() -> None:
    example = load_example("digits_cnn")
    rng = np.random.default_rng(0)
    with mg.use_backend("simgpu"):
        model = example.LeNet()
        optimizer = mg.optim.Adam(model.parameters(), lr=1e-3)
        schedule = mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)
        images = rng.random((24, 1, 8, 8)).astype(np.float32)
        loader = iter(example.DataLoader(example.TensorDataset(
            mg.tensor(images), mg.tensor(rng.integers(0, 10, 24))), 8, shuffle=True))
        assert_step_makes_no_host_sync(
            lambda: example.train_step(model, optimizer, schedule, *next(loader)))


def test_digits_captioning_step_makes_no_host_sync() -> None:
    example = load_example("digits_captioning")
    rng = np.random.default_rng(0)
    digits = rng.random((20, 1, 8, 8)).astype(np.float32)
    with mg.use_backend("simgpu"):
        model = example.Captioner(hidden=16)
        optimizer = mg.optim.Adam(model.parameters(), lr=1e-3)
        schedule = mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)

        def step():
            pictures, tokens = example.make_pairs(digits, np.arange(20) % 10, 8, rng)
            return example.train_step(model, optimizer, schedule, mg.tensor(pictures), tokens)
        assert_step_makes_no_host_sync(step)


def test_seq2seq_step_makes_no_host_sync() -> None:
    """Variable-length source batches: the encoder's lengths come from the host."""
    example = load_example("seq2seq_attention")
    rng = random.Random(0)
    with mg.use_backend("simgpu"):
        model = example.Translator(hidden=8)
        optimizer = mg.optim.Adam(model.parameters(), lr=1e-3)
        schedule = mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)

        def step():
            source, lengths, target, _ = example.written(example.random_dates(rng, 6), rng)
            return example.train_step(model, optimizer, schedule, source, lengths, target)
        assert_step_makes_no_host_sync(step)
