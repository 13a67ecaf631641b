"""minigrad.utils.data: datasets, samplers, collation and the DataLoader, held to
torch.utils.data. Batches equal a torch DataLoader's given the same order, collation of
nested structures equals torch's default_collate, split sizes and sampler lengths equal
torch's; worker processes give the same batches as the main process, are seeded apart
and report errors; bad arguments are refused with messages that say what is wrong.
Worker tests use tiny data and two workers, so they stay fast on a 2-core machine."""
import collections
import os
import pickle
import random
import time
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.utils.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset,
                                 IterableDataset, RandomSampler, SequentialSampler,
                                 StackDataset, Subset, SubsetRandomSampler, TensorDataset,
                                 WeightedRandomSampler, default_collate, default_convert,
                                 get_worker_info, random_split)

Point = collections.namedtuple("Point", "x y")


# -- comparing batches of the two libraries ---------------------------------------------

def tree(obj):
    """A comparable form of a batch: tensors of either library become (dtype, values);
    containers keep their kind, so a tuple that should have become a list is caught."""
    if isinstance(obj, mg.Tensor) or type(obj).__module__.startswith("torch"):
        array = np.asarray(obj.numpy())
        return ("tensor", str(array.dtype), array.shape, array.tolist())
    if isinstance(obj, dict):
        return (type(obj).__name__, {k: tree(v) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [tree(v) for v in obj])
    return (type(obj).__name__, obj)


def sample(i, make_tensor):
    """Every kind of field default_collate knows, nested."""
    return {"image": np.full((2, 3), i, np.float32), "label": i % 3, "weight": i / 7,
            "flag": i % 2 == 0, "name": f"s{i}", "blob": b"x" * i,
            "pair": (np.int16(i), [i, i + 1.5]), "point": Point(np.float64(i) / 3, i * 2),
            "tensor": make_tensor([i, -i]), "floats": make_tensor([[i * 0.5]])}


class Samples(Dataset):
    """A map-style dataset over any sample function (both libraries' loaders take it)."""

    def __init__(self, n, make):
        self.n, self.make = n, make

    def __getitem__(self, i):
        return self.make(i)

    def __len__(self):
        return self.n


# -- collation -------------------------------------------------------------------------

def test_default_collate_nested_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate
    ours = default_collate([sample(i, mg.tensor) for i in range(4)])
    theirs = torch_collate([sample(i, torch.tensor) for i in range(4)])
    assert tree(ours) == tree(theirs)
    assert isinstance(ours["point"], Point)


@pytest.mark.parametrize("batch", [
    [1, 2, 3], [1.5, 2.0], [True, False], [np.float32(1), np.float32(2)],
    [np.uint8(3), np.uint8(4)], [np.bool_(True), np.bool_(False)], ["a", "b"],
    [np.zeros((2, 2), np.float16), np.ones((2, 2), np.float16)],
    [(1, "a"), (2, "b")], [[1.0, 2], [3.0, 4]], [{"a": (1, 2.5)}, {"a": (3, 4.5)}],
    [collections.OrderedDict(b=1, a=2.0), collections.OrderedDict(b=3, a=4.0)],
], ids=lambda b: type(b[0]).__name__)
def test_default_collate_values_dtypes_and_containers_match_torch(batch):
    pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate
    ours, theirs = default_collate(batch), torch_collate(batch)
    assert tree(ours) == tree(theirs)  # tree() keeps each container's type name


def test_default_convert_matches_torch():
    pytest.importorskip("torch")
    from torch.utils.data import default_convert as torch_convert
    data = {"a": np.arange(3), "b": (np.float32(2), "s"), "c": [1, 2.0], "p": Point(np.ones(2), 1)}
    assert tree(default_convert(data)) == tree(torch_convert(data))


def test_default_collate_of_tensors_stacks_along_a_new_first_dim():
    batch = default_collate([mg.tensor([1.0, 2.0]), mg.tensor([3.0, 4.0])])
    assert batch.shape == (2, 2) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch.numpy(), [[1, 2], [3, 4]])


