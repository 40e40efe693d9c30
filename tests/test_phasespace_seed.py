"""The seed's interface: MadJax(name).matrix_element(E_cm, process_name)(params, random_variables)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import flowint
import flowint.madjax
import flowint.phasespace
from flowint.madjax import load_process
from flowint.phasespace import FlatMapping


def test_madjax_example_value_and_gradients():
    assert flowint.madjax.MadJax is flowint.phasespace.MadJax  # lazily re-exported by the madjax package
    matrix_element = flowint.madjax.MadJax("ee_mumu").matrix_element(E_cm=91.0, process_name="ee_mumu")
    params = {("mass", 23): 91.188, ("sminputs", 2): 1.16639e-05}
    value, gradients = matrix_element(params, [0.2, 0.2])
    assert set(gradients) == set(params)
    # the random variables go through the flat generator at E_cm
    process = load_process("ee_mumu")
    momenta, _ = FlatMapping(91.0, process.external_masses).map(jnp.array([[0.2, 0.2]]))
    assert float(value) == pytest.approx(float(process.me2(momenta)[0]), rel=1e-14)
    for key, h in [(("mass", 23), 1e-4), (("sminputs", 2), 1e-11)]:
        up = {**params, key: params[key] + h}
        down = {**params, key: params[key] - h}
        fd = (matrix_element(up, [0.2, 0.2])[0] - matrix_element(down, [0.2, 0.2])[0]) / (2 * h)
        assert np.isfinite(float(gradients[key])) and float(gradients[key]) == pytest.approx(
            float(fd), rel=1e-6
        )
    # a batch of points
    values, grads = matrix_element(params, np.random.default_rng(0).random((5, 2)))
    assert values.shape == (5,) and grads[("mass", 23)].shape == (5,)
    assert float(values[0]) > 0
    with pytest.raises(ValueError, match=r"random_variables must have shape \(2,\)"):
        matrix_element(params, [0.2, 0.2, 0.2])


def test_madjax_massive_final_state_follows_mass_parameter():
    """For u u~ > t t~ the top mass moves the phase-space point: the gradient is the total derivative."""
    matrix_element = flowint.madjax.MadJax("uux_ttx").matrix_element(E_cm=500.0)
    rv = [0.3, 0.7]
    _value, grads = matrix_element({("mass", 6): 173.0}, rv)
    h = 1e-3
    fd = (
        matrix_element({("mass", 6): 173.0 + h}, rv)[0] - matrix_element({("mass", 6): 173.0 - h}, rv)[0]
    ) / (2 * h)
    assert float(grads[("mass", 6)]) == pytest.approx(float(fd), rel=1e-6)
