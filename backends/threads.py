"""BLAS threads that step aside when other processes want the cores.

A multi-threaded BLAS (OpenBLAS, MKL) splits each matrix product across its
threads, which wait for one another by spinning. On a machine whose cores other
processes also want (a laptop with a browser, a shared box) one of those
threads is often not running, and the others spin until the scheduler brings it
back: measured on 2 cores with two busy competitors, a training step of the main
job went from 0.21 s to 7.5 s with two BLAS threads, but only to 0.39 s with one.
Giving the small per-step products one thread is not enough: the big ones
collapse the same way.

So the engine calls :func:`tick` around its BLAS work. At most every
``WINDOW`` seconds it reads how long the calling thread waited for a core
(Linux's ``/proc/thread-self/schedstat``), and decides once the thread has been
runnable long enough since the last decision (time asleep does not count, so a
training loop that pauses between steps still gets decisions). Where n + m runnable tasks share
``cores`` cores fairly, a task waits 1 - cores / (n + m) of the time, so the
wait tells how many competitors (m) there are, and so which thread count gets the most
work done beside them (:func:`best_count`): the threads that fit, or, where not even one
fits, sometimes more. When nothing waits, the policy probes the full thread count again,
after a back-off that doubles while probes keep failing. The first window is not judged: a
process's start (imports, threads starting) makes it wait for a core on a quiet machine.
Between looks :func:`tick` costs one clock read and one comparison: no system calls on the
hot path.

The user's choice wins: ``MINIGRAD_THREADS=N`` pins the BLAS to N threads; a
thread count set through ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``,
``MKL_NUM_THREADS`` or ``BLIS_NUM_THREADS``, or changed at run time (say with
``threadpoolctl.threadpool_limits``), turns the policy off. It needs Linux and
``threadpoolctl`` (the ``examples`` extra); without them nothing changes.
"""
from __future__ import annotations

import math
import os
import threading
import time
from typing import Callable, Mapping, Optional

from minigrad import blas_spin

WINDOW = 0.25           # seconds between looks at the load
OVERSUBSCRIBED = 0.1    # waiting for a core this fraction of the runnable time
RUNNABLE = 0.1          # seconds of runnable time (sleep does not count) a decision needs
FIRST_BACKOFF = 2.0     # seconds before probing the full thread count again ...
MAX_BACKOFF = 64.0      # ... doubling after each failed probe up to this
BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS",
                  "MKL_NUM_THREADS", "BLIS_NUM_THREADS")

Reading = Callable[[], tuple]   # -> (ns running, ns runnable but waiting) of this thread


def configured(environ: Mapping[str, str]) -> object:
    """What the environment asks for: "auto", a pinned thread count, or None (the
    user set the BLAS threads directly: leave them alone)."""
    value = environ.get("MINIGRAD_THREADS", "auto").strip().lower()
    if value != "auto":
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"MINIGRAD_THREADS must be 'auto' or a positive integer, got "
                             f"{environ['MINIGRAD_THREADS']!r}")
        return int(value)
    if any(environ.get(name) for name in BLAS_VARIABLES):
        return None
    return "auto"


def competitors(waiting: float, threads: int, cores: int) -> float:
    """Other runnable tasks that make ours wait this fraction of their runnable time,
    when ``threads`` of ours and the others share ``cores`` cores fairly."""
    share = 1.0 - min(max(waiting, 0.0), 0.95)
    return max(0.0, cores / share - threads)


PARTNER_SHARE = 0.7     # of its fair share a thread gets done when its partners wait for cores
LEAST_SHARE = 1 / 3     # the smallest fair share of a core a thread is given partners at


def throughput(threads: int, others: float, cores: int, partner: float) -> float:
    """Cores' worth of work ``threads`` of ours get done beside ``others`` runnable tasks.

    With room they run whole. Without, each thread runs its fair share of the time and
    loses part of it waiting: a product's threads wait for one another at its end, so one
    that the scheduler has set aside holds up the rest. The model keeps ``partner`` of the
    work for each thread beyond the first. Measured on 2 cores (the main job's step,
    OpenBLAS's idle threads sleeping after ~20 us, bench_lstm.py --load): two threads got
    0.6 of their share's work done beside one busy competitor (82 ms a step, against 66 ms
    for one thread), 0.8 beside two (81 against 95 ms), and tied with one thread beside
    four (a third of a core each). 0.7 puts the switch between one and two competitors;
    below a third of a core per thread, not measured, one thread is kept."""
    if threads + others <= cores:
        return float(threads)
    share = cores / (threads + others)
    if threads > 1 and share < LEAST_SHARE:
        return 0.0
    return threads * share * partner ** (threads - 1)


def best_count(waiting: float, threads: int, cores: int, most: int,
               partner: float = PARTNER_SHARE) -> int:
    """The thread count (1 to ``most``) that gets the most work done beside the
    competitors that make ``threads`` of ours wait this fraction of the time; on a tie,
    the fewer. With ``partner`` 0 (OpenBLAS's idle threads spinning, which collapses a
    step under load), only the threads that fit.

    Competitors are counted whole: the estimate reads low where some of our threads are
    not always runnable (measured: one busy competitor beside the main job's two threads
    reads as 0.5-0.7, as the step's single-threaded parts do not wait; two read as 2.0)."""
    others = math.floor(competitors(waiting, threads, cores) + 0.5)
    best = 1
    for count in range(2, most + 1):
        if throughput(count, others, cores, partner) > throughput(best, others, cores, partner):
            best = count
    return best


