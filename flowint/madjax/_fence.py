"""Materialisation points that keep XLA's CPU fusion from recomputing shared work in gradients.

XLA's CPU backend has no multi-output fusion: when a cheap elementwise value feeds several consumers it
is *duplicated* into each consumer's fused loop. In the forward pass of a matrix element that is harmless
(one output), but reverse-mode differentiation has one output per momentum component and parameter, and
every one of them then recomputes the shared upstream cotangents: the work of a gradient grew 10–100×
and compilation took minutes. ``optimization_barrier`` does not help on the CPU (it is expanded before
fusion), but XLA never duplicates an *expensive* instruction such as a division. :func:`keep` therefore
divides its argument by a run-time 1.0 (exact in IEEE arithmetic, so values are bit-identical). The
derivative of a division by a constant is the same division, so tangents (forward mode) and cotangents
(reverse mode) are fenced too. The generated code calls it on every wavefunction, contraction and
amplitude. Outside :func:`materialisation` (the matrix-element kernel) it is the identity.
"""

from __future__ import annotations

import contextlib
import contextvars

import jax
import jax.numpy as jnp

_ONE = contextvars.ContextVar("flowint_madjax_one", default=None)


def _divide(a, one):
    if not hasattr(a, "dtype"):
        return a
    if jnp.iscomplexobj(a):
        return jax.lax.complex(jnp.real(a) / one, jnp.imag(a) / one)
    return a / one


def _fence(x, one):
    # Plain division: its JVP divides the tangent and its transpose divides the cotangent by the same
    # run-time 1.0 (``one`` carries no derivative), so forward and reverse mode are fenced alike.
    return jax.tree_util.tree_map(lambda a: _divide(a, one), x)


def keep(x):
    """Identity on a wavefunction/array (or a list of them) that XLA must materialise, values and gradients."""
    one = _ONE.get()
    if one is None:
        return x
    return _fence(x, one)


def runtime_one(reference):
    """A float64 1.0 that XLA cannot constant-fold, derived from a traced scalar ``reference``."""
    ref = jax.lax.stop_gradient(jnp.asarray(reference, dtype=jnp.float64))
    return jnp.where(jnp.isfinite(ref), 1.0 + 0.0 * ref, 1.0)


@contextlib.contextmanager
def materialisation(reference):
    """Within this block (while tracing a kernel), :func:`keep` inserts materialisation points."""
    token = _ONE.set(runtime_one(reference))
    try:
        yield
    finally:
        _ONE.reset(token)
