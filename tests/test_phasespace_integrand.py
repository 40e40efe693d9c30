"""Integrands and cross sections: plain Monte Carlo against MadEvent, the 2->6 chain on both mappings."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flowint  # noqa: F401
from flowint.madjax import load_process
from flowint.phasespace import GEV2_TO_PB, delta_r_min, integrand, make_mapping, pt_min, read_lhe

REF = Path(__file__).parent / "data" / "reference"
PROCESS_STRINGS = {"e+ e- > mu+ mu-": "ee_mumu", "u u~ > t t~": "uux_ttx"}


def _madevent(name, sqrt_s):
    data = json.loads((REF / "xsec_madevent.json").read_text())
    return [r for r in data["results"] if PROCESS_STRINGS.get(r["process"]) == name and r["sqrt_s"] == sqrt_s]


def _mc(values):
    w = np.asarray(values)
    return w.mean(), w.std(ddof=1) / math.sqrt(len(w))


def _uniform(seed, n, ndim):
    return jax.random.uniform(jax.random.PRNGKey(seed), (n, ndim), dtype=jnp.float64)


@pytest.mark.parametrize(
    "name,sqrt_s,kind,n",
    [
        ("ee_mumu", 91.0, "two_body", 100000),
        ("ee_mumu", 500.0, "two_body", 100000),
        ("uux_ttx", 500.0, "two_body", 50000),
        ("uux_ttx", 1000.0, "flat", 50000),
    ],
)
def test_cross_section_against_madevent(name, sqrt_s, kind, n):
    process = load_process(name)
    f = integrand(process, make_mapping(process, sqrt_s, kind))
    sigma, err = _mc(jax.jit(f.fn)(_uniform(1, n, f.ndim), None))
    refs = _madevent(name, sqrt_s)
    assert refs
    for ref in refs:
        pull = (sigma - ref["xsec_pb"]) / math.hypot(err, ref["mc_err_pb"])
        assert abs(pull) < 3, (sigma, err, ref["run"], ref["xsec_pb"], ref["mc_err_pb"])
        analytic = ref["independent_check"]["xsec_pb"]
        assert abs(sigma - analytic) < 3 * err, (sigma, err, analytic)
    assert err < 3e-3 * sigma  # a real test, not a wide error bar


# ---------------------------------------------------------------- the 2->6 chain at 1 TeV


NCHAIN = 50000  # one batch shape for every chain evaluation: each function compiles once


@pytest.fixture(scope="module")
def chain():
    process = load_process("uux_ttx_chain_bbqqqq")
    dc = make_mapping(process, 1000.0, "decay_chain")
    flat = make_mapping(process, 1000.0, "flat")
    f_dc, f_flat = integrand(process, dc), integrand(process, flat)
    return process, dc, flat, jax.jit(f_dc.evaluate), jax.jit(f_flat.evaluate)


def test_chain_decay_chain_cross_section_against_madevent(chain):
    """sigma on the decay-chain mapping vs the MadEvent run that wrote the 1 TeV event file."""
    _, dc, _, ev_dc, _ = chain
    assert dc.ndim == 14
    sigma, err = _mc(np.concatenate([ev_dc(_uniform(seed, NCHAIN, 14)).value for seed in (2, 12)]))
    lhe = read_lhe(REF / "lhe" / "uux_ttx_chain_bbqqqq_1000GeV_1k.lhe.gz")
    pull = (sigma - lhe.xsec_pb) / math.hypot(err, lhe.xsec_error_pb)
    assert abs(pull) < 3, (sigma, err, lhe.xsec_pb, lhe.xsec_error_pb)
    assert err < 0.005 * sigma


def test_chain_flat_mapping_cross_section_agrees(chain):
    """sigma = int du f_flat(u) on the flat mapping (windows as cuts) agrees with the decay-chain value.

    Plain MC on the flat cube cannot resolve four narrow resonances (sigma_w/<w> ~ 2e4, see
    benchmarks/bench_phasespace.py), so the flat integrand is integrated with two-channel importance
    sampling in the flat variables: half the points uniform, half the image u = flat.inverse(dc.map(v))
    of decay-chain points, each weighted by f_flat / (1/2 + 1/2 q_dc), q_dc(u) = exp(lw_flat - lw_dc)
    the density of the second channel. The samples are independent of the decay-chain estimate it is
    compared with, so the pull is an honest statistical test of int f_flat = int f_dc.
    """
    _process, dc, flat, ev_dc, ev_flat = chain
    inv_flat, inv_dc = jax.jit(flat.inverse), jax.jit(dc.inverse)
    n = NCHAIN

    def q_dc(u, point):  # density of the decay-chain channel at flat-cube points u (0 outside the windows)
        v, lw_dc = inv_dc(point.momenta)
        inside = point.mask & jnp.all((v >= 0) & (v <= 1), axis=-1)
        return jnp.where(inside, jnp.exp(point.log_weight - jnp.where(inside, lw_dc, 0.0)), 0.0)

    # channel 1: uniform in the flat cube
    u1 = _uniform(3, n, 14)
    pt1 = ev_flat(u1)
    w1 = pt1.value / (0.5 + 0.5 * q_dc(u1, pt1))
    # channel 2: decay-chain points pulled back to the flat cube
    u2, _ = inv_flat(ev_dc(_uniform(4, n, 14)).momenta)
    pt2 = ev_flat(u2)
    w2 = pt2.value / (0.5 + 0.5 * q_dc(u2, pt2))
    m1, e1 = _mc(w1)
    m2, e2 = _mc(w2)
    sigma_flat, err_flat = 0.5 * (m1 + m2), 0.5 * math.hypot(e1, e2)
    sigma_dc, err_dc = _mc(np.concatenate([ev_dc(_uniform(seed, NCHAIN, 14)).value for seed in (5, 15)]))
    pull = (sigma_flat - sigma_dc) / math.hypot(err_flat, err_dc)
    assert abs(pull) < 3, (sigma_flat, err_flat, sigma_dc, err_dc)
    assert err_flat < 0.01 * sigma_flat


def test_chain_mappings_define_the_same_integrand(chain):
    """Point by point: the flat and decay-chain integrands agree on dsigma/dPhi at the same momenta."""
    process, _dc, flat, ev_dc, ev_flat = chain
    point_dc = ev_dc(_uniform(6, NCHAIN, 14))
    u_flat, _ = jax.jit(flat.inverse)(point_dc.momenta)
    assert bool(jnp.all((u_flat >= 0) & (u_flat <= 1)))
    point_flat = ev_flat(u_flat)
    assert bool(point_flat.mask.all())  # every decay-chain point passes the flat mapping's windows
    a = point_dc.value * jnp.exp(-point_dc.log_weight)
    b = point_flat.value * jnp.exp(-point_flat.log_weight)
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-9)
    norm = GEV2_TO_PB / (2 * 1000.0**2)
    np.testing.assert_allclose(np.asarray(a), norm * np.asarray(process.me2(point_dc.momenta)), rtol=1e-12)


# ---------------------------------------------------------------- parameters, cuts, shapes


def test_gradients_through_cuts_faces_and_parameters():
    """d/du and d/dparams of dsigma/du: finite everywhere (faces, cut points), zero where cut, and exact.

    (One jitted reverse-mode function; compiling reverse mode through a matrix element is the slow part.)
    """
    process = load_process("ee_mumu")
    f = integrand(
        process,
        make_mapping(process, 91.0, "two_body"),
        cuts={"pt_min": {"value": 25.0, "particles": [2, 3]}},
    )
    rng = np.random.default_rng(3)
    u = rng.random((512, 2))
    u[:64] = rng.integers(0, 2, (64, 2))  # faces and corners (beam-collinear muons: cut away)
    u = jnp.asarray(u)
    params = {("mass", 23): 91.188, ("sminputs", 2): 1.16639e-05}

    def total(x, p):
        return jnp.sum(f(x, p))

    g_u, g_p = jax.jit(jax.grad(total, argnums=(0, 1)))(u, params)
    point = f.evaluate(u, params)
    assert 0.3 < float(point.mask.mean()) < 0.95
    assert np.all(np.isfinite(np.asarray(g_u))) and float(jnp.abs(g_u[~point.mask]).max()) == 0.0
    assert float(jnp.abs(g_u[point.mask]).max()) > 0
    for key, h in [(("mass", 23), 1e-4), (("sminputs", 2), 1e-11)]:
        up = {**params, key: params[key] + h}
        down = {**params, key: params[key] - h}
        fd = (total(u, up) - total(u, down)) / (2 * h)
        assert float(g_p[key]) == pytest.approx(float(fd), rel=1e-6)


def test_cuts_mask_values():
    process = load_process("ee_uuxg")
    mapping = make_mapping(process, 500.0, "flat")
    cuts = {
        "pt_min": {"value": 20.0, "particles": [2, 3, 4]},
        "delta_r_min": {"value": 0.4, "particles": [2, 3, 4]},
    }
    f = integrand(process, mapping, cuts=cuts)
    u = _uniform(8, 4096, mapping.ndim)
    u = u.at[:64].set(jnp.round(u[:64]))  # corners: soft and collinear configurations, cut away
    point = jax.jit(f.evaluate)(u)
    assert 0.2 < float(point.mask.mean()) < 0.95
    assert bool(jnp.all(point.value[~point.mask] == 0)) and bool(
        jnp.all(jnp.isneginf(point.log_value[~point.mask]))
    )
    assert bool(jnp.all(point.value[point.mask] > 0)) and bool(
        jnp.all(jnp.isfinite(point.log_value[point.mask]))
    )
    np.testing.assert_allclose(
        np.asarray(jnp.exp(point.log_value[point.mask])), np.asarray(point.value[point.mask]), rtol=1e-12
    )
    # the same cuts given as Cut objects select the same points
    f2 = integrand(process, mapping, cuts=[pt_min(20.0, [2, 3, 4]), delta_r_min(0.4, [2, 3, 4])])
    np.testing.assert_array_equal(np.asarray(jax.jit(f2.evaluate)(u).mask), np.asarray(point.mask))


def test_integrand_shapes_and_errors():
    process = load_process("ee_mumu")
    f = integrand(process, make_mapping(process, 91.0, "two_body"))
    assert f.ndim == 2
    v = f(jnp.array([0.3, 0.6]))
    assert v.shape == () and float(v) > 0
    assert f(jnp.array([[0.3, 0.6]])).shape == (1,)
    with pytest.raises(ValueError, match=r"u must have shape \(N, 2\)"):
        f(jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match="unknown cut name 'pt_max'"):
        integrand(
            process,
            make_mapping(process, 91.0, "two_body"),
            cuts={"pt_max": {"value": 1.0, "particles": [2]}},
        )
