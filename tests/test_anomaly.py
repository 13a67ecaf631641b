"""mg.autograd.detect_anomaly: a nan/inf made by a backward rule names the operation and
shows where its forward ran; off by default, where it records nothing."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import (Function, detect_anomaly, is_anomaly_enabled,
                               set_detect_anomaly)


def _line_of(marker):
    """The line number in this file of the source line containing ``marker``."""
    with open(__file__) as source:
        lines = source.read().splitlines()
    return next(i + 1 for i, line in enumerate(lines) if marker in line and "_line_of" not in line)


def test_off_by_default_and_records_nothing():
    assert not is_anomaly_enabled()
    x = mg.zeros(3, requires_grad=True)
    y = mg.sqrt(x)
    assert not hasattr(y.grad_fn, "trace")
    with np.errstate(divide="ignore"):
        y.sum().backward()  # as in PyTorch: an inf gradient, no error
    assert np.isinf(x.grad.numpy()).all()


def test_sqrt_at_zero_names_sqrt_and_the_line_of_its_forward():
    x = mg.zeros(3, requires_grad=True)
    with detect_anomaly():
        y = mg.sqrt(x).sum()  # forward of sqrt
        with np.errstate(divide="ignore"), pytest.raises(RuntimeError) as info:
            y.backward()
    message = str(info.value)
    assert "Function 'sqrt' returned inf values in its 0th output" in message
    assert f'test_anomaly.py", line {_line_of("# forward of sqrt")}' in message
    assert "mg.sqrt(x).sum()" in message
    assert "primitive.py" not in message  # the engine's own frames are trimmed
    assert not is_anomaly_enabled()


def test_nan_is_named_nan():
    x = mg.zeros(2, requires_grad=True)
    with detect_anomaly():
        y = (mg.sqrt(x) * 0).sum()
        with np.errstate(invalid="ignore"), \
                pytest.raises(RuntimeError, match="Function 'sqrt' returned nan values"):
            y.backward()


def test_set_detect_anomaly_as_call_and_context_manager():
    set_detect_anomaly(True)
    try:
        assert is_anomaly_enabled()
        with set_detect_anomaly(False):
            assert not is_anomaly_enabled()
        assert is_anomaly_enabled()
    finally:
        set_detect_anomaly(False)
    assert not is_anomaly_enabled()


def test_decorator_forms():
    @detect_anomaly
    def bare():
        return is_anomaly_enabled()

    @detect_anomaly()
    def called():
        return is_anomaly_enabled()

    assert bare() and called() and not is_anomaly_enabled()


def test_function_backward_producing_nan_names_the_function():
    class BadLog(Function):
        @staticmethod
        def forward(ctx, x):
            return mg.log(x)

        @staticmethod
        def backward(ctx, grad):
            return grad * mg.tensor(np.nan)

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with detect_anomaly():
        y = BadLog.apply(x)  # BadLog forward
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
    message = str(info.value)
    assert "Function 'BadLog' returned nan values in its 0th output" in message
    assert f'line {_line_of("# BadLog forward")}' in message


def test_node_recorded_before_detection_says_so():
    x = mg.zeros(1, requires_grad=True)
    y = mg.sqrt(x).sum()
    with detect_anomaly(), np.errstate(divide="ignore"), \
            pytest.raises(RuntimeError, match="ran before anomaly detection was turned on"):
        y.backward()


def test_an_error_in_a_backward_rule_carries_the_forward_traceback():
    class Broken(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            raise ValueError("broken rule")

    x = mg.tensor([1.0], requires_grad=True)
    with detect_anomaly():
        y = Broken.apply(x)  # Broken forward
        with pytest.raises(ValueError, match="broken rule") as info:
            y.sum().backward()
    notes = "".join(getattr(info.value, "__notes__", []))
    if hasattr(info.value, "add_note"):
        assert "Error in the backward of 'Broken'" in notes
        assert f'line {_line_of("# Broken forward")}' in notes


def test_finite_gradients_and_second_order_pass_under_detection():
    x = mg.tensor(np.array([0.5, 1.5]), requires_grad=True)
    with detect_anomaly():
        assert mg.gradcheck(lambda t: mg.tanh(t) * mg.exp(t), [x])
        assert mg.gradgradcheck(lambda t: mg.sqrt(t) * t, [x])
