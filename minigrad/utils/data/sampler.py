"""Samplers: the order in which a DataLoader visits a map-style dataset, as in
``torch.utils.data``.

A sampler yields indices; :class:`BatchSampler` groups them into lists. Random samplers
draw from their ``generator`` (a :class:`minigrad.Generator`) or, without one, from a
generator seeded once per pass by the global stream, so ``mg.manual_seed`` makes the
order reproducible. The drawing happens when iteration starts, not when the sampler is
made: each pass over a DataLoader is a new order.
"""
from __future__ import annotations

from typing import Any, Generic, Iterable, Iterator, List, Optional, Sequence, Sized, TypeVar

import numpy

import minigrad as mg
from ...generator import Generator, draw_integers, draw_permutation, draw_seed, draw_weighted

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]

T_co = TypeVar("T_co", covariant=True)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value!r}")
    return int(value)


def _boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} should be a boolean value, but got {name}={value!r}")
    return value


class Sampler(Generic[T_co]):
    """Yields indices (or, for a batch sampler, lists of them); subclasses define
    ``__iter__`` and usually ``__len__``."""

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler[int]):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """A random order of the dataset's indices; with ``replacement``, ``num_samples``
    independent draws; without, as many full permutations as ``num_samples`` needs
    (the last one cut short)."""

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: Optional[int] = None,
                 generator: Optional[Generator] = None) -> None:
        self.data_source = data_source
        self.replacement = _boolean(replacement, "replacement")
        self._num_samples = num_samples
        self.generator = generator
        _positive_int(self.num_samples, "num_samples")

    @property
    def num_samples(self) -> int:
        """``len(data_source)`` unless given (the dataset may grow between passes)."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n, count = len(self.data_source), self.num_samples
        if n == 0:
            raise ValueError(f"RandomSampler cannot draw {count} samples from an empty dataset")
        generator = self.generator
        if generator is None:
            generator = Generator().manual_seed(draw_seed(None))
        if self.replacement:
            yield from draw_integers(n, count, generator)
            return
        for _ in range(count // n):
            yield from draw_permutation(n, generator)
        yield from draw_permutation(n, generator)[:count % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given indices in a random order, without replacement."""

    def __init__(self, indices: Sequence[int], generator: Optional[Generator] = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        for i in draw_permutation(len(self.indices), self.generator):
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices into ``weights``, index i drawn with probability
    ``weights[i] / sum(weights)`` (the weights need not sum to one): over-samples rare
    classes of an unbalanced dataset."""

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: Optional[Generator] = None) -> None:
        self.num_samples = _positive_int(num_samples, "num_samples")
        self.replacement = _boolean(replacement, "replacement")
        values = weights.numpy() if isinstance(weights, mg.Tensor) else weights
        self._weights = numpy.array(values, dtype=numpy.float64)
        if self._weights.ndim != 1:
            raise ValueError(f"weights should be a 1-d sequence, but given weights have shape "
                             f"{self._weights.shape}")
        if not numpy.all(numpy.isfinite(self._weights) & (self._weights >= 0)):
            raise ValueError("weights must be finite and non-negative")
        nonzero = int(numpy.count_nonzero(self._weights))
        if nonzero == 0:
            raise ValueError("weights must not all be zero")
        if not replacement and num_samples > nonzero:
            raise ValueError(f"cannot draw num_samples={num_samples} without replacement from "
                             f"{nonzero} nonzero weights")
        self.generator = generator

    @property
    def weights(self) -> mg.Tensor:
        """The weights, as a float64 tensor (as PyTorch keeps them)."""
        return mg.tensor(self._weights, dtype=mg.float64)

    def __iter__(self) -> Iterator[int]:
        yield from draw_weighted(self._weights, self.num_samples, self.replacement,
                                 self.generator)

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[List[int]]):
    """Lists of ``batch_size`` indices from ``sampler`` (any iterable of indices); the
    last, shorter list is kept unless ``drop_last``."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        self.sampler = sampler
        self.batch_size = _positive_int(batch_size, "batch_size")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[List[int]]:
        batch: List[int] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
