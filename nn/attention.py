"""Attention: scaled dot-product attention and multi-head attention, as PyTorch defines them.

Everything is composed from engine primitives (matmul, logsumexp, where, ...), so gradients
come from the tape. Masked positions are handled without NaNs: a query row that may attend to
nothing gets all-zero attention weights and therefore an all-zero attention output (and no
gradient), which is what ``torch.nn.functional.scaled_dot_product_attention`` returns too
(``torch.nn.MultiheadAttention`` returns NaN there; we return zeros, so its output is just
``out_proj.bias``).
"""
from __future__ import annotations

import math
from typing import Optional

import minigrad as mg

from . import functional as F
from . import init
from .linear import Linear
from .module import Module
from .parameter import Parameter

__all__ = ["scaled_dot_product_attention", "MultiheadAttention"]


def _is_bool(mask: mg.Tensor) -> bool:
    return mask.dtype.kind == "b"


def _check_mask_dtype(name: str, mask: mg.Tensor) -> None:
    if mask.dtype.kind not in "bf":
        raise TypeError(f"{name} must be a bool or floating-point tensor, got dtype {mask.dtype}")


def _causal_mask(query_len: int, key_len: int, device: str) -> mg.Tensor:
    """Bool (L, S), True on and below the diagonal: query i may attend to keys 0..i."""
    rows = mg.arange(query_len, device=device).reshape(query_len, 1)
    cols = mg.arange(key_len, device=device).reshape(1, key_len)
    return cols <= rows


def _masked_softmax(scores: mg.Tensor, allowed: Optional[mg.Tensor]) -> mg.Tensor:
    """Softmax over the last axis as exp(x - logsumexp(x)), restricted to ``allowed``.

    Rows with no allowed entry are computed on zeros (so no -inf - -inf appears, neither
    forward nor backward) and then zeroed.
    """
    if allowed is None:
        return (scores - scores.logsumexp(axis=-1, keepdims=True)).exp()
    allowed = mg.broadcast_to(allowed, scores.shape)
    live = allowed.sum(axis=-1, keepdims=True) > 0
    x = mg.where(live, mg.where(allowed, scores, -math.inf), 0.0)
    weights = (x - x.logsumexp(axis=-1, keepdims=True)).exp()
    return mg.where(live, weights, 0.0)


def _attend(query: mg.Tensor, key: mg.Tensor, value: mg.Tensor, mask: Optional[mg.Tensor],
            dropout_p: float, training: bool, scale: Optional[float]
            ) -> tuple[mg.Tensor, mg.Tensor]:
    """The shared core: returns (output, attention weights after dropout)."""
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    scores = (query @ key.swapaxes(-1, -2)) * scale
    allowed = None
    if mask is not None:
        if _is_bool(mask):
            allowed = mask
        else:
            scores = scores + mask
            allowed = scores > -math.inf
    weights = F.dropout(_masked_softmax(scores, allowed), dropout_p, training)
    return weights @ value, weights


def scaled_dot_product_attention(query: mg.Tensor, key: mg.Tensor, value: mg.Tensor,
                                 attn_mask: Optional[mg.Tensor] = None, is_causal: bool = False,
                                 dropout_p: float = 0.0, training: bool = True,
                                 scale: Optional[float] = None) -> mg.Tensor:
    """softmax(Q Kᵀ · scale + mask) V over the last two axes, PyTorch's semantics.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev). ``attn_mask``
    broadcasts to (..., L, S): bool True = may attend, float = added to the scores.
    ``is_causal`` lets query i attend to keys 0..i. ``scale`` defaults to 1/sqrt(E).
    Dropout on the weights applies only when ``training``. A query that may attend to
    nothing gets a zero output row (not NaN).
    """
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise ValueError(f"scaled_dot_product_attention needs query, key and value with at least "
                         f"2 dimensions, got shapes {tuple(query.shape)}, {tuple(key.shape)}, "
                         f"{tuple(value.shape)}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"scaled_dot_product_attention: query's last dimension "
                         f"{query.shape[-1]} != key's last dimension {key.shape[-1]} (query "
                         f"{tuple(query.shape)}, key {tuple(key.shape)})")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: key has {key.shape[-2]} positions but "
                         f"value has {value.shape[-2]} (key {tuple(key.shape)}, value "
                         f"{tuple(value.shape)})")
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: pass either attn_mask or "
                             "is_causal=True, not both")
        attn_mask = _causal_mask(query.shape[-2], key.shape[-2], query.device)
    elif attn_mask is not None:
        _check_mask_dtype("attn_mask", attn_mask)
    output, _ = _attend(query, key, value, attn_mask, dropout_p, training, scale)
    return output


