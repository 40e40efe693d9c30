"""Phase space on the unit hypercube: flat and resonance-aware mappings with exact inverses, cuts, integrands.

Public API (implementation in private modules):

* :func:`make_mapping` ``(process, sqrt_s, kind, bwcutoff=15.0)`` with ``kind`` in ``"flat"``,
  ``"decay_chain"``, ``"two_body"``; the classes :class:`PhaseSpaceMapping`, :class:`FlatMapping`,
  :class:`TwoBodyMapping`, :class:`DecayChainMapping`. Every mapping has ``ndim``,
  ``map(u, params=None) -> (momenta, log_weight)`` and ``inverse(momenta, params=None) -> (u, log_weight)``,
  ``log_weight`` = log dPhi/du including the (2 pi) factors of the Lorentz-invariant phase space.
* Cuts: :func:`pt_min`, :func:`eta_max`, :func:`delta_r_min`, :func:`mass_window`,
  :func:`resonance_windows`, :func:`make_cuts`, :class:`Cut`, :class:`Cuts`.
* :func:`integrand` ``(process, mapping, params=None, cuts=None)``: dsigma/du in pb (``f(u, params)``),
  its log (``f.log``) and everything at once (``f.evaluate``); :func:`flux_factor`, ``GEV2_TO_PB``.
* :class:`MadJax`: the seed's interface (``MadJax(name).matrix_element(E_cm, process_name)``), also
  reachable as ``flowint.madjax.MadJax``.
* Explicit descriptions: :class:`ProcessDescription`, :class:`External`, :class:`Resonance`.
* MadGraph events: :func:`read_lhe`, :func:`read_lhe_momenta`.

This package imports ``flowint.madjax`` only where a process is loaded by name; it never imports a
higher layer (flows, losses, integrators).
"""

from ._cuts import Cut, Cuts, delta_r_min, eta_max, make_cuts, mass_window, pt_min, resonance_windows
from ._integrand import GEV2_TO_PB, Integrand, IntegrandPoint, flux_factor, integrand
from ._lhe import LHEEvents, read_lhe, read_lhe_momenta
from ._mappings import (
    MAPPING_KINDS,
    DecayChainMapping,
    FlatMapping,
    PhaseSpaceMapping,
    TwoBodyMapping,
    make_mapping,
)
from ._seed import MadJax
from ._tree import External, ProcessDescription, Resonance

__all__ = [
    "GEV2_TO_PB",
    "MAPPING_KINDS",
    "Cut",
    "Cuts",
    "DecayChainMapping",
    "External",
    "FlatMapping",
    "Integrand",
    "IntegrandPoint",
    "LHEEvents",
    "MadJax",
    "PhaseSpaceMapping",
    "ProcessDescription",
    "Resonance",
    "TwoBodyMapping",
    "delta_r_min",
    "eta_max",
    "flux_factor",
    "integrand",
    "make_cuts",
    "make_mapping",
    "mass_window",
    "pt_min",
    "read_lhe",
    "read_lhe_momenta",
    "resonance_windows",
]
