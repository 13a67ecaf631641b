"""The checked call every fuzz test goes through, and the PyTorch oracle.

A call on bad input must end one of two ways: it works (and, where PyTorch is installed and
does the same thing, gives PyTorch's answer), or it raises TypeError / ValueError /
IndexError / RuntimeError (KeyError where a state dict key is named) whose message names the
function and what was wrong. Never a bare NumPy error from deep inside, never
NotImplementedError, never a hang (each call runs under an alarm).
"""
from __future__ import annotations

import math
import os
import re
import signal
import traceback
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np
from hypothesis import settings

import minigrad as mg

try:
    import torch
except ImportError:  # the oracle comparisons are skipped, the error checks still run
    torch = None

ALLOWED = (TypeError, ValueError, IndexError, RuntimeError)
NOT_AN_ANSWER = (NotImplementedError, RecursionError)  # RuntimeError subclasses, refused
SECONDS_PER_CALL = 10
NUMPY_DIR = os.path.dirname(np.__file__) + os.sep
# Python's own words for a failure inside a function: they never say what was wrong with
# the arguments, even with the function's name in front.
UNINFORMATIVE = re.compile(
    r"object is not iterable|unsupported operand type|not supported between instances of|"
    r"(tuple|list) index out of range|object has no attribute|object is not subscriptable|"
    r"missing \d+ required positional argument.*<lambda>|<lambda>\(\)")


