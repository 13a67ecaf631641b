"""OpenBLAS's idle spin (minigrad/blas_spin.py): set only where it still takes effect and
the user chose nothing, and what the kernels make of it."""
import os
import subprocess
import sys

import pytest

from minigrad.blas_spin import SHORT, SHORT_ENOUGH, is_short, shorten


def test_set_before_numpy_loads():
    environ = {}
    assert shorten(environ, numpy_loaded=False)
    assert environ == {"OPENBLAS_THREAD_TIMEOUT": str(SHORT)}


def test_too_late_once_numpy_is_loaded():
    environ = {}
    assert not shorten(environ, numpy_loaded=True)
    assert environ == {}


@pytest.mark.parametrize("name", ["OPENBLAS_THREAD_TIMEOUT", "GOTO_THREAD_TIMEOUT"])
@pytest.mark.parametrize("value, short", [("28", False), ("23", False), ("22", True), ("4", True),
                                          ("x", False)])
def test_the_users_choice_stands(name, value, short):
    for loaded in (False, True):
        environ = {name: value}
        assert shorten(environ, numpy_loaded=loaded) is short
        assert environ == {name: value}


def test_is_short():
    assert is_short(SHORT) and is_short(" 10 ") and is_short(SHORT_ENOUGH)
    assert not is_short(SHORT_ENOUGH + 1) and SHORT <= SHORT_ENOUGH
    assert not is_short(None) and not is_short("") and not is_short("-3")


def _run(code):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_THREAD_TIMEOUT")}
    env["MINIGRAD_THREADS"] = "2"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True).stdout.split()


def test_importing_minigrad_first_gives_its_kernels_the_blas_threads():
    code = ("import minigrad, os\n"
            "from minigrad.backends import threads\n"
            "print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'), threads.kernel_threads())\n")
    assert _run(code) == [str(SHORT), "2"]
    assert _run("import numpy\n" + code) == ["None", "1"]
