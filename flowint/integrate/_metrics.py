r"""Figures of merit of an importance-sampled integral: cross section, spread of the weights, efficiencies.

All functions take plain arrays (numpy, or anything ``np.asarray`` accepts, JAX arrays included) and return
plain Python floats and ints, so the results can go straight into JSON run records.

Conventions
-----------
``weights`` are the importance weights :math:`w_i = f(u_i)/q(u_i)` in pb of points :math:`u_i` drawn
i.i.d. from the proposal :math:`q`, with :math:`w_i = 0` for points removed by cuts. The cross section
estimate is their mean, :math:`\hat\sigma = \frac1N\sum_i w_i`, and the figures of merit are

* ``rel_std`` :math:`= s/|\hat\sigma|` with :math:`s` the sample standard deviation (ddof=1); the
  integration error is :math:`\hat\sigma\,\text{rel\_std}/\sqrt N`, so this is the number that training aims
  to lower (it is 0 for a perfect proposal);
* ``cut_efficiency``: the fraction of points with a nonzero weight;
* ``unweighting_efficiency`` :math:`= \hat\sigma / w_\text{max}`, the expected acceptance of hit-or-miss
  unweighting against :math:`w_\text{max}` (see :func:`flowint.integrate._events.unweight`).

The true maximum of a sample grows with the sample size and is dominated by single outliers, so
``w_max`` is a robust estimate: the median over bootstrap replicas of the largest weight in each replica,
the prescription used for the unweighting efficiencies of normalizing-flow integrators in
Gao, Höche, Isaacson, Krause, Schulz, arXiv:2001.10028. The absolute maximum is reported as well.

Only numpy and scipy are used here.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from scipy import stats

__all__ = ["combine_estimates", "pull", "weight_summary"]


def _rng(key_or_seed) -> np.random.Generator:
    """A numpy Generator from an int seed, a Generator, a SeedSequence or a JAX PRNG key."""
    if isinstance(key_or_seed, np.random.Generator):
        return key_or_seed
    if isinstance(key_or_seed, np.random.SeedSequence):
        return np.random.default_rng(key_or_seed)
    if isinstance(key_or_seed, numbers.Integral) and not isinstance(key_or_seed, bool):
        if key_or_seed < 0:
            raise ValueError(f"key_or_seed: a seed must be a non-negative int, got {key_or_seed}")
        return np.random.default_rng(int(key_or_seed))
    # a JAX key: a raw uint32 key array, or a typed key whose data jax.random.key_data exposes
    try:
        data = np.asarray(key_or_seed)
    except TypeError:
        data = None
    if data is None or data.dtype == object:
        try:
            import jax

            data = np.asarray(jax.random.key_data(key_or_seed))
        except Exception as err:  # anything that is not a key
            raise ValueError(
                "key_or_seed: expected an int seed, a numpy Generator or a JAX PRNG key, "
                f"got {type(key_or_seed)}"
            ) from err
    if data.dtype.kind not in "iu" or data.size == 0 or np.any(data < 0):
        raise ValueError(
            f"key_or_seed: expected an int seed, a numpy Generator or a JAX PRNG key, got {data.dtype} "
            f"array of shape {data.shape}"
        )
    return np.random.default_rng([int(x) for x in data.ravel()])


def _check_weights(weights, allow_empty=False) -> np.ndarray:
    """``weights`` as a finite, non-negative 1-D float64 array (non-empty unless allowed); else ValueError."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError(f"weights: expected a 1-D array, got shape {w.shape}")
    if w.size == 0 and not allow_empty:
        raise ValueError("weights: empty array, no points to summarize")
    bad = int(np.count_nonzero(~np.isfinite(w)))
    if bad:
        raise ValueError(f"weights: {bad} of {w.size} entries are not finite (NaN or inf)")
    neg = int(np.count_nonzero(w < 0))
    if neg:
        raise ValueError(
            f"weights: {neg} of {w.size} entries are negative (min {w.min():.6g}); "
            "importance weights of a tree-level |M|^2 must be >= 0"
        )
    return w


