"""Phase-space benchmark: mapping throughput and the weight spread of the 2->6 chain integrand.

    python benchmarks/bench_phasespace.py [--out benchmarks/results/bench_phasespace.json] [--quick]

1. ``map`` / ``inverse`` / integrand throughput (points per second, jitted, best of a few repeats) for
   every mapping kind on the shipped processes.
2. The 2->6 chain u u~ -> t t~ -> b u d~ b~ u~ d at 1 TeV, plain Monte Carlo on the flat and on the
   decay-chain mapping: sigma, its error and the relative standard deviation of the weights
   sigma_w / <w>. On the flat mapping the direct estimate of sigma_w/<w> from a sample is dominated by
   the handful of points that hit all four resonance windows, so it is also computed without that
   problem: E_flat[f^2] = E_v[f_dc(v) f_flat(u(v))] with v uniform on the decay-chain cube and
   u(v) = flat.inverse(dc.map(v)) (a change of variables; exact in expectation). The flat-mapping
   cross section is also obtained by two-channel importance sampling in the flat variables (see
   tests/test_phasespace_integrand.py), which a plain-MC run of any affordable size cannot give.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

import flowint
from flowint.madjax import load_process
from flowint.phasespace import integrand, make_mapping, read_lhe

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, os.pardir, "tests", "data", "reference")

THROUGHPUT_CASES = [
    ("ee_mumu", 91.0, "two_body"),
    ("uux_ttx", 500.0, "two_body"),
    ("ee_uuxg", 500.0, "flat"),
    ("uux_ttx_chain_bbqqqq", 1000.0, "flat"),
    ("uux_ttx_chain_bbqqqq", 1000.0, "decay_chain"),
]


def _best_time(fn, *args, repeats=3):
    out = fn(*args)
    jax.block_until_ready(out)  # compile
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best


def _uniform(seed, n, ndim):
    return jax.random.uniform(jax.random.PRNGKey(seed), (n, ndim), dtype=jnp.float64)


def throughput(n):
    rows = []
    for name, sqrt_s, kind in THROUGHPUT_CASES:
        process = load_process(name)
        mapping = make_mapping(process, sqrt_s, kind)
        u = _uniform(0, n, mapping.ndim)
        fmap, finv = jax.jit(mapping.map), jax.jit(mapping.inverse)
        p, _ = fmap(u)
        f = jax.jit(integrand(process, mapping).fn)
        t_map = _best_time(fmap, u)
        t_inv = _best_time(finv, p)
        t_int = _best_time(f, u, None)
        rows.append(
            {
                "process": name,
                "sqrt_s": sqrt_s,
                "kind": kind,
                "ndim": mapping.ndim,
                "batch": n,
                "map_per_s": n / t_map,
                "inverse_per_s": n / t_inv,
                "integrand_per_s": n / t_int,
            }
        )
    return rows


def _mc(w):
    w = np.asarray(w)
    mean = w.mean()
    err = w.std(ddof=1) / math.sqrt(len(w))
    return mean, err, (w.std(ddof=1) / mean if mean > 0 else math.inf)


def chain_weights(n_dc, n_flat, batch):
    process = load_process("uux_ttx_chain_bbqqqq")
    dc = make_mapping(process, 1000.0, "decay_chain")
    flat = make_mapping(process, 1000.0, "flat")
    ev_dc = jax.jit(integrand(process, dc).evaluate)
    ev_flat = jax.jit(integrand(process, flat).evaluate)
    inv_flat, inv_dc = jax.jit(flat.inverse), jax.jit(dc.inverse)
    out = {}

    # decay-chain mapping, plain MC
    t0 = time.perf_counter()
    w_dc, w_cross = [], []
    for k in range(max(1, n_dc // batch)):
        point = ev_dc(_uniform(100 + k, batch, 14))
        w_dc.append(np.asarray(point.value))
        u_flat, _ = inv_flat(point.momenta)
        w_cross.append(np.asarray(point.value) * np.asarray(ev_flat(u_flat).value))
    w_dc = np.concatenate(w_dc)
    sigma, err, rel = _mc(w_dc)
    out["decay_chain"] = {
        "n": len(w_dc),
        "sigma_pb": sigma,
        "error_pb": err,
        "rel_std_weights": rel,
        "seconds": time.perf_counter() - t0,
    }
    # flat relative spread from E_flat[f^2] = E_dc[f_dc f_flat]
    m2 = np.concatenate(w_cross)
    m2_mean, m2_err = m2.mean(), m2.std(ddof=1) / math.sqrt(len(m2))
    rel_flat = math.sqrt(max(m2_mean / sigma**2 - 1.0, 0.0))
    rel_flat_err = 0.5 * rel_flat * math.hypot(m2_err / m2_mean, 2 * err / sigma)

    # flat mapping, plain MC (windows as cuts)
    t0 = time.perf_counter()
    w_flat = np.concatenate(
        [np.asarray(ev_flat(_uniform(200 + k, batch, 14)).value) for k in range(max(1, n_flat // batch))]
    )
    s_f, e_f, r_f = _mc(w_flat)
    out["flat_plain_mc"] = {
        "n": len(w_flat),
        "sigma_pb": s_f,
        "error_pb": e_f,
        "rel_std_weights_direct": r_f,
        "nonzero_fraction": float(np.mean(w_flat > 0)),
        "seconds": time.perf_counter() - t0,
        "rel_std_weights_via_change_of_variables": rel_flat,
        "rel_std_weights_via_change_of_variables_error": rel_flat_err,
        "points_for_1pc_error": (rel_flat / 0.01) ** 2,
    }

    # flat mapping, two-channel importance sampling (uniform + decay-chain image)
    def q_dc(point):
        v, lw_dc = inv_dc(point.momenta)
        inside = point.mask & jnp.all((v >= 0) & (v <= 1), axis=-1)
        return jnp.where(inside, jnp.exp(point.log_weight - jnp.where(inside, lw_dc, 0.0)), 0.0)

    t0 = time.perf_counter()
    w1, w2 = [], []
    for k in range(max(1, n_dc // batch // 2)):
        pt1 = ev_flat(_uniform(300 + k, batch, 14))
        w1.append(np.asarray(pt1.value / (0.5 + 0.5 * q_dc(pt1))))
        u2, _ = inv_flat(ev_dc(_uniform(400 + k, batch, 14)).momenta)
        pt2 = ev_flat(u2)
        w2.append(np.asarray(pt2.value / (0.5 + 0.5 * q_dc(pt2))))
    m1, e1, _ = _mc(np.concatenate(w1))
    m2_, e2, _ = _mc(np.concatenate(w2))
    s_mc, e_mc = 0.5 * (m1 + m2_), 0.5 * math.hypot(e1, e2)
    out["flat_two_channel"] = {
        "n": 2 * len(np.concatenate(w1)),
        "sigma_pb": s_mc,
        "error_pb": e_mc,
        "seconds": time.perf_counter() - t0,
    }
    out["pull_flat_two_channel_vs_decay_chain"] = (s_mc - sigma) / math.hypot(e_mc, err)
    lhe = read_lhe(os.path.join(REF, "lhe", "uux_ttx_chain_bbqqqq_1000GeV_1k.lhe.gz"))
    out["madevent"] = {
        "sigma_pb": lhe.xsec_pb,
        "error_pb": lhe.xsec_error_pb,
        "pull_decay_chain": (sigma - lhe.xsec_pb) / math.hypot(err, lhe.xsec_error_pb),
    }
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(HERE, "results", "bench_phasespace.json"))
    parser.add_argument("--batch", type=int, default=100_000, help="points per jitted call")
    parser.add_argument(
        "--n-dc", type=int, default=1_000_000, help="plain-MC points on the decay-chain mapping"
    )
    parser.add_argument("--n-flat", type=int, default=4_000_000, help="plain-MC points on the flat mapping")
    parser.add_argument("--quick", action="store_true", help="small samples (a smoke run)")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.n_dc, args.n_flat = 20_000, 100_000, 200_000

    rows = throughput(args.batch)
    print(
        f"{'process':24s} {'sqrt_s':>7s} {'kind':12s} {'ndim':>4s} {'map/s':>11s} {'inverse/s':>11s} "
        f"{'dsigma/du /s':>13s}"
    )
    for r in rows:
        print(
            f"{r['process']:24s} {r['sqrt_s']:7.0f} {r['kind']:12s} {r['ndim']:4d} {r['map_per_s']:11.3e} "
            f"{r['inverse_per_s']:11.3e} {r['integrand_per_s']:13.3e}"
        )

    chain = chain_weights(args.n_dc, args.n_flat, args.batch)
    d, f, t = chain["decay_chain"], chain["flat_plain_mc"], chain["flat_two_channel"]
    print("\n2->6 chain u u~ > t t~ > b u d~ b~ u~ d at 1 TeV (sigma in pb)")
    print(
        f"  decay_chain, plain MC  N={d['n']:.1e}: sigma = {d['sigma_pb']:.5f} +- {d['error_pb']:.5f}, "
        f"sigma_w/<w> = {d['rel_std_weights']:.3f}"
    )
    print(
        f"  flat, plain MC         N={f['n']:.1e}: sigma = {f['sigma_pb']:.5f} +- {f['error_pb']:.5f}, "
        f"sigma_w/<w> (sample) = {f['rel_std_weights_direct']:.1f}, "
        f"nonzero fraction {f['nonzero_fraction']:.2e}"
    )
    print(
        f"  flat sigma_w/<w> via change of variables = {f['rel_std_weights_via_change_of_variables']:.3e} "
        f"+- {f['rel_std_weights_via_change_of_variables_error']:.1e} "
        f"(=> {f['points_for_1pc_error']:.1e} plain-MC points for a 1% error)"
    )
    print(
        f"  flat, two-channel IS   N={t['n']:.1e}: sigma = {t['sigma_pb']:.5f} +- {t['error_pb']:.5f}, "
        f"pull vs decay_chain = {chain['pull_flat_two_channel_vs_decay_chain']:+.2f}"
    )
    print(
        f"  MadEvent (LHE header): {chain['madevent']['sigma_pb']:.5f} "
        f"+- {chain['madevent']['error_pb']:.5f}, "
        f"pull of decay_chain = {chain['madevent']['pull_decay_chain']:+.2f}"
    )

    result = {
        "benchmark": "bench_phasespace",
        "flowint_version": flowint.__version__,
        "jax_version": jax.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "args": vars(args),
        "throughput": rows,
        "chain_1TeV": chain,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
