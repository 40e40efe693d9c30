r"""The VEGAS baseline (G. P. Lepage's ``vegas`` package) on the same integrand and mapping as the flow.

:func:`vegas_baseline` spends ``n_adapt + n_final`` integrand calls in ``nitn_adapt + nitn_final``
iterations of equal size: the first ``nitn_adapt`` adapt the grid (importance map + adaptive
stratification), the last ``nitn_final`` use it frozen. (Equal sizes keep VEGAS's strata and their
adapted allocation of calls. vegas gives each hypercube a whole number of points, so an iteration
makes fewer calls than asked; the number of final iterations is raised to bring the total closest to
``n_adapt + n_final``: ``n_evals`` and ``nitn_final`` report what was used.) The final iterations are driven through ``Integrator.random_batch`` so that
every point's weight is kept:

    w_i = N_it · wgt_i · f(x_i),

with N_it the calls of that iteration and ``wgt`` the VEGAS weight (the Jacobian of the map over the
number of points in the point's hypercube). ``mean(w)`` is the iteration's estimate and ``w`` is an
honest event weight for hit-or-miss unweighting (the points are drawn from the density
f / w), so VEGAS's unweighting efficiency comes from the same adapted grid. Each iteration's variance is
the stratified one (sum over hypercubes of the in-cube variances, as VEGAS computes it); iterations are
combined with inverse-variance weights, with χ²/dof and Q. The relative standard deviation reported is
err·√N / |σ| over the final calls (the definition used for the flow), so the stratification's gain is
part of it.

Randomness: a ``numpy.random.Generator`` seeded from ``seed`` drives the points (``ran_array_generator``).
"""

from __future__ import annotations

import time

import numpy as np
import vegas

from ._metrics import combine_estimates, weight_summary


class CountingIntegrand:
    """Wraps a numpy batch function f(x[N, d]) -> (N,), counting calls (points) and keeping none."""

    def __init__(self, fn):
        self.fn = fn
        self.n_calls = 0

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float64)
        self.n_calls += x.shape[0]
        return np.asarray(self.fn(x), dtype=np.float64)


def _iteration(integ, f, keep):
    """One frozen-grid iteration: (estimate, variance, weights, points)."""
    all_x, total_wf = [], []
    for x, wgt, hcube in integ.random_batch(yield_hcube=True):
        fx = f(x)
        wf = wgt * fx
        total_wf.append((wf, hcube))
        if keep:
            all_x.append(np.array(x))
    wf = np.concatenate([t[0] for t in total_wf])
    hc = np.concatenate([t[1] for t in total_wf])
    n = wf.size
    order = np.argsort(hc, kind="stable")
    hc_sorted, wf_sorted = hc[order], wf[order]
    bounds = np.flatnonzero(np.diff(hc_sorted)) + 1
    starts = np.concatenate([[0], bounds])
    s1 = np.add.reduceat(wf_sorted, starts)
    s2 = np.add.reduceat(wf_sorted**2, starts)
    nh = np.diff(np.concatenate([starts, [n]]))
    var = np.where(nh > 1, (nh * s2 - s1**2) / np.maximum(nh - 1, 1), 0.0)
    points = np.concatenate(all_x) if keep else None
    return float(np.sum(s1)), float(max(np.sum(var), 0.0)), wf * n, points


def _calls_per_iteration(integ) -> int:
    """Calls one vegas iteration makes at the integrator's settings (a dry pass: no integrand call).

    vegas gives every hypercube a whole number of points, so in many dimensions an iteration makes
    noticeably fewer calls than ``neval`` (163,840 instead of 180,000 for the 14-D chain).
    """
    return sum(x.shape[0] for x, _ in integ.random_batch())


