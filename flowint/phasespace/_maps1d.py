"""One-dimensional invertible maps of [0, 1] used by the phase-space mappings.

* ``beta2``: the distribution with density (a+1)(a+2) x^a (1 - x) on [0, 1] (a Beta(a+1, 2) law). Its
  CDF F(x) = (a+2) x^(a+1) - (a+1) x^(a+2) is the intermediate-mass map of Plätzer's "RAMBO on diet"
  (arXiv:1308.2922, eq. 2.10, with a = n - 1 - i for massless momenta), generalised to real a > -1 for
  massive momenta. The inverse is solved by a bracketed Newton iteration to machine precision; its
  derivative comes from the implicit function theorem (dx/du = 1/F'(x)) through ``jax.custom_jvp``,
  never by differentiating through the iterations.
* ``kumaraswamy``: density A B x^(A-1) (1 - x^A)^(B-1), closed-form CDF 1 - (1 - x^A)^B and inverse;
  it has the same power laws at both ends as a Beta(A, B) law, which is what bounded weights need.
* ``breit_wigner``: m^2 = M^2 + M Gamma tan(y), y uniform between the arctan images of the limits
  (MadEvent's resonance map), with log |dm^2/du|.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from ._safe import log1mexp_ratio, safe_div, safe_log, safe_pow, safe_sqrt

_NEWTON_ITERATIONS = 64


def beta2_cdf(x, a):
    """F(x) = (a+2) x^(a+1) - (a+1) x^(a+2) for x in [0, 1]."""
    xa1 = safe_pow(x, a + 1.0)
    return xa1 * ((a + 2.0) - (a + 1.0) * x)


def beta2_log_pdf_regular(a):
    """log((a+1)(a+2)): the part of log F'(x) left after the x^a (1-x) powers are taken out."""
    return math.log((a + 1.0) * (a + 2.0))


def _beta2_pdf(x, a):
    return (a + 1.0) * (a + 2.0) * safe_pow(x, a) * (1.0 - x) if a != 0.0 else 2.0 * (1.0 - x)


def _beta2_icdf_newton(u, a):
    # bracketed Newton on F(x) = u; the bracket [lo, hi] always contains the root and a step leaving
    # it is replaced by bisection, so the iteration converges for every u in [0, 1]
    x0_low = safe_pow(u / (a + 2.0), 1.0 / (a + 1.0))
    x0_high = 1.0 - safe_sqrt(2.0 * (1.0 - u) / ((a + 1.0) * (a + 2.0)))
    x = jnp.clip(jnp.where(u < 0.5, x0_low, x0_high), 0.0, 1.0)
    # x^(a+1) <= F(x) <= (a+2) x^(a+1) brackets the root by [x0_low, u^(1/(a+1))], a bracket of fixed
    # relative width, so that bisection steps keep full relative precision even for tiny u
    small = u < 0.5
    lo = jnp.where(small, x0_low, 0.0)
    hi = jnp.where(small, jnp.minimum(safe_pow(u, 1.0 / (a + 1.0)), 1.0), 1.0)
    x = jnp.clip(x, lo, hi)

    def body(state):
        i, x, lo, hi, _ = state
        f = beta2_cdf(x, a) - u
        lo = jnp.where(f <= 0, x, lo)
        hi = jnp.where(f >= 0, x, hi)
        d = _beta2_pdf(x, a)
        step = safe_div(f, d, jnp.inf)
        xn = x - step
        ok = (xn >= lo) & (xn <= hi)
        xn = jnp.where(ok, xn, 0.5 * (lo + hi))
        xn = jnp.where(f == 0, x, xn)
        # a point has converged when its residual is at rounding level (near x = 1, where F is flat,
        # x itself keeps jittering inside a band of equally good roots) or its bracket is a few ulps
        eps = jnp.finfo(x.dtype).eps
        converged = (jnp.abs(f) <= 16 * eps * u) | (hi - lo <= 16 * eps * hi)
        return i + 1, xn, lo, hi, jnp.any(~converged)

    def cond(state):
        i, _, _, _, moving = state
        return (i < _NEWTON_ITERATIONS) & moving

    _, x, lo, hi, _ = jax.lax.while_loop(cond, body, (0, x, lo, hi, jnp.array(True)))
    x = jnp.where(u <= 0.0, 0.0, jnp.where(u >= 1.0, 1.0, x))
    return x


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def beta2_icdf(u, a):
    """Inverse of :func:`beta2_cdf` (``a`` a static Python float > -1)."""
    if a == 0.0:  # F = 2x - x^2: x = 1 - sqrt(1 - u), written without cancellation for small u
        return u / (1.0 + safe_sqrt(1.0 - u))
    return _beta2_icdf_newton(u, a)


