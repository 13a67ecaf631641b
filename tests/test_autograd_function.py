"""mg.autograd.Function (user-defined ops), grad_fn / next_functions, and mg.autograd itself.

Float64 throughout. A Function's gradient is checked against central differences
(gradcheck, gradgradcheck through a backward written with minigrad ops) and, where
PyTorch is installed, against the same Function written for torch.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis.extra import numpy as hnp
from hypothesis import strategies as st

import minigrad as mg
from minigrad.autograd import Function

F64 = np.float64


def leaf(array):
    return mg.tensor(np.asarray(array, dtype=F64), requires_grad=True)


def values(shape, lo=-2.0, hi=2.0):
    return hnp.arrays(F64, shape, elements=st.floats(lo, hi, allow_nan=False,
                                                     allow_subnormal=False))


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


# -- Functions used below ---------------------------------------------------------------

class Exp(Function):
    """Saves its output: a second derivative flows through this node again."""

    @staticmethod
    def forward(ctx, x):
        y = mg.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad * y


class ScaledMul(Function):
    """Two tensors and a float; the float gets a None gradient."""

    @staticmethod
    def forward(ctx, x, y, scale):
        ctx.save_for_backward(x, y)
        ctx.scale = scale
        return x * y * scale

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return grad * y * ctx.scale, grad * x * ctx.scale, None


class SplitScale(Function):
    """Two outputs, each saved; split at a position given as a keyword argument."""

    @staticmethod
    def forward(ctx, x, *, at):
        a, b = mg.exp(x[:at]), x[at:] * x[at:]
        ctx.save_for_backward(a, x)
        ctx.at = at
        return a, b

    @staticmethod
    def backward(ctx, grad_a, grad_b):
        a, x = ctx.saved_tensors
        return mg.concatenate([grad_a * a, grad_b * 2 * x[ctx.at:]])


class SortDesc(Function):
    """Values and (non-differentiable) indices, as torch.sort."""

    @staticmethod
    def forward(ctx, x):
        order = np.argsort(-x.numpy(), kind="stable")
        idx = mg.tensor(order)
        ctx.mark_non_differentiable(idx)
        ctx.save_for_backward(idx)
        ctx.n = x.shape[0]
        return x[idx], idx

    @staticmethod
    def backward(ctx, grad_values, grad_idx):
        idx, = ctx.saved_tensors
        inverse = np.empty(ctx.n, dtype=np.int64)
        inverse[idx.numpy()] = np.arange(ctx.n)
        return grad_values[mg.tensor(inverse)]


# -- values and gradients ----------------------------------------------------------------

@given(st.data())
def test_exp_function_gradients_match_central_differences(data):
    x = data.draw(values(data.draw(shapes)))
    assert mg.gradcheck(Exp.apply, [leaf(x)])
    assert mg.gradgradcheck(Exp.apply, [leaf(x)])


@given(st.data())
def test_function_with_two_tensors_and_a_float(data):
    shape = data.draw(shapes)
    x, y = data.draw(values(shape)), data.draw(values(shape))
    fn = lambda a, b: ScaledMul.apply(a, b, 1.5)  # noqa: E731
    assert mg.gradcheck(fn, [leaf(x), leaf(y)])
    assert mg.gradgradcheck(fn, [leaf(x), leaf(y)])


def test_needs_input_grad_reports_which_inputs_get_a_gradient():
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x, y, k):
            seen.append(ctx.needs_input_grad)
            return x + y

        @staticmethod
        def backward(ctx, grad):
            return grad, grad, None

    x = leaf([1.0, 2.0])
    Probe.apply(x, mg.tensor([3.0, 4.0]), 7)
    with mg.no_grad():
        Probe.apply(x, x, 7)
    assert seen == [(True, False, False), (False, False, False)]


def test_float_input_and_non_tensor_argument_gradients():
    x, y = leaf([1.0, 2.0]), mg.tensor(np.array([3.0, 4.0]))
    ScaledMul.apply(x, y, 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 8.0])
    assert y.grad is None


def test_tuple_outputs_run_backward_once_with_every_gradient():
    calls = []

    class Pair(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            calls.append(1)
            return ga * 2 + gb * 3

    x = leaf([1.0, 2.0])
    a, b = Pair.apply(x)
    (a.sum() + 10 * b.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), [32.0, 32.0])
    assert calls == [1]


def test_an_unused_output_gets_zeros_or_none_without_materialising():
    received = []

    class Pair(Function):
        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            received.append(gb if gb is None else gb.numpy().tolist())
            return ga * 2, None

    for materialize in (True, False):
        x = leaf([1.0, 2.0])
        a, _ = Pair.apply(x, materialize)
        a.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])
    assert received == [[0.0, 0.0], None]


@given(st.data())
def test_two_saved_outputs_first_and_second_derivatives(data):
    x = data.draw(values((5,)))
    fn = lambda t: SplitScale.apply(t, at=2)  # noqa: E731
    assert mg.gradcheck(fn, [leaf(x)])
    assert mg.gradgradcheck(fn, [leaf(x)])


def test_mark_non_differentiable_output_has_no_gradient():
    x = leaf([0.5, 3.0, 1.0])
    values_, idx = SortDesc.apply(x)
    assert values_.requires_grad and not idx.requires_grad
    np.testing.assert_array_equal(idx.numpy(), [1, 2, 0])
    (values_ * mg.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [100.0, 1.0, 10.0])


def test_setup_context_style():
    class Square(Function):
        @staticmethod
        def forward(x):
            return x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, = inputs
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return 2 * grad * x

    x = leaf([1.0, -3.0])
    Square.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -6.0])


def test_returning_an_input_does_not_reparent_it():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    x = leaf([1.0, 2.0])
    y = Identity.apply(x)
    assert y is not x and x.is_leaf and not y.is_leaf
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_gradient_broadcast_to_the_input_shape_is_summed_back():
    class AddRow(Function):
        @staticmethod
        def forward(ctx, x, row):
            return x + row

        @staticmethod
        def backward(ctx, grad):
            return grad, grad  # (2, 3) for row of shape (3,): the tape sums it back

    x, row = leaf(np.ones((2, 3))), leaf(np.ones(3))
    AddRow.apply(x, row).sum().backward()
    np.testing.assert_allclose(row.grad.numpy(), [2.0, 2.0, 2.0])


def test_no_grad_and_non_requiring_inputs_record_nothing():
    x = leaf([1.0])
    with mg.no_grad():
        assert not Exp.apply(x).requires_grad
    assert not Exp.apply(mg.tensor([1.0])).requires_grad


def test_hooks_and_retain_grad_on_function_outputs():
    x = leaf([1.0, 2.0])
    a, b = SplitScale.apply(x, at=1)
    a.retain_grad()
    seen = []
    b.register_hook(lambda g: seen.append(g.numpy().copy()))
    (3 * a.sum() + b.sum()).backward()
    np.testing.assert_allclose(a.grad.numpy(), [3.0])
    np.testing.assert_allclose(seen[0], [1.0])


def test_mg_grad_through_a_function():
    x = leaf([0.0, 1.0])
    g, = mg.autograd.grad(Exp.apply(x).sum(), x)
    np.testing.assert_allclose(g.numpy(), np.exp([0.0, 1.0]))
    assert x.grad is None


# -- the registry and name collisions ---------------------------------------------------

def _make_square(factor):
    class Square(Function):  # the same class name each time
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return grad * x * factor

    return Square


def test_functions_are_not_registered_and_same_names_do_not_collide():
    before = set(mg.primitives)
    first, second = _make_square(2.0), _make_square(5.0)
    assert set(mg.primitives) == before
    x = leaf([1.0])
    first.apply(x).backward()
    second.apply(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [7.0])
    assert "Square" not in mg.primitives and "function_output" not in mg.primitives


# -- saved tensors obey the engine's rules ----------------------------------------------

def test_saved_tensors_are_released_after_backward():
    x = leaf([1.0, 2.0])
    y = Exp.apply(x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_keeps_saved_tensors():
    x = leaf([1.0, 2.0])
    y = ScaledMul.apply(x, x, 1.0).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_in_place_change_of_a_saved_tensor_is_detected():
    x, c = leaf([1.0, 2.0]), mg.tensor(np.array([3.0, 4.0]))
    y = ScaledMul.apply(x, c, 1.0).sum()
    c += 1  # c does not require grad: changed in place, after it was saved
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_saved_tensors_only_in_backward():
    class Peek(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return ctx.saved_tensors[0]

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(RuntimeError, match="Peek: ctx.saved_tensors can only be read in backward"):
        Peek.apply(leaf([1.0]))


# -- errors name the Function, the input and the shapes ---------------------------------

class TooFew(Function):
    @staticmethod
    def forward(ctx, x, y):
        return x * y

    @staticmethod
    def backward(ctx, grad):
        return grad


class WrongShape(Function):
    @staticmethod
    def forward(ctx, x, y):
        return (x * y).sum()

    @staticmethod
    def backward(ctx, grad):
        return grad * mg.ones((2, 3), dtype=F64), mg.ones(3, dtype=F64)


def test_wrong_number_of_gradients_names_the_function():
    x, y = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError,
                       match=r"TooFew.backward returned 1 gradient\(s\), but forward took 2"):
        TooFew.apply(x, y).sum().backward()


def test_wrong_gradient_shape_names_function_input_and_shapes():
    x, y = leaf(np.ones((2, 3))), leaf(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"WrongShape.backward returned a gradient of shape "
                                           r"\(3,\) for input 1, which has shape \(2, 3\)"):
        WrongShape.apply(x, y).backward()


def test_non_tensor_gradient_and_bad_forward_results():
    class ReturnsList(Function):
        @staticmethod
        def forward(ctx, x):
            return [x]

    class ArrayGrad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            return np.ones(2)

    with pytest.raises(TypeError, match="ReturnsList.forward must return a Tensor or a tuple"):
        ReturnsList.apply(leaf([1.0]))
    with pytest.raises(TypeError, match="ArrayGrad.backward returned a ndarray as the gradient "
                                        "of input 0"):
        ArrayGrad.apply(leaf([1.0, 2.0])).sum().backward()
    with pytest.raises(TypeError, match="save_for_backward takes Tensors or None"):
        class SavesArray(Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(np.ones(1))
                return x
        SavesArray.apply(leaf([1.0]))


# -- grad_fn and next_functions ----------------------------------------------------------

def test_grad_fn_names_and_next_functions():
    x, y = leaf([1.0, 2.0]), mg.tensor([3.0, 4.0], dtype=F64)
    z = (x * y).sum()
    assert z.grad_fn.name() == "SumBackward"
    (mul, index), = z.grad_fn.next_functions
    assert index == 0 and mul.name() == "MultiplyBackward"
    assert repr(mul).startswith("<MultiplyBackward object at 0x")
    (acc, _), (none, _) = mul.next_functions
    assert acc.name() == "AccumulateGrad" and acc.variable is x and acc.next_functions == ()
    assert none is None
    assert x.grad_fn is None and y.grad_fn is None


def test_grad_fn_of_functions_and_their_outputs():
    x = leaf([1.0, 2.0, 3.0])
    assert Exp.apply(x).grad_fn.name() == "ExpBackward"
    a, b = SplitScale.apply(x, at=1)
    assert a.grad_fn.name() == b.grad_fn.name() == "SplitScaleBackward"
    assert a.grad_fn.next_functions[0][0].variable is x
    total = a.sum() + b.sum()
    (sum_a, _), (sum_b, _) = total.grad_fn.next_functions
    assert sum_a.next_functions[0][1] == 0 and sum_b.next_functions[0][1] == 1


# -- PyTorch as the oracle ---------------------------------------------------------------

def test_functions_match_torch_custom_functions():
    torch = pytest.importorskip("torch")

    class TorchSplitScale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, at):
            a, b = torch.exp(x[:at]), x[at:] * x[at:]
            ctx.save_for_backward(a, x)
            ctx.at = at
            return a, b

        @staticmethod
        def backward(ctx, grad_a, grad_b):
            a, x = ctx.saved_tensors
            return torch.cat([grad_a * a, grad_b * 2 * x[ctx.at:]]), None

    data = np.array([0.3, -1.2, 0.7, 2.0])
    weights = np.array([1.0, -2.0, 0.5, 3.0])

    tx = torch.tensor(data, requires_grad=True)
    ta, tb = TorchSplitScale.apply(tx, 2)
    tloss = (torch.cat([ta, tb]) ** 2 * torch.tensor(weights)).sum()
    tg, = torch.autograd.grad(tloss, tx, create_graph=True)
    tgg, = torch.autograd.grad((tg * tg).sum(), tx)

    x = leaf(data)
    a, b = SplitScale.apply(x, at=2)
    loss = (mg.concatenate([a, b]) ** 2 * mg.tensor(weights)).sum()
    g, = mg.autograd.grad(loss, x, create_graph=True)
    gg, = mg.autograd.grad((g * g).sum(), x)

    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
    np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-12)
    assert type(tloss.grad_fn).__name__.startswith("SumBackward")
    assert loss.grad_fn.name() == "SumBackward"


# -- mg.autograd is the public package ---------------------------------------------------

def test_autograd_package_exports():
    assert mg.autograd.backward is mg.backward and mg.autograd.grad is mg.grad
    from minigrad.autograd import (FREED_MESSAGE, backward, grad,  # noqa: F401
                                   run_backward, unbroadcast)
    assert callable(mg.autograd.functional.jacobian)
    x = leaf([1.0, 2.0])
    mg.autograd.backward([(x * x).sum()])
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
