"""One complete run into an output directory (what ``python -m flowint.train`` does).

Files written (each atomically):

* ``results.json`` — process, sqrt_s, mapping, the ``flow`` and ``vegas`` objects (``xsec_pb``,
  ``xsec_err_pb``, ``rel_std``, ``unweighting_efficiency``, ``n_evals``, ``seconds``, VEGAS also ``Q`` and
  ``chi2_dof``), ``variance_ratio`` = (rel_std_vegas / rel_std_flow)² with its error, the pull between the
  two cross sections, the reference (MadGraph) cross section where the config names an LHE file, the
  unweighting statistics and the full configuration;
* ``events.lhe.gz`` — the flow's unweighted events (LHE 3.0);
* ``checkpoint.pkl`` — flow and optimiser state (``--resume`` continues from it);
* ``config.yaml`` — the validated configuration with every default;
* ``training.png``, ``weights.png``, ``observables.png`` — the plots.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time

import numpy as np

from ._config import resolve_path
from ._files import atomic_write_bytes
from ._integrator import Integrator, _config_text
from ._metrics import pull

CHECKPOINT = "checkpoint.pkl"


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k) if not isinstance(k, tuple) else "/".join(map(str, k)): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj


def _variance_ratio(flow, vegas):
    r = (vegas["rel_std"] / flow["rel_std"]) ** 2 if flow["rel_std"] > 0 else float("inf")
    # the flow's rel_std error dominates (VEGAS's comes from its iteration spread); propagate the flow's
    err = 2 * r * flow.get("rel_std_err", 0.0) / flow["rel_std"] if flow["rel_std"] > 0 else float("nan")
    return r, err


def comparison_table(results: dict) -> str:
    """The flow-vs-VEGAS table printed at the end of a run."""
    rows = [("", "flow", "VEGAS")]
    f, v = results["flow"], results.get("vegas")

    def cell(obj, fmt):
        return fmt(obj) if obj else "-"

    rows.append(("sigma [pb]", f"{f['xsec_pb']:.6g} +- {f['xsec_err_pb']:.2g}",
                 cell(v, lambda o: f"{o['xsec_pb']:.6g} +- {o['xsec_err_pb']:.2g}")))
    rows.append(("rel. std of weights", f"{f['rel_std']:.4g}", cell(v, lambda o: f"{o['rel_std']:.4g}")))
    rows.append(("unweighting efficiency", f"{f['unweighting_efficiency']:.2%}",
                 cell(v, lambda o: f"{o['unweighting_efficiency']:.2%}")))
    rows.append(("integrand calls", f"{f['n_evals']:,}", cell(v, lambda o: f"{o['n_evals']:,}")))
    rows.append(("seconds", f"{f['seconds']:.1f}", cell(v, lambda o: f"{o['seconds']:.1f}")))
    if v:
        rows.append(("chi2/dof, Q", "", f"{v['chi2_dof']:.2f}, {v['Q']:.2f}"))
    ref = results.get("reference")
    if ref:
        rows.append(("MadGraph sigma [pb]", f"{ref['xsec_pb']:.6g} +- {ref['xsec_err_pb']:.2g}", ""))
        rows.append(("pull vs MadGraph", f"{ref['pull_flow']:+.2f}",
                     f"{ref['pull_vegas']:+.2f}" if ref.get("pull_vegas") is not None else "-"))
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(r[i].ljust(width[i]) for i in range(3)) for r in rows]
    if v:
        lines.append(f"variance ratio (VEGAS/flow): {results['variance_ratio']:.3g}"
                     f" +- {results['variance_ratio_err']:.2g};  flow - VEGAS pull: {results['pull_flow_vegas']:+.2f}")
    return "\n".join(lines)


def run(config, output_dir, *, resume: bool = False, log=None, progress=None) -> dict:
    """Train, integrate, run the VEGAS baseline, write events, plots and ``results.json`` into ``output_dir``.

    ``config``: a configuration mapping (e.g. from :func:`flowint.integrate.load_config`). Returns the
    results dict (also written to ``results.json``).
    """
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    integ = Integrator(config, log=log)  # validates everything before any work
    c = integ.config
    os.makedirs(output_dir, exist_ok=True)
    ckpt = os.path.join(output_dir, CHECKPOINT)
    if resume and not os.path.exists(ckpt):
        raise FileNotFoundError(f"--resume: no checkpoint {CHECKPOINT} in {output_dir!r}")
    atomic_write_bytes(os.path.join(output_dir, "config.yaml"), _config_text(c).encode())
    log(f"{c['process']} at sqrt(s) = {c['sqrt_s']} GeV, {c['mapping']['kind']} mapping ({integ.ndim} dims), "
        f"{c['flow']['kind']} flow, {integ.total_updates} updates")
    integ.train(ckpt, resume=resume, progress=progress)
    flow = integ.integrate()
    log(f"flow: sigma = {flow['xsec_pb']:.6g} +- {flow['xsec_err_pb']:.2g} pb, rel_std {flow['rel_std']:.4g}")
    results = {
        "process": c["process"],
        "sqrt_s": c["sqrt_s"],
        "mapping": c["mapping"]["kind"],
        "ndim": integ.ndim,
        "flow": dict(flow, kind=c["flow"]["kind"]),
    }
    vegas = None
    if c["vegas"]["enabled"]:
        vc = c["vegas"]
        log(f"VEGAS baseline: {flow['n_evals']:,} calls in {vc['nitn_adapt']} adapting + {vc['nitn_final']} "
            f"final iterations")
        vegas = integ.vegas()
        results["vegas"] = {k: v for k, v in vegas.items() if k not in ("points", "weights")}
        ratio, ratio_err = _variance_ratio(flow, vegas)
        results["variance_ratio"] = ratio
        results["variance_ratio_err"] = ratio_err
        results["pull_flow_vegas"] = pull(flow["xsec_pb"], flow["xsec_err_pb"], vegas["xsec_pb"], vegas["xsec_err_pb"])
    events_path = os.path.join(output_dir, "events.lhe.gz")
    if c["events"]["n_max"] > 0:
        results["events"] = dict(integ.write_events(events_path), file="events.lhe.gz")
    ref_events = None
    if c["reference_lhe"]:
        from flowint.phasespace import read_lhe

        ref = read_lhe(resolve_path(c["reference_lhe"], c), integ.process)
        ref_events = ref.momenta
        if math.isfinite(ref.xsec_pb):
            results["reference"] = {
                "source": os.path.basename(c["reference_lhe"]),
                "xsec_pb": ref.xsec_pb,
                "xsec_err_pb": ref.xsec_error_pb,
                "pull_flow": pull(flow["xsec_pb"], flow["xsec_err_pb"], ref.xsec_pb, ref.xsec_error_pb),
                "pull_vegas": pull(vegas["xsec_pb"], vegas["xsec_err_pb"], ref.xsec_pb, ref.xsec_error_pb)
                if vegas else None,
            }
    if c["plots"]["enabled"]:
        from ._plots import plot_observables, plot_training, plot_weights

        t0 = time.perf_counter()
        plot_training(integ.history, os.path.join(output_dir, "training.png"))
        weights = {"flow": integ.sample["weights"]}
        if vegas is not None:
            weights["VEGAS"] = vegas["weights"]
        plot_weights(weights, os.path.join(output_dir, "weights.png"), bins=c["plots"]["bins"])
        n_show = max(c["events"]["n_max"], 5000)
        samples = {"flow": integ.unweighted_events(n_show)[0]}
        if vegas is not None:
            samples["VEGAS"] = integ.unweighted_events(n_show, points=vegas["points"], weights=vegas["weights"],
                                                       w_max=vegas["w_max"])[0]
        if ref_events is not None:
            samples["MadGraph"] = ref_events
        plot_observables(integ.process, samples, os.path.join(output_dir, "observables.png"), bins=c["plots"]["bins"])
        log(f"plots written in {time.perf_counter() - t0:.1f} s")
    results["config"] = {k: v for k, v in c.items() if not k.startswith("_")}
    results["versions"] = _versions()
    text = json.dumps(_jsonable(results), indent=1, allow_nan=False)
    atomic_write_bytes(os.path.join(output_dir, "results.json"), text.encode())
    return results


def _versions():
    import jax

    import flowint

    out = {"flowint": getattr(flowint, "__version__", "?"), "jax": jax.__version__, "python": platform.python_version()}
    import vegas

    out["vegas"] = vegas.__version__
    return out
