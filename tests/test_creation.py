"""Factories and random numbers with PyTorch's signatures: the same call on minigrad and on
PyTorch gives the same shapes, dtypes and (where deterministic) values; random draws have
the right statistics and repeat under ``mg.manual_seed``."""
import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")


def same_dtype(ours, theirs):
    return str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")


def assert_like_torch(ours, theirs, rtol=1e-6, atol=1e-7):
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert same_dtype(ours, theirs), (ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours.numpy().astype(np.float64),
                               theirs.numpy().astype(np.float64), rtol=rtol, atol=atol)


# -- shapes and keywords ------------------------------------------------------------------

SHAPED = ["zeros", "ones", "empty", "rand", "randn"]


@pytest.mark.parametrize("name", SHAPED)
@pytest.mark.parametrize("args, kwargs", [
    ((2, 3), {}), (((2, 3),), {}), (([2, 3],), {}), ((), {"size": (2, 3)}),
    ((mg.Size((2, 3)),), {}), ((torch.Size((2, 3)),), {}), ((np.int64(2), 3), {}),
])
def test_shapes_in_every_spelling(name, args, kwargs):
    ours = getattr(mg, name)(*args, **kwargs)
    theirs = getattr(torch, name)(*args, **kwargs)
    assert tuple(ours.shape) == tuple(theirs.shape) == (2, 3) and same_dtype(ours, theirs)


@pytest.mark.parametrize("name", SHAPED)
def test_dtype_device_and_requires_grad(name):
    t = getattr(mg, name)(2, dtype=mg.float64, device="cpu", requires_grad=True)
    assert t.dtype == np.float64 and t.device == "cpu" and t.requires_grad and t.is_leaf
    assert getattr(mg, name)(()).shape == ()


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match="negative dimension -1"):
        mg.zeros(2, -1)
    with pytest.raises(TypeError, match="2.5"):
        mg.ones(2.5)
    with pytest.raises(TypeError, match="size given twice"):
        mg.zeros(2, size=(3,))
    with pytest.raises(RuntimeError, match="floating point"):
        mg.zeros(2, dtype=mg.int64, requires_grad=True)


# -- filled tensors and ranges --------------------------------------------------------------

@pytest.mark.parametrize("fill", [True, 3, -2.5, 1e30, np.float32(0.5), np.int32(7)])
def test_full_infers_torchs_dtype(fill):
    assert_like_torch(mg.full((2, 3), fill), torch.full((2, 3), fill), rtol=0, atol=0)
    assert_like_torch(mg.full(size=(2,), fill_value=fill, dtype=mg.float64),
                      torch.full(size=(2,), fill_value=fill, dtype=torch.float64))


def test_full_like_and_friends_keep_the_input_dtype_unless_told():
    x_ours, x_theirs = mg.arange(6).reshape(2, 3), torch.arange(6).reshape(2, 3)
    for name in ["zeros_like", "ones_like", "empty_like"]:
        ours, theirs = getattr(mg, name)(x_ours), getattr(torch, name)(x_theirs)
        assert ours.shape == tuple(theirs.shape) and same_dtype(ours, theirs)
        t = getattr(mg, name)(x_ours, dtype=mg.float64, device="cpu", requires_grad=True)
        assert t.dtype == np.float64 and t.requires_grad
    assert_like_torch(mg.full_like(x_ours, 2.7), torch.full_like(x_theirs, 2.7))
    assert_like_torch(mg.zeros_like(x_ours), torch.zeros_like(x_theirs))
    assert_like_torch(mg.ones_like(x_ours), torch.ones_like(x_theirs))


@pytest.mark.parametrize("args", [(3,), (2, 4), (4, 2), (1,), (0,)])
def test_eye(args):
    assert_like_torch(mg.eye(*args), torch.eye(*args), rtol=0, atol=0)
    assert_like_torch(mg.eye(*args, dtype=mg.int32), torch.eye(*args, dtype=torch.int32))


