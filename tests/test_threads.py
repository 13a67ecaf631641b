"""The BLAS thread policy (backends/threads.py): its decisions on made-up scheduler
readings, the environment switches, and the engine's calls into it. No timing here:
how it behaves under real load is measured by benchmarks/bench_lstm.py --load 0 1 2."""
import os
import subprocess
import sys
import threading

import pytest

import minigrad as mg
from minigrad.backends import threads
from minigrad.backends.threads import (FIRST_BACKOFF, MAX_BACKOFF, RUNNABLE, WINDOW, Policy,
                                       best_count, competitors, configured, throughput)


class Scheduler:
    """Made-up scheduler statistics of one thread and the BLAS it drives."""

    def __init__(self, most: int = 2, cores: int = 2) -> None:
        self.running = self.waiting = 0
        self.now = 100.0
        self.applied: list = []
        self.user_threads = None  # set: someone else changed the BLAS threads
        self.policy = Policy(most, cores, self.read, self.applied.append, self.current)
        self.policy.look(self.now)  # opens the first window ...
        self.window(waiting=0.5)    # ... which is never judged: warming up
        assert self.applied == []

    def read(self) -> tuple:
        return self.running, self.waiting

    def current(self) -> int:
        return self.policy.threads if self.user_threads is None else self.user_threads

    def window(self, waiting: float, runnable: float = WINDOW, seconds: float = WINDOW) -> float:
        """``seconds`` in which the thread was runnable for ``runnable`` seconds (asleep
        the rest) and waited for a core ``waiting`` of that; returns when the policy
        wants to look next."""
        self.waiting += int(waiting * runnable * 1e9)
        self.running += int((1 - waiting) * runnable * 1e9)
        self.now += seconds
        return self.policy.look(self.now)


# -- the arithmetic ------------------------------------------------------------------------

@pytest.mark.parametrize("waiting, threads, cores, expected", [
    (0.0, 2, 2, 0.0),          # nobody waits: no competitor in evidence
    (1 / 3, 2, 2, 1.0),        # 3 tasks on 2 cores: each waits a third of the time
    (1 / 2, 2, 2, 2.0),        # 4 tasks on 2 cores
    (1 / 2, 1, 2, 3.0),
    (1 - 16 / 19, 16, 16, 3.0),
])
def test_competitors_explain_the_waiting(waiting, threads, cores, expected):
    assert competitors(waiting, threads, cores) == pytest.approx(expected)


@pytest.mark.parametrize("waiting, threads, cores, expected", [
    (1 / 3, 2, 2, 1),          # one competitor on two cores: one thread fits, and does more
    (0, 1, 2, 1),              # ... then nothing waits
    (1 / 2, 2, 2, 2),          # two competitors: two threads get a core, one only 2/3
    (1 / 3, 1, 2, 2),          # the same seen from one thread
    (2 / 3, 2, 2, 2),          # four competitors: a third of a core each, still worth it
    (0.75, 2, 2, 1),           # six: below a third of a core, one thread
    (1 - 16 / 19, 16, 16, 13),  # three competitors on sixteen cores: thirteen fit
    (0.11, 4, 4, 4),           # half a competitor: counted as none, every thread fits
    (0.2, 2, 2, 1),            # 0.5: counted as one (one busy competitor reads so)
    (0.2, 4, 4, 3),
    (0.99, 8, 8, 1),           # the fraction is capped: no division by zero
])
def test_best_thread_count(waiting, threads, cores, expected):
    assert best_count(waiting, threads, cores, most=max(threads, 2)) == expected


@pytest.mark.parametrize("waiting, threads, cores, expected", [
    (1 / 2, 2, 2, 1),          # spinning idle threads: never more than fit
    (1 / 3, 1, 2, 1),
    (1 - 16 / 19, 16, 16, 13),
])
def test_without_short_spins_only_the_threads_that_fit(waiting, threads, cores, expected):
    assert best_count(waiting, threads, cores, most=max(threads, 2), partner=0.0) == expected


def test_throughput_model():
    assert throughput(2, 0.0, 2, 0.7) == 2.0                 # room: whole threads
    assert throughput(1, 2.0, 2, 0.7) == pytest.approx(2 / 3)  # a fair share of the cores
    assert throughput(2, 2.0, 2, 0.7) == pytest.approx(0.7)    # ... less what partners lose
    assert throughput(2, 6.0, 2, 0.7) == 0.0                 # below a third of a core each


# -- the decisions -----------------------------------------------------------------------

def test_a_quiet_machine_keeps_every_thread():
    s = Scheduler()
    for _ in range(100):
        assert s.window(waiting=0.02) == pytest.approx(s.now + WINDOW)
    assert s.applied == [] and s.policy.threads == 2


