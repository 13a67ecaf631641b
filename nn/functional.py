"""nn.functional: stateless layers and losses, composed only from minigrad's primitives.

Everything here is differentiable because it is built from recorded primitives; no
function writes its own backward. Names, arguments and defaults follow
``torch.nn.functional`` (reductions also take NumPy's ``axis=``).
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Union

import minigrad as mg

__all__ = [
    "linear", "relu", "tanh", "sigmoid", "gelu", "softmax", "log_softmax", "dropout",
    "embedding", "one_hot", "layer_norm", "conv2d", "max_pool2d", "avg_pool2d",
    "cross_entropy", "nll_loss", "mse_loss", "binary_cross_entropy_with_logits",
    "scaled_dot_product_attention",
]

Tensor = mg.Tensor
IntPair = Union[int, Sequence[int]]
_REDUCTIONS = ("mean", "sum", "none")


# -- layers ---------------------------------------------------------------------------

def linear(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """``input @ weight.T + bias``, with weight of shape (out_features, in_features)."""
    if input.ndim == 0 or input.shape[-1] != weight.shape[-1]:
        raise ValueError(f"linear: input of shape {tuple(input.shape)} does not fit a weight of "
                         f"shape {tuple(weight.shape)} (expected last dimension "
                         f"{weight.shape[-1]})")
    if bias is not None and input.ndim == 2:
        return mg.addmm(bias, input, weight.T)  # one node: bias + input @ weight.T
    out = mg.matmul(input, weight.T)
    return out if bias is None else out + bias


def relu(input: Tensor) -> Tensor:
    return mg.relu(input)


def tanh(input: Tensor) -> Tensor:
    return mg.tanh(input)


def sigmoid(input: Tensor) -> Tensor:
    return mg.sigmoid(input)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x·Φ(x). ``approximate='tanh'`` is PyTorch's tanh formula; ``'none'`` (the default)
    is exact, through the engine's ``erf``."""
    if approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (input + 0.044715 * input * input * input)
        return 0.5 * input * (1.0 + mg.tanh(inner))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * input * (1.0 + mg.erf(input * (1.0 / math.sqrt(2.0))))


def _axis(axis: int, dim: Optional[int], name: str) -> int:
    """PyTorch spells the axis ``dim``; accept either, but not two different ones."""
    if dim is None:
        return axis
    if axis != -1 and axis != dim:
        raise ValueError(f"{name}: got axis={axis} and dim={dim}; pass only one")
    return dim


def _shifted(input: Tensor, axis: int) -> Tensor:
    """x - max(x): the row maximum becomes 0, so exp never overflows and the largest terms
    keep full precision. The shift is a constant for the gradient (softmax ignores it)."""
    return input - input.amax(dim=axis, keepdim=True).detach()


def log_softmax(input: Tensor, axis: int = -1, *, dim: Optional[int] = None) -> Tensor:
    """(x - max) - log(sum(exp(x - max))): exact for any logits."""
    axis = _axis(axis, dim, "log_softmax")
    shifted = _shifted(input, axis)
    return shifted - mg.logsumexp(shifted, axis=axis, keepdims=True)


def softmax(input: Tensor, axis: int = -1, *, dim: Optional[int] = None) -> Tensor:
    axis = _axis(axis, dim, "softmax")
    e = mg.exp(_shifted(input, axis))
    return e / e.sum(axis=axis, keepdims=True)


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted
    dropout, so evaluation needs no rescaling)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * mg.zeros_like(input)
    keep = (mg.rand_like(input) >= p).astype(input.dtype) * (1.0 / (1.0 - p))
    return input * keep