@pytest.mark.parametrize("args, kwargs", [
    ((0, 1, 5), {}), ((-3.5, 2.25, 7), {}), ((2, 2, 1), {}), ((0, 1, 0), {}),
    ((10, -10, 11), {}), ((0, 10, 5), {"dtype": "int64"}), ((-10, 0, 5), {"dtype": "int64"}),
    ((0, 1, 101), {"dtype": "float64"}), ((0, 1, 9), {"dtype": "float16"}),
])
def test_linspace(args, kwargs):
    tdtype = {"dtype": getattr(torch, kwargs["dtype"])} if kwargs else {}
    assert_like_torch(mg.linspace(*args, **kwargs), torch.linspace(*args, **tdtype), rtol=1e-3)
    assert_like_torch(mg.linspace(mg.tensor(args[0]), args[1], steps=args[2], **kwargs),
                      torch.linspace(args[0], args[1], steps=args[2], **tdtype), rtol=1e-3)


@pytest.mark.parametrize("args, kwargs", [
    ((0, 2, 3), {}), ((-1, 1, 5), {}), ((0, 3, 4), {"base": 2.0}),
    ((0, 2, 3), {"dtype": "int64"}), ((0.5, 1.5, 6), {"dtype": "float64"}),
])
def test_logspace(args, kwargs):
    tkwargs = {k: getattr(torch, v) if k == "dtype" else v for k, v in kwargs.items()}
    assert_like_torch(mg.logspace(*args, **kwargs), torch.logspace(*args, **tkwargs), rtol=1e-6)


@pytest.mark.parametrize("args, kwargs", [
    ((5,), {}), ((1, 7, 2), {}), ((10, 0, -3), {}), ((0, 1, 0.1), {}), ((0.0, 3), {}),
    ((1.5,), {}), ((0.5, 3.7, 1), {"dtype": "int64"}), ((-2.5, 2), {"dtype": "int64"}),
    ((0, 5), {"dtype": "float64"}),
    ((0, 100, 0.1), {}), ((0, 4, 0.5), {"dtype": "float16"}), ((), {"end": 4}),
    ((-3, 3), {"dtype": "int32"}),
])
def test_arange(args, kwargs):
    tkwargs = {k: getattr(torch, v) if k == "dtype" else v for k, v in kwargs.items()}
    assert_like_torch(mg.arange(*args, **kwargs), torch.arange(*args, **tkwargs), rtol=1e-6,
                      atol=1e-5)


def test_range_errors_are_named():
    with pytest.raises(ValueError, match="step must be nonzero"):
        mg.arange(0, 3, 0)
    with pytest.raises(ValueError, match="start=5, end=0, step=1"):
        mg.arange(5, 0)
    with pytest.raises(ValueError, match="steps must be a non-negative integer, got -1"):
        mg.linspace(0, 1, -1)
    with pytest.raises(TypeError, match="start must be a number"):
        mg.linspace("a", 1, 3)


# -- from existing data -----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int32, np.int64,
                                   np.uint8, np.bool_])
def test_from_numpy_shares_memory_both_ways(dtype):
    a = np.zeros((2, 3), dtype=dtype)
    t = mg.from_numpy(a)
    assert t.dtype == dtype and t.device == "cpu" and t.shape == (2, 3)
    a[0, 1] = 1
    assert t.numpy()[0, 1] == 1
    with mg.no_grad():
        t[1, 2] = 1
    assert a[1, 2] == 1
    assert same_dtype(t, torch.from_numpy(a))


def test_from_numpy_refuses_what_is_not_a_numeric_array():
    with pytest.raises(TypeError, match="numpy.ndarray, got list"):
        mg.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError, match="dtype object"):
        mg.from_numpy(np.array([{}, None]))


def test_as_tensor_copies_only_when_it_must():
    a = np.arange(3.0)
    shared = mg.as_tensor(a, device="cpu")  # a GPU default device would copy
    a[0] = 7.0
    assert shared.numpy()[0] == 7.0 and shared.dtype == np.float64
    cast = mg.as_tensor(a, dtype=mg.float32)
    a[1] = 9.0
    assert cast.numpy()[1] == 1.0 and cast.dtype == np.float32

    t = mg.ones(2, requires_grad=True)
    assert mg.as_tensor(t) is t and mg.as_tensor(t, dtype=mg.float32, device=t.device) is t
    doubled = mg.as_tensor(t, dtype=mg.float64)
    assert doubled.dtype == np.float64 and doubled.requires_grad  # a differentiable cast

    for data in ([1, 2.5], [1, 2], 3.0, [[True]]):
        assert_like_torch(mg.as_tensor(data), torch.as_tensor(data))