def test_default_collate_errors_name_what_is_wrong():
    with pytest.raises(RuntimeError, match=r"equal size, but got \(3,\) at entry 0 and \(2,\) "
                                           r"at entry 1.*pad_sequence"):
        default_collate([mg.zeros(3), mg.zeros(2)])
    with pytest.raises(RuntimeError, match="equal size, got 2 at entry 0 and 3 at entry 1"):
        default_collate([[1, 2], [1, 2, 3]])
    with pytest.raises(TypeError, match="batch must contain tensors.*found <class 'object'>"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="found <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])


# -- the DataLoader against torch's -------------------------------------------------------

ORDER = [5, 0, 3, 3, 9, 1, 7, 2, 8]  # an explicit sampler: repeats and gaps allowed


@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (4, False), (4, True), (9, False),
                                                  (None, False)])
def test_batches_equal_torch_given_the_same_order(batch_size, drop_last):
    torch = pytest.importorskip("torch")
    ours = DataLoader(Samples(10, lambda i: sample(i, mg.tensor)), batch_size=batch_size,
                      sampler=ORDER, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(Samples(10, lambda i: sample(i, torch.tensor)),
                                         batch_size=batch_size, sampler=ORDER,
                                         drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert [tree(b) for b in ours] == [tree(b) for b in theirs]


def test_tensor_dataset_batches_equal_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((11, 3)).astype(np.float32)
    y = np.arange(11) % 4
    ours = DataLoader(TensorDataset(mg.tensor(x), mg.tensor(y)), batch_size=4, sampler=ORDER)
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=4,
        sampler=ORDER)
    assert [tree(b) for b in ours] == [tree(b) for b in theirs]


def test_tensor_dataset_batches_keep_the_gradient_path():
    a = mg.tensor(np.arange(10.0).reshape(5, 2), requires_grad=True)
    (batch,) = next(iter(DataLoader(TensorDataset(a), batch_size=5, sampler=[4, 0, 0, 2, 1])))
    batch.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy()[:, 0], [2, 1, 1, 0, 1])
    samples = next(iter(DataLoader(TensorDataset(a), batch_size=2, collate_fn=list)))
    assert len(samples) == 2 and isinstance(samples[0], tuple)  # a collate_fn sees samples


def test_batch_sampler_and_collate_fn_are_used():
    loader = DataLoader(Samples(6, lambda i: i), batch_sampler=[[0, 1, 2], [5], [3, 4]],
                        collate_fn=lambda batch: sum(batch))
    assert list(loader) == [3, 5, 7] and len(loader) == 3


