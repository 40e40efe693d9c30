"""|M|² of every shipped process against MadGraph 3.5.7's standalone output and analytic formulas."""

import numpy as np
import pytest
from conftest import REFERENCE, ee_mumu_couplings, load_reference_me

from flowint.madjax import load_process, shipped_processes

# reference key -> shipped process evaluated with that file's param card
CASES = {
    "ee_mumu": "ee_mumu",
    "mumu_ee": "mumu_ee",
    "uux_ttx": "uux_ttx",
    "uux_ttx_QCDEW": "uux_ttx_QCDEW",
    "gg_ttx": "gg_ttx",
    "gg_ttx_WT0": "gg_ttx",
    "ee_uuxg": "ee_uuxg",
    "uux_ttx_chain_bbqqqq": "uux_ttx_chain_bbqqqq",
    "uux_ttx_chain_bbqqqq_nobmass": "uux_ttx_chain_bbqqqq_nobmass",
}

# helicity combinations MadGraph finds non-zero (reference README)
NONZERO_HELICITIES = {
    "ee_mumu": (4, 16), "mumu_ee": (4, 16), "uux_ttx": (8, 16), "uux_ttx_QCDEW": (8, 16), "gg_ttx": (16, 16),
    "ee_uuxg": (8, 32), "uux_ttx_chain_bbqqqq": (8, 256), "uux_ttx_chain_bbqqqq_nobmass": (2, 256),
}


def _minkowski(a, b):
    return a[..., 0] * b[..., 0] - a[..., 1] * b[..., 1] - a[..., 2] * b[..., 2] - a[..., 3] * b[..., 3]


def test_every_shipped_process_is_covered():
    assert sorted(shipped_processes()) == sorted(set(CASES.values()))


@pytest.mark.parametrize("key", sorted(CASES))
def test_me2_matches_madgraph(key):
    ref = load_reference_me(key)
    proc = load_process(CASES[key])
    assert list(proc.pdg_codes) == [p["pdg"] for p in ref["particle_order"]]
    params = proc.read_param_card(REFERENCE / ref["param_card_file"])
    momenta = np.array([point["momenta"] for point in ref["points"]])
    want = np.array([point["me2"] for point in ref["points"]])
    got = np.asarray(proc.me2(momenta, params))
    assert got.shape == want.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=0)


def test_gg_ttx_keeps_the_top_width_in_t_channel_propagators():
    # The WT card and the WT=0 card give different |M|^2 on the same momenta, each matching MadGraph.
    proc = load_process("gg_ttx")
    with_width, without = load_reference_me("gg_ttx"), load_reference_me("gg_ttx_WT0")
    momenta = np.array([p["momenta"] for p in with_width["points"]])
    a = np.asarray(proc.me2(momenta, proc.read_param_card(REFERENCE / with_width["param_card_file"])))
    b = np.asarray(proc.me2(momenta, proc.read_param_card(REFERENCE / without["param_card_file"])))
    assert np.all(np.abs(a / b - 1) > 1e-8)
    np.testing.assert_allclose(b, [p["me2"] for p in without["points"]], rtol=1e-10)


@pytest.mark.parametrize("name", sorted(NONZERO_HELICITIES))
def test_vanishing_helicities_are_pruned_like_madgraph(name):
    proc = load_process(name)
    kept, total = NONZERO_HELICITIES[name]
    assert len(proc.all_helicities) == total
    assert len(proc.helicity_indices) == kept


def test_helicity_pruning_does_not_change_the_result():
    proc = load_process("uux_ttx_QCDEW")
    momenta = np.array([p["momenta"] for p in load_reference_me("uux_ttx_QCDEW")["points"]])
    every = np.asarray(proc.me2_per_helicity(momenta, helicities=range(len(proc.all_helicities))))
    dropped = np.setdiff1d(np.arange(len(proc.all_helicities)), proc.helicity_indices)
    assert len(dropped) == 8 and np.all(every[dropped] == 0.0)
    np.testing.assert_allclose(every.sum(0), proc.me2(momenta), rtol=1e-13)
    assert proc.find_nonzero_helicities() == list(proc.helicity_indices)


def test_mumu_ee_equals_ee_mumu_on_the_same_momenta():
    rng = np.random.default_rng(7)
    momenta = _random_2to2(rng, 10, sqrt_s=rng.uniform(20, 400, 10))  # batch of 10: reuses the compiled kernel
    ee, mumu = load_process("ee_mumu"), load_process("mumu_ee")
    np.testing.assert_allclose(np.asarray(mumu.me2(momenta)), np.asarray(ee.me2(momenta)), rtol=1e-13)


