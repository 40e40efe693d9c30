"""Training losses for flow proposals of an unnormalised target p on [0, 1]^d.

Pure functions of (flow parameters, batch) returning a scalar, all computed in log space:

* :func:`forward_kl` — KL(p̂ ‖ q) from importance-weighted samples of any proposal (current flow, replay
  buffer, VEGAS, unweighted external events);
* :func:`reverse_kl` — KL(q ‖ p̂) with pathwise gradients through flow samples (uses ∇_u log p);
* :func:`mixed_loss` — L_fKL + ω L_rKL, with :func:`omega_schedule` for ω(step);
* :func:`variance_loss` — the MadNIS variance loss χ²(p̂ ‖ q) = Var_q[p/q] / Z².

References: Köhler, Krämer & Noé, arXiv:2110.00351; Heimel et al. (MadNIS), arXiv:2212.06172 and
arXiv:2311.01548.
"""

from ._kl import forward_kl, reverse_kl
from ._mixed import mixed_loss, omega_schedule
from ._variance import variance_loss
from ._weights import log_mean_exp, log_weights, normalised_weights, relative_std, safe_logsumexp

__all__ = [
    "forward_kl",
    "log_mean_exp",
    "log_weights",
    "mixed_loss",
    "normalised_weights",
    "omega_schedule",
    "relative_std",
    "reverse_kl",
    "safe_logsumexp",
    "variance_loss",
]