def embedding(input: Any, weight: Tensor, padding_idx: Optional[int] = None) -> Tensor:
    """Rows of ``weight`` picked by integer indices; the ``padding_idx`` row gets no gradient."""
    indices = _as_tensor(input, weight)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {indices.dtype}")
    num = weight.shape[0]
    if indices.numel():
        lo, hi = int(indices.min().item()), int(indices.max().item())
        if lo < 0 or hi >= num:
            bad = lo if lo < 0 else hi
            raise IndexError(f"embedding: index {bad} is out of range for an embedding "
                             f"table of {num} rows")
    rows = weight[indices]
    if padding_idx is None:
        return rows
    pad = padding_idx + num if padding_idx < 0 else padding_idx
    keep = mg.expand_dims(indices != pad, -1)
    return mg.where(keep, rows, rows.detach())


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Integer classes -> int64 indicator vectors along a new last axis."""
    tensor = _as_tensor(tensor)
    if tensor.dtype.kind not in "iu":
        raise TypeError(f"one_hot: classes must be integers, got dtype {tensor.dtype}")
    hi = int(tensor.max().item()) if tensor.numel() else -1
    lo = int(tensor.min().item()) if tensor.numel() else 0
    if num_classes == -1:
        num_classes = hi + 1
    if lo < 0 or hi >= num_classes:
        raise ValueError(f"one_hot: class values must lie in [0, {num_classes}), "
                         f"got values from {lo} to {hi}")
    classes = mg.arange(num_classes, device=tensor.backend)
    return (mg.expand_dims(tensor, -1) == classes).astype(mg.int64)


def layer_norm(input: Tensor, normalized_shape: Union[int, Sequence[int]],
               weight: Optional[Tensor] = None, bias: Optional[Tensor] = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` axes (biased variance, as PyTorch)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape or input.ndim < len(shape):
        raise ValueError(f"layer_norm: normalized_shape {shape} does not match the trailing "
                         f"dimensions of an input of shape {tuple(input.shape)}")
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    centred = input - input.mean(axis=axes, keepdims=True)
    var = (centred * centred).mean(axis=axes, keepdims=True)
    out = centred * (var + eps) ** -0.5
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


# -- convolution and pooling: every kernel offset is one strided slice -------------------

def _pair(value: IntPair, name: str) -> tuple:
    pair = (value, value) if isinstance(value, int) else tuple(int(v) for v in value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return pair


def _out_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's output length; with ceil_mode the last window must start inside the input
    or the left padding."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _windows(x: Tensor, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
             out: tuple, pad_value: float) -> Tensor:
    """(N, C, H, W) -> (N, C, kh*kw, OH, OW): for each kernel offset, the strided slice of
    the padded input that this offset sees in every output position (im2col)."""
    h, w = x.shape[2:]
    extra = [max(0, (o - 1) * s + d * (k - 1) + 1 - (n + 2 * p))
             for o, s, d, k, n, p in zip(out, stride, dilation, kernel, (h, w), padding)]
    widths = ((0, 0), (0, 0), (padding[0], padding[0] + extra[0]),
              (padding[1], padding[1] + extra[1]))
    if any(a or b for a, b in widths):
        x = mg.pad(x, widths, constant_values=pad_value)
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out
    if kernel == stride and dilation == (1, 1):
        # tiling windows (e.g. MaxPool2d(2)): one reshape instead of kh*kw slices
        if x.shape[2:] != (oh * kh, ow * kw):
            x = x[:, :, :oh * kh, :ow * kw]
        tiles = x.reshape(x.shape[0], x.shape[1], oh, kh, ow, kw)
        return tiles.permute(0, 1, 3, 5, 2, 4).reshape(x.shape[0], x.shape[1], kh * kw, oh, ow)
    views = [x[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh, j * dw: j * dw + sw * (ow - 1) + 1: sw]
             for i in range(kh) for j in range(kw)]
    return mg.stack(views, axis=2)


def _spatial(x: Tensor, name: str) -> tuple:
    """Accept (N, C, H, W) or unbatched (C, H, W); return a 4-d view and whether it was 3-d."""
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, "
                         f"got shape {tuple(x.shape)}")
    return (mg.expand_dims(x, 0), True) if x.ndim == 3 else (x, False)


def _geometry(name: str, x: Tensor, kernel: tuple, stride: tuple, padding: tuple,
              dilation: tuple, ceil_mode: bool) -> tuple:
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{name}: kernel_size, stride and dilation must be positive and "
                         f"padding non-negative, got kernel_size={kernel}, stride={stride}, "
                         f"padding={padding}, dilation={dilation}")
    out = tuple(_out_size(n, k, s, p, d, ceil_mode)
                for n, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation))
    if min(out) < 1:
        raise ValueError(f"{name}: input of shape {tuple(x.shape)} is too small for "
                         f"kernel_size={kernel}, dilation={dilation}, padding={padding} "
                         f"(output would be {out})")
    return out


def conv2d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None,
           stride: IntPair = 1, padding: Union[IntPair, str] = 0, dilation: IntPair = 1,
           groups: int = 1) -> Tensor:
    """2-d cross-correlation by im2col: gather the windows, then one batched matmul."""
    x, unbatched = _spatial(input, "conv2d")
    n, c = x.shape[:2]
    o, c_group, kh, kw = weight.shape
    if groups < 1 or c % groups or o % groups or c // groups != c_group:
        raise ValueError(f"conv2d: input of shape {tuple(input.shape)} ({c} channels) does not "
                         f"fit a weight of shape {tuple(weight.shape)} with groups={groups}")
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    if isinstance(padding, str):
        padding = _named_padding(padding, stride, dilation, (kh, kw))
    padding = _pair(padding, "padding")
    kernel = (kh, kw)
    out = _geometry("conv2d", x, kernel, stride, padding, dilation, False)
    cols = _windows(x, kernel, stride, padding, dilation, out, 0.0)
    cols = cols.reshape(n, groups, c_group * kh * kw, out[0] * out[1])
    y = mg.matmul(weight.reshape(groups, o // groups, c_group * kh * kw), cols)
    y = y.reshape(n, o, out[0], out[1])
    if bias is not None:
        y = y + bias.reshape(o, 1, 1)
    return mg.squeeze(y, 0) if unbatched else y


def _named_padding(padding: str, stride: tuple, dilation: tuple, kernel: tuple) -> tuple:
    if padding == "valid":
        return (0, 0)
    if padding != "same":
        raise ValueError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', "
                         f"got {padding!r}")
    if stride != (1, 1):
        raise ValueError("conv2d: padding='same' is not supported for strided convolutions")
    totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
    if any(t % 2 for t in totals):
        raise ValueError(f"conv2d: padding='same' needs an even dilation*(kernel_size-1), got "
                         f"kernel_size={kernel}, dilation={dilation}")
    return tuple(t // 2 for t in totals)


def _pool_args(name: str, kernel_size: IntPair, stride: Optional[IntPair],
               padding: IntPair) -> tuple:
    kernel = _pair(kernel_size, "kernel_size")
    stride = kernel if stride is None else _pair(stride, "stride")
    padding = _pair(padding, "padding")
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{name}: padding should be at most half of the kernel size, got "
                         f"padding={padding} and kernel_size={kernel}")
    return kernel, stride, padding


def max_pool2d(input: Tensor, kernel_size: IntPair, stride: Optional[IntPair] = None,
               padding: IntPair = 0, dilation: IntPair = 1, ceil_mode: bool = False) -> Tensor:
    """Largest value of each window (padding counts as -inf). Ties share the gradient."""
    x, unbatched = _spatial(input, "max_pool2d")
    kernel, stride, padding = _pool_args("max_pool2d", kernel_size, stride, padding)
    dilation = _pair(dilation, "dilation")
    out = _geometry("max_pool2d", x, kernel, stride, padding, dilation, ceil_mode)
    y = _windows(x, kernel, stride, padding, dilation, out, -math.inf).amax(dim=2)
    return mg.squeeze(y, 0) if unbatched else y


def avg_pool2d(input: Tensor, kernel_size: IntPair, stride: Optional[IntPair] = None,
               padding: IntPair = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None) -> Tensor:
    """Mean of each window. The divisor counts padding (count_include_pad) but never the
    overhang that ceil_mode adds, exactly as PyTorch."""
    x, unbatched = _spatial(input, "avg_pool2d")
    kernel, stride, padding = _pool_args("avg_pool2d", kernel_size, stride, padding)
    dilation = (1, 1)
    out = _geometry("avg_pool2d", x, kernel, stride, padding, dilation, ceil_mode)
    total = _windows(x, kernel, stride, padding, dilation, out, 0.0).sum(axis=2)
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError("avg_pool2d: divisor_override must not be zero")
        y = total / divisor_override
    else:
        with mg.no_grad():
            h, w = x.shape[2:]
            mask = mg.ones((1, 1, h, w), dtype=x.dtype, device=x.backend)
            if count_include_pad:
                mask = mg.pad(mask, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2),
                              constant_values=1.0)
                mask_out = _windows(mask, kernel, stride, (0, 0), dilation, out, 0.0)
            else:
                mask_out = _windows(mask, kernel, stride, padding, dilation, out, 0.0)
            count = mask_out.sum(axis=2)
        y = total / count
    return mg.squeeze(y, 0) if unbatched else y


# -- losses ------------------------------------------------------------------------------

def _reduce(loss: Tensor, reduction: str, name: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _as_tensor(value: Any, like: Optional[Tensor] = None) -> Tensor:
    if isinstance(value, Tensor):
        return value
    return mg.tensor(value, device=like.backend if like is not None else None)


def _picked(log_probs: Tensor, target: Tensor, weight: Optional[Tensor], ignore_index: int,
            name: str) -> tuple:
    """Per element: -w[t]·log p[t] (0 where ignored), and w[t] (0 where ignored), both in
    the target's shape; the class axis of ``log_probs`` is 1 (0 when unbatched)."""
    class_axis = 0 if log_probs.ndim == 1 else 1
    num_classes = log_probs.shape[class_axis]
    expected = tuple(s for i, s in enumerate(log_probs.shape) if i != class_axis)
    if tuple(target.shape) != expected:
        raise ValueError(f"{name}: input of shape {tuple(log_probs.shape)} needs a target of "
                         f"shape {expected}, got {tuple(target.shape)}")
    if weight is not None and tuple(weight.shape) != (num_classes,):
        raise ValueError(f"{name}: weight must have shape ({num_classes},) (one per class), "
                         f"got {tuple(weight.shape)}")
    flat_t = target.reshape(-1)
    valid = flat_t != ignore_index
    safe_t = mg.where(valid, flat_t, 0)
    if safe_t.numel():
        lo, hi = int(safe_t.min().item()), int(safe_t.max().item())
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            raise IndexError(f"{name}: target {bad} is out of bounds for {num_classes} "
                             f"classes (ignore_index={ignore_index})")
    rows = log_probs if class_axis == 0 else mg.moveaxis(log_probs, 1, -1)
    rows = rows.reshape(-1, num_classes)
    picked = rows[mg.arange(rows.shape[0], device=rows.backend), safe_t]
    w_t = valid.astype(log_probs.dtype)
    if weight is not None:
        w_t = weight[safe_t] * w_t
    return (-picked * w_t).reshape(target.shape), w_t.reshape(target.shape)


