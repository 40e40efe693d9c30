"""The Process API: loading, parameters and param cards, manifests, and clear errors on bad input."""

import json
import shutil

import numpy as np
import pytest
from conftest import REFERENCE, load_reference_me

from flowint.madjax import load_library, load_process, shipped_processes
from flowint.madjax._library import SHIPPED_DIR
from flowint.madjax._param_card import parse_slha


@pytest.fixture(scope="module")
def ee():
    return load_process("ee_mumu")


@pytest.fixture(scope="module")
def ref_points():
    return np.array([p["momenta"] for p in load_reference_me("ee_mumu")["points"]])


def test_shipped_processes_and_basic_attributes(ee):
    assert "uux_ttx_chain_bbqqqq" in shipped_processes()
    assert ee.pdg_codes == (-11, 11, -13, 13)
    assert (ee.nexternal, ee.ninitial) == (4, 2)
    assert ee.external_masses == (0.0, 0.0, 0.0, 0.0)
    assert load_process("ee_mumu") is ee  # cached
    assert [r["name"] for r in ee.resonances] == ["z"]
    assert ee.resonances[0]["mass"]["key"] == ("mass", 23) and ee.resonances[0]["legs"] == [2, 3]
    assert ee.decay_chain is None


def test_decay_chain_description_of_the_2_to_6_process():
    proc = load_process("uux_ttx_chain_bbqqqq")
    assert proc.pdg_codes == (2, -2, 5, 2, -1, -5, -2, 1)
    top, antitop = proc.decay_chain["final"]
    assert (top["pdg"], antitop["pdg"]) == (6, -6)
    assert top["mass_key"] == ("mass", 6) and top["width_key"] == ("decay", 6)
    b, w_plus = top["decays"]
    assert b == {"external": 2} and w_plus["pdg"] == 24 and w_plus["legs"] == [3, 4]
    assert w_plus["mass_key"] is None and w_plus["mass_parameter"] == "mdl_MW"  # MW is derived
    assert w_plus["mass"] == pytest.approx(80.41900244575616, rel=1e-14)
    assert [d.get("external") for d in w_plus["decays"]] == [3, 4]
    assert proc.external_masses[2] == 4.7 and proc.external_masses[5] == 4.7


def test_default_params_are_the_model_card(ee):
    params = ee.default_params()
    assert params[("mass", 23)] == 91.188 and params[("sminputs", 2)] == 1.16639e-05
    assert params[("decay", 6)] == 1.4915 and len(params) == 15
    card = ee.read_param_card(REFERENCE / "param_cards" / "param_card_ee_mumu.dat")
    assert set(card) == set(params)
    assert all(card[k] == pytest.approx(v, rel=1e-6) for k, v in params.items())


def test_param_card_round_trip(ee, tmp_path):
    values = {**ee.default_params(), ("mass", 23): 90.5, ("decay", 23): 2.7}
    ee.write_param_card(tmp_path / "card.dat", {("mass", 23): 90.5, ("decay", 23): 2.7})
    assert ee.read_param_card(tmp_path / "card.dat") == pytest.approx(values, rel=1e-15)
    assert not list(tmp_path.glob(".param_card.*"))  # the atomic write left no temporary file


def test_params_accept_partial_dicts_and_upper_case_blocks(ee, ref_points):
    full = np.asarray(ee.me2(ref_points, {**ee.default_params(), ("mass", 23): 90.0}))
    partial = np.asarray(ee.me2(ref_points, {("MASS", 23): 90.0}))
    np.testing.assert_array_equal(full, partial)
    assert not np.allclose(full, np.asarray(ee.me2(ref_points)))


def test_two_exported_directories_load_in_one_python_process(tmp_path, ref_points):
    copy = tmp_path / "ee_copy"
    shutil.copytree(f"{SHIPPED_DIR}/ee_mumu", copy, ignore=shutil.ignore_patterns("__pycache__"))
    other = load_process(copy)
    shipped = load_process("ee_mumu")
    assert other is not shipped and other._matrix is not shipped._matrix
    np.testing.assert_array_equal(np.asarray(other.me2(ref_points)), np.asarray(shipped.me2(ref_points)))
    assert list(load_library(copy)) == ["ee_mumu"]  # the name recorded in the manifest


# ---------------------------------------------------------------------------------------------- errors

def test_unknown_process_name():
    with pytest.raises(ValueError, match="unknown process 'ee_tautau'.*ee_mumu"):
        load_process("ee_tautau")


