r"""External wavefunctions in the HELAS layout used by ALOHA's generated routines.

A wavefunction is a list of complex arrays. Entries 0 and 1 carry the momentum as two complex numbers,
``sign*(E + i p_z)`` and ``sign*(p_x + i p_y)`` (the sign is ``-nsf`` for ``ixxxxx`` and ``+nsf``/``+nsv``
for the others, so that every external momentum is counted as outgoing); the remaining entries hold the
spinor (4 entries, chiral representation) or the polarisation vector (4 entries, contravariant).
These are the roles of HELAS's ``ixxxxx``, ``oxxxxx``, ``vxxxxx`` and ``sxxxxx`` (Murayama, Watanabe,
Hagiwara, KEK-91-11) as consumed by ALOHA (de Aquino et al., arXiv:1108.2041).

Differences from the textbook routines, none of which changes a helicity-summed |M|²:

* **Smooth phase conventions.** A helicity spinor or polarisation vector of a massless particle cannot
  carry a phase that is smooth over the whole sphere of directions. HELAS's convention is singular on the
  -z axis (it switches to a special branch there), which is exactly where beam 2 sits, and the naive
  formulas then give infinite or NaN derivatives. Here each wavefunction uses the HELAS convention
  multiplied by a direction-dependent phase that makes it analytic in the hemisphere of its direction
  (p_z >= 0 or p_z < 0). A helicity amplitude is linear in each external wavefunction, so such a phase
  multiplies the amplitude as a whole and cancels in |M_h|²: values are unchanged and the derivatives are
  exact everywhere, the beam axis included.
* **No branches on traced values.** Degenerate points (a particle at rest, |p| = 0) are handled with the
  double-``where`` pattern of :mod:`flowint.madjax._safe`; at those measure-zero points the value is the
  HELAS one and the derivative is finite.
* **Static helicities.** ``nhel`` is a Python integer: the kernel unrolls the retained helicity
  combinations at trace time and XLA shares whatever several combinations have in common.
* **Materialisation.** Every wavefunction passes through :func:`flowint.madjax._fence.keep`, which keeps
  XLA from duplicating its computation into every consumer of its gradient.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from flowint.madjax._fence import keep
from flowint.madjax._safe import is_static_zero, safe_div, safe_sqrt

_SQH = float(np.sqrt(0.5))


def _momentum_slots(p, sign):
    e, px, py, pz = p
    return [sign * (e + 1j * pz), sign * (px + 1j * py)]


def _dispatch(core, p, mass, nhel, nsf, momentum_sign):
    """Momentum slots followed by the spinor/polarisation components for helicity ``nhel``."""
    return _momentum_slots(p, momentum_sign) + core(p, mass, int(nhel), nsf)


# --------------------------------------------------------------------------- spinor building blocks

def _direction(px, py, pz, pp):
    """Unit vector p/|p| with a finite derivative; +z where |p| = 0 (HELAS's rest-frame axis)."""
    moving = pp > 0
    n1 = safe_div(px, pp)
    n2 = safe_div(py, pp)
    n3 = jnp.where(moving, pz / jnp.where(moving, pp, 1.0), 1.0)
    return n1, n2, n3


def _helicity_spinor(n1, n2, n3, lam):
    r"""Two-component helicity eigenstate chi_lam(n) (n a unit vector), hemisphere-smooth phase.

    For n_z >= 0 this is HELAS's chi; for n_z < 0 it is HELAS's chi times a phase (e^{-i phi} for
    lam = +1, -e^{i phi} for lam = -1) which makes it analytic around -z. In both hemispheres
    b = 1 + |n_z| >= 1, so nothing is ever divided by a vanishing number.
    """
    up = n3 >= 0
    b = 1.0 + jnp.abs(n3)
    big = jnp.sqrt(0.5 * b)
    inv = 1.0 / jnp.sqrt(2.0 * b)
    w = n1 + 1j * n2
    wc = n1 - 1j * n2
    if lam > 0:
        first = jnp.where(up, big + 0j, wc * inv)
        second = jnp.where(up, w * inv, big + 0j)
    else:
        first = jnp.where(up, -wc * inv, big + 0j)
        second = jnp.where(up, big + 0j, -w * inv)
    return first, second


def _massless_weyl(p, lam):
    r"""sqrt(2E) chi_lam(p) for a massless momentum, written with E +- p_z directly (HELAS's form).

    With a = E + |p_z|: for p_z >= 0, (sqrt(a), (p_x + i p_y)/sqrt(a)) for lam = +1, and
    (-(p_x - i p_y)/sqrt(a), sqrt(a)) for lam = -1; for p_z < 0 the phase-rotated forms.
    """
    e, px, py, pz = p
    up = pz >= 0
    a = e + jnp.abs(pz)
    sa = safe_sqrt(a)
    inv = safe_div(1.0, sa)
    w = px + 1j * py
    wc = px - 1j * py
    if lam > 0:
        first = jnp.where(up, sa + 0j, wc * inv)
        second = jnp.where(up, w * inv, sa + 0j)
    else:
        first = jnp.where(up, -wc * inv, sa + 0j)
        second = jnp.where(up, sa + 0j, -w * inv)
    return first, second


def _sf(nsf, nh):
    """HELAS's sign factors distinguishing u from v spinors (plain integers)."""
    return (1 + nsf + (1 - nsf) * nh) // 2, (1 + nsf - (1 - nsf) * nh) // 2


def _massive_parts(p, fmass):
    """(omega_+, omega_-, n) with omega_+- = sqrt(E +- |p|) (omega_- written as m/omega_+)."""
    e, px, py, pz = p
    pp = jnp.minimum(e, safe_sqrt(px * px + py * py + pz * pz))
    omega_p = jnp.sqrt(e + pp)
    omega_m = fmass / omega_p
    return omega_p, omega_m, _direction(px, py, pz, pp)


def _check_fermion_helicity(nhel):
    if nhel not in (-1, 1):
        raise ValueError(f"a spin-1/2 helicity must be -1 or +1, got {nhel}")


def _ixxxxx_core(p, fmass, nhel, nsf):
    _check_fermion_helicity(nhel)
    nh = nhel * nsf
    sf0, sf1 = _sf(nsf, nh)
    zero = jnp.zeros(jnp.shape(p[0]), dtype=jnp.complex128)
    if is_static_zero(fmass):
        c0, c1 = _massless_weyl(p, nh)
        if nh > 0:
            return [zero, zero, sf1 * c0, sf1 * c1]
        return [sf0 * c0, sf0 * c1, zero, zero]
    omega_p, omega_m, n = _massive_parts(p, fmass)
    c0, c1 = _helicity_spinor(*n, nh)
    upper = sf0 * (omega_m if nh > 0 else omega_p)
    lower = sf1 * (omega_p if nh > 0 else omega_m)
    return [upper * c0, upper * c1, lower * c0, lower * c1]


def _oxxxxx_core(p, fmass, nhel, nsf):
    _check_fermion_helicity(nhel)
    nh = nhel * nsf
    sf0, sf1 = _sf(nsf, nh)
    zero = jnp.zeros(jnp.shape(p[0]), dtype=jnp.complex128)
    if is_static_zero(fmass):
        c0, c1 = _massless_weyl(p, nh)
        c0, c1 = jnp.conj(c0), jnp.conj(c1)
        if nh > 0:
            return [sf1 * c0, sf1 * c1, zero, zero]
        return [zero, zero, sf0 * c0, sf0 * c1]
    omega_p, omega_m, n = _massive_parts(p, fmass)
    c0, c1 = _helicity_spinor(*n, nh)
    c0, c1 = jnp.conj(c0), jnp.conj(c1)
    upper = sf1 * (omega_p if nh > 0 else omega_m)
    lower = sf0 * (omega_m if nh > 0 else omega_p)
    return [upper * c0, upper * c1, lower * c0, lower * c1]


def _transverse(n1, n2, n3, lam, nsv):
    r"""Spatial part of the transverse polarisation eps(lam) in HELAS's convention up to a phase.

    HELAS's eps = (-lam eps_1 + i nsv eps_2)/sqrt(2) with eps_1 = (cos th cos ph, cos th sin ph, -sin th)
    and eps_2 = (-sin ph, cos ph, 0). With A = eps_1 + i eps_2 and s = lam*nsv, eps = -(lam/sqrt 2) A for
    s = -1 and -(lam/sqrt 2) conj(A) for s = +1. A e^{+i phi} is analytic for n_z > -1 and A e^{-i phi}
    for n_z < 1:
        A e^{+i phi} = (1 - n_x w/(1+n_z), i - n_y w/(1+n_z), -w),          w = n_x + i n_y
        A e^{-i phi} = (-1 + n_x w*/(1-n_z), i + n_y w*/(1-n_z), -w*).
    """
    up = n3 >= 0
    c = 1.0 + jnp.abs(n3)
    w = n1 + 1j * n2
    wc = n1 - 1j * n2
    ax = jnp.where(up, 1.0 - n1 * w / c, -1.0 + n1 * wc / c)
    ay = jnp.where(up, 1j - n2 * w / c, 1j + n2 * wc / c)
    az = jnp.where(up, -w, -wc)
    if lam * nsv > 0:
        ax, ay, az = jnp.conj(ax), jnp.conj(ay), jnp.conj(az)
    f = -lam * _SQH
    return f * ax, f * ay, f * az


def _vxxxxx_core(p, vmass, nhel, nsv):
    if nhel not in (-1, 0, 1):
        raise ValueError(f"a spin-1 helicity must be -1, 0 or +1, got {nhel}")
    e, px, py, pz = p
    zero = jnp.zeros(jnp.shape(e), dtype=jnp.complex128)
    if is_static_zero(vmass):
        if nhel == 0:
            raise ValueError("a massless vector boson has no helicity 0")
        pp = safe_sqrt(px * px + py * py + pz * pz)
        n = _direction(px, py, pz, pp)
        return [zero, *_transverse(*n, nhel, nsv)]
    pp = jnp.minimum(e, safe_sqrt(px * px + py * py + pz * pz))
    n1, n2, n3 = _direction(px, py, pz, pp)
    if nhel == 0:
        return [pp / vmass + 0j, e * n1 / vmass + 0j, e * n2 / vmass + 0j, e * n3 / vmass + 0j]
    return [zero, *_transverse(n1, n2, n3, nhel, nsv)]


def _sxxxxx_core(p, mass, nhel, nss):
    return [jnp.ones(jnp.shape(p[0]), dtype=jnp.complex128)]


def ixxxxx(p, fmass, nhel, nsf):
    """Flowing-in fermion: u(p) for an incoming fermion (nsf=+1), v(p) for an outgoing antifermion (-1)."""
    return keep(_dispatch(_ixxxxx_core, p, fmass, nhel, nsf, -nsf))


def oxxxxx(p, fmass, nhel, nsf):
    """Flowing-out fermion: ubar(p) for an outgoing fermion (nsf=+1), vbar(p) for an incoming antifermion."""
    return keep(_dispatch(_oxxxxx_core, p, fmass, nhel, nsf, nsf))


def vxxxxx(p, vmass, nhel, nsv):
    """Vector boson polarisation; nsv = -1 for an incoming, +1 for an outgoing boson."""
    return keep(_dispatch(_vxxxxx_core, p, vmass, nhel, nsv, nsv))


def sxxxxx(p, nss):
    """Scalar: the unit wavefunction with the momentum slots."""
    return keep(_momentum_slots(p, nss) + _sxxxxx_core(p, None, 0, nss))
