"""Collation: a list of samples in, one batch out, with PyTorch's rules.

``default_collate`` stacks along a new first dim whatever has the same structure in
every sample: tensors are stacked, NumPy arrays and numbers become tensors (Python
floats float64, ints int64, bools bool, NumPy values keep their dtype), strings stay a
list, and tuples, lists, dicts and named tuples are collated field by field (a tuple of
fields comes back a list, as in PyTorch). Tensors made from numbers and arrays land on
the active backend, as ``mg.tensor`` puts them (in a DataLoader worker the CPU, and the
main process moves the batch: ``to_default_device``). ``default_convert`` is what a loader
with ``batch_size=None`` applies to each sample: arrays to tensors, nothing stacked.
"""
from __future__ import annotations

import collections.abc
import copy
from typing import Any, Callable, List, Sequence

import numpy

import minigrad as mg

__all__ = ["default_collate", "default_convert"]

_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
          "lists; found {}")


def _is_text_array(value: Any) -> bool:
    """NumPy strings, bytes and objects: no tensor can hold them."""
    return value.dtype.kind in "SUaO"


def _rebuild(template: Any, values: Any, recurse: Callable[[Any], Any]) -> Any:
    """A container of ``template``'s type holding ``recurse`` of each value (a plain
    dict or list when that type cannot be built from one)."""
    if isinstance(template, collections.abc.Mapping):
        items = {key: recurse(value) for key, value in values.items()}
        if isinstance(template, collections.abc.MutableMapping):
            clone = copy.copy(template)  # keeps the type and any attributes it carries
            clone.update(items)
            return clone
        try:
            return type(template)(items)
        except TypeError:
            return items
    items = [recurse(value) for value in values]
    if isinstance(template, collections.abc.MutableSequence):
        clone = copy.copy(template)
        clone[:] = items
        return clone
    try:
        return type(template)(items)
    except TypeError:
        return items


def default_convert(data: Any) -> Any:
    """Arrays and NumPy numbers to tensors, through any nesting; nothing stacked."""
    if isinstance(data, (str, bytes, mg.Tensor)):  # NumPy's str_ and bytes_ are str and bytes
        return data
    if isinstance(data, (numpy.ndarray, numpy.generic)):
        return data if _is_text_array(data) else mg.as_tensor(data)
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # a named tuple
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Mapping):
        return _rebuild(data, data, default_convert)
    if isinstance(data, collections.abc.Sequence):
        return _rebuild(data, data, default_convert)
    return data


def to_default_device(data: Any) -> Any:
    """``data`` with every tensor in it (through tuples, lists, dicts and named tuples) on
    the default device: where a batch a worker built on the CPU goes in the main process."""
    if isinstance(data, mg.Tensor):
        return data.to(mg.current_backend())
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # a named tuple
        return type(data)(*(to_default_device(d) for d in data))
    if isinstance(data, (collections.abc.Mapping, collections.abc.Sequence)):
        return _rebuild(data, data, to_default_device)
    return data


def _stack(batch: List[mg.Tensor]) -> mg.Tensor:
    shapes = [tuple(t.shape) for t in batch]
    for i, shape in enumerate(shapes):
        if shape != shapes[0]:
            raise RuntimeError(
                f"default_collate: stack expects each tensor to be equal size, but got "
                f"{shapes[0]} at entry 0 and {shape} at entry {i} (pad the samples, e.g. "
                "with nn.utils.rnn.pad_sequence, in a collate_fn)")
    return mg.stack(batch, 0)


def default_collate(batch: Sequence[Any]) -> Any:
    """One batch from a list of samples of one structure (see the module's docstring)."""
    elem = batch[0]
    if isinstance(elem, mg.Tensor):
        return _stack(list(batch))
    if isinstance(elem, numpy.ndarray):
        if _is_text_array(elem):
            raise TypeError(_ERROR.format(elem.dtype))
        return _stack([mg.as_tensor(b) for b in batch])
    if isinstance(elem, (str, bytes)):  # NumPy's str_ and bytes_ too
        return batch
    if isinstance(elem, numpy.generic):  # before float: numpy.float64 is a float
        if _is_text_array(elem):
            raise TypeError(_ERROR.format(elem.dtype))
        return mg.as_tensor(numpy.array(batch))
    if isinstance(elem, float):
        return mg.tensor(batch, dtype=mg.float64)
    if isinstance(elem, int):  # bools too: a bool tensor, as in PyTorch
        return mg.tensor(batch)
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild(elem, {key: [d[key] for d in batch] for key in elem}, default_collate)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a named tuple
        return type(elem)(*(default_collate(field) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        sizes = [len(sample) for sample in batch]
        for i, size in enumerate(sizes):
            if size != sizes[0]:
                raise RuntimeError(
                    f"default_collate: each element in list of batch should be of equal "
                    f"size, got {sizes[0]} at entry 0 and {size} at entry {i}")
        fields = list(zip(*batch))  # tuples: a field of strings stays a tuple, as in PyTorch
        if isinstance(elem, tuple):
            return [default_collate(field) for field in fields]
        return _rebuild(elem, fields, default_collate)
    raise TypeError(_ERROR.format(type(elem)))
