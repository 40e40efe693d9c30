"""Flows on [0, 1]^d: log-determinants, inverses, implicit gradients, normalisation, smoothness, interface."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flowint  # noqa: F401  (float64)
from flowint.flows import (
    SmoothMap,
    SmoothMapParams,
    coupling_masks,
    make_flow,
    smooth_map_forward,
    smooth_map_inverse,
    smooth_step,
)
from flowint.flows._smooth import _reference_forward

KINDS = ["smooth", "spline"]
DIMS = [1, 2, 5, 14]


def small_flow(kind, d, **hyper):
    """A flow small enough to compile quickly (the maths does not depend on the sizes)."""
    size = {"n_components": 4} if kind == "smooth" else {"n_bins": 4}
    size.update(hidden_width=16, n_layers=2)
    size.update(hyper)
    return make_flow(kind, d, **size)


def random_params(flow, seed=0, scale=None):
    """Parameters of a clearly non-trivial flow: the identity-like init plus noise on every leaf.

    The default noise gives log q spanning a few units for every kind and dimension used here.
    """
    if scale is None:
        scale = 0.3 if flow.kind == "spline" else (3.0 if flow.ndim == 1 else 1.0)
    params = flow.init(jax.random.PRNGKey(seed))
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(seed + 1000), len(leaves))
    noisy = []
    for leaf, key in zip(leaves, keys):
        fan_in = leaf.shape[0] if leaf.ndim == 2 else 1
        noisy.append(leaf + scale * jax.random.normal(key, leaf.shape) / np.sqrt(fan_in))
    return jax.tree_util.tree_unflatten(treedef, noisy)


def face_points(d, n_random, seed=0):
    """Random interior points plus points on faces, edges and corners of the cube."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(size=(n_random, d))
    faces = rng.uniform(size=(6, d))
    faces[0, 0] = 0.0
    faces[1, -1] = 1.0
    faces[2, :] = 0.0
    faces[3, :] = 1.0
    faces[4, ::2] = 0.0
    faces[5, 1::2] = 1.0
    return jnp.asarray(np.concatenate([u, faces]))


N_MC = 40000
DENSITY_DIMS = [3]


@functools.cache
def checks(kind, d):
    """Jacobians and round trips for the per-(kind, d) tests, from one jitted function (one compilation)."""
    flow = small_flow(kind, d)
    params = random_params(flow, seed=d)
    x = jax.random.uniform(jax.random.PRNGKey(d), (3, d))
    pts = face_points(d, 200, seed=d)

    @jax.jit
    def compute(p):
        out = {}
        for name, direction in (("forward", flow.forward_and_log_det), ("inverse", flow.inverse_and_log_det)):
            jac = jax.vmap(jax.jacfwd(lambda v, f=direction: f(p, v)[0]))(x)
            sign, log_abs_det = jnp.linalg.slogdet(jac)
            out[name] = (sign, log_abs_det, direction(p, x)[1])
        z, ld_inv = flow.inverse_and_log_det(p, pts)
        back, ld_fwd = flow.forward_and_log_det(p, z)
        u, _ = flow.forward_and_log_det(p, pts)
        again, _ = flow.inverse_and_log_det(p, u)
        out["trips"] = (back, ld_fwd, ld_inv, u, again)
        return out

    return flow, pts, jax.tree_util.tree_map(np.asarray, compute(params))


@functools.cache
def density_checks(kind, d):
    """Monte-Carlo normalisation, sample/log_prob consistency and face behaviour (one compilation)."""
    flow = small_flow(kind, d)
    params = random_params(flow, seed=d)
    pts = face_points(d, 0)
    uniform = jax.random.uniform(jax.random.PRNGKey(d + 1), (N_MC, d))

    @jax.jit
    def compute(p):
        sample, log_q = flow.sample(p, jax.random.PRNGKey(7), N_MC)
        return {
            "q_uniform": jnp.exp(flow.log_prob(p, uniform)),
            "sample": (sample, log_q, flow.log_prob(p, sample)),
            "log_q_pts": flow.log_prob(p, pts),
            "grad_params": jax.grad(lambda q: jnp.sum(flow.log_prob(q, pts)))(p),
            "grad_u": jax.grad(lambda v: jnp.sum(flow.log_prob(p, v)))(pts),
        }

    return flow, jax.tree_util.tree_map(np.asarray, compute(params))


