"""Four-vector kinematics shared by the phase-space mappings (metric +,-,-,-; components [E, px, py, pz]).

All functions act on the last axis and broadcast over leading (batch) axes. Boosts are written in
terms of a frame's four-momentum ``Q`` and mass ``M`` so that the only division is by ``E_Q + M``,
which never vanishes for a physical (non-zero, future-pointing) ``Q``; a light-like ``Q`` is allowed.
"""

from __future__ import annotations

import jax.numpy as jnp

from ._safe import safe_div, safe_sqrt

TWO_PI = 2.0 * jnp.pi


def mdot(p, q):
    """Minkowski product p.q over the last axis."""
    return p[..., 0] * q[..., 0] - jnp.sum(p[..., 1:] * q[..., 1:], axis=-1)


def mass_squared(p):
    """p^2 = E^2 - |p|^2."""
    return mdot(p, p)


def kallen(a, b, c):
    """Källén function lambda(a, b, c) = a^2 + b^2 + c^2 - 2ab - 2ac - 2bc."""
    return (a - b - c) ** 2 - 4.0 * b * c


def unit_vector(u_cos, u_phi):
    """Unit 3-vector with cos(theta) = 2 u_cos - 1 and phi = 2 pi u_phi.

    sin(theta) = 2 sqrt(u_cos (1 - u_cos)) avoids the cancellation in sqrt(1 - cos^2) and keeps the
    derivative finite at the poles.
    """
    cos_t = 2.0 * u_cos - 1.0
    sin_t = 2.0 * safe_sqrt(u_cos * (1.0 - u_cos))
    phi = TWO_PI * u_phi
    return jnp.stack([sin_t * jnp.cos(phi), sin_t * jnp.sin(phi), cos_t], axis=-1)


def unit_vector_inverse(v):
    """(u_cos, u_phi) of a non-zero 3-vector ``v`` (inverse of :func:`unit_vector`).

    u_cos is clipped to [0, 1]; u_phi lies in [0, 1) (phi = 0 and phi = 2 pi are the same point). For a
    zero vector (a face of the cube where the direction is undefined) both are 0.5.
    """
    norm = safe_sqrt(jnp.sum(v * v, axis=-1))
    cos_t = safe_div(v[..., 2], norm, 0.0)
    # near the poles 1 -+ cos = v_perp^2 / (|v| (|v| +- v_z)) keeps the relative precision of u_cos
    # (near 0) and of 1 - u_cos (near 1), which sin(theta) = 2 sqrt(u (1 - u)) depends on
    perp2 = v[..., 0] ** 2 + v[..., 1] ** 2
    one_plus_cos = safe_div(perp2, norm * (norm - v[..., 2]), 0.0)
    one_minus_cos = safe_div(perp2, norm * (norm + v[..., 2]), 0.0)
    u_cos = jnp.where(
        cos_t < -0.5,
        0.5 * one_plus_cos,
        jnp.where(cos_t > 0.5, 1.0 - 0.5 * one_minus_cos, 0.5 * (1.0 + cos_t)),
    )
    u_cos = jnp.clip(u_cos, 0.0, 1.0)
    transverse = (v[..., 0] != 0) | (v[..., 1] != 0)
    phi = jnp.arctan2(jnp.where(transverse, v[..., 1], 0.0), jnp.where(transverse, v[..., 0], 1.0))
    u_phi = phi / TWO_PI
    u_phi = jnp.where(u_phi < 0.0, u_phi + 1.0, u_phi)
    u_phi = jnp.where(u_phi >= 1.0, 0.0, u_phi)
    u_phi = jnp.where(norm > 0, u_phi, 0.5)
    return u_cos, u_phi


def boost_from_rest(Q, M, p_rest):
    """Boost ``p_rest`` (given in the rest frame of ``Q``) to the frame where ``Q`` is given.

    Standard pure boost (no rotation): E = (E_Q E* + Q.p*) / M, p = p* + Q (E* + E) / (E_Q + M).
    Requires M > 0; see :func:`decay_from_rest` for the form that also allows M = 0.
    """
    EQ = Q[..., :1]
    Qv = Q[..., 1:]
    Es = p_rest[..., :1]
    ps = p_rest[..., 1:]
    Mx = M[..., None]
    E = (EQ * Es + jnp.sum(Qv * ps, axis=-1, keepdims=True)) / Mx
    pv = ps + Qv * (Es + E) / (EQ + Mx)
    return jnp.concatenate([E, pv], axis=-1)