@beta2_icdf.defjvp
def _beta2_icdf_jvp(a, primals, tangents):
    (u,) = primals
    (du,) = tangents
    x = beta2_icdf(u, a)
    # implicit function theorem: F(x(u)) = u  =>  dx/du = 1 / F'(x); 0 where F' vanishes (faces)
    return x, safe_div(du, _beta2_pdf(x, a), 0.0)


def kumaraswamy_icdf(u, A, B):
    """x = (1 - (1 - u)^(1/B))^(1/A)."""
    one_minus_u = 1.0 - u
    inner = -jnp.expm1(safe_log(one_minus_u) / B)  # 1 - (1-u)^(1/B), accurate for small u
    inner = jnp.where(one_minus_u > 0, inner, 1.0)
    return safe_pow(inner, 1.0 / A)


def kumaraswamy_cdf(x, A, B):
    """u = 1 - (1 - x^A)^B."""
    xa = safe_pow(x, A)
    u = -jnp.expm1(B * safe_log(1.0 - xa))
    return jnp.where(xa < 1.0, u, 1.0)


def kumaraswamy_log_pdf_regular(x, A, B):
    """log(A B) + (B - 1) log((1 - x^A) / (1 - x)): log pdf without the x^(A-1) (1-x)^(B-1) powers."""
    return jnp.log(A * B) + (B - 1.0) * log1mexp_ratio(x, A)


def breit_wigner_limits(M, G, m2_lo, m2_hi):
    """arctan images y_lo, y_hi of the virtuality limits."""
    MG = M * G
    return jnp.arctan((m2_lo - M**2) / MG), jnp.arctan((m2_hi - M**2) / MG)


def breit_wigner_map(u, M, G, m2_lo, m2_hi):
    """m^2 = M^2 + M G tan(y_lo + u (y_hi - y_lo)) and log |dm^2/du|.

    dm^2/du = (y_hi - y_lo) ((m^2 - M^2)^2 + M^2 G^2) / (M G), the inverse of the normalised
    Breit-Wigner density on [m2_lo, m2_hi].
    """
    y_lo, y_hi = breit_wigner_limits(M, G, m2_lo, m2_hi)
    y = y_lo + u * (y_hi - y_lo)
    MG = M * G
    m2 = M**2 + MG * jnp.tan(y)
    m2 = jnp.clip(m2, m2_lo, m2_hi)
    log_jac = safe_log(y_hi - y_lo) + jnp.log(((m2 - M**2) ** 2 + MG**2) / MG)
    return m2, log_jac


def breit_wigner_inverse(m2, M, G, m2_lo, m2_hi):
    """u of a virtuality m^2 (inverse of :func:`breit_wigner_map`) and the same log |dm^2/du|."""
    y_lo, y_hi = breit_wigner_limits(M, G, m2_lo, m2_hi)
    MG = M * G
    y = jnp.arctan((m2 - M**2) / MG)
    u = safe_div(y - y_lo, y_hi - y_lo, 0.5)
    log_jac = safe_log(y_hi - y_lo) + jnp.log(((m2 - M**2) ** 2 + MG**2) / MG)
    return u, log_jac
