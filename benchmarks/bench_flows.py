"""Benchmark of flowint.flows and flowint.losses.

1. Throughput at d = 14 (batch 2000 by default) of ``sample`` and ``log_prob`` for the smooth flow (both
   choices of the analytic direction) and the spline flow, the cost of the numerical inverse relative to
   the analytic direction, and the time of one training step (gradient of the reverse and forward KL);
   from it, the projected time of a few-thousand-step training run.
2. Toy targets (flowint.flows.toys: 2-D ring, 4-D camel, 14-D narrow peaks): relative standard deviation
   of the weights p/q after training, against uniform sampling (exact) and against ``vegas`` with the same
   number of integrand evaluations — both the adapted VEGAS map alone (the proposal, like for like) and
   VEGAS with its stratified sampling (rel. error per iteration × sqrt(evaluations per iteration)).

Usage::

    python benchmarks/bench_flows.py [--out benchmarks/results/bench_flows.json] [--quick]

Prints a table and writes the numbers as JSON. Timings are wall-clock minima over repeats on this machine.
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
import optax
import vegas

import flowint
from flowint.flows import make_flow, toys
from flowint.losses import forward_kl, relative_std, reverse_kl

DEFAULT_OUT = os.path.join("benchmarks", "results", "bench_flows.json")


def _best_time(fn, *args, repeats=5):
    """(compile + first call, best of ``repeats`` further calls) in seconds."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t0
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return first, best


def _perturbed(flow, seed=0, scale=0.3):
    params = flow.init(jax.random.PRNGKey(seed))
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(seed + 1), len(leaves))
    noisy = [
        x + scale * jax.random.normal(k, x.shape) / math.sqrt(x.shape[0] if x.ndim == 2 else 1.0)
        for x, k in zip(leaves, keys)
    ]
    return jax.tree_util.tree_unflatten(treedef, noisy)


# -- 1. throughput ------------------------------------------------------------------------------------------
def throughput(kind, hyper, ndim, n, repeats):
    flow = make_flow(kind, ndim, **hyper)
    params = _perturbed(flow)
    target = toys.narrow_peaks(ndim)
    key = jax.random.PRNGKey(1)
    sample = jax.jit(flow.sample, static_argnums=2)
    log_prob = jax.jit(flow.log_prob)
    u, log_q = sample(params, key, n)

    rkl_step = jax.jit(jax.grad(lambda p: reverse_kl(flow.sample, target.log_p, p, key, n)))
    fkl_step = jax.jit(jax.grad(lambda p: forward_kl(flow.log_prob, p, u, target.log_p(u), log_q)))
    out = {"kind": kind, "analytic": flow.analytic, "ndim": ndim, "batch": n, "n_layers": flow.n_layers}
    for name, fn, args in (
        ("sample", sample, (params, key, n)),
        ("log_prob", log_prob, (params, u)),
        ("grad_reverse_kl", rkl_step, (params,)),
        ("grad_forward_kl", fkl_step, (params,)),
    ):
        first, best = _best_time(fn, *args, repeats=repeats)
        out[f"{name}_s"] = best
        out[f"{name}_compile_s"] = first - best
    out["sample_points_per_s"] = n / out["sample_s"]
    out["log_prob_points_per_s"] = n / out["log_prob_s"]
    return out


# -- 2. toy targets -----------------------------------------------------------------------------------------
def train(flow, target, loss, steps, batch, lr, seed=0):
    """Adam with cosine decay; each step evaluates the integrand on ``batch`` fresh flow samples."""
    params = flow.init(jax.random.PRNGKey(seed))
    opt = optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=0.01))

    def loss_fn(p, key):
        if loss == "reverse_kl":
            return reverse_kl(flow.sample, target.log_p, p, key, batch)
        u, log_q = flow.sample(jax.lax.stop_gradient(p), key, batch)
        return forward_kl(flow.log_prob, p, u, target.log_p(u), log_q)

    @jax.jit
    def step(p, state, key):
        grads = jax.grad(loss_fn)(p, key)
        updates, state = opt.update(grads, state, p)
        return optax.apply_updates(p, updates), state

    state = opt.init(params)
    keys = jax.random.split(jax.random.PRNGKey(seed + 1), steps)
    t0 = time.perf_counter()
    params, state = step(params, state, keys[0])
    jax.block_until_ready(params)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for key in keys[1:]:
        params, state = step(params, state, key)
    jax.block_until_ready(params)
    return params, {"calls": steps * batch, "train_s": time.perf_counter() - t0, "compile_s": compile_s}


def flow_rel_std(flow, params, target, n_eval, seed=99):
    u, log_q = jax.jit(flow.sample, static_argnums=2)(params, jax.random.PRNGKey(seed), n_eval)
    log_w = target.log_p(u) - log_q
    rel = float(relative_std(log_w))
    estimate = float(jnp.mean(jnp.exp(log_w)))
    return rel, estimate


