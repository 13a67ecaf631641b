"""examples/vqa.py: the --quick run as a user runs it (headline, figure); every generated answer
is right for its scene (checked by an independent reading of the question); the shapes are drawn
inside their cells; the model reads each question up to its last word only, and the baseline
never looks at the image."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import minigrad as mg  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BACKEND = os.environ.get("MINIGRAD_BACKEND", "numpy")


def load_example():
    if str(EXAMPLES) not in sys.path:               # examples import their helpers by name
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location("example_vqa", EXAMPLES / "vqa.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_answers_and_draws(tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLES / "vqa.py"), "--quick", "--backend",
                           BACKEND, "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    headline = re.fullmatch(r"test accuracy (\d+\.\d\d)% \(question only (\d+\.\d\d)%\) on "
                            r"(\d+) held-out questions", out.strip().splitlines()[-1])
    assert headline, out
    assert float(headline.group(2)) > 100 / 13     # the baseline learns at least the priors
    assert (tmp_path / "vqa.png").stat().st_size > 0


def test_help_names_the_shared_options():
    done = subprocess.run([sys.executable, str(EXAMPLES / "vqa.py"), "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for option in ("--quick", "--backend", "--seed", "--epochs", "--train"):
        assert option in done.stdout


def true_answer(question: str, objects: list) -> str:
    """The answer read off the scene's objects, by pattern rather than by template."""
    words = question.split()
    shapes = [s for _, s in objects]
    colours = [c for c, _ in objects]
    if words[:2] == ["is", "there"]:
        return "yes" if (words[3], words[4]) in objects else "no"
    if words[:3] == ["what", "colour", "is"]:
        assert shapes.count(words[4]) == 1, question
        return colours[shapes.index(words[4])]
    if words[:3] == ["what", "shape", "is"]:
        assert colours.count(words[4]) == 1, question
        return shapes[colours.index(words[4])]
    assert words[:2] == ["how", "many"], question
    return ["zero", "one", "two", "three"][shapes.count(words[2][:-1])]


def test_every_answer_is_right_and_kinds_are_balanced():
    example = load_example()
    rng = np.random.default_rng(1)
    answers = {kind: [] for kind in example.KINDS}
    for k in range(400):
        kind = example.KINDS[k % 4]
        image, objects = example.draw_scene(rng)
        assert image.shape == (3, 24, 24) and image.dtype == np.float32
        assert 2 <= len(objects) <= 6
        assert all(sum(s == shape for _, s in objects) <= 3 for shape in example.SHAPES)
        qa = example.ask(kind, objects, rng)
        if qa is not None:
            assert qa[1] == true_answer(qa[0], objects)
            answers[kind].append(qa[1])
    assert 0.35 < answers["exists"].count("yes") / len(answers["exists"]) < 0.65
    assert set(answers["count"]) == {"zero", "one", "two", "three"}
    data = example.make_dataset(40, rng)
    assert np.bincount(data["kinds"]).tolist() == [10, 10, 10, 10]
    for row in range(40):
        length = data["lengths"][row]
        assert (data["words"][row, length:] == 0).all() and (data["words"][row, :length] > 0).all()


@pytest.mark.parametrize("shape", ["square", "circle", "triangle"])
def test_shapes_stay_inside_their_cell(shape):
    example = load_example()
    for radius in (2.4, 3.0):
        mask = example.shape_mask(shape, 12.0 + 0.6, 12.0 - 0.6, radius)   # centre cell
        rows, cols = np.nonzero(mask)
        assert rows.min() >= 8 and rows.max() < 16 and cols.min() >= 8 and cols.max() < 16
    areas = {s: example.shape_mask(s, 12.0, 12.0, 3.0).sum() for s in example.SHAPES}
    assert areas["square"] > areas["circle"] > areas["triangle"]


def test_padding_after_the_question_is_never_read_and_baseline_ignores_images():
    example = load_example()
    model = example.VQANet(hidden=8, channels=4).eval()
    blind = example.VQANet(hidden=8, channels=4, use_image=False).eval()
    words = np.array([[3, 5, 7, 1, 0], [4, 6, 2, 9, 1]])
    lengths = mg.tensor(np.array([4, 5]))
    images = mg.randn(2, 3, 24, 24)
    longer = np.concatenate([words, np.zeros((2, 3), dtype=words.dtype)], axis=1)
    with mg.no_grad():
        short = model(images, mg.tensor(words), lengths).numpy()
        padded = model(images, mg.tensor(longer), lengths).numpy()
        np.testing.assert_allclose(short, padded, rtol=1e-6, atol=1e-6)
        seeing = blind(images, mg.tensor(words), lengths).numpy()
        other = blind(mg.randn(2, 3, 24, 24), mg.tensor(words), lengths).numpy()
    assert (seeing == other).all()
    assert short.shape == (2, len(example.ANSWERS))
