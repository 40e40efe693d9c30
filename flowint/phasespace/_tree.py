"""Resonance trees: the static description a decay-chain mapping is built from.

A process's final state is a list of nodes; a node is either an external particle or an s-channel
resonance that decays into further nodes. Two sources are understood:

* ``process.decay_chain`` (the process manifest): ``{"initial": [0, 1], "final": [node, ...]}`` with
  ``node := {"external": i} | {"pdg", "name", "mass", "width", "mass_key", "width_key", "decays":
  [node, ...]}``. Virtualities of these resonances are restricted to |m - M| < bwcutoff * Gamma, as
  MadEvent does for decay chains.
* ``process.resonances`` (``{"pdg", "name", "mass", "width", "mass_key", "width_key", "legs"}``):
  s-channel propagators of a process written without decay-chain syntax. Those whose legs form a
  proper subset of the final state (and nest) become unrestricted tree nodes: their virtuality is
  mapped with a Breit-Wigner over the whole kinematically allowed range, which changes the sampling
  density but not the cross section.
"""

from __future__ import annotations

from typing import NamedTuple


class External(NamedTuple):
    """A final-state particle: 0-based index in the momenta array, default mass, optional param key."""

    index: int
    mass: float
    mass_key: tuple | None = None


class Resonance(NamedTuple):
    """An s-channel resonance decaying into ``children`` (External or Resonance nodes).

    ``restrict``: the virtuality is limited to |m - mass| < bwcutoff * width (decay-chain syntax);
    otherwise only by kinematics.
    """

    name: str
    pdg: int
    mass: float
    width: float
    children: tuple
    restrict: bool = True
    mass_key: tuple | None = None
    width_key: tuple | None = None
    mass_fn: object = None  # params -> mass, for a mass derived from other parameters (e.g. MW)


def resonance_mass(res, params):
    """A resonance's mass for these parameters: its own key, else its derivation, else the default."""
    if params is not None:
        if res.mass_key is not None and res.mass_key in params:
            return params[res.mass_key]
        if res.mass_key is None and res.mass_fn is not None:
            return res.mass_fn(params)
    return res.mass


def resonance_width(res, params):
    if params is not None and res.width_key is not None and res.width_key in params:
        return params[res.width_key]
    return res.width


class _DerivedMass:
    """params -> one derived parameter of a process (hashable, so trees stay comparable)."""

    def __init__(self, derived, name):
        self.derived, self.name = derived, name

    def __call__(self, params):
        import jax.numpy as jnp

        return jnp.real(self.derived(params)[self.name])


def _key(k):
    if k is None:
        return None
    return (str(k[0]).lower(), int(k[1]))


def leaves(node) -> tuple:
    """External indices below a node, in tree order."""
    if isinstance(node, External):
        return (node.index,)
    return tuple(i for c in node.children for i in leaves(c))


def resonances_preorder(children) -> list:
    """All Resonance nodes below a list of nodes, parents before children, siblings left to right."""
    out = []
    for c in children:
        if isinstance(c, Resonance):
            out.append(c)
            out.extend(resonances_preorder(c.children))
    return out


def external_mass_keys(process) -> dict:
    """{external index: (block, code)} for massive external particles whose mass is a model parameter.

    Read from ``process.particles[i]["mass"]["key"]`` (the process manifest) when present, else guessed
    as ``("mass", |pdg|)`` when that key exists in ``process.default_params()`` with the same value.
    """
    masses = tuple(float(m) for m in process.external_masses)
    keys = {}
    particles = getattr(process, "particles", None)
    if particles is not None:
        for i, part in enumerate(particles):
            mass = part.get("mass") if isinstance(part, dict) else None
            if masses[i] > 0 and isinstance(mass, dict) and mass.get("key") is not None:
                keys[i] = _key(mass["key"])
        return keys
    pdg = getattr(process, "pdg_codes", None)
    try:
        defaults = process.default_params()
    except AttributeError:
        defaults = {}
    if pdg is None:
        return keys
    for i, (code, m) in enumerate(zip(pdg, masses)):
        key = ("mass", abs(int(code)))
        if m > 0 and key in defaults and abs(float(defaults[key]) - m) <= 1e-9 * max(1.0, m):
            keys[i] = key
    return keys


def _value_and_key(entry, field, key_field):
    """A resonance's mass or width: a number with a separate key, or a manifest dict {"value", "key"}."""
    v = entry[field]
    if isinstance(v, dict):
        return float(v["value"]), _key(v.get("key"))
    return float(v), _key(entry.get(key_field))