def _helicity_axes(direction):
    """Orthonormal axes (e1, e2, e3) with e3 along ``direction`` (..., 3).

    The rotation is the one about the axis z x direction (R_z(phi) R_y(theta) R_z(-phi)): the identity
    for a direction along +z and continuous there; the one unavoidable singular direction of a frame
    field on the sphere is -z, where phi = 0 is taken. A transverse component below 1e-9 of the length
    counts as zero, so that a rounding-level azimuth of a direction on the axis (as an inverse map
    recomputes it) gives the same frame as the exact one.
    """
    px, py, pz = direction[..., 0], direction[..., 1], direction[..., 2]
    pt = safe_sqrt(px * px + py * py)
    pabs = safe_sqrt(pt * pt + pz * pz)
    on_axis = pt <= 1e-9 * pabs
    ct = safe_div(pz, pabs, 1.0)
    st = jnp.where(on_axis, 0.0, safe_div(pt, pabs, 0.0))
    ct = jnp.where(on_axis, jnp.sign(ct) + (ct == 0), ct)
    cp = jnp.where(on_axis, 1.0, safe_div(px, jnp.where(on_axis, 1.0, pt), 1.0))
    sp = jnp.where(on_axis, 0.0, safe_div(py, jnp.where(on_axis, 1.0, pt), 0.0))
    one_m = ct - 1.0
    e1 = jnp.stack([ct * cp * cp + sp * sp, one_m * cp * sp, -st * cp], axis=-1)
    e2 = jnp.stack([one_m * cp * sp, ct * sp * sp + cp * cp, -st * sp], axis=-1)
    e3 = jnp.stack([st * cp, st * sp, ct], axis=-1)
    return e1, e2, e3


def rotate_from_helicity_frame(direction, p):
    """Rotate four-momenta ``p`` (N, k, 4), given with z along ``direction`` (N, 3), to the frame of
    ``direction`` (a rotation: unit Jacobian)."""
    e1, e2, e3 = (e[:, None, :] for e in _helicity_axes(direction))
    v = p[..., 1:2] * e1 + p[..., 2:3] * e2 + p[..., 3:4] * e3
    return jnp.concatenate([p[..., :1], v], axis=-1)


def rotate_to_helicity_frame(direction, p):
    """Inverse of :func:`rotate_from_helicity_frame`."""
    e1, e2, e3 = (e[:, None, :] for e in _helicity_axes(direction))
    v = p[..., 1:]
    comps = [jnp.sum(v * e, axis=-1, keepdims=True) for e in (e1, e2, e3)]
    return jnp.concatenate([p[..., :1], *comps], axis=-1)


def boost_to_rest(Q, M, p):
    """Inverse of :func:`boost_from_rest`: ``p`` seen in the rest frame of ``Q`` (M > 0)."""
    Qbar = jnp.concatenate([Q[..., :1], -Q[..., 1:]], axis=-1)
    return boost_from_rest(Qbar, M, p)


def decay_from_rest(Q, M, e_star, q_star, n):
    """Momentum of a decay product of ``Q`` in the frame where ``Q`` is given.

    In the rest frame of ``Q`` the product has energy ``e_star * M`` and momentum ``q_star * M * n``
    (``e_star``, ``q_star`` dimensionless, ``n`` a unit 3-vector). Written without dividing by ``M``:

        E = e* E_Q + q* (Q.n),   p = q* M n + Q [e* + q* (Q.n) / (E_Q + M)],

    which stays finite for a light-like ``Q`` (M = 0, the collinear limit of a massless system) and
    gives zero products for Q = 0 (reached on corners of the cube where a massless system is soft).
    """
    EQ = Q[..., 0]
    Qv = Q[..., 1:]
    Qn = jnp.sum(Qv * n, axis=-1)
    E = e_star * EQ + q_star * Qn
    # E_Q + M >= |Q| for a physical Q; the bound only matters for a Q that is zero up to rounding
    # (a soft massless subsystem on a corner of the cube), whose products must then stay zero too
    Qabs = safe_sqrt(jnp.sum(Qv * Qv, axis=-1))
    coef = e_star + q_star * safe_div(Qn, jnp.maximum(EQ + M, Qabs), 0.0)
    pv = (q_star * M)[..., None] * n + Qv * coef[..., None]
    return jnp.concatenate([E[..., None], pv], axis=-1)


def rest_direction(Q, M, p):
    """A vector along the 3-momentum of ``p`` in the rest frame of ``Q``, times ``M`` (finite at M = 0).

    M p*_vec = M p_vec + Q_vec [(Q_vec.p_vec) / (E_Q + M) - E_p]; only its direction is used.
    """
    EQ = Q[..., 0]
    Qv = Q[..., 1:]
    Qp = jnp.sum(Qv * p[..., 1:], axis=-1)
    coef = Qp / (EQ + M) - p[..., 0]
    return M[..., None] * p[..., 1:] + Qv * coef[..., None]


def pt(p):
    """Transverse momentum."""
    return safe_sqrt(p[..., 1] ** 2 + p[..., 2] ** 2)


def rapidity_eta(p):
    """Pseudorapidity eta = asinh(pz / pT) (+-large for pT = 0; no gradient is taken through cuts)."""
    pT = pt(p)
    return jnp.arcsinh(safe_div(p[..., 3], pT, 0.0)) + jnp.where(pT > 0, 0.0, jnp.sign(p[..., 3]) * 1e3)


def azimuth(p):
    """Azimuthal angle in (-pi, pi]."""
    return jnp.arctan2(p[..., 2], p[..., 1])


