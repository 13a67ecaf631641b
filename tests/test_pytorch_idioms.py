"""PyTorch idioms, with PyTorch as the oracle: the four names where NumPy and PyTorch
disagree (max/min(dim), var/std, split, max(a, b)), shapes and sizes, NumPy's keyword
spellings as aliases, and bad input. Every row runs one call on minigrad and on torch
over the same float64 inputs and compares values, shapes, dtypes and the gradients of
a weighted sum of the outputs.

The table-driven harness here (``Case``, ``check``) is shared by the other
``test_pytorch_idioms_*.py`` files (methods, in-place, the mg namespace).
"""
import math
from typing import Any, Callable, NamedTuple, Optional

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")


# -- inputs: fixed float64 arrays with distinct values (no ties, no zeros, no kinks) ---------

def _distinct(shape, lo, hi, seed):
    n = int(np.prod(shape))
    values = np.linspace(lo, hi, n)
    np.random.default_rng(seed).shuffle(values)
    return values.reshape(shape)


INPUTS = {
    "x": _distinct((3, 4), -2.0, 2.0, 1),       # the everyday matrix
    "y": _distinct((3, 4), -1.5, 1.7, 2),
    "p": _distinct((3, 4), 0.3, 2.2, 3),        # positive (log, sqrt, pow base)
    "u": _distinct((3, 4), -0.9, 0.8, 4),       # inside (-1, 1) (asin, acos, tan)
    "v": _distinct((4,), -1.2, 1.9, 5),
    "w": _distinct((4,), -0.7, 1.3, 6),
    "c": _distinct((3, 1), -1.0, 1.4, 7),       # broadcasts against x
    "r": _distinct((1, 4), -1.1, 0.9, 8),
    "m": _distinct((4, 5), -1.3, 1.2, 9),
    "b": _distinct((2, 3, 4), -2.0, 2.0, 10),
    "b2": _distinct((2, 4, 5), -1.0, 1.5, 11),
    "q": _distinct((3, 1, 4), -1.0, 1.0, 12),   # a size-1 dim in the middle
    "sq": _distinct((4, 4), -1.5, 1.5, 13),
    "s": np.array(0.75),                        # 0-d
    "nan": np.array([[1.0, np.nan, -np.inf], [np.inf, 0.0, -2.0]]),
    "i": np.array([[3, 0], [1, 2], [0, 3]], dtype=np.int64),   # distinct in each row
    "k": np.array([2, 0], dtype=np.int64),
    "mask": np.array([[True, False, False, True], [False, True, False, False],
                      [True, True, False, True]]),
    "flags": np.array([[True, True], [False, True]]),
}


def torch_to_numpy_dtype(dtype):
    return torch.empty((), dtype=dtype).numpy().dtype


# -- one row of a table -----------------------------------------------------------------

class Case(NamedTuple):
    """``fn(lib, *tensors)`` run with lib = minigrad and lib = torch (``tfn`` for torch
    where its spelling differs, as for NumPy's aliases)."""
    fn: Callable
    inputs: str = "x"
    tfn: Optional[Callable] = None
    rtol: float = 1e-10


def case(id: str, fn: Callable, inputs: str = "x", tfn: Optional[Callable] = None,
         rtol: float = 1e-10, marks: Any = ()) -> Any:
    return pytest.param(Case(fn, inputs, tfn, rtol), id=id, marks=marks)


def _make(name, lib):
    array = INPUTS[name]
    if lib is mg:
        return mg.tensor(array, requires_grad=array.dtype.kind == "f")
    return torch.tensor(array, requires_grad=array.dtype.kind == "f")


def _flatten(out):
    """The tensors of a result (a tensor, a tuple / named tuple / list of them)."""
    if isinstance(out, (tuple, list)) and not isinstance(out, (mg.Size, torch.Size)):
        return [t for o in out for t in _flatten(o)]
    return [out]


def assert_same(got, want, rtol=1e-10, atol=1e-12, where="result"):
    """``got`` (minigrad) equals ``want`` (torch) in kind, shape, dtype and value."""
    if isinstance(want, torch.Tensor):
        assert isinstance(got, mg.Tensor), f"{where}: a {type(got).__name__}, not a Tensor"
        assert tuple(got.shape) == tuple(want.shape), f"{where}: shape"
        assert np.dtype(got.dtype) == torch_to_numpy_dtype(want.dtype), f"{where}: dtype"
        expected = want.detach().numpy()
        if expected.dtype.kind in "fc":
            np.testing.assert_allclose(got.numpy(), expected, rtol=rtol, atol=atol,
                                       err_msg=where)
        else:
            np.testing.assert_array_equal(got.numpy(), expected, err_msg=where)
    elif isinstance(want, torch.Size):
        assert isinstance(got, mg.Size) and got == tuple(want), where
    elif isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)), f"{where}: a {type(got).__name__}, not a tuple"
        assert len(got) == len(want), f"{where}: {len(got)} items, torch gives {len(want)}"
        for field in ("values", "indices"):  # torch.return_types: named like a namedtuple
            if hasattr(want, field):
                assert getattr(got, field) is got[("values", "indices").index(field)], where
        for n, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, rtol, atol, f"{where}[{n}]")
    else:
        assert type(got) is type(want), f"{where}: {type(got).__name__} vs {type(want).__name__}"
        if isinstance(want, float):
            assert got == pytest.approx(want, rel=rtol, nan_ok=True), where
        else:
            assert got == want, where


