"""Bad input gets an error that says what is wrong (exact wording checked)."""
import importlib.util
import re

import numpy as np
import pytest

import minigrad as mg


@pytest.fixture(scope="module")
def fakecuda():
    mg.register_backend("fakecuda", lambda: mg.backends.ArrayBackend("fakecuda", "fakecuda", np))
    return mg.get_backend("fakecuda")


def shapes_named(*shapes):
    """A regex that requires every shape, written as Python writes a tuple, in the message."""
    return "".join(f"(?=.*{re.escape(str(s))})" for s in shapes)


# -- shapes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("a_shape, b_shape", [((2, 3), (4, 3)), ((3,), (4,)), ((2, 1, 5), (3, 4))])
@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide", "maximum"])
def test_elementwise_shape_mismatch_names_the_op_and_both_shapes(op, a_shape, b_shape):
    a = mg.ones(a_shape, requires_grad=True)
    b = mg.ones(b_shape)
    with pytest.raises(ValueError, match=f"^{op}: " + shapes_named(a_shape, b_shape)):
        getattr(mg, op)(a, b)


def test_operator_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"^add: .*input shapes \(2, 3\) and \(4, 3\)"):
        mg.ones((2, 3)) + mg.ones((4, 3))
    with pytest.raises(ValueError, match=r"^where: " + shapes_named((2,), (3,), (4,))):
        mg.where(mg.ones(2) > 0, mg.ones(3), mg.ones(4))


@pytest.mark.parametrize("a_shape, b_shape", [((2, 3), (4, 3)), ((3,), (4,)), ((5, 2, 3), (2, 3)),
                                              ((2, 3), (2,))])
def test_matmul_shape_mismatch_names_both_shapes(a_shape, b_shape):
    a, b = mg.ones(a_shape, requires_grad=True), mg.ones(b_shape)
    with pytest.raises(ValueError, match="^" + shapes_named(a_shape, b_shape) +
                       r"matmul: shapes .* are not aligned"):
        a @ b


def test_matmul_of_a_scalar_is_refused():
    with pytest.raises(ValueError, match=r"at least one dimension.*\(\) and \(3,\)"):
        mg.matmul(mg.tensor(2.0), mg.ones(3))


def test_batched_matmul_with_batches_that_do_not_broadcast_names_both_shapes():
    with pytest.raises(ValueError, match=r"^matmul: " + shapes_named((2, 3, 4), (5, 4, 2))):
        mg.ones((2, 3, 4)) @ mg.ones((5, 4, 2))


def test_shape_op_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"cannot reshape a tensor of shape \(2, 3\) "
                                         r"\(6 elements\) into shape \(4,\)"):
        mg.ones((2, 3)).reshape(4)
    with pytest.raises(ValueError, match=r"cannot broadcast a tensor of shape \(3,\) to shape "
                                         r"\(2, 4\)"):
        mg.broadcast_to(mg.ones(3), (2, 4))
    with pytest.raises(ValueError, match=r"concatenate: tensors of shapes \(2, 3\) and \(2, 4\) "
                                         r"do not fit together along axis 0"):
        mg.concatenate([mg.ones((2, 3)), mg.ones((2, 4))])
    with pytest.raises(ValueError, match=r"stack needs tensors of one shape, got "
                                         r"\[\(2,\), \(3,\)\]"):
        mg.stack([mg.ones(2), mg.ones(3)])
    assert mg.squeeze(mg.ones((2, 1)), 0).shape == (2, 1)  # PyTorch: not size 1, left alone
    with pytest.raises(ValueError, match=r"permute: \(0, 0\) is not a permutation of the dims "
                                         r"of a tensor of shape \(2, 3\)"):
        mg.permute(mg.ones((2, 3)), (0, 0))
    with pytest.raises(IndexError, match=r"sum: dim 2 is out of range for a tensor of 2 "
                                         r"dimensions \(expected a dim in \[-2, 1\]\)"):
        mg.ones((2, 3)).sum(axis=2)


def test_gradient_of_the_wrong_shape_names_both_shapes():
    y = mg.ones(3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"gradient has shape \(2,\) but the output has "
                                           r"shape \(3,\)"):
        y.backward(mg.ones(2))


# -- backward --------------------------------------------------------------------------------------