# -- log-determinants ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", DIMS)
def test_log_det_matches_jacobian(kind, d):
    _, _, out = checks(kind, d)
    for direction in ("forward", "inverse"):
        sign, log_abs_det, log_det = out[direction]
        assert np.all(sign > 0), "the flow must preserve orientation"
        np.testing.assert_allclose(log_det, log_abs_det, rtol=0, atol=1e-8)
    # the flow is really non-trivial, otherwise the comparison above proves little
    assert np.max(np.abs(out["forward"][2])) > 0.1


# -- inverse ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", DIMS)
def test_round_trip_including_faces(kind, d):
    _, pts, out = checks(kind, d)
    back, ld_fwd, ld_inv, u, again = out["trips"]
    pts = np.asarray(pts)
    np.testing.assert_allclose(back, pts, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ld_fwd, -ld_inv, rtol=0, atol=1e-8)
    np.testing.assert_allclose(again, pts, rtol=0, atol=1e-10)
    # the faces map onto the faces (to round-off)
    is_face = (pts == 0.0) | (pts == 1.0)
    np.testing.assert_allclose(u[is_face], pts[is_face], rtol=0, atol=1e-15)


def test_smooth_inverse_reaches_tolerance_on_sharp_maps():
    cfg = SmoothMap()
    raw = jnp.asarray(cfg.identity_raw()) + 2.0 * jax.random.normal(
        jax.random.PRNGKey(0), (20000, cfg.n_params)
    )
    x = (
        jax.random.uniform(jax.random.PRNGKey(1), (20000,))
        .at[:4]
        .set(jnp.array([0.0, 1.0, 1e-300, 1 - 1e-16]))
    )

    @jax.jit
    def round_trip(x, raw):
        y, log_dy = cfg.forward(x, raw)
        return cfg.inverse(y, raw)[0], log_dy

    x_back, log_dy = round_trip(x, raw)
    assert float(jnp.max(jnp.abs(log_dy))) > 2.0  # slopes spanning more than e^±2
    # error in y-space is at round-off; in x-space it is limited by the conditioning 1/f'(x) <= 1/c
    assert float(jnp.max(jnp.abs(x_back - x) * jnp.exp(log_dy))) < 1e-13
    assert float(jnp.max(jnp.abs(x_back - x))) < 1e-12


def test_smooth_inverse_does_not_cycle():
    # A map on which plain bracketed Newton cycles between two points inside the bracket (a regression:
    # the rtsafe step-halving test forces bisection there).
    cfg = SmoothMap(n_components=4)
    p = SmoothMapParams(
        log_weights=jnp.array([-2.4258147, -0.18872326, -5.31588574, -5.48769746]),
        log_weight_identity=jnp.array(-2.59657994),
        scale=jnp.array([0.65531743, 5.3514191, 1.47457315, 4.85271965]),
        shift=jnp.array([0.04654516, 0.1505618, 0.8484764, 0.42994917]),
    )
    norm = jnp.logaddexp(jax.nn.logsumexp(p.log_weights), p.log_weight_identity)
    p = p._replace(log_weights=p.log_weights - norm, log_weight_identity=p.log_weight_identity - norm)
    x = jnp.array(0.20429264272088682)
    x_back = jax.jit(lambda x, p: smooth_map_inverse(cfg, smooth_map_forward(cfg, x, p)[0], p))(x, p)
    np.testing.assert_allclose(x_back, x, rtol=0, atol=1e-13)


def _tree_dot(a, b):
    return sum(jnp.vdot(x, y) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def _random_direction(params, seed):
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
    return jax.tree_util.tree_unflatten(
        treedef, [jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)]
    )


