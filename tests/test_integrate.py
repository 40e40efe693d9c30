"""The integrator: cross sections against MadGraph, flow vs VEGAS, unweighted events, differentiable sigma."""

import json
import math

import numpy as np
import pylhe
import pytest
from conftest import REFERENCE, ee_mumu_couplings
from scipy import stats

from flowint.integrate import Integrator, pull
from flowint.phasespace import GEV2_TO_PB, read_lhe


def _madevent(process, sqrt_s):
    with open(REFERENCE / "xsec_madevent.json") as handle:
        results = json.load(handle)["results"]
    runs = [r for r in results if r["process"] == process and abs(r["sqrt_s"] - sqrt_s) < 1e-9]
    best = min(runs, key=lambda r: r["mc_err_pb"])
    return best["xsec_pb"], best["mc_err_pb"]


def _quiet(_line):
    pass


@pytest.fixture(scope="module")
def ee_mumu():
    integ = Integrator(
        {
            "process": "ee_mumu",
            "sqrt_s": 91.0,
            "seed": 3,
            "mapping": {"kind": "two_body"},
            "flow": {"hidden_width": 16},
            "training": {"steps": 60, "batch_size": 500},
            "integration": {"n_points": 40000, "batch_size": 20000},
            "vegas": {"nitn_adapt": 5, "nitn_final": 4},
        },
        log=_quiet,
    )
    integ.train(progress=False)
    integ.integrate()
    return integ


def test_ee_mumu_cross_section_matches_madevent(ee_mumu):
    res = ee_mumu.result
    ref, ref_err = _madevent("e+ e- > mu+ mu-", 91.0)
    assert abs(pull(res["xsec_pb"], res["xsec_err_pb"], ref, ref_err)) < 3
    # every integrand call is counted: 60 training batches of 500 and the final 40000
    assert res["n_evals"] == 60 * 500 + 40000
    assert res["rel_std"] == pytest.approx(res["xsec_err_pb"] * math.sqrt(40000) / res["xsec_pb"], rel=1e-3)
    assert 0 < res["unweighting_efficiency"] <= 1
    assert res["cut_efficiency"] == 1.0
    # training helped: the flow beats uniform sampling of the same mapping (rel. std ~0.5 for 1 + cos^2)
    assert res["rel_std"] < 0.3


def test_vegas_baseline_same_budget_and_consistent(ee_mumu):
    v = ee_mumu.vegas()
    res = ee_mumu.result
    assert abs(pull(res["xsec_pb"], res["xsec_err_pb"], v["xsec_pb"], v["xsec_err_pb"])) < 3
    # the same budget, in iterations of equal size (5 adapting, then as many final ones as bring the total
    # closest to the flow's calls: vegas gives each hypercube a whole number of points)
    per_iteration = v["n_evals_final"] / v["nitn_final"]
    assert per_iteration == pytest.approx(v["n_evals_adapt"] / 5, rel=0.1)
    assert abs(v["n_evals"] - res["n_evals"]) <= 0.6 * per_iteration
    assert 0 <= v["Q"] <= 1 and v["chi2_dof"] >= 0
    assert 0 < v["unweighting_efficiency"] <= 1
    assert v["weights"].shape == (v["n_evals_final"],)
    assert v["weights"].mean() == pytest.approx(v["xsec_pb"], rel=5 * v["xsec_err_pb"] / v["xsec_pb"] + 1e-3)


def test_uux_ttx_cross_section_matches_madevent():
    integ = Integrator(
        {
            "process": "uux_ttx",
            "sqrt_s": 500.0,
            "mapping": {"kind": "two_body"},
            "flow": {"hidden_width": 16},
            "training": {"steps": 30, "batch_size": 500},
            "integration": {"n_points": 20000},
        },
        log=_quiet,
    )
    integ.train(progress=False)
    res = integ.integrate()
    ref, ref_err = _madevent("u u~ > t t~", 500.0)
    assert abs(pull(res["xsec_pb"], res["xsec_err_pb"], ref, ref_err)) < 3


def _sigma_ee_mumu(sqrt_s, params):
    """Analytic tree-level sigma(e+e- -> mu+mu-) via gamma + Z in pb (the cos theta integral done exactly)."""
    e2, gl, gr, mz, wz = ee_mumu_couplings(params)
    s = sqrt_s**2
    z = 1 / (s - mz**2 + 1j * mz * wz)

    def amp(a, b):
        return e2 * (1 / s + a * b * z)

    total = sum(abs(amp(a, b)) ** 2 for a in (gl, gr) for b in (gl, gr))
    # |M|^2 = s^2/4 [same (1+c)^2 + opposite (1-c)^2]; int dc (1 +- c)^2 = 8/3; dPhi_2 = dc dphi / (32 pi^2)
    return GEV2_TO_PB / (2 * s) * (s**2 / 4) * total * (8 / 3) / (16 * math.pi)