def tree_from_decay_chain(chain: dict, external_masses, mass_keys=None, derived=None) -> tuple:
    """Production-level nodes from a decay-chain description (see module docstring).

    ``derived``: optional ``params -> {name: value}`` (``Process.model_parameters``) used for resonances
    whose mass is a derived parameter (``mass_key`` None, ``mass_parameter`` given), e.g. the W mass
    computed from MZ, G_F and α_EW, so that the Breit-Wigner window follows the parameters.
    """
    mass_keys = mass_keys or {}
    masses = tuple(float(m) for m in external_masses)

    def build(node):
        if "external" in node:
            i = int(node["external"])
            if not 0 <= i < len(masses):
                raise ValueError(f"decay chain refers to external particle {i}, process has {len(masses)}")
            return External(i, masses[i], mass_keys.get(i))
        decays = node.get("decays")
        if not decays or len(decays) < 2:
            raise ValueError(
                f"resonance {node.get('name', node.get('pdg'))!r} needs at least two decay products"
            )
        width = float(node["width"])
        name = str(node.get("name", node.get("pdg")))
        if not width > 0:
            raise ValueError(
                f"resonance {name!r} has width {width}; a Breit-Wigner map needs a positive width"
            )
        return Resonance(
            name=name,
            pdg=int(node.get("pdg", 0)),
            mass=float(node["mass"]),
            width=width,
            children=tuple(build(c) for c in decays),
            restrict=bool(node.get("restrict", True)),
            mass_key=_key(node.get("mass_key")),
            width_key=_key(node.get("width_key")),
            mass_fn=(_DerivedMass(derived, node["mass_parameter"])
                     if derived is not None and node.get("mass_key") is None and node.get("mass_parameter")
                     else None),
        )

    final = chain["final"]
    nodes = tuple(build(c) for c in final)
    _check_partition(nodes, len(masses), tuple(chain.get("initial", (0, 1))))
    return nodes


def tree_from_resonances(resonances, final_indices, external_masses, mass_keys=None) -> tuple:
    """Production-level nodes from a list of s-channel resonances (unrestricted virtualities).

    Resonances whose legs cover the whole final state (fixed by sqrt(s)) or do not nest with the
    others are ignored.
    """
    mass_keys = mass_keys or {}
    masses = tuple(float(m) for m in external_masses)
    final = tuple(final_indices)
    usable = []
    for r in resonances or ():
        legs = tuple(sorted(int(i) for i in r["legs"]))
        if len(legs) < 2 or len(legs) >= len(final) or not set(legs) <= set(final):
            continue
        mass, mass_key = _value_and_key(r, "mass", "mass_key")
        width, width_key = _value_and_key(r, "width", "width_key")
        if not (width > 0 and mass > 0):
            continue
        if any(legs == u[0] for u in usable):
            continue
        fields = {
            "name": str(r.get("name", r.get("pdg"))),
            "pdg": int(r.get("pdg", 0)),
            "mass": mass,
            "width": width,
            "mass_key": mass_key,
            "width_key": width_key,
        }
        usable.append((legs, fields))
    # keep a laminar family (any two leg sets nested or disjoint), larger sets first
    usable.sort(key=lambda item: -len(item[0]))
    chosen = []
    for legs, r in usable:
        s = set(legs)
        if all(s <= set(c) or set(c) <= s or not (s & set(c)) for c, _ in chosen):
            chosen.append((legs, r))

    def build(indices):
        indices = set(indices)
        nodes = []
        covered = set()
        for legs, r in chosen:  # maximal chosen sets strictly inside `indices`
            s = set(legs)
            maximal = not any(s < set(o) < indices for o, _ in chosen)
            if s < indices and not (s & covered) and maximal:
                covered |= s
                nodes.append((min(s), Resonance(children=build(s), restrict=False, **r)))
        for i in indices - covered:
            nodes.append((i, External(i, masses[i], mass_keys.get(i))))
        nodes.sort(key=lambda item: item[0])
        return tuple(n for _, n in nodes)

    return build(final)


def _check_partition(nodes, nexternal, initial):
    seen = [i for n in nodes for i in leaves(n)]
    expected = sorted(set(range(nexternal)) - set(initial))
    if sorted(seen) != expected:
        raise ValueError(f"decay chain leaves {sorted(seen)} do not match the final state {expected}")


def flat_tree(final_indices, external_masses, mass_keys=None) -> tuple:
    """All final-state particles attached directly to the production vertex."""
    mass_keys = mass_keys or {}
    return tuple(External(i, float(external_masses[i]), mass_keys.get(i)) for i in final_indices)


def describe(nodes) -> str:
    """Compact text form of a tree, e.g. ``t(2, W+(3, 4)) t~(5, W-(6, 7))``."""

    def one(n):
        if isinstance(n, External):
            return str(n.index)
        return f"{n.name}(" + ", ".join(one(c) for c in n.children) + ")"

    return " ".join(one(n) for n in nodes)


class ProcessDescription(NamedTuple):
    """An explicit process description, for mappings built without a matrix element.

    Any object with these attributes works with :func:`flowint.phasespace.make_mapping`; a
    :class:`flowint.madjax.Process` provides them all.
    """

    external_masses: tuple
    decay_chain: dict | None = None
    resonances: tuple = ()
    pdg_codes: tuple | None = None
    name: str = "custom"
    ninitial: int = 2
    params: dict | None = None

    @property
    def nexternal(self) -> int:
        return len(self.external_masses)

    def default_params(self) -> dict:
        return dict(self.params or {})
