"""In-place methods (issue 7, item 2) against PyTorch: the same results and gradients,
the version check that catches a saved tensor changed in place, optimizer-style updates
of parameters under no_grad or through ``.data``, and the refusals PyTorch makes.
Harness: ``test_pytorch_idioms``."""
import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")

from test_pytorch_idioms import INPUTS, assert_same, case, check  # noqa: E402

# x.clone() is a non-leaf in the graph: writing into it is recorded, and the gradient
# flows back through the write to x (and to the other operands), in both libraries.
IN_PLACE = [
    case("add_", lambda L, x, y: x.clone().add_(y), "x y"),
    case("add_(alpha)", lambda L, x, y: x.clone().add_(y, alpha=-0.5), "x y"),
    case("add_ broadcast", lambda L, x, c: x.clone().add_(c), "x c"),
    case("add_ number", lambda L, x: x.clone().add_(2.0)),
    case("sub_", lambda L, x, r: x.clone().sub_(r, alpha=3), "x r"),
    case("mul_", lambda L, x, y: x.clone().mul_(y), "x y"),
    case("mul_ number", lambda L, x: x.clone().mul_(0.5)),
    case("div_", lambda L, x, p: x.clone().div_(p), "x p"),
    case("pow_", lambda L, p: p.clone().pow_(2.5), "p"),
    case("neg_/abs_", lambda L, x: x.clone().neg_().abs_()),
    case("exp_/log_", lambda L, x, p: (x.clone().exp_(), p.clone().log_()), "x p"),
    case("add_ then exp_", lambda L, x: x.clone().add_(1.0).exp_()),
    case("sqrt_", lambda L, p: p.clone().sqrt_(), "p"),
    case("sigmoid_/tanh_/relu_", lambda L, x: (x.clone().sigmoid_(), x.clone().tanh_(),
                                               x.clone().relu_())),
    case("sin_/cos_", lambda L, x: (x.clone().sin_(), x.clone().cos_())),
    case("reciprocal_/square_", lambda L, x: (x.clone().reciprocal_(), x.clone().square_())),
    case("floor_/round_", lambda L, x: (x.clone().floor_(), x.clone().round_())),
    case("clamp_", lambda L, x: x.clone().clamp_(-0.5, 0.5)),
    case("clamp_(min=)", lambda L, x: x.clone().clamp_(min=0.0)),
    case("clamp_ tensors", lambda L, x, y: x.clone().clamp_(y - 0.3, y + 0.3), "x y"),
    case("clamp_min_/clamp_max_", lambda L, x: x.clone().clamp_min_(-1.0).clamp_max_(1.0)),
    case("lerp_", lambda L, x, y: x.clone().lerp_(y, 0.25), "x y"),
    case("copy_", lambda L, x, y: x.clone().copy_(y), "x y"),
    case("copy_ broadcast", lambda L, x, r: x.clone().copy_(r), "x r"),
    case("copy_ cast", lambda L, x, i: x[:, :2].clone().copy_(i), "x i"),
    case("fill_", lambda L, x: x.clone().fill_(1.5)),
    case("fill_ 0-d tensor", lambda L, x, s: x.clone().fill_(s), "x s"),
    case("zero_", lambda L, x: x.clone().zero_()),
    case("masked_fill_", lambda L, x, mask: x.clone().masked_fill_(mask, -1.0), "x mask"),
    case("masked_fill_ 0-d", lambda L, x, s, mask: x.clone().masked_fill_(mask, s),
         "x s mask"),
    case("scatter_", lambda L, x, i, y: x.clone().scatter_(1, i, y[:, :2]), "x i y"),
    case("scatter_ value", lambda L, x, i: x.clone().scatter_(1, i, 0.0), "x i"),
    case("scatter_add_", lambda L, x, i, y: x.clone().scatter_add_(1, i, y[:, :2]), "x i y"),
    case("index_fill_", lambda L, x, k: x.clone().index_fill_(1, k, 9.0), "x k"),
    case("index_add_", lambda L, x, k, y: x.clone().index_add_(0, k, y[:2]), "x k y"),
    case("tril_/triu_", lambda L, sq: (sq.clone().tril_(), sq.clone().triu_(1)), "sq"),
    case("chain", lambda L, x, y: x.clone().mul_(2).add_(y).div_(3).exp_(), "x y"),
    case("then used", lambda L, x, y: (x.clone().mul_(y) * y).sum(1), "x y"),
    case("iadd", lambda L, x, y: _iadd(x.clone(), y), "x y"),
    case("isub/imul/idiv", lambda L, x, p: _iops(x.clone(), p), "x p"),
    case("random fill in graph", lambda L, x: x.clone().uniform_().shape),
    case("random fill then grad", lambda L, x: x.clone().normal_() * 0 + x),
    case("add_ float32 into float64", lambda L, x, y: x.clone().add_(y.float()), "x y",
         rtol=1e-7),
    case("copy_ float32 into float64", lambda L, x, y: x.clone().copy_(y.float()), "x y",
         rtol=1e-7),
    case("no graph", lambda L, x, y: x.detach().clone().mul_(y.detach()).add_(1.0), "x y"),
    case("int add_", lambda L, i: i.clone().add_(2).mul_(3), "i"),
    case("bool masked_fill_", lambda L, mask: mask.clone().masked_fill_(mask, False), "mask"),
    case("returns self", lambda L, x: _is_self(x.detach().clone())),
]


