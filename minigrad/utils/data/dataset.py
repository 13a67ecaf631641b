"""Datasets: what a DataLoader draws samples from, as in ``torch.utils.data``.

A map-style :class:`Dataset` answers ``dataset[i]`` and ``len(dataset)``; an
:class:`IterableDataset` is a stream (``iter(dataset)``), for data that cannot be indexed
(a file read line by line, a generator). The rest combine or cut datasets without copying
their samples.
"""
from __future__ import annotations

import bisect
import itertools
import math
import warnings
from typing import Any, Generic, Iterable, Iterator, List, Optional, Sequence, TypeVar, Union

from ...generator import Generator, draw_permutation

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
           "ChainDataset", "Subset", "random_split"]

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """A map from indices to samples: subclasses define ``__getitem__`` (and usually
    ``__len__``, which the default samplers need). ``a + b`` concatenates."""

    def __getitem__(self, index: Any) -> T_co:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co], Iterable[T_co]):
    """A stream of samples: subclasses define ``__iter__``. With ``num_workers > 0``
    every worker iterates its own copy, so without sharding (``get_worker_info()``)
    each sample arrives once per worker. ``a + b`` chains."""

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other: Dataset) -> "ChainDataset":
        return ChainDataset([self, other])


def _first_dim(t: Any, position: int) -> int:
    shape = getattr(t, "shape", None)
    if shape is None or len(shape) == 0:
        raise ValueError(f"TensorDataset needs tensors with at least one dim; tensor "
                         f"{position} has shape {tuple(shape) if shape is not None else None}")
    return shape[0]


class TensorDataset(Dataset[tuple]):
    """Sample ``i`` is ``(t[i] for t in tensors)``: inputs and targets side by side."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        sizes = [_first_dim(t, i) for i, t in enumerate(tensors)]
        if len(set(sizes)) > 1:
            raise ValueError("TensorDataset needs tensors of one size in dim 0 (one row per "
                             f"sample), got sizes {', '.join(map(str, sizes))}")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class StackDataset(Dataset):
    """Several datasets of one length side by side: ``StackDataset(a, b)[i]`` is
    ``(a[i], b[i])``; ``StackDataset(x=a, y=b)[i]`` is ``{"x": a[i], "y": b[i]}``."""

    def __init__(self, *args: Dataset, **kwargs: Dataset) -> None:
        if args and kwargs:
            raise ValueError("StackDataset takes datasets either as positional or as keyword "
                             "arguments, not both")
        if not args and not kwargs:
            raise ValueError("StackDataset needs at least one dataset")
        self.datasets: Union[tuple, dict] = args or kwargs
        parts = args or tuple(kwargs.values())
        lengths = [len(d) for d in parts]
        if len(set(lengths)) > 1:
            raise ValueError(f"StackDataset needs datasets of one length, got lengths "
                             f"{', '.join(map(str, lengths))}")
        self._length = lengths[0]

    def __getitem__(self, index: int) -> Union[tuple, dict]:
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length


class ConcatDataset(Dataset):
    """Map-style datasets one after another: index ``len(a)`` is ``b[0]``."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError(f"ConcatDataset cannot index {type(d).__name__}, an "
                                "IterableDataset (chain streams with ChainDataset)")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a ConcatDataset of length {n}")
        index %= n
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


class ChainDataset(IterableDataset):
    """Iterable datasets one after another, chained as they are iterated."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = datasets

    def __iter__(self) -> Iterator:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only chains IterableDatasets, got "
                                f"{type(d).__name__}")
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices: List[int]) -> List[T_co]:
        """A batch at once (the DataLoader asks for it so), as the dataset's own
        ``__getitems__`` answers if it has one."""
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return getitems([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


def _lengths_from_fractions(fractions: Sequence[float], total: int) -> List[int]:
    """Each fraction of ``total`` rounded down; the remainder goes one by one to the
    first splits (PyTorch's rule, so the same fractions give the same sizes)."""
    for i, f in enumerate(fractions):
        if not 0 <= f <= 1:
            raise ValueError(f"random_split(): fraction {f} at index {i} is not in [0, 1]")
    lengths = [math.floor(total * f) for f in fractions]
    for i in range(total - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, n in enumerate(lengths):
        if n == 0:
            warnings.warn(f"random_split(): split {i} is empty ({fractions[i]} of {total} "
                          "samples)", stacklevel=3)
    return lengths


def random_split(dataset: Dataset, lengths: Sequence[Union[int, float]],
                 generator: Optional[Generator] = None) -> List[Subset]:
    """Disjoint random subsets of the given ``lengths``, or of the given fractions of
    ``len(dataset)`` when they sum to 1 (``[0.8, 0.2]``). Seeded by ``generator``, or
    by the global stream (``mg.manual_seed``) without one."""
    total = len(dataset)
    if not lengths:
        raise ValueError("random_split() needs at least one length")
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _lengths_from_fractions(lengths, total)
    for i, n in enumerate(lengths):
        if n != int(n) or n < 0:
            raise ValueError(f"random_split(): lengths are non-negative integers (or fractions "
                             f"that sum to 1), got {n!r} at index {i}")
    lengths = [int(n) for n in lengths]
    if sum(lengths) != total:
        raise ValueError(f"random_split(): lengths {lengths} sum to {sum(lengths)}, but the "
                         f"dataset has {total} samples")
    order = draw_permutation(total, generator)
    ends = itertools.accumulate(lengths)
    return [Subset(dataset, order[end - n:end]) for end, n in zip(ends, lengths)]
