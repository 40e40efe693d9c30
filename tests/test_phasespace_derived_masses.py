"""Resonances whose mass is a derived parameter (the W: MW from MZ, G_F, α_EW) follow the parameters."""

import jax
import jax.numpy as jnp
import numpy as np

from flowint.madjax import load_process
from flowint.phasespace import make_mapping


def _mass(p):
    return np.sqrt(np.maximum(p[..., 0] ** 2 - np.sum(p[..., 1:] ** 2, axis=-1), 0))


def test_w_window_follows_the_derived_w_mass():
    proc = load_process("uux_ttx_chain_bbqqqq")
    params = {("mass", 23): 92.5}
    mw = float(jnp.real(proc.model_parameters(params)["mdl_MW"]))
    ww = proc.default_params()[("decay", 24)]
    assert abs(mw - 80.419) > 1.0  # a real shift, larger than the W width
    u = jax.random.uniform(jax.random.PRNGKey(3), (4000, 14))
    for kind in ("decay_chain", "flat"):
        mapping = make_mapping(proc, 1000.0, kind)
        if kind == "decay_chain":
            momenta, _ = mapping.map(u, params)
            m_w = _mass(np.asarray(momenta[:, 3] + momenta[:, 4]))
            assert np.all(np.abs(m_w - mw) <= 15 * ww * (1 + 1e-12))
            assert np.median(np.abs(m_w - mw)) < ww  # Breit-Wigner peaked at the shifted mass
            u_back, _ = mapping.inverse(momenta, params)
            np.testing.assert_allclose(np.asarray(u_back), np.asarray(u), atol=1e-9)
        else:
            momenta, _ = mapping.map(u)
            keep = np.asarray(mapping.window_cuts(momenta, params))
            m_w = _mass(np.asarray(momenta[:, 3] + momenta[:, 4]))
            m_wm = _mass(np.asarray(momenta[:, 6] + momenta[:, 7]))
            inside = (np.abs(m_w - mw) <= 15 * ww) & (np.abs(m_wm - mw) <= 15 * ww)
            assert not np.any(keep & ~inside)