def test_implicit_gradients_of_the_1d_inverse_match_finite_differences():
    cfg = SmoothMap(n_components=4)
    raw = jnp.asarray(cfg.identity_raw()) + 0.8 * jax.random.normal(jax.random.PRNGKey(3), (5, cfg.n_params))
    y = jnp.array([0.0, 0.1, 0.45, 0.8, 1.0])
    h = 1e-6
    eye = jnp.eye(cfg.n_params)

    def inv(y_, raw_):
        return smooth_map_inverse(cfg, y_, cfg.params_from_raw(raw_))

    @jax.jit
    def compute(y, raw):
        out = {
            "dx_dy": jax.vmap(jax.grad(inv))(y, raw),
            "fd_y": (inv(y + h, raw) - inv(y - h, raw)) / (2 * h),
            "slope": jnp.exp(smooth_map_forward(cfg, inv(y, raw), cfg.params_from_raw(raw))[1]),
            "rev": jax.vmap(jax.grad(inv, argnums=1))(y, raw),
            "fwd": jax.vmap(jax.jacfwd(inv, argnums=1))(y, raw),
            "fd_raw": jax.vmap(lambda e: (inv(y, raw + h * e) - inv(y, raw - h * e)) / (2 * h), out_axes=-1)(
                eye
            ),
            "d2": jax.vmap(jax.grad(jax.grad(inv)))(y, raw),
            "fd_d2": (jax.vmap(jax.grad(inv))(y + h, raw) - jax.vmap(jax.grad(inv))(y - h, raw)) / (2 * h),
        }
        return out

    out = compute(y, raw)
    interior = slice(1, 4)  # central differences in y need room on both sides
    # d x / d y = 1 / f'(x): by the implicit rule, by central differences, and by the forward map
    np.testing.assert_allclose(out["dx_dy"][interior], out["fd_y"][interior], rtol=1e-6)
    np.testing.assert_allclose(out["dx_dy"], 1.0 / out["slope"], rtol=1e-12)
    # d x / d raw, every parameter, reverse mode and forward mode, faces included
    np.testing.assert_allclose(out["rev"], out["fd_raw"], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(out["fwd"], out["rev"], rtol=1e-12, atol=1e-15)
    assert np.max(np.abs(out["rev"])) > 1e-2
    # second derivative through the recursive rule (d²x/dy² = −f''/f'³)
    np.testing.assert_allclose(out["d2"][interior], out["fd_d2"][interior], rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("analytic", ["sample", "density"])
def test_flow_gradients_through_both_directions_match_finite_differences(analytic):
    # analytic="sample": log_prob goes through the numerical inverse; "density": sample does.
    flow = small_flow("smooth", 3, analytic=analytic)
    params = random_params(flow, seed=5)
    u = face_points(3, 20, seed=2)
    key = jax.random.PRNGKey(4)
    direction = _random_direction(params, seed=11)
    h = 1e-6

    def density_objective(p):
        return jnp.sum(flow.log_prob(p, u))

    def sampling_objective(p):  # pathwise: the points and their log q both depend on p
        x, log_q = flow.sample(p, key, 16)
        return jnp.sum(log_q) + jnp.sum(jnp.sin(3.0 * x))

    @jax.jit
    def compute(p):
        out = []
        for objective in (density_objective, sampling_objective):
            along = _tree_dot(jax.grad(objective)(p), direction)
            shifted = [
                jax.tree_util.tree_map(lambda a, v, s=sgn: a + s * h * v, p, direction) for sgn in (1, -1)
            ]
            fd = (objective(shifted[0]) - objective(shifted[1])) / (2 * h)
            out.append((along, fd))
        g_u = jax.grad(lambda v: jnp.sum(flow.log_prob(p, v)))(u)
        return out, g_u

    pairs, g_u = compute(params)
    for along, fd in pairs:
        np.testing.assert_allclose(along, fd, rtol=1e-6)
    # and with respect to the points themselves (faces included: finite)
    assert np.all(np.isfinite(np.asarray(g_u)))


# -- densities ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", DENSITY_DIMS)
def test_density_integrates_to_one(kind, d):
    _, out = density_checks(kind, d)
    q = out["q_uniform"]
    assert np.std(q) > 0.05  # far from uniform, so the check has teeth
    mean, err = np.mean(q), np.std(q) / np.sqrt(N_MC)
    assert abs(mean - 1.0) < 3 * err, (mean, err)
    # the same with samples of q: E_q[1 / q] = volume of the cube = 1
    sample, log_q, log_prob = out["sample"]
    inv_q = np.exp(-log_q)
    mean, err = np.mean(inv_q), np.std(inv_q) / np.sqrt(N_MC)
    assert abs(mean - 1.0) < 3 * err, (mean, err)
    # sample's log q is the density at the sampled point
    np.testing.assert_allclose(log_q, log_prob, rtol=0, atol=1e-9)
    assert np.all((sample >= 0.0) & (sample <= 1.0))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", DENSITY_DIMS)
def test_log_q_finite_on_faces(kind, d):
    _, out = density_checks(kind, d)
    assert np.all(np.isfinite(out["log_q_pts"]))
    assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(out["grad_params"]))
    assert np.all(np.isfinite(out["grad_u"]))


def test_log_q_is_minus_inf_outside_the_cube():
    flow, _, _ = checks("smooth", 2)
    params = flow.init(jax.random.PRNGKey(0))
    outside = jnp.array([[1.5, 0.5], [0.5, -1e-9]])
    assert np.all(np.asarray(flow.log_prob(params, outside)) == -np.inf)


def test_untrained_flow_is_almost_uniform():
    # each elementwise map starts within ~4% of the identity in slope ...
    cfg = SmoothMap()
    x = jnp.linspace(0.0, 1.0, 2001)
    _, log_dy = cfg.forward(x, jnp.broadcast_to(jnp.asarray(cfg.identity_raw()), x.shape + (cfg.n_params,)))
    assert float(jnp.max(jnp.abs(log_dy))) < 0.05
    # ... so a 3-D flow with default maps (2 layers, each coordinate transformed once) is within e^±0.15 of uniform
    # everywhere and much closer on average; the spline starts exactly at the identity
    for kind in KINDS:
        flow = make_flow(kind, 3, n_layers=2)
        u = face_points(3, 500)
        log_q = jax.jit(flow.log_prob)(flow.init(jax.random.PRNGKey(0)), u)
        assert float(jnp.max(jnp.abs(log_q))) < 0.05 * 3 * flow.n_layers / 2, kind
        assert float(jnp.std(log_q)) < 0.1, kind
        if kind == "spline":
            np.testing.assert_allclose(log_q, 0.0, atol=1e-12)


# -- smoothness ---------------------------------------------------------------------------------------------
def _max_jump(values):
    return float(np.max(np.abs(np.diff(values))))


def _derivatives(fn, x, order):
    """f', f'', ... up to ``order`` at the points x, by nested autodiff (one compilation)."""
    grads, g = [], fn
    for _ in range(order):
        g = jax.grad(g)
        grads.append(g)
    return jax.jit(jax.vmap(lambda v: jnp.stack([h(v) for h in grads]), out_axes=1))(x)


def test_smooth_map_derivatives_are_continuous_unlike_the_spline():
    # A sharp-ish 1-D smooth map (slopes spanning ~e^±3) and a spline with random bins, on a fine grid
    # (spacing 1e-5) and on every tenth point of it (spacing 1e-4).
    cfg = SmoothMap(n_components=6)
    raw = jnp.asarray(cfg.identity_raw()) + 1.5 * jax.random.normal(jax.random.PRNGKey(2), (cfg.n_params,))
    p = cfg.params_from_raw(raw)

    def smooth(x):
        return smooth_map_forward(cfg, x, p)[0]

    spline_flow = make_flow("spline", 1, n_layers=1, n_bins=6)
    sp = random_params(spline_flow, seed=4, scale=2.0)

    def spline(x):
        return spline_flow.forward_and_log_det(sp, x[None])[0][0]

    fine = jnp.linspace(0.0, 1.0, 100_001)
    derivs = np.asarray(_derivatives(smooth, fine, order=3))
    for order, df in enumerate(derivs, start=1):
        assert np.all(np.isfinite(df)), f"derivative {order} not finite"
        # continuous: the largest step between neighbours shrinks with the grid spacing (~10x)
        assert _max_jump(df) < 0.2 * _max_jump(df[::10]), f"derivative {order} jumps"
    assert np.max(np.abs(derivs[1])) > 1.0  # curvature is really there
    # the spline's second derivative jumps at its knots: refining the grid does not shrink the steps
    second = np.asarray(_derivatives(spline, fine, order=2))[1]
    assert _max_jump(second) > 0.5 * _max_jump(second[::10])
    assert _max_jump(second) > 0.1 * np.max(np.abs(second))


def test_smooth_step_and_custom_rule_match_reference():
    z = jnp.linspace(-0.5, 1.5, 2001)
    s = smooth_step(z)
    assert float(s[0]) == 0.0 and float(s[-1]) == 1.0
    np.testing.assert_allclose(s + smooth_step(1.0 - z), 1.0, atol=1e-15)  # σ(z) + σ(1 − z) = 1
    inside = (z > 0) & (z < 1)
    rho = lambda v: jnp.exp(-1.0 / v)
    direct = rho(z[inside]) / (rho(z[inside]) + rho(1 - z[inside]))
    np.testing.assert_allclose(s[inside], direct, rtol=1e-12, atol=1e-300)
    # the hand-written derivative rule agrees with autodiff of the formulas, up to second order
    # (non-default α and k, to exercise the general formulas)
    cfg = SmoothMap(n_components=5, power=2, alpha=0.7)
    raw = jnp.asarray(cfg.identity_raw()) + jax.random.normal(jax.random.PRNGKey(2), (64, cfg.n_params))
    x = jnp.linspace(0.0, 1.0, 64)

    def scalar(fn):
        def value(xx, rr):
            y, log_dy = fn(cfg, xx, cfg.params_from_raw(rr))
            return jnp.sum(jnp.sin(3.0 * y) + jnp.cos(log_dy))

        return value

    @jax.jit
    def compare(x, raw):
        out = []
        for v in (scalar(smooth_map_forward), scalar(_reference_forward)):
            hess = jax.hessian(lambda xx, v=v: v(xx, raw[:8]))(x[:8])
            out.append((v(x, raw), jax.grad(v, (0, 1))(x, raw), hess))
        return out

    (v1, g1, h1), (v2, g2, h2) = compare(x, raw)
    np.testing.assert_allclose(v1, v2, rtol=1e-14)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h1, h2, rtol=1e-9, atol=1e-9)


