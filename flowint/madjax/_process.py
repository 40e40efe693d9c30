"""The :class:`Process` object: |M|² of one exported matrix element as a pure, batched JAX function."""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from flowint.madjax import _library, _param_card
from flowint.madjax._fence import materialisation


def _tuple_keys(obj):
    """JSON lists back to tuples for the (block, code) keys inside a resonance/decay-chain description."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in ("mass_key", "width_key", "key") and isinstance(v, list):
                out[k] = (str(v[0]), tuple(v[1]) if isinstance(v[1], list) else int(v[1]))
            else:
                out[k] = _tuple_keys(v)
        return out
    if isinstance(obj, list):
        return [_tuple_keys(v) for v in obj]
    return obj


def normalize_key(key):
    """A parameter key as (lower-case block, int code or tuple of ints); ValueError if it is not one."""
    if isinstance(key, (tuple, list)) and len(key) == 2 and isinstance(key[0], str):
        block, code = key
        if isinstance(code, (list, tuple)):
            code = tuple(int(c) for c in code)
        elif isinstance(code, (int, np.integer)) and not isinstance(code, bool):
            code = int(code)
        else:
            raise ValueError(f"parameter key {key!r}: the code must be an integer, got {code!r}")
        return block.lower(), code
    raise ValueError(f"parameter key {key!r} is not a (block, code) pair such as ('mass', 23)")


def _split_momenta(momenta):
    """The (N,) arrays E, px, py, pz of every particle from momenta (N, nexternal, 4).

    Written as one ``split`` (whose transpose is a single concatenation) rather than one slice per
    component: the transpose of a slice is a pad, and XLA fuses the sum of those pads into one loop that
    evaluates every cotangent for every output element, which made gradients 10x slower to run and to
    compile.
    """
    n = momenta.shape[1]
    flat = momenta.reshape(momenta.shape[0], n * 4).T
    return tuple(part[0] for part in jnp.split(flat, n * 4, axis=0))


def _is_tracer(x):
    return isinstance(x, jax.core.Tracer)


class Process:
    """One exported matrix element.

    Attributes: ``name``, ``process_string``, ``model``, ``pdg_codes`` (MadGraph order), ``nexternal``,
    ``ninitial``, ``particles`` (manifest entries), ``external_masses`` (defaults, GeV),
    ``resonances`` and ``decay_chain`` (see the manifest format in ``flowint.madjax``),
    ``helicity_indices`` (the retained helicity combinations).

    ``me2(momenta, params=None)`` returns MadGraph's SMATRIX: |M|² summed over final-state helicities
    and colours, averaged over initial ones, identical-particle factors included.
    """

    def __init__(self, package, manifest, entry, directory):
        self.directory = directory
        self.manifest = manifest
        self.entry = entry
        self.library = manifest["name"]
        self.name = manifest["name"] if len(manifest["processes"]) == 1 else entry["name"]
        self.process_string = entry["process"]
        self.model = manifest["model"]
        self.pdg_codes = tuple(int(c) for c in entry["pdg_codes"])
        self.nexternal = int(entry["nexternal"])
        self.ninitial = int(entry["ninitial"])
        self.particles = _tuple_keys(entry["particles"])
        self.external_masses = tuple(float(p["mass"]["value"]) if p.get("mass") else 0.0 for p in self.particles)
        self.resonances = _tuple_keys(entry["resonances"])
        self.decay_chain = _tuple_keys(entry.get("decay_chain"))
        self._externals = _library.externals_from_manifest(manifest)
        self._defaults = {(b, c): v for b, c, _, v in self._externals}
        self._names = {(b, c): n for b, c, n, _ in self._externals}
        self._reference_key = self._externals[0][:2]
        self._parameters = _library.import_submodule(package, "parameters")
        self._matrix = _library.import_submodule(package, entry["module"])
        if self._matrix.NEXTERNAL != self.nexternal or tuple(self._matrix.PDG_CODES) != self.pdg_codes:
            raise ValueError(f"malformed process directory {directory!r}: module {entry['module']} does not "
                             "match its manifest entry")
        self._all_helicities = np.asarray(self._matrix.HELICITIES, dtype=int)
        denominators = np.asarray(self._matrix.COLOR_DENOMINATORS, dtype=float)
        self._color = np.asarray(self._matrix.COLOR_MATRIX, dtype=float) / denominators[:, None]
        nonzero = entry["helicities"].get("nonzero")
        if nonzero is None:
            nonzero = self.find_nonzero_helicities()
        self.helicity_indices = tuple(int(i) for i in nonzero)
        if not self.helicity_indices:
            raise ValueError(f"process {self.name}: every helicity combination vanishes")
        self._me2_jit = jax.jit(self._me2_kernel)

    def __repr__(self):
        return f"Process({self.name!r}: {self.process_string}, model {self.model})"

    # ------------------------------------------------------------------ parameters
    @property
    def external_parameters(self):
        """[(block, code, name, default)] of the model's external parameters (its param card)."""
        return list(self._externals)

    def default_params(self):
        """The model's default external parameters: {(block, code): value}."""
        return dict(self._defaults)

    def read_param_card(self, path):
        """External parameters from an SLHA param card: {(block, code): value}."""
        return _param_card.read_param_card(path, self._externals)

    def write_param_card(self, path, params=None):
        """Write an SLHA param card with these parameters (defaults where not given)."""
        values = self.default_params()
        values.update({k: float(v) for k, v in self.complete_params(params).items()})
        _param_card.write_param_card(path, values, self._externals, title=f"flowint ({self.model})")

    def complete_params(self, params=None):
        """Defaults overridden by ``params`` (keys validated); values as float64 JAX scalars or tracers."""
        full = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in self._defaults.items()}
        if params is None:
            return full
        if not isinstance(params, Mapping):
            raise ValueError(f"params must be a mapping {{(block, code): value}}, got {type(params).__name__}")  # noqa: TRY004
        for key, value in params.items():
            norm = normalize_key(key)
            if norm not in self._defaults:
                raise ValueError(f"unknown parameter key {key!r} for model {self.model}: not an external "
                                 "parameter (known: " + ", ".join(f"{b}/{c} ({n})" for b, c, n, _ in
                                                                  self._externals) + ")")
            if jnp.ndim(value) != 0:
                raise ValueError(f"parameter {key!r} must be a scalar, got shape {jnp.shape(value)}")
            full[norm] = jnp.asarray(value, dtype=jnp.float64)
        return full

    def model_parameters(self, params=None):
        """The derived parameters and couplings this process uses ({MadGraph name: value}), e.g. the
        W mass ``"mdl_MW"`` computed from MZ, G_F and α_EW; differentiable w.r.t. ``params``."""
        return self._parameters.compute(self.complete_params(params))

    def masses(self, params=None):
        """Masses of the external particles for these parameters (GeV), shape (nexternal,)."""
        full = self.complete_params(params)
        return jnp.stack([full[p["mass"]["key"]] if p.get("mass") and p["mass"].get("key") else jnp.float64(0.0)
                          for p in self.particles])

    # ------------------------------------------------------------------ |M|²
    def me2(self, momenta, params=None):
        """|M|² for momenta of shape (N, nexternal, 4) ([E, px, py, pz] in GeV): float64 (N,)."""
        momenta = self._check_momenta(momenta)
        return self._me2_jit(momenta, self.complete_params(params))

    def me2_per_helicity(self, momenta, params=None, helicities=None):
        """|M_h|² (already divided by the averaging denominator) for the combinations ``helicities``
        (indices into ``all_helicities``; default: the retained ones): shape (len(helicities), N)."""
        momenta = self._check_momenta(momenta)
        indices = self.helicity_indices if helicities is None else tuple(int(i) for i in helicities)
        combos = self._all_helicities[list(indices)]
        kernel = jax.jit(lambda p, c: jnp.stack(self._per_helicity(p, c, combos)) / self._matrix.DENOMINATOR)
        return kernel(momenta, self.complete_params(params))

    @property
    def all_helicities(self):
        """Every helicity combination MadGraph enumerates, shape (ncomb, nexternal)."""
        return self._all_helicities.copy()

    def find_nonzero_helicities(self, npoints=6, seed=20261204):
        """Indices of the helicity combinations that are non-zero at random points (default parameters)."""
        rng = np.random.default_rng(seed)
        masses = np.asarray(self.external_masses)
        sqrt_s = 1.5 * max(masses[self.ninitial:].sum(), masses[:self.ninitial].sum()) + 100.0
        points = jnp.asarray(_library.random_points(masses, sqrt_s, npoints, rng))
        # Evaluated op by op: compiling all combinations at once (256 for a 2->6 process) takes minutes.
        with jax.disable_jit():
            values = np.asarray(jnp.stack(self._per_helicity(points, self.complete_params(), self._all_helicities)))
        return [int(i) for i in np.flatnonzero(np.any(values != 0.0, axis=1))]

    # ------------------------------------------------------------------ internals
    def _check_momenta(self, momenta):
        if not _is_tracer(momenta):
            try:
                momenta = np.asarray(momenta)
            except (TypeError, ValueError):
                raise ValueError(f"{self.name}: momenta must be a numeric array") from None
            if not np.issubdtype(momenta.dtype, np.number) or np.iscomplexobj(momenta):
                raise ValueError(f"{self.name}: momenta must be real numbers, got dtype {momenta.dtype}")
        shape = tuple(jnp.shape(momenta))
        if len(shape) != 3 or shape[1:] != (self.nexternal, 4):
            names = " ".join(p["name"] for p in self.particles)
            hint = "; add a batch axis: momenta[None]" if shape == (self.nexternal, 4) else ""
            raise ValueError(f"{self.name}: momenta must have shape (N, {self.nexternal}, 4) "
                             f"[E, px, py, pz for {names}], got {shape}{hint}")
        if not _is_tracer(momenta) and not np.all(np.isfinite(momenta)):
            raise ValueError(f"{self.name}: momenta contain NaN or infinite values")
        return jnp.asarray(momenta, dtype=jnp.float64)

    def _per_helicity(self, momenta, params, combos):
        """Colour-summed |M_h|² for each helicity combination in ``combos``: a list of (N,) arrays.

        The combinations are unrolled at trace time; XLA's common-subexpression elimination shares the
        wavefunctions and currents that several combinations have in common, and :func:`keep` fences
        (inside the generated code) keep reverse-mode differentiation from recomputing them.
        """
        with materialisation(params[self._reference_key]):
            couplings = self._parameters.compute(params)
            components = _split_momenta(momenta)
            p = [components[4 * i:4 * i + 4] for i in range(self.nexternal)]
            out = []
            for combo in combos:
                jamp = self._matrix.jamps(p, [int(h) for h in combo], couplings)
                total = 0.0
                for i in range(len(jamp)):
                    acc = 0.0
                    for j in range(len(jamp)):
                        if self._color[i, j] != 0.0:
                            acc = acc + self._color[i, j] * jamp[j]
                    total = total + jnp.real(jnp.conj(jamp[i]) * acc)
                out.append(jnp.broadcast_to(total, momenta.shape[:1]))
        return out

    def _me2_kernel(self, momenta, params):
        combos = self._all_helicities[list(self.helicity_indices)]
        return sum(self._per_helicity(momenta, params, combos)) / self._matrix.DENOMINATOR
