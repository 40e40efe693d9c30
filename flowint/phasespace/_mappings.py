r"""Phase-space mappings of the unit hypercube: flat, two-body and resonance-aware decay chains.

Every mapping is a tree of two-or-more-body "vertices": the production vertex (the centre-of-mass
system of mass sqrt(s)) and one vertex per s-channel resonance. The phase space factorises
(Byckling & Kajantie, *Particle Kinematics*, ch. V) as

    dPhi_n(P; p_1..p_n) = prod_vertices dPhi_k(Q_v; children of v) prod_resonances dm_r^2 / (2 pi),

so a point of the cube is, in this order,

1. one variable per resonance (parents before children, siblings left to right): the virtuality m_r^2
   through MadEvent's Breit-Wigner map m^2 = M^2 + M Gamma tan(y), y uniform in
   [arctan((m_lo^2 - M^2)/(M Gamma)), arctan((m_hi^2 - M^2)/(M Gamma))]. For a decay-chain resonance
   m_lo = max(M - c Gamma, threshold) and m_hi = min(M + c Gamma, available), c = bwcutoff (15, as
   MadEvent); "threshold" is the sum of the lowest masses its products can take and "available" the
   parent's mass minus the masses already chosen for earlier siblings and the lowest masses of later
   ones. The limits are therefore exact functions of earlier variables (a triangular map), the map is
   exactly invertible, and its image is exactly MadEvent's region |m_r - M_r| < c Gamma_r.
2. for each vertex (production first, then resonances in the same order) the 3k-4 variables of the
   flat k-body generator of :mod:`flowint.phasespace._nbody` in the vertex's rest frame (for k = 2:
   cos theta and phi of the first product), boosted to the centre-of-mass frame.

``log_weight`` = log dPhi_n / du including every (2 pi) factor, so that
sigma = \int du flux |M|^2 exp(log_weight). The flat mapping is the tree with no resonances (one
vertex holding every final-state particle: 3n-4 variables); the two-body mapping is the flat one for
n = 2. For the 2->6 chain u u~ -> t t~ -> b u d~ b~ u~ d the decay-chain mapping has exactly
4 (virtualities) + 2 (production angles) + 4 x 2 (decay angles) = 14 variables.

Masses and widths are read from ``params`` (SLHA ``(block, code)`` keys) when given, so a mapping is
differentiable with respect to them (the Breit-Wigner limits move with M and Gamma); the static
structure (which masses vanish) is fixed at construction.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from ._cuts import Cuts, resonance_windows
from ._kinematics import (
    boost_from_rest,
    boost_to_rest,
    kallen,
    rotate_from_helicity_frame,
    rotate_to_helicity_frame,
    system_mass_squared,
)
from ._maps1d import breit_wigner_inverse, breit_wigner_map
from ._nbody import nbody_inverse, nbody_layout, nbody_map
from ._safe import safe_sqrt
from ._tree import (
    External,
    describe,
    flat_tree,
    leaves,
    resonance_mass,
    resonances_preorder,
    tree_from_decay_chain,
)

LOG_TWO_PI = math.log(2.0 * math.pi)


class PhaseSpaceMapping:
    """A bijection between [0, 1]^ndim and the n-body phase space at fixed sqrt(s).

    Attributes: ``ndim``, ``sqrt_s``, ``nexternal``, ``kind``, ``nodes`` (the resonance tree),
    ``variable_names`` (one label per cube coordinate), ``window_cuts`` (decay-chain mass windows
    this mapping does *not* enforce by construction; :func:`flowint.phasespace.integrand` applies
    them, so that the flat and decay-chain mappings define the same cross section).

    Methods: ``map(u, params=None) -> (momenta, log_weight)`` and
    ``inverse(momenta, params=None) -> (u, log_weight)``. ``u`` is ``(N, ndim)`` (or ``(ndim,)`` for a
    single point), momenta ``(N, nexternal, 4)`` in MadGraph particle order, CM frame, beam 1 along +z.
    Both are pure JAX functions of their arguments (jit / vmap / grad).
    """

    def __init__(
        self,
        sqrt_s: float,
        nodes,
        external_masses,
        *,
        initial=(0, 1),
        kind: str = "decay_chain",
        bwcutoff: float = 15.0,
        window_cuts: Cuts | None = None,
    ):
        self.sqrt_s = float(sqrt_s)
        self.external_masses = tuple(float(m) for m in external_masses)
        self.nexternal = len(self.external_masses)
        self.initial = tuple(int(i) for i in initial)
        if len(self.initial) != 2:
            raise ValueError(f"expected two initial-state particles, got {len(self.initial)}")
        self.nodes = tuple(nodes)
        self.kind = kind
        self.bwcutoff = float(bwcutoff)
        self.window_cuts = window_cuts if window_cuts is not None else Cuts(())
        if len(self.nodes) < 2:
            raise ValueError("the production vertex needs at least two final-state nodes")
        finals = sorted(i for n in self.nodes for i in leaves(n))
        expected = sorted(set(range(self.nexternal)) - set(self.initial))
        if finals != expected:
            raise ValueError(f"final-state leaves {finals} do not match the process's final state {expected}")
        if not self.bwcutoff > 0:
            raise ValueError(f"bwcutoff must be positive, got {bwcutoff}")

        self.resonances = resonances_preorder(self.nodes)
        self._res_index = {id(r): k for k, r in enumerate(self.resonances)}
        self._vertices = [(None, self.nodes)] + [(r, r.children) for r in self.resonances]
        # the resonances from the outermost one down to each resonance (the frames of its decay)
        self._paths = {}

        def walk(nodes, path):
            for n in nodes:
                if not isinstance(n, External):
                    self._paths[id(n)] = (*path, n)
                    walk(n.children, (*path, n))

        walk(self.nodes, ())
        self._layouts = []
        self._offsets = []
        offset = len(self.resonances)
        for _, children in self._vertices:
            lay = nbody_layout([isinstance(c, External) and c.mass == 0.0 for c in children])
            self._layouts.append(lay)
            self._offsets.append(offset)
            offset += lay.ndim
        self.ndim = offset
        self._check_thresholds()
        m1, m2 = (self.external_masses[i] for i in self.initial)
        if self.sqrt_s <= m1 + m2:
            raise ValueError(f"sqrt_s = {self.sqrt_s} GeV is below the initial-state threshold {m1 + m2} GeV")

    # ------------------------------------------------------------------ static description
    def __repr__(self):
        return (
            f"{type(self).__name__}(kind={self.kind!r}, sqrt_s={self.sqrt_s}, ndim={self.ndim}, "
            f"tree={describe(self.nodes)!r})"
        )

    @property
    def variable_names(self) -> tuple:
        names = [f"m2[{r.name}]" for r in self.resonances]
        for (vertex, children), lay in zip(self._vertices, self._layouts):
            vname = "cm" if vertex is None else vertex.name
            labels = [str(c.index) if isinstance(c, External) else c.name for c in children]
            labels = [labels[i] for i in lay.order]
            names += [f"x{l + 1}[{vname}]" for l in range(lay.n - 2)]
            for i in range(lay.n - 1):
                names += [f"cos[{vname}:{labels[i]}]", f"phi[{vname}:{labels[i]}]"]
        return tuple(names)

    def _static_lower(self, node):
        if isinstance(node, External):
            return node.mass
        low = sum(self._static_lower(c) for c in node.children)
        if node.restrict:
            low = max(low, node.mass - self.bwcutoff * node.width)
        return low

    def _check_thresholds(self):
        for r in self.resonances:
            if not r.mass > 0:
                raise ValueError(f"resonance {r.name!r} has mass {r.mass}; a Breit-Wigner map needs M > 0")
            threshold = sum(self._static_lower(c) for c in r.children)
            if r.restrict and r.mass + self.bwcutoff * r.width <= threshold:
                raise ValueError(
                    f"window of resonance {r.name!r} (M + {self.bwcutoff} Gamma = "
                    f"{r.mass + self.bwcutoff * r.width} GeV) lies below its decay threshold {threshold} GeV"
                )
        threshold = sum(self._static_lower(c) for c in self.nodes)
        if self.sqrt_s <= threshold:
            what = "resonance windows' lower edges" if self.resonances else "final-state masses"
            raise ValueError(
                f"sqrt_s = {self.sqrt_s} GeV is below the threshold {threshold} GeV (sum of the {what})"
            )

    # ------------------------------------------------------------------ parameters
    def _resolve(self, params):
        """Masses and widths as JAX scalars: params[(block, code)] where given, defaults otherwise."""
        params = params or {}

        def get(key, default):
            if key is not None and key in params:
                return jnp.asarray(params[key], dtype=jnp.float64)
            return default

        ext = {}
        for node in self._all_externals():
            ext[node.index] = 0.0 if node.mass == 0.0 else get(node.mass_key, node.mass)
        res = [(jnp.asarray(resonance_mass(r, params), dtype=jnp.float64) if params else r.mass,
                get(r.width_key, r.width)) for r in self.resonances]
        return ext, res

    def _all_externals(self):
        out = []

        def walk(nodes):
            for n in nodes:
                if isinstance(n, External):
                    out.append(n)
                else:
                    walk(n.children)

        walk(self.nodes)
        return out

    def _lower(self, node, ext, res):
        if isinstance(node, External):
            return ext[node.index]
        low = sum(self._lower(c, ext, res) for c in node.children)
        if node.restrict:
            M, G = res[self._res_index[id(node)]]
            low = jnp.maximum(low, M - self.bwcutoff * G)
        return low

    def _virtualities(self, u_bw, known_m, ext, res, N):
        """Walk the tree in pre-order; return {resonance index: (m, log|dm^2/du|, u)}.

        With ``u_bw`` given, sample m from it (map); with ``known_m`` given, recover u (inverse).
        """
        out = {}
        lowers = {}

        def lower(node):
            key = id(node)
            if key not in lowers:
                lowers[key] = self._lower(node, ext, res)
            return lowers[key]

        def walk(children, Mv):
            used = jnp.zeros(N)
            for j, c in enumerate(children):
                if isinstance(c, External):
                    used = used + ext[c.index]
                    continue
                k = self._res_index[id(c)]
                M, G = res[k]
                later = sum(lower(d) for d in children[j + 1 :])
                avail = Mv - used - later
                lo = jnp.broadcast_to(lower(c), (N,))
                hi = jnp.minimum(M + self.bwcutoff * G, avail) if c.restrict else avail
                hi = jnp.maximum(hi, lo)
                if u_bw is not None:
                    m2, log_jac = breit_wigner_map(u_bw[:, k], M, G, lo**2, hi**2)
                    m = safe_sqrt(m2)
                    uk = u_bw[:, k]
                else:
                    m = known_m[k]
                    uk, log_jac = breit_wigner_inverse(m**2, M, G, lo**2, hi**2)
                    uk = _snap_to_unit(uk)
                out[k] = (m, log_jac, uk)
                walk(c.children, m)
                used = used + m

        walk(self.nodes, jnp.full((N,), self.sqrt_s))
        return out

    def _child_masses(self, children, ext, virt, N):
        cols = []
        for c in children:
            if isinstance(c, External):
                cols.append(jnp.broadcast_to(jnp.asarray(ext[c.index], dtype=jnp.float64), (N,)))
            else:
                cols.append(virt[self._res_index[id(c)]][0])
        return jnp.stack(cols, axis=-1)

    def _initial_momenta(self, N):
        s = self.sqrt_s**2
        m1, m2 = (self.external_masses[i] for i in self.initial)
        pz = math.sqrt(kallen(s, m1**2, m2**2)) / (2.0 * self.sqrt_s)
        e1 = (s + m1**2 - m2**2) / (2.0 * self.sqrt_s)
        e2 = (s - m1**2 + m2**2) / (2.0 * self.sqrt_s)
        one = jnp.ones((N,))
        zero = jnp.zeros((N,))
        return (
            jnp.stack([e1 * one, zero, zero, pz * one], axis=-1),
            jnp.stack([e2 * one, zero, zero, -pz * one], axis=-1),
        )

    # ------------------------------------------------------------------ checks
    def _check_u(self, u):
        u = jnp.asarray(u, dtype=jnp.float64)
        if u.ndim == 1 and u.shape[0] == self.ndim:
            return u[None, :], True
        if u.ndim != 2 or u.shape[1] != self.ndim:
            raise ValueError(
                f"u must have shape (N, {self.ndim}) or ({self.ndim},) for this {self.kind} mapping, "
                f"got {tuple(u.shape)}"
            )
        return u, False

    def _check_momenta(self, p):
        p = jnp.asarray(p, dtype=jnp.float64)
        if p.ndim == 2 and p.shape == (self.nexternal, 4):
            return p[None], True
        if p.ndim != 3 or p.shape[1:] != (self.nexternal, 4):
            raise ValueError(
                f"momenta must have shape (N, {self.nexternal}, 4) or ({self.nexternal}, 4), "
                f"got {tuple(p.shape)}"
            )
        return p, False

    # ------------------------------------------------------------------ the map and its inverse
    def map(self, u, params=None):
        """Momenta (N, nexternal, 4) and log dPhi/du (N,) for points u (N, ndim) of the unit cube."""
        u, single = self._check_u(u)
        N = u.shape[0]
        ext, res = self._resolve(params)
        virt = self._virtualities(u, None, ext, res, N)
        log_w = jnp.zeros((N,))
        for k in range(len(self.resonances)):
            log_w = log_w + virt[k][1] - LOG_TWO_PI
        momenta = {}

        def to_lab(chain, q):
            for Q, M in chain:
                q = boost_from_rest(Q, M, q)
            return q

        def emit(children, chain, p_rest):
            # chain: (momentum, mass) of each enclosing resonance in its parent's rest frame, innermost
            # first; boosting through it in turn carries a rest-frame momentum to the lab
            for j, c in enumerate(children):
                if isinstance(c, External):
                    momenta[c.index] = to_lab(chain, p_rest[:, j])
                else:
                    m = virt[self._res_index[id(c)]][0]
                    vertex_momenta(c, ((p_rest[:, j], m), *chain))

        def vertex_momenta(res_node, chain):
            nonlocal log_w
            k = self._res_index[id(res_node)] + 1
            lay, off = self._layouts[k], self._offsets[k]
            m = virt[k - 1][0]
            masses = self._child_masses(res_node.children, ext, virt, N)
            p_rest, lw = nbody_map(lay, u[:, off : off + lay.ndim], m, masses)
            log_w = log_w + lw
            # decay angles in the helicity frame: z along the resonance's flight direction
            emit(res_node.children, chain, rotate_from_helicity_frame(chain[0][0][:, 1:], p_rest))

        lay, off = self._layouts[0], self._offsets[0]
        masses = self._child_masses(self.nodes, ext, virt, N)
        p_cm, lw = nbody_map(lay, u[:, off : off + lay.ndim], jnp.full((N,), self.sqrt_s), masses)
        log_w = log_w + lw
        emit(self.nodes, (), p_cm)
        p1, p2 = self._initial_momenta(N)
        momenta[self.initial[0]] = p1
        momenta[self.initial[1]] = p2
        p = jnp.stack([momenta[i] for i in range(self.nexternal)], axis=1)
        if single:
            return p[0], log_w[0]
        return p, log_w

    def inverse(self, momenta, params=None):
        """Cube coordinates u (N, ndim) and log dPhi/du (N,) of momenta (N, nexternal, 4).

        u is exactly the point that :meth:`map` sends to these momenta (up to rounding); the log weight
        is the one :meth:`map` returns there. Momenta off the mapping's region (outside a resonance
        window, or not conserving momentum) give u outside [0, 1] or a meaningless result.
        """
        p, single = self._check_momenta(momenta)
        N = p.shape[0]
        ext, res = self._resolve(params)

        def node_momentum(node):
            return (
                p[:, node.index]
                if isinstance(node, External)
                else jnp.sum(p[:, jnp.array(leaves(node))], axis=1)
            )

        known_m = []
        for r in self.resonances:
            idx = leaves(r)
            lm = jnp.stack(
                [jnp.broadcast_to(jnp.asarray(ext[i], dtype=jnp.float64), (N,)) for i in idx], axis=-1
            )
            known_m.append(safe_sqrt(system_mass_squared(p[:, jnp.array(idx)], lm)))
        virt = self._virtualities(None, known_m, ext, res, N)
        u_cols = [virt[k][2] for k in range(len(self.resonances))]
        log_w = jnp.zeros((N,))
        for k in range(len(self.resonances)):
            log_w = log_w + virt[k][1] - LOG_TWO_PI
        for vi, (vertex, children) in enumerate(self._vertices):
            lay = self._layouts[vi]
            pc = jnp.stack([node_momentum(c) for c in children], axis=1)
            masses = self._child_masses(children, ext, virt, N)
            if vertex is None:
                Mv = jnp.full((N,), self.sqrt_s)
            else:
                Mv = virt[vi - 1][0]
                # undo the map's frames: boost into each enclosing resonance's rest frame in turn, then
                # rotate back from the innermost one's helicity frame
                path = self._paths[id(vertex)]
                moms = jnp.concatenate([jnp.stack([node_momentum(a) for a in path], axis=1), pc], axis=1)
                direction = None
                for i, a in enumerate(path):
                    direction = moms[:, i, 1:]
                    Ma = virt[self._res_index[id(a)]][0]
                    moms = boost_to_rest(moms[:, i : i + 1, :], Ma[:, None], moms)
                pc = rotate_to_helicity_frame(direction, moms[:, len(path) :])
            uv, lw = nbody_inverse(lay, pc, Mv, masses)
            u_cols.append(uv)
            log_w = log_w + lw
        u = jnp.concatenate([c[:, None] if c.ndim == 1 else c for c in u_cols], axis=-1)
        if single:
            return u[0], log_w[0]
        return u, log_w

    # convenience ------------------------------------------------------------
    def sample(self, key, n: int, params=None):
        """(u, momenta, log_weight) for ``n`` uniform points drawn with a JAX PRNG key."""
        import jax

        u = jax.random.uniform(key, (n, self.ndim), dtype=jnp.float64)
        p, lw = self.map(u, params)
        return u, p, lw


def _snap_to_unit(u, tol=1e-10):
    """Clip values within ``tol`` outside [0, 1] (rounding) onto the faces; leave real outliers visible."""
    u = jnp.where((u < 0.0) & (u > -tol), 0.0, u)
    return jnp.where((u > 1.0) & (u < 1.0 + tol), 1.0, u)


class FlatMapping(PhaseSpaceMapping):
    """Flat n-body generator ("RAMBO on diet", Plätzer arXiv:1308.2922), 3n-4 variables, exact inverse.

    Constant weight (pi/2)^(n-1) s^(n-2) / ((n-1)! (n-2)!) (2 pi)^(4-3n) for massless particles; a
    bounded, strictly positive weight for massive ones (see :mod:`flowint.phasespace._nbody`).
    """

    def __init__(
        self, sqrt_s, external_masses, *, initial=(0, 1), mass_keys=None, window_cuts=None, bwcutoff=15.0
    ):
        finals = [i for i in range(len(external_masses)) if i not in tuple(initial)]
        nodes = flat_tree(finals, external_masses, mass_keys)
        super().__init__(
            sqrt_s,
            nodes,
            external_masses,
            initial=initial,
            kind="flat",
            bwcutoff=bwcutoff,
            window_cuts=window_cuts,
        )


class TwoBodyMapping(PhaseSpaceMapping):
    """2 -> 2 mapping: u = (cos theta, phi) of the first final-state particle, theta measured from beam 1.

    Weight lambda^(1/2)(s, m1^2, m2^2) / (8 pi s).
    """

    def __init__(
        self, sqrt_s, external_masses, *, initial=(0, 1), mass_keys=None, window_cuts=None, bwcutoff=15.0
    ):
        finals = [i for i in range(len(external_masses)) if i not in tuple(initial)]
        if len(finals) != 2:
            raise ValueError(
                f"the two_body mapping needs exactly 2 final-state particles, the process has {len(finals)}"
            )
        nodes = flat_tree(finals, external_masses, mass_keys)
        super().__init__(
            sqrt_s,
            nodes,
            external_masses,
            initial=initial,
            kind="two_body",
            bwcutoff=bwcutoff,
            window_cuts=window_cuts,
        )


class DecayChainMapping(PhaseSpaceMapping):
    """Resonance-aware mapping built from a decay chain (Breit-Wigner virtualities + two-body decays).

    ``chain``: a decay-chain dict (``{"initial": [...], "final": [node, ...]}``, the process manifest's
    format) or a tuple of :class:`~flowint.phasespace.External` / :class:`~flowint.phasespace.Resonance`
    nodes.
    """

    def __init__(self, sqrt_s, chain, external_masses, *, initial=(0, 1), mass_keys=None, bwcutoff=15.0,
                 derived=None):
        if isinstance(chain, dict):
            initial = tuple(chain.get("initial", initial))
            nodes = tree_from_decay_chain(chain, external_masses, mass_keys, derived)
        else:
            nodes = tuple(chain)
        super().__init__(
            sqrt_s, nodes, external_masses, initial=initial, kind="decay_chain", bwcutoff=bwcutoff
        )


MAPPING_KINDS = ("flat", "decay_chain", "two_body")


def make_mapping(process, sqrt_s: float, kind: str = "flat", bwcutoff: float = 15.0) -> PhaseSpaceMapping:
    """Build a phase-space mapping for ``process`` at ``sqrt_s`` (GeV).

    ``process``: a :class:`flowint.madjax.Process` (or a process name, loaded with
    ``flowint.madjax.load_process``, or any object with ``external_masses`` and optionally
    ``decay_chain``, ``resonances``, ``pdg_codes``, ``default_params()``, e.g.
    :class:`flowint.phasespace.ProcessDescription`).

    ``kind``:

    * ``"flat"``: :class:`FlatMapping` over all final-state particles. For a process with a decay chain
      the resonance windows |m - M| < bwcutoff Gamma become ``window_cuts`` (applied by the integrand),
      so the flat and decay-chain mappings integrate the same MadEvent cross section.
    * ``"decay_chain"``: :class:`DecayChainMapping` from ``process.decay_chain``; for a process without
      one, from ``process.resonances`` (unrestricted Breit-Wigner maps of the s-channel resonances that
      are proper subsets of the final state), and flat when there are none.
    * ``"two_body"``: :class:`TwoBodyMapping` (2 -> 2 only).
    """
    if kind not in MAPPING_KINDS:
        raise ValueError(f"unknown mapping kind {kind!r}; expected one of {', '.join(MAPPING_KINDS)}")
    if isinstance(process, str):
        from flowint.madjax import load_process

        process = load_process(process)
    from ._tree import external_mass_keys, tree_from_resonances

    masses = tuple(float(m) for m in process.external_masses)
    keys = external_mass_keys(process)
    derived = getattr(process, "model_parameters", None)
    chain = getattr(process, "decay_chain", None)
    initial = tuple(chain.get("initial", (0, 1))) if chain else tuple(range(getattr(process, "ninitial", 2)))
    if kind == "two_body":
        return TwoBodyMapping(sqrt_s, masses, initial=initial, mass_keys=keys, bwcutoff=bwcutoff)
    if kind == "flat":
        windows = Cuts(())
        if chain:
            windows = resonance_windows(tree_from_decay_chain(chain, masses, keys, derived), bwcutoff)
        return FlatMapping(
            sqrt_s, masses, initial=initial, mass_keys=keys, window_cuts=windows, bwcutoff=bwcutoff
        )
    if chain:
        return DecayChainMapping(sqrt_s, chain, masses, initial=initial, mass_keys=keys, bwcutoff=bwcutoff,
                                 derived=derived)
    finals = [i for i in range(len(masses)) if i not in initial]
    nodes = tree_from_resonances(getattr(process, "resonances", None), finals, masses, keys)
    return PhaseSpaceMapping(sqrt_s, nodes, masses, initial=initial, kind="decay_chain", bwcutoff=bwcutoff)
