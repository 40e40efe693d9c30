"""Normalizing flows on the unit hypercube [0, 1]^d (uniform base), as importance-sampling proposals.

Two families behind one interface (:class:`Flow`, built by :func:`make_flow`):

* ``"smooth"`` — coupling layers whose elementwise maps are the C^∞ mixtures of smooth steps of Köhler,
  Krämer & Noé, "Smooth Normalizing Flows", arXiv:2110.00351; one direction closed-form, the other by a
  bracketed Newton solver with implicit (inverse-function-theorem) gradients;
* ``"spline"`` — the same coupling layers with distrax's rational-quadratic splines (C¹ only).

Every flow exposes ``init(key) -> params``, ``sample(params, key, n) -> (u, log_q)``,
``log_prob(params, u) -> log_q`` and the bijector pair ``forward_and_log_det`` / ``inverse_and_log_det``.
:mod:`flowint.flows.toys` holds toy integrands with exact integrals (ring, camel, narrow peaks).
"""

from . import toys
from ._coupling import Conditioner, CouplingStack, coupling_masks
from ._flow import KINDS, Flow, default_n_layers, make_flow
from ._smooth import SmoothMap, SmoothMapParams, smooth_map_forward, smooth_map_inverse, smooth_step
from ._spline import RationalQuadraticMap

__all__ = [
    "KINDS",
    "Conditioner",
    "CouplingStack",
    "Flow",
    "RationalQuadraticMap",
    "SmoothMap",
    "SmoothMapParams",
    "coupling_masks",
    "default_n_layers",
    "make_flow",
    "smooth_map_forward",
    "smooth_map_inverse",
    "smooth_step",
    "toys",
]
