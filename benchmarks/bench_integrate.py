"""Benchmark the integrator on the headline 2 -> 6 process: flow vs VEGAS at equal integrand calls.

Runs the configurations (default: configs/qq_tt_6j.yaml and configs/qq_tt_6j_flat.yaml) exactly as
``python -m flowint.train`` does, prints one table row per run against the goals of the integrator issue and
writes JSON (default benchmarks/results/bench_integrate.json):

* decay-chain mapping: wall time <= 10 min, flow rel_std <= 0.05, unweighting efficiency >= 50 %,
  variance_ratio >= 10;
* flat mapping: variance_ratio >= 100;
* both cross sections consistent with each other and with MadGraph (|pull| < 3).

    python benchmarks/bench_integrate.py [--config FILE ...] [--set key=value ...] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOALS = {
    "decay_chain": {"seconds": 600.0, "rel_std": 0.05, "unweighting_efficiency": 0.5, "variance_ratio": 10.0},
    "flat": {"variance_ratio": 100.0},
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_integrate.json"))
    args = parser.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", True)
    from flowint.integrate import load_config, pull, run

    configs = args.config or [str(ROOT / "configs" / "qq_tt_6j.yaml"), str(ROOT / "configs" / "qq_tt_6j_flat.yaml")]
    rows = []
    for path in configs:
        cfg = load_config(path, args.overrides)
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            res = run(cfg, out, progress=False)
            wall = time.perf_counter() - t0
        f, v = res["flow"], res.get("vegas") or {}
        row = {
            "config": os.path.basename(path),
            "mapping": res["mapping"],
            "wall_seconds": wall,
            "flow_xsec_pb": f["xsec_pb"],
            "flow_xsec_err_pb": f["xsec_err_pb"],
            "flow_rel_std": f["rel_std"],
            "flow_unweighting_efficiency": f["unweighting_efficiency"],
            "flow_n_evals": f["n_evals"],
            "flow_seconds": f["seconds"],
            "vegas_xsec_pb": v.get("xsec_pb"),
            "vegas_xsec_err_pb": v.get("xsec_err_pb"),
            "vegas_rel_std": v.get("rel_std"),
            "vegas_unweighting_efficiency": v.get("unweighting_efficiency"),
            "vegas_n_evals": v.get("n_evals"),
            "vegas_Q": v.get("Q"),
            "variance_ratio": res.get("variance_ratio"),
            "pull_flow_vegas": res.get("pull_flow_vegas"),
        }
        ref = res.get("reference")
        if ref:
            row["madgraph_xsec_pb"], row["madgraph_xsec_err_pb"] = ref["xsec_pb"], ref["xsec_err_pb"]
            row["pull_flow_madgraph"] = pull(f["xsec_pb"], f["xsec_err_pb"], ref["xsec_pb"], ref["xsec_err_pb"])
        goals = GOALS.get(res["mapping"], {})
        checks = {}
        if "seconds" in goals:
            checks["wall <= 600 s"] = wall <= goals["seconds"]
        if "rel_std" in goals:
            checks["rel_std <= 0.05"] = f["rel_std"] <= goals["rel_std"]
        if "unweighting_efficiency" in goals:
            checks["unw. eff >= 50%"] = f["unweighting_efficiency"] >= goals["unweighting_efficiency"]
        if "variance_ratio" in goals and res.get("variance_ratio") is not None:
            checks[f"variance_ratio >= {goals['variance_ratio']:g}"] = res["variance_ratio"] >= goals["variance_ratio"]
        row["goals"] = checks
        rows.append(row)
        print(f"{row['config']}: {json.dumps(row, indent=1)}", file=sys.stderr)

    header = (f"{'config':<22}{'wall s':>8}{'flow sigma [pb]':>24}{'rel_std':>9}{'unw.eff':>9}"
              f"{'VEGAS sigma [pb]':>24}{'rel_std':>9}{'unw.eff':>9}{'var.ratio':>11}{'MG pull':>9}")
    print(header)
    for r in rows:
        print(f"{r['config']:<22}{r['wall_seconds']:>8.0f}"
              f"{r['flow_xsec_pb']:>15.5f} +- {r['flow_xsec_err_pb']:<6.1e}{r['flow_rel_std']:>9.4f}"
              f"{r['flow_unweighting_efficiency']:>9.1%}"
              f"{(r['vegas_xsec_pb'] or float('nan')):>15.5f} +- {(r['vegas_xsec_err_pb'] or float('nan')):<6.1e}"
              f"{(r['vegas_rel_std'] or float('nan')):>9.4f}{(r['vegas_unweighting_efficiency'] or float('nan')):>9.1%}"
              f"{(r['variance_ratio'] or float('nan')):>11.3g}{r.get('pull_flow_madgraph', float('nan')):>+9.2f}")
        for name, ok in r["goals"].items():
            print(f"    goal {name}: {'met' if ok else 'NOT met'}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as handle:
        json.dump({"runs": rows}, handle, indent=1)
    os.replace(tmp, args.out)
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