def test_waiting_for_a_core_drops_to_the_threads_that_fit():
    s = Scheduler(most=16, cores=16)
    s.window(waiting=1 - 16 / 19)
    assert s.applied == [13]


def test_one_competitor_on_two_cores_leaves_one_thread():
    s = Scheduler()
    s.window(waiting=1 / 3)
    assert s.applied == [1] and s.policy.threads == 1


def test_probes_the_full_count_after_the_backoff_and_keeps_it_when_nobody_waits():
    s = Scheduler()
    s.window(waiting=1 / 3)
    dropped_at = s.now
    while s.now + WINDOW < dropped_at + FIRST_BACKOFF:
        s.window(waiting=0.0)
        assert s.applied == [1]      # not before the back-off
    s.window(waiting=0.0)
    assert s.applied == [1, 2] and s.policy.probing
    s.window(waiting=0.0)            # the probe held a whole window: success
    assert s.policy.threads == 2 and not s.policy.probing
    assert s.policy.backoff == FIRST_BACKOFF


def test_failed_probes_double_the_backoff_up_to_its_cap():
    s = Scheduler()
    s.window(waiting=1 / 3)
    backoffs = []
    for _ in range(12):
        while s.policy.threads == 1:
            s.window(waiting=0.0)    # one thread: the competitor and we fit
        backoffs.append(s.policy.backoff)
        s.window(waiting=1 / 3)      # two threads: three tasks on two cores
        assert s.policy.threads == 1
    expected = [FIRST_BACKOFF] + [min(FIRST_BACKOFF * 2 ** k, MAX_BACKOFF) for k in range(1, 12)]
    assert backoffs == expected


def test_waiting_even_with_one_thread_postpones_the_probe():
    s = Scheduler()
    s.window(waiting=1 / 3)
    for _ in range(int(4 * FIRST_BACKOFF / WINDOW)):
        s.window(waiting=0.15)       # more than one competitor, not two: one thread
    assert s.applied == [1]
    s.window(waiting=0.0)
    assert s.applied == [1]          # a back-off of quiet is needed first


def test_two_competitors_on_two_cores_keep_both_threads():
    s = Scheduler()
    s.window(waiting=1 / 2)          # four tasks on two cores: a core between our two
    assert s.applied == [] and s.policy.threads == 2
    s.window(waiting=1 / 3)          # one competitor left: one thread
    assert s.applied == [1]
    s.window(waiting=1 / 3)          # two again, seen from one thread: both
    assert s.applied == [1, 2] and s.policy.threads == 2


def test_a_probe_that_holds_beside_competitors_resets_the_backoff():
    s = Scheduler()
    s.window(waiting=1 / 3)
    for _ in range(3):               # failed probes: the back-off grows
        while s.policy.threads == 1:
            s.window(waiting=0.0)
        s.window(waiting=1 / 3)
    assert s.policy.backoff == 8 * FIRST_BACKOFF
    while s.policy.threads == 1:
        s.window(waiting=0.0)
    s.window(waiting=1 / 2)          # the probe meets two competitors: both threads stay
    assert s.policy.threads == 2 and s.policy.backoff == FIRST_BACKOFF


def test_time_asleep_does_not_count_towards_a_decision():
    s = Scheduler()
    short = 0.4 * RUNNABLE             # 40 % of the runnable time a decision needs
    s.window(waiting=1 / 3, runnable=short)
    s.window(waiting=1 / 3, runnable=short, seconds=60.0)
    assert s.applied == []             # 80 % so far, over a minute of mostly sleep
    s.window(waiting=1 / 3, runnable=short)
    assert s.applied == [1]            # enough: the three pieces decide together


def test_a_window_belongs_to_one_thread():
    s = Scheduler()
    s.waiting += 10 ** 9             # this thread's reading; another thread looks next
    s.now += WINDOW
    other = threading.Thread(target=s.policy.look, args=(s.now,))
    other.start()
    other.join()
    assert s.applied == []
    s.window(waiting=0.0)            # a fresh window of this thread: nothing waited
    assert s.applied == []


def test_a_thread_count_set_by_someone_else_turns_the_policy_off():
    s = Scheduler()
    s.user_threads = 1
    assert s.window(waiting=0.5) == float("inf")
    assert not s.policy.active and s.applied == []
    s.user_threads = None
    assert s.window(waiting=0.5) == float("inf") and s.applied == []


# -- the environment ---------------------------------------------------------------------

