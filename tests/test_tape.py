"""The tape's semantics: accumulation, retain_graph, higher order, hooks, grad modes,
in-place detection, long chains and backpropagation through time."""
import sys

import numpy as np
import pytest

import minigrad as mg


def leaf(values):
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# -- long graphs -------------------------------------------------------------------------

def test_20000_step_chain_backpropagates_without_recursion():
    assert sys.getrecursionlimit() < 20_000  # a recursive walk could not get through
    x = leaf(0.5)
    y = x
    for _ in range(20_000):
        y = y + x
    y.backward()
    assert x.grad.item() == 20_001.0

    w = leaf(0.3)
    h = leaf(0.1)
    state = h
    for _ in range(20_000):
        state = mg.tanh(state * 0.5 + w)
    state.backward()
    # the fixed point h* = tanh(h*/2 + w): dh*/dw = s / (1 - s/2), s = 1 - h*^2
    h_star = state.item()
    s = 1.0 - h_star ** 2
    np.testing.assert_allclose(w.grad.item(), s / (1.0 - s / 2.0), rtol=1e-10)
    assert abs(h.grad.item()) < 1e-100  # the influence of the start has died out


def _numpy_bptt(W, xs, h0, cs):
    """Forward h_t = tanh(W h_{t-1} + x_t), loss = sum_t c_t . h_t; the gradient by hand."""
    hs = [h0]
    for x in xs:
        hs.append(np.tanh(W @ hs[-1] + x))
    dW_per_step = []
    dxs = [None] * len(xs)
    dh = np.zeros_like(h0)
    for t in reversed(range(len(xs))):
        dh = dh + cs[t]                       # this step's own loss term
        delta = dh * (1.0 - hs[t + 1] ** 2)   # through tanh
        dW_per_step.append(np.outer(delta, hs[t]))
        dxs[t] = delta
        dh = W.T @ delta                      # to the previous state
    loss = sum(float(c @ h) for c, h in zip(cs, hs[1:]))
    return loss, dW_per_step, dxs, dh


def test_weight_shared_over_50_steps_gets_the_sum_of_per_step_gradients():
    rng = np.random.default_rng(0)
    H, T = 4, 50
    W_np = rng.normal(scale=0.5, size=(H, H))
    xs_np = rng.normal(size=(T, H))
    h0_np = rng.normal(size=H)
    cs = rng.normal(size=(T, H))

    W = leaf(W_np)
    xs = leaf(xs_np)
    h0 = leaf(h0_np)
    h = h0
    loss = None
    for t in range(T):
        h = mg.tanh(W @ h + xs[t])
        term = (h * mg.tensor(cs[t])).sum()
        loss = term if loss is None else loss + term
    loss.backward()

    expected_loss, dW_steps, dxs, dh0 = _numpy_bptt(W_np, xs_np, h0_np, cs)
    np.testing.assert_allclose(loss.item(), expected_loss, rtol=1e-12)
    np.testing.assert_allclose(W.grad.numpy(), np.sum(dW_steps, axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), np.array(dxs), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h0.grad.numpy(), dh0, rtol=1e-10, atol=1e-12)
    # the sum matters: the last step's share alone is far from the total
    assert not np.allclose(W.grad.numpy(), dW_steps[0])


