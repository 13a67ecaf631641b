"""DistributedSampler: PyTorch's split, padding, drop_last and per-epoch shuffling."""
import pytest
from hypothesis import given, strategies as st

from minigrad.utils.data import DistributedSampler


@given(n=st.integers(1, 40), replicas=st.integers(1, 6), drop_last=st.booleans())
def test_same_indices_as_pytorch_without_shuffle(n, replicas, drop_last):
    pytest.importorskip("torch")
    from torch.utils.data import DistributedSampler as Theirs
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = Theirs(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


@given(n=st.integers(1, 40), replicas=st.integers(1, 6), seed=st.integers(0, 5))
def test_shuffled_shares_cover_the_dataset_and_agree_across_ranks(n, replicas, seed):
    shares = [list(DistributedSampler(range(n), replicas, r, seed=seed)) for r in range(replicas)]
    assert len({len(s) for s in shares}) == 1
    together = sorted(i for s in shares for i in s)
    assert set(together) == set(range(n))  # every index, padding repeats a few
    assert len(together) - n == (-n) % replicas
    again = [list(DistributedSampler(range(n), replicas, r, seed=seed)) for r in range(replicas)]
    assert again == shares  # every rank draws the same permutation


def test_set_epoch_changes_the_order_reproducibly():
    sampler = DistributedSampler(range(100), num_replicas=2, rank=1)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    assert first != second
    sampler.set_epoch(0)
    assert list(sampler) == first


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(RuntimeError, match="needs num_replicas and rank, or an initialized"):
        DistributedSampler(range(4))
