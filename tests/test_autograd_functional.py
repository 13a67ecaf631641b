"""mg.autograd.functional against torch.autograd.functional, float64.

Each function is written once against a library argument (``mg`` or ``torch``) and
differentiated by both; results must agree in nesting (tuple vs Tensor), shape and
value. Single and tuple inputs and outputs, both Jacobian strategies, create_graph.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import functional as AF

torch = pytest.importorskip("torch")
TF = torch.autograd.functional
# torch's own forward-mode jacobian (vectorize=True) warns about its use of torch.jit
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")

RNG = np.random.default_rng(7)
X = RNG.standard_normal((2, 3))
Y = RNG.standard_normal(3)
S = RNG.standard_normal(4)


# -- functions, written once for either library ----------------------------------------

def single(lib, x):                      # (2, 3) -> (2, 3)
    return lib.tanh(x) * x.sum() + x * x


def two_inputs(lib, x, y):               # (2, 3), (3,) -> (2,)
    return lib.exp(x) @ y + (y * y).sum()


def two_outputs(lib, x):                 # (2, 3) -> ((2, 3), ())
    return x * x * x, lib.tanh(x).sum()


def both_tuples(lib, x, y):              # -> ((2, 3), (3,))
    return x * y.sum(), lib.exp(y) * 2


def ignores_y(lib, x, y):                # output independent of y
    return x * 2


def scalar_one(lib, s):                  # (4,) -> ()
    return (lib.tanh(s) * s * s).sum() + (s.sum()) ** 3


def scalar_two(lib, x, y):               # (2, 3), (3,) -> ()
    return (lib.tanh(x) * (y * y).sum()).sum() + (x @ lib.exp(y)).sum() * (x * x).sum()


FUNCTIONS = {
    "single": (single, (X,)),
    "two_inputs": (two_inputs, (X, Y)),
    "two_outputs": (two_outputs, (X,)),
    "both_tuples": (both_tuples, (X, Y)),
}
SCALARS = {"scalar_one": (scalar_one, (S,)), "scalar_two": (scalar_two, (X, Y))}


def as_inputs(lib, arrays, as_tuple):
    made = tuple((mg.tensor if lib is mg else torch.tensor)(a.copy()) for a in arrays)
    return made if as_tuple else made[0]


def assert_same(mine, theirs, requires_grad=False):
    if isinstance(theirs, (tuple, list)):  # torch's forward-mode jacobian nests lists
        assert isinstance(mine, tuple) and len(mine) == len(theirs)
        for a, b in zip(mine, theirs):
            assert_same(a, b, requires_grad)
        return
    assert isinstance(mine, mg.Tensor), type(mine)
    assert mine.shape == tuple(theirs.shape)
    assert mine.dtype == np.float64
    assert mine.requires_grad == requires_grad
    np.testing.assert_allclose(mine.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


def both(fn, arrays, as_tuple):
    """(minigrad func, minigrad inputs, torch func, torch inputs)."""
    return (lambda *a: fn(mg, *a), as_inputs(mg, arrays, as_tuple),
            lambda *a: fn(torch, *a), as_inputs(torch, arrays, as_tuple))


# -- jacobian ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_jacobian_matches_torch(name, strategy):
    fn, arrays = FUNCTIONS[name]
    for as_tuple in ({True, len(arrays) > 1}):
        f, ins, tf, tins = both(fn, arrays, as_tuple)
        expected = TF.jacobian(tf, tins, vectorize=strategy == "forward-mode",
                               strategy=strategy)
        assert_same(AF.jacobian(f, ins, strategy=strategy), expected)


def test_jacobian_with_create_graph_is_differentiable():
    f, ins, tf, tins = both(two_inputs, (X, Y), True)
    for t in ins + tins:
        t.requires_grad_(True)
    jac = AF.jacobian(f, ins, create_graph=True)
    tjac = TF.jacobian(tf, tins, create_graph=True)
    assert_same(jac, tjac, requires_grad=True)
    total = (jac[0] * jac[0]).sum() + (jac[1] ** 3).sum()
    ttotal = (tjac[0] * tjac[0]).sum() + (tjac[1] ** 3).sum()
    assert_same(mg.autograd.grad(total, ins), torch.autograd.grad(ttotal, tins))


def test_jacobian_of_an_independent_input_is_zero_or_strict_error():
    f, ins, tf, tins = both(ignores_y, (X, Y), True)
    assert_same(AF.jacobian(f, ins), TF.jacobian(tf, tins))
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function is "
                                           "independent of input 1"):
        AF.jacobian(f, ins, strict=True)


# -- hessian -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", SCALARS)
@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_hessian_matches_torch(name, strategy):
    fn, arrays = SCALARS[name]
    for as_tuple in ({True, len(arrays) > 1}):
        f, ins, tf, tins = both(fn, arrays, as_tuple)
        assert_same(AF.hessian(f, ins, outer_jacobian_strategy=strategy),
                    TF.hessian(tf, tins))


def test_hessian_needs_a_single_element_output():
    with pytest.raises(RuntimeError, match="should contain a single element"):
        AF.hessian(lambda x: x * x, mg.tensor(S))


# -- vector products ---------------------------------------------------------------------

@pytest.mark.parametrize("name", FUNCTIONS)
def test_vjp_and_jvp_match_torch(name):
    fn, arrays = FUNCTIONS[name]
    f, ins, tf, tins = both(fn, arrays, True)
    with torch.no_grad():
        touts = tf(*tins)
    touts_t = touts if isinstance(touts, tuple) else (touts,)
    v_out = tuple(RNG.standard_normal(tuple(o.shape)) for o in touts_t)
    v_in = tuple(RNG.standard_normal(a.shape) for a in arrays)
    wrap = lambda lib, vs, like: (  # noqa: E731
        tuple((mg.tensor if lib is mg else torch.tensor)(v) for v in vs)
        if isinstance(like, tuple) else (mg.tensor if lib is mg else torch.tensor)(vs[0]))
    assert_same(AF.vjp(f, ins, wrap(mg, v_out, touts)), TF.vjp(tf, tins, wrap(torch, v_out, touts)))
    assert_same(AF.jvp(f, ins, wrap(mg, v_in, ins)), TF.jvp(tf, tins, wrap(torch, v_in, tins)))


@pytest.mark.parametrize("name", SCALARS)
def test_vhp_and_hvp_match_torch(name):
    fn, arrays = SCALARS[name]
    for as_tuple in ({True, len(arrays) > 1}):
        f, ins, tf, tins = both(fn, arrays, as_tuple)
        vs = [RNG.standard_normal(a.shape) for a in arrays]
        v = as_inputs(mg, vs, as_tuple)
        tv = as_inputs(torch, vs, as_tuple)
        assert_same(AF.vhp(f, ins, v), TF.vhp(tf, tins, tv))
        assert_same(AF.hvp(f, ins, v), TF.hvp(tf, tins, tv))


def test_v_may_be_omitted_for_single_elements():
    x, tx = mg.tensor(np.array([0.7])), torch.tensor(np.array([0.7]))
    f = lambda t: (mg.tanh(t) * t).sum()  # noqa: E731
    tf = lambda t: (torch.tanh(t) * t).sum()  # noqa: E731
    assert_same(AF.vjp(f, x), TF.vjp(tf, tx))
    assert_same(AF.jvp(f, x), TF.jvp(tf, tx))
    assert_same(AF.vhp(f, x), TF.vhp(tf, tx))
    assert_same(AF.hvp(f, x), TF.hvp(tf, tx))


def test_vector_products_with_create_graph_stay_on_the_tape():
    x = mg.tensor(S, requires_grad=True)
    tx = torch.tensor(S, requires_grad=True)
    out, hv = AF.hvp(lambda t: scalar_one(mg, t), x, mg.tensor(Y.tolist() + [1.0]),
                     create_graph=True)
    tout, thv = TF.hvp(lambda t: scalar_one(torch, t), tx, torch.tensor(Y.tolist() + [1.0]),
                       create_graph=True)
    assert_same((out, hv), (tout, thv), requires_grad=True)
    assert_same(mg.autograd.grad(hv.sum(), x), torch.autograd.grad(thv.sum(), tx))


def test_results_are_detached_and_inputs_untouched():
    x = mg.tensor(X, requires_grad=True)
    out, g = AF.vjp(lambda t: (t * t).sum(), x)
    assert not out.requires_grad and not g.requires_grad and x.grad is None


# -- errors -------------------------------------------------------------------------------

def test_errors_say_what_is_wrong():
    x = mg.tensor(X)
    with pytest.raises(RuntimeError, match="v can only be None if the user-provided function "
                                           "returns a single Tensor with a single element"):
        AF.vjp(lambda t: t * 2, x)
    with pytest.raises(RuntimeError, match=r"Entry 0 in v has invalid size: should be \(2, 3\)"):
        AF.vjp(lambda t: t * 2, x, mg.tensor(Y))
    with pytest.raises(RuntimeError, match="v is a tuple of invalid length: should be 1"):
        AF.jvp(lambda t: t * 2, x, (mg.tensor(X), mg.tensor(X)))
    with pytest.raises(TypeError, match="inputs given to jacobian must be either a Tensor or a "
                                        "tuple of Tensors but the value at index 0 has type"):
        AF.jacobian(lambda t: t, X)
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function does not "
                                           "require gradients"):
        AF.vjp(lambda t: mg.tensor(Y), x, mg.tensor(Y), strict=True)
    with pytest.raises(ValueError, match="strategy must be"):
        AF.jacobian(lambda t: t, x, strategy="sideways")