def check(c: Case) -> None:
    """Run ``c`` on both libraries; compare the results and the input gradients of
    sum(weights * output) over every output that carries a gradient."""
    names = c.inputs.split()
    xs, ts = [_make(n, mg) for n in names], [_make(n, torch) for n in names]
    got = c.fn(mg, *xs)
    want = (c.tfn or c.fn)(torch, *ts)
    assert_same(got, want, rtol=c.rtol)
    rng = np.random.default_rng(0)
    total = ttotal = None
    for out, tout in zip(_flatten(got), _flatten(want)):
        if not isinstance(tout, torch.Tensor):
            continue
        # Piecewise-constant ops (floor, round, sign, ...) have no gradient here; torch's
        # is identically zero, which the comparison of input gradients below checks.
        assert tout.requires_grad or not out.requires_grad, "an output requires grad"
        if tout.requires_grad:
            weights = rng.standard_normal(tuple(tout.shape))
            tterm = (tout * torch.tensor(weights)).sum()
            ttotal = tterm if ttotal is None else ttotal + tterm
            if out.requires_grad:
                term = (out * mg.tensor(weights, device=out.device)).sum()
                total = term if total is None else total + term
    if ttotal is None:
        return
    ttotal.backward()
    if total is not None:
        total.backward()
    for name, x, t in zip(names, xs, ts):
        if t.is_floating_point():
            expected = np.zeros(t.shape) if t.grad is None else t.grad.numpy(force=True)
            grad = np.zeros(x.shape) if x.grad is None else x.grad.numpy()
            assert grad.dtype == np.float64
            np.testing.assert_allclose(grad, expected, rtol=c.rtol, atol=1e-12,
                                       err_msg=f"gradient of {name}")


# -- the four collisions, PyTorch's way ----------------------------------------------------

COLLISIONS = [
    case("max(dim)", lambda L, x: x.max(1)),
    case("max(dim=0,keepdim)", lambda L, x: x.max(dim=0, keepdim=True)),
    case("max(-1).values", lambda L, x: x.max(-1).values),
    case("max(1).indices", lambda L, x: x.max(1).indices),
    case("min(dim)", lambda L, x: x.min(0)),
    case("min(dim,keepdim)", lambda L, x: x.min(1, True)),
    case("max()", lambda L, x: x.max()),
    case("min()", lambda L, x: x.min()),
    case("max 0-d", lambda L, s: s.max(0), "s"),
    case("mg.max(x,dim)", lambda L, x: L.max(x, 1)),
    case("mg.min(x,dim=,keepdim=)", lambda L, x: L.min(x, dim=1, keepdim=True)),
    case("mg.max(a,b)", lambda L, x, y: L.max(x, y), "x y"),
    case("mg.min(a,b)", lambda L, x, y: L.min(x, y), "x y"),
    case("mg.max(a,b) broadcast", lambda L, x, c: L.max(x, c), "x c"),
    case("x.max(other)", lambda L, x, y: x.max(y), "x y"),
    case("maximum", lambda L, x, y: L.maximum(x, y), "x y"),
    case("minimum", lambda L, x, r: x.minimum(r), "x r"),
    case("amax()", lambda L, b: b.amax(), "b"),
    case("amax(dims)", lambda L, b: b.amax((0, 2)), "b"),
    case("amin(dim,keepdim)", lambda L, b: L.amin(b, 1, keepdim=True), "b"),
    case("var()", lambda L, x: x.var()),
    case("std()", lambda L, x: x.std()),
    case("var(dim)", lambda L, x: x.var(1)),
    case("std(dim)", lambda L, x: x.std(0)),
    case("var(dims)", lambda L, b: b.var((0, 2)), "b"),
    case("var(keepdim)", lambda L, x: x.var(1, keepdim=True)),
    case("var(correction=0)", lambda L, x: x.var(dim=1, correction=0)),
    case("var(correction=2)", lambda L, x: x.var(correction=2)),
    case("var(unbiased=False)", lambda L, x: x.var(unbiased=False)),
    case("var(False) legacy", lambda L, x: x.var(False)),
    case("std(dim,unbiased=False,keepdim)", lambda L, x: x.std(0, unbiased=False, keepdim=True)),
    case("std(correction=0,keepdim)", lambda L, b: b.std(-1, correction=0, keepdim=True), "b"),
    case("mg.var(x,dim)", lambda L, x: L.var(x, 0)),
    case("mg.std(x,unbiased)", lambda L, x: L.std(x, 1, unbiased=True)),
    case("var_mean", lambda L, x: L.var_mean(x, 1)),
    case("std_mean", lambda L, x: L.std_mean(x, 0, keepdim=True)),
    case("split size 1", lambda L, x: L.split(x, 1, 1)),
    case("split size 2", lambda L, x: L.split(x, 2, 1)),
    case("split size 2 uneven", lambda L, x: L.split(x, 2, 0)),
    case("split sizes list", lambda L, x: L.split(x, [1, 3], 1)),
    case("split sizes with 0", lambda L, x: L.split(x, [2, 0, 1])),
    case("split(dim=)", lambda L, b: b.split(1, dim=-1), "b"),
    case("x.split(size)", lambda L, x: x.split(3)),
    case("chunk", lambda L, x: x.chunk(3, 1)),
    case("chunk uneven", lambda L, x: L.chunk(x, 2)),
    case("chunk more than size", lambda L, x: L.chunk(x, 5, dim=0)),
    case("unbind", lambda L, x: x.unbind(1)),
    case("mg.unbind", lambda L, b: L.unbind(b)),
    case("tensor_split", lambda L, x: L.tensor_split(x, 3, dim=1)),
    case("tensor_split indices", lambda L, x: x.tensor_split([1, 3], 1)),
]


