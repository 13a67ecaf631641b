"""Hypothesis strategies for the fuzz suite: plausible arguments with bad ones mixed in.

An argument list is described by a small spec string, one token per argument:

    "T dims? bool? | dtype=dtype keepdim=bool"

``kind`` is a required positional argument, ``kind?`` an optional one (drawn or left out,
trailing ones first), ``name=kind`` a keyword that may be passed, ``kind*`` a shape splat
as varargs or as one tuple. Tensors in one call share a base shape most of the time (so
most calls can work) and sometimes get a shape of their own (so shape errors are tried);
every argument is now and then replaced by junk (None, a string, a float for an int,
a huge or negative number, a container, a stray object).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

import minigrad as mg

# A second device: a NumPy backend under another name, so mixing devices can be tried
# without a GPU (as tests/test_errors.py does).
OTHER_DEVICE = "fuzzdev"
mg.register_backend(OTHER_DEVICE,
                    lambda: mg.backends.ArrayBackend(OTHER_DEVICE, OTHER_DEVICE, np))

SPECIAL_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, math.nan, math.inf, -math.inf, 1e30, -1e30,
                  1e-30]
FLOATS = st.one_of(st.floats(-3, 3, width=16), st.floats(-3, 3, width=16),
                   st.floats(-3, 3, width=16), st.sampled_from(SPECIAL_FLOATS))
DTYPES = [np.float32, np.float32, np.float32, np.float64, np.float64, np.int64, np.int64,
          np.int32, np.bool_, np.float16, np.uint8]


class Junk:
    """A stray object of no meaning to any function (its repr says so)."""

    def __repr__(self) -> str:
        return "<junk object>"


JUNK_VALUES = [None, "x", 1.5, -1, 2 ** 63, -(2 ** 63), [], (), [1, "a"], {}, Junk(), math.nan,
               math.inf, True, 1j, b"x"]
JUNK = st.sampled_from(JUNK_VALUES)

SIZES = st.sampled_from([1, 2, 3, 2, 3, 0])
SHAPES = st.lists(SIZES, min_size=0, max_size=3).map(tuple)


@st.composite
def related_shape(draw: Callable, base: tuple) -> tuple:
    """Mostly ``base`` or a shape that broadcasts with it; sometimes any shape."""
    how = draw(st.integers(0, 9))
    if how <= 4:
        return base
    if how == 5 and base:
        return base[draw(st.integers(0, len(base))):]  # a suffix: broadcasts
    if how == 6 and base:
        i = draw(st.integers(0, len(base) - 1))
        return base[:i] + (1,) + base[i + 1:]  # a size-1 dim: broadcasts
    return draw(SHAPES)


def _elements(dtype: Any, n: int) -> st.SearchStrategy:
    kind = np.dtype(dtype).kind
    if kind == "f":
        elements = FLOATS
    elif kind == "b":
        elements = st.booleans()
    elif kind == "u":
        elements = st.integers(0, 5)
    else:
        elements = st.integers(-3, 5)
    return st.lists(elements, min_size=n, max_size=n)


@st.composite
def tensors(draw: Callable, base: tuple = (), dtype: Any = None, shape: Any = None,
            grad: bool = True, device: bool = True) -> mg.Tensor:
    """A tensor of ``base``'s shape (or a related one), of ``dtype`` (or any); float
    tensors sometimes require grad; now and then on the other device."""
    shape = draw(related_shape(base)) if shape is None else shape
    dtype = draw(st.sampled_from(DTYPES)) if dtype is None else dtype
    n = int(np.prod(shape, dtype=np.int64))
    values = draw(_elements(dtype, n))
    with np.errstate(all="ignore"):
        array = np.array(values, dtype=np.float64 if np.dtype(dtype).kind == "f" else None)
        array = array.astype(dtype).reshape(shape)
    t = mg.tensor(array)
    if grad and t.dtype.kind == "f" and t.dtype != np.float16 and draw(st.booleans()):
        t.requires_grad_(True)
    if device and draw(st.integers(0, 30)) == 0:
        t = t.detach().to(OTHER_DEVICE)
    return t


@st.composite
def index_tensors(draw: Callable, base: tuple) -> mg.Tensor:
    """Integer indices, some out of range or negative; now and then floats (wrong)."""
    shape = draw(st.one_of(related_shape(base), st.sampled_from([(), (1,), (2,), (3,)])))
    dtype = draw(st.sampled_from([np.int64, np.int64, np.int64, np.int32, np.float32]))
    n = int(np.prod(shape, dtype=np.int64))
    values = draw(st.lists(st.integers(-4, 4), min_size=n, max_size=n))
    return mg.tensor(np.array(values, dtype=dtype).reshape(shape))


def bool_tensors(base: tuple) -> st.SearchStrategy:
    return st.one_of(tensors(base, np.bool_), tensors(base, np.bool_), tensors(base))


NUMBERS = st.one_of(st.integers(-3, 5), st.floats(-3, 3, width=16),
                    st.sampled_from(SPECIAL_FLOATS + [True, False]))
DIMS = st.integers(-4, 4)
DTYPE_ARGS = st.sampled_from([mg.float32, mg.float64, mg.int64, mg.int32, mg.bool, mg.float16,
                              mg.uint8])
EQUATIONS = st.sampled_from(["ij,jk->ik", "ii->i", "i,i->", "ij->ji", "...i->...", "ij",
                             "bij,bjk->bik", "i,j->ij", "ij,jk", "ii", "i->j", "ij,,->",
                             "->", "a-b", "iij->", "ab,ba->"])


def _shape_arg(sizes: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(sizes, min_size=0, max_size=3).map(tuple)


SHAPE_SIZES = st.one_of(st.integers(-2, 4), st.integers(0, 3), st.sampled_from([-1, 2 ** 63]))


def _basic_index(base: tuple) -> st.SearchStrategy:
    ints = st.integers(-4, 4)
    slices = st.builds(slice, st.none() | ints, st.none() | ints,
                       st.none() | st.sampled_from([1, 2, -1, 0]))
    return st.one_of(ints, slices, st.just(None), st.just(Ellipsis),
                     index_tensors(base), bool_tensors(base), st.lists(ints, max_size=3),
                     st.just(1.5), st.just("a"))


def getitem_indices(base: tuple) -> st.SearchStrategy:
    one = _basic_index(base)
    return st.one_of(one, st.lists(one, min_size=0, max_size=4).map(tuple))


DATA = st.one_of(
    NUMBERS, st.lists(NUMBERS, max_size=4), st.lists(st.lists(st.integers(-3, 3), max_size=3),
                                                     max_size=3),
    st.just([[1, 2], [3]]), st.just("abc"), st.just([1, "a"]), st.just(None),
    st.just(np.arange(6).reshape(2, 3)), st.just([mg.ones(2), mg.ones(2)]))


def kinds(base: tuple) -> dict:
    """Every kind of argument, for one draw of the base shape."""
    t = tensors(base)
    return {
        "T": t,
        "F": st.one_of(tensors(base, np.float32), tensors(base, np.float64), t),
        "I": index_tensors(base),
        "B": bool_tensors(base),
        "N": NUMBERS,
        "TN": st.one_of(t, t, NUMBERS),
        "TD": st.one_of(DIMS, DIMS, t),
        "IN": st.one_of(st.integers(-1, 3), index_tensors(base)),
        "fn": st.sampled_from([mg.sin, mg.sum, lambda *xs: xs[0] * 2, None, len]),
        "lrfn": st.sampled_from([lambda epoch: 0.5 ** epoch, lambda epoch: 1.0, None, 2]),
        "dim": DIMS,
        "dims": st.one_of(DIMS, DIMS, st.lists(DIMS, min_size=0, max_size=3).map(tuple),
                          st.lists(DIMS, min_size=1, max_size=2)),
        "int": st.integers(-3, 6),
        "bool": st.booleans(),
        "dtype": DTYPE_ARGS,
        "shape": _shape_arg(SHAPE_SIZES),
        "seq": st.lists(t, min_size=0, max_size=3),
        "mode": st.sampled_from([None, "trunc", "floor", "round"]),
        "interp": st.sampled_from(["linear", "lower", "higher", "midpoint", "nearest", "mean"]),
        "eq": EQUATIONS,
        "p": st.sampled_from([1, 2, 3, math.inf, -math.inf, 0, "fro", "nuc", -1, 0.5]),
        "pad": st.one_of(st.integers(-1, 2), st.lists(st.integers(-1, 2), max_size=4).map(tuple),
                         st.lists(st.tuples(st.integers(-1, 2), st.integers(-1, 2)),
                                  max_size=3)),
        "split": st.one_of(st.integers(-1, 4), st.lists(st.integers(-1, 4), max_size=4)),
        "shifts": st.one_of(st.integers(-3, 3), st.lists(st.integers(-3, 3), max_size=3)),
        "index": getitem_indices(base),
        "data": DATA,
        "str": st.sampled_from(["cpu", OTHER_DEVICE, "nope", "cuda:x"]),
        "any": JUNK,
        # module constructors
        "size": st.integers(-1, 4),
        "pair": st.one_of(st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3))),
        "prob": st.sampled_from([0.0, 0.3, 1.0, -0.5, 1.5, math.nan]),
        "reduction": st.sampled_from(["mean", "sum", "none", "avg"]),
        "nonlinearity": st.sampled_from(["tanh", "relu", "gelu"]),
        "approximate": st.sampled_from(["none", "tanh", "exact"]),
        "bagmode": st.sampled_from(["sum", "mean", "max", "min"]),
        "padding": st.one_of(st.integers(-1, 2), st.sampled_from(["same", "valid", "full"])),
    }


@dataclass
class Spec:
    """A parsed spec string (see the module docstring)."""

    required: list = field(default_factory=list)
    optional: list = field(default_factory=list)
    keywords: dict = field(default_factory=dict)
    splat: bool = False

    @classmethod
    def parse(cls, text: str) -> "Spec":
        spec = cls()
        for token in text.replace("|", " ").split():
            if "=" in token:
                name, kind = token.split("=")
                spec.keywords[name] = kind
            elif token.endswith("?"):
                spec.optional.append(token[:-1])
            elif token.endswith("*"):
                spec.required.append(token[:-1])
                spec.splat = True
            else:
                spec.required.append(token)
        return spec


JUNK_RATE = 8  # one argument in this many is junk


@st.composite
def _argument(draw: Callable, kind: str, pool: dict) -> Any:
    if draw(st.integers(0, JUNK_RATE - 1)) == 0:
        return draw(JUNK)
    return draw(pool[kind])


@st.composite
def arguments(draw: Callable, spec: Spec, base: Any = None) -> tuple:
    """(args, kwargs) for one call described by ``spec``."""
    base = draw(SHAPES) if base is None else base
    pool = kinds(base)
    args = [draw(_argument(k, pool)) for k in spec.required]
    if spec.optional:
        count = draw(st.integers(0, len(spec.optional)))
        args += [draw(_argument(k, pool)) for k in spec.optional[:count]]
    if spec.splat and args and isinstance(args[-1], tuple) and draw(st.booleans()):
        args = args[:-1] + list(args[-1])  # f(2, 3) rather than f((2, 3))
    kwargs = {}
    for name, kind in spec.keywords.items():
        if draw(st.integers(0, 3)) == 0:
            kwargs[name] = draw(_argument(kind, pool))
    return tuple(args), kwargs


def describe(value: Any) -> str:
    """A short repr for failure messages: tensors by dtype, shape, device and values."""
    if isinstance(value, mg.Tensor):
        values = np.array2string(value.numpy(), threshold=8, max_line_width=10 ** 6,
                                 separator=",").replace("\n", "") \
            if value.numel() <= 8 else f"<shape {tuple(value.shape)}>"
        extra = ", requires_grad" if value.requires_grad else ""
        extra += f", device={value.device}" if str(value.device) != "cpu" else ""
        return f"tensor({values}, {value.dtype}{extra})"
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        inner = ", ".join(describe(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {describe(v)}" for k, v in value.items()) + "}"
    text = repr(value)
    return f"<{type(value).__name__}>" if "\n" in text else text


def call_label(name: str, args: tuple, kwargs: dict) -> str:
    parts = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"
