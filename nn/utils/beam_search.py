"""``nn.utils.beam_search``: decode a sequence model keeping the ``beam_width`` best prefixes.

Greedy decoding commits to the likeliest word at every step and can never take it back; beam
search keeps ``beam_width`` (K) prefixes alive and extends each with every word, so a first
word that looks slightly worse can win when it leads to a much likelier continuation.

The model is a step function ``step(state, tokens) -> (log_probs, new_state)``: ``tokens`` is
the int64 Tensor (N,) of the last word of each of N prefixes, ``log_probs`` (N, vocab) the
log-probabilities of the next word (``F.log_softmax`` of the logits), ``state`` whatever the
model carries between steps (a Tensor, or tuples/lists/dicts of Tensors, each with N rows;
anything else passes through untouched). The start state has one row per input (B rows);
beam search repeats each row K times and, after every step, reorders the rows to follow the
surviving prefixes, so an encoder's memory that the step function reads belongs in the state.

Every step is batched over all B inputs and K beams with public ops: the K x vocab extended
scores of each input are flattened and ``topk`` picks the 2K best. Those that end with
``end_token`` join the input's finished hypotheses (the K best are kept), the best K that do
not end stay alive, so K prefixes are always explored (as in GNMT and fairseq). At
``max_length`` the live ones finish as they are. Search stops early once no live prefix can
beat the K-th finished one: log-probabilities are <= 0, so a prefix's score only falls, and
its normalised score is at most its score over the penalty at ``max_length``.

Length normalisation: a hypothesis of L words (its end token counted) with summed
log-probability S scores S / lp(L), because summed log-probabilities favour short outputs:

- ``length_norm="gnmt"`` (Wu et al. 2016): lp(L) = ((5 + L) / 6) ** alpha;
- ``length_norm="average"``: lp(L) = L ** alpha; alpha = 1 ranks by the plain average
  log-probability per word.

``alpha=0`` (the default) turns normalisation off: hypotheses rank by S, and beam width 1
gives exactly the greedy decode.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional, Union

import minigrad as mg

__all__ = ["BeamSearchResult", "beam_search"]

LENGTH_NORMS = ("gnmt", "average")


class BeamSearchResult(NamedTuple):
    """The best hypothesis per input: ``sequences`` (B, max_length) int64, padded with
    ``end_token`` after it (which is included), ``scores`` (B,) normalised, ``lengths`` (B,)
    words including the end token. With ``return_all=True`` the K best finished hypotheses
    of each input, best first: (B, K, max_length), (B, K), (B, K) (score -inf: no hypothesis)."""

    sequences: mg.Tensor
    scores: mg.Tensor
    lengths: mg.Tensor
    hypotheses: Optional[mg.Tensor] = None
    hypothesis_scores: Optional[mg.Tensor] = None
    hypothesis_lengths: Optional[mg.Tensor] = None


def _select_rows(state: Any, rows: mg.Tensor) -> Any:
    """The state with every Tensor's rows picked (and repeated) by ``rows``."""
    if isinstance(state, mg.Tensor):
        return state.index_select(0, rows)
    if isinstance(state, (tuple, list)):
        picked = [_select_rows(s, rows) for s in state]
        return type(state)(*picked) if hasattr(state, "_fields") else type(state)(picked)
    if isinstance(state, dict):
        return {key: _select_rows(value, rows) for key, value in state.items()}
    return state


def _first_tensor(state: Any) -> Optional[mg.Tensor]:
    if isinstance(state, mg.Tensor):
        return state
    items = state.values() if isinstance(state, dict) else \
        state if isinstance(state, (tuple, list)) else ()
    for item in items:
        found = _first_tensor(item)
        if found is not None:
            return found
    return None


def _penalty(length: int, length_norm: str, alpha: float) -> float:
    return ((5 + length) / 6) ** alpha if length_norm == "gnmt" else length ** alpha


def beam_search(step: Callable[[Any, mg.Tensor], tuple[mg.Tensor, Any]], start_state: Any,
                start_token: Union[int, mg.Tensor], *, beam_width: int, max_length: int,
                end_token: Optional[int], alpha: float = 0.0, length_norm: str = "gnmt",
                return_all: bool = False) -> BeamSearchResult:
    """The ``beam_width`` best-scoring outputs of ``step`` for each of B inputs (see the module
    docstring). ``start_token``: an int, or an int Tensor (B,); B is the rows of the first
    Tensor in ``start_state`` (1 if it has none). ``end_token=None``: outputs have exactly
    ``max_length`` words. Runs without recording a graph."""
    if beam_width < 1:
        raise ValueError(f"beam_search: beam_width must be at least 1, got {beam_width}")
    if max_length < 1:
        raise ValueError(f"beam_search: max_length must be at least 1, got {max_length}")
    if length_norm not in LENGTH_NORMS:
        raise ValueError(f"beam_search: length_norm must be one of {LENGTH_NORMS}, "
                         f"got {length_norm!r}")
    if alpha < 0:
        raise ValueError(f"beam_search: alpha must be >= 0, got {alpha}")
    first = _first_tensor(start_state)
    if isinstance(start_token, mg.Tensor):
        batch = start_token.shape[0]
        if first is not None and first.shape[0] != batch:
            raise ValueError(f"beam_search: {batch} start tokens but the start state has "
                             f"{first.shape[0]} rows")
    else:
        batch = first.shape[0] if first is not None else 1
    k = beam_width
    with mg.no_grad():
        return _search(step, start_state, start_token, batch, k, max_length, end_token,
                       alpha, length_norm, return_all)