def test_differentiable_cross_section_matches_finite_differences_and_the_analytic_derivative(ee_mumu):
    key = ("mass", 23)
    out = ee_mumu.xsec_gradient([key, ("sminputs", 2)])
    params = dict(ee_mumu.params)
    analytic = _sigma_ee_mumu(91.0, params)
    assert abs(out["xsec_pb"] - analytic) < 3 * out["xsec_err_pb"]
    h = 1e-4
    up, down = dict(params), dict(params)
    up[key] += h
    down[key] -= h
    d_analytic = (_sigma_ee_mumu(91.0, up) - _sigma_ee_mumu(91.0, down)) / (2 * h)
    g = out["gradient"][key]
    assert g["at"] == params[key]
    assert abs(g["value"] - d_analytic) < 3 * g["error"] + 1e-6 * abs(d_analytic)
    # finite differences of the MC estimate on the same sample (common random numbers): agree to 1e-6
    u, log_q = ee_mumu.sample["u"], ee_mumu.sample["log_q"]

    def sigma_mc(p):
        return float(np.mean(np.asarray(ee_mumu.integrand.fn(u, p)) * np.exp(-log_q)))

    fd = (sigma_mc({key: params[key] + h}) - sigma_mc({key: params[key] - h})) / (2 * h)
    assert g["value"] == pytest.approx(fd, rel=1e-6)
    gf = ("sminputs", 2)
    hg = params[gf] * 1e-5
    fd_gf = (sigma_mc({gf: params[gf] + hg}) - sigma_mc({gf: params[gf] - hg})) / (2 * hg)
    assert out["gradient"][gf]["value"] == pytest.approx(fd_gf, rel=1e-6)
    with pytest.raises(KeyError, match="not an external parameter"):
        ee_mumu.xsec_gradient([("mass", 999)])


def test_unweighted_events_round_trip_through_pylhe_and_follow_the_weighted_distribution(ee_mumu, tmp_path):
    path = tmp_path / "events.lhe.gz"
    info = ee_mumu.write_events(path, n_max=20000)
    events = list(pylhe.LHEFile.fromfile(str(path)).events)
    assert len(events) == info["n_written"] > 5000
    init = pylhe.LHEFile.fromfile(str(path)).init
    assert init.procInfo[0].xSection == pytest.approx(ee_mumu.result["xsec_pb"], rel=1e-12)
    pdg = [[int(p.id) for p in ev.particles] for ev in events[:50]]
    assert all(tuple(codes) == tuple(ee_mumu.process.pdg_codes) for codes in pdg)
    mom = np.array([[[p.e, p.px, p.py, p.pz] for p in ev.particles] for ev in events])
    np.testing.assert_allclose(mom[:, 2:, 0].sum(axis=1), 91.0, rtol=1e-12)
    np.testing.assert_allclose(mom[:, 2:].sum(axis=1), mom[:, :2].sum(axis=1), atol=1e-9)
    # the mu- direction (MadGraph order e+ e- > mu+ mu-: index 3) w.r.t. the e- beam: unweighted histogram
    # against the weighted one of the flow sample (chi^2 with the weighted sample's own uncertainty)
    cos_unw = -mom[:, 3, 3] / np.linalg.norm(mom[:, 3, 1:], axis=1)
    p_w = ee_mumu.momenta(ee_mumu.sample["u"])
    cos_w = -p_w[:, 3, 3] / np.linalg.norm(p_w[:, 3, 1:], axis=1)
    w = ee_mumu.sample["weights"]
    edges = np.linspace(-1, 1, 21)
    h_unw, _ = np.histogram(cos_unw, edges)
    h_w, _ = np.histogram(cos_w, edges, weights=w)
    h_w2, _ = np.histogram(cos_w, edges, weights=w**2)
    n = h_unw.sum()
    frac = h_w / h_w.sum()
    var = n * frac * (1 - frac) + n**2 * h_w2 / h_w.sum() ** 2
    chi2 = np.sum((h_unw - n * frac) ** 2 / var)
    assert stats.chi2.sf(chi2, len(h_unw) - 1) > 1e-3
    # and the test can fail: a flat-in-cos sample is rejected (forward-backward asymmetry, 1 + cos^2)
    flat = np.random.default_rng(0).uniform(-1, 1, n)
    h_flat, _ = np.histogram(flat, edges)
    assert stats.chi2.sf(np.sum((h_flat - n * frac) ** 2 / var), len(h_unw) - 1) < 1e-6


