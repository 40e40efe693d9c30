"""Shared fixtures: the MadGraph 3.5.7 reference data shipped with the tests."""

import json
import math
import pathlib

import pytest

import flowint  # noqa: F401  (float64)

REFERENCE = pathlib.Path(__file__).parent / "data" / "reference"


@pytest.fixture(scope="session")
def reference_dir():
    return REFERENCE


def load_reference_me(key):
    with open(REFERENCE / "me" / f"me_{key}.json") as handle:
        return json.load(handle)


def ee_mumu_couplings(params):
    """Tree-level sm (G_F scheme) inputs of e+e- -> mu+mu-: e^2, left/right Z couplings of a charged
    lepton in units of e, MZ and WZ; MW is derived from MZ, G_F and alpha as in the model."""
    alpha = 1 / params[("sminputs", 1)]
    mz, wz, gf = params[("mass", 23)], params[("decay", 23)], params[("sminputs", 2)]
    mw = math.sqrt(mz**2 / 2 + math.sqrt(mz**4 / 4 - math.pi * alpha * mz**2 / (gf * math.sqrt(2))))
    sw2 = 1 - mw**2 / mz**2
    sw, cw = math.sqrt(sw2), math.sqrt(1 - sw2)
    return 4 * math.pi * alpha, (-0.5 + sw2) / (sw * cw), sw2 / (sw * cw), mz, wz