@pytest.mark.parametrize("shape", [(4, 4), (10, 5, 4), (10, 4, 3), (10, 16)])
def test_wrong_momentum_shape(ee, shape):
    with pytest.raises(ValueError, match=r"ee_mumu: momenta must have shape \(N, 4, 4\)"):
        ee.me2(np.ones(shape))


def test_missing_batch_axis_is_explained(ee, ref_points):
    with pytest.raises(ValueError, match=r"add a batch axis"):
        ee.me2(ref_points[0])


def test_non_finite_momenta_are_refused(ee, ref_points):
    bad = ref_points.copy()
    bad[3, 2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        ee.me2(bad)


def test_unknown_parameter_key(ee, ref_points):
    with pytest.raises(ValueError, match=r"unknown parameter key \('mass', 24\) for model sm"):
        ee.me2(ref_points, {("mass", 24): 80.4})  # MW is derived, not an external parameter
    with pytest.raises(ValueError, match=r"not a \(block, code\) pair"):
        ee.me2(ref_points, {"MZ": 91.0})
    with pytest.raises(ValueError, match="must be a scalar"):
        ee.me2(ref_points, {("mass", 23): np.ones(3)})


def _card_without(block):
    text = (REFERENCE / "param_cards" / "param_card_ee_mumu.dat").read_text().splitlines()
    out, skip = [], False
    for line in text:
        head = line.split("#")[0].split()
        if head and head[0].lower() == "block":
            skip = head[1].lower() == block
        if not skip:
            out.append(line)
    return "\n".join(out) + "\n"


def test_param_card_missing_a_block(ee, tmp_path):
    path = tmp_path / "card.dat"
    path.write_text(_card_without("sminputs"))
    with pytest.raises(ValueError, match=r"has no BLOCK SMINPUTS \(needed for aEWM1, Gf, aS\)"):
        ee.read_param_card(path)


def test_param_card_missing_an_entry_or_unreadable(ee, tmp_path):
    text = (REFERENCE / "param_cards" / "param_card_ee_mumu.dat").read_text()
    path = tmp_path / "card.dat"
    path.write_text(text.replace("   23 9.118800e+01 # MZ", ""))
    with pytest.raises(ValueError, match=r"lacks MASS 23 \(MZ\)"):
        ee.read_param_card(path)
    path.write_text(text.replace("9.118800e+01", "ninety-one"))
    with pytest.raises(ValueError, match=r"line \d+: 'ninety-one' is not a number"):
        ee.read_param_card(path)
    with pytest.raises(ValueError, match="does not exist"):
        ee.read_param_card(tmp_path / "nothing.dat")


def test_slha_parser_reads_decay_blocks_and_skips_branching_ratios():
    values = parse_slha("BLOCK MASS\n 6 1.73e2 # MT\nDECAY 6 1.5\n  1.0 2 5 24 # BR\nBlock yukawa\n 6 172.0\n")
    assert values == {("mass", 6): 173.0, ("decay", 6): 1.5, ("yukawa", 6): 172.0}


@pytest.mark.parametrize("corrupt,message", [
    (lambda m: m.pop("processes"), "missing key 'processes'"),
    (lambda m: m.update(format_version=99), "format version 99"),
    (lambda m: m.update(format="something else"), "format 'something else'"),
    (lambda m: m["processes"][0].update(nexternal=5), "4 PDG codes for 5 external particles"),
    (lambda m: m["processes"][0].update(module="../evil"), "not an identifier"),
    (lambda m: m["processes"][0].update(ninitial="two"), "'ninitial' must be int"),
])
def test_malformed_manifest(tmp_path, corrupt, message):
    copy = tmp_path / "proc"
    shutil.copytree(f"{SHIPPED_DIR}/ee_mumu", copy, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = json.loads((copy / "manifest.json").read_text())
    corrupt(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="malformed manifest|format version"):
        load_process(copy)
    with pytest.raises(ValueError, match=message):
        load_process(copy)


def test_manifest_that_is_not_json(tmp_path):
    copy = tmp_path / "proc"
    shutil.copytree(f"{SHIPPED_DIR}/ee_mumu", copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="malformed manifest .*not valid JSON"):
        load_process(copy)


def test_directory_without_manifest(tmp_path):
    with pytest.raises(ValueError, match="not a flowint process directory"):
        load_process(tmp_path)
