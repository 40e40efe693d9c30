r"""Toy integrands on [0, 1]^d with exactly known integrals, to check and compare proposals.

Each target is a :class:`ToyTarget` with ``log_p(u) -> (n,)`` (log of an integrand p ≥ 0, points of shape
(n, ndim)), its integral Z = ∫ p and the relative standard deviation of the weights p/1 under uniform
sampling, sqrt(∫p² / Z² − 1), both in closed form (error functions), so the uniform baseline needs no
Monte Carlo (whose estimate of a heavy-tailed variance would be far too low).

* :func:`ring` — d = 2, a Gaussian ring around the centre of the square;
* :func:`camel` — two narrow Gaussians on the diagonal (the classic test of VEGAS, whose per-axis grid
  turns the 2 peaks into 2^d);
* :func:`narrow_peaks` — a product of narrow 1-D Gaussians at different positions (separable).

A proposal q has weights w = p/q; the relative standard deviation of w under q, sqrt(χ²(p̂ ‖ q)), is the
per-sample relative error of the integral (``flowint.losses.relative_std``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate, special

Array = jax.Array


class ToyTarget(NamedTuple):
    """An integrand on [0, 1]^ndim with its exact integral and uniform-sampling weight spread."""

    name: str
    ndim: int
    log_p: Callable[[Array], Array]
    integral: float
    uniform_relative_std: float


def _gauss_mass(mu, sigma):
    """∫_0^1 N(x; μ, σ) dx for the normalised Gaussian density."""
    mu = np.asarray(mu, dtype=float)
    return 0.5 * (
        special.erf((1.0 - mu) / (math.sqrt(2.0) * sigma)) + special.erf(mu / (math.sqrt(2.0) * sigma))
    )


def _gauss_overlap(mu1, mu2, sigma):
    """∫_0^1 N(x; μ1, σ) N(x; μ2, σ) dx = N(μ1 − μ2; 0, √2 σ) · (mass of N(·; (μ1 + μ2)/2, σ/√2))."""
    mu1, mu2 = np.asarray(mu1, dtype=float), np.asarray(mu2, dtype=float)
    s2 = math.sqrt(2.0) * sigma
    pref = np.exp(-0.5 * ((mu1 - mu2) / s2) ** 2) / (s2 * math.sqrt(2.0 * math.pi))
    return pref * _gauss_mass(0.5 * (mu1 + mu2), sigma / math.sqrt(2.0))


def _log_gauss(u, mu, sigma):
    return jnp.sum(-0.5 * ((u - mu) / sigma) ** 2 - math.log(sigma * math.sqrt(2.0 * math.pi)), axis=-1)


def _check(u, ndim):
    if u.ndim < 1 or u.shape[-1] != ndim:
        raise ValueError(f"u must have shape (..., {ndim}), got {tuple(u.shape)}")


def camel(ndim: int = 4, width: float = 0.1 / math.sqrt(2.0)) -> ToyTarget:
    """½ N(u; ⅓·1, σ²I) + ½ N(u; ⅔·1, σ²I): two peaks on the diagonal of [0, 1]^ndim."""
    if ndim < 1 or not width > 0:
        raise ValueError(f"need ndim >= 1 and width > 0, got {ndim}, {width}")
    mu1, mu2 = np.full(ndim, 1.0 / 3.0), np.full(ndim, 2.0 / 3.0)

    def log_p(u):
        u = jnp.asarray(u)
        _check(u, ndim)
        return jnp.logaddexp(_log_gauss(u, mu1, width), _log_gauss(u, mu2, width)) - math.log(2.0)

    z = 0.5 * np.prod(_gauss_mass(mu1, width)) + 0.5 * np.prod(_gauss_mass(mu2, width))
    z2 = 0.25 * (
        np.prod(_gauss_overlap(mu1, mu1, width))
        + np.prod(_gauss_overlap(mu2, mu2, width))
        + 2.0 * np.prod(_gauss_overlap(mu1, mu2, width))
    )
    return ToyTarget("camel", ndim, log_p, float(z), float(math.sqrt(z2 / z**2 - 1.0)))


def narrow_peaks(ndim: int = 14, width: float = 0.05) -> ToyTarget:
    """Π_i N(u_i; μ_i, σ²) with μ_i evenly spaced in [0.25, 0.75]: one narrow peak per axis."""
    if ndim < 1 or not width > 0:
        raise ValueError(f"need ndim >= 1 and width > 0, got {ndim}, {width}")
    mu = np.linspace(0.25, 0.75, ndim)

    def log_p(u):
        u = jnp.asarray(u)
        _check(u, ndim)
        return _log_gauss(u, mu, width)

    z = np.prod(_gauss_mass(mu, width))
    z2 = np.prod(_gauss_overlap(mu, mu, width))
    return ToyTarget("narrow_peaks", ndim, log_p, float(z), float(math.sqrt(z2 / z**2 - 1.0)))


def ring(radius: float = 0.3, width: float = 0.04) -> ToyTarget:
    """exp(−(r − r₀)² / (2w²)), r = |u − (½, ½)|: a ring in the unit square (d = 2).

    The integral and the uniform spread are radial integrals; with r₀ + 5w ≤ ½ the part of the ring outside
    the square is below 1e−5 of the total and is neglected.
    """
    if not (width > 0 and 0 < radius and radius + 5 * width <= 0.5):
        raise ValueError(f"need width > 0 and 0 < radius, radius + 5 width <= 0.5; got {radius}, {width}")

    def log_p(u):
        u = jnp.asarray(u)
        _check(u, 2)
        r = jnp.sqrt(jnp.sum((u - 0.5) ** 2, axis=-1))
        return -0.5 * ((r - radius) / width) ** 2

    def radial(power):
        f = lambda r: np.exp(-0.5 * power * ((r - radius) / width) ** 2) * 2.0 * math.pi * r
        return integrate.quad(f, 0.0, radius + 12 * width, points=[radius], epsabs=0, epsrel=1e-12)[0]

    z, z2 = radial(1), radial(2)
    return ToyTarget("ring", 2, log_p, float(z), float(math.sqrt(z2 / z**2 - 1.0)))