def _xavier_uniform(rows: int, cols: int) -> Parameter:
    return Parameter(init.xavier_uniform_(mg.empty(rows, cols)))


class MultiheadAttention(Module):
    """Multi-head attention with PyTorch's parameters, so its state_dict loads both ways.

    Parameters: ``in_proj_weight`` (3E, E) stacking the q, k, v projections (or, when
    kdim/vdim differ from embed_dim, ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim),
    ``v_proj_weight`` (E, vdim)), ``in_proj_bias`` (3E,), ``out_proj.weight`` (E, E),
    ``out_proj.bias`` (E,). Inputs are (L, N, E) or, with ``batch_first``, (N, L, E); unbatched
    (L, E) works too.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False, kdim: Optional[int] = None,
                 vdim: Optional[int] = None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be positive, got embed_dim="
                             f"{embed_dim} and num_heads={num_heads}")
        if embed_dim % num_heads != 0:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout}")
        self.embed_dim = embed_dim
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        if self._qkv_same_embed_dim:
            self.in_proj_weight = _xavier_uniform(3 * embed_dim, embed_dim)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = _xavier_uniform(embed_dim, embed_dim)
            self.k_proj_weight = _xavier_uniform(embed_dim, self.kdim)
            self.v_proj_weight = _xavier_uniform(embed_dim, self.vdim)
        if bias:
            self.in_proj_bias = Parameter(mg.zeros(3 * embed_dim))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        if bias:
            init.zeros_(self.out_proj.bias)     # PyTorch zeroes it after Linear's own init

    def extra_repr(self) -> str:
        extra = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            extra += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            extra += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.batch_first:
            extra += ", batch_first=True"
        return extra

    # -- input checking ------------------------------------------------------------------
    def _check_inputs(self, query: mg.Tensor, key: mg.Tensor, value: mg.Tensor) -> bool:
        """Validate shapes; returns whether the input is batched."""
        shapes = f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"MultiheadAttention expects query, key and value all 3-D (batched) "
                             f"or all 2-D (unbatched), got {shapes}")
        for name, t, width in (("query", query, self.embed_dim), ("key", key, self.kdim),
                               ("value", value, self.vdim)):
            if t.shape[-1] != width:
                expected = "embed_dim" if name == "query" else name[0] + "dim"
                raise ValueError(f"MultiheadAttention: {name}'s last dimension is {t.shape[-1]} "
                                 f"but {expected} is {width} ({shapes})")
        batched = query.ndim == 3
        if batched:
            batch_axis = 0 if self.batch_first else 1
            if not query.shape[batch_axis] == key.shape[batch_axis] == value.shape[batch_axis]:
                raise ValueError(f"MultiheadAttention: query, key and value have different batch "
                                 f"sizes ({shapes}, batch_first={self.batch_first})")
        seq_axis = 1 if batched and self.batch_first else 0
        if key.shape[seq_axis] != value.shape[seq_axis]:
            raise ValueError(f"MultiheadAttention: key and value have different sequence lengths "
                             f"({shapes}, batch_first={self.batch_first})")
        return batched

    # -- pieces of the forward -------------------------------------------------------------
    def _project(self, query: mg.Tensor, key: mg.Tensor, value: mg.Tensor
                 ) -> tuple[mg.Tensor, mg.Tensor, mg.Tensor]:
        """The input projections; self-attention does all three with one matmul."""
        E = self.embed_dim
        b = self.in_proj_bias
        if self._qkv_same_embed_dim and query is key and key is value:
            qkv = query @ self.in_proj_weight.T
            if b is not None:
                qkv = qkv + b
            q, k, v = mg.chunk(qkv, 3, dim=-1)
            return q, k, v
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            weights = (w[:E], w[E:2 * E], w[2 * E:])
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        out = []
        for i, (x, w) in enumerate(zip((query, key, value), weights)):
            y = x @ w.T
            out.append(y if b is None else y + b[i * E:(i + 1) * E])
        return out[0], out[1], out[2]

    def _merge_masks(self, key_padding_mask: Optional[mg.Tensor],
                     attn_mask: Optional[mg.Tensor], is_causal: bool, batch: int,
                     query_len: int, key_len: int, batched: bool, dtype: object,
                     device: str) -> Optional[mg.Tensor]:
        """Both masks as one, in scaled_dot_product_attention's sense, shaped to broadcast
        against (N, H, L, S): bool True = may attend, or float added to the scores."""
        H = self.num_heads
        parts = []
        if key_padding_mask is not None:
            _check_mask_dtype("key_padding_mask", key_padding_mask)
            expected = (batch, key_len) if batched else (key_len,)
            if tuple(key_padding_mask.shape) != expected:
                raise ValueError(f"MultiheadAttention: key_padding_mask has shape "
                                 f"{tuple(key_padding_mask.shape)}, expected {expected} "
                                 f"(batch, source length)")
            parts.append(key_padding_mask.reshape(batch, 1, 1, key_len))
        if attn_mask is not None:
            _check_mask_dtype("attn_mask", attn_mask)
            shape = tuple(attn_mask.shape)
            if shape == (query_len, key_len):
                parts.append(attn_mask)
            elif shape == (batch * H, query_len, key_len):
                parts.append(attn_mask.reshape(batch, H, query_len, key_len))
            else:
                raise ValueError(f"MultiheadAttention: attn_mask has shape {shape}, expected "
                                 f"{(query_len, key_len)} or {(batch * H, query_len, key_len)} "
                                 f"(target length, source length)")
        elif is_causal:
            parts.append(~_causal_mask(query_len, key_len, device))
        if not parts:
            return None
        if all(_is_bool(m) for m in parts):
            allowed = ~parts[0]
            for m in parts[1:]:
                allowed = allowed & ~m
            return allowed
        additive = [mg.where(m, -math.inf, 0.0).astype(dtype) if _is_bool(m) else m
                    for m in parts]
        total = additive[0]
        for m in additive[1:]:
            total = total + m
        return total

    def forward(self, query: mg.Tensor, key: mg.Tensor, value: mg.Tensor,
                key_padding_mask: Optional[mg.Tensor] = None, need_weights: bool = True,
                attn_mask: Optional[mg.Tensor] = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[mg.Tensor, Optional[mg.Tensor]]:
        """Returns (attn_output, attn_weights).

        attn_output has the query's layout ((L, N, E), (N, L, E) with batch_first, or (L, E)).
        attn_weights: (N, L, S) averaged over heads, (N, H, L, S) with
        ``average_attn_weights=False`` (no N when unbatched), or None unless ``need_weights``.
        Masks follow PyTorch: ``key_padding_mask`` (N, S) and a bool ``attn_mask`` (L, S) or
        (N·H, L, S) mark with True the positions to *ignore*; float masks are added to the
        scores. ``is_causal`` without ``attn_mask`` builds the causal mask (PyTorch requires
        the mask itself; with one given, the mask is used as is).
        """
        batched = self._check_inputs(query, key, value)
        same_kv, same_qkv = key is value, query is key and key is value
        if batched and not self.batch_first:
            query = query.swapaxes(0, 1)
            key = query if same_qkv else key.swapaxes(0, 1)
            value = key if same_kv else value.swapaxes(0, 1)
        elif not batched:
            query = mg.expand_dims(query, 0)
            key = query if same_qkv else mg.expand_dims(key, 0)
            value = key if same_kv else mg.expand_dims(value, 0)
        N, L, E = query.shape
        S = key.shape[1]
        H, D = self.num_heads, self.head_dim
        mask = self._merge_masks(key_padding_mask, attn_mask, is_causal, N, L, S, batched,
                                 query.dtype, query.device)
        q, k, v = self._project(query, key, value)
        q = q.reshape(N, L, H, D).permute(0, 2, 1, 3)
        k = k.reshape(N, S, H, D).permute(0, 2, 1, 3)
        v = v.reshape(N, S, H, D).permute(0, 2, 1, 3)
        out, weights = _attend(q, k, v, mask, self.dropout, self.training, None)
        out = self.out_proj(out.permute(0, 2, 1, 3).reshape(N, L, E))
        if batched and not self.batch_first:
            out = out.swapaxes(0, 1)
        elif not batched:
            out = out.reshape(L, E)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(axis=1)
        return out, (weights if batched else weights[0])
