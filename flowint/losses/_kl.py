r"""Forward and reverse Kullback–Leibler losses for an unnormalised target p on [0, 1]^d.

Notation: p(u) ≥ 0 is the integrand (unnormalised target), Z = ∫ p its unknown integral, p̂ = p / Z, q_θ
the flow. Everything is computed from log densities; weights are formed by log-sum-exp.

Forward KL, KL(p̂ ‖ q) = E_p̂[log p̂ − log q]
    Mass-covering; needs samples of p̂, which we never have. Samples u_i come instead from any proposal g
    with known log density (the current flow with gradients stopped, an earlier flow kept in a replay
    buffer as in MadNIS' buffered training, arXiv:2311.01548, a VEGAS grid, or unweighted external events),
    and are reweighted with w_i = p(u_i) / g(u_i). Only log q depends on θ:

        ∇_θ KL = −E_g[(p̂/g) ∇_θ log q].

    Normalisation: by default self-normalised, w̃_i = w_i / Σ_j w_j and log Ẑ = log((1/N) Σ w_i), both
    by log-sum-exp; the value Σ_i w̃_i (log p_i − log Ẑ − log q_i) is then consistent (bias O(1/N)).
    With ``log_norm`` = log Z known (or an external running estimate), the weights are w_i / (N Z) and the
    estimator is exactly unbiased for KL(p̂ ‖ q) and its gradient.
    Unweighted events (distributed as p̂, e.g. MadGraph LHE events mapped to the cube): pass
    log_p = log_g = 0. The value is then the cross-entropy −⟨log q⟩ = KL(p̂ ‖ q) + H(p̂).

Reverse KL, KL(q ‖ p̂) = E_q[log q − log p] + log Z
    Mode-seeking; samples from the flow itself, u = T_θ(z), with the pathwise (reparameterisation)
    gradient through u, which is where ∇_u log p — the differentiable matrix element — enters:

        ∇_θ KL = E_z[∇_θ log q_θ(T_θ(z)) − ∇_u log p(u) · ∂_θ T_θ(z)].

    Normalisation: log Z does not depend on θ, so it only shifts the value. It is estimated from the same
    batch by log Ẑ = log((1/N) Σ p/q) (log-sum-exp, gradient stopped), which makes the value an estimate of
    the KL itself (0 when q = p̂, exactly so if all weights are equal).
    Zero-weight samples (p = 0): the true reverse KL is infinite when q puts mass where p vanishes. Such
    samples are excluded from the mean (value and gradient), so the estimator targets KL(q_S ‖ p̂) +
    log q(S) with S = {p > 0} and q_S the flow restricted to S; a pathwise gradient cannot see the boundary
    of S anyway. Pushing mass out of S is left to the forward KL of the mixed loss, where those samples
    carry zero weight. The gradient of ``log_p_fn`` is not evaluated at those samples, so a target written
    as log(0) does not turn the gradient into NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ._weights import log_mean_exp, log_weights, normalised_weights

Array = jax.Array
Params = Any
LogQFn = Callable[[Params, Array], Array]
SampleFn = Callable[[Params, Array, int], tuple[Array, Array]]
LogPFn = Callable[[Array], Array]


def _check_batch(u: Array, log_p: Array, log_g: Array) -> tuple[Array, Array, Array]:
    u, log_p, log_g = jnp.asarray(u), jnp.asarray(log_p), jnp.asarray(log_g)
    if u.ndim != 2:
        raise ValueError(f"u must have shape (n, ndim), got {tuple(u.shape)}")
    n = u.shape[0]
    log_p = jnp.broadcast_to(log_p, (n,)) if log_p.ndim == 0 else log_p
    log_g = jnp.broadcast_to(log_g, (n,)) if log_g.ndim == 0 else log_g
    if log_p.shape != (n,) or log_g.shape != (n,):
        raise ValueError(
            f"log_p and log_g must have shape ({n},) to match u, got {tuple(log_p.shape)} and {tuple(log_g.shape)}"
        )
    return u, jax.lax.stop_gradient(log_p), jax.lax.stop_gradient(log_g)


def forward_kl(
    log_q_fn: LogQFn,
    params: Params,
    u: Array,
    log_p: Array,
    log_g: Array,
    *,
    log_norm: Array | float | None = None,
) -> Array:
    """Importance-weighted forward KL, KL(p̂ ‖ q_θ), from samples of a proposal g (see module docstring).

    Args:
        log_q_fn: ``log_q_fn(params, u) -> (n,)``, e.g. ``flow.log_prob``.
        params: flow parameters (the only differentiated argument).
        u: samples, shape (n, d), drawn from g.
        log_p: log of the unnormalised target at u, shape (n,) or scalar; −inf for p = 0 (zero weight).
        log_g: log density of the proposal at u (data: gradients are stopped).
        log_norm: log Z if known; None for self-normalised weights.

    Returns:
        Scalar estimate of KL(p̂ ‖ q); 0 (with zero gradient) if every weight vanishes.
    """
    u, log_p, log_g = _check_batch(u, log_p, log_g)
    log_w = log_weights(log_p, log_g)
    ok = jnp.isfinite(log_w)
    if log_norm is None:
        log_z = log_mean_exp(log_w)
        weights = normalised_weights(log_w)
    else:
        log_z = jnp.asarray(log_norm, dtype=log_w.dtype)
        weights = jnp.where(ok, jnp.exp(jnp.where(ok, log_w, 0.0) - log_z), 0.0) / u.shape[0]
    log_z = jnp.where(jnp.isfinite(log_z), log_z, 0.0)
    log_q = log_q_fn(params, u)
    term = jnp.where(ok, jnp.where(ok, log_p, 0.0) - log_z - jnp.where(ok, log_q, 0.0), 0.0)
    return jnp.sum(weights * term)


def _zero_gradient_where_target_vanishes(log_p_fn: LogPFn) -> LogPFn:
    """log_p_fn with its input cotangent zeroed at samples where log p is not finite (no 0·inf = NaN)."""

    @jax.custom_vjp
    def guarded(u):
        return log_p_fn(u)

    def fwd(u):
        log_p, vjp = jax.vjp(log_p_fn, u)
        return log_p, (log_p, vjp)

    def bwd(res, ct):
        log_p, vjp = res
        ok = jnp.isfinite(log_p)
        (ct_u,) = vjp(jnp.where(ok, ct, 0.0))
        ok = ok.reshape(ok.shape + (1,) * (ct_u.ndim - ok.ndim))
        return (jnp.where(ok, ct_u, 0.0),)

    guarded.defvjp(fwd, bwd)
    return guarded


def reverse_kl(sample_fn: SampleFn, log_p_fn: LogPFn, params: Params, key: Array, n: int) -> Array:
    """Reverse KL, KL(q_θ ‖ p̂), on n fresh flow samples with pathwise gradients (see module docstring).

    Args:
        sample_fn: ``sample_fn(params, key, n) -> (u, log_q)``, differentiable in params (``flow.sample``).
        log_p_fn: ``log_p_fn(u) -> (n,)``, log of the unnormalised target, differentiable in u;
            −inf where p = 0.
        params: flow parameters.
        key: PRNG key for the samples.
        n: batch size (static).

    Returns:
        Scalar estimate of KL(q ‖ p̂) (log Z estimated in-batch, gradient stopped); 0 if p vanishes on
        every sample.
    """
    u, log_q = sample_fn(params, key, n)
    log_p = _zero_gradient_where_target_vanishes(log_p_fn)(u)
    if log_p.shape != log_q.shape:
        raise ValueError(f"log_p_fn must return shape {tuple(log_q.shape)}, got {tuple(log_p.shape)}")
    ok = jnp.isfinite(log_p)
    n_ok = jnp.sum(ok)
    diff = jnp.where(ok, log_q - jnp.where(ok, log_p, 0.0), 0.0)
    log_z = jax.lax.stop_gradient(log_mean_exp(log_weights(log_p, log_q)))
    log_z = jnp.where(jnp.isfinite(log_z), log_z, 0.0)
    return jnp.where(n_ok > 0, jnp.sum(diff) / jnp.maximum(n_ok, 1) + log_z, 0.0)