def weight_summary(weights, n_total=None, key_or_seed=0, wmax_replicas=100, wmax_replica_size=None) -> dict:
    r"""Cross section, its error and the efficiencies of a sample of importance weights.

    Parameters
    ----------
    weights : array_like, shape (n,)
        Importance weights :math:`f/q` in pb (finite, :math:`\ge 0`; zero for points rejected by cuts)
        of points drawn i.i.d. from the proposal.
    n_total : int, optional
        The number :math:`N \ge n` of points drawn. Defaults to ``n``. With ``n_total > n`` the
        ``n_total - n`` points not passed are taken to have weight 0 (e.g. only the points that passed
        the cuts were kept), and every statistic below is over all :math:`N` points; ``weights`` may then
        be empty (no point passed).
    key_or_seed : int, numpy.random.Generator, numpy.random.SeedSequence or JAX PRNG key
        Randomness of the bootstrap replicas for ``w_max`` (the result is reproducible for a fixed seed).
    wmax_replicas : int
        Number :math:`R` of bootstrap replicas for ``w_max``.
    wmax_replica_size : int, optional
        Size :math:`M` of each replica, drawn with replacement from the :math:`N` points. Default:
        ``min(N, max(1000, N // 10))``.

    Returns
    -------
    dict
        Plain Python floats and ints:

        * ``xsec_pb`` :math:`=\hat\sigma=\overline w`, ``xsec_err_pb`` :math:`= s/\sqrt N` with :math:`s`
          the standard deviation with ``ddof=1``;
        * ``rel_std`` :math:`= s/|\hat\sigma|` (``= xsec_err_pb * sqrt(N) / |xsec_pb|``) and
          ``rel_std_err``, its uncertainty by the delta method with the sample central moments
          :math:`m_2, m_3, m_4`:
          :math:`\operatorname{Var}(r) \approx \frac{r^2}{N}\left[\frac{m_4-m_2^2}{4m_2^2}
          + \frac{m_2}{\hat\sigma^2} - \frac{m_3}{m_2\hat\sigma}\right]` (large-:math:`N`, first order; it
          needs a finite fourth moment of the weights and is itself unreliable for very heavy tails);
        * ``cut_efficiency`` :math:`= p = n_{\neq 0}/N` and ``cut_efficiency_err``
          :math:`= \sqrt{p(1-p)/N}` (binomial);
        * ``w_max``: the median over :math:`R` replicas, each :math:`M` points drawn with replacement,
          of the largest weight in the replica; ``w_max_err``: half the 16--84 % interval of those
          replica maxima; ``w_max_abs``: the largest weight of the sample;
        * ``unweighting_efficiency`` :math:`= \hat\sigma / w_\text{max}` and
          ``unweighting_efficiency_err``: the relative errors of ``w_max`` (``w_max_err / w_max``) and of
          the mean (``xsec_err_pb / xsec_pb``) added in quadrature, times the efficiency;
          ``unweighting_efficiency_abs`` :math:`= \hat\sigma / \max_i w_i` (a lower bound: hit-or-miss
          against the true maximum never produces overweight events);
          when the robust ``w_max`` falls below the mean (the cross section sits in a few extreme weights)
          the largest weight is used instead, so the efficiency never exceeds 1;
        * ``n_evals`` :math:`= N` and ``n_nonzero``.

        If every weight is zero (no point passed the cuts) the cross section and its error are 0,
        ``rel_std`` and ``rel_std_err`` are ``inf`` (no finite relative precision is reachable), and
        ``cut_efficiency``, ``w_max``, ``w_max_abs`` and the unweighting efficiencies (with their errors)
        are 0: no event can be produced.

    Raises
    ------
    ValueError
        For an empty array (without ``n_total``), a non-1-D array, non-finite or negative weights,
        ``n_total`` smaller than the number of weights, fewer than 2 points in all, or non-positive replica
        settings.
    """
    w = _check_weights(weights, allow_empty=n_total is not None)
    n = w.size
    if n_total is None:
        n_total = n
    if not isinstance(n_total, numbers.Integral) or isinstance(n_total, bool):
        raise ValueError(f"n_total: expected an int, got {type(n_total).__name__}")  # noqa: TRY004
    big_n = int(n_total)
    if big_n < n:
        raise ValueError(f"n_total: {big_n} is smaller than the number of weights passed ({n})")
    if big_n < 2:
        raise ValueError(f"weights: need at least 2 points for an error estimate, got {big_n}")
    if not isinstance(wmax_replicas, numbers.Integral) or wmax_replicas < 1:
        raise ValueError(f"wmax_replicas: expected a positive int, got {wmax_replicas!r}")
    if wmax_replica_size is None:
        wmax_replica_size = min(big_n, max(1000, big_n // 10))
    if not isinstance(wmax_replica_size, numbers.Integral) or wmax_replica_size < 1:
        raise ValueError(f"wmax_replica_size: expected a positive int, got {wmax_replica_size!r}")
    rng = _rng(key_or_seed)

    n_nonzero = int(np.count_nonzero(w))
    total = float(np.sum(w))
    mean = total / big_n
    # central moments over all N points, the n_total - n implicit zeros included
    d = w - mean
    n_zero_implicit = big_n - n
    m2 = (float(np.sum(d * d)) + n_zero_implicit * mean**2) / big_n
    m3 = (float(np.sum(d**3)) - n_zero_implicit * mean**3) / big_n
    m4 = (float(np.sum(d**4)) + n_zero_implicit * mean**4) / big_n
    var = m2 * big_n / (big_n - 1)  # ddof = 1
    std = math.sqrt(max(var, 0.0))
    err = std / math.sqrt(big_n)

    p = n_nonzero / big_n
    cut_eff_err = math.sqrt(p * (1.0 - p) / big_n)
    if n_nonzero == 0:
        return {
            "xsec_pb": 0.0,
            "xsec_err_pb": 0.0,
            "rel_std": math.inf,
            "rel_std_err": math.inf,
            "cut_efficiency": 0.0,
            "cut_efficiency_err": 0.0,
            "w_max": 0.0,
            "w_max_err": 0.0,
            "w_max_abs": 0.0,
            "unweighting_efficiency": 0.0,
            "unweighting_efficiency_err": 0.0,
            "unweighting_efficiency_abs": 0.0,
            "n_evals": big_n,
            "n_nonzero": 0,
        }

    w_max_abs = float(w.max())
    rel_std = std / abs(mean)
    if m2 > 0.0:
        bracket = (m4 - m2 * m2) / (4.0 * m2 * m2) + m2 / mean**2 - m3 / (m2 * mean)
        rel_std_err = rel_std * math.sqrt(max(bracket, 0.0) / big_n)
    else:
        rel_std_err = 0.0  # all weights equal: no spread, and none in the estimate either

    maxima = np.empty(int(wmax_replicas), dtype=np.float64)
    for r in range(int(wmax_replicas)):
        idx = rng.integers(0, big_n, size=int(wmax_replica_size))
        if n_zero_implicit:
            idx = idx[idx < n]  # the implicit points all have weight 0
            maxima[r] = float(w[idx].max()) if idx.size else 0.0
        else:
            maxima[r] = float(w[idx].max())
    w_max = float(np.median(maxima))
    q16, q84 = np.percentile(maxima, [16.0, 84.0])
    w_max_err = 0.5 * float(q84 - q16)

    if w_max < mean:
        # the replicas' maxima lie below the mean: the cross section sits in a few extreme weights and
        # hit-or-miss against the robust w_max would carry it in overweights; fall back to the true max
        w_max, w_max_err = w_max_abs, 0.0
    if w_max > 0.0:
        eff = mean / w_max
        eff_err = eff * math.hypot(w_max_err / w_max, err / mean)
    else:  # most replicas missed every nonzero weight: the sample is far too small to unweight from
        eff, eff_err = 0.0, 0.0
    return {
        "xsec_pb": float(mean),
        "xsec_err_pb": float(err),
        "rel_std": float(rel_std),
        "rel_std_err": float(rel_std_err),
        "cut_efficiency": float(p),
        "cut_efficiency_err": float(cut_eff_err),
        "w_max": w_max,
        "w_max_err": w_max_err,
        "w_max_abs": w_max_abs,
        "unweighting_efficiency": float(eff),
        "unweighting_efficiency_err": float(eff_err),
        "unweighting_efficiency_abs": float(mean / w_max_abs),
        "n_evals": big_n,
        "n_nonzero": n_nonzero,
    }


def combine_estimates(values, errors) -> tuple[float, float, float, float]:
    r"""Inverse-variance weighted mean of independent estimates, e.g. of batches of one integration.

    Parameters
    ----------
    values, errors : array_like, shape (k,)
        The estimates and their (strictly positive, finite) standard errors.

    Returns
    -------
    mean : float
        :math:`\bar x = \sum_j x_j/\delta_j^2 \,/\, \sum_j 1/\delta_j^2`.
    err : float
        :math:`(\sum_j 1/\delta_j^2)^{-1/2}`.
    chi2_per_dof : float
        :math:`\chi^2/(k-1)` with :math:`\chi^2 = \sum_j (x_j-\bar x)^2/\delta_j^2`; 0 for a single estimate.
    Q : float
        The probability of a :math:`\chi^2` at least this large for consistent estimates,
        ``scipy.stats.chi2.sf(chi2, k - 1)``; 1 for a single estimate. A small Q (say < 0.01) means the
        estimates (or their errors) are not consistent.
    """
    x = np.asarray(values, dtype=np.float64)
    e = np.asarray(errors, dtype=np.float64)
    if x.ndim != 1 or e.ndim != 1 or x.shape != e.shape:
        raise ValueError(
            f"values, errors: expected two 1-D arrays of equal length, got shapes {x.shape}, {e.shape}"
        )
    if x.size == 0:
        raise ValueError("values: empty, nothing to combine")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"values: {int(np.count_nonzero(~np.isfinite(x)))} entries are not finite")
    if not np.all(np.isfinite(e) & (e > 0)):
        raise ValueError(
            f"errors: {int(np.count_nonzero(~(np.isfinite(e) & (e > 0))))} entries are not finite and > 0"
        )
    inv = 1.0 / (e * e)
    norm = float(np.sum(inv))
    mean = float(np.sum(inv * x)) / norm
    err = 1.0 / math.sqrt(norm)
    dof = x.size - 1
    if dof == 0:
        return mean, err, 0.0, 1.0
    chi2 = float(np.sum(inv * (x - mean) ** 2))
    return mean, err, chi2 / dof, float(stats.chi2.sf(chi2, dof))


def pull(a, da, b, db) -> float:
    r"""The pull :math:`(a-b)/\sqrt{\delta_a^2+\delta_b^2}` of two independent estimates.

    Returns 0 when both errors vanish and ``a == b``, and :math:`\pm\infty` when they vanish and
    ``a != b``.
    """
    a, da, b, db = (float(v) for v in (a, da, b, db))
    for name, v in (("a", a), ("da", da), ("b", b), ("db", db)):
        if not math.isfinite(v):
            raise ValueError(f"{name}: expected a finite number, got {v}")
    if da < 0 or db < 0:
        raise ValueError(f"da, db: errors must be >= 0, got {da}, {db}")
    scale = math.hypot(da, db)
    if scale == 0.0:
        return 0.0 if a == b else math.copysign(math.inf, a - b)
    return (a - b) / scale