def _search(step: Callable, state: Any, start_token: Union[int, mg.Tensor], batch: int, k: int,
            max_length: int, end_token: Optional[int], alpha: float, length_norm: str,
            return_all: bool) -> BeamSearchResult:
    rows = mg.arange(batch * k) // k                      # each input's row, K times
    state = _select_rows(state, rows)
    tokens = (start_token.long().index_select(0, rows) if isinstance(start_token, mg.Tensor)
              else mg.full((batch * k,), start_token, dtype=mg.int64))
    pad = 0 if end_token is None else end_token
    offsets = (mg.arange(batch) * k).reshape(batch, 1)    # first row of each input's beams
    alive_seqs = mg.zeros((batch * k, 0), dtype=mg.int64)
    alive = None                                          # (B, K) summed log-probs
    done_scores = done_seqs = done_lengths = None         # (B, K), (B, K, L), (B, K)
    for t in range(max_length):
        log_probs, state = step(state, tokens)
        if tuple(log_probs.shape[:1]) != (batch * k,) or log_probs.ndim != 2:
            raise ValueError(f"beam_search: step returned log_probs of shape "
                             f"{tuple(log_probs.shape)}; expected ({batch * k}, vocab) for "
                             f"{batch} inputs x {k} beams")
        vocab = log_probs.shape[1]
        if alive is None:                                 # the K copies are one prefix so far
            alive = mg.cat([mg.zeros((batch, 1), dtype=log_probs.dtype),
                            mg.full((batch, k - 1), float("-inf"), dtype=log_probs.dtype)], 1)
            done_scores = mg.full((batch, k), float("-inf"), dtype=log_probs.dtype)
            done_seqs = mg.full((batch, k, max_length), pad, dtype=mg.int64)
            done_lengths = mg.zeros((batch, k), dtype=mg.int64)
        extended = (alive.reshape(batch, k, 1) + log_probs.reshape(batch, k, vocab))
        scores, flat = extended.reshape(batch, k * vocab).topk(min(2 * k, k * vocab), dim=1)
        parents = (flat // vocab + offsets).reshape(-1)   # rows of (B*K), one per candidate
        words = flat % vocab
        width = scores.shape[1]
        seqs = mg.cat([alive_seqs.index_select(0, parents), words.reshape(-1, 1)], dim=1)
        last = t == max_length - 1
        ends = (words == end_token) if end_token is not None and not last else \
            mg.full(words.shape, last, dtype=mg.bool_)
        # finished: merge the ending candidates into the K best so far
        norm = scores / _penalty(t + 1, length_norm, alpha)
        padded = mg.cat([seqs, mg.full((batch * width, max_length - t - 1), pad,
                                       dtype=mg.int64)], dim=1).reshape(batch, width, -1)
        pool_scores = mg.cat([done_scores, norm.masked_fill(~ends, float("-inf"))], dim=1)
        pool_seqs = mg.cat([done_seqs, padded], dim=1)
        pool_lengths = mg.cat([done_lengths, mg.full((batch, width), t + 1, dtype=mg.int64)], 1)
        done_scores, best = pool_scores.topk(k, dim=1)
        done_seqs = pool_seqs.gather(1, best.reshape(batch, k, 1).expand(batch, k, max_length))
        done_lengths = pool_lengths.gather(1, best)
        if last:
            break
        # alive: the K best candidates that did not end
        alive, keep = scores.masked_fill(ends, float("-inf")).topk(k, dim=1)
        chosen = (keep + mg.arange(batch).reshape(batch, 1) * width).reshape(-1)
        alive_seqs = seqs.index_select(0, chosen)
        tokens = words.reshape(-1).index_select(0, chosen)
        state = _select_rows(state, parents.index_select(0, chosen))
        if end_token is not None:                         # can any live prefix still win?
            bound = alive[:, 0] / _penalty(max_length, length_norm, alpha)
            if bool((done_scores[:, k - 1] >= bound).all()):
                break
    result = BeamSearchResult(done_seqs[:, 0], done_scores[:, 0], done_lengths[:, 0])
    if return_all:
        result = result._replace(hypotheses=done_seqs, hypothesis_scores=done_scores,
                                 hypothesis_lengths=done_lengths)
    return result
