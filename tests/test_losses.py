"""Losses: values and gradients against quadrature on 1-D targets, optimum, unbiasedness, zero weights."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import flowint  # noqa: F401  (float64)
from flowint.flows import make_flow
from flowint.losses import (
    forward_kl,
    log_mean_exp,
    mixed_loss,
    normalised_weights,
    omega_schedule,
    relative_std,
    reverse_kl,
    variance_loss,
)

# A 1-D smooth flow whose own density, times a constant, is the target: q = p̂ is reachable (at THETA_STAR),
# and on [0, 1] every exact quantity is a quadrature.
FLOW = make_flow("smooth", 1, n_layers=1, n_components=4)
LOG_C = 3.7  # p = e^{LOG_C} q_{θ*}: unnormalised, Z = e^{LOG_C}
M = 4000
U_GRID = ((jnp.arange(M) + 0.5) / M)[:, None]  # midpoints in u
Z_GRID = U_GRID  # midpoints in the base variable z


def _params(seed, scale=3.0):
    params = FLOW.init(jax.random.PRNGKey(0))
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
    return jax.tree_util.tree_unflatten(
        treedef, [x + scale * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)]
    )


THETA_STAR = _params(5, scale=5.0)
THETA_0 = _params(2)


def log_p(u):
    return FLOW.log_prob(THETA_STAR, u) + LOG_C


def grid_sample(params, key, n):
    """A deterministic 'sampler': the base midpoint grid pushed through the flow (key and n ignored)."""
    u, log_det = FLOW.forward_and_log_det(params, Z_GRID)
    return u, -log_det


# Exact quantities by midpoint quadrature in u (a different grid from the z-grid used by grid_sample).
def _exact(params):
    log_q = FLOW.log_prob(params, U_GRID)
    lp = log_p(U_GRID)
    log_z = jax.nn.logsumexp(lp) - jnp.log(M)
    p_hat, q = jnp.exp(lp - log_z), jnp.exp(log_q)
    return {
        "fkl": jnp.mean(p_hat * (lp - log_z - log_q)),
        "rkl": jnp.mean(q * (log_q - lp + log_z)),
        "chi2": jnp.mean(p_hat**2 / q) - 1.0,
        "log_z": log_z,
    }


EXACT = jax.jit(_exact)
EXACT_GRAD = {name: jax.jit(jax.grad(lambda p, n=name: _exact(p)[n])) for name in ("fkl", "rkl", "chi2")}


def _flat(tree):
    return jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(tree)])


def _quadrature_losses(params):
    """Each loss fed with quadrature 'samples', so that it is deterministic."""
    lp = log_p(U_GRID)
    return {
        "fkl": forward_kl(FLOW.log_prob, params, U_GRID, lp, jnp.zeros(M)),  # g = uniform
        "rkl": reverse_kl(grid_sample, log_p, params, None, M),  # pathwise through z-grid samples
        "chi2": variance_loss(FLOW.log_prob, params, *_self_sample(params)),  # g = q itself
    }


def _self_sample(params):
    u, log_q = grid_sample(jax.lax.stop_gradient(params), None, M)
    return u, log_p(u), log_q


QUAD = jax.jit(_quadrature_losses)
QUAD_GRAD = {
    name: jax.jit(jax.grad(lambda p, n=name: _quadrature_losses(p)[n])) for name in ("fkl", "rkl", "chi2")
}


def test_target_is_far_from_the_starting_flow():
    exact = EXACT(THETA_0)
    assert float(exact["fkl"]) > 0.05 and float(exact["rkl"]) > 0.05 and float(exact["chi2"]) > 0.05
    np.testing.assert_allclose(exact["log_z"], LOG_C, atol=1e-7)  # quadrature is accurate


@pytest.mark.parametrize("name", ["fkl", "rkl", "chi2"])
def test_loss_is_zero_with_zero_gradient_at_the_optimum(name):
    value = QUAD(THETA_STAR)[name]
    grad = _flat(QUAD_GRAD[name](THETA_STAR))
    grad_far = _flat(QUAD_GRAD[name](THETA_0))
    assert abs(float(value)) < 1e-7
    assert float(jnp.linalg.norm(grad)) < 1e-5 * float(jnp.linalg.norm(grad_far))


@pytest.mark.parametrize("name", ["fkl", "rkl", "chi2"])
def test_loss_value_and_gradient_match_quadrature_away_from_the_optimum(name):
    # fkl uses the u-grid like the reference; rkl and chi2 integrate over the z-grid (other variable).
    value, exact = QUAD(THETA_0)[name], EXACT(THETA_0)[name]
    np.testing.assert_allclose(value, exact, rtol=1e-5)
    grad, exact_grad = _flat(QUAD_GRAD[name](THETA_0)), _flat(EXACT_GRAD[name](THETA_0))
    np.testing.assert_allclose(grad, exact_grad, rtol=1e-4, atol=1e-6 * float(jnp.max(jnp.abs(exact_grad))))


@pytest.mark.parametrize("name", ["fkl", "rkl", "chi2"])
def test_gradient_descent_on_each_loss_approaches_the_target(name):
    # Stochastic versions of the losses (fresh flow samples each step) drive the exact divergence down.
    n = 256

    def loss(params, key):
        if name == "rkl":
            return reverse_kl(FLOW.sample, log_p, params, key, n)
        u, log_q = FLOW.sample(jax.lax.stop_gradient(params), key, n)
        fn = forward_kl if name == "fkl" else variance_loss
        return fn(FLOW.log_prob, params, u, log_p(u), log_q)

    opt = optax.adam(3e-2)

    @jax.jit
    def train(params):
        def step(carry, key):
            params, state = carry
            grads = jax.grad(loss)(params, key)
            updates, state = opt.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(
            step, (params, opt.init(params)), jax.random.split(jax.random.PRNGKey(0), 150)
        )
        return params

    before = float(EXACT(THETA_0)[name])
    after = float(EXACT(train(THETA_0))[name])
    assert after < 0.1 * before, (before, after)


def test_forward_kl_is_unbiased_under_importance_weights():
    # Samples from a proposal g (another flow) with known log Z: the estimator and its gradient average to
    # the exact KL(p̂ ‖ q) and its gradient, even for tiny batches.
    g_params = _params(3, scale=1.0)
    n_batch, n = 2000, 8
    direction = jax.random.normal(jax.random.PRNGKey(5), _flat(THETA_0).shape)
    log_z = EXACT(THETA_0)["log_z"]

    @jax.jit
    def estimates(keys):
        def one(key):
            u, log_g = FLOW.sample(g_params, key, n)
            value, grad = jax.value_and_grad(
                lambda p: forward_kl(FLOW.log_prob, p, u, log_p(u), log_g, log_norm=log_z)
            )(THETA_0)
            return value, jnp.vdot(_flat(grad), direction)

        return jax.vmap(one)(keys)

    values, grads = estimates(jax.random.split(jax.random.PRNGKey(4), n_batch))
    exact = float(EXACT(THETA_0)["fkl"])
    exact_grad = float(jnp.vdot(_flat(EXACT_GRAD["fkl"](THETA_0)), direction))
    for est, ref in ((values, exact), (grads, exact_grad)):
        mean, sem = float(jnp.mean(est)), float(jnp.std(est)) / np.sqrt(n_batch)
        assert abs(mean - ref) < 3 * sem, (mean, ref, sem)
        assert sem < 0.2 * abs(ref)  # the test resolves the value


def test_variance_loss_is_the_squared_relative_std_of_the_weights():
    u, log_q = FLOW.sample(THETA_0, jax.random.PRNGKey(0), 5000)
    lp = log_p(u)
    chi2 = variance_loss(FLOW.log_prob, THETA_0, u, lp, log_q)
    np.testing.assert_allclose(chi2, relative_std(lp - log_q) ** 2, rtol=1e-10)


def test_unweighted_events_give_the_cross_entropy():
    u = jax.random.uniform(jax.random.PRNGKey(1), (100, 1))
    value = forward_kl(FLOW.log_prob, THETA_0, u, 0.0, 0.0)
    np.testing.assert_allclose(value, -jnp.mean(FLOW.log_prob(THETA_0, u)), rtol=1e-12)


def test_mixed_loss_and_omega():
    u, log_q = grid_sample(THETA_STAR, None, 256)
    u, log_q = u[::16], log_q[::16]
    lp = log_p(u)
    key = jax.random.PRNGKey(0)

    def never_called(u):
        raise AssertionError("omega = 0 must skip the reverse KL")

    @jax.jit
    def compute(p, omega):
        return (
            forward_kl(FLOW.log_prob, p, u, lp, log_q),
            reverse_kl(FLOW.sample, log_p, p, key, 64),
            mixed_loss(FLOW.log_prob, FLOW.sample, log_p, p, u, lp, log_q, key, 64, omega),  # traced omega
            mixed_loss(FLOW.log_prob, FLOW.sample, never_called, p, u, lp, log_q, key, 64, 0.0),
        )

    fkl, rkl, mixed, fkl_only = compute(THETA_0, 0.3)
    np.testing.assert_allclose(mixed, fkl + 0.3 * rkl, rtol=1e-12)
    np.testing.assert_allclose(fkl_only, fkl, rtol=1e-12)
    with pytest.raises(ValueError, match="omega"):
        mixed_loss(FLOW.log_prob, FLOW.sample, log_p, THETA_0, u, lp, log_q, key, 64, -1.0)


def test_omega_schedules():
    assert float(omega_schedule("constant", value=0.5)(1000)) == 0.5
    lin = omega_schedule("linear", init_value=0.0, end_value=1.0, transition_steps=100, transition_begin=50)
    np.testing.assert_allclose([lin(0), lin(50), lin(100), lin(150), lin(10_000)], [0, 0, 0.5, 1, 1])
    cos = omega_schedule("cosine", init_value=1.0, decay_steps=100, end_value=0.1)
    np.testing.assert_allclose([cos(0), cos(50), cos(100)], [1.0, 0.55, 0.1], atol=1e-12)
    exp = omega_schedule("exponential", init_value=1.0, transition_steps=10, decay_rate=0.5)
    np.testing.assert_allclose(exp(20), 0.25, rtol=1e-12)
    assert float(jax.jit(lin)(jnp.asarray(75))) == 0.25  # traceable step
    with pytest.raises(ValueError, match="unknown omega schedule"):
        omega_schedule("warmup")
    with pytest.raises(ValueError, match="missing"):
        omega_schedule("linear", init_value=0.0)
    with pytest.raises(ValueError, match=">= 0"):
        omega_schedule("constant", value=-1.0)


# -- zero weights -------------------------------------------------------------------------------------------
def _cut(u):
    return u[..., 0] > 0.3  # events "failing cuts" have p = 0


@jax.custom_jvp
def log_p_with_cuts(u):
    """log p with p = 0 outside the cut, and (deliberately) a NaN gradient there, as log(0) would give."""
    return jnp.where(_cut(u), log_p(u), -jnp.inf)


@log_p_with_cuts.defjvp
def _log_p_with_cuts_jvp(primals, tangents):
    (u,), (u_dot,) = primals, tangents
    slope = jax.vmap(jax.grad(lambda v: log_p(v[None])[0]))(u)
    slope = jnp.where(_cut(u)[:, None], slope, jnp.nan)
    return log_p_with_cuts(u), jnp.sum(slope * u_dot, axis=-1)


def _finite_tree(tree):
    return all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(tree))


def test_zero_weight_samples_give_finite_values_and_gradients():
    u, log_g = FLOW.sample(THETA_0, jax.random.PRNGKey(2), 500)
    lp = log_p_with_cuts(u)
    keep = np.asarray(_cut(u))
    assert 50 < keep.sum() < 450 and np.all(np.isneginf(np.asarray(lp)[~keep]))
    key = jax.random.PRNGKey(3)

    def naive(p):  # masking that target naively does produce NaN gradients: the guard is needed
        x = FLOW.sample(p, key, 500)[0]
        return jnp.sum(jnp.where(_cut(x), log_p_with_cuts(x), 0.0))

    @jax.jit
    def compute(p):
        vg = jax.value_and_grad
        return {
            "fkl": vg(lambda q: forward_kl(FLOW.log_prob, q, u, lp, log_g))(p),
            "fkl_kept": vg(lambda q: forward_kl(FLOW.log_prob, q, u[keep], lp[keep], log_g[keep]))(p),
            "var": vg(lambda q: variance_loss(FLOW.log_prob, q, u, lp, log_g))(p),
            "rkl": vg(lambda q: reverse_kl(FLOW.sample, log_p_with_cuts, q, key, 500))(p),
            "mixed": vg(
                lambda q: mixed_loss(FLOW.log_prob, FLOW.sample, log_p_with_cuts, q, u, lp, log_g, key, 500)
            )(p),
            "naive": jax.grad(naive)(p),
        }

    out = compute(THETA_0)
    for name in ("fkl", "var", "rkl", "mixed"):
        value, grad = out[name]
        assert np.isfinite(float(value)) and _finite_tree(grad), name
    assert not _finite_tree(out["naive"])
    # for the self-normalised forward KL, zero-weight samples leave the gradient exactly as if they were not
    # there; they do count in the estimate of Z = E_g[p/g] (they are draws of g with p = 0), which shifts the
    # value by log(N / N_kept)
    (full, g_full), (kept, g_kept) = out["fkl"], out["fkl_kept"]
    np.testing.assert_allclose(full, kept + np.log(keep.size / keep.sum()), rtol=1e-12)
    np.testing.assert_allclose(_flat(g_full), _flat(g_kept), rtol=1e-10, atol=1e-14)


def test_all_weights_zero_gives_zero_loss_and_zero_gradient():
    u, log_g = FLOW.sample(THETA_0, jax.random.PRNGKey(2), 64)
    lp = jnp.full(64, -jnp.inf)

    @jax.jit
    def compute(p):
        vg = jax.value_and_grad
        return [
            vg(lambda q: forward_kl(FLOW.log_prob, q, u, lp, log_g))(p),
            vg(lambda q: variance_loss(FLOW.log_prob, q, u, lp, log_g))(p),
            vg(
                lambda q: reverse_kl(
                    FLOW.sample, lambda x: jnp.log(jnp.zeros(x.shape[0])), q, jax.random.PRNGKey(0), 64
                )
            )(p),
        ]

    for value, grad in compute(THETA_0):
        assert float(value) == 0.0 and float(jnp.max(jnp.abs(_flat(grad)))) == 0.0


def test_log_space_helpers():
    log_w = jnp.array([-jnp.inf, 0.0, jnp.log(3.0), -jnp.inf])
    np.testing.assert_allclose(log_mean_exp(log_w), jnp.log(1.0), rtol=1e-15)
    np.testing.assert_allclose(normalised_weights(log_w), [0.0, 0.25, 0.75, 0.0], rtol=1e-15)
    np.testing.assert_allclose(relative_std(log_w), np.std([0, 1, 3, 0]) / 1.0, rtol=1e-12)
    assert float(log_mean_exp(jnp.full(3, -jnp.inf))) == -np.inf
    assert float(jnp.sum(normalised_weights(jnp.full(3, -jnp.inf)))) == 0.0
    # huge log weights do not overflow
    np.testing.assert_allclose(relative_std(jnp.array([1000.0, 1000.0 + jnp.log(3.0)])), 0.5, rtol=1e-12)


def test_bad_batches_raise():
    with pytest.raises(ValueError, match=r"shape \(n, ndim\)"):
        forward_kl(FLOW.log_prob, THETA_0, jnp.zeros(5), jnp.zeros(5), jnp.zeros(5))
    with pytest.raises(ValueError, match="log_p and log_g"):
        variance_loss(FLOW.log_prob, THETA_0, jnp.zeros((5, 1)), jnp.zeros(4), jnp.zeros(5))
    with pytest.raises(ValueError, match="log_p_fn must return"):
        reverse_kl(FLOW.sample, lambda u: jnp.zeros((u.shape[0], 1)), THETA_0, jax.random.PRNGKey(0), 4)
