r"""The variance loss of MadNIS (Heimel et al., arXiv:2212.06172; buffered training arXiv:2311.01548).

The quantity importance sampling actually pays for is the variance of the weights p/q under q,

    Var_q[p/q] = ∫ p²/q − Z²,

and dividing by the unknown Z² = (∫ p)² makes it scale-free: L = Var_q[p/q] / Z² = χ²(p̂ ‖ q) =
E_q[(p̂/q)²] − 1, the squared relative standard deviation of the weights (0 iff q = p̂). With samples from
any proposal g (as for the forward KL: current flow with stopped gradients, a replay buffer, VEGAS, ...):

    L ≈ (1/N) Σ_i p̂_i² / (q_i g_i) − 1,    ∇_θ L = −E_g[(p̂²/(q g)) ∇_θ log q].

Normalisation: p̂ = p / Ẑ with log Ẑ = log((1/N) Σ p_i/g_i) from the same batch (gradient stopped), or
``log_norm`` if log Z is known. Everything up to the final exponential is in log space (log-sum-exp), so
weights spanning hundreds of orders of magnitude do not overflow; zero-weight samples (log p = −inf)
contribute exactly zero.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._kl import LogQFn, Params, _check_batch
from ._weights import log_mean_exp, log_weights

Array = jax.Array


def variance_loss(
    log_q_fn: LogQFn,
    params: Params,
    u: Array,
    log_p: Array,
    log_g: Array,
    *,
    log_norm: Array | float | None = None,
) -> Array:
    """χ²(p̂ ‖ q_θ) = Var_q[p/q] / Z², the relative variance of the weights (see module docstring).

    Args mirror :func:`flowint.losses.forward_kl`. Returns a scalar ≥ −1 (≈ 0 at q = p̂); 0 with zero
    gradient if every weight vanishes.
    """
    u, log_p, log_g = _check_batch(u, log_p, log_g)
    log_w = log_weights(log_p, log_g)
    ok = jnp.isfinite(log_w)
    log_z = log_mean_exp(log_w) if log_norm is None else jnp.asarray(log_norm, dtype=log_w.dtype)
    log_z = jax.lax.stop_gradient(jnp.where(jnp.isfinite(log_z), log_z, 0.0))
    log_q = log_q_fn(params, u)
    # log(p̂² / (q g)) = 2 (log w − log Z) + log g − log q
    log_r = jnp.where(
        ok,
        2.0 * (jnp.where(ok, log_w, 0.0) - log_z) + jnp.where(ok, log_g, 0.0) - jnp.where(ok, log_q, 0.0),
        -jnp.inf,
    )
    return jnp.where(jnp.any(ok), jnp.exp(log_mean_exp(log_r)) - 1.0, 0.0)