class Policy:
    """The decisions, on injected clock, readings and setter (so tests need no load).

    ``look(now)`` is called at most every WINDOW seconds; it returns when to look next."""

    def __init__(self, most: int, cores: int, read: Reading,
                 apply: Callable[[int], None], current: Callable[[], int],
                 partner: float = PARTNER_SHARE) -> None:
        self.most, self.cores, self.partner = most, cores, partner
        self.read, self.apply, self.current = read, apply, current
        self.threads = most
        self.active = True
        self.probing = False
        self.backoff = FIRST_BACKOFF
        self.probe_at = 0.0
        self.start: Optional[tuple] = None   # (thread, running ns, waiting ns)
        self.warming = True   # the first window is not judged (see look)

    def look(self, now: float) -> float:
        if not self.active:
            return float("inf")
        if self.current() != self.threads:  # someone else set the threads: theirs now
            self.active = False
            return float("inf")
        thread = threading.get_ident()
        running, waiting = self.read()
        if self.start is None or self.start[0] != thread:  # a window is one thread's
            self.start = (thread, running, waiting)
            return now + WINDOW
        ran, waited = running - self.start[1], waiting - self.start[2]
        if ran + waited < RUNNABLE * 1e9:
            return now + WINDOW  # the thread mostly slept: let the window grow
        self.start = (thread, running, waiting)
        if self.warming:  # a process's first moments (imports, threads and caches starting,
            self.warming = False  # the processes that launched it) say nothing of the load:
            return now + WINDOW   # measured, 11 % waiting in a first window, 0 % after
        self._decide(now, waited / (ran + waited))
        return now + WINDOW

    def _decide(self, now: float, waiting: float) -> None:
        if waiting > OVERSUBSCRIBED:
            best = best_count(waiting, self.threads, self.cores, self.most, self.partner)
            if self.probing:  # the full count failed, or held beside competitors
                self.backoff = FIRST_BACKOFF if best == self.most else \
                    min(2 * self.backoff, MAX_BACKOFF)
            self.probing = False
            if best != self.threads:
                self._set(best)
            self.probe_at = now + self.backoff  # probe only after this long without waiting
            return
        if self.probing:  # the full count ran a whole window without waiting
            self.backoff = FIRST_BACKOFF
            self.probing = False
        elif self.threads < self.most and now >= self.probe_at:
            self._set(self.most)
            self.probing = True

    def _set(self, threads: int) -> None:
        self.apply(threads)
        self.threads = threads


# -- the process-wide policy ------------------------------------------------------------

_next_look = 0.0  # time.monotonic() of the next look; inf once there is nothing to do
_policy: Optional[Policy] = None
_lock = threading.Lock()
_clock = time.monotonic


def tick() -> None:
    """Let the policy look at the load if WINDOW seconds have passed (cheap otherwise)."""
    if _clock() >= _next_look:
        _look()


def _look() -> None:
    global _next_look, _policy
    if not _lock.acquire(blocking=False):
        return  # another thread is looking
    try:
        if _policy is None:
            _policy = _start()
        _next_look = float("inf") if _policy is None else _policy.look(_clock())
    finally:
        _lock.release()


def _read_schedstat() -> tuple:
    with open("/proc/thread-self/schedstat") as f:
        running, waiting = f.read().split()[:2]
    return int(running), int(waiting)


def _start() -> Optional[Policy]:
    """The policy for this process's BLAS, or None where it cannot or must not act."""
    wanted = configured(os.environ)
    if wanted is None:
        return None
    try:
        import numpy  # noqa: F401  (its BLAS must be loaded to be found)
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    if not blas:
        return None

    def apply(threads: int) -> None:
        for lib in blas:
            lib.set_num_threads(threads)

    if isinstance(wanted, int):
        apply(wanted)
        return None
    try:
        _read_schedstat()
        cores = len(os.sched_getaffinity(0))
    except (OSError, AttributeError, ValueError):
        return None  # not Linux, or no scheduler statistics
    most = min(lib.num_threads for lib in blas)
    if most < 2:
        return None
    return Policy(most, cores, _read_schedstat, apply,
                  lambda: min(lib.num_threads for lib in blas),
                  PARTNER_SHARE if blas_spin.SHORT_SPIN else 0.0)


def _forget() -> None:
    """After a fork the child starts over (its thread's statistics are new)."""
    global _next_look, _policy, _lock
    _next_look, _policy, _lock = 0.0, None, threading.Lock()


def blas_threads() -> int:
    """How many threads the BLAS runs now, without asking it (cheap enough per call):
    the policy's count, else what the user set, else one per core (BLAS's default)."""
    if _policy is not None and _policy.active:
        return _policy.threads
    try:
        wanted = configured(os.environ)
    except ValueError:
        wanted = None
    if isinstance(wanted, int):
        return wanted
    given = [os.environ.get(name, "").strip() for name in BLAS_VARIABLES]
    counts = [int(n) for n in given if n.isdigit() and int(n) > 0]
    return min(counts) if counts else (os.cpu_count() or 1)


def kernel_threads() -> int:
    """Threads for minigrad's own compiled kernels (backends/packed_matmul.py): the
    BLAS's count, so that they step aside under load as the BLAS does, where OpenBLAS's
    idle threads do not hold the cores (minigrad/blas_spin.py); else one."""
    return blas_threads() if blas_spin.SHORT_SPIN else 1


def reduced() -> bool:
    """Whether the policy has the BLAS below its full thread count right now (benchmarks
    count the steps run so, to tell a load decision from a slow library)."""
    return _policy is not None and _policy.active and _policy.threads < _policy.most


def describe() -> str:
    """The policy's state in words (for benchmarks and bug reports)."""
    if _policy is None:
        return "BLAS threads: not adapted" if _next_look == float("inf") else \
            "BLAS threads: policy not started yet"
    state = "adapting to load" if _policy.active else "off (set by the user)"
    return f"BLAS threads: {_policy.threads} of {_policy.most}, {state}"


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)
