"""The worker side of a multi-process DataLoader: what runs in each worker process.

A worker is seeded (Python's ``random``, NumPy's global generator and minigrad's, from
the loader's base seed plus its id, so workers differ from each other and a seeded loader
repeats), runs ``worker_init_fn(worker_id)``, then fetches and collates one batch per
task the main process sends, answering ``(epoch, task number, batch)`` through its
pipe. An error is sent back, with its traceback, to be raised in the main process.

A worker never uses the GPU: CUDA cannot be used in a process forked from one that has
used it. Its default device is the CPU, so what the dataset and the collation make there
is made on the CPU, and the main process puts each batch on its own default device. A
dataset read by workers must hold its tensors on the CPU, as in PyTorch.
"""
from __future__ import annotations

import os
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy

import minigrad as mg
from .fetch import make_fetcher

__all__ = ["WorkerInfo", "get_worker_info"]

POLL_SECONDS = 1.0  # how often an idle worker checks that the main process is alive


@dataclass(frozen=True)
class WorkerInfo:
    """Who this worker is: ``id`` (0 .. num_workers - 1), ``num_workers``, ``seed`` (the
    one it was seeded with) and ``dataset`` (its own copy, to shard an iterable)."""
    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: Optional[WorkerInfo] = None


def get_worker_info() -> Optional[WorkerInfo]:
    """The current worker's :class:`WorkerInfo` inside a DataLoader worker process;
    ``None`` in the main process."""
    return _worker_info


class Exhausted:
    """A worker's answer once its copy of an iterable dataset has run out."""

    def __init__(self, worker_id: int) -> None:
        self.worker_id = worker_id


class _KeyErrorMessage(str):
    """KeyError shows its argument's repr; this keeps the traceback's newlines."""

    def __repr__(self) -> str:
        return str(self)


class Failure:
    """An exception raised in a worker, carried to the main process and raised there
    as the same type, its message saying where it happened and holding the traceback."""

    def __init__(self, where: str) -> None:
        kind, error, tb = sys.exc_info()
        self.kind = kind
        self.where = where
        self.text = "".join(traceback.format_exception(kind, error, tb))

    def reraise(self) -> None:
        message = f"Caught {self.kind.__name__} {self.where}.\nOriginal {self.text}"
        if self.kind is KeyError:
            message = _KeyErrorMessage(message)
        try:
            error = self.kind(message)
        except Exception:  # noqa: BLE001  (an exception type that takes other arguments)
            raise RuntimeError(message) from None
        try:
            raise error
        finally:
            del error  # no cycle through this frame: the loader's iterator is freed at once


def _seed(base_seed: int, worker_id: int) -> int:
    seed = base_seed + worker_id
    random.seed(seed)
    mg.manual_seed(seed)
    numpy.random.seed(numpy.random.SeedSequence([worker_id, base_seed]).generate_state(4))
    return seed


def worker_loop(dataset: Any, auto_collation: bool, collate_fn: Callable, drop_last: bool,
                base_seed: int, init_fn: Optional[Callable[[int], None]], worker_id: int,
                num_workers: int, tasks: Any, results: Any) -> None:
    """Serve tasks from the ``tasks`` queue until it says ``None``. A task is
    ``("task", epoch, number, index)``; ``("reset", epoch)`` restarts an iterable
    dataset's pass (persistent workers, a new epoch)."""
    global _worker_info
    parent = os.getppid()
    where = f"in DataLoader worker process {worker_id}"
    setup_failure, fetcher, exhausted = None, None, False
    try:
        seed = _seed(base_seed, worker_id)  # first: with the CPU active, it would ask CUDA
        mg.set_backend("cpu")                # whether there is a GPU to seed
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        if init_fn is not None:
            init_fn(worker_id)
        fetcher = make_fetcher(dataset, auto_collation, collate_fn, drop_last)
    except Exception:  # noqa: BLE001  (reported to the main process with the first batch)
        setup_failure = Failure(where)
    try:
        while True:
            try:
                message = tasks.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if os.getppid() != parent:  # the main process died: nobody to serve
                    return
                continue
            if message is None:
                return
            if message[0] == "reset":
                exhausted = False
                if setup_failure is None:
                    fetcher = make_fetcher(dataset, auto_collation, collate_fn, drop_last)
                continue
            _, epoch, number, index = message
            if exhausted:
                continue  # the main process stopped waiting on this worker this epoch
            if setup_failure is not None:
                answer: Any = setup_failure
            else:
                try:
                    answer = fetcher.fetch(index)
                except StopIteration:
                    answer, exhausted = Exhausted(worker_id), True
                except Exception:  # noqa: BLE001  (raised again in the main process)
                    answer = Failure(where)
            try:
                results.send((epoch, number, answer))
            except (BrokenPipeError, EOFError):
                return  # the main process closed its end: shutting down
            except Exception:  # noqa: BLE001  (a batch that cannot be pickled)
                results.send((epoch, number, Failure(where + " (sending its batch)")))
            del answer
    except KeyboardInterrupt:
        return  # the main process handles Ctrl-C and shuts the workers down
