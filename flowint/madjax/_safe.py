"""Numerically safe elementary functions for the matrix-element runtime.

Every function here keeps both the value and its derivatives finite where the naive expression would
produce ``inf`` or ``nan`` (a square root or a division reaching zero). The pattern is the "double
where": the argument is first replaced by a harmless value where it is degenerate, the function is
evaluated on that sanitised argument, and the result is selected afterwards. A single ``jnp.where``
is not enough, because reverse-mode differentiation multiplies the unselected branch's (infinite)
derivative by a zero cotangent, which gives ``nan``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def safe_sqrt(x):
    """sqrt(max(x, 0)) with a finite derivative (0) where x <= 0."""
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


def safe_div(num, den, fallback=0.0):
    """num / den where den != 0, ``fallback`` elsewhere; finite derivatives everywhere."""
    nonzero = den != 0
    return jnp.where(nonzero, num / jnp.where(nonzero, den, 1.0), fallback)


def safe_reciprocal(den, fallback=0.0):
    """1 / den where den != 0, ``fallback`` elsewhere (works for complex ``den``)."""
    return safe_div(1.0, den, fallback)


def is_static_zero(x) -> bool:
    """True for a Python/NumPy number equal to zero (MadGraph's ``ZERO``); False for any array."""
    return isinstance(x, (int, float, np.integer, np.floating)) and x == 0
