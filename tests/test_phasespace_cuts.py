"""Generation-level cuts on hand-made momenta (no matrix element involved)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flowint  # noqa: F401
from flowint.phasespace import Cuts, delta_r_min, eta_max, make_cuts, mass_window, pt_min, resonance_windows
from flowint.phasespace._cuts import as_cuts


def _massless(pt, eta, phi):
    return [pt * math.cosh(eta), pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)]


def _event(*finals):
    beams = [[50.0, 0, 0, 50.0], [50.0, 0, 0, -50.0]]
    return jnp.asarray([beams + [list(f) for f in finals]], dtype=jnp.float64)


def test_pt_eta_delta_r_and_mass_window():
    p = _event(_massless(30.0, 0.5, 0.0), _massless(10.0, 3.0, 0.2), _massless(40.0, 0.6, 0.1))
    assert bool(pt_min(20.0, [2, 4])(p)[0]) and not bool(pt_min(20.0, [2, 3])(p)[0])
    assert bool(eta_max(2.5, [2, 4])(p)[0]) and not bool(eta_max(2.5, 3)(p)[0])
    # Delta R(2, 4) = sqrt(0.1^2 + 0.1^2) = 0.141
    assert bool(delta_r_min(0.1, [2, 4])(p)[0]) and not bool(delta_r_min(0.2, [2, 4])(p)[0])
    q = p[0, 2] + p[0, 4]
    m = float(jnp.sqrt(q[0] ** 2 - jnp.sum(q[1:] ** 2)))
    assert bool(mass_window([2, 4], low=m - 0.01, high=m + 0.01)(p)[0])
    assert not bool(mass_window([2, 4], high=m - 0.01)(p)[0])


def test_degenerate_momenta_give_no_nan():
    # a zero momentum and a particle along the beam: pT = 0, eta infinite
    p = _event([0.0, 0.0, 0.0, 0.0], [20.0, 0.0, 0.0, 20.0], _massless(30.0, 0.0, 1.0))
    cuts = make_cuts(
        {
            "pt_min": {"value": 1.0, "particles": [4]},
            "eta_max": {"value": 2.0, "particles": [3, 4]},
            "delta_r_min": {"value": 0.4, "particles": [2, 3, 4]},
        }
    )
    assert not bool(cuts(p)[0])
    g = jax.grad(lambda x: jnp.sum(jnp.where(cuts(x), x, 0.0)))(p)
    assert np.all(np.isfinite(np.asarray(g)))


def test_make_cuts_forms_and_errors():
    spec = {
        "pt_min": [{"value": 20.0, "particles": [2]}, {"value": 10.0, "particles": [3]}],
        "eta_max": {"value": 2.5, "particles": [2, 3]},
    }
    assert len(make_cuts(spec)) == 3
    assert len(as_cuts([("pt_min", {"value": 1.0, "particles": [2]})])) == 1
    assert len(as_cuts([pt_min(1.0, 2), Cuts((eta_max(1.0, 2),))])) == 2
    assert len(as_cuts(None)) == 0 and len(as_cuts(spec)) == 3
    with pytest.raises(ValueError, match="unknown cut name 'ptmin'"):
        make_cuts({"ptmin": {"value": 1.0, "particles": [2]}})
    with pytest.raises(ValueError, match="at least two particles"):
        delta_r_min(0.4, [2])


def test_resonance_windows_from_a_decay_chain():
    from flowint.phasespace import ProcessDescription

    chain = {
        "initial": [0, 1],
        "final": [
            {
                "name": "Z",
                "pdg": 23,
                "mass": 91.0,
                "width": 2.0,
                "decays": [{"external": 2}, {"external": 3}],
            },
            {"external": 4},
        ],
    }
    desc = ProcessDescription(external_masses=(0.0,) * 5, decay_chain=chain)
    windows = resonance_windows(desc, bwcutoff=2.0)
    assert len(windows) == 1
    inside = _event([45.0, 0, 0, 45.0], [45.0, 0, 0, -45.0], [0.0, 0, 0, 0])  # m(2,3) = 90
    outside = _event([50.0, 0, 0, 50.0], [50.0, 0, 0, -50.0], [0.0, 0, 0, 0])  # m = 100 > 91 + 4
    assert bool(windows(inside)[0]) and not bool(windows(outside)[0])
