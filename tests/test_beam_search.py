"""nn.utils.beam_search: width 1 is greedy, a wide beam is exhaustive search (checked against
enumerating every output of random prefix-dependent models), it finds what greedy misses,
handles the end token, and length normalisation changes the winner as it should. PyTorch
has no beam search, so the oracle is brute force."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F


def prefix_model(vocab: int, max_length: int, batch: int, seed: int):
    """A step function whose next-word distribution depends on the whole prefix and on the
    input: the state is each row's input id and its prefix's code (bijective base-vocab
    numeration), so a beam that loses track of its state gets the wrong log-probs."""
    rng = np.random.default_rng(seed)
    codes = sum(vocab ** n for n in range(max_length + 1))
    logits = rng.normal(scale=2.0, size=(batch, codes, vocab))
    table = mg.tensor(logits - np.log(np.exp(logits).sum(-1, keepdims=True)))

    def step(state, tokens):
        item, code = state["item"], state["code"] * vocab + tokens + 1
        return table[item, code], {"item": item, "code": code}

    start = {"item": mg.arange(batch), "code": mg.zeros(batch, dtype=mg.int64)}
    return step, start, table.numpy()


def code_of(prefix, vocab):
    code = 0
    for word in prefix:
        code = code * vocab + word + 1
    return code


def brute_force(table, item, vocab, max_length, end, penalty):
    """Every output (ended by ``end``, or cut at max_length) and its normalised score."""
    results = []
    for length in range(1, max_length + 1):
        for words in itertools.product(range(vocab), repeat=length):
            if end is not None and (end in words[:-1] or (length < max_length and
                                                          words[-1] != end)):
                continue
            total = sum(table[item, code_of((0,) + words[:i], vocab), w]  # 0: the start token
                        for i, w in enumerate(words))
            results.append((total / penalty(length), words))
    return max(results)


def greedy(step, state, start, steps):
    tokens, words, total = start, [], 0.0
    for _ in range(steps):
        log_probs, state = step(state, tokens)
        tokens = log_probs.argmax(1)
        total = total + log_probs.gather(1, tokens.reshape(-1, 1)).reshape(-1).numpy()
        words.append(tokens.numpy())
    return np.stack(words, 1), total


@given(vocab=st.integers(2, 4), max_length=st.integers(1, 4), batch=st.integers(1, 3),
       seed=st.integers(0, 2 ** 16))
def test_width_one_is_greedy(vocab, max_length, batch, seed):
    step, start, _ = prefix_model(vocab, max_length, batch, seed)
    result = nn.utils.beam_search(step, start, 0, beam_width=1, max_length=max_length,
                                  end_token=None)
    words, total = greedy(step, start, mg.zeros(batch, dtype=mg.int64), max_length)
    np.testing.assert_array_equal(result.sequences.numpy(), words)
    np.testing.assert_allclose(result.scores.numpy(), total, rtol=1e-5)


def test_width_one_is_greedy_with_an_end_token_and_an_lstm():
    """A real decoder: tuple state (h, c), greedy stopping at its first end token."""
    mg.manual_seed(3)
    embed, cell, out = nn.Embedding(6, 4), nn.LSTMCell(4, 8), nn.Linear(8, 6)

    def step(state, tokens):
        h, c = cell(embed(tokens), state)
        return F.log_softmax(out(h), -1), (h, c)

    start = (mg.randn(5, 8), mg.randn(5, 8))
    result = nn.utils.beam_search(step, start, 5, beam_width=1, max_length=7, end_token=0)
    words, _ = greedy(step, start, mg.full((5,), 5, dtype=mg.int64), 7)
    ended = np.cumsum(words == 0, axis=1) > 0            # greedy pads with the end token
    words[ended] = 0
    np.testing.assert_array_equal(result.sequences.numpy(), words)
    lengths = np.where(ended.any(1), ended.argmax(1) + 1, 7)
    np.testing.assert_array_equal(result.lengths.numpy(), lengths)
    assert not result.scores.requires_grad


@pytest.mark.parametrize("length_norm,alpha", [("gnmt", 0.0), ("gnmt", 0.8), ("average", 1.0)])
@given(vocab=st.integers(2, 3), max_length=st.integers(1, 4), batch=st.integers(1, 2),
       seed=st.integers(0, 2 ** 16))
def test_wide_beam_is_exhaustive(length_norm, alpha, vocab, max_length, batch, seed):
    """K = vocab ** (max_length - 1) keeps every unfinished prefix alive; so the result is the
    best of all outputs, early stopping included."""
    step, start, table = prefix_model(vocab, max_length, batch, seed)
    end = vocab - 1
    penalty = (lambda n: ((5 + n) / 6) ** alpha) if length_norm == "gnmt" else \
        (lambda n: n ** alpha)
    result = nn.utils.beam_search(step, start, 0, beam_width=vocab ** (max_length - 1),
                                  max_length=max_length, end_token=end, alpha=alpha,
                                  length_norm=length_norm)
    for item in range(batch):
        score, words = brute_force(table, item, vocab, max_length, end, penalty)
        assert result.scores[item].item() == pytest.approx(score, rel=1e-6)
        assert result.lengths[item].item() == len(words)
        np.testing.assert_array_equal(result.sequences[item, :len(words)].numpy(), words)


def markov(rows: dict, vocab: int):
    """A step function from hand-written next-word probabilities given the last word."""
    table = np.full((vocab, vocab), 1e-9)
    for last, probs in rows.items():
        table[last, :len(probs)] = probs                # zeros: impossible words, -inf
    with np.errstate(divide="ignore"):
        table = mg.tensor(np.log(table / table.sum(1, keepdims=True)))
    return lambda state, tokens: (table.index_select(0, tokens), state)


A, B, C, END, START = 0, 1, 2, 3, 4


def test_finds_the_sequence_greedy_misses():
    """Greedy takes A (0.5) and then finds only weak endings (A END = 0.15); the beam keeps B
    (0.4), whose ending is nearly certain (B END = 0.36)."""
    step = markov({START: [0.5, 0.4, 0.1, 0.0], A: [0.25, 0.25, 0.2, 0.3],
                   B: [0.05, 0.05, 0.0, 0.9]}, 5)
    greedy_result = nn.utils.beam_search(step, None, START, beam_width=1, max_length=3,
                                         end_token=END)
    assert greedy_result.sequences[0, :2].numpy().tolist() == [A, END]
    assert greedy_result.scores.item() == pytest.approx(math.log(0.15), rel=1e-6)
    beam = nn.utils.beam_search(step, None, START, beam_width=2, max_length=3, end_token=END)
    assert beam.sequences.numpy().tolist() == [[B, END, END]]
    assert beam.lengths.item() == 2
    assert beam.scores.item() == pytest.approx(math.log(0.36), rel=1e-6)


def test_end_token_handling():
    """Ended hypotheses stop growing and are padded with the end token; one that never ends
    is cut at max_length; return_all lists the K best finished ones, best first."""
    step = markov({START: [0.6, 0.0, 0.0, 0.4], A: [0.7, 0.0, 0.0, 0.3]}, 5)
    result = nn.utils.beam_search(step, None, START, beam_width=3, max_length=3,
                                  end_token=END, return_all=True)
    hypotheses = result.hypotheses[0].numpy().tolist()
    assert hypotheses == [[END, END, END], [A, A, A], [A, END, END]]
    np.testing.assert_allclose(result.hypothesis_scores[0].numpy(),
                               np.log([0.4, 0.6 * 0.7 * 0.7, 0.6 * 0.3]), rtol=1e-6)
    assert result.hypothesis_lengths[0].numpy().tolist() == [1, 3, 2]
    assert result.hypotheses.shape == (1, 3, 3)
    plain = nn.utils.beam_search(step, None, START, beam_width=3, max_length=3, end_token=END)
    assert plain.hypotheses is None and plain.sequences.numpy().tolist() == [[END] * 3]


def test_without_an_end_token_every_output_has_max_length():
    step = markov({START: [0.1, 0.2, 0.3, 0.4], END: [0.4, 0.3, 0.2, 0.1]}, 5)
    result = nn.utils.beam_search(step, None, mg.tensor([START, START]), beam_width=2,
                                  max_length=4, end_token=None)
    assert result.lengths.numpy().tolist() == [4, 4]
    assert result.sequences.shape == (2, 4)


@pytest.mark.parametrize("length_norm,alpha", [("average", 1.0), ("gnmt", 1.0)])
def test_length_normalisation_changes_the_winner(length_norm, alpha):
    """END at once has the largest probability (0.3 against 0.26 for A END and 0.234 for
    A B END), so it wins unnormalised; per word (log 0.234 / 3 = -0.48 against -1.20) or
    GNMT-normalised (log 0.234 / (8/6) = -1.09 against -1.20), A B END wins."""
    step = markov({START: [0.65, 0.05, 0.0, 0.3], A: [0.0, 0.6, 0.0, 0.4],
                   B: [0.0, 0.0, 0.4, 0.6]}, 5)
    raw = nn.utils.beam_search(step, None, START, beam_width=3, max_length=4, end_token=END)
    assert raw.lengths.item() == 1
    assert raw.scores.item() == pytest.approx(math.log(0.3), rel=1e-6)
    normed = nn.utils.beam_search(step, None, START, beam_width=3, max_length=4,
                                  end_token=END, alpha=alpha, length_norm=length_norm)
    assert normed.sequences.numpy().tolist() == [[A, B, END, END]]
    penalty = 3 if length_norm == "average" else (5 + 3) / 6
    assert normed.scores.item() == pytest.approx(math.log(0.65 * 0.6 * 0.6) / penalty,
                                                 rel=1e-6)


def test_errors_name_the_problem():
    step = markov({}, 5)
    with pytest.raises(ValueError, match="beam_width must be at least 1, got 0"):
        nn.utils.beam_search(step, None, 0, beam_width=0, max_length=3, end_token=END)
    with pytest.raises(ValueError, match="max_length must be at least 1, got 0"):
        nn.utils.beam_search(step, None, 0, beam_width=2, max_length=0, end_token=END)
    with pytest.raises(ValueError, match=r"length_norm must be one of \('gnmt', 'average'\), "
                                         r"got 'mean'"):
        nn.utils.beam_search(step, None, 0, beam_width=2, max_length=3, end_token=END,
                             length_norm="mean")
    with pytest.raises(ValueError, match="alpha must be >= 0, got -1"):
        nn.utils.beam_search(step, None, 0, beam_width=2, max_length=3, end_token=END,
                             alpha=-1)
    with pytest.raises(ValueError, match="3 start tokens but the start state has 2 rows"):
        nn.utils.beam_search(step, mg.zeros((2, 4)), mg.tensor([0, 0, 0]), beam_width=2,
                             max_length=3, end_token=END)
    with pytest.raises(ValueError, match=r"step returned log_probs of shape \(2, 5\); "
                                         r"expected \(4, vocab\) for 2 inputs x 2 beams"):
        nn.utils.beam_search(lambda s, t: (mg.zeros((2, 5)), s), mg.zeros((2, 4)), 0,
                             beam_width=2, max_length=3, end_token=END)