def share(divisor: int) -> settings:
    """The profile's examples per test, divided among many parametrized tests (at least 4
    each): the whole suite stays bounded under HYPOTHESIS_PROFILE=ci. Without a profile
    chosen, the ci profile's (derandomized) examples: a plain ``pytest`` run fuzzes exactly
    what CI does; HYPOTHESIS_PROFILE=dev or intense explores new inputs."""
    chosen = "HYPOTHESIS_PROFILE" in os.environ
    base = settings.default if chosen else settings.get_profile("ci")
    return settings(max_examples=max(4, base.max_examples // divisor),
                    derandomize=base.derandomize)


class Hang(Exception):
    """A call ran past its time limit."""


class Tally:
    """What the session tried: shown by conftest.py at the end of the run."""

    calls = 0
    compared = 0
    messages: set = set()

    @classmethod
    def shapes(cls) -> set:
        """The messages with numbers masked: how many different things were said."""
        return {re.sub(r"-?\d+", "#", m) for m in cls.messages}


@contextmanager
def time_limit(seconds: float = SECONDS_PER_CALL):
    def expire(signum: int, frame: Any) -> None:
        raise Hang(f"no answer within {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outcome(fn: Callable, args: Sequence = (), kwargs: Optional[dict] = None) -> tuple:
    """("ok", value) or ("error", exception); a hang is not an outcome, it fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with time_limit():
                result = fn(*args, **(kwargs or {}))
                mg.cuda.synchronize()  # on a GPU, a deferred index check raises here
                return "ok", result
        except Hang:
            raise
        except Exception as exc:  # noqa: BLE001  (judged by check_error)
            try:  # a device check queued before another error: the first error is the answer
                mg.cuda.synchronize()
            except Exception:  # noqa: BLE001
                pass
            return "error", exc


def names_op(message: str, names: Iterable[str]) -> bool:
    """Does the message name one of ``names`` as a word (``t`` must not match "tensor")?"""
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9])", message,
                         re.IGNORECASE) for n in names if n)


def from_numpy_internals(exc: BaseException) -> bool:
    """An exception class of NumPy's own, or one raised by a frame inside NumPy."""
    if type(exc).__module__.split(".")[0] == "numpy":
        return True
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename.startswith(NUMPY_DIR)


def check_error(exc: BaseException, names: Sequence[str], label: str,
                allowed: tuple = ALLOWED, named: bool = True) -> None:
    """Fail unless ``exc`` is an allowed type whose message names one of ``names``
    (``named=False``: any message of an allowed type, not NumPy's own class)."""
    message = str(exc)
    why = None
    if isinstance(exc, NOT_AN_ANSWER) or not isinstance(exc, allowed):
        why = f"{type(exc).__name__} is not one of {[t.__name__ for t in allowed]}"
    elif from_numpy_internals(exc) and not names_op(message, names) and (
            named or type(exc).__module__.split(".")[0] == "numpy"):
        why = "a bare NumPy error from inside NumPy"
    elif named and not names_op(message, names):
        why = f"the message does not name {' / '.join(n for n in names if n)}"
    elif UNINFORMATIVE.search(message):
        why = "the message is Python's, from inside: it does not say what was wrong"
    if why is not None:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
        raise AssertionError(f"{label}\n  raised {type(exc).__name__}: {message}\n  wrong: {why}"
                             f"\n{tb}") from None
    Tally.messages.add(f"{type(exc).__name__}: {message}")


def checked(names: Sequence[str], label: str, fn: Callable, args: Sequence = (),
            kwargs: Optional[dict] = None, allowed: tuple = ALLOWED,
            named: bool = True) -> tuple:
    """Run ``fn`` once, check an error if it raises, and return the outcome."""
    Tally.calls += 1
    result = outcome(fn, args, kwargs)
    if result[0] == "error":
        check_error(result[1], names, label, allowed, named)
    return result


# -- the PyTorch oracle ------------------------------------------------------------------------

def to_torch(value: Any, grads: Optional[dict] = None) -> Any:
    """The same argument for PyTorch: tensors copied (keeping requires_grad), dtypes mapped,
    containers converted element by element. ``grads`` collects id(mg leaf) -> torch leaf."""
    if isinstance(value, mg.Tensor):
        array = np.array(value.numpy(), copy=True)
        try:
            out = torch.from_numpy(array)
        except TypeError:  # a dtype PyTorch has no tensors of: it gets the array itself
            return array
        if value.requires_grad and value.is_leaf:
            out.requires_grad_(True)
            if grads is not None:
                grads[id(value)] = out
        return out
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return torch_dtype(value)
    if isinstance(value, list):
        return [to_torch(v, grads) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(to_torch(v, grads) for v in value)
    if isinstance(value, dict):
        return {k: to_torch(v, grads) for k, v in value.items()}
    return value


def torch_dtype(dtype: Any) -> Any:
    try:
        name = np.dtype(dtype).name
    except TypeError:
        return dtype
    return getattr(torch, {"bool": "bool"}.get(name, name), dtype)


def as_numpy(value: Any) -> Any:
    """A result (a tensor, a number, a tuple of them) as NumPy arrays for comparison."""
    if torch is not None and isinstance(value, torch.Tensor):
        if value.dtype == torch.complex32:  # no NumPy twin: compared as complex64
            value = value.to(torch.complex64)
        return value.detach().resolve_conj().numpy()
    if isinstance(value, mg.Tensor):
        return np.asarray(value.numpy())
    if torch is not None and isinstance(value, torch.Size):
        return tuple(value)
    if isinstance(value, (list, tuple)):
        return type(value)(as_numpy(v) for v in value) if not hasattr(value, "_fields") \
            else tuple(as_numpy(v) for v in value)
    if torch is not None and isinstance(value, torch.dtype):
        return str(value).replace("torch.", "")
    if isinstance(value, np.dtype):
        return value.name
    if isinstance(value, (bool, int, float, complex, np.generic)):
        return np.asarray(value)
    return value


def assert_same(ours: Any, theirs: Any, label: str, values: bool = True,
                dtypes: bool = True) -> None:
    """Equal shapes, dtypes and values (NaN equals NaN; float16 to 1e-2, float32 to 1e-5)."""
    a, b = as_numpy(ours), as_numpy(theirs)
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        assert a.shape == b.shape, f"{label}: shape {a.shape}, PyTorch {b.shape}"
        if dtypes:
            assert a.dtype == b.dtype, f"{label}: dtype {a.dtype}, PyTorch {b.dtype}"
        if not values:
            return
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            kind16 = np.float16 in (a.dtype, b.dtype)
            rtol = 1e-2 if kind16 else 1e-4 if np.float32 in (a.dtype, b.dtype) else 1e-7
            np.testing.assert_allclose(a.astype(np.complex128 if a.dtype.kind == "c"
                                                else np.float64),
                                       b.astype(np.complex128 if b.dtype.kind == "c"
                                                else np.float64),
                                       rtol=rtol, atol=rtol * 1e-2, equal_nan=True,
                                       err_msg=label)
        else:
            np.testing.assert_array_equal(a, b, err_msg=label)
        return
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        assert len(a) == len(b), f"{label}: {len(a)} results, PyTorch {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{label}[{i}]", values, dtypes)
        return
    assert type(a) is type(b) or (a is None) == (b is None) and not (
        isinstance(a, np.ndarray) or isinstance(b, np.ndarray)), \
        f"{label}: {type(ours).__name__}, PyTorch {type(theirs).__name__}"
    if values and not (isinstance(a, float) and math.isnan(a)):
        assert a == b, f"{label}: {a!r}, PyTorch {b!r}"


def float_leaves(values: Iterable[Any]) -> list:
    """The float tensors among (nested) arguments that require grad."""
    out = []
    for v in values:
        if isinstance(v, mg.Tensor) and v.requires_grad and v.is_leaf:
            out.append(v)
        elif isinstance(v, (list, tuple)):
            out.extend(float_leaves(v))
    return out


def flat_tensors(result: Any) -> list:
    """The tensors of a result (a tensor or nested tuples), in order; other values as None."""
    if isinstance(result, (list, tuple)):
        return [t for r in result for t in flat_tensors(r)]
    return [result]


def finite(values: Iterable[Any]) -> bool:
    """Are all the numbers among (nested) arguments finite? A gradient at NaN or inf means
    nothing, and PyTorch's rules may differ there."""
    for v in values:
        if isinstance(v, mg.Tensor) and v.dtype.kind == "f" and not np.isfinite(v.numpy()).all():
            return False
        if isinstance(v, float) and not math.isfinite(v):
            return False
        if isinstance(v, (list, tuple)) and not finite(v):
            return False
    return True


def compare_gradients(ours: Any, theirs: Any, leaves: list, torch_leaves: dict,
                      label: str) -> None:
    """The gradient of the sum of every float output, against PyTorch's; an output that
    carries no gradient here must carry none in PyTorch either (a zero one is as good)."""
    pairs = [(leaf, torch_leaves[id(leaf)]) for leaf in leaves if id(leaf) in torch_leaves]
    if not pairs:
        return
    outs, touts = flat_tensors(ours), flat_tensors(theirs)
    assert len(outs) == len(touts), f"{label}: {len(outs)} outputs, PyTorch {len(touts)}"
    total, ttotal = None, None
    for o, t in zip(outs, touts):
        if not (isinstance(t, torch.Tensor) and t.requires_grad):
            continue
        if isinstance(o, mg.Tensor) and o.requires_grad:
            total = o.sum() if total is None else total + o.sum().astype(total.dtype)
            ttotal = t.sum() if ttotal is None else ttotal + t.sum()
        else:  # not differentiable here: PyTorch's gradient through it must vanish
            try:
                zero = torch.autograd.grad(t.sum(), [q for _, q in pairs], allow_unused=True)
            except RuntimeError:  # nor is it there ("derivative ... is not implemented")
                continue
            assert all(g is None or not torch.any(g) for g in zero), \
                f"{label}: an output carries no gradient here, but PyTorch's is {zero}"
    if total is None:
        return
    with time_limit():
        grads = mg.grad(total, [p for p, _ in pairs], allow_unused=True)
    try:
        tgrads = torch.autograd.grad(ttotal, [q for _, q in pairs], allow_unused=True)
    except RuntimeError:  # PyTorch cannot differentiate this call: nothing to compare
        return
    for i, (g, tg) in enumerate(zip(grads, tgrads)):
        if g is None or tg is None:  # unused: PyTorch says None, a zero is as good
            other = tg if g is None else g
            assert other is None or not np.any(as_numpy(other)), \
                f"{label}: gradient {i} is {g}, PyTorch {tg}"
            continue
        assert_same(g, tg, f"{label}: gradient of input {i}", dtypes=False)