def test_right_multiplied_weight_shared_over_many_batched_steps():
    """h_t = tanh(h_{t-1} @ W + x_t) for a batch: W's per-step terms h_{t-1}^T delta_t must
    add up to the hand-derived total, however the engine batches them."""
    rng = np.random.default_rng(2)
    B, H, T = 4, 3, 300  # 1,200 rows of per-step products
    W_np = rng.normal(scale=0.4, size=(H, H))
    xs_np = rng.normal(size=(T, B, H))
    cs = rng.normal(size=(T, B, H))
    W, xs = leaf(W_np), leaf(xs_np)
    h = mg.tensor(np.zeros((B, H)))
    loss = None
    for t in range(T):
        h = mg.tanh(h @ W + xs[t])
        term = (h * mg.tensor(cs[t])).sum()
        loss = term if loss is None else loss + term
    loss.backward()

    hs = [np.zeros((B, H))]
    for t in range(T):
        hs.append(np.tanh(hs[-1] @ W_np + xs_np[t]))
    dW = np.zeros_like(W_np)
    dxs = np.zeros_like(xs_np)
    dh = np.zeros((B, H))
    for t in reversed(range(T)):
        delta = (dh + cs[t]) * (1.0 - hs[t + 1] ** 2)
        dW += hs[t].T @ delta
        dxs[t] = delta
        dh = delta @ W_np.T
    np.testing.assert_allclose(W.grad.numpy(), dW, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(xs.grad.numpy(), dxs, rtol=1e-9, atol=1e-12)


def test_a_tensor_used_as_both_operands_and_in_several_roles():
    W_np = np.array([[0.5, -1.0], [2.0, 0.25]])
    W = leaf(W_np)
    x = mg.tensor(np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]]))
    y = ((W @ W) * 0.5).sum() + (x @ W).sum() + (x @ W.T).sum() + W[0].sum() + W[[1, 1]].sum()
    y.backward()
    ones = np.ones((2, 2))
    expected = 0.5 * (ones @ W_np.T + W_np.T @ ones) + x.numpy().T @ np.ones((3, 2)) \
        + (x.numpy().T @ np.ones((3, 2))).T + np.array([[1, 1], [2, 2]])
    np.testing.assert_allclose(W.grad.numpy(), expected)


# -- accumulation and retain_graph -----------------------------------------------------------

def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 7.0])
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_grad_is_a_tensor_and_not_aliased_to_the_incoming_gradient():
    x = leaf([1.0, 2.0])
    g = mg.tensor(np.array([1.0, 1.0]))
    y = x * 1.0
    y.backward(g)
    assert isinstance(x.grad, mg.Tensor)
    y2 = x * 1.0
    y2.backward(g)  # accumulating into x.grad must not write into g
    np.testing.assert_array_equal(g.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, -2.0])
    y = (mg.exp(x) * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    np.testing.assert_allclose(first, np.exp([1.0, -2.0]) * (1 + np.array([1.0, -2.0])))


def test_backward_twice_without_retain_graph_says_to_pass_it():
    x = leaf([1.0, 2.0])
    y = (x.tanh() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        y.backward()


def test_grad_twice_without_retain_graph_says_to_pass_it():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    mg.grad(y, x)
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        mg.grad(y, x)


# -- higher order ---------------------------------------------------------------------------

def test_hessian_vector_product_matches_the_analytic_one():
    rng = np.random.default_rng(1)
    A_np = rng.normal(size=(3, 3))
    x_np, v_np = rng.normal(size=3), rng.normal(size=3)
    x = leaf(x_np)
    A = mg.tensor(A_np)
    # f(x) = x.A.x + sum(x^3): H = A + A^T + diag(6 x)
    f = (x @ (A @ x)) + (x ** 3).sum()
    (g,) = mg.grad(f, x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), (A_np + A_np.T) @ x_np + 3 * x_np ** 2)
    assert g.requires_grad
    (g * mg.tensor(v_np)).sum().backward()
    H = A_np + A_np.T + np.diag(6 * x_np)
    np.testing.assert_allclose(x.grad.numpy(), H @ v_np, rtol=1e-12)


def test_third_derivative_through_backward_create_graph():
    x = leaf(1.5)
    y = x ** 4
    y.backward(create_graph=True)
    g1 = x.grad                       # 4 x^3
    assert g1.requires_grad
    (g2,) = mg.grad(g1, x, create_graph=True)   # 12 x^2
    (g3,) = mg.grad(g2, x)            # 24 x
    np.testing.assert_allclose([g1.item(), g2.item(), g3.item()],
                               [4 * 1.5 ** 3, 12 * 1.5 ** 2, 24 * 1.5])


def test_backward_without_create_graph_records_nothing():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    assert not x.grad.requires_grad and x.grad.is_leaf
    y = x * 1.0
    (g,) = mg.grad((y * y).sum(), x)
    assert not g.requires_grad


# -- mg.grad ------------------------------------------------------------------------------------

def test_grad_allow_unused():
    x, unused = leaf([1.0, 2.0]), leaf([3.0])
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match=r"input 1 was not used.*allow_unused=True"):
        mg.grad(y, [x, unused], retain_graph=True)
    gx, gu = mg.grad(y, [x, unused], allow_unused=True)
    np.testing.assert_array_equal(gx.numpy(), [2.0, 4.0])
    assert gu is None