def vegas_rel_std(target, calls, nitn, n_eval, seed=0):
    log_p = jax.jit(target.log_p)

    @vegas.lbatchintegrand
    def f(x):
        return np.exp(np.asarray(log_p(jnp.asarray(x))))

    np.random.seed(seed)
    integ = vegas.Integrator([[0.0, 1.0]] * target.ndim)
    result = integ(f, nitn=nitn, neval=calls // nitn)
    last = result.itn_results[-1]
    stratified = last.sdev / abs(last.mean) * math.sqrt(integ.last_neval)
    y = np.random.default_rng(seed).uniform(size=(n_eval, target.ndim))
    x, jac = np.empty_like(y), np.empty(n_eval)
    integ.map.map(y, x, jac)
    map_only = float(relative_std(log_p(jnp.asarray(x)) + jnp.log(jnp.asarray(jac))))
    return {"map_only": map_only, "stratified": float(stratified), "used_calls": int(nitn * integ.last_neval)}


TOY_SETUPS = {
    # name: (target factory, loss, steps, batch, lr, VEGAS iterations)
    "ring": (toys.ring, "forward_kl", 1000, 1000, 1e-2, 10),
    "camel": (toys.camel, "forward_kl", 1000, 1000, 1e-2, 10),
    "narrow_peaks": (toys.narrow_peaks, "reverse_kl", 1000, 1000, 1e-2, 10),
}


def toy_benchmarks(kinds, quick, n_eval):
    rows = []
    for name, (factory, loss, steps, batch, lr, nitn) in TOY_SETUPS.items():
        if quick:
            steps, batch = steps // 5, batch // 2
        target = factory()
        veg = vegas_rel_std(target, steps * batch, nitn, n_eval)
        for kind in kinds:
            flow = make_flow(kind, target.ndim)
            params, info = train(flow, target, loss, steps, batch, lr)
            rel, estimate = flow_rel_std(flow, params, target, n_eval)
            rows.append(
                {
                    "target": name,
                    "ndim": target.ndim,
                    "flow": kind,
                    "loss": loss,
                    "steps": steps,
                    "batch": batch,
                    "calls": info["calls"],
                    "train_s": info["train_s"],
                    "compile_s": info["compile_s"],
                    "flow_rel_std": rel,
                    "uniform_rel_std": target.uniform_relative_std,
                    "vegas_map_rel_std": veg["map_only"],
                    "vegas_stratified_rel_std": veg["stratified"],
                    "vegas_calls": veg["used_calls"],
                    "flow_integral": estimate,
                    "exact_integral": target.integral,
                }
            )
            print(_toy_line(rows[-1]), flush=True)
    return rows


def _toy_line(r):
    return (
        f"{r['target']:>13} {r['ndim']:>3} {r['flow']:>7} {r['loss']:>11} {r['calls']:>9} "
        f"{r['train_s']:>8.1f} {r['flow_rel_std']:>9.3g} {r['uniform_rel_std']:>10.3g} "
        f"{r['vegas_map_rel_std']:>9.3g} {r['vegas_stratified_rel_std']:>10.3g}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="JSON output path (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--ndim", type=int, default=14)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--train-steps", type=int, default=3000, help="steps for the projected training time")
    args = parser.parse_args(argv)

    repeats = 2 if args.quick else 5
    n_eval = 20_000 if args.quick else 100_000
    print(
        f"flowint {flowint.__version__}, jax {jax.__version__}, {os.cpu_count()} CPUs, {platform.platform()}"
    )

    print(f"\n1. throughput, d = {args.ndim}, batch {args.batch} (seconds are best of {repeats})")
    print(
        f"{'flow':>8} {'analytic':>8} {'sample/s':>10} {'log_prob/s':>11} {'inv/anal':>8} "
        f"{'rKL step':>9} {'fKL step':>9} {f'{args.train_steps} rKL':>10} {f'{args.train_steps} fKL':>10}"
    )
    configs = [("smooth", {}), ("smooth", {"analytic": "density"}), ("spline", {})]
    through = []
    for kind, hyper in configs:
        r = throughput(kind, hyper, args.ndim, args.batch, repeats)
        if r["analytic"] == "sample":
            r["numerical_over_analytic"] = r["log_prob_s"] / r["sample_s"]
        elif r["analytic"] == "density":
            r["numerical_over_analytic"] = r["sample_s"] / r["log_prob_s"]
        else:
            r["numerical_over_analytic"] = None
        r["projected_train_reverse_kl_min"] = args.train_steps * r["grad_reverse_kl_s"] / 60
        r["projected_train_forward_kl_min"] = args.train_steps * r["grad_forward_kl_s"] / 60
        through.append(r)
        ratio = "-" if r["numerical_over_analytic"] is None else f"{r['numerical_over_analytic']:.2f}"
        print(
            f"{kind:>8} {r['analytic']:>8} {r['sample_points_per_s']:>10.3g} {r['log_prob_points_per_s']:>11.3g} "
            f"{ratio:>8} {r['grad_reverse_kl_s']:>8.3f}s {r['grad_forward_kl_s']:>8.3f}s "
            f"{r['projected_train_reverse_kl_min']:>8.1f}min {r['projected_train_forward_kl_min']:>8.1f}min",
            flush=True,
        )

    print(
        f"\n2. toy targets: rel. std of weights p/q at equal integrand calls ({n_eval} points to measure it)"
    )
    print(
        f"{'target':>13} {'d':>3} {'flow':>7} {'loss':>11} {'calls':>9} {'train s':>8} {'flow':>9} "
        f"{'uniform':>10} {'VEGAS map':>9} {'VEGAS strat':>10}"
    )
    toy_rows = toy_benchmarks(["smooth", "spline"], args.quick, n_eval)

    out = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "jax": jax.__version__},
        "quick": args.quick,
        "throughput": through,
        "toys": toy_rows,
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=2)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