def _weighted_reduce(loss: Tensor, w_t: Tensor, reduction: str, name: str) -> Tensor:
    """'mean' divides by the total weight of the non-ignored targets, as PyTorch."""
    if reduction == "mean":
        return loss.sum() / w_t.sum()
    return _reduce(loss, reduction, name)


def _check_classes(input: Tensor, name: str) -> None:
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a 0-d tensor")


def nll_loss(input: Tensor, target: Any, weight: Optional[Tensor] = None, *,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices, given log-probabilities (N, C, ...)."""
    _check_classes(input, "nll_loss")
    target = _as_tensor(target, input)
    if target.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: target must hold integer class indices, got dtype "
                        f"{target.dtype}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"nll_loss: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    loss, w_t = _picked(input, target, weight, ignore_index, "nll_loss")
    return _weighted_reduce(loss, w_t, reduction, "nll_loss")


def cross_entropy(input: Tensor, target: Any, weight: Optional[Tensor] = None, *,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """log_softmax then NLL, for any logits. ``target`` holds class indices (N, ...) or class
    probabilities of the input's shape; label smoothing mixes in the uniform distribution."""
    name = "cross_entropy"
    _check_classes(input, name)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    target = _as_tensor(target, input)
    class_axis = 0 if input.ndim == 1 else 1
    num_classes = input.shape[class_axis]
    log_probs = log_softmax(input, axis=class_axis)
    w_shape = tuple(num_classes if i == class_axis else 1 for i in range(input.ndim))
    if target.dtype.kind == "f":
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError(f"{name}: class-probability targets must have the input's shape "
                             f"{tuple(input.shape)}, got {tuple(target.shape)}")
        if label_smoothing:
            target = target * (1.0 - label_smoothing) + label_smoothing / num_classes
        terms = log_probs * target
        if weight is not None:
            terms = terms * weight.reshape(w_shape)
        return _reduce(-terms.sum(axis=class_axis), reduction, name)
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold class indices (integers) or class "
                        f"probabilities (floats), got dtype {target.dtype}")
    loss, w_t = _picked(log_probs, target, weight, ignore_index, name)
    if label_smoothing:
        spread = log_probs if weight is None else log_probs * weight.reshape(w_shape)
        valid = (target != ignore_index).astype(input.dtype)
        smooth = -spread.sum(axis=class_axis) * valid
        loss = (1.0 - label_smoothing) * loss + (label_smoothing / num_classes) * smooth
    return _weighted_reduce(loss, w_t, reduction, name)