def test_grad_with_grad_outputs_is_a_vector_jacobian_product():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x  # not a scalar
    v = mg.tensor(np.array([1.0, 0.5, -2.0]))
    (g,) = mg.grad(y, x, grad_outputs=v)
    np.testing.assert_array_equal(g.numpy(), [2.0, 2.0, -12.0])
    assert x.grad is None  # mg.grad leaves .grad untouched
    a, b = leaf([1.0]), leaf([2.0])
    ga, gb = mg.grad([a * b, a + b], [a, b], grad_outputs=[mg.tensor([1.0]), mg.tensor([10.0])])
    np.testing.assert_array_equal([ga.item(), gb.item()], [12.0, 11.0])


def test_backward_with_inputs_only_fills_those():
    a, b = leaf([1.0]), leaf([2.0])
    (a * b).sum().backward(inputs=[a])
    assert a.grad.item() == 2.0 and b.grad is None


# -- grad modes ---------------------------------------------------------------------------------

def test_no_grad_context_manager_and_decorator():
    x = leaf([1.0])
    with mg.no_grad():
        y = x * 2
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf

    @mg.no_grad()
    def double(t):
        return t * 2

    z = double(x)
    assert not z.requires_grad
    assert mg.is_grad_enabled()
    assert (x * 2).requires_grad


def test_enable_grad_inside_no_grad():
    x = leaf([1.0])
    with mg.no_grad():
        with mg.enable_grad():
            y = x * 2
        z = x * 2
        assert not mg.is_grad_enabled()

    @mg.enable_grad()
    def double(t):
        return t * 2

    with mg.no_grad():
        w = double(x)
    assert y.requires_grad and not z.requires_grad and w.requires_grad
    w.backward()
    assert x.grad.item() == 2.0


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with mg.no_grad():
            1 / 0
    assert mg.is_grad_enabled()

    @mg.no_grad()
    def fails():
        raise KeyError

    with pytest.raises(KeyError):
        fails()
    assert mg.is_grad_enabled()


def test_detach_cuts_the_tape_but_shares_the_values():
    x = leaf([1.0, 2.0])
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    np.testing.assert_array_equal(d.numpy(), x.numpy())
    (x * d).sum().backward()  # d is a constant: the gradient is d, not 2x
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0])
    h = (x * 3).detach()
    assert h.grad is None and not h.requires_grad


# -- hooks and retain_grad ------------------------------------------------------------------------

def test_register_hook_modifies_the_gradient_and_can_be_removed():
    x = leaf([1.0, 2.0])
    seen = []

    def hook(g):
        seen.append(g.numpy().copy())
        return g * 10

    handle = x.register_hook(hook)
    (x * x).sum().backward()
    np.testing.assert_array_equal(seen[0], [2.0, 4.0])
    np.testing.assert_array_equal(x.grad.numpy(), [20.0, 40.0])
    handle.remove()
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    assert len(seen) == 1


def test_hook_on_an_intermediate_changes_what_flows_upstream():
    x = leaf([1.0, 2.0])
    y = x * 3
    y.register_hook(lambda g: g * 0 + 1.0)  # replace the gradient by ones
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    observer = []
    z = x * 1
    z.register_hook(lambda g: observer.append(g.numpy().copy()))  # None: unchanged
    (z * 2).sum().backward()
    np.testing.assert_array_equal(observer[0], [2.0, 2.0])


def _hook_order(lib):
    """Which hooks fire in what order: a recurrent weight used at three steps, an output
    weight, and the first step's intermediate (the earliest node of the walk)."""
    order = []
    w_in = lib.ones(3, 4, dtype=lib.float64, requires_grad=True)
    w_rec = lib.full((4, 4), 0.1, dtype=lib.float64, requires_grad=True)
    w_out = lib.ones(4, 1, dtype=lib.float64, requires_grad=True)
    for name, t in (("w_in", w_in), ("w_rec", w_rec), ("w_out", w_out)):
        t.register_hook(lambda g, name=name: order.append((name, round(float(g.sum()), 9))))
    first = lib.ones(2, 3, dtype=lib.float64) @ w_in
    first.register_hook(lambda g: order.append(("first", None)))
    h = first.tanh()
    for _ in range(2):
        h = (h @ w_rec).tanh()
    (h @ w_out).sum().backward()
    return order


