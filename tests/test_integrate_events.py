"""Weight statistics, hit-or-miss unweighting and LHE files (flowint.integrate._metrics and ._events)."""

from __future__ import annotations

import gzip
import math

import jax
import numpy as np
import pylhe
import pytest
from scipy import stats

import flowint  # noqa: F401  (float64)
from flowint.integrate import _events
from flowint.integrate._events import read_lhe_init, unweight, write_lhe
from flowint.integrate._metrics import combine_estimates, pull, weight_summary
from flowint.madjax import load_process
from flowint.phasespace import make_mapping, read_lhe

# ---------------------------------------------------------------------------------------------------------
# weight_summary


def test_weight_summary_constant_weights():
    s = weight_summary(np.full(5000, 2.5))
    assert s["xsec_pb"] == pytest.approx(2.5, rel=1e-15)
    assert s["xsec_err_pb"] == pytest.approx(0.0, abs=1e-12)
    assert s["rel_std"] == pytest.approx(0.0, abs=1e-12)
    assert s["rel_std_err"] == pytest.approx(0.0, abs=1e-12)
    assert s["cut_efficiency"] == 1.0 and s["cut_efficiency_err"] == 0.0
    assert s["w_max"] == s["w_max_abs"] == 2.5
    assert s["unweighting_efficiency"] == pytest.approx(1.0, rel=1e-15)
    assert s["unweighting_efficiency_abs"] == pytest.approx(1.0, rel=1e-15)
    assert s["n_evals"] == 5000 and s["n_nonzero"] == 5000
    assert all(type(v) in (float, int) for v in s.values())


def test_weight_summary_exponential_weights():
    n, mean_true = 200_000, 2.0
    w = np.random.default_rng(7).exponential(mean_true, n)
    s = weight_summary(w, key_or_seed=3)
    assert abs(s["xsec_pb"] - mean_true) < 3 * s["xsec_err_pb"]
    assert s["xsec_err_pb"] == pytest.approx(mean_true / math.sqrt(n), rel=0.02)
    # exponential: std/mean = 1; delta method with its moments (m3 = 2, m4 = 9) gives Var(r) = 1/N
    assert abs(s["rel_std"] - 1.0) < 3 * s["rel_std_err"]
    assert s["rel_std_err"] * math.sqrt(n) == pytest.approx(1.0, rel=0.15)
    assert s["rel_std"] == pytest.approx(s["xsec_err_pb"] * math.sqrt(n) / s["xsec_pb"], rel=1e-12)
    assert s["w_max_abs"] == w.max()
    assert 0 < s["w_max"] <= s["w_max_abs"]
    assert 0 < s["unweighting_efficiency_abs"] <= s["unweighting_efficiency"] < 1
    assert 0 < s["unweighting_efficiency_err"] < s["unweighting_efficiency"]
    assert 0 < s["w_max_err"] < s["w_max"]
    # replicas of 20k points: the median maximum of 20k exponentials is about mean * (ln 20000 + 0.37)
    assert s["w_max"] == pytest.approx(mean_true * (math.log(20_000) + 0.3665), rel=0.1)
    assert s["cut_efficiency"] == 1.0


def test_weight_summary_cut_efficiency_and_implicit_zeros():
    rng = np.random.default_rng(1)
    w = rng.exponential(1.0, 40_000) * (rng.random(40_000) < 0.3)
    s = weight_summary(w, key_or_seed=5)
    p = np.count_nonzero(w) / w.size
    assert s["cut_efficiency"] == pytest.approx(p, rel=1e-15)
    assert s["cut_efficiency_err"] == pytest.approx(math.sqrt(p * (1 - p) / w.size), rel=1e-12)
    assert s["n_nonzero"] == np.count_nonzero(w)
    # the same sample with the zeros left out and counted by n_total: same numbers
    ordered = np.concatenate([w[w > 0], np.zeros(w.size - np.count_nonzero(w))])
    full = weight_summary(ordered, key_or_seed=5)
    implicit = weight_summary(w[w > 0], n_total=w.size, key_or_seed=5)
    assert full.keys() == implicit.keys()
    for key in full:
        assert implicit[key] == pytest.approx(full[key], rel=1e-10, abs=1e-15), key


