"""Shape functions with PyTorch's meanings: ``transpose`` swaps two dims, ``split`` makes
pieces of a given size, ``squeeze(d)`` leaves a dim that is not 1 alone, ``repeat`` tiles."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from .. import ops
from ..tensor import Tensor
from .arguments import (as_int, check_cut_dim, check_dim, check_dims, pick, shape_args,
                        sizes_or_keyword)
from .common import as_tensor, integer_index


def reshape(input: Any, *sizes: Any, shape: Any = None) -> Tensor:
    """The same elements in ``sizes`` (one of them may be -1: whatever is left)."""
    target = sizes_or_keyword("reshape", sizes, "shape", shape)
    if target and min(target) < -1:
        raise ValueError(f"reshape: invalid size {min(target)} in shape {target}")
    return ops.reshape(as_tensor(input), target)


def transpose(input: Any, dim0: int, dim1: int) -> Tensor:
    """Swap two dims (use :func:`permute` for a whole order)."""
    x = as_tensor(input)
    a, b = check_dim("transpose", dim0, x.ndim), check_dim("transpose", dim1, x.ndim)
    if x.ndim < 2 or a == b:
        return x
    return ops.swapaxes(x, a, b)


swapaxes = swapdims = transpose


def permute(input: Any, *order: Any, dims: Any = None) -> Tensor:
    x = as_tensor(input)
    dims = sizes_or_keyword("permute", order, "dims", dims)
    if len(dims) != x.ndim:
        raise ValueError(f"permute: the order {dims} has {len(dims)} dims but the tensor has "
                         f"{x.ndim} (shape {tuple(x.shape)})")
    order = tuple(check_dim("permute", d, x.ndim) for d in dims)
    if sorted(order) != list(range(x.ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the dims of a tensor of "
                         f"shape {tuple(x.shape)} (a dim repeats)")
    return ops.transpose(x, order)


def t(input: Any) -> Tensor:
    """Transpose a matrix; a 0-d or 1-d tensor is returned as it is (as PyTorch)."""
    x = as_tensor(input)
    if x.ndim > 2:
        raise ValueError(f"t() expects a tensor with <= 2 dimensions, got shape {tuple(x.shape)}"
                         "; use transpose(dim0, dim1) or permute")
    return ops.transpose(x) if x.ndim == 2 else x


def flatten(input: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    x = as_tensor(input)
    start, end = check_dim("flatten", start_dim, x.ndim), check_dim("flatten", end_dim, x.ndim)
    if x.ndim == 0:
        return ops.reshape(x, (1,))
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return ops.flatten(x, start, end)


def unflatten(input: Any, dim: int, sizes: Sequence[int]) -> Tensor:
    x = as_tensor(input)
    d = check_cut_dim("unflatten", dim, x.ndim)
    sizes = shape_args("unflatten", (sizes,))
    if not sizes:
        raise ValueError("unflatten: sizes must be non-empty")
    known = 1
    for s in sizes:
        known *= s if s != -1 else 1
    if sizes.count(-1) > 1 or (-1 not in sizes and known != x.shape[d]) or \
            (-1 in sizes and (known == 0 or x.shape[d] % known)) or \
            any(s < -1 for s in sizes):
        raise ValueError(f"unflatten: sizes {sizes} do not multiply to {x.shape[d]}, the "
                         f"size of dim {dim} (shape {tuple(x.shape)})")
    sizes = tuple(x.shape[d] // known if s == -1 else s for s in sizes)  # -1: the rest
    return ops.reshape(x, tuple(x.shape[:d]) + sizes + tuple(x.shape[d + 1:]))


def squeeze(input: Any, dim: Any = None, *, axis: Any = None) -> Tensor:
    """Drop size-1 dims: all of them, or those of ``dim`` that have size 1 (a named dim of
    another size is left as it is, as in PyTorch)."""
    x = as_tensor(input)
    named = pick("dim", dim, "axis", axis)
    if isinstance(named, (tuple, list)) and not named:
        return x  # an empty dim list names nothing to drop (unlike a reduction's)
    dims = check_dims("squeeze", named, x.ndim)
    drop = {i for i, n in enumerate(x.shape) if n == 1 and (dims is None or i in dims)}
    if not drop:
        return x
    return ops.reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in drop))


def unsqueeze(input: Any, dim: int) -> Tensor:
    x = as_tensor(input)
    d = check_dim("unsqueeze", dim, x.ndim, extra=1)
    return ops.reshape(x, tuple(x.shape[:d]) + (1,) + tuple(x.shape[d:]))


def movedim(input: Any, source: Any, destination: Any) -> Tensor:
    x = as_tensor(input)
    src = (source,) if not isinstance(source, (tuple, list)) else tuple(source)
    dst = (destination,) if not isinstance(destination, (tuple, list)) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError(f"movedim: source {source} and destination {destination} name "
                         "different numbers of dims")
    src = [check_dim("movedim", d, x.ndim) for d in src]
    dst = [check_dim("movedim", d, x.ndim) for d in dst]
    if x.ndim == 0:  # dim 0 of a 0-d tensor: nothing moves
        return x
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError("movedim: a dim repeats in source or destination")
    order = [None] * x.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(x.ndim) if i not in src)
    order = tuple(o if o is not None else next(rest) for o in order)
    return ops.transpose(x, order) if order != tuple(range(x.ndim)) else x


moveaxis = movedim


def narrow(input: Any, dim: int, start: int, length: int) -> Tensor:
    x = as_tensor(input)
    d = check_cut_dim("narrow", dim, x.ndim)
    n = x.shape[d]
    start = as_int(start, "narrow: start")
    start = start + n if start < 0 else start
    length = as_int(length, "narrow: length")
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise IndexError(f"narrow: start {start} and length {length} do not fit in dim {dim} "
                         f"of size {n}")
    return x[(slice(None),) * d + (slice(start, start + length),)]


def select(input: Any, dim: int, index: int) -> Tensor:
    x = as_tensor(input)
    d = check_cut_dim("select", dim, x.ndim)
    i = as_int(index, "select: index")
    if not -x.shape[d] <= i < x.shape[d]:
        raise IndexError(f"select: index {i} is out of range for dim {dim} of size {x.shape[d]}")
    return x[(slice(None),) * d + (i,)]


def _pieces(x: Tensor, d: int, sizes: Sequence[int]) -> tuple:
    before = (slice(None),) * d
    out, start = [], 0
    for s in sizes:
        out.append(x[before + (slice(start, start + s),)])
        start += s
    return tuple(out)


def split(tensor: Any, split_size_or_sections: Any, dim: int = 0, *,
          axis: Any = None) -> tuple:
    """Pieces of ``split_size_or_sections`` elements along ``dim`` (the last may be
    smaller), or pieces of the listed sizes, which must add up to the dim's size."""
    x = as_tensor(tensor)
    d = check_cut_dim("split", pick("dim", dim, "axis", axis, 0), x.ndim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [as_int(s, "split: size") for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ValueError(f"split: sizes {sizes} must add up to {n}, the size of dim {d} "
                             f"(shape {tuple(x.shape)})")
        return _pieces(x, d, sizes)
    size = as_int(split_size_or_sections, "split: split_size")
    if size == 0 and n == 0:  # an empty dim splits into one empty piece
        return (x,)
    if size <= 0:
        raise ValueError(f"split: split_size must be positive, got {size}")
    return _pieces(x, d, [min(size, n - start) for start in range(0, max(n, 1), size)])


def tensor_split(input: Any, indices_or_sections: Any, dim: int = 0) -> tuple:
    """NumPy's ``array_split``: a number of near-equal sections, or the indices to cut at."""
    x = as_tensor(input)
    d = check_cut_dim("tensor_split", dim, x.ndim)
    n = x.shape[d]
    if isinstance(indices_or_sections, (list, tuple)):  # cut as Python slices would
        cuts = [0] + [as_int(i, "tensor_split: index") for i in indices_or_sections] + [None]
        before = (slice(None),) * d
        return tuple(x[before + (slice(a, b),)] for a, b in zip(cuts[:-1], cuts[1:]))
    k = as_int(indices_or_sections, "tensor_split: sections")
    if k <= 0:
        raise ValueError(f"tensor_split: the number of sections must be positive, got {k}")
    if k > max(n, 2 ** 16):
        raise ValueError(f"tensor_split: {k} sections for a dim of size {n} is too many "
                         f"(all but {n} would be empty)")
    return _pieces(x, d, [n // k + (1 if i < n % k else 0) for i in range(k)])


def chunk(input: Any, chunks: int, dim: int = 0) -> tuple:
    """At most ``chunks`` pieces of ceil(size / chunks) elements (PyTorch's chunk)."""
    x = as_tensor(input)
    k = as_int(chunks, "chunk: chunks")
    if k <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {k}")
    d = check_cut_dim("chunk", dim, x.ndim)
    if x.shape[d] == 0:  # PyTorch: as many empty pieces as asked for
        return (x,) * k
    return split(x, max(-(-x.shape[d] // k), 1), d)


def unbind(input: Any, dim: int = 0) -> tuple:
    x = as_tensor(input)
    d = check_cut_dim("unbind", dim, x.ndim)
    return tuple(x[(slice(None),) * d + (i,)] for i in range(x.shape[d]))


def _sequence(op: str, tensors: Any) -> list:
    """The tensors of a list or tuple (one Tensor, or anything else, is refused)."""
    if not isinstance(tensors, (list, tuple)):
        what = "one Tensor" if isinstance(tensors, Tensor) else type(tensors).__name__
        raise TypeError(f"{op} expects a sequence of tensors, got {what}")
    return [as_tensor(x) for x in tensors]


def cat(tensors: Sequence[Any], dim: int = 0, *, axis: Any = None) -> Tensor:
    xs = _sequence("cat", tensors)
    if not xs:
        raise ValueError("cat expects a non-empty sequence of tensors")
    d = check_dim("cat", pick("dim", dim, "axis", axis, 0), xs[0].ndim)
    return ops.concatenate(xs, axis=d)


concatenate = concat = cat


def stack(tensors: Sequence[Any], dim: int = 0, *, axis: Any = None) -> Tensor:
    xs = _sequence("stack", tensors)
    if not xs:
        raise ValueError("stack expects a non-empty sequence of tensors")
    d = check_dim("stack", pick("dim", dim, "axis", axis, 0), xs[0].ndim, extra=1)
    return ops.stack(xs, axis=d)


def hstack(tensors: Sequence[Any]) -> Tensor:
    """Side by side: along dim 1, or dim 0 for 1-d (and 0-d) tensors."""
    xs = [x if x.ndim else ops.reshape(x, (1,)) for x in _sequence("hstack", tensors)]
    return cat(xs, 0 if xs and xs[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Any]) -> Tensor:
    """One under the other: 0-d and 1-d tensors become rows first."""
    return cat([x if x.ndim > 1 else ops.reshape(x, (1, -1))
                for x in _sequence("vstack", tensors)], 0)


def expand(input: Any, *sizes: Any, size: Any = None) -> Tensor:
    """Broadcast to ``sizes`` (-1 keeps a dim; new dims may be added in front)."""
    x = as_tensor(input)
    sizes = sizes_or_keyword("expand", sizes, "size", size)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: the number of sizes ({len(sizes)}) must be at least the "
                         f"number of dims ({x.ndim}, shape {tuple(x.shape)})")
    target = []
    for i, s in enumerate(sizes):
        old = x.shape[i - lead] if i >= lead else None
        if s == -1:
            if old is None:
                raise ValueError(f"expand: -1 is not allowed for the new leading dim {i}")
            s = old
        elif old is not None and old != 1 and old != s:
            raise ValueError(f"expand: the size {old} of dim {i - lead} cannot be expanded "
                             f"to {s} (shape {tuple(x.shape)} to {sizes}); only size-1 dims "
                             "expand")
        target.append(s)
    return ops.broadcast_to(x, tuple(target))


def broadcast_to(input: Any, size: Any) -> Tensor:
    """PyTorch's broadcast_to is expand: -1 keeps a dim's size."""
    size = shape_args("broadcast_to", (size,))
    return expand(input, size) if -1 in size else ops.broadcast_to(as_tensor(input), size)


def repeat(input: Any, *sizes: Any) -> Tensor:
    """Tile the tensor ``sizes`` times along each dim (NumPy's ``tile``; PyTorch's repeat)."""
    x = as_tensor(input)
    reps = shape_args("repeat", sizes)
    if len(reps) < x.ndim:
        raise ValueError(f"repeat: {len(reps)} repeat counts for a tensor of {x.ndim} dims "
                         f"(shape {tuple(x.shape)}); give at least one per dim")
    shape = (1,) * (len(reps) - x.ndim) + tuple(x.shape)
    spread = tuple(v for s in shape for v in (1, s))
    tiled = tuple(v for r, s in zip(reps, shape) for v in (r, s))
    out = ops.broadcast_to(ops.reshape(x, spread), tiled)
    return ops.reshape(out, tuple(r * s for r, s in zip(reps, shape)))


def repeat_interleave(input: Any, repeats: Any, dim: Optional[int] = None, *,
                      output_size: Optional[int] = None) -> Tensor:
    """Repeat each element ``repeats`` times (an int, or one count per element)."""
    x = as_tensor(input)
    if dim is None:
        x, d = ops.reshape(x, (-1,)), 0
    else:
        d = check_cut_dim("repeat_interleave", dim, x.ndim)
    xp = x._backend.xp
    n = x.shape[d]
    if isinstance(repeats, Tensor):
        if repeats.dtype.kind not in "iu":
            raise TypeError(f"repeat_interleave: repeats must be integers, got dtype "
                            f"{repeats.dtype}")
        counts = repeats._data.reshape(()) if repeats.numel() == 1 else repeats._data
        # PyTorch spreads a one-element tensor over the dim first: none to check if empty
        negative = n > 0 and bool(xp.any(counts < 0))
    else:
        counts = as_int(repeats, "repeat_interleave: repeats")
        negative = counts < 0
    if negative:
        raise ValueError(f"repeat_interleave: repeats must be non-negative, got {repeats!r}")
    if not isinstance(counts, int) and getattr(counts, "ndim", 0) and counts.shape[0] != n:
        raise ValueError(f"repeat_interleave: {counts.shape[0]} repeat counts for dim {d} "
                         f"of size {n}")
    # Nothing to repeat: a negative one-element count, spread over no elements, is fine
    # (checked above, as PyTorch does), but CuPy's repeat would refuse it
    index = xp.repeat(xp.arange(n), counts) if n else xp.arange(0)
    return x[(slice(None),) * d + (index,)]


def flip(input: Any, *order: Any, dims: Any = None) -> Tensor:
    x = as_tensor(input)
    if not order and dims is None:
        raise TypeError("flip: name the dims to flip, as flip(x, 0) or flip(x, dims=(0, 1))")
    axes = check_dims("flip", sizes_or_keyword("flip", order, "dims", dims), x.ndim)
    return x if axes is None else ops.flip(x, axes)  # no dims (or a 0-d tensor): as it is


def fliplr(input: Any) -> Tensor:
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"fliplr: needs a tensor of at least 2 dims, got shape {tuple(x.shape)}")
    return flip(x, 1)


def flipud(input: Any) -> Tensor:
    x = as_tensor(input)
    if x.ndim < 1:
        raise ValueError("flipud: needs a tensor of at least 1 dim, got a 0-d tensor")
    return flip(x, 0)


def roll(input: Any, shifts: Any, dims: Any = None) -> Tensor:
    x = as_tensor(input)
    if dims is None or isinstance(dims, (list, tuple)) and not dims:  # the flattened tensor
        if isinstance(shifts, (list, tuple)):
            if len(shifts) != 1:
                raise ValueError(f"roll: {len(shifts)} shifts need as many dims, got none")
            shifts = shifts[0]
        return ops.roll(x, as_int(shifts, "roll: shifts"))
    many = isinstance(dims, (list, tuple))
    axes = tuple(check_cut_dim("roll", d, x.ndim) for d in (dims if many else (dims,)))
    shifts = tuple(shifts) if isinstance(shifts, (list, tuple)) else (shifts,)
    if len(shifts) != len(axes):
        raise ValueError(f"roll: {len(shifts)} shifts for {len(axes)} dims")
    return ops.roll(x, shifts, axes)


def tril(input: Any, diagonal: int = 0) -> Tensor:
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"tril: needs a tensor of at least 2 dims, got shape {tuple(x.shape)}")
    return ops.tril(x, as_int(diagonal, "tril: diagonal"))


def triu(input: Any, diagonal: int = 0) -> Tensor:
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"triu: needs a tensor of at least 2 dims, got shape {tuple(x.shape)}")
    return ops.triu(x, as_int(diagonal, "triu: diagonal"))


def diagonal(input: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    x = as_tensor(input)
    a, b = check_dim("diagonal", dim1, x.ndim), check_dim("diagonal", dim2, x.ndim)
    if a == b:
        raise ValueError(f"diagonal: dim1 and dim2 must differ, both are {a}")
    k = as_int(offset, "diagonal: offset")
    return ops.diagonal(x, max(min(k, x.shape[b]), -x.shape[a]), a, b)


def diag(input: Any, diagonal: int = 0) -> Tensor:
    """A 1-d tensor -> the square matrix with it on the ``diagonal``-th diagonal; a matrix
    -> that diagonal (PyTorch's two meanings of ``diag``)."""
    x = as_tensor(input)
    k = as_int(diagonal, "diag: diagonal")
    if x.ndim == 2:  # an offset past the corner is an empty diagonal
        return ops.diagonal(x, max(min(k, x.shape[1]), -x.shape[0]), 0, 1)
    if x.ndim != 1:
        raise ValueError(f"diag: expects a 1-d or 2-d tensor, got shape {tuple(x.shape)}")
    n = x.shape[0] + abs(k)
    xp = x._backend.xp
    steps = xp.arange(x.shape[0])
    rows, cols = (steps, steps + k) if k >= 0 else (steps - k, steps)
    return ops.index_add((n, n), (rows, cols), x)


def _shape_of(op: str, other: Any) -> tuple:
    if not isinstance(other, Tensor):
        raise TypeError(f"{op}: other must be a Tensor, got {type(other).__name__}")
    return tuple(other.shape)


def view_as(input: Any, other: Any) -> Tensor:
    return reshape(input, _shape_of("view_as", other))


def reshape_as(input: Any, other: Any) -> Tensor:
    return reshape(input, _shape_of("reshape_as", other))


def expand_as(input: Any, other: Any) -> Tensor:
    return expand(input, _shape_of("expand_as", other))


def contiguous(input: Any, memory_format: Any = None) -> Tensor:
    """Arrays here are always usable as they are: the same tensor."""
    return as_tensor(input)


def take_along_dim(input: Any, indices: Any, dim: Optional[int] = None) -> Tensor:
    x = as_tensor(input)
    index = integer_index("take_along_dim", indices, x)
    if dim is None:
        return ops.take_along_axis(ops.reshape(x, (-1,)), ops.reshape(index, (-1,)), axis=0)
    d = check_cut_dim("take_along_dim", dim, x.ndim)
    if index.ndim != x.ndim:
        raise ValueError(f"take_along_dim: indices have {index.ndim} dims but the input has "
                         f"{x.ndim}; they must match")
    return ops.take_along_axis(x, index, axis=d)


__all__ = [
    "reshape", "transpose", "swapaxes", "swapdims", "permute", "t", "flatten", "unflatten",
    "squeeze", "unsqueeze", "movedim", "moveaxis", "narrow", "select", "split", "tensor_split",
    "chunk", "unbind", "cat", "concatenate", "concat", "stack", "hstack", "vstack", "expand",
    "broadcast_to", "repeat", "repeat_interleave", "flip", "fliplr", "flipud", "roll", "tril",
    "triu", "diagonal", "diag", "view_as", "reshape_as", "expand_as", "contiguous",
    "take_along_dim",
]
