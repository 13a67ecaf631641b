"""examples/attention_captioning.py: the --quick run as a user runs it (both models trained,
greedy and beam decoding, the attention figure), its help, and its data and decoder shapes.
Quick runs train too briefly for the quality bars, which the full run (README) meets."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

import minigrad as mg  # noqa: E402
from test_examples_vision import assert_step_makes_no_host_sync  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BACKEND = os.environ.get("MINIGRAD_BACKEND", "numpy")


def load_example():
    if str(EXAMPLES) not in sys.path:               # examples import their helpers by name
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location("example_attention_captioning",
                                                  EXAMPLES / "attention_captioning.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_trains_both_models_and_draws(tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLES / "attention_captioning.py"), "--quick",
                           "--beam", "2", "--backend", BACKEND, "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    percent = r"(\d+\.\d\d)%"
    headline = re.fullmatch(rf"exact match: attention {percent} \(beam 2: {percent}\), "
                            rf"no attention {percent} \(beam 2: {percent}\) "
                            r"\(200 held-out rows of 3-4 digits\)",
                            done.stdout.strip().splitlines()[-1])
    assert headline, done.stdout
    assert all(0.0 <= float(g) <= 100.0 for g in headline.groups())
    assert (tmp_path / "attention_captioning.png").stat().st_size > 0


def test_help_names_the_shared_options():
    done = subprocess.run([sys.executable, str(EXAMPLES / "attention_captioning.py"), "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for option in ("--quick", "--backend", "--seed", "--beam", "--figure"):
        assert option in done.stdout


def test_rows_captions_and_attention_shapes():
    example = load_example()
    rng = np.random.default_rng(0)
    images = rng.random((20, 1, 8, 8)).astype(np.float32) + 0.1   # no blank column
    labels = np.arange(20) % 10
    canvases, tokens = example.make_rows(images, labels, 50, rng)
    assert canvases.shape == (50, 1, 8, 32) and tokens.shape == (50, 6)
    lengths = (tokens != example.EOS).sum(1) - 1
    assert set(lengths) == {3, 4}
    inked = (canvases[:, 0] > 0).any(1).sum(1)                  # columns with a digit in them
    np.testing.assert_array_equal(inked, 8 * lengths)
    targets = example.targets_of(tokens)
    assert ((targets == example.EOS).sum(1) == 1).all()         # one <eos>, then ignored
    assert ((targets == example.IGNORE).sum(1) == 4 - lengths).all()

    model = example.AttentionCaptioner(hidden=16).eval()
    words, alphas = model.caption(mg.tensor(canvases[:4]))
    assert words.shape == (4, 5) and alphas.shape == (4, 5, 16)
    np.testing.assert_allclose(alphas.sum(-1), 1.0, rtol=1e-5)
    beam, none = model.caption(mg.tensor(canvases[:4]), beam=3)
    assert beam.shape == (4, 5) and none is None


@pytest.mark.parametrize("attention", [True, False])
def test_a_training_step_makes_no_host_sync(attention):
    """train()'s step on the simulated GPU, after two warm-up steps: no host sync (the
    loss stays on the device until an epoch's end reads it), strict mode."""
    example = load_example()
    rng = np.random.default_rng(0)
    digits = rng.random((20, 1, 8, 8)).astype(np.float32)
    with mg.use_backend("simgpu"):
        model = example.AttentionCaptioner(hidden=16) if attention else \
            example.Captioner(16, width=example.WIDTH, max_words=example.STEPS)
        optimizer = mg.optim.Adam(model.parameters(), lr=1e-3)
        schedule = mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)

        def step():
            images, tokens = example.make_rows(digits, np.arange(20) % 10, 8, rng)
            return example.train_step(model, optimizer, schedule, mg.tensor(images),
                                      tokens[:, :-1], example.targets_of(tokens))
        assert_step_makes_no_host_sync(step)
