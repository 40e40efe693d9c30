"""Throughput of flowint's matrix elements on the CPU, against MadGraph's standalone Fortran.

For every shipped process and batch sizes 1, 1024 and 16384: events/s of ``me2`` and of value-and-gradient
w.r.t. the momenta and w.r.t. the model parameters, and the jit compilation time of each. By default the
process is pinned to one core and XLA runs single-threaded, so the numbers are per core, like the Fortran
anchor (MadGraph 3.5.7 standalone, gfortran -O2, helicity-filtered, one core of this machine; from the
reference data's README).

    python benchmarks/bench_me.py [--processes ee_mumu ...] [--batches 1 1024 16384] [--cores 1]
                                  [--min-time 0.5] [--out benchmarks/results/bench_me.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

FORTRAN_NS_PER_EVENT = {  # MadGraph standalone Fortran, -O2, one core (reference README)
    "ee_mumu": 720.0, "mumu_ee": 720.0, "uux_ttx": 930.0, "uux_ttx_QCDEW": 930.0, "gg_ttx": 4150.0,
    "ee_uuxg": 2830.0, "uux_ttx_chain_bbqqqq": 2400.0, "uux_ttx_chain_bbqqqq_nobmass": 690.0,
}
SQRT_S = {"ee_mumu": 91.0, "mumu_ee": 91.0, "ee_uuxg": 91.0}


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", nargs="*", help="default: every shipped process")
    parser.add_argument("--batches", nargs="*", type=int, default=[1, 1024, 16384])
    parser.add_argument("--cores", type=int, default=1, help="pin to this many cores (0: no pinning)")
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds of timing per measurement")
    parser.add_argument("--out", default=os.path.join("benchmarks", "results", "bench_me.json"))
    return parser.parse_args()


def _pin(cores):
    if cores and hasattr(os, "sched_setaffinity"):
        available = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, set(available[:cores]))
    if cores == 1:  # before JAX starts: single-threaded XLA
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false"
                                   " intra_op_parallelism_threads=1").strip()


def _time(fn, *args, min_time):
    import jax

    jax.block_until_ready(fn(*args))
    calls, start = 0, time.perf_counter()
    while True:
        jax.block_until_ready(fn(*args))
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time and calls >= 3:
            return elapsed / calls


def main():
    args = _parse()
    _pin(args.cores)
    import jax
    import numpy as np

    import flowint  # noqa: F401
    from flowint.madjax import _library, load_process, shipped_processes

    names = args.processes or shipped_processes()
    rows = []
    for name in names:
        proc = load_process(name)
        params = proc.complete_params()
        kinds = {
            "me2": jax.jit(proc._me2_kernel),
            "value_and_grad_momenta": jax.jit(jax.value_and_grad(lambda p, c: proc._me2_kernel(p, c).sum())),
            "value_and_grad_params": jax.jit(jax.value_and_grad(lambda p, c: proc._me2_kernel(p, c).sum(),
                                                                argnums=1)),
        }
        sqrt_s = SQRT_S.get(name, 1000.0)
        for batch in args.batches:
            momenta = jax.numpy.asarray(_library.random_points(proc.external_masses, sqrt_s, batch,
                                                               np.random.default_rng(batch)))
            row = {"process": name, "batch": batch}
            for kind, fn in kinds.items():
                start = time.perf_counter()
                compiled = fn.lower(momenta, params).compile()
                row[f"{kind}_compile_s"] = time.perf_counter() - start
                seconds = _time(compiled, momenta, params, min_time=args.min_time)
                row[f"{kind}_ns_per_event"] = seconds / batch * 1e9
                row[f"{kind}_events_per_s"] = batch / seconds
            row["fortran_ns_per_event"] = FORTRAN_NS_PER_EVENT.get(name)
            row["speedup_vs_fortran"] = (FORTRAN_NS_PER_EVENT[name] / row["me2_ns_per_event"]
                                         if name in FORTRAN_NS_PER_EVENT else None)
            row["grad_momenta_over_value"] = row["value_and_grad_momenta_ns_per_event"] / row["me2_ns_per_event"]
            row["grad_params_over_value"] = row["value_and_grad_params_ns_per_event"] / row["me2_ns_per_event"]
            rows.append(row)
            print(f"{name:30s} N={batch:6d}  me2 {row['me2_ns_per_event']:9.1f} ns/ev "
                  f"(compile {row['me2_compile_s']:5.1f}s)  vg(p) {row['grad_momenta_over_value']:5.1f}x "
                  f"(compile {row['value_and_grad_momenta_compile_s']:5.1f}s)  vg(θ) "
                  f"{row['grad_params_over_value']:5.1f}x  Fortran/flowint "
                  f"{row['speedup_vs_fortran'] or float('nan'):6.2f}", flush=True)

    print("\n| process | batch | me2 ns/event | Fortran ns/event | Fortran/flowint | vg(momenta)/value "
          "| vg(params)/value | compile me2 / vg(momenta) / vg(params) s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['process']} | {r['batch']} | {r['me2_ns_per_event']:.1f} | {r['fortran_ns_per_event']} | "
              f"{r['speedup_vs_fortran']:.2f} | {r['grad_momenta_over_value']:.1f} | "
              f"{r['grad_params_over_value']:.1f} | {r['me2_compile_s']:.1f} / "
              f"{r['value_and_grad_momenta_compile_s']:.1f} / {r['value_and_grad_params_compile_s']:.1f} |")

    meta = {"jax": jax.__version__, "cores": args.cores, "cpu_count": os.cpu_count(),
            "python": sys.version.split()[0], "min_time_s": args.min_time}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(args.out)), suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump({"meta": meta, "rows": rows}, handle, indent=1)
    os.replace(tmp, args.out)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
