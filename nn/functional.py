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


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return _written(input, mg.relu(input), inplace)


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
    if input.numel() == 0:  # no maximum to take: nothing to shift
        return input
    return input - input.amax(dim=axis, keepdim=True).detach()


def log_softmax(input: Tensor, axis: int = -1, *, dim: Optional[int] = None) -> Tensor:
    """(x - max) - log(sum(exp(x - max))): exact for any logits (one primitive)."""
    return mg.log_softmax(input, _axis(axis, dim, "log_softmax"))


def softmax(input: Tensor, axis: int = -1, *, dim: Optional[int] = None) -> Tensor:
    axis = _axis(axis, dim, "softmax")
    e = mg.exp(_shifted(input, axis))
    return e / e.sum(axis=axis, keepdims=True)


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted
    dropout, so evaluation needs no rescaling)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not isinstance(input, Tensor):
        raise TypeError(f"dropout: input must be a Tensor, got {type(input).__name__}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * mg.zeros_like(input)
    keep = (mg.rand_like(input) >= p).astype(input.dtype) * (1.0 / (1.0 - p))
    return input * keep


def embedding(input: Any, weight: Tensor, padding_idx: Optional[int] = None,
              max_norm: Optional[float] = None, norm_type: float = 2.0) -> Tensor:
    """Rows of ``weight`` picked by integer indices; the ``padding_idx`` row gets no gradient.
    With ``max_norm``, the picked rows of ``weight`` are first renormalised in place."""
    indices = _as_tensor(input, weight)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {indices.dtype}")
    num = weight.shape[0]
    # on a GPU, checked on the device and raised at the next host sync (no stall here)
    mg.cuda.check_range(indices, 0, num, f"embedding: index {{bad}} is out of range for an "
                        f"embedding table of {num} rows")
    if max_norm is not None:
        _embedding_renorm_(weight, indices, max_norm, norm_type)
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
    if num_classes == -1:  # the size depends on the data: a host sync (as in PyTorch)
        num_classes = int(tensor.max().item()) + 1 if tensor.numel() else 0
    mg.cuda.check_range(tensor, 0, num_classes, f"one_hot: class values must lie in "
                        f"[0, {num_classes}), got {{bad}}", ValueError)
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
    pair = (value, value) if isinstance(value, int) else \
        tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    if not all(-2 ** 63 <= v < 2 ** 63 for v in pair):  # PyTorch: "Overflow when unpacking"
        raise ValueError(f"{name} must fit in int64, got {value!r}")
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


def _check_targets(target: Tensor, ignore_index: int, num_classes: int, name: str) -> Tensor:
    """The targets with ignored ones as 0, after checking the others are class indices."""
    safe_t = mg.where(target != ignore_index, target, 0)
    mg.cuda.check_range(safe_t, 0, num_classes, f"{name}: target {{bad}} is out of bounds "
                        f"for {num_classes} classes (ignore_index={ignore_index})")
    return safe_t


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
    safe_t = _check_targets(flat_t, ignore_index, num_classes, name)
    rows = log_probs if class_axis == 0 else mg.moveaxis(log_probs, 1, -1)
    rows = rows.reshape(-1, num_classes)
    picked = rows[mg.arange(rows.shape[0], device=rows.backend), safe_t]
    w_t = valid.astype(log_probs.dtype)
    if weight is not None:
        w_t = weight[safe_t] * w_t
    return (-picked * w_t).reshape(target.shape), w_t.reshape(target.shape)


def _weighted_reduce(loss: Tensor, w_t: Tensor, reduction: str, name: str) -> Tensor:
    """'mean' divides by the total weight of the non-ignored targets, as PyTorch: nan
    when that is 0 (every target ignored), with no gradient (not 0 / 0's nan) and unwarned."""
    if reduction == "mean":
        total = w_t.sum()
        counted = total != 0
        return mg.where(counted, loss.sum() / mg.where(counted, total, 1.0), float("nan"))
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
    if (input.ndim == 2 and target.ndim == 1 and target.dtype.kind in "iu" and weight is None
            and not label_smoothing and target.shape[0] == input.shape[0]):
        _check_targets(target, ignore_index, num_classes, name)
        return mg.ops.softmax_cross_entropy(input, target, ignore_index, reduction)
    log_probs = log_softmax(input, axis=class_axis)
    w_shape = tuple(num_classes if i == class_axis else 1 for i in range(input.ndim))
    if target.dtype.kind == "f":
        if ignore_index != -100:  # a probability target has no class index to ignore
            raise ValueError(f"{name}: ignore_index ({ignore_index}) is not supported for "
                             "class-probability (floating point) targets")
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
    for other in (target, weight, pos_weight):
        if isinstance(other, Tensor) and other.device != input.device:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at "
                               f"least two devices, {input.device} and {other.device}! (when "
                               f"checking arguments for {name})")
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


