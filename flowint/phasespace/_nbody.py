r"""Flat n-body phase space with an exact inverse: Plätzer's "RAMBO on diet", generalised to masses.

Reference: S. Plätzer, "RAMBO on diet", arXiv:1308.2922. Sequential two-body decays as in Byckling &
Kajantie, *Particle Kinematics* (1973), ch. V.

A system of mass M_0 decays into n particles p_1..p_n (masses m_i) through the chain
Q_0 -> p_1 Q_1, Q_1 -> p_2 Q_2, ..., Q_{n-2} -> p_{n-1} p_n. With mu_i = sum_{j>i} m_j write every
intermediate mass as M_i = K_i + mu_i; the "kinetic" masses then fill the ordered simplex
K_0 = M_0 - mu_0 >= K_1 >= ... >= K_{n-2} >= 0 = K_{n-1} whatever the masses are. We set
K_l = K_{l-1} t_l, x_l = t_l^2, so that

    dPhi_n = prod_{i=1}^{n-1} [lambda^{1/2}(M_{i-1}^2, m_i^2, M_i^2) / (8 pi M_{i-1}^2)] d^2u_angles
             prod_{l=1}^{n-2} [dM_l^2 / (2 pi)],   dM_l^2 = M_l K_{l-1} dx_l / t_l,

which includes all (2 pi) factors of the standard Lorentz-invariant phase space
dPhi_n = (2pi)^4 delta^4(P - sum p) prod d^3p / ((2pi)^3 2E). Each angle pair is (cos theta, phi) of
p_i in the rest frame of Q_{i-1} (reached from the system's rest frame by pure boosts), uniform in
u: cos theta = 2u - 1, phi = 2 pi u'.

Every factor above is a product of powers of x_l, (1 - x_l), K_0 and of "regular" factors that are
bounded and bounded away from zero on the closed cube (which factors are regular depends only on which
masses vanish, a static property). Collecting the powers gives prod_l x_l^alpha_l (1 - x_l)^beta_l,
and x_l is drawn from a law with exactly these end-point powers: Beta(alpha+1, 2) (CDF
(a+2)x^(a+1) - (a+1)x^(a+2), Plätzer's eq. 2.10) when beta = 1, Kumaraswamy(alpha+1, beta+1)
otherwise. The weight is then the product of the regular factors only:

* all particles massless: alpha_l = n - 2 - l, beta_l = 1, the weight is the constant
  (pi/2)^{n-1} s^{n-2} / ((n-1)! (n-2)!) (2 pi)^{4-3n} and the map is Plätzer's exactly;
* massive particles: the weight is bounded and strictly positive on the closed cube, faces and
  corners included (Plätzer's original massive weight diverges on some faces when two or more
  particles are massive). Massless particles are placed first in the chain (for n >= 3) so that the
  common cases keep beta = 1.

For n = 2 there are no intermediate masses and the two variables are the angles of the first particle.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax.numpy as jnp

from ._kinematics import (
    decay_direction,
    decay_from_rest,
    system_mass_squared,
    unit_vector,
    unit_vector_inverse,
)
from ._maps1d import (
    beta2_cdf,
    beta2_icdf,
    beta2_log_pdf_regular,
    kumaraswamy_cdf,
    kumaraswamy_icdf,
    kumaraswamy_log_pdf_regular,
)
from ._safe import safe_div, safe_log, safe_sqrt

_COLLINEAR_TOLERANCE = 1e-13  # relative to the subsystem's energy; rounding gives ~1e-16


class NBodyLayout(NamedTuple):
    """Static configuration of an n-body generator (hashable; depends only on which masses vanish).

    ``order[k]`` is the child placed at position k of the decay chain; ``alpha``/``beta`` are the
    end-point powers of the n-2 intermediate-mass variables; ``terms`` lists the regular factors of
    the log weight as (kind, index, coefficient).
    """

    n: int
    order: tuple
    massless: tuple
    alpha: tuple
    beta: tuple
    k0_power: float
    terms: tuple
    constant: float

    @property
    def ndim(self) -> int:
        return 3 * self.n - 4


def nbody_layout(massless) -> NBodyLayout:
    """Build the static layout for children whose masses vanish where ``massless[i]`` is True."""
    massless = tuple(bool(z) for z in massless)
    n = len(massless)
    if n < 2:
        raise ValueError(f"an n-body generator needs at least 2 particles, got {n}")
    if n >= 3:
        order = tuple(i for i in range(n) if massless[i]) + tuple(i for i in range(n) if not massless[i])
    else:
        order = tuple(range(n))
    mz = tuple(massless[i] for i in order)  # internal position 0..n-1 <-> particle p_1..p_n
    muz = tuple(all(mz[i:]) for i in range(n))  # mu_i == 0, i = 0..n-1 (mu_i = sum_{j>i} m_j)

    nst = n - 2
    alpha = [0.0] * (nst + 1)  # 1-based stages
    beta = [0.0] * (nst + 1)
    one_plus_t = [0.0] * (nst + 1)
    k0_power = 0.0
    regular = {}
    constant = -(n - 1) * math.log(8.0 * math.pi) - nst * math.log(2.0 * math.pi)

    def add_reg(kind, idx, coef):
        regular[(kind, idx)] = regular.get((kind, idx), 0.0) + coef

    def log_k(j, coef):  # coef * log K_j = coef * (log K_0 + sum_{l<=j} log x_l / 2)
        nonlocal k0_power
        k0_power += coef
        for l in range(1, j + 1):
            alpha[l] += 0.5 * coef

    def log_one_minus_t(l, coef):  # log(1 - t) = log(1 - x) - log(1 + t)
        beta[l] += coef
        one_plus_t[l] -= coef

    def log_d(i, coef):  # D_i = K_{i-1} - K_i = K_{i-1}(1 - t_i), or K_{n-2} for the last decay
        log_k(i - 1, coef)
        if i <= nst:
            log_one_minus_t(i, coef)

    def log_s(i, coef):  # S_i = K_{i-1} + K_i = K_{i-1}(1 + t_i), or K_{n-2} for the last decay
        log_k(i - 1, coef)
        if i <= nst:
            one_plus_t[i] += coef

    for i in range(1, n):  # decay Q_{i-1} -> p_i Q_i ; lambda = D (D + 2m) (S + 2mu) (S + 2m + 2mu)
        log_d(i, 0.5)
        if mz[i - 1]:
            log_d(i, 0.5)
        else:
            add_reg("D+2m", i, 0.5)
        if muz[i]:
            log_s(i, 0.5)
        else:
            add_reg("S+2mu", i, 0.5)
        if mz[i - 1] and muz[i]:
            log_s(i, 0.5)
        else:
            add_reg("S+2m+2mu", i, 0.5)
        if i - 1 == 0 or not muz[i - 1]:  # -2 log M_{i-1}
            add_reg("M", i - 1, -2.0)
        else:
            log_k(i - 1, -2.0)
    for l in range(1, nst + 1):  # dM_l^2/(2pi) = M_l K_{l-1} dx_l / (2 pi t_l)
        if muz[l]:
            log_k(l, 1.0)
        else:
            add_reg("M", l, 1.0)
        log_k(l - 1, 1.0)
        alpha[l] -= 0.5

    for l in range(1, nst + 1):
        if not (alpha[l] > -1.0 and beta[l] > -1.0):  # pragma: no cover - guaranteed by construction
            raise AssertionError(f"non-integrable end-point powers {alpha[l]}, {beta[l]}")
    terms = tuple((kind, idx, c) for (kind, idx), c in sorted(regular.items()) if c != 0.0)
    terms += tuple(("1+t", l, one_plus_t[l]) for l in range(1, nst + 1) if one_plus_t[l] != 0.0)
    return NBodyLayout(
        n=n,
        order=order,
        massless=mz,
        alpha=tuple(alpha[1:]),
        beta=tuple(beta[1:]),
        k0_power=k0_power,
        terms=terms,
        constant=constant,
    )


def _stage_icdf(layout, l, u):
    a, b = layout.alpha[l], layout.beta[l]
    if b == 1.0:
        return beta2_icdf(u, a)
    return kumaraswamy_icdf(u, a + 1.0, b + 1.0)


def _stage_cdf(layout, l, x):
    a, b = layout.alpha[l], layout.beta[l]
    if b == 1.0:
        return beta2_cdf(x, a)
    return kumaraswamy_cdf(x, a + 1.0, b + 1.0)


def _stage_log_pdf_regular(layout, l, x):
    a, b = layout.alpha[l], layout.beta[l]
    if b == 1.0:
        return beta2_log_pdf_regular(a)
    return kumaraswamy_log_pdf_regular(x, a + 1.0, b + 1.0)


def _kinetic(layout, M0, m):
    """mu_i (i = 0..n-1) and K_0 for internal-order masses m (N, n)."""
    n = m.shape[-1]
    cols = [m[:, n - 1]]
    for i in range(n - 2, -1, -1):
        cols.append(cols[-1] + m[:, i])
    mu = jnp.stack(cols[::-1], axis=-1)
    K0 = jnp.maximum(M0 - mu[:, 0], 0.0)
    return mu, K0


def _log_weight(layout, M0, K, x, t, m, mu):
    """log dPhi_n / du from the intermediate variables (K: (N, n) with K[:, n-1] = 0)."""
    n = layout.n
    lw = jnp.full(M0.shape, layout.constant)
    if layout.k0_power != 0.0:
        lw = lw + layout.k0_power * safe_log(K[:, 0])
    for kind, idx, c in layout.terms:
        if kind == "1+t":
            val = jnp.log1p(t[:, idx - 1])
        elif kind == "M":
            val = jnp.log(M0) if idx == 0 else jnp.log(K[:, idx] + mu[:, idx])
        else:
            i = idx
            D = K[:, i - 1] - K[:, i]
            S = K[:, i - 1] + K[:, i]
            if kind == "D+2m":
                val = jnp.log(D + 2.0 * m[:, i - 1])
            elif kind == "S+2mu":
                val = jnp.log(S + 2.0 * mu[:, i])
            else:  # "S+2m+2mu"
                val = jnp.log(S + 2.0 * m[:, i - 1] + 2.0 * mu[:, i])
        lw = lw + c * val
    for l in range(n - 2):
        lw = lw - _stage_log_pdf_regular(layout, l, x[:, l])
    return lw


def _decay_fractions(layout, i, M_prev, K, x, m, mu):
    """(e*, q*, e*_Q) of the decay Q_{i-1} -> p_i Q_i, in units of M_{i-1} (finite when M_{i-1} = 0)."""
    n = layout.n
    if all(layout.massless[i - 1 :]):  # massless subsystem: M_i^2 / M_{i-1}^2 = x_i
        if i <= n - 2:
            e = 0.5 * (1.0 - x[:, i - 1])
            return e, e, 0.5 * (1.0 + x[:, i - 1])
        half = jnp.full(M_prev.shape, 0.5)
        return half, half, half
    D = K[:, i - 1] - K[:, i]
    S = K[:, i - 1] + K[:, i]
    mi = m[:, i - 1]
    Mi = K[:, i] + mu[:, i]
    M2 = M_prev**2
    lam = D * (D + 2.0 * mi) * (S + 2.0 * mu[:, i]) * (S + 2.0 * mi + 2.0 * mu[:, i])
    q = safe_sqrt(lam) / (2.0 * M2)
    diff = (D + mi) * (M_prev + Mi)  # M_{i-1}^2 - M_i^2 without cancellation
    e = (diff + mi**2) / (2.0 * M2)
    eQ = (M2 - mi**2 + Mi**2) / (2.0 * M2)
    return e, q, eQ


def nbody_map(layout: NBodyLayout, u, M0, masses):
    """Momenta of n particles in the rest frame of a system of mass ``M0`` and log dPhi_n/du.

    u: (N, 3n-4) in [0, 1]; M0: (N,); masses: (N, n) in the caller's order (zero exactly where the
    layout says massless). Returns momenta (N, n, 4) in the caller's order and log weight (N,).
    Variables: u[:, :n-2] the intermediate masses, then (cos theta, phi) for each decay.
    """
    n = layout.n
    N = u.shape[0]
    m = masses[:, jnp.array(layout.order)] if n >= 3 else masses
    mu, K0 = _kinetic(layout, M0, m)
    nst = n - 2
    xs, ts, Ks = [], [], [K0]
    for l in range(nst):
        x = _stage_icdf(layout, l, u[:, l])
        t = safe_sqrt(x)
        xs.append(x)
        ts.append(t)
        Ks.append(Ks[-1] * t)
    Ks.append(jnp.zeros_like(K0))
    K = jnp.stack(Ks, axis=-1)
    x = jnp.stack(xs, axis=-1) if nst else jnp.zeros((N, 0))
    t = jnp.stack(ts, axis=-1) if nst else jnp.zeros((N, 0))

    zeros = jnp.zeros_like(M0)
    Q = jnp.stack([M0, zeros, zeros, zeros], axis=-1)
    M_prev = M0
    out = []
    for i in range(1, n):
        e, q, eQ = _decay_fractions(layout, i, M_prev, K, x, m, mu)
        k = nst + 2 * (i - 1)
        nvec = unit_vector(u[:, k], u[:, k + 1])
        out.append(decay_from_rest(Q, M_prev, e, q, nvec))
        Q = decay_from_rest(Q, M_prev, eQ, q, -nvec)
        M_prev = K[:, i] + mu[:, i]
    out.append(Q)
    p_int = jnp.stack(out, axis=1)
    if n >= 3:
        inv = [0] * n
        for pos, child in enumerate(layout.order):
            inv[child] = pos
        p = p_int[:, jnp.array(inv)]
    else:
        p = p_int
    return p, _log_weight(layout, M0, K, x, t, m, mu)


def nbody_inverse(layout: NBodyLayout, p, M0, masses):
    """Inverse of :func:`nbody_map`: u (N, 3n-4) and log weight from momenta (N, n, 4) in the rest frame."""
    n = layout.n
    N = p.shape[0]
    if n >= 3:
        idx = jnp.array(layout.order)
        p = p[:, idx]
        m = masses[:, idx]
    else:
        m = masses
    mu, K0 = _kinetic(layout, M0, m)
    nst = n - 2
    Qs = [None] * n  # Q_{j} = sum_{k > j} p_k (1-based), i.e. sum of internal positions >= j
    acc = p[:, n - 1]
    Qs[n - 1] = acc
    for j in range(n - 2, -1, -1):
        acc = acc + p[:, j]
        Qs[j] = acc
    Ms = [M0]
    Ks = [K0]
    for j in range(1, n - 1):
        Mj = safe_sqrt(system_mass_squared(p[:, j:], m[:, j:]))
        Ms.append(Mj)
        Ks.append(jnp.clip(Mj - mu[:, j], 0.0, Ks[-1]))
    Ks.append(jnp.zeros_like(K0))
    K = jnp.stack(Ks, axis=-1)
    us, xs, ts = [], [], []
    # a kinetic mass at rounding level (a collinear massless subsystem, reached on faces of the cube)
    # carries no ratio information: t = 0 there, which lets the decay angles reproduce any energy sharing
    for l in range(1, nst + 1):
        noise = _COLLINEAR_TOLERANCE * (Qs[l - 1][:, 0] + mu[:, l - 1])
        tl = jnp.where(K[:, l - 1] > noise, jnp.clip(safe_div(K[:, l], K[:, l - 1], 0.0), 0.0, 1.0), 0.0)
        xl = tl**2
        ts.append(tl)
        xs.append(xl)
        us.append(_stage_cdf(layout, l - 1, xl))
    x = jnp.stack(xs, axis=-1) if nst else jnp.zeros((N, 0))
    t = jnp.stack(ts, axis=-1) if nst else jnp.zeros((N, 0))
    angles = []
    for i in range(1, n):
        if i == 1:  # Q_0 is at rest by definition: the direction is p_1's own
            direction = p[:, 0, 1:]
        else:
            e, q, _ = _decay_fractions(layout, i, Ms[i - 1], K, x, m, mu)
            direction = decay_direction(Qs[i - 1], Ms[i - 1], p[:, i - 1], e, q)
        uc, uf = unit_vector_inverse(direction)
        angles += [uc, uf]
    u = jnp.stack(us + angles, axis=-1)
    return u, _log_weight(layout, M0, K, x, t, m, mu)