# -- structure and interface --------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [1, 2, 3, 7, 14, 16])
def test_masks_transform_every_dimension_and_couple_every_pair(d):
    flow = make_flow("smooth", d)
    masks = coupling_masks(d, flow.n_layers)
    transformed = set(itertools.chain.from_iterable(masks))
    assert transformed == set(range(d))
    for m in masks:
        assert 0 < len(m) <= d and (d == 1 or len(m) < d)
    for i, j in itertools.permutations(range(d), 2):
        assert any(i in m and j not in m for m in masks), (i, j)


def test_jit_vmap_grad_and_leading_shapes():
    flow, pts, _ = checks("smooth", 2)
    params = random_params(flow, seed=2)

    @jax.jit
    def compute(p, u):
        return (
            flow.log_prob(p, u),
            jax.vmap(flow.log_prob, in_axes=(None, 0))(p, u),
            flow.log_prob(p, u.reshape(2, -1, 2)),
            flow.log_prob(p, u[0]),
            flow.sample(p, jax.random.PRNGKey(0), 5),
            jax.grad(lambda q: jnp.mean(flow.sample(q, jax.random.PRNGKey(1), 8)[1]))(p),
        )

    batch, vmapped, shaped, single, (x, log_q), grad = compute(params, pts[:16])
    np.testing.assert_allclose(vmapped, batch, atol=1e-12)
    np.testing.assert_allclose(shaped, batch.reshape(2, 8), atol=1e-12)
    assert single.shape == () and x.shape == (5, 2) and log_q.shape == (5,)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in jax.tree_util.tree_leaves(grad))


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="unknown flow kind"):
        make_flow("maf", 2)
    with pytest.raises(ValueError, match="ndim"):
        make_flow("smooth", 0)
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        make_flow("spline", 2, n_components=4)
    with pytest.raises(ValueError, match="activation"):
        make_flow("smooth", 2, activation="relu")
    with pytest.raises(ValueError, match="slope_floor"):
        make_flow("smooth", 2, slope_floor=0.0)
    with pytest.raises(ValueError, match="power"):
        make_flow("smooth", 2, power=1.5)
    with pytest.raises(ValueError, match="analytic"):
        make_flow("smooth", 2, analytic="both")
    flow = make_flow("smooth", 3)
    params = flow.init(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\)"):
        flow.log_prob(params, jnp.zeros((4, 2)))
    with pytest.raises(ValueError, match="positive integer"):
        flow.sample(params, jax.random.PRNGKey(0), 0)