def test_is_tensor_and_numel():
    x = mg.zeros(2, 3, 4)
    assert mg.is_tensor(x) and not mg.is_tensor(np.zeros(2)) and not mg.is_tensor([1])
    assert mg.numel(x) == torch.numel(torch.zeros(2, 3, 4)) == 24
    assert mg.numel(mg.tensor(1.0)) == 1
    with pytest.raises(TypeError, match="numel\\(\\) expects a Tensor, got list"):
        mg.numel([1, 2])


# -- random numbers ---------------------------------------------------------------------------

FLOATS = [mg.float16, mg.float32, mg.float64]


@pytest.mark.parametrize("dtype", FLOATS)
def test_rand_is_uniform_in_0_1_in_every_float_dtype(dtype):
    u = mg.rand(200_000, dtype=dtype)
    assert u.dtype == dtype
    v = u.numpy().astype(np.float64)
    assert v.min() >= 0.0 and v.max() < 1.0
    assert abs(v.mean() - 0.5) < 0.005 and abs(v.var() - 1 / 12) < 0.002
    w = mg.rand_like(u)
    assert w.dtype == dtype and w.shape == u.shape


@pytest.mark.parametrize("dtype", FLOATS)
def test_randn_is_standard_normal_in_every_float_dtype(dtype):
    z = mg.randn(200, 1000, dtype=dtype)
    assert z.dtype == dtype and z.shape == (200, 1000)
    v = z.numpy().astype(np.float64)
    assert abs(v.mean()) < 0.01 and abs(v.std() - 1.0) < 0.01
    assert abs((v > 1.0).mean() - 0.158655) < 0.005
    assert mg.randn_like(z).dtype == dtype


def test_random_floats_refuse_integer_dtypes():
    with pytest.raises(TypeError, match=r"rand\(\) draws floating-point numbers.*int64"):
        mg.rand(2, dtype=mg.int64)
    with pytest.raises(TypeError, match="randn_like"):
        mg.randn_like(mg.arange(3))


def test_randint_overloads_as_torch():
    for ours, theirs in [
        (mg.randint(10, (1000,)), torch.randint(10, (1000,))),
        (mg.randint(3, 10, (40, 25)), torch.randint(3, 10, (40, 25))),
        (mg.randint(low=-2, high=2, size=(1000,)), torch.randint(low=-2, high=2, size=(1000,))),
        (mg.randint(5, size=(1000,)), torch.randint(5, size=(1000,))),
        (mg.randint(0, 4, (1000,), dtype=mg.float32),
         torch.randint(0, 4, (1000,), dtype=torch.float32)),
        (mg.randint(0, 2, (1000,), dtype=mg.uint8), torch.randint(0, 2, (1000,),
                                                                   dtype=torch.uint8)),
    ]:
        assert ours.shape == tuple(theirs.shape) and same_dtype(ours, theirs)
        assert sorted(np.unique(ours.numpy())) == sorted(np.unique(theirs.numpy()))
    x = mg.zeros(3000)
    ours, theirs = mg.randint_like(x, 3), torch.randint_like(torch.zeros(3000), 3)
    assert same_dtype(ours, theirs) and set(np.unique(ours.numpy())) == {0.0, 1.0, 2.0}
    assert set(np.unique(mg.randint_like(x, 3, 5).numpy())) == {3.0, 4.0}


def test_randint_errors_are_named():
    with pytest.raises(ValueError, match="low < high, got low=5, high=5"):
        mg.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="integers, got low=0, high=2.5"):
        mg.randint(0, 2.5, (2,))


def test_randperm():
    p = mg.randperm(1000)
    assert p.dtype == np.int64 and sorted(p.numpy()) == list(range(1000))
    assert not np.array_equal(p.numpy(), np.arange(1000))
    assert mg.randperm(0).shape == (0,)
    assert mg.randperm(5, dtype=mg.float64).dtype == np.float64
    assert same_dtype(mg.randperm(3), torch.randperm(3))


