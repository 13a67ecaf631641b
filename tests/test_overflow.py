"""backends/float_errors.py: NumPy's overflow warning off around one call, the user's other
floating-point settings left as they are, before, during and after."""
import warnings

import numpy as np
import pytest

from minigrad.backends.float_errors import ignoring_overflow

BIG = np.array([-1000.0, 0.0], dtype=np.float32)


def test_an_overflowing_exp_neither_warns_nor_raises():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ignoring_overflow(np.exp, -BIG)
    assert np.isinf(out[0]) and out[1] == 1.0
    with np.errstate(over="raise"):
        ignoring_overflow(np.exp, -BIG)


def test_the_settings_in_force_are_kept_for_everything_but_overflow():
    with np.errstate(divide="raise", over="raise"):
        with pytest.raises(FloatingPointError):
            ignoring_overflow(np.divide, np.float64(1.0), np.float64(0.0))
        assert np.geterr()["over"] == "raise" and np.geterr()["divide"] == "raise"
        with pytest.raises(FloatingPointError):
            np.exp(-BIG)  # restored after the call
    assert np.geterr()["divide"] == "warn"


def test_changed_settings_are_seen_again():
    with np.errstate(invalid="raise"):
        with pytest.raises(FloatingPointError):
            ignoring_overflow(np.log, np.float64(-1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(invalid="ignore"):
            assert np.isnan(ignoring_overflow(np.log, np.float64(-1.0)))


def test_an_error_inside_leaves_the_settings_restored():
    before = np.geterr()
    with pytest.raises(ValueError):
        ignoring_overflow(np.reshape, np.zeros(3), (2, 2))
    assert np.geterr() == before
