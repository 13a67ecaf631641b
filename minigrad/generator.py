"""``mg.Generator``: a random stream of one's own, as ``torch.Generator`` is.

Samplers, ``random_split`` and the DataLoader take ``generator=`` so that shuffling is
reproducible without touching the global stream that ``mg.manual_seed`` seeds (the one
dropout and initialisation draw from). A generator draws on the host with NumPy's
PCG64, whatever the device it names, so a seed gives the same numbers everywhere; its
state is plain JSON-able data and it pickles (a DataLoader worker gets a copy).

The ``draw_*`` helpers are what ``minigrad.utils.data`` samples with: each takes a
generator or ``None``; ``None`` means one seed drawn from the global stream (so
``mg.manual_seed`` still makes a run reproducible), as PyTorch's RandomSampler does.
"""
from __future__ import annotations

import operator
import secrets
from typing import Any, Optional, Sequence

import numpy

from .creation import randint
from .device import device as Device

__all__ = ["Generator"]

# A fresh torch.Generator() starts from this seed too: unseeded, yet deterministic.
DEFAULT_SEED = 67280421310721
SEED_BOUND = 2 ** 63 - 1  # seeds drawn for workers and samplers lie in [0, SEED_BOUND)


def _seed_value(seed: Any) -> int:
    """An integer seed in [0, 2**64); negative seeds wrap around, as in PyTorch."""
    try:
        value = operator.index(seed)
    except TypeError:
        raise TypeError(f"a seed is an integer, got {seed!r} ({type(seed).__name__})") from None
    if not -2 ** 63 <= value < 2 ** 64:
        raise ValueError(f"a seed is an integer in [-2**63, 2**64), got {seed}")
    return value % 2 ** 64


class Generator:
    """A seedable random stream: ``Generator().manual_seed(0)``."""

    def __init__(self, device: Any = "cpu") -> None:
        self.device = Device(device)
        self.manual_seed(DEFAULT_SEED)

    def manual_seed(self, seed: int) -> "Generator":
        """Restart the stream from ``seed``; returns the generator (for chaining)."""
        self._initial_seed = _seed_value(seed)
        self._rng = numpy.random.default_rng(self._initial_seed)
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy; returns the new seed."""
        seed = secrets.randbelow(SEED_BOUND)
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        """The seed the stream last started from."""
        return self._initial_seed

    def get_state(self) -> dict:
        """The stream's position (JSON-able); :meth:`set_state` resumes from it."""
        return {"initial_seed": self._initial_seed, "bit_generator": self._rng.bit_generator.state}

    def set_state(self, state: dict) -> "Generator":
        if not isinstance(state, dict) or set(state) != {"initial_seed", "bit_generator"}:
            raise TypeError("set_state() expects a state from Generator.get_state(), got "
                            f"{type(state).__name__}")
        rng = numpy.random.default_rng()
        rng.bit_generator.state = state["bit_generator"]
        self._initial_seed, self._rng = int(state["initial_seed"]), rng
        return self

    def __repr__(self) -> str:
        return f"<minigrad.Generator device={self.device!r} initial_seed={self._initial_seed}>"


def draw_seed(generator: Optional[Generator]) -> int:
    """A seed in [0, 2**63 - 1): from ``generator``, or from the global stream."""
    if generator is None:  # the global stream that mg.manual_seed seeds
        return int(randint(0, SEED_BOUND, ()).item())
    return int(_stream(generator).integers(0, SEED_BOUND))


def _stream(generator: Optional[Generator]) -> numpy.random.Generator:
    if generator is None:
        generator = Generator().manual_seed(draw_seed(None))
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a minigrad.Generator, got "
                        f"{type(generator).__name__}")
    return generator._rng


def draw_permutation(n: int, generator: Optional[Generator]) -> list:
    """A random order of 0 .. n-1."""
    return _stream(generator).permutation(n).tolist()


def draw_integers(high: int, count: int, generator: Optional[Generator]) -> list:
    """``count`` integers drawn uniformly from [0, high)."""
    return _stream(generator).integers(0, high, size=count).tolist()


def draw_weighted(weights: Sequence[float], count: int, replacement: bool,
                  generator: Optional[Generator]) -> list:
    """``count`` indices drawn with probability proportional to ``weights`` (valid:
    finite, non-negative, enough nonzero entries when drawing without replacement)."""
    p = numpy.asarray(weights, dtype=numpy.float64)
    return _stream(generator).choice(len(p), size=count, replace=replacement,
                                     p=p / p.sum()).tolist()