def mse_loss(input: Tensor, target: Any, *, reduction: str = "mean") -> Tensor:
    target = _as_tensor(target, input)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"mse_loss: input shape {tuple(input.shape)} and target shape "
                         f"{tuple(target.shape)} differ")
    diff = input - target
    return _reduce(diff * diff, reduction, "mse_loss")


def binary_cross_entropy_with_logits(input: Tensor, target: Any,
                                     weight: Optional[Tensor] = None, *,
                                     reduction: str = "mean",
                                     pos_weight: Optional[Tensor] = None) -> Tensor:
    """-[p·y·log σ(x) + (1-y)·log(1-σ(x))], written with log(1+e^{-|x|}) so that no exp
    ever overflows: finite for logits of any size."""
    name = "binary_cross_entropy_with_logits"
    target = _as_tensor(target, input)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{name}: input shape {tuple(input.shape)} and target shape "
                         f"{tuple(target.shape)} differ")
    # log(1 + e^{-x}) = max(-x, 0) + log(1 + e^{-|x|})
    softplus_neg = mg.maximum(-input, 0.0) + mg.log(1.0 + mg.exp(-mg.abs(input)))
    if pos_weight is None:
        loss = (1.0 - target) * input + softplus_neg
    else:
        loss = (1.0 - target) * input + (1.0 + (pos_weight - 1.0) * target) * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, name)


from .attention import scaled_dot_product_attention  # noqa: E402  (attention uses F.dropout)
