"""``DataLoader``: batches from a dataset, with PyTorch's arguments and defaults.

The sampler gives the order (sequential, shuffled by ``generator`` or the global stream,
or any iterable of indices given as ``sampler=``), the batch sampler groups it, a fetcher
indexes the dataset and ``collate_fn`` builds each batch, in this process or in
``num_workers`` worker processes that give exactly the same batches (workers never use
the GPU: they build batches on the CPU, and every tensor of a batch is put on the default
device as it is handed out; a dataset they read holds its tensors on the CPU).
``pin_memory``, ``pin_memory_device`` are accepted for PyTorch's signature and do
nothing: there is no page-locked host memory to stage copies in.
"""
from __future__ import annotations

import math
import multiprocessing
from multiprocessing.context import BaseContext
from typing import Any, Callable, Generic, Iterable, Iterator, Optional, TypeVar, Union

from ...generator import Generator, draw_seed
from .collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset
from .fetch import make_fetcher
from .multiprocess import MultiProcessIter
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]

T_co = TypeVar("T_co", covariant=True)

# Attributes that decide which batches come out: set once, as PyTorch insists.
_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


class _Placeholders(Sampler[None]):
    """An iterable dataset's "indices": a batch sampler over these yields lists whose
    only meaning is their length, the number of samples to draw."""

    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


def _non_negative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} option should be a non-negative integer, got {name}={value!r}")
    return value


class DataLoader(Generic[T_co]):
    """Iterate over ``dataset`` in batches. See ``torch.utils.data.DataLoader``: the same
    arguments, defaults, errors and batches."""

    def __init__(self, dataset: Dataset[T_co], batch_size: Optional[int] = 1,
                 shuffle: Optional[bool] = None, sampler: Union[Sampler, Iterable, None] = None,
                 batch_sampler: Union[Sampler, Iterable, None] = None, num_workers: int = 0,
                 collate_fn: Optional[Callable] = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Optional[Callable[[int], None]] = None,
                 multiprocessing_context: Union[str, BaseContext, None] = None,
                 generator: Optional[Generator] = None, *, prefetch_factor: Optional[int] = None,
                 persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True) -> None:
        self._initialized = False
        self.num_workers = _non_negative_int(num_workers, "num_workers")
        if timeout < 0:
            raise ValueError(f"timeout option should be non-negative, got timeout={timeout!r}")
        if self.num_workers == 0:
            if prefetch_factor is not None:
                raise ValueError("prefetch_factor option could only be specified with "
                                 "num_workers > 0 (worker processes)")
            if persistent_workers:
                raise ValueError("persistent_workers option needs num_workers > 0")
        elif prefetch_factor is None:
            prefetch_factor = 2
        elif isinstance(prefetch_factor, bool) or not isinstance(prefetch_factor, int) \
                or prefetch_factor < 1:
            raise ValueError(f"prefetch_factor option should be a positive integer, got "
                             f"prefetch_factor={prefetch_factor!r}")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"worker_init_fn should be callable, got {worker_init_fn!r}")

        if isinstance(dataset, IterableDataset):
            for name, value in (("shuffle", shuffle), ("sampler", sampler),
                                ("batch_sampler", batch_sampler)):
                if value is not None and value is not False:
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                     f"{name} option, but got {name}={value!r}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            if isinstance(dataset, IterableDataset):
                sampler = _Placeholders()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_sampler is not None else default_convert)
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.in_order = in_order
        self._iterator: Optional[MultiProcessIter] = None
        self._initialized = True

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FROZEN and getattr(self, "_initialized", False):
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def multiprocessing_context(self) -> Optional[BaseContext]:
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context: Union[str, BaseContext, None]) -> None:
        if context is not None:
            if self.num_workers == 0:
                raise ValueError(f"multiprocessing_context can only be used with worker "
                                 f"processes (num_workers > 0), but got "
                                 f"num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError(f"multiprocessing_context {context!r} is not a start "
                                     f"method here; choose one of {methods}")
                context = multiprocessing.get_context(context)
            elif not isinstance(context, BaseContext):
                raise TypeError(f"multiprocessing_context should be a start method name or a "
                                f"multiprocessing context, got {context!r}")
        self._multiprocessing_context = context

    def _context(self) -> BaseContext:
        return self._multiprocessing_context or multiprocessing.get_context()

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Iterable:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self) -> Iterator[Any]:
        indices = iter(self._index_sampler)
        if self.persistent_workers and self._iterator is not None and self._iterator.running:
            self._iterator.reset(indices)
            return self._iterator
        # Drawn whether or not there are workers (as PyTorch does), so the generator's
        # stream, and with it the shuffled order, does not depend on num_workers.
        base_seed = draw_seed(self.generator)
        if self.num_workers == 0:
            return _SingleProcessIter(self, indices)
        iterator = MultiProcessIter(self, indices, base_seed)
        if self.persistent_workers:
            self._iterator = iterator
        return iterator

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            length = len(self.dataset)  # an estimate: the stream may give more or fewer
            if self.batch_size is not None:
                rounded = math.floor if self.drop_last else math.ceil
                length = rounded(length / self.batch_size)
            return length
        return len(self._index_sampler)


class _SingleProcessIter:
    """One pass in this process: the sampler's indices, fetched and collated."""

    def __init__(self, loader: DataLoader, indices: Iterator) -> None:
        self._loader = loader
        self._indices = indices
        self._fetcher = make_fetcher(loader.dataset, loader._auto_collation,
                                     loader.collate_fn, loader.drop_last)

    def __iter__(self) -> "_SingleProcessIter":
        return self

    def __next__(self) -> Any:
        return self._fetcher.fetch(next(self._indices))

    def __len__(self) -> int:
        return len(self._loader)
