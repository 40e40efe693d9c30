"""MadGraph's own events mapped back to the cube and forward again, on every mapping that applies."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flowint  # noqa: F401
from flowint.madjax import load_process
from flowint.phasespace import make_mapping, read_lhe

LHE = Path(__file__).parent / "data" / "reference" / "lhe"

CASES = [
    ("ee_mumu_91GeV_1k.lhe.gz", "ee_mumu", 91.0, ("two_body", "flat", "decay_chain")),
    ("uux_ttx_500GeV_1k.lhe.gz", "uux_ttx", 500.0, ("two_body", "flat")),
    ("uux_ttx_chain_bbqqqq_1000GeV_1k.lhe.gz", "uux_ttx_chain_bbqqqq", 1000.0, ("decay_chain", "flat")),
]
PARAMS = [(f, name, rs, kind) for f, name, rs, kinds in CASES for kind in kinds]


@pytest.mark.parametrize("filename,name,sqrt_s,kind", PARAMS, ids=[f"{p[1]}-{p[3]}" for p in PARAMS])
def test_lhe_events_round_trip(filename, name, sqrt_s, kind):
    process = load_process(name)
    events = read_lhe(LHE / filename, process)
    p = jnp.asarray(events.momenta)
    assert p.shape == (1000, process.nexternal, 4)
    # the events are in the CM frame with beam 1 along +z, momenta printed to ~11 digits
    assert float(jnp.abs(p[:, 2:].sum(1) - p[:, :2].sum(1)).max()) < 1e-7 * sqrt_s
    mapping = make_mapping(process, sqrt_s, kind)
    u, lw = jax.jit(mapping.inverse)(p)
    assert bool(jnp.all((u >= 0) & (u <= 1))), "MadGraph events must land inside the cube"
    assert bool(jnp.all(jnp.isfinite(lw)))
    p2, lw2 = jax.jit(mapping.map)(u)
    # reproduced to the precision of the event file (the map restores exact conservation and masses)
    assert float(jnp.abs(p2 - p).max()) <= 2e-9 * sqrt_s
    np.testing.assert_allclose(np.asarray(lw2), np.asarray(lw), rtol=0, atol=1e-9)
    if kind == "flat":
        assert bool(mapping.window_cuts(p).all())  # MadEvent's events lie inside its own windows


def test_lhe_reader_header_and_errors(tmp_path):
    ev = read_lhe(LHE / "uux_ttx_chain_bbqqqq_1000GeV_1k.lhe.gz")
    assert ev.pdg_codes == (2, -2, 5, 2, -1, -5, -2, 1)  # intermediate t, W records are dropped
    assert ev.xsec_pb == pytest.approx(0.50877) and ev.xsec_error_pb == pytest.approx(0.0024327)
    with pytest.raises(ValueError, match="do not match the process"):
        read_lhe(LHE / "ee_mumu_91GeV_1k.lhe.gz", load_process("uux_ttx"))
    empty = tmp_path / "empty.lhe"
    empty.write_text("<LesHouchesEvents>\n</LesHouchesEvents>\n")
    with pytest.raises(ValueError, match="no <event> blocks"):
        read_lhe(empty)
