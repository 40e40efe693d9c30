"""Derivatives of |M|²: w.r.t. momenta and every external parameter against finite differences,
Hessians w.r.t. parameters, the JAX transformations, and finite values and gradients at edge points."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flowint.madjax import _library, load_process


def _points(proc, sqrt_s, n, seed):
    return _library.random_points(proc.external_masses, sqrt_s, n, np.random.default_rng(seed))


@functools.cache
def _value_and_grads(proc):
    """One compiled function per process (shared by the tests): sum of |M|² over the batch and its
    gradient w.r.t. momenta and parameters."""
    return jax.jit(jax.value_and_grad(lambda p, c: proc.me2(p, c).sum(), argnums=(0, 1)))


@functools.cache
def _value_and_directional_derivative(proc):
    """Forward mode: |M|² and its derivative along a tangent of the momenta (cheaper to compile)."""
    return jax.jit(lambda p, t: jax.jvp(proc.me2, (p,), (t,)))


def _momentum_fd(proc, momenta, params, rel_step=1e-5):
    """Central differences of sum(me2) w.r.t. every momentum component, one batched evaluation."""
    n_ev, n_ext, _ = momenta.shape
    scale = np.abs(momenta[:, :, :1]).max() * rel_step
    plus, minus = [], []
    for i in range(n_ext):
        for k in range(4):
            shift = np.zeros_like(momenta)
            shift[:, i, k] = scale
            plus.append(momenta + shift)
            minus.append(momenta - shift)
    values = np.asarray(proc.me2(np.concatenate(plus + minus), params)).reshape(2, n_ext * 4, n_ev)
    return ((values[0] - values[1]) / (2 * scale)).T.reshape(n_ev, n_ext, 4)


# the chain with massive b has the largest gradient graph (~15 s to compile): it is worth it, it is the
# headline process
@pytest.mark.parametrize("name,sqrt_s", [("ee_mumu", 91.0), ("uux_ttx", 500.0),
                                         ("uux_ttx_chain_bbqqqq", 1000.0)])
def test_gradients_match_finite_differences(name, sqrt_s):
    proc = load_process(name)
    momenta = _points(proc, sqrt_s, 3, seed=1)
    params = proc.default_params()
    value, (g_mom, g_par) = _value_and_grads(proc)(momenta, params)
    assert np.isfinite(value)

    fd = _momentum_fd(proc, momenta, params)
    g_mom = np.asarray(g_mom)
    # per event: components with a sizeable derivative agree to 1e-6 relative
    for event in range(momenta.shape[0]):
        scale = np.abs(fd[event]).max()
        np.testing.assert_allclose(g_mom[event], fd[event], rtol=1e-6, atol=1e-6 * scale)

    f0 = float(value)
    for key, theta in params.items():
        h = 1e-6 * abs(theta)
        up = float(proc.me2(momenta, {**params, key: theta + h}).sum())
        down = float(proc.me2(momenta, {**params, key: theta - h}).sum())
        fd_par = (up - down) / (2 * h)
        g = float(g_par[key])
        assert abs(g - fd_par) <= 1e-6 * abs(fd_par) + 1e-9 * abs(f0) / abs(theta), (key, g, fd_par)
    # structural zeros are exact: the Higgs mass and the Yukawa couplings do not enter these processes
    assert float(g_par[("mass", 25)]) == 0.0 and float(g_par[("yukawa", 15)]) == 0.0


def test_gradient_flows_through_derived_parameters():
    # ee -> mumu depends on G_F only through MW and sin(theta_W): the gradient must see it
    proc = load_process("ee_mumu")
    momenta = _points(proc, 91.0, 3, seed=2)
    _, (_, g_par) = _value_and_grads(proc)(momenta, proc.default_params())
    assert abs(float(g_par[("sminputs", 2)])) > 0


def test_hessian_wrt_two_parameters_is_symmetric_and_matches_differences_of_the_gradient():
    proc = load_process("ee_mumu")
    momenta = _points(proc, 91.0, 3, seed=3)
    base = proc.default_params()
    keys = [("mass", 23), ("decay", 23)]

    def f(theta):
        return proc.me2(momenta, {**base, **theta}).sum()

    theta0 = {k: jnp.float64(base[k]) for k in keys}
    hess = jax.jit(jax.hessian(f))(theta0)
    grad = jax.jit(jax.grad(f))
    h_matrix = np.array([[float(hess[a][b]) for b in keys] for a in keys])
    assert h_matrix[0, 1] == pytest.approx(h_matrix[1, 0], rel=1e-10)
    for j, b in enumerate(keys):
        step = 2e-7 * base[b]
        up = grad({**theta0, b: theta0[b] + step})
        down = grad({**theta0, b: theta0[b] - step})
        for i, a in enumerate(keys):
            fd = (float(up[a]) - float(down[a])) / (2 * step)
            assert h_matrix[i, j] == pytest.approx(fd, rel=1e-6)


def test_jacfwd_jacrev_grad_vmap_and_jit_agree():
    proc = load_process("ee_mumu")
    momenta = jnp.asarray(_points(proc, 91.0, 3, seed=4))

    def total(p):
        return proc.me2(p).sum()

    _, (g, _) = _value_and_grads(proc)(momenta, proc.default_params())
    np.testing.assert_allclose(jax.jacfwd(total)(momenta), g, rtol=1e-10, atol=1e-12 * np.abs(g).max())
    jac = jax.jacrev(proc.me2)(momenta)  # (N, N, n, 4): event i depends only on its own momenta
    assert jac.shape == (3, 3, 4, 4)
    np.testing.assert_allclose(jac[0, 1], 0.0)
    np.testing.assert_allclose(np.stack([jac[i, i] for i in range(3)]), g, rtol=1e-12)
    mz = jnp.array([88.0, 91.188, 95.0])
    batched = jax.vmap(lambda m: proc.me2(momenta, {("mass", 23): m}))(mz)
    looped = np.stack([np.asarray(proc.me2(momenta, {("mass", 23): float(m)})) for m in mz])
    np.testing.assert_allclose(batched, looped, rtol=1e-13)
    np.testing.assert_allclose(jax.jit(proc.me2)(momenta), proc.me2(momenta), rtol=1e-15)


def _ee_mumu_axis_point(sign):
    e = 45.5
    p = np.zeros((1, 4, 4))
    p[0, 0] = [e, 0, 0, e]
    p[0, 1] = [e, 0, 0, -e]
    p[0, 2] = [e, 0, 0, -sign * e]
    p[0, 3] = [e, 0, 0, sign * e]
    return p


@pytest.mark.parametrize("sign", [1, -1])
def test_massless_fermions_exactly_along_the_beam_axis_have_exact_gradients(sign):
    # every fermion on the z axis, beam 2 (e-) along -z: the singular points of HELAS's phase convention
    proc = load_process("ee_mumu")
    momenta = _ee_mumu_axis_point(sign)
    value, (g, _) = _value_and_grads(proc)(momenta, proc.default_params())
    assert np.isfinite(value) and value > 0 and np.all(np.isfinite(g))
    fd = _momentum_fd(proc, momenta, proc.default_params(), rel_step=1e-6)
    np.testing.assert_allclose(np.asarray(g), fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max())


def test_top_quarks_at_rest_give_finite_values_and_gradients():
    proc = load_process("uux_ttx")
    mt = 173.0
    p = np.zeros((1, 4, 4))
    p[0, 0] = [mt, 0, 0, mt]
    p[0, 1] = [mt, 0, 0, -mt]
    p[0, 2] = [mt, 0, 0, 0]
    p[0, 3] = [mt, 0, 0, 0]
    value, (g_mom, g_par) = _value_and_grads(proc)(p, proc.default_params())
    assert np.isfinite(value) and value > 0
    assert np.all(np.isfinite(g_mom)) and all(np.isfinite(float(v)) for v in g_par.values())


def _ee_uuxg_point(gluon_energy):
    # u and u~ back to back, the gluon along +x with energy k (k = 0: exactly soft)
    e = 45.5
    k = gluon_energy
    # momentum balance: u and u~ share the recoil along x
    p = np.zeros((1, 5, 4))
    p[0, 0] = [e, 0, 0, e]
    p[0, 1] = [e, 0, 0, -e]
    q = (2 * e - k) / 2
    pz = np.sqrt(q ** 2 - (k / 2) ** 2)
    p[0, 2] = [q, -k / 2, 0, pz]
    p[0, 3] = [q, -k / 2, 0, -pz]
    p[0, 4] = [k, k, 0, 0]
    return p


def test_soft_gluon_gives_finite_values_and_derivatives():
    # gluon energies 0 (exactly soft: the collinear propagators vanish), 1e-7 and 1e-3 GeV
    proc = load_process("ee_uuxg")
    momenta = np.concatenate([_ee_uuxg_point(k) for k in (0.0, 1e-7, 1e-3)])
    tangent = np.random.default_rng(6).normal(size=momenta.shape)
    value, derivative = _value_and_directional_derivative(proc)(momenta, tangent)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(derivative))
    assert np.all(np.asarray(value)[1:] > 0)


def test_gluons_along_the_beam_give_finite_derivatives():
    # in g g -> t t~ both gluons have p_T = 0: the polarisation vectors' singular direction
    proc = load_process("gg_ttx")
    momenta = _points(proc, 500.0, 2, seed=5)
    tangent = np.zeros_like(momenta)
    tangent[:, :2] = np.random.default_rng(7).normal(size=(2, 2, 4))  # move only the gluons
    value, derivative = _value_and_directional_derivative(proc)(momenta, tangent)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(derivative))
    assert np.all(np.abs(np.asarray(derivative)) > 0)
