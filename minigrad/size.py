"""``mg.Size``: a tensor's shape, a tuple as ``torch.Size`` is."""
from __future__ import annotations


class Size(tuple):
    """A tuple of ints that also answers ``numel()``; compares equal to plain tuples."""

    __slots__ = ()

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"minigrad.Size({list(self)})"

    # In messages (f"{x.shape}") a shape reads as the plain tuple it is.
    __str__ = tuple.__repr__

    def __getitem__(self, index):  # slices stay Sizes, as in PyTorch
        item = tuple.__getitem__(self, index)
        return Size(item) if isinstance(index, slice) else item