def _iadd(t, other):
    t += other
    return t


def _iops(t, p):
    t -= p
    t *= p
    t /= 2.0
    return t


def _is_self(t):
    return (t.add_(1.0) is t, t.zero_() is t, t.fill_(2.0) is t, t.clamp_(0.0, 1.0) is t)


@pytest.mark.parametrize("c", IN_PLACE)
def test_in_place_methods_match_torch(c):
    check(c)


def test_plain_tensor_is_written_in_memory():
    array = np.zeros(3)
    t = mg.from_numpy(array)
    t.add_(1.0)
    t[1] = 5.0
    t.mul_(2.0)
    np.testing.assert_array_equal(array, [2.0, 10.0, 2.0])  # the same memory, as torch's


@pytest.mark.parametrize("lib", [mg, torch], ids=["minigrad", "torch"])
def test_a_saved_parameter_changed_under_no_grad_fails_backward(lib):
    p = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss = (p * p).sum()  # mul saves p
    with lib.no_grad():
        p.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an in-?place operation"):
        loss.backward()


@pytest.mark.parametrize("lib", [mg, torch], ids=["minigrad", "torch"])
@pytest.mark.parametrize("change", [
    lambda t: t.mul_(2.0), lambda t: t.zero_(), lambda t: t.fill_(1.0),
    lambda t: t.copy_(t * 3), lambda t: t.clamp_(0.0, 0.1), lambda t: t[1:].add_(5.0),
    lambda t: t.__setitem__(1, 0.0), lambda t: t.uniform_(), lambda t: t.masked_fill_(t > 1, 0),
], ids=["mul_", "zero_", "fill_", "copy_", "clamp_", "view add_", "setitem", "uniform_",
        "masked_fill_"])
def test_a_saved_input_changed_in_place_fails_backward(lib, change):
    w = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
    x = lib.tensor([1.0, 2.0, 3.0])  # no grad of its own, saved by mul for w's gradient
    loss = (w * x).sum()
    change(x)
    with pytest.raises(RuntimeError, match="modified by an in-?place operation"):
        loss.backward()


def test_writing_into_one_element_writes_into_the_tensor():
    x = mg.tensor([1.0, 2.0, 3.0])
    x[0].add_(5.0)  # as torch: x[0] is a view, so x becomes [6, 2, 3]
    np.testing.assert_array_equal(x.numpy(), [6.0, 2.0, 3.0])
    m = mg.zeros(2, 3)
    m[1, 2].fill_(7.0)
    assert m[1, 2].item() == 7.0 and m.sum().item() == 7.0


def test_a_write_after_backward_is_harmless():
    w = mg.tensor([0.5, -1.0], requires_grad=True)
    x = mg.tensor([1.0, 2.0])
    (w * x).sum().backward()
    x.mul_(2.0)
    (w * x).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 6.0])


@pytest.mark.parametrize("lib", [mg, torch], ids=["minigrad", "torch"])
@pytest.mark.parametrize("update", [
    lambda p: p.add_(1.0), lambda p: p.mul_(2.0), lambda p: p.zero_(), lambda p: p.fill_(0.0),
    lambda p: p.copy_(p.detach() * 2), lambda p: p.clamp_(-1.0, 1.0),
    lambda p: p.uniform_(-0.1, 0.1), lambda p: p.normal_(), lambda p: p.__iadd__(1.0),
], ids=["add_", "mul_", "zero_", "fill_", "copy_", "clamp_", "uniform_", "normal_", "+="])
def test_a_leaf_that_requires_grad_refuses_in_place_outside_no_grad(lib, update):
    p = lib.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf .*requires grad is being used in an in-place "
                                           "operation"):
        update(p)
    with lib.no_grad():
        update(p)  # the optimizer's way: allowed
    assert p.requires_grad and p.is_leaf and p.grad is None


def test_optimizer_updates_match_torch():
    lr = 0.1
    params = {}
    for lib in (mg, torch):
        p = lib.tensor(INPUTS["x"], requires_grad=True)
        q = lib.tensor(INPUTS["y"], requires_grad=True)
        for _ in range(2):
            loss = ((p * q).tanh() ** 2).sum()
            loss.backward()
            with lib.no_grad():  # plain SGD with momentum-free weight decay
                p.add_(p.grad, alpha=-lr)
                p.mul_(1 - lr * 0.01)
            q.data.add_(q.grad, alpha=-lr)  # the classic pre-1.0 idiom
            p.grad.zero_()
            q.grad = None
        params[lib] = (p, q)
    (p, q), (tp, tq) = params[mg], params[torch]
    assert p.is_leaf and p.requires_grad and q.requires_grad
    assert_same(p.detach(), tp.detach())
    assert_same(q.detach(), tq.detach())