def test_normal_overloads_match_torch_shapes_and_dtypes():
    m64 = np.zeros((4, 1))
    s64 = np.ones(3)
    cases = [
        ((2.0, 3.0, (5, 2)), (2.0, 3.0, (5, 2))),
        ((mg.tensor(m64),), (torch.tensor(m64),)),
        ((mg.tensor(m64), 2.0), (torch.tensor(m64), 2.0)),
        ((0.0, mg.tensor(s64)), (0.0, torch.tensor(s64))),
        ((mg.tensor(m64), mg.tensor(s64)), (torch.tensor(m64), torch.tensor(s64))),
        ((mg.zeros(3), mg.ones(3)), (torch.zeros(3), torch.ones(3))),
    ]
    for ours, theirs in cases:
        a, b = mg.normal(*ours), torch.normal(*theirs)
        assert a.shape == tuple(b.shape) and same_dtype(a, b)
    assert mg.normal(0.0, 1.0, size=(2,), dtype=mg.float16).dtype == np.float16


def test_normal_statistics():
    v = mg.normal(5.0, 2.0, (200_000,)).numpy()
    assert abs(v.mean() - 5.0) < 0.02 and abs(v.std() - 2.0) < 0.02
    means = mg.arange(0.0, 100.0).reshape(100, 1) * mg.ones(1, 2000)
    per_row = mg.normal(means, 0.5).numpy()
    np.testing.assert_allclose(per_row.mean(axis=1), np.arange(100.0), atol=0.05)
    np.testing.assert_allclose(per_row.std(axis=1), 0.5, atol=0.03)
    spread = mg.normal(1.0, mg.tensor([0.0, 3.0]).reshape(2, 1) * mg.ones(1, 50_000)).numpy()
    assert (spread[0] == 1.0).all() and abs(spread[1].std() - 3.0) < 0.05


def test_normal_errors_are_named():
    with pytest.raises(ValueError, match="std >= 0, got -1.0"):
        mg.normal(0.0, -1.0, (2,))
    with pytest.raises(TypeError, match="takes size and device only"):
        mg.normal(mg.zeros(2), 1.0, (2,))


def test_bernoulli():
    p = mg.full((100_000,), 0.3, dtype=mg.float64)
    b = mg.bernoulli(p)
    assert b.dtype == np.float64 and set(np.unique(b.numpy())) == {0.0, 1.0}
    assert abs(b.numpy().mean() - 0.3) < 0.005
    assert same_dtype(mg.bernoulli(mg.zeros(2)), torch.bernoulli(torch.zeros(2)))
    assert not mg.bernoulli(mg.zeros(1000)).numpy().any()
    assert mg.bernoulli(mg.ones(1000)).numpy().all()
    ramp = mg.linspace(0, 1, 11).reshape(11, 1) * mg.ones(1, 20_000)
    np.testing.assert_allclose(mg.bernoulli(ramp).numpy().mean(axis=1),
                               np.linspace(0, 1, 11), atol=0.015)
    half16 = mg.bernoulli(mg.full((50_000,), 0.5, dtype=mg.float16))
    assert half16.dtype == np.float16 and abs(half16.numpy().astype(float).mean() - 0.5) < 0.01
    assert abs(mg.bernoulli(mg.zeros(50_000), 0.8).numpy().mean() - 0.8) < 0.01
    with pytest.raises(TypeError, match="floating-point probabilities, got dtype int64"):
        mg.bernoulli(mg.arange(3))
    with pytest.raises(ValueError, match="p=1.5"):
        mg.bernoulli(mg.zeros(2), 1.5)


def test_multinomial_with_replacement_follows_the_weights():
    weights = mg.tensor([1.0, 0.0, 3.0, 6.0])  # unnormalised, with a zero category
    draws = mg.multinomial(weights, 100_000, replacement=True)
    assert draws.dtype == np.int64 and draws.shape == (100_000,)
    freq = np.bincount(draws.numpy(), minlength=4) / 100_000
    np.testing.assert_allclose(freq, [0.1, 0.0, 0.3, 0.6], atol=0.006)
    assert freq[1] == 0
    theirs = torch.multinomial(torch.tensor([1.0, 0.0, 3.0, 6.0]), 10, replacement=True)
    assert same_dtype(draws, theirs)


