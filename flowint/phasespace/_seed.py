"""The seed's interface: MadJax-style ``matrix_element(params, random_variables) -> (value, gradients)``.

Mirrors MadJax (Heinrich, Kagan, et al., arXiv:2203.00057): a process directory or name, a
centre-of-mass energy and a process name give a function of the external model parameters and of
3n-4 random numbers (n final-state particles), which go through the flat n-body generator
(:class:`~flowint.phasespace.FlatMapping`) at that energy. It returns |M|^2 at that phase-space point
and its gradient with respect to the given parameters::

    from flowint.madjax import MadJax
    matrix_element = MadJax("ee_mumu").matrix_element(E_cm=91.0, process_name="ee_mumu")
    value, gradients = matrix_element({("mass", 23): 91.188, ("sminputs", 2): 1.16639e-05}, [0.2, 0.2])

Masses of external particles follow ``params`` (the phase-space point moves with them), so the
gradient is the total derivative at fixed random variables.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._mappings import FlatMapping
from ._tree import external_mass_keys


class MadJax:
    """``MadJax(name_or_dir)``: a shipped process name or an exported process directory."""

    def __init__(self, name_or_dir):
        self.name_or_dir = name_or_dir

    def process(self, process_name=None):
        """The :class:`flowint.madjax.Process` for ``process_name`` (None: the directory's only one)."""
        from flowint.madjax import load_process

        return load_process(self.name_or_dir, process=process_name)

    def phase_space(self, E_cm: float = 91.0, process_name=None) -> FlatMapping:
        """The flat generator the random variables go through."""
        proc = self.process(process_name)
        initial = tuple(range(proc.ninitial))
        return FlatMapping(E_cm, proc.external_masses, initial=initial, mass_keys=external_mass_keys(proc))

    def matrix_element(self, E_cm: float = 91.0, process_name=None):
        """``f(params, random_variables) -> (value, gradients)``.

        ``params``: {(block, code): value} external parameters to differentiate with respect to (the
        others keep their defaults); ``random_variables``: 3n-4 numbers in [0, 1] (or an (N, 3n-4)
        batch). ``value`` is |M|^2 (GeV^(8-2 nexternal)), a scalar or (N,); ``gradients`` a dict with the
        keys of ``params`` (values of shape () or (N,)).
        """
        proc = self.process(process_name)
        mapping = self.phase_space(E_cm, process_name)
        ndim = mapping.ndim

        def single(params, rv):
            momenta, _ = mapping.map(rv[None, :], params)
            return proc.me2(momenta, params)[0]

        def value_and_grad(params, rv):
            # forward mode: one tangent per parameter, cheaper than reverse mode for the handful of
            # parameters one usually asks for (and much faster to compile)
            if len(params) > 16:
                return jax.value_and_grad(single)(params, rv)
            value = single(params, rv)
            grads = {}
            for key in params:
                tangent = {k: jnp.zeros_like(v) if k != key else jnp.ones_like(v) for k, v in params.items()}
                grads[key] = jax.jvp(lambda p: single(p, rv), (params,), (tangent,))[1]
            return value, grads

        batched = jax.jit(jax.vmap(value_and_grad, in_axes=(None, 0)))
        value_and_grad = jax.jit(value_and_grad)

        def matrix_element(params, random_variables):
            params = (
                {} if params is None else {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
            )
            rv = jnp.asarray(random_variables, dtype=jnp.float64)
            if rv.shape[-1:] != (ndim,) or rv.ndim not in (1, 2):
                raise ValueError(
                    f"random_variables must have shape ({ndim},) or (N, {ndim}) for {proc.name} "
                    f"(3n-4 = {ndim} for n = {(ndim + 4) // 3} final-state particles), "
                    f"got {tuple(rv.shape)}"
                )
            if rv.ndim == 1:
                return value_and_grad(params, rv)
            return batched(params, rv)

        return matrix_element