def vegas_baseline(
    fn,
    ndim: int,
    n_adapt: int,
    n_final: int,
    *,
    nitn_adapt: int = 10,
    nitn_final: int = 5,
    alpha: float = 0.5,
    seed: int = 0,
    keep_points: bool = False,
    wmax_replicas: int = 100,
    wmax_replica_size: int | None = None,
) -> dict:
    """Adapt VEGAS on ``fn`` (numpy batch function on [0,1]^ndim, values >= 0), then estimate.

    Returns a dict: ``xsec_pb``, ``xsec_err_pb``, ``rel_std`` (err·√N_final/|σ|), ``chi2_dof``, ``Q``,
    the weight metrics of :func:`weight_summary` over the final points (``unweighting_efficiency`` etc.,
    prefixed as they are there), ``n_evals`` (adaptation + final, counted), ``n_evals_adapt``,
    ``n_evals_final``, ``seconds``, ``adapt_iterations`` (list of per-iteration mean/sdev), and, with
    ``keep_points``, ``points`` (final x, (N, ndim)) and ``weights`` (N,).
    """
    if ndim < 1 or n_adapt < 0 or n_final < 2:
        raise ValueError(f"vegas_baseline: need ndim >= 1, n_adapt >= 0, n_final >= 2; got {ndim}, {n_adapt}, {n_final}")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    f = CountingIntegrand(fn)
    integ = vegas.Integrator([[0.0, 1.0]] * ndim, ran_array_generator=rng.random, alpha=alpha)
    # one number of calls per iteration for adaptation and final iterations alike: changing it makes vegas
    # rebuild its strata and forget the adapted allocation of calls to hypercubes (its stratification)
    total = int(n_adapt) + int(n_final)
    n_itn = (nitn_adapt if n_adapt > 0 else 0) + nitn_final
    per = max(total // n_itn, 2 * ndim)
    adapt_log = []
    if n_adapt > 0 and nitn_adapt > 0:
        result = integ(vegas.batchintegrand(f), nitn=nitn_adapt, neval=per, alpha=alpha)
        adapt_log = [{"mean": float(r.mean), "sdev": float(r.sdev)} for r in result.itn_results]
    n_evals_adapt = f.n_calls
    integ.set(neval=per, adapt=False)
    # iterations come in whole hypercubes: as many final iterations as bring the total closest to the budget
    calls = _calls_per_iteration(integ)
    if calls > 0:
        nitn_final = max(1, round((total - n_evals_adapt) / calls))
    means, variances, weights, points = [], [], [], []
    for _ in range(nitn_final):
        m, v, w, x = _iteration(integ, f, keep_points)
        means.append(m)
        variances.append(v)
        weights.append(w)
        if keep_points:
            points.append(x)
    n_evals_final = f.n_calls - n_evals_adapt
    errs = np.sqrt(np.asarray(variances))
    if np.all(errs > 0):
        mean, err, chi2_dof, q = combine_estimates(means, errs)
    else:  # a constant integrand: no spread at all
        mean, err, chi2_dof, q = float(np.mean(means)), 0.0, 0.0, 1.0
    all_w = np.concatenate(weights)
    summary = weight_summary(all_w, key_or_seed=seed, wmax_replicas=wmax_replicas, wmax_replica_size=wmax_replica_size)
    out = {
        **summary,
        "xsec_pb": float(mean),
        "xsec_err_pb": float(err),
        "rel_std": float(err * np.sqrt(n_evals_final) / abs(mean)) if mean != 0 else float("inf"),
        "rel_std_weights": summary["rel_std"],
        "chi2_dof": float(chi2_dof),
        "Q": float(q),
        "n_evals": int(f.n_calls),
        "n_evals_adapt": int(n_evals_adapt),
        "n_evals_final": int(n_evals_final),
        "nitn_adapt": int(nitn_adapt),
        "nitn_final": int(nitn_final),
        "adapt_iterations": adapt_log,
        "seconds": time.perf_counter() - t0,
    }
    out.pop("rel_std_err", None)
    if keep_points:
        out["points"] = np.concatenate(points)
        out["weights"] = all_w
    return out


def vegas_samples(fn, ndim: int, n_adapt: int, n_samples: int, *, seed: int = 0, nitn_adapt: int = 5,
                  alpha: float = 0.5):
    """Adapt a VEGAS grid with ``n_adapt`` calls, then draw about ``n_samples`` points from it.

    Returns ``(x, log_g)``: the points (N, ndim) and the log density of the frozen grid at them,
    log g_i = −log(N_it · wgt_i) (the density VEGAS drew them from), for forward-KL pre-training.
    """
    rng = np.random.default_rng(seed)
    f = CountingIntegrand(fn)
    integ = vegas.Integrator([[0.0, 1.0]] * ndim, ran_array_generator=rng.random, alpha=alpha)
    if n_adapt > 0:
        integ(vegas.batchintegrand(f), nitn=nitn_adapt, neval=max(n_adapt // nitn_adapt, 2 * ndim), alpha=alpha)
    integ.set(neval=max(int(n_samples), 2 * ndim), adapt=False)
    xs, wgts = [], []
    for x, wgt in integ.random_batch():
        xs.append(np.array(x))
        wgts.append(np.array(wgt))
    x, wgt = np.concatenate(xs), np.concatenate(wgts)
    return x, -np.log(wgt * x.shape[0])
