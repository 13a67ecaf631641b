"""Fetchers: from what the sampler yields to one collated batch, in the main process or
in a worker (the same code in both, so a worker's batches equal the main process's).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import minigrad as mg
from .collate import default_collate
from .dataset import IterableDataset, TensorDataset


class MapFetcher:
    """Indexes a map-style dataset: one index, or a list of them for a batch (asked of
    the dataset's ``__getitems__`` at once when it has one).

    A TensorDataset of tensors under the default collation is fetched with one gather
    per tensor: the batch that stacking its samples gives (values, dtype, device,
    gradient), without a tensor op per sample."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool) -> None:
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn
        self.gather = (auto_collation and collate_fn is default_collate
                       and type(dataset) is TensorDataset
                       and all(isinstance(t, mg.Tensor) for t in dataset.tensors))

    def fetch(self, index: Any) -> Any:
        if self.gather:
            return [t[list(index)] for t in self.dataset.tensors]  # a list, as collated
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        getitems = getattr(self.dataset, "__getitems__", None)
        samples = getitems(index) if callable(getitems) else [self.dataset[i] for i in index]
        return self.collate_fn(samples)


class IterableFetcher:
    """Draws from one pass over an iterable dataset: as many samples as the batch
    sampler's list is long (its entries are placeholders). Raises StopIteration once the
    stream is spent, or when only a short batch is left and ``drop_last`` is set."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool) -> None:
        self.iterator = iter(dataset)
        self.auto_collation, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.ended = False

    def fetch(self, index: Optional[list]) -> Any:
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        samples = []
        for _ in index:
            try:
                samples.append(next(self.iterator))
            except StopIteration:
                self.ended = True
                break
        if not samples or (self.drop_last and len(samples) < len(index)):
            raise StopIteration
        return self.collate_fn(samples)


def make_fetcher(dataset: Any, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool) -> Any:
    kind = IterableFetcher if isinstance(dataset, IterableDataset) else MapFetcher
    return kind(dataset, auto_collation, collate_fn, drop_last)
