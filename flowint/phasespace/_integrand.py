r"""Integrands on the unit hypercube: dsigma/du in pb for a process, a mapping and cuts.

    dsigma/du (u) = C flux |M|^2(p(u); params) exp(log_weight(u)) Theta_cuts(p(u)),

with C = 0.3893793721e9 pb GeV^2, flux = 1 / (2 lambda^{1/2}(s, m_1^2, m_2^2)) (= 1/(2s) for massless
beams) and (p, log_weight) = mapping.map(u, params), so that sigma = \int_{[0,1]^d} du dsigma/du.

Where the cuts (the user's and the mapping's ``window_cuts``) reject a point, the value is 0 and the
log value -inf; the matrix element is then evaluated at a fixed reference point of the mapping instead
(a "double where"), so neither the value nor any gradient is ever ``nan`` or ``inf``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from ._cuts import as_cuts
from ._kinematics import kallen
from ._safe import safe_log

GEV2_TO_PB = 0.3893793721e9


class IntegrandPoint(NamedTuple):
    """Everything evaluated at a batch of points: dsigma/du, its log, momenta, log_weight, |M|^2, mask."""

    value: Any
    log_value: Any
    momenta: Any
    log_weight: Any
    me2: Any
    mask: Any


class Integrand(NamedTuple):
    """dsigma/du (pb) of a process on a mapping's cube.

    Pure functions (jit / vmap / grad w.r.t. ``u`` and ``params``):

    * ``fn(u, params) -> (N,)`` dsigma/du in pb; ``log_fn(u, params) -> (N,)`` its log (-inf where 0);
    * ``evaluate(u, params) -> IntegrandPoint``.

    Calling the object, ``f(u)`` / ``f(u, params)``, is ``fn``; ``f.log(u)`` is ``log_fn``. ``params``
    overrides the defaults given to :func:`integrand` (partial dicts allowed; None = defaults). ``u``
    may be ``(N, ndim)`` or ``(ndim,)`` (then a scalar is returned).
    """

    fn: Callable
    log_fn: Callable
    evaluate: Callable
    ndim: int
    mapping: Any
    process: Any
    params: dict
    cuts: Any

    def __call__(self, u, params=None):
        return self.fn(u, params)

    def log(self, u, params=None):
        return self.log_fn(u, params)


def flux_factor(sqrt_s: float, m1: float = 0.0, m2: float = 0.0) -> float:
    """1 / (2 lambda^{1/2}(s, m1^2, m2^2)) in GeV^-2 (= 1/(2s) for massless initial states)."""
    s = sqrt_s**2
    return 1.0 / (2.0 * math.sqrt(kallen(s, m1**2, m2**2)))


def integrand(process, mapping, params=None, cuts=None) -> Integrand:
    """dsigma/du in pb as a pure function of u (and of the model parameters).

    ``process``: provides ``me2(momenta, params)`` (a :class:`flowint.madjax.Process`);
    ``mapping``: a :class:`~flowint.phasespace.PhaseSpaceMapping` for it (``make_mapping``);
    ``params``: default parameter overrides {(block, code): value}; ``cuts``: a Cut, Cuts, list of cuts
    or a config mapping for :func:`~flowint.phasespace.make_cuts`. The mapping's ``window_cuts``
    (decay-chain windows a flat mapping does not enforce) are always applied.

    Example::

        proc = load_process("ee_mumu")
        f = integrand(proc, make_mapping(proc, 91.0, "two_body"))
        u = jax.random.uniform(key, (100_000, f.ndim))
        w = f(u)                        # pb; sigma ~ w.mean() +- w.std() / sqrt(N)
        dw = jax.grad(lambda p: f(u, p).mean())({("mass", 23): 91.188})
    """
    base_params = dict(params or {})
    all_cuts = as_cuts(mapping.window_cuts) + as_cuts(cuts)
    m1, m2 = (mapping.external_masses[i] for i in mapping.initial)
    log_norm = math.log(GEV2_TO_PB * flux_factor(mapping.sqrt_s, m1, m2))
    p_ref, _ = mapping.map(jnp.full((1, mapping.ndim), 0.5))
    p_ref = jax.device_get(p_ref)

    def merged(params):
        if params is None:
            return base_params or None
        out = dict(base_params)
        out.update(params)
        return out

    def evaluate(u, params=None):
        full = merged(params)
        u = jnp.asarray(u, dtype=jnp.float64)
        single = u.ndim == 1
        if single:
            u = u[None]
        momenta, log_weight = mapping.map(u, full)
        finite = jnp.isfinite(log_weight) & jnp.all(jnp.isfinite(momenta), axis=(-2, -1))
        mask = finite
        if len(all_cuts):
            mask = mask & all_cuts(momenta, full)
        safe_momenta = jnp.where(mask[:, None, None], momenta, p_ref)
        me2 = process.me2(safe_momenta, full)
        safe_lw = jnp.where(mask, log_weight, 0.0)
        log_value = jnp.where(mask & (me2 > 0), log_norm + safe_log(me2) + safe_lw, -jnp.inf)
        value = jnp.where(mask, jnp.exp(log_norm + safe_lw) * me2, 0.0)
        out = IntegrandPoint(value, log_value, momenta, log_weight, me2, mask)
        if single:
            out = IntegrandPoint(*(x[0] for x in out))
        return out

    def fn(u, params=None):
        return evaluate(u, params).value

    def log_fn(u, params=None):
        return evaluate(u, params).log_value

    return Integrand(fn, log_fn, evaluate, mapping.ndim, mapping, process, base_params, all_cuts)
