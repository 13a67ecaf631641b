"""The CPU backend: NumPy as it is."""
import numpy

from .array_backend import ArrayBackend


def make_numpy_backend(name: str = "numpy", device: str = "cpu") -> ArrayBackend:
    return ArrayBackend(name, device, numpy)