@pytest.mark.parametrize("environ, expected", [
    ({}, "auto"),
    ({"MINIGRAD_THREADS": "auto"}, "auto"),
    ({"MINIGRAD_THREADS": " 3 "}, 3),
    ({"OMP_NUM_THREADS": "4"}, None),
    ({"OPENBLAS_NUM_THREADS": "1", "MINIGRAD_THREADS": "AUTO"}, None),
    ({"MINIGRAD_THREADS": "2", "MKL_NUM_THREADS": "1"}, 2),
    ({"OMP_NUM_THREADS": ""}, "auto"),
])
def test_configured_by_the_environment(environ, expected):
    assert configured(environ) == expected


@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5"])
def test_a_bad_minigrad_threads_names_the_variable(value):
    with pytest.raises(ValueError, match=f"MINIGRAD_THREADS must be 'auto' or a positive "
                                         f"integer, got '{value}'"):
        configured({"MINIGRAD_THREADS": value})


def test_minigrad_threads_pins_the_blas():
    pytest.importorskip("threadpoolctl")
    code = ("import minigrad as mg\n"
            "x = mg.ones((8, 8))\n"
            "x @ x\n"
            "from threadpoolctl import threadpool_info\n"
            "from minigrad.backends import threads\n"
            "print(sorted({i['num_threads'] for i in threadpool_info() "
            "if i['user_api'] == 'blas'}), threads.describe())\n")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["MINIGRAD_THREADS"] = "1"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[1] BLAS threads: not adapted"


# -- the hot path ---------------------------------------------------------------------------

def test_tick_looks_only_once_the_window_has_passed(monkeypatch):
    looks = []
    monkeypatch.setattr(threads, "_look", lambda: looks.append(1))
    monkeypatch.setattr(threads, "_clock", lambda: 10.0)
    monkeypatch.setattr(threads, "_next_look", 10.5)
    for _ in range(1000):
        threads.tick()
    assert looks == []
    monkeypatch.setattr(threads, "_next_look", 10.0)
    threads.tick()
    assert looks == [1]


def test_the_engine_ticks_around_its_blas_work(monkeypatch):
    import minigrad.ops.linalg as linalg
    import minigrad.ops.sequence as sequence
    calls = []
    monkeypatch.setattr(linalg, "tick", lambda: calls.append("matmul"))
    monkeypatch.setattr(sequence, "tick", lambda: calls.append("step"))
    a = mg.randn(3, 4, requires_grad=True)
    (a @ mg.randn(4, 2)).sum().backward()
    assert calls == ["matmul"]
    calls.clear()
    x = mg.randn(5, 2, 3, requires_grad=True)
    h0 = c0 = mg.zeros(2, 4)
    out, _ = mg.ops.sequence.gru_sequence(x, h0, mg.randn(12, 3), mg.randn(12, 4))
    out.sum().backward()
    assert calls == ["step"] * 10    # every step of the forward loop and of BPTT
    calls.clear()
    w_hh = mg.randn(16, 4)
    out, _, _ = mg.ops.sequence.lstm_sequence(x, h0, c0, mg.randn(16, 3), w_hh)
    out.sum().backward()
    whole = x._backend.sequence_forward("lstm", w_hh._data) is not None
    assert calls == ["step"] * (2 if whole else 10)  # a compiled loop: once each way


def test_describe_says_what_the_policy_does():
    mg.ones((4, 4)) @ mg.ones((4, 4))
    assert threads.describe().startswith("BLAS threads: ")


def test_reduced_says_whether_the_blas_runs_below_its_full_count(monkeypatch):
    scheduler = Scheduler()
    monkeypatch.setattr(threads, "_policy", scheduler.policy)
    scheduler.window(waiting=0.0)
    assert not threads.reduced()
    scheduler.window(waiting=0.4)  # a competitor: down to one thread
    assert scheduler.policy.threads == 1 and threads.reduced()
    monkeypatch.setattr(threads, "_policy", None)
    assert not threads.reduced()   # no policy (pinned, or not Linux): never reduced


@pytest.mark.parametrize("environ, expected", [
    ({"MINIGRAD_THREADS": "3"}, 3),
    ({"OMP_NUM_THREADS": "4", "OPENBLAS_NUM_THREADS": "1"}, 1),
    ({"MINIGRAD_THREADS": "bad"}, os.cpu_count()),
    ({}, os.cpu_count()),
])
def test_blas_threads_without_a_policy_reads_the_users_choice(monkeypatch, environ, expected):
    monkeypatch.setattr(threads, "_policy", None)
    for name in ("MINIGRAD_THREADS", *threads.BLAS_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert threads.blas_threads() == expected


def test_blas_threads_follow_the_policy(monkeypatch):
    scheduler = Scheduler(most=2, cores=2)
    monkeypatch.setattr(threads, "_policy", scheduler.policy)
    assert threads.blas_threads() == 2
    scheduler.window(waiting=1 / 3)  # a competitor: down to one thread
    assert threads.blas_threads() == 1
