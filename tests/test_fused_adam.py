"""``mg._fused_adam_`` (what Adam and AdamW call): the compiled pass and the ufunc pass
against PyTorch's Adam, every option, float32 and float64, and its errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.backends import compiled_kernel, optimizer_kernels

OPTIONS = st.fixed_dictionaries(dict(
    lr=st.sampled_from([1e-3, 0.05]), beta1=st.sampled_from([0.9, 0.3, 0.0]),
    beta2=st.sampled_from([0.999, 0.9]), weight_decay=st.sampled_from([0.0, 0.1]),
    eps=st.sampled_from([1e-8, 1e-3]), amsgrad=st.booleans(), maximize=st.booleans(),
    decoupled_weight_decay=st.booleans()))


def _run(path, monkeypatch, options, dtype, steps=4, seed=0):
    """Parameters after ``steps`` updates with random gradients, through ``path``."""
    if path == "ufunc":
        monkeypatch.setattr(optimizer_kernels, "compiled_adam", lambda *args: False)
    r = np.random.default_rng(seed)
    shapes = [(3, 5), (7,), (2, 3, 4)]
    params = [mg.tensor(r.standard_normal(s).astype(dtype)) for s in shapes]
    moments = [[mg.zeros_like(p) for p in params] for _ in range(3)]
    for step in range(1, steps + 1):
        grads = [mg.tensor(r.standard_normal(p.shape).astype(dtype)) for p in params]
        mg._fused_adam_(params, grads, *moments, [step] * len(params), **options)
    monkeypatch.undo()
    return [p.numpy() for p in params], r


def _torch_run(options, dtype, steps=4, seed=0):
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(seed)
    shapes = [(3, 5), (7,), (2, 3, 4)]
    params = [torch.tensor(r.standard_normal(s).astype(dtype), requires_grad=True)
              for s in shapes]
    options = dict(options)
    betas = (options.pop("beta1"), options.pop("beta2"))
    optimizer = torch.optim.Adam(params, betas=betas, foreach=False, **options)
    for _ in range(steps):
        for p in params:
            p.grad = torch.tensor(r.standard_normal(tuple(p.shape)).astype(dtype))
        optimizer.step()
    return [p.detach().numpy() for p in params]


@pytest.mark.parametrize("path", ["compiled", "ufunc"])
@given(options=OPTIONS, dtype=st.sampled_from([np.float32, np.float64]))
def test_both_passes_follow_torchs_adam(path, options, dtype):
    if path == "compiled" and not (compiled_kernel.available()
                                   and mg.current_backend().name == "numpy"):
        pytest.skip("the compiled pass is the NumPy backend's, with a C++ compiler")
    tolerance = dict(rtol=1e-12, atol=1e-13) if dtype == np.float64 else \
        dict(rtol=1e-5, atol=1e-6)
    with pytest.MonkeyPatch.context() as patch:
        ours, _ = _run(path, patch, options, dtype)
    for mine, theirs in zip(ours, _torch_run(options, dtype)):
        np.testing.assert_allclose(mine, theirs, **tolerance)


def test_the_compiled_pass_takes_contiguous_numpy_arrays_of_one_dtype_only():
    if not compiled_kernel.available():
        pytest.skip("no working C++ compiler here (or MINIGRAD_CPU_KERNELS=0)")
    hyper = dict(lr=0.1, beta1=0.9, beta2=0.99, weight_decay=0.0, eps=1e-8, maximize=False,
                 decoupled=False, step_size=1.0, bias_correction2_sqrt=0.1)
    p, g, m, v = (np.ones(6) for _ in range(4))
    assert optimizer_kernels.compiled_adam(p, g, m, v, None, hyper)
    assert not optimizer_kernels.compiled_adam(np.ones((6, 2))[:, 0], g, m, v, None, hyper)
    assert not optimizer_kernels.compiled_adam(p, g.astype(np.float32), m, v, None, hyper)
    assert not optimizer_kernels.compiled_adam(p.astype(np.int64), g, m, v, None, hyper)


def test_adam_moves_parameters_in_place_and_marks_them_modified():
    w = mg.nn.Parameter(mg.ones(3))
    memory = w.data
    (w * w).sum().backward()
    saved = (w * w).sum()  # keeps w for its backward
    mg.optim.Adam([w], lr=0.1).step()
    np.testing.assert_allclose(memory.numpy(), w.detach().numpy())  # same memory
    assert not np.allclose(w.detach().numpy(), 1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        saved.backward()


def test_bad_arguments_name_what_is_wrong():
    p = [mg.ones(3)]
    moments = [[mg.zeros(3)], [mg.zeros(3)], []]
    hyper = dict(lr=0.1, beta1=0.9, beta2=0.99, weight_decay=0.0, eps=1e-8, amsgrad=False,
                 maximize=False)
    with pytest.raises(ValueError, match="grads has 2 entries for 1 params"):
        mg._fused_adam_(p, [mg.ones(3)] * 2, *moments, [1], **hyper)
    with pytest.raises(ValueError, match=r"exp_avg 0 has shape \(4,\), its param \(3,\)"):
        mg._fused_adam_(p, [mg.ones(3)], [mg.zeros(4)], [mg.zeros(3)], [], [1], **hyper)
    with pytest.raises(ValueError, match="state_steps\\[0\\] is 0; steps count from 1"):
        mg._fused_adam_(p, [mg.ones(3)], *moments, [0], **hyper)
    with pytest.raises(TypeError, match="grad 0 must be a Tensor, got ndarray"):
        mg._fused_adam_(p, [np.ones(3)], *moments, [1], **hyper)
    with pytest.raises(ValueError, match="max_exp_avg_sqs has 0 entries for 1 params"):
        mg._fused_adam_(p, [mg.ones(3)], *moments, [1], **dict(hyper, amsgrad=True))
