"""Optimizer: parameter groups, per-parameter state and torch-compatible state dicts.

Subclasses only say how one parameter moves (``_update``); the loop, the skipping of
frozen parameters, ``no_grad`` and checkpointing live here once.
"""
from __future__ import annotations

import copy
import numbers
from abc import ABC, abstractmethod
from collections import defaultdict
from typing import Any, Callable, Iterable, Mapping, Optional, Union

import minigrad as mg
from ..module import _checked_init

__all__ = ["Optimizer"]

ParamsT = Union[Iterable[mg.Tensor], Iterable[dict]]
_UNORDERED = ("optimizer parameters need to be organized in ordered collections, but the "
              "ordering of tensors in sets changes between runs; use a list instead")


class Optimizer(ABC):
    """Holds ``param_groups`` (dicts of parameters plus their hyperparameters) and
    ``state`` (per-parameter buffers such as momenta), as ``torch.optim.Optimizer``."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every optimizer refuses an alien argument (``lr=None``, ``params=3``) up front,
        naming itself and the argument; its other messages stay PyTorch's, word for word."""
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _checked_init(cls.__dict__["__init__"], own_words=True)

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        if isinstance(params, mg.Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a single Tensor")
        if isinstance(params, (set, frozenset)):
            raise TypeError(_UNORDERED)
        self.defaults = dict(defaults)
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (defaults fill the rest);
        useful to unfreeze layers during fine-tuning."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param_group has no 'params' entry")
        params = param_group["params"]
        if isinstance(params, mg.Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(_UNORDERED)
        params = list(params)
        for p in params:
            if not isinstance(p, mg.Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params "
                                f"is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter group contains the same parameter twice")
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        group = {key: value for key, value in param_group.items() if key != "params"}
        for key, value in self.defaults.items():
            given = group.setdefault(key, value)
            if isinstance(value, float) and not isinstance(given, (numbers.Real, mg.Tensor)):
                raise TypeError(f"param_group: {key} must be a number, got {given!r}")
        group["params"] = params
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients (``None`` by default: cheaper than writing zeros)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.grad = None if set_to_none else mg.zeros_like(p.grad)

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Update every parameter that has a gradient; frozen ones (``requires_grad=False``
        or no ``.grad``) are skipped. ``closure`` re-evaluates the loss and returns it."""
        loss = None
        if closure is not None:
            with mg.enable_grad():
                loss = closure()
        with mg.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None or not p.requires_grad:
                        continue
                    self._update(p, p.grad.detach(), self.state[p], group)
        return loss

    @abstractmethod
    def _update(self, param: mg.Tensor, grad: mg.Tensor, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        """Move ``param`` (in place, under ``no_grad``) and refresh its ``state``."""

    # -- checkpoints ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """torch's layout: ``state`` keyed by parameter index (counted across groups in
        order), ``param_groups`` with ``params`` as those indices."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: dict(values) for p, values in self.state.items()
                 if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyperparameters and state saved by ``state_dict`` (ours, or torch's with
        tensors converted to arrays); state tensors move to each parameter's device/dtype."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a state dict, got "
                            f"{type(state_dict).__name__}")
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise KeyError(f"optimizer state dict has no {key!r} entry")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        by_index: dict[int, mg.Tensor] = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"parameter group {i}: the loaded state dict has "
                                 f"{len(saved['params'])} parameters, this optimizer has "
                                 f"{len(group['params'])}")
            by_index.update(zip(saved["params"], group["params"]))
        state: defaultdict = defaultdict(dict)
        for index, values in state_dict["state"].items():
            if index not in by_index:
                raise KeyError(f"loaded state dict has state for parameter index {index!r}, "
                               f"which no parameter group lists")
            param = by_index[index]
            state[param] = {name: _restore(name, value, param, index)
                            for name, value in values.items()}
        self.state = state
        self.param_groups = [
            {**{key: copy.deepcopy(value) for key, value in saved.items() if key != "params"},
             "params": group["params"]}
            for saved, group in zip(saved_groups, self.param_groups)]

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {key}: {group[key]}" for key in sorted(group) if key != "params")
        return "\n".join(lines + [")"])


def _restore(name: str, value: Any, param: mg.Tensor, index: Any) -> Any:
    """A saved state entry as this optimizer keeps it: ``step`` a Python int, arrays and
    tensors a fresh tensor on the parameter's device (float ones in its dtype)."""
    if name == "step":
        return int(float(value))
    if not hasattr(value, "shape"):
        return value
    if tuple(value.shape) and tuple(value.shape) != tuple(param.shape):
        raise ValueError(f"state {name!r} of parameter {index} has shape {tuple(value.shape)}, "
                         f"but the parameter has shape {tuple(param.shape)}")
    restored = mg.tensor(value, device=param.device)
    if restored.dtype.kind == "f" and param.dtype.kind == "f":
        restored = restored.astype(param.dtype)
    return restored


def _lerp(start: mg.Tensor, end: mg.Tensor, weight: float) -> mg.Tensor:
    """``start + weight * (end - start)``, rounded as torch's ``lerp_`` rounds it, so
    trajectories match PyTorch's to the last bits."""
    if weight < 0.5:
        return start + (end - start) * weight
    return end - (end - start) * (1.0 - weight)


def _check_hyperparameters(lr: float, **others: float) -> None:
    """Refuse negative hyperparameters with torch's messages, naming the one at fault."""
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    for name, value in others.items():
        if not 0.0 <= value:
            label = "epsilon" if name == "eps" else name
            raise ValueError(f"Invalid {label} value: {value}")