@pytest.mark.parametrize("c", COLLISIONS)
def test_collisions_match_torch(c):
    check(c)


def test_max_dim_unpacks_to_values_and_indices():
    x = mg.tensor(INPUTS["x"], requires_grad=True)
    values, idx = x.max(1)
    tvalues, tidx = torch.tensor(INPUTS["x"]).max(1)
    assert values.shape == (3,) and idx.dtype == np.int64
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    np.testing.assert_allclose(values.numpy(), tvalues.numpy())
    values.sum().backward()  # the gradient reaches the selected element only
    expected = np.zeros((3, 4))
    expected[np.arange(3), tidx.numpy()] = 1
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    low, where = x.min(dim=0)
    assert low.shape == (4,) and where.shape == (4,)
    assert type(x.max(1)).__name__ == "max" and x.max(1)._fields == ("values", "indices")


def test_max_of_two_tensors_is_elementwise_not_an_axis():
    a, b = mg.tensor([1.0, 5.0, 3.0]), mg.tensor([4.0, 2.0, 6.0])
    np.testing.assert_array_equal(mg.max(a, b).numpy(), [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(mg.min(a, b).numpy(), [1.0, 2.0, 3.0])


@pytest.mark.filterwarnings("ignore:invalid value")  # var of one element: 0 / 0
def test_var_is_unbiased_by_default():
    x = mg.tensor([1.0, 2.0, 3.0, 4.0])
    assert x.var().item() == pytest.approx(5 / 3)
    assert x.std().item() == pytest.approx(math.sqrt(5 / 3))
    assert x.var(unbiased=False).item() == pytest.approx(1.25)
    one = mg.tensor([2.0])  # n - correction = 0: torch gives nan or inf, never an error
    assert not np.isfinite(one.var().item())


def test_split_makes_pieces_of_the_given_size():
    pieces = mg.split(mg.arange(10).reshape(2, 5), 1, 1)
    assert len(pieces) == 5 and all(p.shape == (2, 1) for p in pieces)
    assert [p.shape[1] for p in mg.split(mg.zeros(2, 5), 2, 1)] == [2, 2, 1]


# -- sizes, dims, squeeze / expand / transpose ---------------------------------------------

SHAPES = [
    case("size()", lambda L, x: x.size()),
    case("size(d)", lambda L, x: x.size(1)),
    case("size(-1)", lambda L, b: b.size(-1), "b"),
    case("shape", lambda L, b: b.shape, "b"),
    case("shape[1:]", lambda L, b: b.shape[1:], "b"),
    case("size()[0]", lambda L, b: b.size()[0], "b"),
    case("size().numel()", lambda L, b: b.size().numel(), "b"),
    case("numel()", lambda L, b: b.numel(), "b"),
    case("mg.numel", lambda L, x: L.numel(x)),
    case("nelement", lambda L, b: b.nelement(), "b"),
    case("dim()", lambda L, b: b.dim(), "b"),
    case("dim() 0-d", lambda L, s: s.dim(), "s"),
    case("ndim", lambda L, b: b.ndim, "b"),
    case("ndimension", lambda L, x: x.ndimension()),
    case("len", lambda L, b: len(b), "b"),
    case("squeeze(d) no-op", lambda L, q: q.squeeze(0), "q"),
    case("squeeze(d)", lambda L, q: q.squeeze(1), "q"),
    case("squeeze(-2)", lambda L, q: q.squeeze(-2), "q"),
    case("squeeze()", lambda L, q: q.squeeze(), "q"),
    case("squeeze(dims)", lambda L, q: q.squeeze((0, 1)), "q"),
    case("squeeze(())", lambda L, q: q.squeeze(()), "q"),
    case("mg.squeeze(x,d)", lambda L, c: L.squeeze(c, 1), "c"),
    case("unsqueeze(0)", lambda L, x: x.unsqueeze(0)),
    case("unsqueeze(-1)", lambda L, x: x.unsqueeze(-1)),
    case("mg.unsqueeze", lambda L, v: L.unsqueeze(v, 1), "v"),
    case("expand(-1,n)", lambda L, c: c.expand(-1, 4), "c"),
    case("expand(new,-1,-1)", lambda L, c: c.expand(2, -1, -1), "c"),
    case("expand(tuple)", lambda L, r: r.expand((3, 4)), "r"),
    case("expand(size())", lambda L, r, x: r.expand(x.size()), "r x"),
    case("expand same", lambda L, x: x.expand(3, 4)),
    case("expand_as", lambda L, r, x: r.expand_as(x), "r x"),
    case("expand_as 3-d", lambda L, c, b: c.expand_as(b), "c b"),
    case("transpose(0,1)", lambda L, x: x.transpose(0, 1)),
    case("transpose(0,2)", lambda L, b: b.transpose(0, 2), "b"),
    case("transpose(-1,-2)", lambda L, b: b.transpose(-1, -2), "b"),
    case("transpose(d,d)", lambda L, b: b.transpose(1, 1), "b"),
    case("mg.transpose", lambda L, b: L.transpose(b, 2, 0), "b"),
    case("swapaxes", lambda L, b: b.swapaxes(0, 1), "b"),
    case("swapdims", lambda L, b: L.swapdims(b, 1, 2), "b"),
    case("permute varargs", lambda L, b: b.permute(2, 0, 1), "b"),
    case("permute tuple", lambda L, b: b.permute((1, 2, 0)), "b"),
    case("permute negative", lambda L, b: L.permute(b, (-1, 0, 1)), "b"),
    case("T", lambda L, x: x.T),
    case("mT", lambda L, b: b.mT, "b"),
]


@pytest.mark.parametrize("c", SHAPES)
def test_sizes_and_dims_match_torch(c):
    check(c)


# -- NumPy's spellings are aliases with PyTorch's meaning ------------------------------------

NUMPY_ALIASES = [
    case("sum(axis,keepdims)", lambda L, x: x.sum(axis=0, keepdims=True),
         tfn=lambda L, x: x.sum(dim=0, keepdim=True)),
    case("sum(axis tuple)", lambda L, b: b.sum(axis=(0, 2)), "b",
         tfn=lambda L, b: b.sum(dim=(0, 2))),
    case("mg.sum(x,axis)", lambda L, x: L.sum(x, axis=1),
         tfn=lambda L, x: L.sum(x, dim=1)),
    case("mean(axis,keepdims)", lambda L, b: b.mean(axis=-1, keepdims=True), "b",
         tfn=lambda L, b: b.mean(dim=-1, keepdim=True)),
    case("prod(axis)", lambda L, x: x.prod(axis=1), tfn=lambda L, x: x.prod(dim=1)),
    case("var(ddof=0)", lambda L, x: x.var(ddof=0), tfn=lambda L, x: x.var(correction=0)),
    case("var(axis,ddof=1)", lambda L, x: x.var(axis=1, ddof=1),
         tfn=lambda L, x: x.var(dim=1, correction=1)),
    case("std(axis,ddof=0,keepdims)", lambda L, x: x.std(axis=0, ddof=0, keepdims=True),
         tfn=lambda L, x: x.std(dim=0, correction=0, keepdim=True)),
    case("mg.var(x,ddof=0)", lambda L, x: L.var(x, ddof=0),
         tfn=lambda L, x: L.var(x, unbiased=False)),
    case("amax(axis,keepdims)", lambda L, b: b.amax(axis=(1, 2), keepdims=True), "b",
         tfn=lambda L, b: b.amax(dim=(1, 2), keepdim=True)),
    case("amin(axis)", lambda L, x: L.amin(x, axis=0), tfn=lambda L, x: L.amin(x, dim=0)),
    case("max(axis)", lambda L, x: x.max(axis=1), tfn=lambda L, x: x.max(dim=1)),
    case("min(axis,keepdims)", lambda L, x: x.min(axis=0, keepdims=True),
         tfn=lambda L, x: x.min(dim=0, keepdim=True)),
    case("argmax(axis)", lambda L, x: x.argmax(axis=1), tfn=lambda L, x: x.argmax(dim=1)),
    case("argmin(axis,keepdims)", lambda L, x: L.argmin(x, axis=0, keepdims=True),
         tfn=lambda L, x: L.argmin(x, dim=0, keepdim=True)),
    case("logsumexp(axis)", lambda L, x: x.logsumexp(axis=1),
         tfn=lambda L, x: x.logsumexp(dim=1)),
    case("norm(axis)", lambda L, x: x.norm(axis=1), tfn=lambda L, x: x.norm(dim=1)),
    case("cumsum(axis)", lambda L, x: x.cumsum(axis=1), tfn=lambda L, x: x.cumsum(dim=1)),
    case("all(axis)", lambda L, mask: mask.all(axis=1), "mask",
         tfn=lambda L, mask: mask.all(dim=1)),
    case("any(axis,keepdims)", lambda L, mask: mask.any(axis=0, keepdims=True), "mask",
         tfn=lambda L, mask: mask.any(dim=0, keepdim=True)),
    case("squeeze(axis)", lambda L, q: q.squeeze(axis=1), "q",
         tfn=lambda L, q: q.squeeze(dim=1)),
    case("cat(axis)", lambda L, x, y: L.cat([x, y], axis=1), "x y",
         tfn=lambda L, x, y: L.cat([x, y], dim=1)),
    case("concatenate(axis)", lambda L, x, y: L.concatenate((x, y), axis=0), "x y",
         tfn=lambda L, x, y: L.cat((x, y), dim=0)),
    case("stack(axis)", lambda L, x, y: L.stack([x, y], axis=-1), "x y",
         tfn=lambda L, x, y: L.stack([x, y], dim=-1)),
    case("split(axis)", lambda L, x: L.split(x, 2, axis=1),
         tfn=lambda L, x: L.split(x, 2, dim=1)),
    case("softmax(axis)", lambda L, x: L.softmax(x, axis=0),
         tfn=lambda L, x: L.softmax(x, dim=0)),
    case("swapaxes = transpose", lambda L, b: L.swapaxes(b, 0, 2), "b",
         tfn=lambda L, b: L.transpose(b, 0, 2)),
    case("moveaxis = movedim", lambda L, b: L.moveaxis(b, 0, -1), "b",
         tfn=lambda L, b: L.movedim(b, 0, -1)),
    case("clip = clamp", lambda L, x: x.clip(-1.0, 0.5), tfn=lambda L, x: x.clamp(-1.0, 0.5)),
    case("absolute = abs", lambda L, x: L.absolute(x), tfn=lambda L, x: L.abs(x)),
    case("power = pow", lambda L, p, y: L.power(p, y), "p y",
         tfn=lambda L, p, y: L.pow(p, y)),
    case("arctan = atan", lambda L, x: L.arctan(x), tfn=lambda L, x: L.atan(x)),
]


@pytest.mark.parametrize("c", NUMPY_ALIASES)
def test_numpy_spellings_mean_what_pytorch_means(c):
    check(c)


def test_dim_and_its_alias_together_are_refused():
    x = mg.zeros(2, 3)
    with pytest.raises(TypeError, match="both dim= and its alias axis="):
        x.sum(dim=0, axis=1)
    with pytest.raises(TypeError, match="only one of unbiased=, correction= and ddof="):
        x.var(correction=0, ddof=1)


# -- bad input: errors that name what is wrong ----------------------------------------------

X23 = np.arange(6.0).reshape(2, 3)


@pytest.mark.parametrize("call", [
    lambda x: x.sum(1.0), lambda x: x.max(0.5), lambda x: x.transpose(0.0, 1),
    lambda x: x.unsqueeze(1.5), lambda x: x.size(1.0), lambda x: mg.cat([x, x], 0.0),
    lambda x: x.softmax(dim=1.0), lambda x: x.var(1.0), lambda x: x.split(1, 0.0),
    lambda x: x.flatten(0.0), lambda x: x.narrow(1, 0.0, 1),
], ids=["sum", "max", "transpose", "unsqueeze", "size", "cat", "softmax", "var", "split",
        "flatten", "narrow start"])
def test_a_float_dim_is_a_type_error(call):
    with pytest.raises(TypeError, match="must be an int, got float"):
        call(mg.tensor(X23))


@pytest.mark.parametrize("call, op, dim, lo, hi", [
    (lambda x, L: x.sum(2), "sum", 2, -2, 1),
    (lambda x, L: x.sum(-3), "sum", -3, -2, 1),
    (lambda x, L: x.max(5), "max", 5, -2, 1),
    (lambda x, L: x.argmax(2), "argmax", 2, -2, 1),
    (lambda x, L: x.var(2), "var", 2, -2, 1),
    (lambda x, L: x.transpose(0, 2), "transpose", 2, -2, 1),
    (lambda x, L: x.unsqueeze(3), "unsqueeze", 3, -3, 2),
    (lambda x, L: x.squeeze(2), "squeeze", 2, -2, 1),
    (lambda x, L: x.size(2), "size", 2, -2, 1),
    (lambda x, L: L.cat([x, x], 2), "cat", 2, -2, 1),
    (lambda x, L: L.stack([x, x], 4), "stack", 4, -3, 2),
    (lambda x, L: x.split(1, 2), "split", 2, -2, 1),
    (lambda x, L: x.softmax(-3), "softmax", -3, -2, 1),
    (lambda x, L: x.cumsum(2), "cumsum", 2, -2, 1),
    (lambda x, L: x.gather(2, L.tensor([[0]])), "gather", 2, -2, 1),
    (lambda x, L: x.index_select(2, L.tensor([0])), "index_select", 2, -2, 1),
    (lambda x, L: x.flip(2), "flip", 2, -2, 1),
    (lambda x, L: x.permute(0, 2), "permute", 2, -2, 1),
    (lambda x, L: x.movedim(0, 2), "movedim", 2, -2, 1),
    (lambda x, L: x.topk(1, dim=2), "topk", 2, -2, 1),
    (lambda x, L: x.sort(dim=2), "sort", 2, -2, 1),
])
def test_a_dim_out_of_range_is_an_index_error_naming_dim_and_range(call, op, dim, lo, hi):
    with pytest.raises(IndexError, match=rf"{op}: dim {dim} is out of range for a tensor of "
                                         rf"\d dimensions? \(expected a dim in \[{lo}, {hi}\]\)"):
        call(mg.tensor(X23), mg)
    with pytest.raises(IndexError):  # torch refuses it too
        call(torch.tensor(X23), torch)


@pytest.mark.parametrize("call, match", [
    (lambda: mg.cat([mg.zeros(2, 3), mg.zeros(2, 4)]), r"cat.*\(2, 3\).*\(2, 4\)|"
                                                       r"cat.*\(2, 4\).*\(2, 3\)"),
    (lambda: mg.cat([mg.zeros(2, 3), mg.zeros(3)], 0),
     r"(cat|concatenate): tensors of shapes \(2, 3\) and \(3,\)"),
    (lambda: mg.stack([mg.zeros(2, 3), mg.zeros(3, 2)]), r"stack.*\(2, 3\).*\(3, 2\)"),
    (lambda: mg.zeros(2, 3).expand(4, 3), r"expand: the size 2 of dim 0 cannot be expanded "
                                           r"to 4"),
    (lambda: mg.zeros(3).expand(-1, 3), r"expand: -1 is not allowed for the new leading dim"),
    (lambda: mg.zeros(2, 3).expand(3), r"expand: the number of sizes \(1\) must be at least"),
    (lambda: mg.zeros(2, 3).split([1, 1], 1), r"split: sizes \[1, 1\] must add up to 3"),
    (lambda: mg.zeros(2, 3).split(0), r"split: split_size must be positive"),
    (lambda: mg.zeros(2, 3).view(4, 2), r"\(2, 3\).*\(4, 2\)"),
    (lambda: mg.zeros(2, 3) + mg.zeros(4, 3), r"\(2, 3\).*\(4, 3\)"),
    (lambda: mg.zeros(2, 3) @ mg.zeros(2, 3), r"matmul.*\(2, 3\).*\(2, 3\)"),
    (lambda: mg.zeros(2, 3).permute(0, 0), r"permute.*a dim repeats"),
    (lambda: mg.zeros(2, 3).permute(0), r"permute: the order \(0,\) has 1 dims"),
    (lambda: mg.zeros(2, 3).unflatten(1, (2, 2)), r"unflatten: sizes \(2, 2\) do not "
                                                  r"multiply to 3"),
    (lambda: mg.zeros(2, 3).narrow(1, 2, 2), r"narrow: start 2 and length 2 do not fit in "
                                             r"dim 1 of size 3"),
    (lambda: mg.zeros(2, 3).topk(4), r"topk: k=4 is out of range for dim -1 of size 3"),
    (lambda: mg.zeros(2, 3).repeat(2), r"repeat: 1 repeat counts for a tensor of 2 dims"),
    (lambda: mg.bmm(mg.zeros(2, 3, 4), mg.zeros(3, 4, 5)), r"bmm.*\(2, 3, 4\).*\(3, 4, 5\)"),
    (lambda: mg.zeros(2, 3).gather(1, mg.tensor([[0], [0], [0]])),
     r"gather: index shape \(3, 1\) is larger than input shape \(2, 3\) in dim 0"),
    (lambda: mg.zeros(2, 3).gather(1, mg.tensor([0, 1])), r"gather: index has 1 dims but the "
                                                          r"input has 2"),
    (lambda: mg.zeros(2, 3).masked_fill(mg.ones(3, 2, dtype=mg.bool), 0.0),
     r"masked_fill.*\(3, 2\).*\(2, 3\)"),
])
def test_incompatible_sizes_are_errors_that_name_the_shapes(call, match):
    with pytest.raises((ValueError, RuntimeError, IndexError), match=match):
        call()


@pytest.mark.parametrize("call, op", [
    (lambda x: x.gather(1, mg.tensor([[0.0], [1.0]])), "gather"),
    (lambda x: x.index_select(0, mg.tensor([0.0])), "index_select"),
    (lambda x: mg.index_select(x, 1, mg.tensor([True, False, True])), "index_select"),
    (lambda x: x.scatter(1, mg.tensor([[0.0], [1.0]]), 1.0), "scatter"),
    (lambda x: x.scatter_add(0, mg.tensor([[0.5, 0.0, 1.0]]), x), "scatter_add"),
    (lambda x: x.take_along_dim(mg.tensor([[0.0], [1.0]]), 1), "take_along_dim"),
    (lambda x: x.index_fill(0, mg.tensor([1.0]), 0.0), "index_fill"),
])
def test_a_float_index_is_a_type_error_naming_the_dtype(call, op):
    with pytest.raises(TypeError, match=rf"{op}: index must be an integer tensor, got dtype "
                                        r"(float|bool)"):
        call(mg.tensor(X23))


@pytest.mark.parametrize("call, match", [
    (lambda x: x.masked_fill(mg.tensor([[1, 0, 1], [0, 0, 1]]), 0.0),
     "masked_fill: the mask must be a bool tensor, got dtype int64"),
    (lambda x: mg.where(x, x, x), "where: the condition must be a bool tensor, got dtype "
                                  "float64"),
    (lambda x: mg.zeros(3, dtype=mg.int64).mean(), "mean: input dtype must be floating point"),
    (lambda x: x.reshape(2.0, 3), "reshape: size must be an int, got float"),
    (lambda x: mg.zeros(2.5, 2), r"sizes must be integers, got 2\.5"),
])
def test_other_wrong_types_name_what_is_wrong(call, match):
    with pytest.raises(TypeError, match=match):
        call(mg.tensor(X23))


# -- found by the fuzz suite (tests/fuzz): PyTorch's answer, or an error naming the problem ---

def _same(ours, theirs):
    """Equal dtype (by name), shape and values (NaN equals NaN)."""
    theirs = theirs.detach().numpy()
    assert ours.dtype.name == theirs.dtype.name
    np.testing.assert_allclose(ours.numpy(), theirs, equal_nan=True)


@pytest.mark.parametrize("call", [
    lambda L: L.tensor(0, dtype=L.int32).__rxor__(-1),       # the number keeps int32
    lambda L: -1 ^ L.tensor([0, 5], dtype=L.int32),
    lambda L: L.tensor([7], dtype=L.uint8) & -1,             # -1 wraps to 255
    lambda L: L.tensor([255], dtype=L.uint8) & 300,          # 300 wraps to 44
    lambda L: L.tensor([True, False]) | 2,
], ids=["rxor int32", "xor int32", "uint8 & -1", "uint8 & 300", "bool | 2"])
def test_bitwise_ops_keep_the_tensors_dtype_against_a_python_number(call):
    _same(call(mg), call(torch))


def test_bitwise_op_with_an_int_beyond_int64_is_refused():
    with pytest.raises(RuntimeError, match="bitwise_xor: Python int too large"):
        mg.tensor(0) ^ 2 ** 63


@pytest.mark.parametrize("call", [
    lambda L, a, b: L.less_equal(a, b), lambda L, a, b: a <= b, lambda L, a, b: a.eq(b),
    lambda L, a, b: a > b,
], ids=["less_equal", "<=", "eq", ">"])
def test_comparisons_compute_in_the_promoted_dtype(call):
    """float32 against a 0-d float64 tensor compares float32 values (1e30 rounds alike)."""
    values, scalar = np.array([1.0, 1e30], dtype=np.float32), np.float64(1e30)
    _same(call(mg, mg.tensor(values), mg.tensor(scalar)),
          call(torch, torch.tensor(values), torch.tensor(scalar)))


def test_isin_tests_in_the_promoted_dtype():
    """A 0-d int64 element against int32 test elements is cast to int32 first."""
    _same(mg.isin(mg.tensor(-2 ** 63), mg.zeros(2, dtype=mg.int32)),
          torch.isin(torch.tensor(-2 ** 63), torch.zeros(2, dtype=torch.int32)))
    _same(mg.isin(mg.tensor([1.5, 2.0]), mg.tensor([2])),
          torch.isin(torch.tensor([1.5, 2.0]), torch.tensor([2])))
    values = np.array([1e30, 0.0])  # a number is cast to the tensor's dtype, not float32
    _same(mg.isin(mg.tensor(values), 1e30), torch.isin(torch.tensor(values), 1e30))


@pytest.mark.parametrize("index", [[0], 0, [0, 0]])
def test_gather_from_a_0d_tensor(index):
    _same(mg.gather(mg.tensor(2.0), -1, mg.tensor(index)),
          torch.gather(torch.tensor(2.0), -1, torch.tensor(index)))


def test_arange_with_an_infinite_step_is_empty():
    _same(mg.arange(1.0, 0, -math.inf), torch.arange(1.0, 0, -math.inf))


@pytest.mark.parametrize("call", [
    lambda L: L.pow(L.tensor([False, True]), True), lambda L: L.pow(L.tensor(False), False),
    lambda L: L.tensor([False, True]) ** True, lambda L: L.pow(L.tensor([False, True]), 2),
], ids=["pow True", "pow False 0-d", "**", "pow 2"])
def test_pow_of_bools_has_pytorchs_dtype(call):
    _same(call(mg), call(torch))


@pytest.mark.parametrize("call", [
    lambda L: L.linspace(1j, 2, 3), lambda L: L.linspace(1j, 0, 1),
    lambda L: L.linspace(0, 1 + 1j, 4, dtype=L.complex128), lambda L: L.logspace(1j, 2, 3),
    lambda L: L.linspace(1.0, 2, 3, dtype=L.complex64), lambda L: L.arange(0.5, 3.7,
                                                                          dtype=L.int64),
], ids=["linspace complex", "linspace one step", "linspace complex128", "logspace complex",
        "linspace into complex", "arange truncated"])
def test_ranges_with_complex_or_truncated_bounds_match_torch(call):
    _same(call(mg), call(torch))


@pytest.mark.parametrize("call, error, match", [
    (lambda: mg.linspace(1.5, 1j, 0, dtype=mg.float32), RuntimeError,
     r"linspace\(\): a complex start or end can't be cast to dtype float32"),
    (lambda: mg.logspace(0, 1j, 2, dtype=mg.float64), RuntimeError,
     r"logspace\(\): a complex start or end can't be cast to dtype float64"),
    (lambda: mg.logspace(0, 1, 2, base=1j), TypeError,
     r"logspace\(\) base must be a real number"),
    (lambda: mg.arange(1j), TypeError, r"arange\(\) end must be a real number, got 1j"),
    (lambda: mg.arange(-0.5, dtype=mg.int64), ValueError,
     r"arange\(\) bounds and step disagree in sign"),
])
def test_ranges_refuse_what_pytorch_refuses(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("call", [
    lambda L: L.tensor([[3.0, 1.0], [0.0, 2.0]]).min(L.tensor(1), False),
    lambda L: L.max(L.tensor([[3.0, 1.0], [0.0, 2.0]]), L.tensor(0), True),
    lambda L: L.tensor(0.0).min(L.tensor(0), False),
], ids=["min method", "max keepdim", "0-d"])
def test_max_min_take_a_0d_integer_tensor_with_keepdim_as_the_dim(call):
    ours, theirs = call(mg), call(torch)
    assert type(ours).__name__ == type(theirs).__name__
    _same(ours.values, theirs.values)
    _same(ours.indices, theirs.indices)


def test_max_of_two_tensors_without_keepdim_stays_elementwise():
    _same(mg.tensor([[3.0, 1.0]]).max(mg.tensor(2.0)), torch.tensor([[3.0, 1.0]]).max(
        torch.tensor(2.0)))


def test_repeat_interleave_checks_a_one_element_repeats_tensor_only_where_it_is_spread():
    _same(mg.repeat_interleave(mg.tensor([], dtype=mg.int64), mg.tensor(-1)),
          torch.repeat_interleave(torch.tensor([], dtype=torch.int64), torch.tensor(-1)))
    with pytest.raises(ValueError, match="repeat_interleave: repeats must be non-negative"):
        mg.repeat_interleave(mg.tensor([1, 2]), mg.tensor(-1))
    with pytest.raises(ValueError, match="repeat_interleave: repeats must be non-negative"):
        mg.repeat_interleave(mg.tensor([], dtype=mg.int64), -1)  # an int is always checked


@pytest.mark.parametrize("index, shape", [
    (lambda L: L.zeros(0, dtype=L.bool), (1,)), (lambda L: L.zeros(0, dtype=L.bool), (2, 3)),
    (lambda L: (slice(None), L.zeros(2, dtype=L.bool)), (2, 3)),
    (lambda L: L.zeros(2, 2, dtype=L.bool), (2, 3)),
], ids=["empty mask", "empty mask 2-d", "second dim", "2-d mask"])
def test_a_mask_of_the_wrong_shape_is_an_index_error(index, shape):
    with pytest.raises(IndexError, match=r"index: the shape of the mask \[\d(, \d)*\] at index "
                                         r"\d does not match the shape of the indexed tensor"):
        mg.zeros(*shape)[index(mg)]
    with pytest.raises(IndexError, match="does not match the shape of the indexed tensor"):
        torch.zeros(*shape)[index(torch)]
    with pytest.raises(IndexError, match=r"index_put: the shape of the mask"):
        mg.zeros(*shape)[index(mg)] = 1.0


def test_index_put_reads_tensors_in_the_index_and_names_itself_for_a_float_one():
    """A Tensor in the index is read as its array, never handed to the array library
    (CuPy would export one that requires grad and fail without naming index_put)."""
    _same(mg.index_put(mg.zeros(3), (mg.tensor([1]),), mg.tensor(2.0)),
          torch.index_put(torch.zeros(3), (torch.tensor([1]),), torch.tensor(2.0)))
    with pytest.raises(IndexError, match="index_put: tensors used as indices must be long, "
                                         "int or bool tensors, got dtype float32"):
        mg.index_put(1.5, mg.tensor([], requires_grad=True), None)
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or "
                                         "bool tensors"):
        torch.index_put(torch.zeros(3), (torch.tensor([0.5]),), torch.tensor(1.0))


def test_masks_of_the_right_shape_still_select():
    x = np.arange(6.0).reshape(2, 3)
    mask = np.array([[True, False, True], [False, False, True]])
    _same(mg.tensor(x)[mg.tensor(mask)], torch.tensor(x)[torch.tensor(mask)])
    _same(mg.tensor(x)[..., mg.tensor(mask[0])], torch.tensor(x)[..., torch.tensor(mask[0])])


def test_a_uint8_index_is_refused_as_an_ambiguous_mask():
    with pytest.raises(TypeError, match="index: a uint8 index is a mask to PyTorch .* the mask "
                                        "must be a bool tensor"):
        mg.zeros(2, 3)[mg.tensor([0, 1], dtype=mg.uint8)]


def test_index_add_needs_a_source_of_selfs_dtype():
    with pytest.raises(RuntimeError, match=r"index_add: self \(float32\) and source \(int64\) "
                                           r"must have the same dtype"):
        mg.zeros(1, 3).index_add(0, mg.tensor([0]), mg.tensor([[1, 2, 3]]))
    with pytest.raises(RuntimeError, match="same scalar type"):  # as torch
        torch.zeros(1, 3).index_add(0, torch.tensor([0]), torch.tensor([[1, 2, 3]]))


def test_scatter_of_a_value_that_does_not_fit_with_an_empty_index_writes_nothing():
    for value in (math.nan, 1e30):
        _same(mg.zeros(2, 3, dtype=mg.int64).scatter(0, mg.zeros(0, 0, dtype=mg.int64), value),
              torch.zeros(2, 3, dtype=torch.int64).scatter(
                  0, torch.zeros(0, 0, dtype=torch.int64), value))


def test_sub_with_alpha_multiplies_two_numbers_in_the_tensors_precision():
    _same(mg.zeros(2, dtype=mg.float64).subtract_(1e30, alpha=1e30),
          torch.zeros(2, dtype=torch.float64).subtract_(1e30, alpha=1e30))
    _same(mg.add(mg.tensor([1.0, 2.0], dtype=mg.float64), 3, alpha=0.5),
          torch.add(torch.tensor([1.0, 2.0], dtype=torch.float64), 3, alpha=0.5))


@pytest.mark.parametrize("number", [math.nan, 1.5, True, 1j])
def test_to_a_number_takes_its_dtype_as_a_0d_tensor(number):
    _same(mg.tensor([0, 1]).to(number), torch.tensor([0, 1]).to(number))


def test_a_number_is_still_no_dtype_for_dtype_arguments():
    with pytest.raises(TypeError, match="log_softmax: not a dtype: 1.5"):
        mg.log_softmax(mg.tensor([1.0]), 0, 1.5)
    with pytest.raises(TypeError, match="not a dtype: 1.5"):
        mg.tensor([1.0]).to(dtype=1.5)


@pytest.mark.parametrize("dtype, low, high", [
    (mg.float16, -1e30, 1.0), (mg.float16, -6e4, 6e4), (mg.float32, -3e38, 3e38)])
def test_uniform_bounds_must_fit_the_dtype(dtype, low, high):
    with pytest.raises(ValueError, match=r"uniform_: from=.* and to=.* must be within "
                                         r"float(16|32)'s range"):
        mg.zeros(2, dtype=dtype).uniform_(low, high)


def test_a_negative_zero_constant_keeps_its_sign_after_a_positive_one():
    """Python float operands are cached as 0-d arrays; 0.0 == -0.0 must not share one."""
    one = mg.tensor(1.0)
    for zero, expected in ((0.0, np.inf), (-0.0, -np.inf), (0.0, np.inf)):
        with np.errstate(divide="ignore"):
            assert (one / zero).item() == expected


def test_addmm_with_scaled_terms_still_needs_matrices():
    with pytest.raises(ValueError, match="addmm: mat1 must be a matrix, got a 1-d tensor"):
        mg.addmm(mg.ones(3), mg.ones(3), mg.ones(3), beta=1.5)


def test_pow_gradients_at_zero_are_pytorchs():
    """0^0 and 0^b (b >= 0): PyTorch's gradients are 0 there, not 0 * inf = NaN."""
    base, exponent = [0.0, 0.0, 0.0, 2.0, 3.0], [2.0, 0.0, -1.0, 3.0, 0.0]
    grads = []
    for lib in (mg, torch):
        a = lib.tensor(base, dtype=lib.float64, requires_grad=True)
        b = lib.tensor(exponent, dtype=lib.float64, requires_grad=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            (a ** b).sum().backward()
            z = lib.tensor([0.0, 1.0], dtype=lib.float64, requires_grad=True)
            (z ** 0).sum().backward()
        grads.append([a.grad.numpy(), b.grad.numpy(), z.grad.numpy()])
    for ours, theirs in zip(*grads):
        np.testing.assert_array_equal(ours, theirs)