def test_leaf_hooks_fire_when_their_gradient_is_complete_as_in_torch():
    """Not at the end of the walk: w_out's hook comes before the graph's first node is
    reached, and w_rec's (used at every step) once, on the full sum, as PyTorch does."""
    torch = pytest.importorskip("torch")
    ours = _hook_order(mg)
    assert ours == _hook_order(torch)
    assert [name for name, _ in ours] == ["w_out", "w_rec", "first", "w_in"]


def test_a_leaf_hook_changes_the_gradient_even_when_finished_early():
    w = leaf([1.0, 2.0])
    w.register_hook(lambda g: g * 10)
    a = leaf([3.0, 4.0])
    ((w * a).sum() * (a * a).sum()).backward()  # w is complete long before a
    np.testing.assert_allclose(w.grad.numpy(), 10 * 25 * np.array([3.0, 4.0]))
    np.testing.assert_allclose(a.grad.numpy(), 25 * np.array([1.0, 2.0]) +
                               11 * 2 * np.array([3.0, 4.0]))
    grads = mg.autograd.grad((w * a).sum(), [w, a])  # captured, not stored: the hook applies
    np.testing.assert_allclose(grads[0].numpy(), [30.0, 40.0])


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = leaf([1.0, 2.0])
    y = x * 3
    z = x * 4
    y.retain_grad()
    (y * y + z).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [6.0, 12.0])
    assert z.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), [22.0, 40.0])


# -- in-place modification of saved tensors -----------------------------------------------------

INPLACE = r"needed to compute the gradient of '\w+' was modified by an in-place operation"


def test_inplace_change_under_no_grad_of_a_saved_input_is_detected():
    x = leaf([1.0, 2.0])
    h = x * 1.0
    y = (h * h).sum()           # multiply saves h
    with mg.no_grad():
        h += 1
    with pytest.raises(RuntimeError, match=INPLACE):
        y.backward()


def test_assigning_data_swaps_the_array_and_leaves_saved_values_valid():
    """`x.data = ...` binds a new array (as in PyTorch it is not tracked): the graph
    keeps the values it saved, so backward gives the gradient of the forward that ran."""
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    x.data = np.array([5.0, 6.0])
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_inplace_write_through_a_view_of_a_saved_tensor_is_detected():
    w = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = (mg.tensor(np.ones((1, 2))) @ w.T).sum()   # matmul saves the view w.T
    with mg.no_grad():
        w -= 0.5                                     # writes w's memory, seen through w.T
    with pytest.raises(RuntimeError, match=r"'matmul' was modified by an in-place operation"):
        y.backward()


def test_inplace_change_of_a_saved_output_is_detected():
    x = leaf([0.5, 1.0])
    e = mg.exp(x)              # exp's rule uses its output
    with mg.no_grad():
        e *= 2                 # changed before anyone else used it: exp's own record
    s = e.sum()
    with pytest.raises(RuntimeError, match=r"'exp' was modified by an in-place operation"):
        s.backward()
    x2 = leaf([0.5, 1.0])
    e2 = mg.exp(x2)
    s2 = e2.sum()
    with mg.no_grad():
        e2 *= 2                # changed after the sum used it
    with pytest.raises(RuntimeError, match=INPLACE):
        s2.backward()


def test_inplace_change_after_backward_is_fine_and_unrelated_changes_are_allowed():
    x = leaf([1.0, 2.0])
    c = mg.tensor(np.array([3.0, 4.0]))
    y = (x * 2).sum()           # the rule for x does not need x ...
    unrelated = mg.tensor(np.array([0.0]))
    unrelated += 1
    y.backward()
    with mg.no_grad():
        x -= 0.1 * x.grad       # the usual SGD step
    np.testing.assert_allclose(x.numpy(), [0.8, 1.8])
    assert c.numpy().tolist() == [3.0, 4.0]


def test_inplace_on_a_leaf_requiring_grad_is_refused_outside_no_grad():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"in-place operation.*mg.no_grad"):
        x[0] = 5.0


def test_no_grad_and_enable_grad_work_as_bare_decorators():
    x = leaf([1.0, 2.0])

    @mg.no_grad
    def frozen():
        return x * 2

    @mg.enable_grad
    def recorded():
        return x * 2

    assert not frozen().requires_grad
    with mg.no_grad():
        assert recorded().requires_grad
    assert mg.is_grad_enabled()