def test_multinomial_without_replacement_never_repeats_and_draws_in_order():
    probs = np.array([0.5, 0.3, 0.15, 0.05, 0.0])
    rows = mg.tensor(np.tile(probs, (60_000, 1)))
    draws = mg.multinomial(rows, 4)
    assert draws.shape == (60_000, 4) and draws.dtype == np.int64
    d = draws.numpy()
    assert all(len(set(r)) == 4 for r in d[:2000]) and not (d == 4).any()
    np.testing.assert_allclose(np.bincount(d[:, 0], minlength=5) / 60_000, probs, atol=0.007)
    # one category at a time, renormalising: P(second = j) = sum_i p_i p_j / (1 - p_i)
    second = np.array([sum(probs[i] * probs[j] / (1 - probs[i]) for i in range(5) if i != j)
                       for j in range(5)])
    np.testing.assert_allclose(np.bincount(d[:, 1], minlength=5) / 60_000, second, atol=0.007)
    full = mg.multinomial(mg.tensor([1.0, 2.0, 3.0]), 3).numpy()
    assert sorted(full) == [0, 1, 2]


def test_multinomial_matches_torch_shapes_and_is_seeded():
    w = mg.rand(3, 6) + 0.1
    for replacement in (False, True):
        ours = mg.multinomial(w, 4, replacement=replacement)
        theirs = torch.multinomial(torch.tensor(w.numpy()), 4, replacement=replacement)
        assert ours.shape == tuple(theirs.shape) and same_dtype(ours, theirs)
        mg.manual_seed(11)
        first = mg.multinomial(w, 4, replacement=replacement).numpy()
        mg.manual_seed(11)
        np.testing.assert_array_equal(first, mg.multinomial(w, 4, replacement).numpy())


def test_multinomial_errors_are_named():
    with pytest.raises(ValueError, match="cannot draw 3 samples without replacement from a "
                                         "row with 2 nonzero weights"):
        mg.multinomial(mg.tensor([1.0, 0.0, 1.0]), 3)
    mg.multinomial(mg.tensor([1.0, 0.0, 1.0]), 3, replacement=True)  # fine with replacement
    with pytest.raises(ValueError, match="1-d or 2-d weights, got shape \\(1, 1, 2\\)"):
        mg.multinomial(mg.ones(1, 1, 2), 1)
    with pytest.raises(ValueError, match="finite and non-negative"):
        mg.multinomial(mg.tensor([1.0, -0.5]), 1)
    with pytest.raises(ValueError, match="finite and non-negative"):
        mg.multinomial(mg.tensor([1.0, float("nan")]), 1)
    with pytest.raises(ValueError, match="sums to zero"):
        mg.multinomial(mg.tensor([[1.0, 1.0], [0.0, 0.0]]), 1)
    with pytest.raises(ValueError, match="positive integer num_samples, got 0"):
        mg.multinomial(mg.ones(3), 0)
    with pytest.raises(TypeError, match="floating-point weights, got dtype int64"):
        mg.multinomial(mg.arange(3), 1)


def test_manual_seed_repeats_every_random_factory():
    def draw():
        w = mg.tensor([0.2, 0.8])
        return [mg.rand(3), mg.randn(3, dtype=mg.float16), mg.randint(0, 9, (3,)),
                mg.randperm(5), mg.normal(0.0, 1.0, (3,)), mg.normal(mg.zeros(3)),
                mg.bernoulli(mg.full((4,), 0.5)), mg.multinomial(w, 2),
                mg.multinomial(w, 4, replacement=True), mg.rand_like(mg.zeros(2)),
                mg.randint_like(mg.zeros(2), 7)]
    for seed in (0, 123, -1, 2 ** 64 - 1):
        mg.manual_seed(seed)
        first = [t.numpy() for t in draw()]
        mg.manual_seed(seed)
        for a, b in zip(first, draw()):
            np.testing.assert_array_equal(a, b.numpy())
    with pytest.raises(ValueError, match="seed"):
        mg.manual_seed(2 ** 64)
