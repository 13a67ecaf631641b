"""Variable-length batches PyTorch's way: ``pad_sequence`` and ``PackedSequence``.

A PackedSequence holds the steps of a batch of sequences sorted by length, step after
step (``data``), with ``batch_sizes[t]`` sequences still running at step t. The recurrent
layers accept one and return one; underneath they run on the padded batch with
``lengths=`` (padded steps keep the state and get no gradient), so there is one time
loop, not two. Packing and unpacking are slices, concatenations and index selections,
so gradients flow through them.
"""
from __future__ import annotations

from typing import Any, List, NamedTuple, Optional, Sequence

import minigrad as mg

__all__ = ["PackedSequence", "pad_sequence", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence", "unpack_sequence", "unpad_sequence", "pack_like"]


class PackedSequence(NamedTuple):
    """Steps of sorted sequences packed one time step after another (PyTorch's layout)."""

    data: mg.Tensor
    batch_sizes: mg.Tensor
    sorted_indices: Optional[mg.Tensor] = None
    unsorted_indices: Optional[mg.Tensor] = None

    def to(self, *args: Any, **kwargs: Any) -> "PackedSequence":
        """Move or cast ``data`` (and the index tensors to the same device)."""
        data = self.data.to(*args, **kwargs)
        move = (lambda t: t if t is None else t.to(data.device))
        return PackedSequence(data, self.batch_sizes, move(self.sorted_indices),
                              move(self.unsorted_indices))

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda


def _host_lengths(lengths: Any, batch: int) -> List[int]:
    values = lengths.tolist() if isinstance(lengths, mg.Tensor) else list(lengths)
    if len(values) != batch:
        raise ValueError(f"pack_padded_sequence: {len(values)} lengths for a batch of {batch} "
                         "sequences")
    if any(int(v) != v or v <= 0 for v in values):
        raise ValueError(f"pack_padded_sequence: lengths must be positive integers, got "
                         f"{values}")
    return [int(v) for v in values]


def pad_sequence(sequences: Sequence[mg.Tensor], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> mg.Tensor:
    """Stack sequences of shapes (L_i, *) into (T, B, *) (or (B, T, *)), padding each to the
    longest with ``padding_value`` on the right (or left)."""
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got "
                         f"{padding_side!r}")
    if not sequences:
        raise ValueError("pad_sequence: expects a non-empty sequence of tensors")
    trailing = tuple(sequences[0].shape[1:])
    for i, s in enumerate(sequences):
        if s.ndim == 0 or tuple(s.shape[1:]) != trailing:
            raise ValueError(f"pad_sequence: sequence {i} has shape {tuple(s.shape)}; every "
                             f"sequence must be (L, {', '.join(map(str, trailing)) or '*'})")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        gap = longest - s.shape[0]
        if gap:
            fill = mg.full((gap,) + trailing, padding_value, dtype=s.dtype, device=s.device)
            s = mg.cat([s, fill] if padding_side == "right" else [fill, s])
        padded.append(s)
    return mg.stack(padded, 1 if not batch_first else 0)


def pack_padded_sequence(input: mg.Tensor, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded (T, B, *) batch (or (B, T, *)) whose sequence b has ``lengths[b]``
    steps. With ``enforce_sorted`` the lengths must already decrease."""
    x = input.transpose(0, 1) if batch_first else input
    if x.ndim < 2:
        raise ValueError(f"pack_padded_sequence: expects a (T, B, *) input, got shape "
                         f"{tuple(input.shape)}")
    steps, batch = x.shape[0], x.shape[1]
    host = _host_lengths(lengths, batch)
    if max(host) > steps:
        raise ValueError(f"pack_padded_sequence: a length of {max(host)} exceeds the input's "
                         f"{steps} steps")
    if enforce_sorted:
        if any(a < b for a, b in zip(host, host[1:])):
            raise ValueError(f"pack_padded_sequence: lengths {host} are not sorted in "
                             "decreasing order; sort the batch or pass enforce_sorted=False")
        order = None
    else:
        order = sorted(range(batch), key=lambda b: -host[b])  # stable, as torch.sort(stable)
        x = x.index_select(1, mg.tensor(order, device=x.device))
        host = [host[b] for b in order]
    sizes = [sum(1 for n in host if n > t) for t in range(host[0])]
    data = mg.cat([x[t, :b] for t, b in enumerate(sizes)])
    if order is None:
        return PackedSequence(data, mg.tensor(sizes))
    unsorted = [0] * batch
    for rank, b in enumerate(order):
        unsorted[b] = rank
    return PackedSequence(data, mg.tensor(sizes), mg.tensor(order, device=data.device),
                          mg.tensor(unsorted, device=data.device))


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: Optional[int] = None) -> tuple:
    """The padded batch (T, B, *) (or (B, T, *)) and the lengths, in the original order."""
    data = sequence.data
    sizes = [int(b) for b in sequence.batch_sizes.tolist()]
    batch = sizes[0] if sizes else 0
    steps = len(sizes)
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"pad_packed_sequence: total_length {total_length} is shorter "
                             f"than the longest sequence ({steps} steps)")
        steps = total_length
    trailing = tuple(data.shape[1:])
    rows, start = [], 0
    for b in sizes:
        step = data[start:start + b]
        start += b
        if b < batch:
            fill = mg.full((batch - b,) + trailing, padding_value, dtype=data.dtype,
                           device=data.device)
            step = mg.cat([step, fill])
        rows.append(step)
    rows += [mg.full((batch,) + trailing, padding_value, dtype=data.dtype, device=data.device)
             for _ in range(steps - len(sizes))]
    padded = mg.stack(rows)
    lengths = [sum(1 for b in sizes if b > rank) for rank in range(batch)]
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = [lengths[int(i)] for i in sequence.unsorted_indices.tolist()]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, mg.tensor(lengths)


def pack_like(padded: mg.Tensor, like: PackedSequence) -> PackedSequence:
    """Pack a time-major padded batch (in the original order) exactly as ``like`` is
    packed: the same sorting, batch sizes and index tensors (what a recurrent layer
    returns for a packed input)."""
    x = padded if like.sorted_indices is None else padded.index_select(1, like.sorted_indices)
    sizes = [int(b) for b in like.batch_sizes.tolist()]
    data = mg.cat([x[t, :b] for t, b in enumerate(sizes)])
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


def pack_sequence(sequences: Sequence[mg.Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of (L_i, *) sequences (decreasing lengths unless enforce_sorted=False)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: mg.Tensor, lengths: Any,
                   batch_first: bool = False) -> List[mg.Tensor]:
    """The list of sequences inside a padded batch."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    values = lengths.tolist() if isinstance(lengths, mg.Tensor) else list(lengths)
    return [x[b, :int(n)] for b, n in enumerate(values)]


def unpack_sequence(packed_sequences: PackedSequence) -> List[mg.Tensor]:
    """The list of sequences inside a PackedSequence, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