def stable_dot(p, q, mp, mq):
    """p.q for on-shell p, q (masses mp, mq) without cancellation between E_p E_q and p.q.

    p.q = (mp^2 E_q^2 + mq^2 |p|^2) / (E_p E_q + |p||q|) + |p||q| |n_p - n_q|^2 / 2, with n the unit
    3-vectors: every term is non-negative, so nearly collinear pairs keep full relative precision.
    """
    Pp = safe_sqrt(jnp.sum(p[..., 1:] ** 2, axis=-1))
    Pq = safe_sqrt(jnp.sum(q[..., 1:] ** 2, axis=-1))
    mass_term = safe_div(mp**2 * q[..., 0] ** 2 + mq**2 * Pp**2, p[..., 0] * q[..., 0] + Pp * Pq, 0.0)
    n_p = p[..., 1:] / jnp.where(Pp > 0, Pp, 1.0)[..., None]
    n_q = q[..., 1:] / jnp.where(Pq > 0, Pq, 1.0)[..., None]
    angle_term = 0.5 * Pp * Pq * jnp.sum((n_p - n_q) ** 2, axis=-1)
    return mass_term + angle_term


def system_mass_squared(ps, masses):
    """Invariant mass squared of the sum of on-shell momenta ps (N, k, 4) with masses (N, k).

    sum_j m_j^2 + 2 sum_{j<l} p_j.p_l with :func:`stable_dot`: accurate to full relative precision
    even for a nearly light-like system (collinear massless particles).
    """
    k = ps.shape[-2]
    total = jnp.sum(masses**2, axis=-1)
    for j in range(k):
        for l in range(j + 1, k):
            total = total + 2.0 * stable_dot(ps[..., j, :], ps[..., l, :], masses[..., j], masses[..., l])
    return total


def decay_direction(Q, M, p, e_star, q_star):
    """Unit 3-vector of a decay product ``p`` of ``Q`` in the rest frame of ``Q`` (pure boost).

    Inverse of :func:`decay_from_rest` for the direction. For a fast ``Q`` the rest-frame vector is
    rebuilt from cos theta* = (E - e* E_Q) / (q* |Q|) (energies only: no cancellation when the system
    is nearly light-like) and from the part of ``p`` transverse to ``Q`` (unchanged by the boost); for a
    slow ``Q`` the direct boost (:func:`rest_direction`) is used. For a light-like ``Q`` (M = 0, the
    collinear limit) only cos theta* is defined by the momenta; a fixed transverse direction is used.
    A zero vector is returned where even that is undefined.
    """
    Qv = Q[..., 1:]
    Qabs = safe_sqrt(jnp.sum(Qv * Qv, axis=-1))
    Qhat = Qv / jnp.where(Qabs > 0, Qabs, 1.0)[..., None]
    pv = p[..., 1:]
    p_par = jnp.sum(pv * Qhat, axis=-1)
    p_perp = pv - p_par[..., None] * Qhat
    den = q_star * Qabs
    cos_t = jnp.clip(safe_div(p[..., 0] - e_star * Q[..., 0], den, 0.0), -1.0, 1.0)
    qM = q_star * M
    # transverse part, of length sin theta*: from |p_perp| / (q* M) when the system is slow enough for
    # that to be the more accurate estimate (q* M > E_Q sin theta*, and q* M above rounding level),
    # else from cos theta*. Its direction is p_perp's; p_perp is projected twice because for p
    # (nearly) collinear with Q the first projection leaves rounding noise along Q of its own size.
    # Where p_perp vanishes (a light-like Q: collinear products) a fixed axis orthogonal to Q is used.
    p_perp = p_perp - jnp.sum(p_perp * Qhat, axis=-1, keepdims=True) * Qhat
    perp = safe_sqrt(jnp.sum(p_perp * p_perp, axis=-1))
    sin_c = safe_sqrt((1.0 - cos_t) * (1.0 + cos_t))
    use_perp = (qM > Q[..., 0] * sin_c) & (qM > 1e-8 * Q[..., 0])
    sin_t = jnp.where(use_perp, jnp.clip(safe_div(perp, qM, 0.0), 0.0, 1.0), sin_c)
    helper = jnp.where(
        (jnp.abs(Qhat[..., 2]) < 0.9)[..., None], jnp.array([0.0, 0.0, 1.0]), jnp.array([1.0, 0.0, 0.0])
    )
    axis = jnp.cross(Qhat, helper)
    axis_norm = safe_sqrt(jnp.sum(axis * axis, axis=-1))
    axis = axis / jnp.where(axis_norm > 0, axis_norm, 1.0)[..., None]
    pabs = safe_sqrt(jnp.sum(pv * pv, axis=-1))
    defined = perp > 1e-13 * pabs  # above the rounding noise of the projection
    e_perp = jnp.where(defined[..., None], p_perp / jnp.where(defined, perp, 1.0)[..., None], axis)
    transverse = sin_t[..., None] * e_perp
    fast = (Qabs > 0.5 * M) & (den > 0)
    n_fast = transverse + cos_t[..., None] * Qhat
    n_slow = rest_direction(Q, M, p)
    n = jnp.where(fast[..., None], n_fast, n_slow)
    norm = safe_sqrt(jnp.sum(n * n, axis=-1))
    return n / jnp.where(norm > 0, norm, 1.0)[..., None]
