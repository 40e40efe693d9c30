r"""Log-space helpers for importance weights that may be exactly zero.

A sample whose target density vanishes (an event failing cuts) has log p = −inf and weight w = 0. These
helpers keep such samples in the batch without ever forming 0·inf, inf − inf or 0/0, in values or in
gradients (the "double-where" pattern: every `where` branch is evaluated at a finite stand-in).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def log_weights(log_p: Array, log_g: Array) -> Array:
    """log w = log p − log g, and −inf wherever either is not finite (p = 0, or an invalid sample)."""
    log_p, log_g = jnp.asarray(log_p), jnp.asarray(log_g)
    ok = jnp.isfinite(log_p) & jnp.isfinite(log_g)
    return jnp.where(ok, jnp.where(ok, log_p, 0.0) - jnp.where(ok, log_g, 0.0), -jnp.inf)


def safe_logsumexp(x: Array) -> Array:
    """log Σ exp(x) over all entries; −inf (with zero gradient, no NaN) when every entry is −inf."""
    x = jnp.asarray(x)
    m = jax.lax.stop_gradient(jnp.max(x))
    m = jnp.where(jnp.isfinite(m), m, 0.0)
    s = jnp.sum(jnp.exp(x - m))
    positive = s > 0.0
    return jnp.where(positive, jnp.log(jnp.where(positive, s, 1.0)) + m, -jnp.inf)


def log_mean_exp(x: Array) -> Array:
    """log((1/N) Σ exp(x)), the log of a Monte-Carlo mean taken in log space (−inf if all are −inf)."""
    x = jnp.asarray(x)
    return safe_logsumexp(x) - jnp.log(x.size)


def normalised_weights(log_w: Array) -> Array:
    """Self-normalised weights w_i / Σ_j w_j from log w (softmax); all zeros if every weight is zero."""
    log_w = jnp.asarray(log_w)
    lse = safe_logsumexp(log_w)
    finite = jnp.isfinite(lse)
    return jnp.where(finite, jnp.exp(log_w - jnp.where(finite, lse, 0.0)), 0.0)


def relative_std(log_w: Array) -> Array:
    """Relative standard deviation σ_w / ⟨w⟩ of importance weights, from their logs (sample estimate).

    For w = p/q with u ~ q this is sqrt(χ²(p̂ ‖ q)), the per-sample relative error of the integral:
    the MC estimate of ∫p from N samples has relative uncertainty relative_std / sqrt(N).
    """
    log_w = jnp.asarray(log_w)
    log_m1 = log_mean_exp(log_w)
    log_m2 = log_mean_exp(2.0 * log_w)
    finite = jnp.isfinite(log_m1)
    ratio = jnp.exp(log_m2 - 2.0 * jnp.where(finite, log_m1, 0.0))
    return jnp.where(finite, jnp.sqrt(jnp.maximum(ratio - 1.0, 0.0)), jnp.nan)