def test_sequential_loader_covers_the_dataset_in_order():
    loader = DataLoader(TensorDataset(mg.arange(7)), batch_size=3)
    assert [b[0].tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(loader) == 3 and len(DataLoader(TensorDataset(mg.arange(7)), 3, drop_last=True)) == 2


@pytest.mark.parametrize("n,batch_size,drop_last", [(10, 3, False), (10, 3, True), (9, 3, True),
                                                    (1, 5, False), (1, 5, True)])
def test_loader_length_matches_torch(n, batch_size, drop_last):
    torch = pytest.importorskip("torch")
    ours = DataLoader(Samples(n, lambda i: i), batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(Samples(n, lambda i: i), batch_size=batch_size,
                                         drop_last=drop_last)
    assert len(ours) == len(theirs) == len(list(ours))


# -- shuffling and generators -----------------------------------------------------------------

def shuffled(seed, num_workers=0, epochs=1):
    loader = DataLoader(TensorDataset(mg.arange(10, device="cpu")), batch_size=3, shuffle=True,
                        num_workers=num_workers, generator=mg.Generator().manual_seed(seed))
    return [[b[0].tolist() for b in loader] for _ in range(epochs)]


def test_seeded_loader_gives_the_same_batches_every_run():
    first, second = shuffled(7, epochs=2)
    assert shuffled(7, epochs=2) == [first, second]
    assert first != second  # each pass is a new order
    assert sorted(sum(first, [])) == list(range(10))
    assert shuffled(8) != [first]


def test_seeded_loader_leaves_the_global_stream_alone():
    mg.manual_seed(3)
    expected = mg.rand(4).numpy()
    mg.manual_seed(3)
    shuffled(7)
    np.testing.assert_array_equal(mg.rand(4).numpy(), expected)


def test_unseeded_shuffle_follows_manual_seed():
    def epoch():
        loader = DataLoader(TensorDataset(mg.arange(10)), batch_size=4, shuffle=True)
        return [b[0].tolist() for b in loader]
    mg.manual_seed(1)
    a = epoch()
    mg.manual_seed(1)
    assert epoch() == a
    mg.manual_seed(2)
    assert epoch() != a


def test_generator_api():
    torch = pytest.importorskip("torch")
    g = mg.Generator()
    assert g.initial_seed() == torch.Generator().initial_seed()  # unseeded, yet fixed
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    assert mg.Generator().manual_seed(-1).initial_seed() == 2 ** 64 - 1
    state = g.get_state()
    a = RandomSampler(range(20), generator=g)
    first = list(a)
    g.set_state(state)
    assert list(a) == first
    clone = pickle.loads(pickle.dumps(g))
    assert list(RandomSampler(range(20), generator=clone)) == list(a)
    new = g.seed()
    assert g.initial_seed() == new and 0 <= new < 2 ** 63
    with pytest.raises(TypeError, match="a seed is an integer, got 1.5"):
        g.manual_seed(1.5)
    with pytest.raises(TypeError, match="expects a state from Generator.get_state"):
        g.set_state([1, 2])
    with pytest.raises(TypeError, match="generator must be a minigrad.Generator, got Generator"):
        list(RandomSampler(range(3), generator=torch.Generator()))


# -- samplers ---------------------------------------------------------------------------------

def test_sequential_and_subset_random_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    assert len(SequentialSampler([0] * 6)) == 6
    s = SubsetRandomSampler([10, 20, 30, 40], generator=mg.Generator().manual_seed(0))
    drawn = list(s)
    assert sorted(drawn) == [10, 20, 30, 40] and len(s) == 4


@pytest.mark.parametrize("replacement,num_samples", [(False, None), (False, 7), (False, 25),
                                                     (True, None), (True, 50)])
def test_random_sampler_lengths_and_ranges(replacement, num_samples):
    torch = pytest.importorskip("torch")
    ours = RandomSampler(range(10), replacement, num_samples, mg.Generator().manual_seed(0))
    theirs = torch.utils.data.RandomSampler(range(10), replacement, num_samples)
    drawn = list(ours)
    assert len(ours) == len(theirs) == len(drawn)
    assert all(isinstance(i, int) and 0 <= i < 10 for i in drawn)
    if not replacement:  # full permutations, the last one cut short
        counts = np.bincount(drawn, minlength=10)
        assert counts.max() - counts.min() <= 1 and counts.min() == len(drawn) // 10


@given(n=st.integers(0, 30), batch_size=st.integers(1, 8), drop_last=st.booleans())
def test_batch_sampler_matches_torch(n, batch_size, drop_last):
    torch = pytest.importorskip("torch")
    ours = BatchSampler(SequentialSampler(range(n)), batch_size, drop_last)
    theirs = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(range(n)),
                                           batch_size, drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_weighted_random_sampler_statistics():
    weights = [1.0, 2.0, 3.0, 0.0, 4.0]
    s = WeightedRandomSampler(weights, 40_000, generator=mg.Generator().manual_seed(0))
    freq = np.bincount(list(s), minlength=5) / 40_000
    np.testing.assert_allclose(freq, np.array(weights) / 10, atol=0.01)
    assert freq[3] == 0 and len(s) == 40_000
    assert s.weights.dtype == np.float64
    once = list(WeightedRandomSampler(mg.tensor(weights), 4, replacement=False))
    assert sorted(once) == [0, 1, 2, 4]  # no repeats, never a zero weight


def test_weighted_sampler_draws_heavy_items_first_without_replacement():
    g = mg.Generator().manual_seed(0)
    firsts = [next(iter(WeightedRandomSampler([1.0, 9.0], 2, False, g))) for _ in range(2000)]
    assert abs(np.mean(firsts) - 0.9) < 0.03


def test_sampler_errors():
    with pytest.raises(ValueError, match="num_samples should be a positive integer value, but got "
                                         "num_samples=0"):
        RandomSampler(range(5), num_samples=0)
    with pytest.raises(ValueError, match="num_samples=0"):
        RandomSampler([])  # an empty dataset has nothing to shuffle
    with pytest.raises(TypeError, match="replacement should be a boolean value, but got "
                                        "replacement=1"):
        RandomSampler(range(5), replacement=1)
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but got "
                                         "batch_size=0"):
        BatchSampler(range(5), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        BatchSampler(range(5), 2, None)
    with pytest.raises(ValueError, match=r"1-d sequence, but given weights have shape \(2, 2\)"):
        WeightedRandomSampler([[1, 2], [3, 4]], 3)
    with pytest.raises(ValueError, match="finite and non-negative"):
        WeightedRandomSampler([1.0, -1.0], 3)
    with pytest.raises(ValueError, match="cannot draw num_samples=3 without replacement from 2 "
                                         "nonzero weights"):
        WeightedRandomSampler([1.0, 0.0, 2.0], 3, replacement=False)


# -- datasets ---------------------------------------------------------------------------------

def test_tensor_dataset_and_its_size_error():
    x, y = mg.arange(12).reshape(4, 3), mg.arange(4)
    ds = TensorDataset(x, y)
    assert len(ds) == 4 and [t.tolist() for t in ds[1]] == [[3, 4, 5], 1]
    with pytest.raises(ValueError, match="one size in dim 0.*got sizes 4, 3"):
        TensorDataset(x, mg.arange(3))
    with pytest.raises(ValueError, match="at least one dim; tensor 1 has shape"):
        TensorDataset(x, mg.tensor(1.0))
    with pytest.raises(ValueError, match="sizes 4, 3"):  # the loader's bad input: unequal lengths
        DataLoader(TensorDataset(x, mg.arange(3)), batch_size=2)


def test_subset_concat_chain_and_stack():
    base = Samples(5, lambda i: i * 10)
    sub = Subset(base, [4, 0, 2])
    assert [sub[i] for i in range(3)] == [40, 0, 20] and len(sub) == 3
    assert list(DataLoader(sub, batch_size=None)) == [40, 0, 20]
    cat = base + Samples(3, lambda i: -i)
    assert isinstance(cat, ConcatDataset) and len(cat) == 8
    assert [cat[i] for i in (0, 4, 5, 7, -1, -8)] == [0, 40, 0, -2, -2, 0]
    with pytest.raises(IndexError, match="index 8 is out of range for a ConcatDataset of length 8"):
        cat[8]
    with pytest.raises(TypeError, match="cannot index Numbers, an IterableDataset"):
        ConcatDataset([base, Numbers(0, 3)])
    chained = Numbers(0, 2) + Numbers(5, 7)
    assert isinstance(chained, ChainDataset) and list(chained) == [0, 1, 5, 6]
    pairs = StackDataset(base, Samples(5, lambda i: -i))
    assert pairs[2] == (20, -2) and StackDataset(a=base, b=base)[1] == {"a": 10, "b": 10}
    with pytest.raises(ValueError, match="one length, got lengths 5, 3"):
        StackDataset(base, Samples(3, lambda i: i))
    with pytest.raises(NotImplementedError, match="must implement __getitem__"):
        Dataset()[0]


@given(n=st.integers(0, 40), parts=st.lists(st.integers(1, 10), min_size=1, max_size=4))
def test_random_split_fraction_sizes_match_torch(n, parts):
    torch = pytest.importorskip("torch")
    fractions = [p / sum(parts) for p in parts]
    fractions[-1] = 1 - sum(fractions[:-1])
    with warnings.catch_warnings():  # empty splits warn, as in PyTorch; sizes still compare
        warnings.simplefilter("ignore")
        ours = random_split(range(n), fractions, generator=mg.Generator().manual_seed(0))
        theirs = torch.utils.data.random_split(range(n), fractions)
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert sorted(i for s in ours for i in s.indices) == list(range(n))


def test_random_split_lengths_seeds_and_errors():
    splits = random_split(range(10), [3, 7], generator=mg.Generator().manual_seed(1))
    assert [len(s) for s in splits] == [3, 7]
    assert sorted(splits[0].indices + splits[1].indices) == list(range(10))
    again = random_split(range(10), [3, 7], generator=mg.Generator().manual_seed(1))
    assert [s.indices for s in again] == [s.indices for s in splits]
    assert [len(s) for s in random_split(range(10), [0.5, 0.3, 0.2])] == [5, 3, 2]
    assert [len(s) for s in random_split(range(11), [0.25, 0.25, 0.5])] == [3, 3, 5]
    mg.manual_seed(4)
    a = random_split(range(10), [5, 5])[0].indices
    mg.manual_seed(4)
    assert random_split(range(10), [5, 5])[0].indices == a
    with pytest.warns(UserWarning, match="split 1 is empty"):
        random_split(range(2), [0.9, 0.1])
    with pytest.raises(ValueError, match=r"lengths \[3, 3\] sum to 6, but the dataset has 10"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="fraction 1.5 at index 0 is not in"):
        random_split(range(10), [1.5, -0.5])


# -- bad DataLoader arguments -----------------------------------------------------------------

def test_loader_argument_errors():
    ds = Samples(5, lambda i: i)
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but got "
                                         "batch_size=0"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="IterableDataset: expected unspecified shuffle option, "
                                         "but got shuffle=True"):
        DataLoader(Numbers(0, 3), shuffle=True)
    with pytest.raises(ValueError, match="num_workers option should be a non-negative integer"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(ds, timeout=-1)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="multiprocessing_context can only be used"):
        DataLoader(ds, multiprocessing_context="fork")
    with pytest.raises(ValueError, match="'nope' is not a start method"):
        DataLoader(ds, num_workers=1, multiprocessing_context="nope")
    loader = DataLoader(ds, batch_size=2, pin_memory=True, timeout=3)  # accepted
    with pytest.raises(ValueError, match="batch_size attribute should not be set after "
                                         "DataLoader is initialized"):
        loader.batch_size = 4
    assert len(list(loader)) == 3


# -- iterable datasets --------------------------------------------------------------------------

class Numbers(IterableDataset):
    """start .. end-1; in a worker, only that worker's contiguous share (PyTorch's example)."""

    def __init__(self, start, end, shard=True):
        self.start, self.end, self.shard = start, end, shard

    def __iter__(self):
        info = get_worker_info()
        if info is None or not self.shard:
            return iter(range(self.start, self.end))
        per = -(-(self.end - self.start) // info.num_workers)
        low = self.start + info.id * per
        return iter(range(low, min(low + per, self.end)))

    def __len__(self):
        return self.end - self.start


class TorchNumbers:
    """The same dataset for torch's loader, asking torch's get_worker_info."""

    def __new__(cls, start, end, shard=True):
        import torch

        class Impl(torch.utils.data.IterableDataset):
            def __iter__(self):
                info = torch.utils.data.get_worker_info()
                if info is None or not shard:
                    return iter(range(start, end))
                per = -(-(end - start) // info.num_workers)
                low = start + info.id * per
                return iter(range(low, min(low + per, end)))

            def __len__(self):
                return end - start
        return Impl()


@pytest.mark.parametrize("end,shard,batch_size,drop_last", [
    (7, True, 1, False), (8, True, 2, False), (10, True, 2, True), (6, False, 4, False),
    (9, True, None, False)])
def test_iterable_dataset_with_workers_matches_torch(end, shard, batch_size, drop_last):
    torch = pytest.importorskip("torch")
    ours = DataLoader(Numbers(3, end, shard), batch_size=batch_size, drop_last=drop_last,
                      num_workers=2)
    theirs = torch.utils.data.DataLoader(TorchNumbers(3, end, shard), batch_size=batch_size,
                                         drop_last=drop_last, num_workers=2)
    assert [tree(b) for b in ours] == [tree(b) for b in theirs]
    assert len(ours) == len(theirs)


def test_iterable_dataset_in_the_main_process():
    assert [b.tolist() for b in DataLoader(Numbers(0, 5), batch_size=2)] == [[0, 1], [2, 3], [4]]
    assert [b.tolist() for b in DataLoader(Numbers(0, 5), batch_size=2, drop_last=True)] == \
        [[0, 1], [2, 3]]


# -- worker processes -----------------------------------------------------------------------------

class Probe(Dataset):
    """Reports which process served each index, with what seed and random draws."""

    def __getitem__(self, i):
        info = get_worker_info()
        return {"i": i, "worker": -1 if info is None else info.id,
                "seed": 0 if info is None else info.seed, "pid": os.getpid(),
                "mg": float(mg.rand(()).item()), "np": float(np.random.rand()),
                "py": random.random(), "tag": TAG.get("value", "")}

    def __len__(self):
        return 8


TAG = {}


def tag_worker(worker_id):
    TAG["value"] = f"init {worker_id} of {get_worker_info().num_workers}"


def test_workers_give_the_same_batches_as_the_main_process():
    assert shuffled(3, num_workers=2, epochs=2) == shuffled(3, num_workers=0, epochs=2)
    x, y = mg.tensor(np.arange(24.0).reshape(12, 2), device="cpu"), mg.arange(12, device="cpu")
    plain = [tree(b) for b in DataLoader(TensorDataset(x, y), batch_size=5)]
    assert [tree(b) for b in DataLoader(TensorDataset(x, y), batch_size=5,
                                        num_workers=2, prefetch_factor=1)] == plain


def test_worker_info_seeds_and_init_fn():
    assert get_worker_info() is None
    loader = DataLoader(Probe(), batch_size=2, num_workers=2, worker_init_fn=tag_worker,
                        generator=mg.Generator().manual_seed(0))
    batches = list(loader)
    workers = [b["worker"].tolist() for b in batches]
    assert workers == [[0, 0], [1, 1], [0, 0], [1, 1]]  # round-robin, in order
    assert [b["i"].tolist() for b in batches] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert batches[0]["tag"] == ["init 0 of 2"] * 2 and batches[1]["tag"] == ["init 1 of 2"] * 2
    assert len({b["pid"][0].item() for b in batches} - {os.getpid()}) == 2
    seeds = [b["seed"][0].item() for b in batches[:2]]
    assert seeds[1] == seeds[0] + 1
    for key in ("mg", "np", "py"):  # each worker draws its own numbers ...
        draws = [b[key].tolist() for b in batches]
        assert draws[0] != draws[1] and len(set(sum(draws, []))) == 8
    again = list(DataLoader(Probe(), batch_size=2, num_workers=2, worker_init_fn=tag_worker,
                            generator=mg.Generator().manual_seed(0)))
    for key in ("seed", "mg", "np", "py"):  # ... and a seeded loader repeats them
        assert [b[key].tolist() for b in again] == [b[key].tolist() for b in batches]


def test_persistent_workers_keep_their_processes_across_epochs():
    loader = DataLoader(Probe(), batch_size=3, num_workers=2, persistent_workers=True)
    first = list(loader)
    partial = next(iter(loader))  # abandon an epoch midway: its leftovers are dropped
    second = list(loader)
    assert [b["i"].tolist() for b in second] == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert partial["i"].tolist() == [0, 1, 2]
    pids = {p for b in first + second for p in b["pid"].tolist()}
    assert len(pids) == 2 and os.getpid() not in pids
    stream = DataLoader(Numbers(0, 7), batch_size=2, num_workers=2, persistent_workers=True)
    next(iter(stream))
    assert [b.tolist() for b in stream] == [[0, 1], [4, 5], [2, 3], [6]] == \
        [b.tolist() for b in stream]  # each epoch restarts every worker's stream


def test_in_order_false_gives_every_batch():
    loader = DataLoader(TensorDataset(mg.arange(10, device="cpu")), batch_size=2,
                        num_workers=2, in_order=False)
    assert sorted(b[0].tolist() for b in loader) == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]


def tensors_in(obj):
    if isinstance(obj, mg.Tensor):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in tensors_in(item)]
    return []


def collate_and_say_where(batch):
    """default_collate, and the devices it made the batch's tensors on."""
    out = default_collate(batch)
    return out, sorted({str(t.device) for t in tensors_in(out)})


def test_workers_collate_on_the_cpu_and_batches_arrive_on_the_default_device():
    """A forked worker cannot use the GPU (the simulated one refuses, as CUDA does): it
    builds each batch on the CPU, and the main process puts every tensor of it on the
    default device, so a batch is the same with or without workers."""
    with mg.use_backend("simgpu"):
        gpu = str(mg.zeros(()).device)
        dataset = Samples(4, lambda i: sample(i, mg.tensor))
        served = list(DataLoader(dataset, batch_size=2, num_workers=2,
                                 collate_fn=collate_and_say_where))
        plain = list(DataLoader(dataset, batch_size=2))
        with pytest.raises(RuntimeError, match="(?s)in DataLoader worker process.*"
                                               "initialization error"):
            list(DataLoader(TensorDataset(mg.arange(4)), batch_size=2, num_workers=1,
                            multiprocessing_context="fork"))
    assert [made_on for _, made_on in served] == [["cpu"], ["cpu"]]
    assert {str(t.device) for batch, _ in served for t in tensors_in(batch)} == {gpu}
    assert {str(t.device) for batch in plain for t in tensors_in(batch)} == {gpu}
    assert [tree(batch) for batch, _ in served] == [tree(batch) for batch in plain]


class Failing(Dataset):
    def __init__(self, how):
        self.how = how

    def __getitem__(self, i):
        if i == 3:
            if self.how == "raise":
                raise ValueError(f"bad sample {i}")
            if self.how == "key":
                raise KeyError("missing")
            if self.how == "exit":
                os._exit(3)
            time.sleep(1.5)  # past the loader's timeout
        return i

    def __len__(self):
        return 6


def test_worker_errors_are_raised_in_the_main_process():
    with pytest.raises(ValueError, match=r"(?s)Caught ValueError in DataLoader worker process 1\."
                                         r".*Traceback.*bad sample 3"):
        list(DataLoader(Failing("raise"), batch_size=2, num_workers=2))
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process 1"):
        list(DataLoader(Failing("key"), batch_size=2, num_workers=2))
    with pytest.raises(RuntimeError, match="DataLoader worker.*exited unexpectedly.*exit code 3"):
        list(DataLoader(Failing("exit"), batch_size=2, num_workers=2))
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        list(DataLoader(Failing("sleep"), batch_size=2, num_workers=2, timeout=0.3))
