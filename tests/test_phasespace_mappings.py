"""Phase-space mappings on masses alone: kinematics, exact inverses, Jacobians, volumes, faces, errors."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

import flowint  # noqa: F401  (float64)
from flowint.phasespace import (
    DecayChainMapping,
    External,
    FlatMapping,
    ProcessDescription,
    Resonance,
    TwoBodyMapping,
    make_mapping,
)
from flowint.phasespace._maps1d import beta2_cdf, beta2_icdf

MT, WT, MW, WW, MB = 173.0, 1.4915, 80.41900244575616, 2.0476, 4.7


def _res(name, pdg, mass, width, mass_key, width_key, decays):
    return {
        "pdg": pdg,
        "name": name,
        "mass": mass,
        "width": width,
        "mass_key": mass_key,
        "width_key": width_key,
        "decays": decays,
    }


# the 2->6 chain u u~ > t t~, t > b w+, w+ > u d~, t~ > b~ w-, w- > u~ d, described explicitly
CHAIN = ProcessDescription(
    external_masses=(0.0, 0.0, MB, 0.0, 0.0, MB, 0.0, 0.0),
    pdg_codes=(2, -2, 5, 2, -1, -5, -2, 1),
    decay_chain={
        "initial": [0, 1],
        "final": [
            _res(
                "t",
                6,
                MT,
                WT,
                ("mass", 6),
                ("decay", 6),
                [
                    {"external": 2},
                    _res("w+", 24, MW, WW, None, ("decay", 24), [{"external": 3}, {"external": 4}]),
                ],
            ),
            _res(
                "t~",
                -6,
                MT,
                WT,
                ("mass", 6),
                ("decay", 6),
                [
                    {"external": 5},
                    _res("w-", -24, MW, WW, None, ("decay", 24), [{"external": 6}, {"external": 7}]),
                ],
            ),
        ],
    },
    params={("mass", 6): MT, ("decay", 6): WT, ("decay", 24): WW, ("mass", 5): MB},
)

# (description, sqrt_s, kind): every mapping family, massless, massive and mixed
MAPPINGS = [
    (ProcessDescription(external_masses=(0.0,) * 4), 91.0, "two_body"),
    (ProcessDescription(external_masses=(0.0, 0.0, MT, MT)), 500.0, "two_body"),
    (ProcessDescription(external_masses=(0.0,) * 8), 1000.0, "flat"),
    (ProcessDescription(external_masses=(0.0, 0.0, 10.0, 20.0, 30.0, 40.0)), 300.0, "flat"),
    (ProcessDescription(external_masses=(0.0, 0.0, 0.0, MB, MB, 0.0)), 200.0, "flat"),
    (CHAIN, 1000.0, "decay_chain"),
    (CHAIN, 1000.0, "flat"),
]
IDS = [
    "2to2-massless",
    "2to2-tt",
    "flat-6massless",
    "flat-4massive",
    "flat-2b2q",
    "chain-decay_chain",
    "chain-flat",
]
NPOINTS = 2048  # one batch shape for every call, so that each mapping compiles map and inverse once


def _face_grid(ndim, n, seed):
    """Random points with a random subset of coordinates on the faces 0 / 1, plus the corners 0, 1."""
    rng = np.random.default_rng(seed)
    u = rng.random((n - 2, ndim))
    on_face = rng.random((n - 2, ndim)) < 0.4
    u = np.where(on_face, rng.integers(0, 2, (n - 2, ndim)).astype(float), u)
    return jnp.asarray(np.concatenate([u, np.zeros((1, ndim)), np.ones((1, ndim))]))


def _final(mapping):
    return [i for i in range(mapping.nexternal) if i not in mapping.initial]


class Prepared:
    """A mapping with its jitted map / inverse evaluated once on random points and on the faces."""

    def __init__(self, desc, sqrt_s, kind):
        self.mapping = m = make_mapping(desc, sqrt_s, kind)
        self.map = jax.jit(m.map)
        self.inverse = jax.jit(m.inverse)
        self.u_rand = jax.random.uniform(jax.random.PRNGKey(7), (NPOINTS, m.ndim), dtype=jnp.float64)
        self.u_face = _face_grid(m.ndim, NPOINTS, seed=1)
        self.p_rand, self.lw_rand = self.map(self.u_rand)
        self.p_face, self.lw_face = self.map(self.u_face)


@pytest.fixture(scope="module", params=MAPPINGS, ids=IDS)
def prepared(request):
    return Prepared(*request.param)


def test_ndim_is_3n_minus_4(prepared):
    mapping = prepared.mapping
    assert mapping.ndim == 3 * len(_final(mapping)) - 4
    assert len(mapping.variable_names) == mapping.ndim


def test_conservation_and_mass_shell_on_faces(prepared):
    mapping, p, lw = prepared.mapping, prepared.p_face, prepared.lw_face
    assert np.all(np.isfinite(np.asarray(p))) and np.all(np.isfinite(np.asarray(lw)))
    s = mapping.sqrt_s**2
    fin = _final(mapping)
    total = p[:, fin].sum(axis=1) - p[:, list(mapping.initial)].sum(axis=1)
    assert float(jnp.abs(total).max()) <= 1e-10 * mapping.sqrt_s
    m2 = p[..., 0] ** 2 - jnp.sum(p[..., 1:] ** 2, axis=-1)
    expected = jnp.asarray(mapping.external_masses) ** 2
    assert float(jnp.abs(m2 - expected).max()) <= 1e-10 * s
    assert bool(jnp.all(p[..., 0] >= -1e-12 * mapping.sqrt_s))
    # CM frame, beam 1 along +z
    assert float(p[0, mapping.initial[0], 3]) > 0 and float(p[0, mapping.initial[1], 3]) < 0


def test_round_trip_u_p_u(prepared):
    u2, lw2 = prepared.inverse(prepared.p_rand)
    assert float(jnp.abs(u2 - prepared.u_rand).max()) <= 1e-12
    assert float(jnp.abs(lw2 - prepared.lw_rand).max()) <= 1e-10


def test_round_trip_p_u_p_on_faces(prepared):
    # on faces the map need not be injective (an angle of a zero vector), but p -> u -> p must hold
    p = prepared.p_face
    u2, lw2 = prepared.inverse(p)
    assert bool(jnp.all((u2 >= 0) & (u2 <= 1)))
    p3, lw3 = prepared.map(u2)
    assert float(jnp.abs(p3 - p).max()) <= 1e-12 * prepared.mapping.sqrt_s
    # the inverse returns the log weight that map gives at the recovered point
    assert float(jnp.abs(lw3 - lw2).max()) <= 1e-10


def _subset(*ids):
    """Parametrise the ``prepared`` fixture with some of the mappings only (time budget)."""
    chosen = [(m, i) for m, i in zip(MAPPINGS, IDS) if i in ids]
    return pytest.mark.parametrize(
        "prepared", [m for m, _ in chosen], ids=[i for _, i in chosen], indirect=True
    )


@_subset("2to2-tt", "flat-6massless", "flat-4massive", "chain-decay_chain", "chain-flat")
def test_log_weight_is_log_jacobian(prepared):
    """log_weight = log|det d(p_1..p_{n-2}, p_{n-1,x}, p_{n-1,y})/du| + log of the measure in those variables.

    dPhi_n = (2pi)^(4-3n) prod_i 1/(2E_i) d^{3n-4}y / |dE_tot/dp_{n-1,z}|, with p_n = -sum of the others
    and dE_tot/dp_{n-1,z} = v_{n-1,z} - v_{n,z}.
    """
    mapping = prepared.mapping
    fin = jnp.asarray(_final(mapping))
    n = len(_final(mapping))

    def coords(u1):
        q = mapping.map(u1)[0][fin]
        return jnp.concatenate([q[: n - 2, 1:].reshape(-1), q[n - 2, 1:3]])

    u = 0.02 + 0.96 * prepared.u_rand[:12]
    _, logdet = jnp.linalg.slogdet(jax.jit(jax.vmap(jax.jacfwd(coords)))(u))
    p, lw = mapping.map(u)
    q = p[:, fin]
    E = q[..., 0]
    vz = q[..., 3] / E
    measure = (
        (4 - 3 * n) * math.log(2 * math.pi)
        - jnp.sum(jnp.log(2 * E), axis=-1)
        - jnp.log(jnp.abs(vz[:, n - 2] - vz[:, n - 1]))
    )
    np.testing.assert_allclose(np.asarray(lw), np.asarray(logdet + measure), rtol=0, atol=1e-9)


def test_gradients_finite_on_faces(prepared):
    mapping = prepared.mapping
    c = jnp.linspace(0.1, 1.0, mapping.nexternal * 4).reshape(mapping.nexternal, 4)

    def total(u):
        p, lw = mapping.map(u)
        return jnp.sum(lw) + jnp.sum(c * p) / mapping.sqrt_s

    g = jax.jit(jax.grad(total))(prepared.u_face[:256])
    assert np.all(np.isfinite(np.asarray(g)))


@_subset("2to2-tt", "chain-decay_chain")
def test_single_point_and_vmap(prepared):
    mapping, u, p = prepared.mapping, prepared.u_rand, prepared.p_rand
    p1, lw1 = jax.jit(mapping.map)(u[3])
    assert p1.shape == (mapping.nexternal, 4) and lw1.shape == ()
    np.testing.assert_allclose(np.asarray(p1), np.asarray(p[3]), atol=1e-12 * mapping.sqrt_s)
    u1, _ = jax.jit(mapping.inverse)(p[3])
    np.testing.assert_allclose(np.asarray(u1), np.asarray(u[3]), atol=1e-12)
    pv, _ = jax.jit(jax.vmap(mapping.map))(u[:4])
    np.testing.assert_allclose(np.asarray(pv), np.asarray(p[:4]), atol=1e-12 * mapping.sqrt_s)


# ---------------------------------------------------------------- volumes


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_massless_volume(n):
    """Phi_n = (2pi)^(4-3n) (pi/2)^(n-1) s^(n-2) / ((n-1)!(n-2)!) (Phi_2 = 1/(8 pi))."""
    sqrt_s = 250.0
    s = sqrt_s**2
    exact = (
        (2 * math.pi) ** (4 - 3 * n)
        * (math.pi / 2) ** (n - 1)
        * s ** (n - 2)
        / (math.factorial(n - 1) * math.factorial(n - 2))
    )
    if n == 2:
        assert exact == pytest.approx(1 / (8 * math.pi), rel=1e-15)
    mapping = FlatMapping(sqrt_s, (0.0,) * (n + 2))
    u = jax.random.uniform(jax.random.PRNGKey(n), (4096, mapping.ndim), dtype=jnp.float64)
    w = np.exp(np.asarray(jax.jit(mapping.map)(u)[1]))
    mean, err = w.mean(), w.std() / math.sqrt(len(w))
    assert abs(mean - exact) <= 3 * err + 1e-12 * exact
    assert w.std() <= 1e-12 * mean  # Plätzer's map: the massless weight is constant


@pytest.mark.parametrize("n", [3, 5])
def test_massless_volume_through_resonance_tree(n):
    """The same volume from a tree with unrestricted Breit-Wigner virtualities (a non-constant weight)."""
    sqrt_s = 250.0
    s = sqrt_s**2
    exact = (
        (2 * math.pi) ** (4 - 3 * n)
        * (math.pi / 2) ** (n - 1)
        * s ** (n - 2)
        / (math.factorial(n - 1) * math.factorial(n - 2))
    )
    inner = Resonance("X", 0, 60.0, 15.0, (External(3, 0.0), External(4, 0.0)), restrict=False)
    nodes = (External(2, 0.0), inner) + tuple(External(i, 0.0) for i in range(5, n + 2))
    mapping = DecayChainMapping(sqrt_s, nodes, (0.0,) * (n + 2))
    assert mapping.ndim == 3 * n - 4
    u = jax.random.uniform(jax.random.PRNGKey(10 + n), (100000, mapping.ndim), dtype=jnp.float64)
    w = np.exp(np.asarray(jax.jit(mapping.map)(u)[1]))
    mean, err = w.mean(), w.std() / math.sqrt(len(w))
    assert w.std() > 1e-3 * mean
    assert abs(mean - exact) <= 3 * err, (mean, err, exact)


def _dalitz_volume(sqrt_s, m1, m2, m3):
    """Phi_3 = (2pi)^-5 pi^2/(4s) x (Dalitz-plot area in (m12^2, m23^2))."""
    s = sqrt_s**2

    def width(m12):
        e2 = (m12**2 - m1**2 + m2**2) / (2 * m12)
        e3 = (s - m12**2 - m3**2) / (2 * m12)
        a = math.sqrt(max(e2**2 - m2**2, 0.0))
        b = math.sqrt(max(e3**2 - m3**2, 0.0))
        return 4 * a * b * 2 * m12  # (m23max^2 - m23min^2) dm12^2/dm12

    area, _ = integrate.quad(width, m1 + m2, sqrt_s - m3, epsabs=0, epsrel=1e-12, limit=200)
    return area * math.pi**2 / (4 * s) / (2 * math.pi) ** 5


@pytest.mark.parametrize("masses", [(10.0, 20.0, 30.0), (0.0, 4.7, 4.7), (173.0, 0.0, 80.4)])
def test_massive_three_body_volume(masses):
    sqrt_s = 300.0
    exact = _dalitz_volume(sqrt_s, *masses)
    mapping = FlatMapping(sqrt_s, (0.0, 0.0) + masses)
    u = jax.random.uniform(jax.random.PRNGKey(21), (100000, mapping.ndim), dtype=jnp.float64)
    w = np.exp(np.asarray(jax.jit(mapping.map)(u)[1]))
    mean, err = w.mean(), w.std() / math.sqrt(len(w))
    assert abs(mean - exact) <= 3 * err, (mean, err, exact)
    assert err <= 0.01 * exact


def test_massive_two_body_weight():
    sqrt_s, m1, m2 = 500.0, 173.0, 80.0
    mapping = TwoBodyMapping(sqrt_s, (0.0, 0.0, m1, m2))
    s = sqrt_s**2
    lam = (s - m1**2 - m2**2) ** 2 - 4 * m1**2 * m2**2
    lw = mapping.map(jnp.array([[0.3, 0.7], [0.0, 1.0]]))[1]
    np.testing.assert_allclose(np.exp(np.asarray(lw)), math.sqrt(lam) / (8 * math.pi * s), rtol=1e-13)


def test_massive_weights_bounded_on_closed_cube():
    """Massive flat weights stay bounded and positive on faces and corners (unlike RAMBO on diet's own)."""
    for masses, sqrt_s in [
        ((MB, 0, 0, 0, 0, MB), 1000.0),
        ((10.0, 20.0, 30.0, 40.0), 150.0),
        ((MT, MT, 0.0), 400.0),
    ]:
        mapping = FlatMapping(sqrt_s, (0.0, 0.0) + tuple(masses))
        fmap = jax.jit(mapping.map)
        lw_faces = np.asarray(fmap(_face_grid(mapping.ndim, NPOINTS, seed=8))[1])
        lw_inner = np.asarray(fmap(jax.random.uniform(jax.random.PRNGKey(9), (NPOINTS, mapping.ndim)))[1])
        assert np.all(np.isfinite(lw_faces))
        assert lw_faces.max() - lw_inner.max() < 1.0 and lw_inner.min() - lw_faces.min() < 5.0


def test_massive_four_body_volume_flat_vs_tree():
    """Two factorisations of the same massive 4-body phase space agree (no closed form needed)."""
    masses = (0.0, 0.0, 10.0, 20.0, 30.0, 5.0)
    sqrt_s = 200.0
    flat = FlatMapping(sqrt_s, masses)
    tree = DecayChainMapping(
        sqrt_s,
        (
            Resonance("A", 0, 60.0, 20.0, (External(2, 10.0), External(3, 20.0)), restrict=False),
            Resonance("B", 0, 70.0, 25.0, (External(4, 30.0), External(5, 5.0)), restrict=False),
        ),
        masses,
    )
    est = []
    for k, m in enumerate((flat, tree)):
        u = jax.random.uniform(jax.random.PRNGKey(30 + k), (100000, m.ndim), dtype=jnp.float64)
        w = np.exp(np.asarray(jax.jit(m.map)(u)[1]))
        est.append((w.mean(), w.std() / math.sqrt(len(w))))
    (a, ea), (b, eb) = est
    assert abs(a - b) <= 3 * math.hypot(ea, eb), est


# ---------------------------------------------------------------- decay chains and windows


def test_chain_has_14_variables_and_respects_windows():
    mapping = make_mapping(CHAIN, 1000.0, "decay_chain")
    assert mapping.ndim == 14
    assert mapping.variable_names[:4] == ("m2[t]", "m2[w+]", "m2[t~]", "m2[w-]")
    u = _face_grid(14, NPOINTS, seed=11)
    p, _ = jax.jit(mapping.map)(u)

    def mass(idx):
        q = p[:, idx].sum(axis=1)
        return np.sqrt(np.asarray(q[:, 0] ** 2 - jnp.sum(q[:, 1:] ** 2, axis=-1)))

    for idx, M, G in [([2, 3, 4], MT, WT), ([5, 6, 7], MT, WT), ([3, 4], MW, WW), ([6, 7], MW, WW)]:
        m = mass(idx)
        assert np.all(np.abs(m - M) <= 15 * G * (1 + 1e-9))
        assert m.min() < M - 14.9 * G and m.max() > M + 14.9 * G  # the faces reach the window edges
    # and the flat mapping's window cuts accept every decay-chain point
    assert bool(make_mapping(CHAIN, 1000.0, "flat").window_cuts(p).all())


def test_breit_wigner_upper_limit_follows_available_energy():
    """Near threshold the second top's window is cut by the energy the first one leaves (exact map)."""
    sqrt_s = 2 * MT + 5.0
    mapping = make_mapping(CHAIN, sqrt_s, "decay_chain")
    u = jax.random.uniform(jax.random.PRNGKey(12), (NPOINTS, 14), dtype=jnp.float64)
    p, lw = jax.jit(mapping.map)(u)
    u2, _ = jax.jit(mapping.inverse)(p)
    assert float(jnp.abs(u2 - u).max()) <= 1e-12
    mt1 = np.sqrt(np.asarray(mdot_sum(p, [2, 3, 4])))
    mt2 = np.sqrt(np.asarray(mdot_sum(p, [5, 6, 7])))
    assert np.all(mt1 + mt2 <= sqrt_s * (1 + 1e-12))
    assert np.all(np.isfinite(np.asarray(lw)))


def mdot_sum(p, idx):
    q = p[:, idx].sum(axis=1)
    return q[:, 0] ** 2 - jnp.sum(q[:, 1:] ** 2, axis=-1)


def _toy_chain(width):
    """P -> R1(2, 3) R2(4, 5), massless products: wide enough for flat sampling to find the windows."""

    def r(name, a, b):
        return {
            "name": name,
            "pdg": 0,
            "mass": 200.0,
            "width": width,
            "mass_key": ("mass", 99),
            "width_key": ("decay", 99),
            "decays": [{"external": a}, {"external": b}],
        }

    return ProcessDescription(
        external_masses=(0.0,) * 6, decay_chain={"initial": [0, 1], "final": [r("R1", 2, 3), r("R2", 4, 5)]}
    )


def test_window_volume_flat_with_cuts_equals_decay_chain():
    """Flat sampling with the window cuts and the Breit-Wigner mapping give the same restricted volume."""
    desc = _toy_chain(10.0)
    flat = make_mapping(desc, 800.0, "flat", bwcutoff=4.0)
    chain = make_mapping(desc, 800.0, "decay_chain", bwcutoff=4.0)
    assert len(flat.window_cuts) == 2 and len(chain.window_cuts) == 0
    u = jax.random.uniform(jax.random.PRNGKey(13), (100000, flat.ndim), dtype=jnp.float64)
    p, lw = jax.jit(flat.map)(u)
    keep = np.asarray(flat.window_cuts(p))
    wf = np.exp(np.asarray(lw)) * keep
    v = jax.random.uniform(jax.random.PRNGKey(14), (20000, chain.ndim), dtype=jnp.float64)
    wc = np.exp(np.asarray(jax.jit(chain.map)(v)[1]))
    a, ea = wf.mean(), wf.std() / math.sqrt(len(wf))
    b, eb = wc.mean(), wc.std() / math.sqrt(len(wc))
    assert abs(a - b) <= 3 * math.hypot(ea, eb), (a, ea, b, eb)
    # every flat point inside the windows is the image of a decay-chain point inside the cube
    inside = p[keep]
    v2, _ = chain.inverse(inside)
    assert bool(jnp.all((v2 >= 0) & (v2 <= 1)))
    np.testing.assert_allclose(np.asarray(chain.map(v2)[0]), np.asarray(inside), atol=1e-10)


def test_mapping_follows_mass_and_width_params():
    mapping = make_mapping(CHAIN, 1000.0, "decay_chain")
    u = jax.random.uniform(jax.random.PRNGKey(15), (NPOINTS, 14), dtype=jnp.float64)
    params = {("mass", 6): 175.0, ("decay", 6): 2.0, ("mass", 5): 4.5}
    p, _lw = jax.jit(mapping.map)(u, params)
    mt = np.sqrt(np.asarray(mdot_sum(p, [2, 3, 4])))
    assert np.all(np.abs(mt - 175.0) <= 30.0 * (1 + 1e-9)) and mt.max() > 175.0 + 29.0
    mb2 = np.asarray(p[:, 2, 0] ** 2 - jnp.sum(p[:, 2, 1:] ** 2, axis=-1))
    np.testing.assert_allclose(mb2, 4.5**2, atol=1e-10 * 1e6)
    u2, _ = jax.jit(mapping.inverse)(p, params)
    assert float(jnp.abs(u2 - u).max()) <= 1e-12

    f = jax.jit(lambda mt: jnp.sum(mapping.map(u[:16], {("mass", 6): mt})[1]))
    g = jax.jit(jax.grad(lambda mt: jnp.sum(mapping.map(u[:16], {("mass", 6): mt})[1])))(MT)
    fd = (f(MT + 1e-4) - f(MT - 1e-4)) / 2e-4
    assert np.isfinite(float(g)) and float(g) == pytest.approx(float(fd), rel=1e-6)


def test_decay_chain_from_resonance_list():
    """Without a decay chain, proper-subset s-channel resonances become unrestricted Breit-Wigner maps."""
    z = {
        "pdg": 23,
        "name": "z",
        "mass": {"value": 91.188, "key": ("mass", 23)},
        "width": {"value": 2.441404, "key": ("decay", 23)},
        "legs": [2, 3],
    }
    full = dict(z, legs=[2, 3, 4])
    desc = ProcessDescription(external_masses=(0.0,) * 5, resonances=(z, full))
    mapping = make_mapping(desc, 500.0, "decay_chain")
    assert mapping.variable_names[0] == "m2[z]" and mapping.ndim == 5
    u = jax.random.uniform(jax.random.PRNGKey(16), (100000, 5), dtype=jnp.float64)
    p, lw = jax.jit(mapping.map)(u)
    w = np.exp(np.asarray(lw))
    exact = (2 * math.pi) ** -5 * (math.pi / 2) ** 2 * 500.0**2 / 2
    assert abs(w.mean() - exact) <= 3 * w.std() / math.sqrt(len(w))
    m23 = np.sqrt(np.asarray(mdot_sum(p, [2, 3])))
    assert np.mean(np.abs(m23 - 91.188) < 5 * 2.44) > 0.4  # the Z peak is sampled densely


# ---------------------------------------------------------------- the one-dimensional Newton solve


@pytest.mark.parametrize("a", [-0.25, 0.0, 0.75, 1.0, 2.75, 4.0])
def test_beta2_inverse_cdf_precision_and_implicit_gradient(a):
    u = jnp.concatenate(
        [
            jnp.array([0.0, 1e-300, 1e-12, 1 - 1e-12, 1.0]),
            jax.random.uniform(jax.random.PRNGKey(17), (5000,), dtype=jnp.float64),
        ]
    )
    x = beta2_icdf(u, a)
    assert bool(jnp.all((x >= 0) & (x <= 1)))
    assert float(jnp.abs(beta2_cdf(x, a) - u).max()) <= 1e-15
    g = jax.vmap(jax.grad(lambda v: beta2_icdf(v, a)))(u)
    assert np.all(np.isfinite(np.asarray(g)))
    pdf = (a + 1) * (a + 2) * x[5:] ** a * (1 - x[5:])
    np.testing.assert_allclose(np.asarray(g[5:]), np.asarray(1 / pdf), rtol=1e-10)


# ---------------------------------------------------------------- bad input


def test_errors_are_clear():
    m = make_mapping(CHAIN, 1000.0, "decay_chain")
    with pytest.raises(ValueError, match=r"u must have shape \(N, 14\)"):
        m.map(jnp.zeros((3, 13)))
    with pytest.raises(ValueError, match="momenta must have shape"):
        m.inverse(jnp.zeros((3, 7, 4)))
    with pytest.raises(ValueError, match="unknown mapping kind 'rambo'"):
        make_mapping(CHAIN, 1000.0, "rambo")
    with pytest.raises(ValueError, match="below the threshold .* resonance windows"):
        make_mapping(CHAIN, 2 * (MT - 15 * WT) - 1.0, "decay_chain")
    with pytest.raises(ValueError, match="below the threshold .* final-state masses"):
        make_mapping(ProcessDescription(external_masses=(0.0, 0.0, MT, MT)), 340.0, "flat")
    with pytest.raises(ValueError, match="exactly 2 final-state particles"):
        make_mapping(CHAIN, 1000.0, "two_body")
    with pytest.raises(ValueError, match="lies below its decay threshold"):
        DecayChainMapping(
            1000.0,
            (Resonance("X", 0, 50.0, 1.0, (External(2, 40.0), External(3, 40.0))), External(4, 0.0)),
            (0.0, 0.0, 40.0, 40.0, 0.0),
        )
