"""Phase space on the unit hypercube: flat and resonance-aware mappings with exact inverses, cuts, integrands.

Public API (implementation in private modules):

* :func:`make_mapping` ``(process, sqrt_s, kind, bwcutoff=15.0)`` with ``kind`` in ``"flat"``,
  ``"decay_chain"``, ``"two_body"``; the classes :class:`PhaseSpaceMapping`, :class:`FlatMapping`,
  :class:`TwoBodyMapping`, :class:`DecayChainMapping`. Every mapping has ``ndim``,
  ``map(u, params=None) -> (momenta, log_weight)`` and ``inverse(momenta, params=None) -> (u, log_weight)``.
* Cuts: :func:`pt_min`, :func:`eta_max`, :func:`delta_r_min`, :func:`mass_window`,
  :func:`resonance_windows`, :func:`make_cuts`, :class:`Cut`, :class:`Cuts`.
* :func:`integrand` ``(process, mapping, params=None, cuts=None)``: dsigma/du in pb and its log.
* :class:`MadJax`: the seed's interface (``MadJax(name).matrix_element(E_cm, process_name)``).
* Explicit descriptions: :class:`ProcessDescription`, :class:`External`, :class:`Resonance`.
* LHE input: :func:`read_lhe_momenta`.
"""

from ._cuts import Cut, Cuts, delta_r_min, eta_max, make_cuts, mass_window, pt_min, resonance_windows
from ._mappings import (
    MAPPING_KINDS,
    DecayChainMapping,
    FlatMapping,
    PhaseSpaceMapping,
    TwoBodyMapping,
    make_mapping,
)
from ._tree import External, ProcessDescription, Resonance

__all__ = [
    "MAPPING_KINDS",
    "Cut",
    "Cuts",
    "DecayChainMapping",
    "External",
    "FlatMapping",
    "PhaseSpaceMapping",
    "ProcessDescription",
    "Resonance",
    "TwoBodyMapping",
    "delta_r_min",
    "eta_max",
    "make_cuts",
    "make_mapping",
    "mass_window",
    "pt_min",
    "resonance_windows",
]

from ._integrand import GEV2_TO_PB, Integrand, IntegrandPoint, flux_factor, integrand  # noqa: E402

__all__ += ["GEV2_TO_PB", "Integrand", "IntegrandPoint", "flux_factor", "integrand"]

from ._lhe import LHEEvents, read_lhe, read_lhe_momenta  # noqa: E402
from ._seed import MadJax  # noqa: E402

__all__ += ["LHEEvents", "MadJax", "read_lhe", "read_lhe_momenta"]
