"""Elementary functions with finite values *and* finite derivatives at the edges of their domain.

Phase-space maps are evaluated on the closed cube [0, 1]^d, so square roots, logarithms and powers
regularly meet an argument of exactly zero on a face. The pattern used throughout is the "double
where": the argument is replaced by a harmless value where it is degenerate, the function is evaluated
on the sanitised argument, and the result is selected afterwards. (A single ``jnp.where`` is not
enough: reverse-mode differentiation multiplies the unselected branch's infinite derivative by a zero
cotangent and produces ``nan``.) Where the one-sided derivative is genuinely infinite (``sqrt`` at 0)
the derivative returned is 0: finite, and irrelevant for integrals because faces have measure zero.
"""

from __future__ import annotations

import jax.numpy as jnp


def safe_sqrt(x):
    """sqrt(max(x, 0)); derivative 0 where x <= 0."""
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


def safe_log(x):
    """log(x) for x > 0 and -inf for x <= 0; derivative 0 where x <= 0."""
    positive = x > 0
    return jnp.where(positive, jnp.log(jnp.where(positive, x, 1.0)), -jnp.inf)


def safe_div(num, den, fallback=0.0):
    """num / den where den != 0, ``fallback`` elsewhere; finite derivatives everywhere."""
    nonzero = den != 0
    return jnp.where(nonzero, num / jnp.where(nonzero, den, 1.0), fallback)


def safe_pow(x, p):
    """x**p for x > 0, 0 for x <= 0 (p > 0); derivative 0 where x <= 0."""
    positive = x > 0
    return jnp.where(positive, jnp.exp(p * jnp.log(jnp.where(positive, x, 1.0))), 0.0)


def log1mexp_ratio(x, a):
    """log((1 - x**a) / (1 - x)) for x in [0, 1] and a > 0, stable at both ends.

    The ratio is positive and bounded on the closed interval (it tends to 1 as x -> 0 and to ``a`` as
    x -> 1); near x = 1 a three-term Taylor series in e = 1 - x replaces the cancelling expression.
    """
    e = 1.0 - x
    small = e < 1e-5
    x_big = jnp.where(small, 0.5, x)
    # log(-expm1(a log x)) - log(1 - x), evaluated away from x = 1 and x = 0
    xa_log = a * safe_log(x_big)
    exact = jnp.log(-jnp.expm1(jnp.where(x_big > 0, xa_log, -jnp.inf))) - jnp.log(1.0 - x_big)
    exact = jnp.where(x_big > 0, exact, 0.0)  # ratio -> 1 at x = 0
    e_small = jnp.where(small, e, 0.0)
    series = jnp.log(a) + jnp.log1p(-(a - 1.0) * e_small / 2.0 + (a - 1.0) * (a - 2.0) * e_small**2 / 6.0)
    return jnp.where(small, series, exact)