# -- losses (issue 8): defined beside their modules, one file per concept -------------------
from .ctc import ctc_loss  # noqa: E402
from .margin_losses import cosine_embedding_loss, margin_ranking_loss  # noqa: E402
from .probability_losses import binary_cross_entropy, kl_div  # noqa: E402
from .regression_losses import huber_loss, l1_loss, smooth_l1_loss  # noqa: E402

__all__ += ["l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy", "kl_div",
            "cosine_embedding_loss", "margin_ranking_loss", "ctc_loss"]

from .similarity import cosine_similarity, normalize, pairwise_distance  # noqa: E402

__all__ += ["normalize", "cosine_similarity", "pairwise_distance"]


# -- layers and activations (issue 8) ----------------------------------------------------

__all__ += [
    "silu", "leaky_relu", "elu", "selu", "softplus", "hardtanh", "mish", "softsign", "glu",
    "logsigmoid", "prelu", "batch_norm", "group_norm", "conv1d", "conv_transpose2d",
    "max_pool1d", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "embedding_bag", "bilinear",
    "dropout1d", "dropout2d",
]

import warnings  # noqa: E402

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _written(input: Tensor, out: Tensor, inplace: bool) -> Tensor:
    """PyTorch's ``inplace=True``: the result is written into ``input`` (a recorded
    in-place op, so gradients still flow) and ``input`` is returned."""
    return input.copy_(out) if inplace else out


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x·σ(x) (also called swish)."""
    return _written(input, input * mg.sigmoid(input), inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, negative_slope·x otherwise (the slope is also the gradient at 0)."""
    return _written(input, mg.where(input > 0, input, input * negative_slope), inplace)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha·(eˣ - 1) otherwise. The exponential only sees the non-positive
    part, so a large x never makes an inf whose zero gradient would turn into NaN."""
    negative = mg.where(input > 0, mg.zeros_like(input), input)
    return _written(input, mg.where(input > 0, input, alpha * mg.expm1(negative)), inplace)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale·elu(x, alpha) with the self-normalising constants of Klambauer et al."""
    return _written(input, _SELU_SCALE * elu(input, _SELU_ALPHA), inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^{βx})/β, and x itself where βx > threshold (as PyTorch: there the two agree
    to float precision, and the exponential never overflows)."""
    scaled = input * beta
    linear = scaled > threshold
    safe = mg.where(linear, mg.zeros_like(scaled), scaled)
    return mg.where(linear, input, mg.log1p(mg.exp(safe)) / beta)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """x clipped to [min_val, max_val]; the gradient is 0 on the bounds too (as PyTorch,
    unlike ``clamp``)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    inside = (input > min_val) & (input < max_val)
    return _written(input, mg.where(inside, input, mg.clamp(input, min_val, max_val).detach()),
                    inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x·tanh(softplus(x))."""
    return _written(input, input * mg.tanh(softplus(input)), inplace)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return input / (1.0 + mg.abs(input))


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: split ``dim`` in halves a, b and return a·σ(b)."""
    if input.ndim == 0:
        raise ValueError("glu: does not support 0-d (scalar) inputs")
    if not -input.ndim <= dim < input.ndim:
        raise IndexError(f"glu: dim {dim} is out of range for an input of shape "
                         f"{tuple(input.shape)}")
    size = input.shape[dim]
    if size % 2:
        raise ValueError(f"glu: halving dimension must be even, but dimension {dim} of an "
                         f"input of shape {tuple(input.shape)} has size {size}")
    a, b = input.chunk(2, dim)
    return a * mg.sigmoid(b)


def logsigmoid(input: Tensor) -> Tensor:
    """log σ(x), in two branches that each only exponentiate a non-positive number:
    x - log(1 + eˣ) for x < 0 and -log(1 + e⁻ˣ) otherwise. Finite for any x."""
    negative = input < 0
    zeros = mg.zeros_like(input)
    low = mg.where(negative, input, zeros)
    high = mg.where(negative, zeros, input)
    return mg.where(negative, low - mg.log1p(mg.exp(low)), -mg.log1p(mg.exp(-high)))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """leaky_relu with a learned slope: one for all channels, or one per channel (dim 1)."""
    channels = input.shape[1] if input.ndim >= 2 else 1
    if weight.numel() == 1:
        slope = weight.reshape(())
    elif weight.numel() == channels:
        slope = weight.reshape((channels,) + (1,) * (input.ndim - 2))
    else:
        raise ValueError(f"prelu: weight has {weight.numel()} elements but an input of shape "
                         f"{tuple(input.shape)} has {channels} channels (expected 1 or "
                         f"{channels})")
    return mg.where(input > 0, input, slope * input)


# normalisation ---------------------------------------------------------------------------

def batch_norm(input: Tensor, running_mean: Optional[Tensor], running_var: Optional[Tensor],
               weight: Optional[Tensor] = None, bias: Optional[Tensor] = None,
               training: bool = False, momentum: Any = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) over the batch and every spatial position.

    Training: the batch's own mean and biased variance normalise; the running statistics,
    if given, move toward the batch's mean and *unbiased* variance by ``momentum`` (a float
    or a 0-d tensor), in place and unrecorded. Evaluation: the running statistics normalise.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, ...), got shape "
                         f"{tuple(input.shape)}")
    if not isinstance(eps, (int, float)):
        raise TypeError(f"batch_norm: eps must be a number, got {eps!r}")
    if training and eps <= 0:  # PyTorch's checks (a NaN eps passes both, as there)
        raise ValueError(f"batch_norm: eps must be positive during training, but got {eps}")
    if eps < 0:
        raise ValueError(f"batch_norm: eps must be non-negative, but got {eps}")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (channels,):
            raise ValueError(f"batch_norm: {name} of shape {tuple(t.shape)} does not fit an "
                             f"input of shape {tuple(input.shape)} ({channels} channels)")
    shape = (1, channels) + (1,) * (input.ndim - 2)
    if training:
        count = input.numel() // channels if channels else 0
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got "
                             f"input size {tuple(input.shape)}")
        axes = (0,) + tuple(range(2, input.ndim))
        mean = input.mean(axis=axes, keepdims=True)
        centred = input - mean
        var = (centred * centred).mean(axis=axes, keepdims=True)
        if running_mean is not None or running_var is not None:
            with mg.no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(mean.reshape(channels) * momentum)
                if running_var is not None:
                    unbiased = var.reshape(channels) * (count / (count - 1))
                    running_var.mul_(1 - momentum).add_(unbiased * momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation (training=False) needs running_mean "
                             "and running_var")
        centred = input - running_mean.reshape(shape)
        var = running_var.reshape(shape)
    out = centred * (var + eps) ** -0.5
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def group_norm(input: Tensor, num_groups: int, weight: Optional[Tensor] = None,
               bias: Optional[Tensor] = None, eps: float = 1e-5) -> Tensor:
    """Split the channels (dim 1) into groups and normalise each sample's group (biased
    variance), then a per-channel affine map. Independent of the batch size."""
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected an input of shape (N, C, ...), got shape "
                         f"{tuple(input.shape)}")
    n, channels = input.shape[:2]
    if num_groups < 1 or channels % num_groups:
        raise ValueError(f"group_norm: the number of channels in the input must be divisible "
                         f"by num_groups, got an input of shape {tuple(input.shape)} and "
                         f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (channels,):
            raise ValueError(f"group_norm: {name} of shape {tuple(t.shape)} does not fit an "
                             f"input of shape {tuple(input.shape)} ({channels} channels)")
    groups = input.reshape(n, num_groups, -1)
    centred = groups - groups.mean(axis=-1, keepdims=True)
    var = (centred * centred).mean(axis=-1, keepdims=True)
    out = (centred * (var + eps) ** -0.5).reshape(input.shape)
    shape = (1, channels) + (1,) * (input.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


# 1-d convolution and pooling: the 2-d code on a height-1 image ----------------------------

def _single(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    values = tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool):
        raise ValueError(f"{name} must be an int or a 1-tuple, got {value!r}")
    return values[0]


def _check_1d(input: Tensor, name: str) -> None:
    if input.ndim not in (2, 3):
        raise ValueError(f"{name}: expected a 2-d (C, L) or 3-d (N, C, L) input, got shape "
                         f"{tuple(input.shape)}")


def _check_window_1d(name: str, input: Tensor, k: int, s: int, p: int, d: int,
                     ceil_mode: bool) -> None:
    if k < 1 or s < 1 or d < 1 or p < 0:
        raise ValueError(f"{name}: kernel_size, stride and dilation must be positive and "
                         f"padding non-negative, got kernel_size={k}, stride={s}, "
                         f"padding={p}, dilation={d}")
    out = _out_size(input.shape[-1], k, s, p, d, ceil_mode)
    if out < 1:
        raise ValueError(f"{name}: input of shape {tuple(input.shape)} is too small for "
                         f"kernel_size={k}, dilation={d}, padding={p} (output length "
                         f"would be {out})")


def conv1d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-d cross-correlation over (N, C, L). ``padding='same'`` pads the extra element on
    the right when the total is odd, as PyTorch."""
    _check_1d(input, "conv1d")
    if weight.ndim != 3:
        raise ValueError(f"conv1d: weight must be 3-d (out_channels, in_channels/groups, "
                         f"kernel_size), got shape {tuple(weight.shape)}")
    stride, dilation = _single(stride, "stride"), _single(dilation, "dilation")
    channels, c_group = input.shape[-2], weight.shape[1]
    if groups < 1 or channels % groups or weight.shape[0] % groups \
            or channels // groups != c_group:
        raise ValueError(f"conv1d: input of shape {tuple(input.shape)} ({channels} channels) "
                         f"does not fit a weight of shape {tuple(weight.shape)} with "
                         f"groups={groups}")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"conv1d: padding must be an int, 'valid' or 'same', got "
                             f"{padding!r}")
        if padding == "same" and stride != 1:
            raise ValueError("conv1d: padding='same' is not supported for strided "
                             "convolutions")
        total = dilation * (weight.shape[-1] - 1) if padding == "same" else 0
        widths = ((0, 0),) * (input.ndim - 1) + ((total // 2, total - total // 2),)
        input = mg.pad(input, widths) if total else input
        padding = 0
    padding = _single(padding, "padding")
    _check_window_1d("conv1d", input, weight.shape[-1], stride, padding, dilation, False)
    out = conv2d(mg.unsqueeze(input, -2), mg.unsqueeze(weight, -2), bias, (1, stride),
                 (0, padding), (1, dilation), groups)
    return mg.squeeze(out, -2)


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False) -> Tensor:
    """Largest value of each window along the last axis (padding counts as -inf)."""
    _check_1d(input, "max_pool1d")
    k = _single(kernel_size, "kernel_size")
    s = k if stride is None else _single(stride, "stride")
    p, d = _single(padding, "padding"), _single(dilation, "dilation")
    _check_pool_padding_1d("max_pool1d", k, p)
    _check_window_1d("max_pool1d", input, k, s, p, d, ceil_mode)
    out = max_pool2d(mg.unsqueeze(input, -2), (1, k), (1, s), (0, p), (1, d), ceil_mode)
    return mg.squeeze(out, -2)


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Mean of each window along the last axis; padding is counted as in ``avg_pool2d``."""
    _check_1d(input, "avg_pool1d")
    k = _single(kernel_size, "kernel_size")
    s = k if stride is None else _single(stride, "stride")
    p = _single(padding, "padding")
    _check_pool_padding_1d("avg_pool1d", k, p)
    _check_window_1d("avg_pool1d", input, k, s, p, 1, ceil_mode)
    out = avg_pool2d(mg.unsqueeze(input, -2), (1, k), (1, s), (0, p), ceil_mode,
                     count_include_pad)
    return mg.squeeze(out, -2)


def _check_pool_padding_1d(name: str, k: int, p: int) -> None:
    if 2 * p > k:
        raise ValueError(f"{name}: padding should be at most half of the kernel size, got "
                         f"padding={p} and kernel_size={k}")


# transposed convolution: a stride-1 convolution of the zero-stuffed input -----------------

def _stuff_zeros(x: Tensor, axis: int, stride: int) -> Tensor:
    """Put stride-1 zeros between neighbours along ``axis``: (…, n, …) -> (…, (n-1)s+1, …)."""
    if stride == 1:
        return x
    n = x.shape[axis]
    y = mg.unsqueeze(x, axis + 1)
    widths = [(0, 0)] * y.ndim
    widths[axis + 1] = (0, stride - 1)
    shape = list(x.shape)
    shape[axis] = n * stride
    return mg.pad(y, widths).reshape(shape).narrow(axis, 0, (n - 1) * stride + 1)


def _pad_or_crop(x: Tensor, axis: int, before: int, after: int) -> Tensor:
    """Zero-pad (positive amounts) or crop (negative amounts) both ends of ``axis``."""
    if before < 0 or after < 0:
        start, stop = max(0, -before), x.shape[axis] - max(0, -after)
        x = x.narrow(axis, start, stop - start)
    if before > 0 or after > 0:
        widths = [(0, 0)] * x.ndim
        widths[axis] = (max(0, before), max(0, after))
        x = mg.pad(x, widths)
    return x


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None,
                     stride: IntPair = 1, padding: IntPair = 0, output_padding: IntPair = 0,
                     groups: int = 1, dilation: IntPair = 1) -> Tensor:
    """The gradient of ``conv2d`` with respect to its input, as a layer ("deconvolution").

    Weight (in_channels, out_channels/groups, kh, kw). Output size per axis:
    (n-1)·stride - 2·padding + dilation·(k-1) + output_padding + 1. Computed as a stride-1
    convolution, with the flipped kernel, of the input with stride-1 zeros between its
    elements and dilation·(k-1) - padding zeros around it (negative: cropped).
    """
    x, unbatched = _spatial(input, "conv_transpose2d")
    if weight.ndim != 4:
        raise ValueError(f"conv_transpose2d: weight must be 4-d (in_channels, "
                         f"out_channels/groups, kh, kw), got shape {tuple(weight.shape)}")
    c_in, o_group, kh, kw = weight.shape
    if groups < 1 or c_in % groups or x.shape[1] != c_in:
        raise ValueError(f"conv_transpose2d: input of shape {tuple(input.shape)} "
                         f"({x.shape[1]} channels) does not fit a weight of shape "
                         f"{tuple(weight.shape)} with groups={groups} (expected "
                         f"{c_in} channels, divisible by groups)")
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    extra, dilation = _pair(output_padding, "output_padding"), _pair(dilation, "dilation")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0 or min(extra) < 0:
        raise ValueError(f"conv_transpose2d: stride and dilation must be positive, padding "
                         f"and output_padding non-negative, got stride={stride}, "
                         f"padding={padding}, output_padding={extra}, dilation={dilation}")
    if any(e >= max(s, d) for e, s, d in zip(extra, stride, dilation)):
        raise ValueError(f"conv_transpose2d: output_padding must be smaller than either "
                         f"stride or dilation, got output_padding={extra}, stride={stride}, "
                         f"dilation={dilation}")
    out = [(n - 1) * s - 2 * p + d * (k - 1) + e + 1 for n, s, p, d, k, e in
           zip(x.shape[2:], stride, padding, dilation, (kh, kw), extra)]
    if min(out) < 1:
        raise ValueError(f"conv_transpose2d: input of shape {tuple(input.shape)} gives an "
                         f"output of size {tuple(out)} with kernel {(kh, kw)}, stride={stride}, "
                         f"padding={padding}, dilation={dilation}")
    for axis, s, p, d, k, e in zip((2, 3), stride, padding, dilation, (kh, kw), extra):
        x = _stuff_zeros(x, axis, s)
        x = _pad_or_crop(x, axis, d * (k - 1) - p, d * (k - 1) - p + e)
    flipped = weight.reshape(groups, c_in // groups, o_group, kh, kw).permute(0, 2, 1, 3, 4)
    flipped = mg.flip(flipped.reshape(groups * o_group, c_in // groups, kh, kw), (2, 3))
    y = conv2d(x, flipped, bias, 1, 0, dilation, groups)
    return mg.squeeze(y, 0) if unbatched else y


# adaptive pooling: PyTorch's windows [floor(i·n/out), ceil((i+1)·n/out)) ------------------

def _adaptive_sizes(name: str, spatial: tuple, output_size: Any) -> tuple:
    """The output size per pooled dim; None (keep that dim's size) only inside a tuple of
    several, as PyTorch takes it (``(None, 3)``, never a bare None nor a 1-d None), and
    no bools (PyTorch refuses ``True`` as a size here)."""
    sizes = (output_size,) * len(spatial) if isinstance(output_size, int) else \
        tuple(output_size) if isinstance(output_size, (tuple, list)) else ()
    keep_ok = len(spatial) > 1
    if len(sizes) != len(spatial) or not all(
            s is None and keep_ok or isinstance(s, int) and not isinstance(s, bool)
            for s in sizes):
        raise ValueError(f"{name}: output_size must be an int or a tuple of {len(spatial)}, "
                         f"got {output_size!r}")
    if 0 in spatial:
        raise ValueError(f"{name}: the input's pooled dims {tuple(spatial)} must not be empty")
    sizes = tuple(n if s is None else int(s) for s, n in zip(sizes, spatial))
    if min(sizes) < 1:
        raise ValueError(f"{name}: output_size must be positive, got {output_size!r}")
    if max(sizes) > 2 ** 20:  # one window per output element is built: keep it bounded
        raise ValueError(f"{name}: output_size {output_size!r} is too large")
    return sizes


def _adaptive_bounds(n: int, out: int) -> list:
    return [((i * n) // out, -(-((i + 1) * n) // out)) for i in range(out)]


def _adaptive_mean(x: Tensor, axis: int, out: int) -> Tensor:
    """Adaptive average along one (negative) axis: a reshape when the windows tile the axis
    evenly, else a matmul with the (out, n) averaging matrix."""
    n, dim = x.shape[axis], x.ndim + axis
    if n % out == 0:
        shape = tuple(x.shape[:dim]) + (out, n // out) + tuple(x.shape[dim + 1:])
        return x.reshape(shape).mean(axis=dim + 1)
    weights = [[0.0] * n for _ in range(out)]
    for i, (start, stop) in enumerate(_adaptive_bounds(n, out)):
        weights[i][start:stop] = [1.0 / (stop - start)] * (stop - start)
    matrix = mg.tensor(weights, dtype=x.dtype, device=x.backend)
    return x @ matrix.T if axis == -1 else matrix @ x


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed output size (a size of None keeps that axis)."""
    _spatial(input, "adaptive_avg_pool2d")
    oh, ow = _adaptive_sizes("adaptive_avg_pool2d", tuple(input.shape[-2:]), output_size)
    return _adaptive_mean(_adaptive_mean(input, -2, oh), -1, ow)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    _check_1d(input, "adaptive_avg_pool1d")
    (out,) = _adaptive_sizes("adaptive_avg_pool1d", tuple(input.shape[-1:]), output_size)
    return _adaptive_mean(input, -1, out)


def _window_indices(n: int, out: int) -> list:
    """(out, longest window) positions; short windows repeat their last position, which
    changes neither the maximum nor which position holds it first."""
    bounds = _adaptive_bounds(n, out)
    width = max(stop - start for start, stop in bounds)
    return [[min(start + t, stop - 1) for t in range(width)] for start, stop in bounds]


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling to a fixed output size. With ``return_indices``, also each maximum's
    position in the flattened H·W plane (int64), as PyTorch."""
    x, unbatched = _spatial(input, "adaptive_max_pool2d")
    h, w = x.shape[2:]
    oh, ow = _adaptive_sizes("adaptive_max_pool2d", (h, w), output_size)
    rows = mg.tensor(_window_indices(h, oh), device=x.backend)
    cols = mg.tensor(_window_indices(w, ow), device=x.backend)
    kh, kw = rows.shape[1], cols.shape[1]
    windows = x[:, :, rows.reshape(oh, kh, 1, 1), cols.reshape(1, 1, ow, kw)]
    y = windows.amax(dim=(3, 5))
    if not return_indices:
        return mg.squeeze(y, 0) if unbatched else y
    n, c = x.shape[:2]
    with mg.no_grad():
        flat = windows.permute(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, kh * kw)
        plane = rows.reshape(oh, 1, kh, 1) * w + cols.reshape(1, ow, 1, kw)
        plane = plane.reshape(1, 1, oh, ow, kh * kw).expand(n, c, oh, ow, kh * kw)
        picked = flat.argmax(dim=-1, keepdim=True)
        indices = mg.gather(plane, -1, picked).squeeze(-1)
    if unbatched:
        return mg.squeeze(y, 0), mg.squeeze(indices, 0)
    return y, indices


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    _check_1d(input, "adaptive_max_pool1d")
    (out,) = _adaptive_sizes("adaptive_max_pool1d", tuple(input.shape[-1:]), output_size)
    result = adaptive_max_pool2d(mg.unsqueeze(input, -2), (1, out), return_indices)
    if return_indices:
        return mg.squeeze(result[0], -2), mg.squeeze(result[1], -2)
    return mg.squeeze(result, -2)


# embeddings ---------------------------------------------------------------------------------

def _embedding_renorm_(weight: Tensor, indices: Tensor, max_norm: float,
                       norm_type: float) -> None:
    """Scale, in place and unrecorded, every row that ``indices`` picks whose
    ``norm_type``-norm exceeds ``max_norm`` down to max_norm (PyTorch's
    ``embedding_renorm_``: the table itself changes, even in a forward pass)."""
    with mg.no_grad():
        flat = indices.reshape(-1)
        rows = weight[flat]
        norms = mg.norm(rows, norm_type, dim=1, keepdim=True)
        scale = mg.where(norms > max_norm, max_norm / (norms + 1e-7), mg.ones_like(norms))
        weight[flat] = rows * scale


def embedding_bag(input: Any, weight: Tensor, offsets: Any = None,
                  max_norm: Optional[float] = None, norm_type: float = 2.0,
                  scale_grad_by_freq: bool = False, mode: str = "mean",
                  sparse: bool = False, per_sample_weights: Optional[Tensor] = None,
                  include_last_offset: bool = False,
                  padding_idx: Optional[int] = None) -> Tensor:
    """Sum, mean or max of the embeddings of each bag of indices, without building the
    (bags, length, dim) lookup first in user code.

    Bags are the rows of a 2-d ``input``, or slices of a 1-d ``input`` starting at
    ``offsets``. Entries equal to ``padding_idx`` are left out (and not counted by 'mean');
    an empty bag gives zeros. ``per_sample_weights`` scales each entry ('sum' only).
    """
    name = "embedding_bag"
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{name}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    _check_dense(name, scale_grad_by_freq, sparse)
    indices = _as_tensor(input, weight)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{name}: input must hold integer indices, got dtype {indices.dtype}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise ValueError(f"{name}: per_sample_weights is only supported for mode='sum', "
                             f"got mode={mode!r}")
        if tuple(per_sample_weights.shape) != tuple(indices.shape):
            raise ValueError(f"{name}: per_sample_weights of shape "
                             f"{tuple(per_sample_weights.shape)} must have the input's shape "
                             f"{tuple(indices.shape)}")
    if indices.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{name}: offsets must be None when input is 2-d (each row is "
                             f"a bag)")
        bags, scale = indices, per_sample_weights
        valid = mg.ones(indices.shape, dtype=mg.bool_, device=indices.backend)
    elif indices.ndim == 1:
        positions, valid = _bag_positions(name, indices, offsets, include_last_offset)
        bags = indices[positions]
        scale = None if per_sample_weights is None else per_sample_weights[positions]
    else:
        raise ValueError(f"{name}: input must be 1-d (with offsets) or 2-d, got shape "
                         f"{tuple(indices.shape)}")
    if padding_idx is not None:
        num = weight.shape[0]
        if not -num <= padding_idx < num:
            raise ValueError(f"{name}: padding_idx {padding_idx} must be within "
                             f"num_embeddings ({num})")
        valid = valid & (bags != (padding_idx + num if padding_idx < 0 else padding_idx))
    if max_norm is not None and bags.numel():
        _embedding_renorm_(weight, bags, max_norm, norm_type)
    rows = embedding(bags, weight)
    keep = mg.unsqueeze(valid, -1)
    if mode == "max":
        if rows.shape[1] == 0:  # every bag is empty: zeros, still on the weight's graph
            return rows.sum(axis=1)
        largest = mg.where(keep, rows, -math.inf).amax(dim=1)
        return mg.where(mg.unsqueeze(valid.any(dim=1), -1), largest, 0.0)
    factor = valid.astype(weight.dtype)
    if scale is not None:
        factor = factor * scale
    total = (rows * mg.unsqueeze(factor, -1)).sum(axis=1)
    if mode == "sum":
        return total
    count = valid.sum(axis=1).astype(weight.dtype)
    return total / mg.unsqueeze(mg.clamp(count, min=1), -1)


def _check_dense(name: str, scale_grad_by_freq: bool, sparse: bool) -> None:
    if scale_grad_by_freq or sparse:
        raise ValueError(f"{name}: scale_grad_by_freq=True and sparse=True are not supported "
                         f"(minigrad keeps dense, unscaled gradients)")


def _bag_positions(name: str, indices: Tensor, offsets: Any, include_last_offset: bool
                   ) -> tuple:
    """For a 1-d input cut at ``offsets``: a (bags, longest bag) matrix of positions into
    the input (clamped to a valid one past a bag's end) and whether each is in its bag."""
    if offsets is None:
        raise ValueError(f"{name}: a 1-d input needs offsets (where each bag starts)")
    offsets = _as_tensor(offsets, indices)
    if offsets.ndim != 1 or offsets.dtype.kind not in "iu":
        raise ValueError(f"{name}: offsets must be a 1-d tensor of integers, got shape "
                         f"{tuple(offsets.shape)} and dtype {offsets.dtype}")
    length = indices.shape[0]
    if include_last_offset:
        if offsets.shape[0] < 1:
            raise ValueError(f"{name}: include_last_offset=True needs at least one offset")
        starts, ends = offsets[:-1], offsets[1:]
    else:
        last = mg.tensor([length], dtype=offsets.dtype, device=offsets.backend)
        starts, ends = offsets, mg.cat([offsets[1:], last])
    if offsets.numel():
        first, sizes = int(offsets[0].item()), ends - starts
        if first != 0:
            raise ValueError(f"{name}: offsets[0] must be 0 (the first bag starts at the "
                             f"start of the input), got {first}")
        if bool((sizes < 0).any().item()) or int(ends.max().item()) > length:
            raise ValueError(f"{name}: offsets must be non-decreasing and at most the input "
                             f"length {length}, got {offsets.tolist()}")
    sizes = ends - starts
    longest = int(sizes.max().item()) if sizes.numel() else 0
    steps = mg.arange(longest, device=indices.backend)
    valid = mg.unsqueeze(steps, 0) < mg.unsqueeze(sizes, 1)
    positions = mg.where(valid, mg.unsqueeze(starts, 1) + steps, 0)
    return positions, valid


# bilinear map and channel dropout -------------------------------------------------------------

def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Optional[Tensor] = None) -> Tensor:
    """y_o = x1ᵀ W_o x2 + b_o, with weight (out, in1, in2), over any leading batch axes."""
    if weight.ndim != 3 or input1.ndim == 0 or input2.ndim == 0 \
            or tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]) \
            or (input1.shape[-1], input2.shape[-1]) != tuple(weight.shape[1:]):
        raise ValueError(f"bilinear: inputs of shapes {tuple(input1.shape)} and "
                         f"{tuple(input2.shape)} do not fit a weight of shape "
                         f"{tuple(weight.shape)} (expected (..., in1), (..., in2) and "
                         f"(out, in1, in2), the leading shapes equal)")
    out = mg.einsum("...i,oij,...j->...o", input1, weight, input2)
    return out if bias is None else out + bias


def _channel_dropout(input: Tensor, p: float, training: bool, inplace: bool,
                     mask_shape: tuple) -> Tensor:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not isinstance(input, Tensor):
        raise TypeError(f"dropout: input must be a Tensor, got {type(input).__name__}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return _written(input, input * 0.0, inplace)
    keep = mg.rand(mask_shape, dtype=input.dtype, device=input.backend) >= p
    return _written(input, input * (keep.astype(input.dtype) * (1.0 / (1.0 - p))), inplace)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of a (N, C, L) or (C, L) input with probability p, scaling the
    rest by 1/(1-p): neighbouring positions are correlated, so single zeros help little."""
    if input.ndim not in (2, 3):
        raise ValueError(f"dropout1d: expected a 2-d (C, L) or 3-d (N, C, L) input, got "
                         f"shape {tuple(input.shape)}")
    return _channel_dropout(input, p, training, inplace, tuple(input.shape[:-1]) + (1,))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole feature maps of a (N, C, H, W) input with probability p. A 3-d input is
    read as (N, C, L), with PyTorch's warning (PyTorch plans to read it as (C, H, W))."""
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 3-d or 4-d (N, C, H, W) input, got shape "
                         f"{tuple(input.shape)}")
    if input.ndim == 3:
        warnings.warn("dropout2d: received a 3-d input; as PyTorch does today, it is read as "
                      "(N, C, L) and whole channels of length L are dropped (use dropout1d "
                      "for that)", UserWarning, stacklevel=2)
    return _channel_dropout(input, p, training, inplace, tuple(input.shape[:2]) +
                            (1,) * (input.ndim - 2))
