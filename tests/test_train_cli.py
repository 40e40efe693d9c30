"""`python -m flowint.train`: config validation, threshold errors, outputs, checkpoints, resume, Ctrl-C."""

import json
import pathlib

import numpy as np
import pytest
import yaml

import flowint.train as cli
from flowint.integrate import ConfigError, Integrator, apply_overrides, load_config, validate_config

CONFIGS = pathlib.Path(__file__).parent.parent / "configs"

SMALL = {
    "process": "ee_mumu",
    "sqrt_s": 91.0,
    "seed": 5,
    "mapping": {"kind": "two_body"},
    "flow": {"hidden_width": 8, "n_layers": 2},
    "training": {"steps": 8, "batch_size": 200, "checkpoint_every": 3, "log_every": 1, "buffer_size": 1000},
    "integration": {"n_points": 2000},
}


def _quiet(_line):
    pass


@pytest.mark.parametrize("name", ["ee_mumu.yaml", "uux_ttx.yaml", "qq_tt_6j.yaml", "qq_tt_6j_flat.yaml"])
def test_shipped_configs_are_valid(name):
    cfg = load_config(CONFIGS / name)
    assert cfg["sqrt_s"] > 0
    if name.startswith("qq_tt_6j"):
        assert cfg["process"] == "uux_ttx_chain_bbqqqq" and cfg["sqrt_s"] == 1000.0
        assert cfg["mapping"]["bwcutoff"] == 15.0 and not cfg["cuts"]
        assert cfg["mapping"]["kind"] == ("flat" if "flat" in name else "decay_chain")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"trainig": {}}, r"unknown config key 'trainig'"),
        ({"training": {"stepz": 3}}, r"unknown config key 'training.stepz'"),
        ({"training": {"steps": -3}}, r"'training.steps': expected an integer >= 0, got -3"),
        ({"training": {"learning_rate": "fast"}}, r"'training.learning_rate': expected a number"),
        ({"flow": {"kind": "maf"}}, r"'flow.kind': expected one of 'smooth', 'spline'"),
        ({"vegas": {"enabled": "yes"}}, r"'vegas.enabled': expected true or false"),
        ({"sqrt_s": 0}, r"'sqrt_s': expected a number > 0"),
        ({"flow": {"kind": "spline", "n_components": 4}}, r"'flow.n_components' does not apply to a spline"),
    ],
)
def test_config_errors_name_the_key(change, message):
    cfg = {**SMALL, **{k: ({**SMALL.get(k, {}), **v} if isinstance(v, dict) else v) for k, v in change.items()}}
    with pytest.raises(ConfigError, match=message) as info:
        validate_config(cfg)
    assert "\n" not in str(info.value)


def test_missing_required_key_and_unknown_override():
    with pytest.raises(ConfigError, match=r"'sqrt_s' is required"):
        validate_config({"process": "ee_mumu"})
    with pytest.raises(ConfigError, match=r"unknown config key 'trainin'"):
        apply_overrides(SMALL, ["trainin.steps=3"])
    assert apply_overrides(SMALL, ["training.steps=3"])["training"]["steps"] == 3


def test_below_threshold_and_unknown_process_fail_before_training():
    with pytest.raises(ConfigError, match=r"sqrt_s = 300.0 GeV is below the threshold 346"):
        Integrator({**SMALL, "process": "uux_ttx", "sqrt_s": 300.0}, log=_quiet)
    with pytest.raises(ConfigError, match=r"config key 'process'"):
        Integrator({**SMALL, "process": "no_such_process"}, log=_quiet)
    with pytest.raises(ConfigError, match=r"'params.mass/999'"):
        Integrator({**SMALL, "params": {"mass/999": 1.0}}, log=_quiet)


def test_cli_reports_config_errors_on_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**SMALL, "process": "uux_ttx", "sqrt_s": 300.0}))
    assert cli.main(["--config", str(bad), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "below the threshold" in err[0]
    assert not (tmp_path / "out" / "results.json").exists()
    assert cli.main(["--config", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_resume_equals_uninterrupted(tmp_path):
    straight = Integrator(SMALL, log=_quiet)
    straight.train(tmp_path / "a.pkl", progress=False)

    class Stop:
        calls = 0

        def __call__(self, line):
            self.calls += 1
            if self.calls == 5:  # after update 5, between checkpoints (3 and 6)
                raise KeyboardInterrupt

    first = Integrator(SMALL, log=Stop())
    with pytest.raises(KeyboardInterrupt):
        first.train(tmp_path / "b.pkl", progress=False)
    assert first._update == 5  # Ctrl-C wrote the checkpoint of the last completed update
    second = Integrator(SMALL, log=_quiet)
    second.train(tmp_path / "b.pkl", resume=True, progress=False)
    leaves_a = [np.asarray(x) for x in __import__("jax").tree_util.tree_leaves(straight.state)]
    leaves_b = [np.asarray(x) for x in __import__("jax").tree_util.tree_leaves(second.state)]
    assert len(leaves_a) == len(leaves_b)
    for a, b in zip(leaves_a, leaves_b):
        np.testing.assert_array_equal(a, b)
    assert straight.history["loss"] == second.history["loss"]
    assert straight.counters["n_evals_train"] == second.counters["n_evals_train"] == 8 * 200
    assert straight.integrate()["xsec_pb"] == second.integrate()["xsec_pb"]
    # a checkpoint of another configuration is refused
    other = Integrator({**SMALL, "seed": 6}, log=_quiet)
    with pytest.raises(ValueError, match=r"different config \(differs in: seed\)"):
        other.train(tmp_path / "b.pkl", resume=True, progress=False)


def test_cli_end_to_end_writes_every_output(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--config", str(CONFIGS / "ee_mumu.yaml"), "--output", str(out), "--quiet",
            "--set", "training.steps=10", "--set", "training.batch_size=300", "--set", "integration.n_points=4000",
            "--set", "events.n_max=500", "--set", "flow.hidden_width=8", "--set", "vegas.nitn_adapt=2"]
    assert cli.main(args) == 0
    table = capsys.readouterr().out
    assert "variance ratio" in table and "MadGraph sigma" in table
    results = json.loads((out / "results.json").read_text())
    for side in ("flow", "vegas"):
        for key in ("xsec_pb", "xsec_err_pb", "rel_std", "unweighting_efficiency", "n_evals", "seconds"):
            assert isinstance(results[side][key], (int, float)), (side, key)
    assert results["process"] == "ee_mumu" and results["sqrt_s"] == 91.0 and results["mapping"] == "two_body"
    assert 0 <= results["vegas"]["Q"] <= 1
    ratio = (results["vegas"]["rel_std"] / results["flow"]["rel_std"]) ** 2
    assert results["variance_ratio"] == pytest.approx(ratio)
    assert results["flow"]["n_evals"] == 10 * 300 + 4000
    for name in ("events.lhe.gz", "checkpoint.pkl", "config.yaml", "training.png", "weights.png", "observables.png"):
        assert (out / name).stat().st_size > 0, name
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    # --resume on the finished run: nothing left to train, same flow, same cross section
    assert cli.main(args + ["--resume"]) == 0
    again = json.loads((out / "results.json").read_text())
    assert again["flow"]["xsec_pb"] == results["flow"]["xsec_pb"]
