"""The Tensor methods a porting user types (issue 7, item 2), each against PyTorch:
values, shapes, dtypes and float64 gradients. Harness: ``test_pytorch_idioms``."""
import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")

from test_pytorch_idioms import INPUTS, case, check  # noqa: E402

ARITHMETIC = [
    case("add", lambda L, x, y: x.add(y), "x y"),
    case("add(alpha)", lambda L, x, y: x.add(y, alpha=2.5), "x y"),
    case("add number", lambda L, x: x.add(2.0)),
    case("add broadcast", lambda L, x, c: x.add(c, alpha=-1), "x c"),
    case("sub", lambda L, x, y: x.sub(y), "x y"),
    case("sub(alpha)", lambda L, x, r: x.sub(r, alpha=0.5), "x r"),
    case("subtract", lambda L, x, y: L.subtract(x, y), "x y"),
    case("mul", lambda L, x, y: x.mul(y), "x y"),
    case("mul number", lambda L, x: x.mul(-3.0)),
    case("multiply", lambda L, x, c: L.multiply(x, c), "x c"),
    case("div", lambda L, x, p: x.div(p), "x p"),
    case("div number", lambda L, x: x.div(4.0)),
    case("divide", lambda L, x, p: L.divide(x, p), "x p"),
    case("true_divide", lambda L, x, p: x.true_divide(p), "x p"),
    case("div(floor)", lambda L, x, p: x.div(p, rounding_mode="floor"), "x p"),
    case("div(trunc)", lambda L, x, p: x.div(p, rounding_mode="trunc"), "x p"),
    case("floor_divide", lambda L, x: x.detach().floor_divide(0.7)),
    case("// int", lambda L, i: (i // 2, (i + 1).floor_divide(i + 2), 7 // (i + 1)), "i"),
    case("remainder", lambda L, x, p: x.remainder(p), "x p"),
    case("% number", lambda L, x: x % 0.7),
    case("% reflected", lambda L, p: 2.0 % p.detach(), "p"),
    case("% int", lambda L, i: (i % 2, (i - 2) % 3, 7 % (i + 1)), "i"),
    case("mg.remainder", lambda L, x, c: L.remainder(x, c), "x c"),
    case("pow int", lambda L, x: x.pow(3)),
    case("pow float", lambda L, p: p.pow(1.5), "p"),
    case("pow tensor", lambda L, p, y: p.pow(y), "p y"),
    case("mg.pow", lambda L, p: L.pow(p, -0.5), "p"),
    case("** and radd", lambda L, x, y: 1.0 + x ** 2 - y / 3, "x y"),
    case("matmul", lambda L, x, m: x.matmul(m), "x m"),
    case("matmul batch", lambda L, b, b2: b.matmul(b2), "b b2"),
    case("@ vector", lambda L, x, v: x @ v, "x v"),
    case("mm", lambda L, x, m: x.mm(m), "x m"),
    case("bmm", lambda L, b, b2: b.bmm(b2), "b b2"),
    case("mv", lambda L, x, v: x.mv(v), "x v"),
    case("dot", lambda L, v, w: v.dot(w), "v w"),
    case("outer", lambda L, v, w: v.outer(w), "v w"),
    case("addmm", lambda L, y, x, m: L.addmm(y[:, :1], x, m[:, :1]),
         "y x m"),
    case("neg", lambda L, x: x.neg()),
    case("negative", lambda L, x: x.negative()),
    case("unary -", lambda L, x: -x),
    case("abs", lambda L, x: x.abs()),
    case("absolute", lambda L, x: x.absolute()),
]

MATHS = [
    case(name, lambda L, t, name=name: getattr(t, name)(), inputs)
    for name, inputs in [
        ("exp", "x"), ("exp2", "x"), ("log", "p"), ("log2", "p"), ("log10", "p"),
        ("log1p", "p"), ("expm1", "x"), ("sqrt", "p"), ("rsqrt", "p"), ("reciprocal", "x"),
        ("square", "x"), ("sin", "x"), ("cos", "x"), ("tan", "u"), ("atan", "x"),
        ("arctan", "x"), ("asin", "u"), ("arcsin", "u"), ("acos", "u"), ("arccos", "u"),
        ("sinh", "x"), ("cosh", "x"), ("tanh", "x"), ("sigmoid", "x"), ("relu", "x"),
        ("erf", "x"), ("sign", "x"), ("sgn", "x"), ("floor", "x"), ("ceil", "x"),
        ("round", "x"), ("trunc", "x"), ("fix", "x"), ("isnan", "nan"), ("isinf", "nan"),
        ("isfinite", "nan"), ("logical_not", "mask"),
    ]
] + [
    case("reciprocal of int", lambda L, i: (i + 1).reciprocal(), "i"),
] + [
    case("round(decimals)", lambda L, x: x.round(decimals=1)),
    case("clamp(lo,hi)", lambda L, x: x.clamp(-0.5, 0.8)),
    case("clamp(min=)", lambda L, x: x.clamp(min=0.1)),
    case("clamp(max=)", lambda L, x: L.clamp(x, max=-0.2)),
    case("clamp(min=T,max=T)", lambda L, x, y: x.clamp(min=y - 0.5, max=y + 0.5), "x y"),
    case("clamp(min=T)", lambda L, x, r: x.clamp(min=r), "x r"),
    case("clamp_min", lambda L, x: x.clamp_min(0.3)),
    case("clamp_max", lambda L, x: x.clamp_max(0.3)),
    case("clip", lambda L, x: x.clip(-1.0, 1.0)),
    case("lerp(number)", lambda L, x, y: x.lerp(y, 0.3), "x y"),
    case("lerp(tensor)", lambda L, x, y, r: x.lerp(y, r), "x y r"),
    case("maximum", lambda L, x, y: x.maximum(y), "x y"),
    case("minimum", lambda L, x, c: x.minimum(c), "x c"),
    case("softmax(dim)", lambda L, x: x.softmax(1)),
    case("softmax(dim=0)", lambda L, b: b.softmax(dim=0), "b"),
    case("mg.softmax", lambda L, x: L.softmax(x, -1)),
    case("log_softmax", lambda L, x: x.log_softmax(1)),
    case("mg.log_softmax(dim=)", lambda L, b: L.log_softmax(b, dim=1), "b"),
    case("softmax(dtype)", lambda L, x: x.softmax(1, dtype=L.float32).double(), rtol=1e-6),
    case("cumsum", lambda L, x: x.cumsum(1)),
    case("cumsum(dim=0)", lambda L, b: b.cumsum(dim=0), "b"),
    case("cumprod", lambda L, x: x.cumprod(1)),
    case("mg.cumprod", lambda L, x: L.cumprod(x, dim=0)),
    case("prod()", lambda L, x: x.prod()),
    case("prod(dim)", lambda L, x: x.prod(1)),
    case("prod(dim,keepdim)", lambda L, b: b.prod(0, keepdim=True), "b"),
    case("sum()", lambda L, x: x.sum()),
    case("sum(dim)", lambda L, x: x.sum(1)),
    case("sum(dims,keepdim)", lambda L, b: b.sum((0, 2), keepdim=True), "b"),
    case("sum(dtype)", lambda L, mask: mask.sum(), "mask"),
    case("sum int", lambda L, i: i.sum(0), "i"),
    case("mean()", lambda L, x: x.mean()),
    case("mean(dim)", lambda L, b: b.mean(-1), "b"),
    case("mean(dims,keepdim)", lambda L, b: L.mean(b, (1, 2), keepdim=True), "b"),
    case("logsumexp", lambda L, x: x.logsumexp(1)),
    case("logsumexp(keepdim)", lambda L, b: L.logsumexp(b, 0, keepdim=True), "b"),
    case("norm()", lambda L, x: x.norm()),
    case("norm(p=1)", lambda L, x: x.norm(1)),
    case("norm(p,dim)", lambda L, x: x.norm(2, 1)),
    case("norm(p=1,dim)", lambda L, x: x.norm(p=1, dim=0)),
    case("norm(inf,dim)", lambda L, x: x.norm(float("inf"), dim=1)),
    case("norm(-inf,dim)", lambda L, x: x.norm(float("-inf"), dim=0)),
    case("norm(3,dim,keepdim)", lambda L, x: x.norm(3, dim=1, keepdim=True)),
    case("norm(0.5)", lambda L, x: x.norm(0.5)),
    case("norm(0)", lambda L, x: x.norm(0, dim=1)),
    case("norm(fro)", lambda L, b: b.norm("fro"), "b"),
    case("mg.norm", lambda L, x: L.norm(x, dim=(0, 1))),
    case("argmax()", lambda L, x: x.argmax()),
    case("argmax(keepdim) no dim", lambda L, b: (b.argmax(keepdim=True), b.argmin(keepdim=True)),
         "b"),
    case("max/sort with nan", lambda L, nan: (nan.max(1), nan.detach().amax(1), nan.argmax(),
                                              nan.sort(), nan.argmin(1)), "nan"),
    case("argmax(dim)", lambda L, x: x.argmax(1)),
    case("argmax(dim,keepdim)", lambda L, x: x.argmax(dim=0, keepdim=True)),
    case("argmin()", lambda L, b: b.argmin(), "b"),
    case("argmin(dim,keepdim)", lambda L, b: L.argmin(b, 2, keepdim=True), "b"),
    case("all()", lambda L, mask: mask.all(), "mask"),
    case("all(dim)", lambda L, mask: mask.all(1), "mask"),
    case("any()", lambda L, mask: mask.any(), "mask"),
    case("any(dim,keepdim)", lambda L, mask: mask.any(0, keepdim=True), "mask"),
    case("all float", lambda L, x: x.all()),
    case("count_nonzero", lambda L, mask: mask.count_nonzero(1), "mask"),
    case("allclose", lambda L, x: x.allclose(x + 1e-12)),
    case("allclose false", lambda L, x, y: x.allclose(y), "x y"),
    case("allclose(atol)", lambda L, x: L.allclose(x, x + 0.01, atol=0.1)),
    case("equal", lambda L, x: x.equal(x.clone())),
    case("equal false", lambda L, x, y: L.equal(x, y), "x y"),
    case("equal shapes", lambda L, x: x.equal(x[:2])),
    case("isclose", lambda L, x, y: x.isclose(y * 0 + x), "x y"),
    case("eq/ne", lambda L, x, y: (x.eq(y), x.ne(x), x == x), "x y"),
    case("lt/le/gt/ge", lambda L, x, y: (x.lt(y), x.le(0.5), x.gt(y), y.ge(x), x > y), "x y"),
    case("greater/less", lambda L, x, y: (x.greater(y), x.less_equal(y)), "x y"),
    case("logical", lambda L, mask: (mask.logical_and(~mask), mask.logical_or(mask),
                                     mask.logical_xor(mask.T.T), mask & mask, mask | mask),
         "mask"),
    case("bitwise int", lambda L, i, k: (i & k, i | 4, i ^ k, ~i, 6 & i, 1 | i, 5 ^ i,
                                         i.bitwise_and(k), L.bitwise_or(i, k),
                                         i.bitwise_xor(3), i.bitwise_not()), "i k"),
    case("bitwise bool", lambda L, mask: (mask ^ mask.flip(0), ~mask, mask & True,
                                          mask | -1, L.bitwise_and(mask, 2)), "mask"),
]

SHAPING = [
    case("view", lambda L, x: x.view(4, 3)),
    case("view(-1)", lambda L, b: b.view(-1), "b"),
    case("view(tuple)", lambda L, b: b.view((6, -1)), "b"),
    case("view(size)", lambda L, x, y: x.view(y.t().size()), "x y"),
    case("view_as", lambda L, x, m: x.view_as(m[:, :3]), "x m"),
    case("reshape", lambda L, x: x.reshape(2, -1)),
    case("reshape(tuple)", lambda L, b: b.reshape((4, 6)), "b"),
    case("mg.reshape", lambda L, b: L.reshape(b, (-1, 2)), "b"),
    case("reshape_as", lambda L, x, m: x.reshape_as(m[:3, :4]), "x m"),
    case("narrow", lambda L, x: x.narrow(1, 1, 2)),
    case("narrow negative start", lambda L, x: x.narrow(0, -2, 2)),
    case("mg.narrow", lambda L, b: L.narrow(b, 2, 0, 1), "b"),
    case("select", lambda L, b: b.select(1, 2), "b"),
    case("select(-1)", lambda L, x: x.select(0, -1)),
    case("t", lambda L, x: x.t()),
    case("t 1-d", lambda L, v: v.t(), "v"),
    case("mg.t", lambda L, x: L.t(x)),
    case("contiguous", lambda L, x: x.t().contiguous()),
    case("flatten()", lambda L, b: b.flatten(), "b"),
    case("flatten(start)", lambda L, b: b.flatten(1), "b"),
    case("flatten(start,end)", lambda L, b: b.flatten(0, 1), "b"),
    case("flatten(-2,-1)", lambda L, b: L.flatten(b, -2, -1), "b"),
    case("flatten 0-d", lambda L, s: s.flatten(), "s"),
    case("unflatten", lambda L, x: x.unflatten(1, (2, 2))),
    case("unflatten(-1)", lambda L, b: b.unflatten(-1, (2, -1)), "b"),
    case("movedim", lambda L, b: b.movedim(0, -1), "b"),
    case("movedim(tuples)", lambda L, b: b.movedim((0, 1), (2, 0)), "b"),
    case("mg.movedim", lambda L, b: L.movedim(b, 2, 1), "b"),
    case("repeat", lambda L, x: x.repeat(2, 1)),
    case("repeat new dims", lambda L, x: x.repeat(2, 1, 3)),
    case("repeat(tuple)", lambda L, v: v.repeat((3,)), "v"),
    case("repeat_interleave", lambda L, x: x.repeat_interleave(2)),
    case("repeat_interleave(dim)", lambda L, x: x.repeat_interleave(2, dim=1)),
    case("repeat_interleave(tensor)", lambda L, x: x.repeat_interleave(
        L.tensor([1, 0, 2]), dim=0)),
    case("flip", lambda L, x: x.flip(0)),
    case("flip(dims)", lambda L, b: b.flip(0, 2), "b"),
    case("flip(tuple)", lambda L, b: b.flip((1,)), "b"),
    case("mg.flip", lambda L, b: L.flip(b, [-1]), "b"),
    case("flip(dims=)", lambda L, b: (b.flip(dims=[0]), L.flip(b, dims=(1, 2))), "b"),
    case("permute(dims=)", lambda L, b: (b.permute(dims=(2, 0, 1)), L.permute(b, dims=[1, 0, 2])),
         "b"),
    case("reshape(shape=)", lambda L, b: (b.reshape(shape=(4, 6)), L.reshape(b, shape=[-1])),
         "b"),
    case("expand(size=)", lambda L, c: c.expand(size=(2, 3, 4)), "c"),
    case("fliplr/flipud", lambda L, x: (L.fliplr(x), L.flipud(x))),
    case("roll", lambda L, x: x.roll(1)),
    case("roll(dim)", lambda L, x: x.roll(1, 1)),
    case("roll(dims)", lambda L, b: b.roll((1, -2), (0, 2)), "b"),
    case("mg.roll(dims=)", lambda L, x: L.roll(x, shifts=-1, dims=0)),
    case("tril", lambda L, sq: sq.tril(), "sq"),
    case("tril(1)", lambda L, x: x.tril(1)),
    case("triu(-1)", lambda L, x: x.triu(-1)),
    case("triu batch", lambda L, b: b.triu(), "b"),
    case("mg.tril/triu", lambda L, sq: (L.tril(sq, -1), L.triu(sq, diagonal=2)), "sq"),
    case("diagonal", lambda L, sq: sq.diagonal(), "sq"),
    case("diagonal(offset)", lambda L, x: x.diagonal(1)),
    case("diagonal(-1)", lambda L, x: x.diagonal(-1)),
    case("diagonal(dims)", lambda L, b: b.diagonal(0, 1, 2), "b"),
    case("diagonal(dim1=,dim2=)", lambda L, b: L.diagonal(b, offset=1, dim1=0, dim2=2), "b"),
    case("broadcast_to", lambda L, c: c.broadcast_to((2, 3, 4)), "c"),
    case("getitem", lambda L, b: (b[1], b[:, 1:3], b[..., -1], b[None, 0, :, ::2]), "b"),
    case("getitem int tensor", lambda L, x, k: x[k], "x k"),
    case("getitem bool mask", lambda L, x, mask: x[mask], "x mask"),
    case("getitem repeated", lambda L, x: x[L.tensor([0, 0, 2])]),
]

SELECTION = [
    case("gather", lambda L, x, i: x.gather(1, i), "x i"),
    case("gather(dim=0)", lambda L, x, i: x.gather(0, i[:, :1].T.expand(2, -1).clamp(max=2)),
         "x i"),
    case("mg.gather", lambda L, x, i: L.gather(x, 1, i[:, :1]), "x i"),
    case("scatter(src)", lambda L, x, i, y: x.scatter(1, i, y[:, :2]), "x i y"),
    case("scatter(value)", lambda L, x, i: x.scatter(1, i, 2.5), "x i"),
    case("scatter(dim=0)", lambda L, x, y: x.scatter(0, L.tensor([[2, 0, 1, 1]]), y[:1]), "x y"),
    case("scatter(reduce=add)",  # torch has no gradient for it, and deprecates it
         lambda L, x, i, y: x.detach().scatter(1, i, y.detach(), reduce="add"), "x i y",
         marks=pytest.mark.filterwarnings("ignore:The reduce argument")),
    case("scatter_add", lambda L, x, i, y: x.scatter_add(1, i, y[:, :2]), "x i y"),
    case("scatter_add repeats", lambda L, x, y: x.scatter_add(
        0, L.tensor([[0, 0, 2, 0], [0, 1, 2, 2]]), y[:2]), "x y"),
    case("mg.scatter_add", lambda L, x, i, y: L.scatter_add(x, 1, i[:, :1], y[:, 1:2]), "x i y"),
    case("index_select", lambda L, x, k: x.index_select(1, k), "x k"),
    case("index_select(0)", lambda L, x, k: x.index_select(0, k), "x k"),
    case("index_select repeats", lambda L, x: L.index_select(x, 1, L.tensor([3, 3, 0]))),
    case("index_add", lambda L, x, k, y: x.index_add(0, k, y[:2]), "x k y"),
    case("index_add(alpha)", lambda L, x, c: x.index_add(1, L.tensor([1, 1, 3]),
                                                         c.expand(3, 3), alpha=2.0), "x c"),
    case("index_fill", lambda L, x, k: x.index_fill(1, k, -1.0), "x k"),
    case("masked_fill", lambda L, x, mask: x.masked_fill(mask, 0.0), "x mask"),
    case("masked_fill(broadcast)", lambda L, x: x.masked_fill(L.tensor([True, False, True,
                                                                        False]), -9.0)),
    case("masked_fill(0-d tensor)", lambda L, x, s, mask: x.masked_fill(mask, s), "x s mask"),
    case("masked_fill(-inf)", lambda L, x, mask: x.masked_fill(~mask, float("-inf")).softmax(1),
         "x mask"),
    case("masked_select", lambda L, x, mask: x.masked_select(mask), "x mask"),
    case("masked_select(broadcast)", lambda L, x: L.masked_select(x, x[0] > 0)),
    case("take_along_dim", lambda L, x, i: x.take_along_dim(i, 1), "x i"),
    case("take_along_dim(argsort)", lambda L, x: x.take_along_dim(x.argsort(0), dim=0)),
    case("take_along_dim flat", lambda L, x: L.take_along_dim(x, L.tensor([5, 0, 11]))),
    case("where", lambda L, x, y, mask: L.where(mask, x, y), "x y mask"),
    case("where number", lambda L, x: L.where(x > 0, x, 0.0)),
    case("where broadcast", lambda L, c, r: L.where(c > r, c, r), "c r"),
    case("x.where", lambda L, x, y, mask: x.where(mask, y), "x y mask"),
    case("where(cond)", lambda L, mask: L.where(mask), "mask"),
    case("nonzero", lambda L, mask: mask.nonzero(), "mask"),
    case("nonzero float", lambda L, x: (x > 0.5).float().nonzero()),
    case("nonzero(as_tuple)", lambda L, mask: mask.nonzero(as_tuple=True), "mask"),
    case("nonzero 0-d", lambda L, s: (s.nonzero(), (s * 0).nonzero()), "s"),
    case("argwhere", lambda L, mask: L.argwhere(mask), "mask"),
    case("topk", lambda L, x: x.topk(2)),
    case("topk(dim,smallest)", lambda L, x: x.topk(2, dim=0, largest=False)),
    case("topk(k=0)", lambda L, x: x.topk(0)),
    case("mg.topk", lambda L, b: L.topk(b, 3, 1), "b"),
    case("sort", lambda L, x: x.sort()),
    case("sort(dim,descending)", lambda L, x: x.sort(0, descending=True)),
    case("sort(stable)", lambda L, x: (x > 0).float().sort(stable=True, dim=1).indices),
    case("sort descending ties", lambda L: L.tensor([1.0, 3.0, 1.0, 3.0]).sort(
        descending=True, stable=True), ""),
    case("mg.sort", lambda L, b: L.sort(b, dim=1), "b"),
    case("argsort", lambda L, x: x.argsort(1)),
    case("argsort(descending)", lambda L, x: x.argsort(dim=0, descending=True)),
    case("kthvalue", lambda L, x: x.kthvalue(2, 1)),
    case("kthvalue(keepdim)", lambda L, x: x.kthvalue(1, 0, keepdim=True)),
    case("kthvalue default dim", lambda L, b: L.kthvalue(b, 3), "b"),
    case("msort", lambda L, x: L.msort(x)),
    case("isin", lambda L, i, k: L.isin(i, k), "i k"),
]

def _on_our_kind_of_device(t):
    """``t`` on the kind of device minigrad's default tensors are on (a GPU where that is
    CUDA), so that a question about the device compares like with like."""
    if not mg.zeros(()).is_cuda:
        return t
    if not torch.cuda.is_available():
        pytest.skip("minigrad's default device is a GPU and this torch has none")
    return t.cuda()


DTYPES = [
    case("type(dtype)", lambda L, x: x.type(L.float32)),
    case("type_as", lambda L, x, i: x.type_as(i), "x i"),
    case("type_as float", lambda L, i, x: i.type_as(x), "i x"),
    case("float", lambda L, x: x.float(), rtol=1e-7),
    case("double", lambda L, x: x.float().double(), rtol=1e-7),
    case("half", lambda L, x: x.half().double(), rtol=1e-3),
    case("long", lambda L, x: x.long()),
    case("int", lambda L, x: x.int()),
    case("bool", lambda L, x: x.bool()),
    case("bool to float", lambda L, mask: mask.float(), "mask"),
    case("to(dtype)", lambda L, x: x.to(L.float16), rtol=1e-3),
    case("to(other)", lambda L, x, i: x.to(i), "x i"),
    case("to(other float)", lambda L, i, x: i.to(x), "i x"),
    case("to(device,dtype)", lambda L, x: x.to("cpu", L.float32), rtol=1e-7),
    case("to(device=,dtype=)", lambda L, x: x.to(device="cpu", dtype=L.int64)),
    case("to(device)", lambda L, x: x.to("cpu")),
    case("cpu", lambda L, x: x.cpu()),
    case("is_cuda", lambda L, x: x.is_cuda,
         tfn=lambda L, x: _on_our_kind_of_device(x).is_cuda),
    case("element_size", lambda L, x: (x.element_size(), x.half().element_size())),
    case("new_zeros", lambda L, x: x.new_zeros(2, 3)),
    case("new_zeros(tuple)", lambda L, i: i.new_zeros((2,)), "i"),
    case("new_ones", lambda L, x: x.new_ones((3,), dtype=L.int32)),
    case("new_full", lambda L, x: x.new_full((2, 2), 3.5)),
    case("new_full int", lambda L, i: i.new_full((3,), 7), "i"),
    case("new_empty", lambda L, x: x.new_empty(2, 5).shape),
    case("new_tensor", lambda L, x: x.new_tensor([1, 2])),
    case("new_tensor(dtype)", lambda L, x: x.new_tensor([[1.5]], dtype=L.float32)),
    case("zeros_like/ones_like", lambda L, x, i: (L.zeros_like(x), L.ones_like(i),
                                                  L.full_like(x, 2.0)), "x i"),
]


@pytest.mark.parametrize("c", ARITHMETIC + MATHS)
def test_arithmetic_and_maths_match_torch(c):
    check(c)


@pytest.mark.parametrize("c", SHAPING)
def test_shaping_matches_torch(c):
    check(c)


@pytest.mark.parametrize("c", SELECTION)
def test_selection_matches_torch(c):
    check(c)


@pytest.mark.parametrize("c", DTYPES)
def test_dtype_and_device_methods_match_torch(c):
    check(c)


def test_device_type_and_index():
    x, t = mg.zeros(2, device="cpu"), torch.zeros(2)
    assert x.device == "cpu" and str(x.device) == str(t.device)
    assert x.device.type == t.device.type == "cpu" and x.device.index is t.device.index is None
    cuda = mg.device("cuda:1")
    assert (cuda.type, cuda.index) == (torch.device("cuda:1").type, torch.device("cuda:1").index)
    assert mg.device("cuda", 0) == "cuda:0" and mg.device("cpu").index is None
    assert x.is_cuda is False and x.to(mg.device("cpu")).device == "cpu"


def test_type_without_argument_names_the_tensor_type():
    assert mg.zeros(2, device="cpu").type() == "minigrad.FloatTensor"  # "torch.FloatTensor"
    assert mg.zeros(2, dtype=mg.int64, device="cpu").type() == "minigrad.LongTensor"
    assert mg.zeros(2).type("minigrad.DoubleTensor").dtype == np.float64
    if mg.cuda.is_available():  # torch: "torch.cuda.FloatTensor"
        assert mg.zeros(2, device="cuda").type() == "minigrad.cuda.FloatTensor"


def test_cuda_without_a_gpu_says_so():
    if mg.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises((RuntimeError, ValueError, ImportError), match="(?i)cupy|cuda|gpu"):
        mg.zeros(2).cuda()


def test_is_leaf_and_grad_fn():
    x = mg.tensor(INPUTS["x"], requires_grad=True)
    y = (x * 2).sum()
    assert x.is_leaf and x.grad_fn is None and mg.tensor([1.0]).is_leaf
    assert not y.is_leaf and y.grad_fn is not None
    assert "sum" in type(y.grad_fn).__name__.lower() or "sum" in repr(y.grad_fn).lower()
    (parent, _), = y.grad_fn.next_functions
    assert "mul" in repr(parent).lower()
    (leaf, _), *rest = parent.next_functions
    assert "accumulategrad" in repr(leaf).lower().replace("_", "")
    assert x.detach().is_leaf and x.detach().grad_fn is None
    with mg.no_grad():
        assert (x * 2).is_leaf


# -- dtypes of mixed and integer arithmetic ----------------------------------------------
# PyTorch computes a float result from integer inputs in the default dtype (float32), and
# a float tensor mixed with an integer tensor or a 0-d tensor keeps its own dtype
# (minigrad/promotion.py applies that rule).

PROMOTION = [
    case("int + int", lambda L, i: i + i * 2, "i"),
    case("int32 + int64", lambda L, i: i.int() + i, "i"),
    case("bool + int", lambda L, mask: mask + 1, "mask"),
    case("float32 * bool", lambda L, x, mask: x.float() * mask, "x mask", rtol=1e-7),
    case("float16 + float32", lambda L, x: x.half() + x.float(), rtol=1e-3),
    case("float32 * python float", lambda L, x: x.float() * 2.5, rtol=1e-7),
    case("int * python int", lambda L, i: i * 3, "i"),
    case("int.float() * float", lambda L, i: i.float() * 0.5, "i"),
    case("int / int", lambda L, i: i / 2, "i"),
    case("int * python float", lambda L, i: i * 1.5, "i"),
    case("int.div", lambda L, i: i.div(i + 1), "i"),
    case("float32 + int64", lambda L, x, i: x[:, :2].float() + i, "x i", rtol=1e-7),
    case("float32 + 0-d float64", lambda L, x, s: x.float() + s, "x s", rtol=1e-5),
    case("cat float32, int64", lambda L, x, i: L.cat([x[:, :2].float(), i]), "x i", rtol=1e-7),
    case("int.sqrt()", lambda L, i: i.sqrt(), "i", rtol=1e-7),
    case("int.exp()", lambda L, i: (i.exp(), L.exp(i), i.sigmoid(), (i + 1).log2(),
                                    (i + 1).rsqrt()), "i",
         rtol=1e-6),
    case("int.clamp(float)", lambda L, i: i.clamp(min=0.5), "i"),
]


@pytest.mark.parametrize("c", PROMOTION)
def test_result_dtypes_of_mixed_arithmetic_match_torch(c):
    check(c)


@pytest.mark.parametrize("call", [lambda x: x & 1, lambda x: x | x, lambda x: ~x,
                                  lambda x: mg.bitwise_xor(mg.tensor([1]), x)])
def test_bitwise_operators_refuse_floats_by_name(call):
    with pytest.raises(TypeError, match=r"bitwise_\w+: defined for bool and integer .*float32"):
        call(mg.tensor([1.5, 2.0]))


def test_in_place_bitwise_or_writes_into_the_tensor():
    x = mg.tensor([1, 2])
    alias = x
    x |= 4
    assert alias is x and x.tolist() == [5, 6]