def test_weight_summary_all_zero_and_seeds():
    s = weight_summary(np.zeros(100))
    assert s["xsec_pb"] == 0.0 and s["xsec_err_pb"] == 0.0
    assert s["rel_std"] == math.inf and s["rel_std_err"] == math.inf
    assert s["cut_efficiency"] == s["unweighting_efficiency"] == s["unweighting_efficiency_abs"] == 0.0
    assert s["w_max"] == 0.0 and s["n_nonzero"] == 0
    assert weight_summary([], n_total=10)["rel_std"] == math.inf  # nothing passed the cuts
    w = np.random.default_rng(2).exponential(1.0, 5000)
    assert weight_summary(w, key_or_seed=4) == weight_summary(w, key_or_seed=4)
    for key in (jax.random.PRNGKey(4), jax.random.key(4)):  # raw and typed JAX keys
        assert weight_summary(w, key_or_seed=key) == weight_summary(w, key_or_seed=key)


@pytest.mark.parametrize(
    "weights,kwargs,match",
    [
        ([], {}, "weights: empty"),
        ([1.0, -0.5, 2.0], {}, "weights: 1 of 3 entries are negative"),
        ([1.0, np.nan, np.inf, 2.0], {}, "weights: 2 of 4 entries are not finite"),
        (np.ones((3, 2)), {}, r"weights: expected a 1-D array, got shape \(3, 2\)"),
        ([1.0, 2.0], {"n_total": 1}, "n_total: 1 is smaller than the number of weights passed"),
        ([1.0], {}, "need at least 2 points"),
        ([1.0, 2.0], {"wmax_replicas": 0}, "wmax_replicas: expected a positive int"),
        ([1.0, 2.0], {"key_or_seed": "abc"}, "key_or_seed: expected an int seed"),
    ],
)
def test_weight_summary_bad_input(weights, kwargs, match):
    with pytest.raises(ValueError, match=match):
        weight_summary(weights, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# combine_estimates, pull


def test_combine_estimates():
    values = np.array([1.0, 1.2, 0.9, 1.1])
    mean, err, chi2dof, q = combine_estimates(values, np.full(4, 0.2))
    assert mean == pytest.approx(values.mean(), rel=1e-15)
    assert err == pytest.approx(0.2 / 2, rel=1e-15)
    assert chi2dof == pytest.approx(np.sum((values - values.mean()) ** 2) / 0.04 / 3, rel=1e-12)
    assert q > 0.5  # consistent within the errors
    _, _, chi2dof_bad, q_bad = combine_estimates([1.0, 2.0, 1.0, 2.0], [0.05] * 4)
    assert chi2dof_bad > 50 and q_bad < 1e-10
    # unequal errors: the precise estimate dominates
    mean, err, _, _ = combine_estimates([1.0, 3.0], [0.1, 1.0])
    assert mean == pytest.approx((1.0 / 0.01 + 3.0) / (1 / 0.01 + 1), rel=1e-15)
    assert err == pytest.approx((1 / 0.01 + 1) ** -0.5, rel=1e-15)
    assert combine_estimates([2.0], [0.5]) == (2.0, 0.5, 0.0, 1.0)
    with pytest.raises(ValueError, match="errors: 1 entries are not finite and > 0"):
        combine_estimates([1.0, 2.0], [0.1, 0.0])
    with pytest.raises(ValueError, match="values, errors: expected two 1-D arrays of equal length"):
        combine_estimates([1.0, 2.0], [0.1])
    with pytest.raises(ValueError, match="values: empty"):
        combine_estimates([], [])


def test_pull():
    assert pull(1.0, 0.3, 0.5, 0.4) == pytest.approx(1.0, rel=1e-15)
    assert pull(0.5, 0.4, 1.0, 0.3) == pytest.approx(-1.0, rel=1e-15)
    assert pull(1.0, 0.0, 1.0, 0.0) == 0.0
    assert pull(2.0, 0.0, 1.0, 0.0) == math.inf
    with pytest.raises(ValueError, match="da, db: errors must be >= 0"):
        pull(1.0, -0.1, 1.0, 0.1)


# ---------------------------------------------------------------------------------------------------------
# unweight


def test_unweight_acceptance_rate():
    w = np.random.default_rng(11).exponential(1.0, 100_000)
    n = w.size
    idx, info = unweight(w, float(w.max()), seed_or_rng=12)
    p = w.mean() / w.max()  # no overweights: the acceptance probability is exactly mean / w_max
    assert abs(info["n_accepted"] - n * p) < 4 * math.sqrt(n * p * (1 - p))
    assert info["n_in"] == n and info["n_accepted"] == idx.size and info["n_overweight"] == 0
    assert info["overweight_fraction_of_xsec"] == 0.0
    assert np.all(np.diff(idx) > 0) and idx.dtype == np.int64
    # against a lower w_max: every overweight point is kept, and counted
    w_max = float(np.quantile(w, 0.999))
    idx, info = unweight(w, w_max, seed_or_rng=12)
    assert info["n_overweight"] == np.count_nonzero(w > w_max) > 0
    assert np.isin(np.flatnonzero(w > w_max), idx).all()
    assert info["overweight_fraction_of_xsec"] == pytest.approx(np.sum(np.maximum(w - w_max, 0)) / w.sum())
    same, _ = unweight(w, w_max, seed_or_rng=np.random.default_rng(12))
    np.testing.assert_array_equal(idx, same)


def test_unweight_overweights_by_hand():
    w = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    for seed in range(20):
        idx, info = unweight(w, 2.0, seed_or_rng=seed)
        assert {2, 3, 4} <= set(idx.tolist()) and 0 not in idx
    assert info == {
        "n_in": 5,
        "n_accepted": idx.size,
        "n_overweight": 2,
        "overweight_fraction_of_xsec": pytest.approx((1.0 + 2.0) / 10.0, rel=1e-15),
        "w_max": 2.0,
    }
    assert unweight(np.zeros(4), 1.0)[1]["overweight_fraction_of_xsec"] == 0.0
    with pytest.raises(ValueError, match="w_max: expected a finite number > 0"):
        unweight(w, 0.0)
    with pytest.raises(ValueError, match="weights: 1 of 2 entries are negative"):
        unweight([1.0, -1.0], 1.0)


def _chi2_against_weighted(x, weights, accepted, w_max, bins):
    """chi2 and p-value of the unweighted histogram of x against its expectation from the weights.

    Given the sample, bin b holds a sum of independent Bernoulli(a_i), a_i = min(1, w_i/w_max), with mean
    sum a_i (the weighted histogram / w_max) and variance sum a_i (1 - a_i).
    """
    a = np.minimum(weights / w_max, 1.0)
    expected = np.histogram(x, bins, weights=a)[0]
    variance = np.histogram(x, bins, weights=a * (1 - a))[0]
    observed = np.histogram(x[accepted], bins)[0]
    ok = variance > 0
    assert np.all(observed[~ok] == np.round(expected[~ok]))
    chi2 = float(np.sum((observed[ok] - expected[ok]) ** 2 / variance[ok]))
    return chi2, float(stats.chi2.sf(chi2, int(ok.sum())))


def test_unweighted_histogram_matches_weighted_histogram():
    rng = np.random.default_rng(21)
    x = rng.random(200_000)
    w = np.where(x > 0.1, 1.0 + 30.0 * (x - 0.1) ** 2, 0.0)  # a cut below 0.1, then rising steeply
    w_max = float(w.max())
    bins = np.linspace(0.0, 1.0, 26)
    idx, info = unweight(w, w_max, seed_or_rng=22)
    assert info["n_overweight"] == 0
    chi2, pvalue = _chi2_against_weighted(x, w, idx, w_max, bins)
    assert pvalue > 1e-3, f"chi2 = {chi2:.1f} for {len(bins) - 1} bins"
    # the same test rejects unweighting with the wrong acceptance
    flat, _ = unweight(np.where(w > 0, w.mean(), 0.0), w_max, seed_or_rng=22)  # uniform acceptance
    assert _chi2_against_weighted(x, w, flat, w_max, bins)[1] < 1e-10
    sqrt_acc, _ = unweight(np.sqrt(w * w_max), w_max, seed_or_rng=22)  # acceptance sqrt(w / w_max)
    assert _chi2_against_weighted(x, w, sqrt_acc, w_max, bins)[1] < 1e-10


# ---------------------------------------------------------------------------------------------------------
# write_lhe


@pytest.fixture(scope="module")
def ee_mumu_events():
    proc = load_process("ee_mumu")
    mapping = make_mapping(proc, 91.0, "two_body")
    u = np.random.default_rng(31).random((300, mapping.ndim))
    momenta, log_weight = mapping.map(u)
    assert np.all(np.isfinite(np.asarray(log_weight)))
    return proc, np.asarray(momenta)


@pytest.mark.parametrize("suffix", [".lhe", ".lhe.gz"])
def test_write_lhe_round_trip(tmp_path, ee_mumu_events, suffix):
    proc, momenta = ee_mumu_events
    path = tmp_path / f"events{suffix}"
    header = "process: ee_mumu\nsqrt_s: 91.0\ntricky: ']]>' & <tags>\n"
    out = write_lhe(
        path,
        momenta,
        proc.pdg_codes,
        xsec_pb=1992.3456789,
        xsec_err_pb=1.25,
        sqrt_s=91.0,
        process_id=7,
        header_text=header,
        comment="flowint test -- unweighted ee -> mumu",
    )
    assert out == path
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left behind
    if suffix.endswith(".gz"):
        with gzip.open(path, "rt") as fh:
            assert fh.readline().startswith('<LesHouchesEvents version="3.0">')

    lhe = pylhe.LHEFile.fromfile(path)
    events = list(lhe.events)
    assert len(events) == len(momenta)
    init = lhe.init.initInfo
    assert (init.beamA, init.beamB) == tuple(proc.pdg_codes[:2])
    assert (init.energyA, init.energyB) == (45.5, 45.5)
    assert init.weightingStrategy == 3 and init.numProcesses == 1
    (procinfo,) = lhe.init.procInfo
    assert (procinfo.xSection, procinfo.error, procinfo.procId) == (1992.3456789, 1.25, 7)
    assert lhe.header.extra_elements[0].tag == "flowint"
    assert lhe.header.extra_elements[0].text.strip() == header.strip()

    got = np.array([[[p.e, p.px, p.py, p.pz] for p in ev.particles] for ev in events])
    np.testing.assert_allclose(got, momenta, rtol=1e-14, atol=0)
    for ev in events:
        assert [int(p.id) for p in ev.particles] == list(proc.pdg_codes)
        assert [int(p.status) for p in ev.particles] == [-1, -1, 1, 1]
        assert [(int(p.mother1), int(p.mother2)) for p in ev.particles] == [(0, 0), (0, 0), (1, 2), (1, 2)]
        assert all(p.color1 == p.color2 == 0 for p in ev.particles)
        assert [p.m for p in ev.particles] == [0.0] * 4  # massless: E^2 - p^2 rounding written as 0
        info = ev.eventinfo
        assert (info.nparticles, info.pid, info.weight, info.scale) == (4, 7, 1992.3456789, 91.0)
        assert (info.aqed, info.aqcd) == (1 / 132.507, 0.118)

    init2 = read_lhe_init(path)
    assert init2["xsec_pb"] == 1992.3456789 and init2["xsec_err_pb"] == 1.25
    assert init2["beam_ids"] == (-11, 11) and init2["beam_energies"] == (45.5, 45.5)
    assert init2["idwtup"] == 3 and init2["n_events"] == len(momenta) and init2["process_id"] == 7
    own = read_lhe(path, proc)  # the project's own reader agrees
    np.testing.assert_array_equal(own.momenta, momenta)
    np.testing.assert_array_equal(own.weights, np.full(len(momenta), 1992.3456789))


def test_write_lhe_masses_options(tmp_path):
    proc = load_process("uux_ttx")
    mapping = make_mapping(proc, 500.0, "two_body")
    momenta = np.asarray(mapping.map(np.random.default_rng(32).random((20, mapping.ndim)))[0])
    path = tmp_path / "tt.lhe"
    hel = np.tile([1.0, -1.0, 1.0, -1.0], (20, 1))
    colours = np.tile([[501, 0], [0, 501], [501, 0], [0, 501]], (20, 1, 1))
    weights = np.full(20, -3.5)
    write_lhe(
        path,
        momenta,
        proc.pdg_codes,
        xsec_pb=3.5,
        xsec_err_pb=0.1,
        sqrt_s=500.0,
        helicities=hel,
        colours=colours,
        event_weight=weights,
        scale=173.0,
        aqcd=0.1,
    )
    events = list(pylhe.LHEFile.fromfile(path).events)
    masses = np.array([[p.m for p in ev.particles] for ev in events])
    np.testing.assert_allclose(masses[:, 2:], 173.0, rtol=1e-9)  # from E^2 - p^2 of the top momenta
    assert np.all(masses[:, :2] == 0.0)
    assert [p.spin for p in events[0].particles] == [1.0, -1.0, 1.0, -1.0]
    assert [(p.color1, p.color2) for p in events[0].particles] == [(501, 0), (0, 501), (501, 0), (0, 501)]
    assert (events[0].eventinfo.weight, events[0].eventinfo.scale, events[0].eventinfo.aqcd) == (
        -3.5,
        173.0,
        0.1,
    )
    assert read_lhe_init(path)["xmax"] == 3.5
    write_lhe(
        path, momenta, proc.pdg_codes, masses=proc.external_masses, xsec_pb=3.5, xsec_err_pb=0.1, sqrt_s=500.0
    )
    events = list(pylhe.LHEFile.fromfile(path).events)
    assert all([p.m for p in ev.particles] == [0.0, 0.0, 173.0, 173.0] for ev in events)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tt.lhe"]  # overwritten in place, nothing left over


def test_write_lhe_decay(tmp_path):
    # a 1 -> 2 decay at rest (ninitial=1): Z -> mu+ mu-
    m_z, e = 91.1876, 91.1876 / 2
    momenta = np.array([[[m_z, 0.0, 0.0, 0.0], [e, 0.0, 0.0, e], [e, 0.0, 0.0, -e]]])
    path = tmp_path / "decay.lhe"
    write_lhe(path, momenta, [23, -13, 13], ninitial=1, xsec_pb=2.4952, xsec_err_pb=0.0, sqrt_s=m_z)
    lhe = pylhe.LHEFile.fromfile(path)
    (event,) = list(lhe.events)
    assert [(p.status, p.mother1, p.mother2) for p in event.particles] == [(-1, 0, 0), (1, 1, 1), (1, 1, 1)]
    assert [p.m for p in event.particles] == [m_z, 0.0, 0.0]
    assert read_lhe_init(path)["beam_ids"] == (23, 0)
    assert read_lhe_init(path)["beam_energies"] == (m_z, 0.0)
    with pytest.raises(ValueError, match="ninitial: expected 1 or 2, got 3"):
        write_lhe(path, momenta, [23, -13, 13], ninitial=3, xsec_pb=1.0, xsec_err_pb=0.0, sqrt_s=m_z)


def test_write_lhe_failure_leaves_no_partial_file(tmp_path, ee_mumu_events, monkeypatch):
    proc, momenta = ee_mumu_events
    path = tmp_path / "events.lhe.gz"
    kwargs = {"xsec_pb": 1.0, "xsec_err_pb": 0.1, "sqrt_s": 91.0}
    write_lhe(path, momenta[:5], proc.pdg_codes, **kwargs)
    before = path.read_bytes()
    real = _events._event_blocks

    def failing(table, template, chunk=4096):
        yield from real(table[:2], template, chunk)
        raise RuntimeError("disk full")

    monkeypatch.setattr(_events, "_event_blocks", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        write_lhe(path, momenta, proc.pdg_codes, **kwargs)
    assert path.read_bytes() == before  # the old file is untouched
    new = tmp_path / "new.lhe"
    with pytest.raises(RuntimeError, match="disk full"):
        write_lhe(new, momenta, proc.pdg_codes, **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.lhe.gz"]  # no partial or temporary file


def test_write_lhe_bad_input(tmp_path, ee_mumu_events):
    proc, momenta = ee_mumu_events
    path = tmp_path / "bad.lhe"
    kwargs = {"xsec_pb": 1.0, "xsec_err_pb": 0.1, "sqrt_s": 91.0}
    with pytest.raises(
        ValueError, match=r"momenta: expected shape \(N, 4, 4\) for 4 pdg_codes, got \(300, 3, 4\)"
    ):
        write_lhe(path, momenta[:, :3], proc.pdg_codes, **kwargs)
    with pytest.raises(ValueError, match=r"momenta: expected shape \(N, 5, 4\) .* got \(300, 4, 4\)"):
        write_lhe(path, momenta, (*proc.pdg_codes, 22), **kwargs)
    with pytest.raises(ValueError, match=r"momenta: expected shape .* got \(4, 4\)"):
        write_lhe(path, momenta[0], proc.pdg_codes, **kwargs)
    bad = momenta.copy()
    bad[3, 2, 1] = np.nan
    bad[5, 0, 0] = np.inf
    with pytest.raises(ValueError, match="momenta: 2 entries are not finite"):
        write_lhe(path, bad, proc.pdg_codes, **kwargs)
    with pytest.raises(ValueError, match=r"masses: expected shape \(4,\)"):
        write_lhe(path, momenta, proc.pdg_codes, masses=[0.0, 0.0], **kwargs)
    with pytest.raises(ValueError, match=r"colours: expected shape \(300, 4, 2\)"):
        write_lhe(path, momenta, proc.pdg_codes, colours=np.zeros((300, 4), dtype=int), **kwargs)
    with pytest.raises(ValueError, match="sqrt_s: expected a number > 0"):
        write_lhe(path, momenta, proc.pdg_codes, xsec_pb=1.0, xsec_err_pb=0.1, sqrt_s=0.0)
    with pytest.raises(ValueError, match=r"event_weight: expected a number or shape \(300,\)"):
        write_lhe(path, momenta, proc.pdg_codes, event_weight=np.ones(3), **kwargs)
    assert list(tmp_path.iterdir()) == []  # validated before anything is written


def test_unweighting_efficiency_never_exceeds_one_when_a_few_weights_dominate():
    w = np.full(100000, 1e-6)
    w[:3] = [1e4, 3e3, 2e3]  # sigma carried by three points: replica maxima mostly miss them
    s = weight_summary(w, key_or_seed=1)
    assert s["w_max"] == s["w_max_abs"] == 1e4
    assert 0 < s["unweighting_efficiency"] <= 1
