"""Generation-level cuts as masks.

A cut is a pure function ``(momenta, params) -> bool[N]`` (True = event kept) wrapped in a small
named record; a :class:`Cuts` is a conjunction of cuts. Cuts never take part in differentiation: the
momenta are passed through ``stop_gradient`` and every expression is written so that no ``nan`` or
``inf`` appears even for degenerate momenta (pT = 0, collinear pairs). The integrand multiplies its
weight by the mask and evaluates the matrix element at a harmless reference point where the mask is
False, so values and gradients stay finite (see :func:`flowint.phasespace.integrand`).

Particles are 0-based indices into the momenta array (MadGraph order, initial states included).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ._kinematics import azimuth, pt, rapidity_eta
from ._safe import safe_sqrt
from ._tree import Resonance, leaves, resonance_mass, resonance_width, resonances_preorder


class Cut(NamedTuple):
    """One named cut: ``fn(momenta, params) -> bool[N]``."""

    name: str
    fn: Callable
    description: str

    def __call__(self, momenta, params=None):
        return self.fn(jax.lax.stop_gradient(momenta), params)


class Cuts(NamedTuple):
    """Conjunction of cuts; ``Cuts(())`` keeps everything."""

    cuts: tuple = ()

    def __call__(self, momenta, params=None):
        keep = jnp.ones(momenta.shape[:-2], dtype=bool)
        for c in self.cuts:
            keep = keep & c(momenta, params)
        return keep

    def __add__(self, other):
        return Cuts(self.cuts + as_cuts(other).cuts)

    def __len__(self):
        return len(self.cuts)

    def describe(self) -> str:
        return "; ".join(c.description for c in self.cuts) or "no cuts"


def _indices(particles):
    if isinstance(particles, int):
        return (particles,)
    out = tuple(int(i) for i in particles)
    if not out:
        raise ValueError("a cut needs at least one particle index")
    return out


def pt_min(value: float, particles) -> Cut:
    """pT > value (GeV) for every listed particle."""
    idx = _indices(particles)

    def fn(p, params):
        return jnp.all(pt(p[..., idx, :]) > value, axis=-1)

    return Cut("pt_min", fn, f"pT > {value} GeV for {list(idx)}")


def eta_max(value: float, particles) -> Cut:
    """|eta| < value for every listed particle (written as |pz| < pT sinh(value): no division)."""
    idx = _indices(particles)
    sh = float(jnp.sinh(value))

    def fn(p, params):
        q = p[..., idx, :]
        return jnp.all(jnp.abs(q[..., 3]) < pt(q) * sh, axis=-1)

    return Cut("eta_max", fn, f"|eta| < {value} for {list(idx)}")


def delta_r_min(value: float, particles) -> Cut:
    """Delta R = sqrt(Delta eta^2 + Delta phi^2) > value for every pair of the listed particles."""
    idx = _indices(particles)
    if len(idx) < 2:
        raise ValueError("delta_r_min needs at least two particles")
    pairs = [(a, b) for k, a in enumerate(idx) for b in idx[k + 1 :]]

    def fn(p, params):
        keep = jnp.ones(p.shape[:-2], dtype=bool)
        for a, b in pairs:
            deta = rapidity_eta(p[..., a, :]) - rapidity_eta(p[..., b, :])
            dphi = jnp.abs(azimuth(p[..., a, :]) - azimuth(p[..., b, :]))
            dphi = jnp.where(dphi > jnp.pi, 2 * jnp.pi - dphi, dphi)
            keep = keep & (deta**2 + dphi**2 > value**2)
        return keep

    return Cut("delta_r_min", fn, f"Delta R > {value} for pairs of {list(idx)}")


def mass_window(particles, low: float | None = None, high: float | None = None) -> Cut:
    """low < m(sum of the listed momenta) < high (GeV); either bound may be None."""
    idx = _indices(particles)

    def fn(p, params):
        q = jnp.sum(p[..., idx, :], axis=-2)
        m = safe_sqrt(q[..., 0] ** 2 - jnp.sum(q[..., 1:] ** 2, axis=-1))
        keep = jnp.ones(p.shape[:-2], dtype=bool)
        if low is not None:
            keep = keep & (m > low)
        if high is not None:
            keep = keep & (m < high)
        return keep

    return Cut("mass_window", fn, f"{low} < m{list(idx)} < {high} GeV")


def _resonance_window(res: Resonance, bwcutoff: float) -> Cut:
    idx = leaves(res)

    def fn(p, params):
        M = resonance_mass(res, params)
        G = resonance_width(res, params)
        q = jnp.sum(p[..., idx, :], axis=-2)
        m = safe_sqrt(q[..., 0] ** 2 - jnp.sum(q[..., 1:] ** 2, axis=-1))
        # closed window (the Breit-Wigner map reaches its edges on faces of the cube), up to rounding
        return jnp.abs(m - M) <= bwcutoff * G + 1e-12 * M

    return Cut("resonance_window", fn, f"|m({res.name} -> {list(idx)}) - M| < {bwcutoff} Gamma")


def resonance_windows(tree_or_process, bwcutoff: float = 15.0) -> Cuts:
    """Invariant-mass windows |m - M| < bwcutoff * Gamma of every restricted resonance of a decay chain.

    Accepts a process (its ``decay_chain``) or a tuple of tree nodes. Applied to a mapping that does not
    enforce the windows itself (the flat one), they define the same phase space as MadEvent's
    decay-chain restriction (cut_decays = False, no other cuts).
    """
    from ._tree import tree_from_decay_chain

    nodes = tree_or_process
    if hasattr(tree_or_process, "external_masses"):
        chain = getattr(tree_or_process, "decay_chain", None)
        if chain is None:
            return Cuts(())
        nodes = tree_from_decay_chain(chain, tree_or_process.external_masses,
                                      derived=getattr(tree_or_process, "model_parameters", None))
    return Cuts(tuple(_resonance_window(r, bwcutoff) for r in resonances_preorder(nodes) if r.restrict))


CUT_FACTORIES = {
    "pt_min": pt_min,
    "eta_max": eta_max,
    "delta_r_min": delta_r_min,
    "mass_window": mass_window,
}


def make_cuts(spec) -> Cuts:
    """Build cuts from a configuration.

    ``spec``: a mapping ``{name: kwargs or [kwargs, ...]}`` or a sequence of ``(name, kwargs)``, with
    ``name`` one of ``pt_min(value, particles)``, ``eta_max(value, particles)``,
    ``delta_r_min(value, particles)``, ``mass_window(particles, low, high)``. Example::

        make_cuts({"pt_min": {"value": 20.0, "particles": [2, 3]},
                   "eta_max": {"value": 2.5, "particles": [2, 3]}})
    """
    if spec is None:
        return Cuts(())
    items = list(spec.items()) if isinstance(spec, dict) else list(spec)
    cuts = []
    for name, kwargs in items:
        if name not in CUT_FACTORIES:
            raise ValueError(f"unknown cut name {name!r}; known cuts: {', '.join(sorted(CUT_FACTORIES))}")
        for kw in kwargs if isinstance(kwargs, (list, tuple)) else [kwargs]:
            cuts.append(CUT_FACTORIES[name](**kw))
    return Cuts(tuple(cuts))


def as_cuts(obj) -> Cuts:
    """Normalise None / Cut / Cuts / sequence of cuts / config mapping to :class:`Cuts`."""
    if obj is None:
        return Cuts(())
    if isinstance(obj, Cuts):
        return obj
    if isinstance(obj, Cut):
        return Cuts((obj,))
    if isinstance(obj, dict):
        return make_cuts(obj)
    obj = list(obj)
    if obj and not isinstance(obj[0], (Cut, Cuts, dict)):
        return make_cuts(obj)  # a sequence of (name, kwargs) pairs
    out = []
    for c in obj:
        out.extend(as_cuts(c).cuts)
    return Cuts(tuple(out))
