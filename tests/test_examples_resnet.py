"""examples/digits_resnet.py: the --quick run as a user runs it (headline with four accuracies,
figure), and the residual network has exactly its plain twin's parameters."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

import minigrad as mg  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BACKEND = os.environ.get("MINIGRAD_BACKEND", "numpy")


def load_example():
    if str(EXAMPLES) not in sys.path:               # examples import their helpers by name
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location("example_digits_resnet",
                                                  EXAMPLES / "digits_resnet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_trains_four_variants_and_draws(tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLES / "digits_resnet.py"), "--quick",
                           "--backend", BACKEND, "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    headline = re.fullmatch(r"test accuracy: plain (\d+\.\d\d)% \| plain\+BN (\d+\.\d\d)% \| "
                            r"residual (\d+\.\d\d)% \| residual\+BN (\d+\.\d\d)%",
                            out.strip().splitlines()[-1])
    assert headline, out
    assert float(headline.group(4)) > 30.0      # well above chance (10 %) after two epochs
    assert (tmp_path / "digits_resnet.png").stat().st_size > 0


def test_help_names_the_shared_options():
    done = subprocess.run([sys.executable, str(EXAMPLES / "digits_resnet.py"), "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for option in ("--quick", "--backend", "--seed", "--epochs", "--width"):
        assert option in done.stdout


@pytest.mark.parametrize("batch_norm", [False, True])
def test_residual_and_plain_share_parameters_and_shapes(batch_norm):
    example = load_example()
    mg.manual_seed(3)
    plain = example.DigitsNet(residual=False, batch_norm=batch_norm, width=4)
    mg.manual_seed(3)
    residual = example.DigitsNet(residual=True, batch_norm=batch_norm, width=4)
    plain_state, residual_state = plain.state_dict(), residual.state_dict()
    assert plain_state.keys() == residual_state.keys()
    for key, value in plain_state.items():
        assert (value.numpy() == residual_state[key].numpy()).all(), key
    convs = [m for m in residual.modules() if isinstance(m, mg.nn.Conv2d)]
    assert len(convs) == 9
    assert residual(mg.randn(5, 1, 8, 8)).shape == (5, 10)


def test_shortcut_subsamples_and_pads_channels_with_zeros():
    example = load_example()
    block = example.Block(2, 5, stride=2, residual=True, batch_norm=False)
    x = mg.randn(3, 2, 8, 8)
    short = block.shortcut(x).numpy()
    assert short.shape == (3, 5, 4, 4)
    assert (short[:, :2] == x.numpy()[:, :, ::2, ::2]).all()
    assert (short[:, 2:] == 0).all()