def test_data_shares_memory_and_bypasses_the_leaf_check():
    p = mg.tensor([1.0, 2.0], requires_grad=True)
    d = p.data
    assert not d.requires_grad
    d.mul_(3.0)
    np.testing.assert_array_equal(p.numpy(), [3.0, 6.0])


def test_requires_grad_():
    x = mg.zeros(2, 3)
    assert x.requires_grad_() is x and x.requires_grad
    assert x.requires_grad_(False) is x and not x.requires_grad
    with pytest.raises(RuntimeError, match="only floating point tensors can require gradients"):
        mg.zeros(2, dtype=mg.int64).requires_grad_()
    y = mg.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="requires_grad can only be turned off on leaf"):
        y.requires_grad_(False)


@pytest.mark.parametrize("call, error, match", [
    (lambda: mg.zeros(3, dtype=mg.int64).add_(1.5), TypeError,
     r"add_: result dtype float\d+ can't be cast to the in-place target's dtype int64"),
    (lambda: mg.zeros(3, 1).add_(mg.zeros(3, 4)), ValueError,
     r"add_: the result has shape \(3, 4\), which does not fit the in-place target of "
     r"shape \(3, 1\)"),
    (lambda: mg.zeros(3).copy_(mg.zeros(2)), ValueError, r"\(2,\).*\(3,\)"),
    (lambda: mg.zeros(3, dtype=mg.int64).uniform_(), TypeError,
     "uniform_ needs a floating point tensor, got dtype int64"),
])
def test_bad_in_place_calls_name_what_is_wrong(call, error, match):
    with pytest.raises(error, match=match):
        call()


# -- random fills ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_random_fills_keep_dtype_shape_and_range(dtype):
    t = mg.empty(400, 5, dtype=dtype)
    assert t.uniform_(-2.0, 3.0) is t and t.dtype == dtype and t.shape == (400, 5)
    a = t.numpy().astype(np.float64)
    assert a.min() >= -2.0 and a.max() <= 3.0 and abs(a.mean() - 0.5) < 0.15
    a = t.normal_(1.0, 0.5).numpy().astype(np.float64)
    assert abs(a.mean() - 1.0) < 0.05 and abs(a.std() - 0.5) < 0.05
    a = t.bernoulli_(0.3).numpy()
    assert set(np.unique(a)) <= {0.0, 1.0} and abs(a.mean() - 0.3) < 0.05
    a = t.exponential_(2.0).numpy().astype(np.float64)
    assert a.min() >= 0 and abs(a.mean() - 0.5) < 0.05
    a = t.uniform_().numpy()
    assert a.min() >= 0.0 and a.max() < 1.0 + 1e-3
    assert t.dtype == dtype


def test_random_fill_keywords_and_tensor_probabilities():
    t = mg.empty(1000)
    t.uniform_(**{"from": 2.0, "to": 4.0})
    assert t.min().item() >= 2.0 and t.max().item() <= 4.0
    t.normal_(mean=-3.0, std=0.1)
    assert abs(t.mean().item() + 3.0) < 0.02
    p = mg.tensor([0.0, 1.0] * 500)
    np.testing.assert_array_equal(t.bernoulli_(p).numpy(), p.numpy())
    assert mg.zeros(3, dtype=mg.int64).bernoulli_(1.0).tolist() == [1, 1, 1]


def test_random_fills_are_seeded():
    def draw():
        mg.manual_seed(123)
        t = mg.empty(5)
        return np.concatenate([t.uniform_().numpy().copy(), t.normal_().numpy().copy(),
                               t.bernoulli_(0.5).numpy().copy(), t.exponential_().numpy()])
    np.testing.assert_array_equal(draw(), draw())


def test_random_fill_of_a_parameter_under_no_grad_as_init_does():
    w = mg.zeros(20, 30, requires_grad=True)
    with mg.no_grad():
        w.uniform_(-0.1, 0.1)
    assert w.requires_grad and w.is_leaf and 0 < w.abs().max().item() <= 0.1


def test_a_recorded_write_to_a_saved_graph_tensor_keeps_the_gradient_of_what_ran():
    """A deliberate difference: torch refuses this backward (exp saved its output, which
    mul_ overwrote); here the write gives y a new recorded value and leaves the saved one
    alone, so the gradient is the one of the computation that ran."""
    tx = torch.tensor([0.5, -1.0], requires_grad=True)
    ty = tx.exp()
    ty.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ty.sum().backward()
    x = mg.tensor([0.5, -1.0], requires_grad=True)
    y = x.exp()
    y.mul_(2.0)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([0.5, -1.0]), rtol=1e-6)  # float32


@pytest.mark.parametrize("lib", [mg, torch], ids=["minigrad", "torch"])
def test_an_unrecorded_write_to_a_saved_graph_tensor_fails_backward(lib):
    x = lib.tensor([0.5, -1.0], requires_grad=True)
    y = x.exp()
    with lib.no_grad():
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an in-?place operation"):
        y.sum().backward()