def _random_2to2(rng, n, sqrt_s, m3=0.0, m4=0.0):
    sqrt_s = np.broadcast_to(np.asarray(sqrt_s, dtype=float), (n,))
    cos_t = rng.uniform(-1, 1, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    e3 = (sqrt_s ** 2 + m3 ** 2 - m4 ** 2) / (2 * sqrt_s)
    p = np.sqrt(e3 ** 2 - m3 ** 2)
    sin_t = np.sqrt(1 - cos_t ** 2)
    out = np.zeros((n, 4, 4))
    out[:, 0] = np.stack([sqrt_s / 2, 0 * p, 0 * p, sqrt_s / 2], 1)
    out[:, 1] = np.stack([sqrt_s / 2, 0 * p, 0 * p, -sqrt_s / 2], 1)
    out[:, 2] = np.stack([e3, p * sin_t * np.cos(phi), p * sin_t * np.sin(phi), p * cos_t], 1)
    out[:, 3] = np.stack([sqrt_s - e3, -out[:, 2, 1], -out[:, 2, 2], -out[:, 2, 3]], 1)
    return out


def ee_mumu_analytic(momenta, params):
    """Tree-level e+e- -> mu+mu- via photon and Z (fixed width), massless leptons, helicity amplitudes."""
    e2, g_left, g_right, mz, wz = ee_mumu_couplings(params)
    p_em, p_mm = momenta[:, 1], momenta[:, 3]
    s = _minkowski(momenta[:, 0] + p_em, momenta[:, 0] + p_em)
    cos = (p_em[:, 1:] * p_mm[:, 1:]).sum(1) / np.linalg.norm(p_em[:, 1:], axis=1) / np.linalg.norm(p_mm[:, 1:], axis=1)
    z = 1 / (s - mz ** 2 + 1j * mz * wz)

    def amp(ga, gb):
        return e2 * (1 / s + ga * gb * z)

    same = abs(amp(g_left, g_left)) ** 2 + abs(amp(g_right, g_right)) ** 2
    opposite = abs(amp(g_left, g_right)) ** 2 + abs(amp(g_right, g_left)) ** 2
    return s ** 2 * (same * (1 + cos) ** 2 + opposite * (1 - cos) ** 2) / 4


def test_ee_mumu_matches_the_analytic_photon_plus_z_formula():
    rng = np.random.default_rng(11)
    proc = load_process("ee_mumu")
    sqrt_s = np.concatenate([rng.uniform(10, 500, 30), 91.188 + rng.normal(0, 2.0, 10)])
    momenta = _random_2to2(rng, len(sqrt_s), sqrt_s)
    for params in (proc.default_params(), {**proc.default_params(), ("mass", 23): 90.0, ("decay", 23): 3.1}):
        for batch in momenta.reshape(4, 10, 4, 4):  # batches of 10 reuse the compiled kernel
            np.testing.assert_allclose(np.asarray(proc.me2(batch, params)), ee_mumu_analytic(batch, params),
                                       rtol=1e-12)


def test_uux_ttx_and_gg_ttx_match_the_textbook_qcd_formulas():
    rng = np.random.default_rng(5)
    mt = 173.0
    momenta = _random_2to2(rng, 10, rng.uniform(350, 3000, 10), mt, mt)
    s = _minkowski(momenta[:, 0] + momenta[:, 1], momenta[:, 0] + momenta[:, 1])
    t = _minkowski(momenta[:, 0] - momenta[:, 2], momenta[:, 0] - momenta[:, 2])
    u = _minkowski(momenta[:, 0] - momenta[:, 3], momenta[:, 0] - momenta[:, 3])
    qq = load_process("uux_ttx")
    g2 = 4 * np.pi * qq.default_params()[("sminputs", 3)]
    want = 4 / 9 * g2 ** 2 * ((mt ** 2 - t) ** 2 + (mt ** 2 - u) ** 2 + 2 * mt ** 2 * s) / s ** 2
    np.testing.assert_allclose(np.asarray(qq.me2(momenta)), want, rtol=1e-12)
    gg = load_process("gg_ttx")
    tau1 = 2 * _minkowski(momenta[:, 0], momenta[:, 2]) / s
    tau2 = 2 * _minkowski(momenta[:, 1], momenta[:, 2]) / s
    rho = 4 * mt ** 2 / s
    want = g2 ** 2 * (1 / (6 * tau1 * tau2) - 3 / 8) * (tau1 ** 2 + tau2 ** 2 + rho - rho ** 2 / (4 * tau1 * tau2))
    np.testing.assert_allclose(np.asarray(gg.me2(momenta, {("decay", 6): 0.0})), want, rtol=1e-12)


def test_derived_w_mass_matches_madgraph():
    proc = load_process("uux_ttx_chain_bbqqqq")
    derived = proc.model_parameters()
    assert float(derived["mdl_MW"]) == pytest.approx(80.41900244575616, rel=1e-14)
