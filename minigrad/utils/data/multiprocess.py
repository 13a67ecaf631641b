"""The main-process side of a DataLoader with ``num_workers > 0``.

Tasks (a batch's indices, numbered in sampler order) go round-robin to the workers'
queues, at most ``prefetch_factor`` per worker ahead of what has been handed out;
batches come back through one pipe per worker and are handed out in task order (or as
they arrive, with ``in_order=False``), so the batches equal a single-process loader's;
workers build them on the CPU (see ``worker``), and every tensor in a batch is put on
the default device here.
A worker whose iterable dataset has run out says so and gets no more tasks. Every
message carries the epoch it belongs to, so a persistent loader restarted mid-epoch
drops what the abandoned epoch still had in flight. Dead workers are noticed through
their process sentinels; ``timeout`` bounds the wait for one batch.
"""
from __future__ import annotations

import itertools
import time
import weakref
from multiprocessing import connection
from typing import Any, Dict, List, Tuple

from .collate import to_default_device
from .worker import POLL_SECONDS, Exhausted, Failure, worker_loop

SHUTDOWN_SECONDS = 5.0  # how long workers get to exit before they are terminated


class MultiProcessIter:
    """One pass over a DataLoader with worker processes (reused across passes when the
    loader has ``persistent_workers``); see the module's docstring."""

    def __init__(self, loader: Any, indices: Any, base_seed: int) -> None:
        self._loader = loader
        self._indices = indices
        self._epoch = 0
        self._workers: List[Any] = []
        self._queues: List[Any] = []
        self._pipes: List[Any] = []
        # Not __del__: an iterator caught in a reference cycle (a stored exception's
        # traceback) may be finalized after its queues and pipes have closed themselves;
        # the finalizer holds them, so they outlive it, and it runs at exit too.
        self._stop = weakref.finalize(self, _stop_workers, self._workers, self._queues,
                                      self._pipes)
        context = loader._context()
        try:
            for worker_id in range(loader.num_workers):
                tasks = context.Queue()
                tasks.cancel_join_thread()  # exiting never waits to flush unread tasks
                reader, writer = context.Pipe(duplex=False)
                process = context.Process(
                    target=worker_loop, daemon=True,
                    args=(loader.dataset, loader._auto_collation, loader.collate_fn,
                          loader.drop_last, base_seed, loader.worker_init_fn, worker_id,
                          loader.num_workers, tasks, writer))
                process.start()
                writer.close()  # the worker holds the only writing end
                self._workers.append(process)
                self._queues.append(tasks)
                self._pipes.append(reader)
        except BaseException:
            self._shutdown()
            raise
        self._begin_epoch()

    def __iter__(self) -> "MultiProcessIter":
        return self

    @property
    def running(self) -> bool:
        """Whether its workers are still up (an error or the end of a non-persistent
        pass shuts them down)."""
        return self._stop.alive

    def __len__(self) -> int:
        return len(self._loader)

    # -- the epoch's bookkeeping --------------------------------------------------------

    def _begin_epoch(self) -> None:
        n = len(self._workers)
        self._sent = 0                          # tasks numbered so far
        self._next = 0                          # the task whose batch is handed out next
        self._owner: Dict[int, int] = {}        # task -> worker, until handed out
        self._early: Dict[int, Any] = {}        # batches that came before their turn
        self._active = [True] * n               # False: its iterable dataset ran out
        self._turn = itertools.cycle(range(n))
        for _ in range(self._loader.prefetch_factor * n):
            self._send_task()

    def reset(self, indices: Any) -> None:
        """A new pass with the same workers (``persistent_workers``)."""
        self._indices = indices
        self._epoch += 1
        for tasks in self._queues:
            tasks.put(("reset", self._epoch))
        self._begin_epoch()

    def _send_task(self) -> None:
        try:
            index = next(self._indices)
        except StopIteration:
            return
        for _ in range(len(self._workers)):
            worker_id = next(self._turn)
            if self._active[worker_id]:
                break
        else:
            return  # every worker's stream has run out
        self._queues[worker_id].put(("task", self._epoch, self._sent, index))
        self._owner[self._sent] = worker_id
        self._sent += 1

    # -- handing out batches --------------------------------------------------------------

    def __next__(self) -> Any:
        while self.running:
            while self._next < self._sent:  # pass tasks that will never be answered
                worker_id = self._owner.get(self._next)
                if worker_id is not None and (self._next in self._early
                                              or self._active[worker_id]):
                    break
                self._owner.pop(self._next, None)
                self._next += 1
            else:
                break
            if self._next in self._early:
                return self._hand_out(self._next, self._early.pop(self._next))
            number, batch = self._receive()
            if isinstance(batch, Exhausted):
                self._active[batch.worker_id] = False
                self._send_task()
            elif number == self._next or not self._loader.in_order:
                return self._hand_out(number, batch)
            else:
                self._early[number] = batch
        if not self._loader.persistent_workers:
            self._shutdown()
        raise StopIteration

    def _hand_out(self, number: int, batch: Any) -> Any:
        self._owner.pop(number, None)
        if number == self._next:
            self._next += 1
        self._send_task()
        if isinstance(batch, Failure):
            batch.reraise()
        return to_default_device(batch)

    def _receive(self) -> Tuple[int, Any]:
        """The next answer of this epoch from any worker, however long ``timeout`` allows."""
        timeout = self._loader.timeout
        deadline = time.monotonic() + timeout if timeout > 0 else None
        while True:
            left = POLL_SECONDS if deadline is None else deadline - time.monotonic()
            sentinels = [w.sentinel for w in self._workers]
            wait = max(0.0, min(left, POLL_SECONDS))
            for ready in connection.wait(self._pipes + sentinels, wait):
                if ready in sentinels:
                    continue
                try:
                    epoch, number, batch = ready.recv()
                except EOFError:
                    continue  # its worker is gone: the exit code below says how
                if epoch == self._epoch:
                    return number, batch
            dead = [w for w in self._workers if w.exitcode is not None]
            if dead:
                self._shutdown()
                raise RuntimeError(
                    "DataLoader worker(s) exited unexpectedly: " + ", ".join(
                        f"pid {w.pid} with exit code {w.exitcode}" for w in dead))
            if deadline is not None and time.monotonic() >= deadline:
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds waiting "
                                   "for a batch from its workers")

    def _shutdown(self) -> None:
        self._stop()


def _stop_workers(workers: List[Any], queues: List[Any], pipes: List[Any]) -> None:
    """Tell every worker to exit, draining their pipes meanwhile (a worker may be blocked
    sending a batch nobody will read); terminate any that have not exited in time."""
    for tasks in queues:
        tasks.put(None)
    open_pipes = list(pipes)
    deadline = time.monotonic() + SHUTDOWN_SECONDS
    while open_pipes and any(w.exitcode is None for w in workers):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for ready in connection.wait(open_pipes, min(left, POLL_SECONDS)):
            try:
                ready.recv()
            except (EOFError, OSError):
                open_pipes.remove(ready)
    for worker in workers:
        worker.join(timeout=max(0.0, deadline - time.monotonic()))
        if worker.exitcode is None:
            worker.terminate()
            worker.join()
    for pipe in pipes:
        pipe.close()
    for tasks in queues:
        tasks.close()