def test_backward_of_a_non_scalar_without_gradient_says_so():
    y = mg.ones((2, 3), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"grad can be implicitly created only for scalar "
                                           r"outputs; this output has shape \(2, 3\), so pass "
                                           r"`gradient=`"):
        y.backward()
    y.backward(mg.ones((2, 3)))  # with the gradient it works


def test_backward_of_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match=r"does not require grad"):
        mg.ones(2).sum().backward()


def test_grad_for_an_input_that_does_not_require_grad():
    x = mg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"one of the inputs does not require grad"):
        mg.grad((x * 2).sum(), [x, mg.ones(2)])


# -- dtypes ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: mg.tensor([1, 2, 3], requires_grad=True),
    lambda: mg.tensor(np.arange(3, dtype=np.int32), requires_grad=True),
    lambda: mg.tensor([True, False]).requires_grad_(),
    lambda: mg.arange(3, requires_grad=True),
])
def test_requires_grad_on_an_integer_or_bool_tensor_is_refused(make):
    with pytest.raises(RuntimeError, match=r"only floating point tensors can require "
                                           r"gradients, got dtype (int64|int32|bool)"):
        make()


def test_requires_grad_cannot_be_switched_off_on_a_non_leaf():
    y = mg.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"only be turned off on leaf tensors; use "
                                           r"\.detach\(\)"):
        y.requires_grad = False


# -- devices ------------------------------------------------------------------------------------------

def test_mixing_devices_names_the_op_and_both_devices(fakecuda):
    a = mg.ones(3, requires_grad=True).to("fakecuda")
    assert a.device == "fakecuda"
    b = mg.ones(3, device="cpu")
    with pytest.raises(RuntimeError, match=r"Expected all tensors to be on the same device, but "
                                           r"found at least two devices, fakecuda and cpu! "
                                           r"\(when checking arguments for add\)"):
        a + b
    with pytest.raises(RuntimeError, match=r"two devices, cpu and fakecuda! \(when checking "
                                           r"arguments for multiply\)"):
        b * a
    with pytest.raises(RuntimeError, match=r"fakecuda and cpu.*for matmul"):
        a @ b
    with pytest.raises(RuntimeError, match=r"cpu and fakecuda.*for concatenate"):
        mg.concatenate([b, a])
    with pytest.raises(RuntimeError, match=r"fakecuda and cpu.*for less"):
        a < b  # ops without a gradient check too


def test_gradient_on_another_device_is_refused(fakecuda):
    y = mg.ones(3, requires_grad=True, device="cpu") * 2
    with pytest.raises(RuntimeError, match=r"gradient is on device fakecuda but the output is "
                                           r"on cpu"):
        y.backward(mg.ones(3).to("fakecuda"))


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown backend or device 'tpu'; known backends: "
                                         r"\[.*'numpy'.*\]"):
        mg.set_backend("tpu")


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed")
@pytest.mark.parametrize("ask", [
    lambda: mg.set_backend("cupy"),
    lambda: mg.get_backend("cuda"),
    lambda: mg.ones(2).to("cuda"),
    lambda: mg.ones(2).cuda(),
])
def test_cupy_without_cupy_says_how_to_install_it(ask):
    before = mg.current_backend()
    with pytest.raises(RuntimeError, match=r"needs CuPy.*install it with `pip install "
                                           r"'minigrad\[gpu\]'`"):
        ask()
    assert mg.current_backend() is before


# -- misc -----------------------------------------------------------------------------------------------

def test_item_of_a_multi_element_tensor():
    with pytest.raises(ValueError, match=r"item\(\) needs a tensor with exactly one element, "
                                         r"got shape \(2,\)"):
        mg.ones(2).item()


def test_clip_needs_a_bound():
    with pytest.raises(ValueError, match=r"clamp: give at least one of min and max"):
        mg.clip(mg.ones(2))


def test_split_sizes_must_add_up():
    with pytest.raises(ValueError, match=r"split: sizes \[2, 2\] must add up to 5, the size of "
                                         r"dim 0 \(shape \(5,\)\)"):
        mg.split(mg.ones(5), [2, 2])


def test_hook_on_a_tensor_without_grad():
    with pytest.raises(RuntimeError, match=r"cannot register a hook on a tensor that doesn't "
                                           r"require grad"):
        mg.ones(2).register_hook(lambda g: g)
