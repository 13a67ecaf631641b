"""L-BFGS: a quasi-Newton method that builds its curvature estimate from the last few
steps and gradient changes, optionally with a strong-Wolfe line search.

Each ``step(closure)`` runs up to ``max_iter`` iterations, re-evaluating the loss through
``closure`` (which zeroes the gradients, computes the loss, calls ``backward`` and returns
the loss). Iterates follow ``torch.optim.LBFGS`` exactly.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Optional

import minigrad as mg

from .optimizer import Optimizer, ParamsT, _check_hyperparameters

__all__ = ["LBFGS"]

Closure = Callable[[], Any]


class LBFGS(Optimizer):
    """L-BFGS over all parameters flattened into one vector (one parameter group only).

    The direction is the two-loop recursion over the last ``history_size`` pairs
    (step, gradient change) whose curvature ``y·s`` exceeds 1e-10; the first step is the
    negative gradient scaled to at most ``lr / sum|g|``. Without a line search each
    iteration moves by ``lr`` along it; with ``line_search_fn="strong_wolfe"`` the step
    length satisfies the strong Wolfe conditions (c1 = 1e-4, c2 = 0.9). A step stops
    after ``max_iter`` iterations or ``max_eval`` closure calls, when the largest
    gradient entry is at most ``tolerance_grad``, or when the step or the loss change
    falls below ``tolerance_change``.
    """

    def __init__(self, params: ParamsT, lr: float = 1, max_iter: int = 20,
                 max_eval: Optional[int] = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: Optional[str] = None) -> None:
        _check_hyperparameters(lr)
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"only 'strong_wolfe' is supported as line_search_fn, "
                             f"got {line_search_fn!r}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      history_size=history_size,
                                      line_search_fn=line_search_fn))

    @property
    def _params(self) -> list[mg.Tensor]:
        return self.param_groups[0]["params"]

    def _update(self, param: mg.Tensor, grad: mg.Tensor, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        raise TypeError("LBFGS moves all parameters together: call step(closure)")

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Only the first group is accepted: the parameters move as one vector."""
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    # -- the flat parameter vector -----------------------------------------------------
    def _flat_grad(self) -> mg.Tensor:
        return mg.cat([p.grad.reshape(-1) if p.grad is not None
                       else mg.zeros(p.numel(), dtype=p.dtype, device=p.device)
                       for p in self._params])

    def _move(self, step: float, direction: mg.Tensor) -> None:
        """``params += step * direction`` (direction flat, in parameter order)."""
        offset = 0
        for p in self._params:
            n = p.numel()
            p.data = p + direction[offset:offset + n].reshape(p.shape) * step
            offset += n

    def _evaluate_at(self, closure: Closure, start: list[mg.Tensor], step: float,
                     direction: mg.Tensor) -> tuple[float, mg.Tensor]:
        """Loss and flat gradient at ``start + step * direction``; parameters are put
        back to ``start`` afterwards (the line search probes, it does not move)."""
        self._move(step, direction)
        loss = float(closure())
        grad = self._flat_grad()
        for p, value in zip(self._params, start):
            p.data = value
        return loss, grad

    # -- the optimization --------------------------------------------------------------
    def step(self, closure: Closure) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` iterations; return the loss of the first evaluation."""
        def evaluate() -> Any:
            with mg.enable_grad():
                return closure()

        group = self.param_groups[0]
        lr, max_iter, max_eval = float(group["lr"]), group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with mg.no_grad():
            orig_loss = evaluate()
            loss = float(orig_loss)
            evals = 1
            state["func_evals"] += 1
            flat_grad = self._flat_grad()
            if _max_abs(flat_grad) <= tolerance_grad:
                return orig_loss
            d, t = state.get("d"), state.get("t")
            prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
            for n_iter in range(1, max_iter + 1):
                state["n_iter"] += 1
                if state["n_iter"] == 1:
                    d = -flat_grad
                    state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1.0)
                else:
                    d = self._direction(state, flat_grad, prev_flat_grad, d, t,
                                        group["history_size"])
                prev_flat_grad, prev_loss = flat_grad, loss
                if state["n_iter"] == 1:
                    t = min(1.0, 1.0 / flat_grad.abs().sum().item()) * lr
                else:
                    t = lr
                gtd = _dot(flat_grad, d)
                if gtd > -tolerance_change:  # not a descent direction
                    break
                evals_now, opt_cond = 0, False
                if group["line_search_fn"] == "strong_wolfe":
                    start = [p.detach().clone() for p in self._params]
                    loss, flat_grad, t, evals_now = _strong_wolfe(
                        lambda step: self._evaluate_at(evaluate, start, step, d),
                        t, d, loss, flat_grad, gtd, max_ls=max_eval - evals)
                    self._move(t, d)
                    opt_cond = _max_abs(flat_grad) <= tolerance_grad
                else:
                    self._move(t, d)
                    if n_iter != max_iter:  # the last iteration's loss is never needed
                        loss = float(evaluate())
                        flat_grad = self._flat_grad()
                        opt_cond = _max_abs(flat_grad) <= tolerance_grad
                        evals_now = 1
                evals += evals_now
                state["func_evals"] += evals_now
                if evals >= max_eval or opt_cond or \
                        _max_abs(d * t) <= tolerance_change or \
                        abs(loss - prev_loss) < tolerance_change:
                    break
            state.update(d=d, t=t, prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    @staticmethod
    def _direction(state: dict[str, Any], flat_grad: mg.Tensor, prev_flat_grad: mg.Tensor,
                   d: mg.Tensor, t: float, history_size: int) -> mg.Tensor:
        """Record the last (step, gradient change) pair if its curvature is positive,
        then apply the inverse-Hessian estimate to ``-flat_grad`` (two-loop recursion)."""
        y = flat_grad - prev_flat_grad
        s = d * t
        ys = _dot(y, s)
        if ys > 1e-10:
            keep = slice(1, None) if len(state["old_dirs"]) == history_size else slice(None)
            state["old_dirs"] = state["old_dirs"][keep] + [y]
            state["old_stps"] = state["old_stps"][keep] + [s]
            state["ro"] = state["ro"][keep] + [1.0 / ys]
            state["H_diag"] = ys / _dot(y, y)
        dirs, stps, ro = state["old_dirs"], state["old_stps"], state["ro"]
        alphas = [0.0] * len(dirs)
        q = -flat_grad
        for i in reversed(range(len(dirs))):
            alphas[i] = _dot(stps[i], q) * ro[i]
            q = q - dirs[i] * alphas[i]
        r = q * state["H_diag"]
        for i in range(len(dirs)):
            beta = _dot(dirs[i], r) * ro[i]
            r = r + stps[i] * (alphas[i] - beta)
        return r

    # -- checkpoints -------------------------------------------------------------------
    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """As ``Optimizer.load_state_dict``; the flat history vectors (which do not have
        a parameter's shape) come back as tensors in the parameters' dtype and device."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a state dict, got "
                            f"{type(state_dict).__name__}")
        saved = state_dict.get("state")
        super().load_state_dict({**state_dict, "state": {}} if saved is not None
                                else state_dict)
        positions = list(state_dict["param_groups"][0]["params"])
        for index, values in saved.items():
            if index not in positions:
                raise KeyError(f"loaded state dict has state for parameter index {index!r}, "
                               f"which no parameter group lists")
            param = self._params[positions.index(index)]
            self.state[param] = {key: _restore_value(value, param)
                                 for key, value in values.items()}


def _restore_value(value: Any, param: mg.Tensor) -> Any:
    """Vectors (also inside lists) become tensors like ``param``; 0-d arrays floats."""
    if isinstance(value, (list, tuple)):
        return [_restore_value(item, param) for item in value]
    if not hasattr(value, "shape"):
        return value
    if tuple(value.shape) == ():
        return float(value)
    return mg.tensor(value, device=param.device).astype(param.dtype)


def _dot(a: mg.Tensor, b: mg.Tensor) -> float:
    return mg.dot(a, b).item()


def _max_abs(x: mg.Tensor) -> float:
    return x.abs().max().item() if x.numel() else 0.0  # no parameters: nothing to move


def _cubic_minimum(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                   bounds: Optional[tuple[float, float]] = None) -> float:
    """Minimizer of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clipped
    to ``bounds`` (default: between x1 and x2); the midpoint if the cubic has none."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        minimum = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        minimum = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(minimum, low), high)


def _strong_wolfe(evaluate: Callable[[float], tuple[float, mg.Tensor]], t: float,
                  d: mg.Tensor, f: float, g: mg.Tensor, gtd: float, c1: float = 1e-4,
                  c2: float = 0.9, tolerance_change: float = 1e-9,
                  max_ls: int = 25) -> tuple[float, mg.Tensor, float, int]:
    """A step length along ``d`` satisfying the strong Wolfe conditions (sufficient
    decrease, and ``|slope| <= c2 |initial slope|``): first grow the step until an
    interval brackets such a point, then shrink the bracket by cubic interpolation.
    Points are ``(t, loss, grad, slope)``. Returns loss, gradient, step, evaluations."""
    d_norm = _max_abs(d)
    f_new, g_new = evaluate(t)
    evals = 1
    new = (t, f_new, g_new, _dot(g_new, d))
    prev = (0.0, f, g, gtd)
    done = False
    iteration = 0
    bracket: list[tuple[float, float, mg.Tensor, float]] = []
    while iteration < max_ls:  # bracketing phase
        t, f_new, _, gtd_new = new
        if f_new > f + c1 * t * gtd or (iteration > 1 and f_new >= prev[1]):
            bracket = [prev, new]  # too far: a Wolfe point lies between
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, done = [new], True
            break
        if gtd_new >= 0:
            bracket = [prev, new]  # the slope turned: a minimum lies between
            break
        t_next = _cubic_minimum(prev[0], prev[1], prev[3], t, f_new, gtd_new,
                                bounds=(t + 0.01 * (t - prev[0]), t * 10))
        prev = new
        f_next, g_next = evaluate(t_next)
        evals += 1
        new = (t_next, f_next, g_next, _dot(g_next, d))
        iteration += 1
    if iteration >= max_ls:  # out of evaluations: choose between no step and the last
        bracket = [(0.0, f, g, gtd), new]

    low, high = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    stuck = False  # the previous trial was too close to an end of the bracket
    while not done and iteration < max_ls:  # zoom phase
        (t_a, f_a, _, gtd_a), (t_b, f_b, _, gtd_b) = bracket
        if abs(t_b - t_a) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(t_a, f_a, gtd_a, t_b, f_b, gtd_b)
        lo, hi = min(t_a, t_b), max(t_a, t_b)
        margin = 0.1 * (hi - lo)
        if min(hi - t, t - lo) < margin:
            if stuck or t >= hi or t <= lo:  # move a tenth of the bracket inside
                t = hi - margin if abs(t - hi) < abs(t - lo) else lo + margin
                stuck = False
            else:
                stuck = True
        else:
            stuck = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = _dot(g_new, d)
        iteration += 1
        point = (t, f_new, g_new, gtd_new)
        if f_new > f + c1 * t * gtd or f_new >= bracket[low][1]:
            bracket[high] = point
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = point
    t, f_new, g_new, _ = bracket[low]
    return f_new, g_new, t, evals
