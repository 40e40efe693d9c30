"""Shared fixtures: the MadGraph 3.5.7 reference data shipped with the tests."""

import json
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