def test_flow_and_vegas_agree_on_the_2to6_chain_and_with_madgraph():
    integ = Integrator(
        {
            "process": "uux_ttx_chain_bbqqqq",
            "sqrt_s": 1000.0,
            "mapping": {"kind": "decay_chain"},
            "flow": {"hidden_width": 16, "n_layers": 4},
            "training": {"steps": 15, "batch_size": 500},
            "integration": {"n_points": 20000},
            "vegas": {"nitn_adapt": 3, "nitn_final": 3},
        },
        log=_quiet,
    )
    integ.train(progress=False)
    res = integ.integrate()
    v = integ.vegas()
    assert abs(pull(res["xsec_pb"], res["xsec_err_pb"], v["xsec_pb"], v["xsec_err_pb"])) < 3
    # MadEvent's cross section of this run, from the header of its event file
    ref_events = read_lhe(REFERENCE / "lhe" / "uux_ttx_chain_bbqqqq_1000GeV_1k.lhe.gz")
    ref, ref_err = ref_events.xsec_pb, ref_events.xsec_error_pb
    assert abs(pull(res["xsec_pb"], res["xsec_err_pb"], ref, ref_err)) < 3
    assert abs(pull(v["xsec_pb"], v["xsec_err_pb"], ref, ref_err)) < 3


@pytest.mark.parametrize("source", ["lhe", "vegas"])
def test_pretraining_sources_fit_the_target_and_count_their_calls(source):
    cfg = {
        "process": "ee_mumu",
        "sqrt_s": 91.0,
        "seed": 2,
        "reference_lhe": str(REFERENCE / "lhe" / "ee_mumu_91GeV_1k.lhe.gz"),
        "mapping": {"kind": "two_body"},
        "flow": {"hidden_width": 16},
        "pretrain": {"source": source, "steps": 60, "batch_size": 500, "n_samples": 4000},
        "training": {"steps": 0},
        "integration": {"n_points": 20000},
    }
    untrained = Integrator({**cfg, "pretrain": {"source": "none"}}, log=_quiet).integrate()
    integ = Integrator(cfg, log=_quiet)
    integ.train(progress=False)
    res = integ.integrate()
    # forward KL on the pre-training sample alone moves the flow towards the target
    assert res["rel_std"] < 0.9 * untrained["rel_std"]
    ref, ref_err = _madevent("e+ e- > mu+ mu-", 91.0)
    assert abs(pull(res["xsec_pb"], res["xsec_err_pb"], ref, ref_err)) < 3
    if source == "lhe":  # MadGraph's events are not integrand calls
        assert res["n_evals_pretrain"] == 0 and res["n_external_events"] == 1000
    else:
        assert 4000 <= res["n_evals_pretrain"] <= 4400
    assert res["n_evals"] == res["n_evals_pretrain"] + 20000


def test_decay_chain_pretraining_of_the_flat_mapping_has_the_right_density():
    """decay-chain points pushed into the flat cube carry log g = log_weight_flat - log_weight_chain:
    importance weights p/g then integrate the same cross section as the decay-chain mapping."""
    integ = Integrator(
        {
            "process": "uux_ttx_chain_bbqqqq",
            "sqrt_s": 1000.0,
            "mapping": {"kind": "flat"},
            "pretrain": {"source": "decay_chain", "steps": 1, "n_samples": 20000},
            "training": {"steps": 0},
        },
        log=_quiet,
    )
    u, log_p, log_g, calls = integ._pretrain_data()
    assert calls == 20000 and u.shape == (20000, 14)
    u = np.asarray(u)
    assert np.all((u >= 0) & (u <= 1))
    w = np.exp(np.asarray(log_p) - np.asarray(log_g))
    sigma, err = w.mean(), w.std() / np.sqrt(w.size)
    ref_events = read_lhe(REFERENCE / "lhe" / "uux_ttx_chain_bbqqqq_1000GeV_1k.lhe.gz")
    assert abs(pull(sigma, err, ref_events.xsec_pb, ref_events.xsec_error_pb)) < 3
    assert w.std() / w.mean() < 1.0  # the chain mapping's own spread, not the flat one's 1e4
