"""The Transformer of "Attention Is All You Need", as PyTorch's ``nn.Transformer`` family.

Same classes, arguments, defaults, attribute names and state_dict keys as PyTorch, so a
checkpoint moves both ways and gives the same outputs. Each layer is residual blocks around
``MultiheadAttention`` and a two-layer feed-forward net, with LayerNorm after each residual
sum (``norm_first=False``, the paper's "post-norm") or before each block (``norm_first=True``,
"pre-norm", less sensitive to depth and learning-rate warm-up).

Masks follow PyTorch: ``*_mask`` (L, S) or (N·nhead, L, S) and ``*_key_padding_mask`` (N, S)
mark with bool True the positions that may *not* be attended to; float masks are added to
the attention scores (``generate_square_subsequent_mask`` gives the causal one). The
``is_causal`` flags are hints, as in PyTorch: a mask that is given is used as is (so the
stacks do not compare ``mask`` with the causal one to set the hint when it is None, as
PyTorch does: that would cost a device-to-host sync every step and change nothing). Where
every key of a query is masked, PyTorch returns NaN and minigrad a zero attention output
(see ``MultiheadAttention``). PyTorch's inference fast path (nested tensors, which zero the
outputs at padded positions under ``no_grad`` in eval mode) does not exist here; padded
positions carry ordinary values, which a model ignores anyway.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Callable, Optional, Union

import minigrad as mg

from . import functional as F
from . import init
from .attention import MultiheadAttention
from .containers import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm

__all__ = ["Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerEncoderLayer"]

Activation = Union[str, Callable[[mg.Tensor], mg.Tensor]]


def _activation_fn(activation: Activation) -> Callable[[mg.Tensor], mg.Tensor]:
    """"relu" and "gelu" by name (PyTorch's legacy strings), or any unary callable."""
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise RuntimeError(f"activation should be relu/gelu, not {activation}")
    if not callable(activation):
        raise TypeError(f"activation must be 'relu', 'gelu' or a callable, got "
                        f"{type(activation).__name__}")
    return activation


def _clones(module: Module, n: int) -> ModuleList:
    """n independent deep copies: every layer of a stack starts from the same weights,
    as in PyTorch (re-initialise them if that matters). ``n`` must be positive (PyTorch's
    stacks read their first layer when they run) and fit in int64 (the copies would never
    end)."""
    if n < 1:
        raise ValueError(f"num_layers must be positive, got {n}")
    if n >= 2 ** 63:
        raise ValueError(f"num_layers must fit in int64, got {n}")
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


def _place(module: Module, device: Any, dtype: Any) -> None:
    """Honour the ``device=``/``dtype=`` factory arguments once all parts are built."""
    if device is not None or dtype is not None:
        module.to(device=device, dtype=dtype)


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward net, each in a residual block with LayerNorm.

    Submodules (PyTorch's names): ``self_attn``, ``linear1`` (d_model -> dim_feedforward),
    ``dropout``, ``linear2``, ``norm1``, ``norm2``, ``dropout1``, ``dropout2``.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Activation = F.relu,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation_fn(activation)
        _place(self, device, dtype)

    def forward(self, src: mg.Tensor, src_mask: Optional[mg.Tensor] = None,
                src_key_padding_mask: Optional[mg.Tensor] = None,
                is_causal: bool = False) -> mg.Tensor:
        """src (S, N, E), (N, S, E) with batch_first, or unbatched (S, E) -> same shape."""
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x: mg.Tensor, attn_mask: Optional[mg.Tensor],
                  key_padding_mask: Optional[mg.Tensor], is_causal: bool = False) -> mg.Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: mg.Tensor) -> mg.Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerDecoderLayer(Module):
    """Masked self-attention, attention over the encoder's output (``memory``), then a
    feed-forward net, each in a residual block with LayerNorm.

    Submodules (PyTorch's names): ``self_attn``, ``multihead_attn``, ``linear1``,
    ``dropout``, ``linear2``, ``norm1``-``norm3``, ``dropout1``-``dropout3``.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Activation = F.relu,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                            batch_first=batch_first, bias=bias)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                                 batch_first=batch_first, bias=bias)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation_fn(activation)
        _place(self, device, dtype)

    def forward(self, tgt: mg.Tensor, memory: mg.Tensor, tgt_mask: Optional[mg.Tensor] = None,
                memory_mask: Optional[mg.Tensor] = None,
                tgt_key_padding_mask: Optional[mg.Tensor] = None,
                memory_key_padding_mask: Optional[mg.Tensor] = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> mg.Tensor:
        """tgt (T, N, E) and memory (S, N, E) (batch first with batch_first; unbatched
        (T, E), (S, E)) -> tgt's shape."""
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x: mg.Tensor, attn_mask: Optional[mg.Tensor],
                  key_padding_mask: Optional[mg.Tensor], is_causal: bool = False) -> mg.Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x: mg.Tensor, mem: mg.Tensor, attn_mask: Optional[mg.Tensor],
                   key_padding_mask: Optional[mg.Tensor], is_causal: bool = False) -> mg.Tensor:
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x: mg.Tensor) -> mg.Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (``layers``), then ``norm`` if given.

    ``enable_nested_tensor`` and ``mask_check`` are accepted and kept for PyTorch code;
    they steer PyTorch's inference fast path, which minigrad does not have.
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Optional[Module] = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src: mg.Tensor, mask: Optional[mg.Tensor] = None,
                src_key_padding_mask: Optional[mg.Tensor] = None,
                is_causal: Optional[bool] = None) -> mg.Tensor:
        """Every layer gets the same masks; ``is_causal=None`` means "use ``mask`` as is"."""
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                           is_causal=bool(is_causal))
        return output if self.norm is None else self.norm(output)


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer`` (``layers``), then ``norm`` if given."""

    def __init__(self, decoder_layer: Module, num_layers: int,
                 norm: Optional[Module] = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: mg.Tensor, memory: mg.Tensor, tgt_mask: Optional[mg.Tensor] = None,
                memory_mask: Optional[mg.Tensor] = None,
                tgt_key_padding_mask: Optional[mg.Tensor] = None,
                memory_key_padding_mask: Optional[mg.Tensor] = None,
                tgt_is_causal: Optional[bool] = None,
                memory_is_causal: bool = False) -> mg.Tensor:
        """Every layer attends to the same ``memory`` with the same masks."""
        output = tgt
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask,
                           tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return output if self.norm is None else self.norm(output)


class Transformer(Module):
    """An encoder-decoder Transformer: ``encoder`` (a TransformerEncoder with a final
    LayerNorm) reads ``src``, ``decoder`` (a TransformerDecoder with a final LayerNorm)
    reads ``tgt`` while attending to the encoder's output. Every weight matrix starts
    Xavier-uniform, as in PyTorch. ``custom_encoder``/``custom_decoder`` replace the stacks.
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Activation = F.relu, custom_encoder: Optional[Any] = None,
                 custom_decoder: Optional[Any] = None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                      batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*layer_args), num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*layer_args), num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
        self._reset_parameters()
        _place(self, device, dtype)
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(self, src: mg.Tensor, tgt: mg.Tensor, src_mask: Optional[mg.Tensor] = None,
                tgt_mask: Optional[mg.Tensor] = None, memory_mask: Optional[mg.Tensor] = None,
                src_key_padding_mask: Optional[mg.Tensor] = None,
                tgt_key_padding_mask: Optional[mg.Tensor] = None,
                memory_key_padding_mask: Optional[mg.Tensor] = None,
                src_is_causal: Optional[bool] = None, tgt_is_causal: Optional[bool] = None,
                memory_is_causal: bool = False) -> mg.Tensor:
        """src (S, N, E), tgt (T, N, E) (batch first with batch_first; unbatched (S, E),
        (T, E)) -> (T, N, E). Masks: src_mask (S, S), tgt_mask (T, T), memory_mask (T, S)
        (or N·nhead of each), key padding masks (N, S), (N, T), (N, S)."""
        if src.ndim not in (2, 3) or tgt.ndim not in (2, 3):
            raise RuntimeError(f"Transformer: src and tgt must be 2-d (unbatched) or 3-d "
                               f"(batched), got shapes {tuple(src.shape)} and "
                               f"{tuple(tgt.shape)}")
        batch_axis = 0 if self.batch_first else 1
        if src.ndim == 3 and (tgt.ndim != 3 or src.shape[batch_axis] != tgt.shape[batch_axis]):
            raise RuntimeError(f"the batch number of src and tgt must be equal: src "
                               f"{tuple(src.shape)}, tgt {tuple(tgt.shape)}, "
                               f"batch_first={self.batch_first}")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"the feature number of src and tgt must be equal to d_model "
                               f"({self.d_model}): src {tuple(src.shape)}, tgt "
                               f"{tuple(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None,
                                        dtype: Any = None) -> mg.Tensor:
        """The float causal mask (sz, sz): 0 on and below the diagonal, -inf above, so
        position i attends to positions 0..i only."""
        return mg.triu(mg.full((sz, sz), -math.inf, dtype=dtype, device=device), diagonal=1)

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
