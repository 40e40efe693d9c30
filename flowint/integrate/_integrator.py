r"""The :class:`Integrator`: a thin object over the pure training, integration and VEGAS functions.

Typical use::

    from flowint.integrate import Integrator

    integ = Integrator({"process": "ee_mumu", "sqrt_s": 91.0, "mapping": {"kind": "two_body"},
                        "training": {"steps": 200}})
    integ.train()
    res = integ.integrate()          # xsec_pb, xsec_err_pb, rel_std, unweighting_efficiency, ...
    base = integ.vegas()             # the VEGAS baseline at the same number of integrand calls
    grad = integ.xsec_gradient([("mass", 23)])   # sigma and d sigma / d MZ from one sample
    integ.write_events("events.lhe.gz")

Everything the run does is fixed by its configuration (see :mod:`flowint.integrate._config`) and its
``seed``. Integrand calls are counted everywhere: pre-training samples, every online training batch and the
final estimate on the flow's side; adaptation and final iterations on VEGAS's side, which by default gets
exactly the flow's training calls for adapting and its integration calls for the final estimate.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from flowint.flows import make_flow
from flowint.madjax import load_process
from flowint.phasespace import integrand as make_integrand
from flowint.phasespace import make_cuts, make_mapping, read_lhe

from ._config import SMOOTH_KEYS, SPLINE_KEYS, ConfigError, parse_param_key, resolve_path, validate_config
from ._events import unweight, write_lhe
from ._metrics import weight_summary
from ._train import (
    PHASE_EVENTS,
    PHASE_INTEGRATE,
    PHASE_ONLINE,
    PHASE_PRETRAIN,
    PHASE_PRETRAIN_DATA,
    PHASE_VEGAS,
    TrainState,
    init_state,
    load_checkpoint,
    make_optimizer,
    make_steps,
    phase_key,
    save_checkpoint,
    to_float,
)
from ._vegas import vegas_baseline, vegas_samples


def _flow_hyper(flow_cfg: dict) -> dict:
    hyper = {k: flow_cfg[k] for k in ("n_layers", "hidden_width", "hidden_depth", "activation")}
    if flow_cfg["kind"] == "smooth":
        hyper.update({k: flow_cfg[k] for k in SMOOTH_KEYS})
    else:
        hyper.update({k: flow_cfg[k] for k in SPLINE_KEYS})
    return hyper


class Integrator:
    """Train a flow proposal for one process and integrate with it (see the module docstring).

    Args:
        config: a configuration mapping (validated here; see ``flowint.integrate.SCHEMA``) or an already
            validated one.
        log: a callable taking one string (progress and log lines); default: print to stderr.

    Attributes set on construction: ``config``, ``process``, ``params`` (the full parameter dict),
    ``mapping``, ``integrand``, ``flow``, ``ndim``; after :meth:`train`: ``state``, ``history``,
    ``counters``; after :meth:`integrate`: ``sample`` (u, log_q, log_p, weights) and ``result``.
    """

    def __init__(self, config: Mapping, *, log=None):
        cfg = dict(config)
        config_dir = cfg.pop("_config_dir", None)
        self.config = validate_config(cfg)
        if config_dir:
            self.config["_config_dir"] = config_dir
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        c = self.config
        try:
            self.process = load_process(c["process"])
        except (KeyError, FileNotFoundError, ValueError) as exc:
            raise ConfigError(f"config key 'process': {exc}") from None
        params = dict(self.process.default_params())
        if c["param_card"]:
            params.update(self.process.read_param_card(resolve_path(c["param_card"], c)))
        for text, value in c["params"].items():
            key = parse_param_key(f"params.{text}", text)
            if key not in params:
                raise ConfigError(
                    f"config key 'params.{text}': {key} is not an external parameter of {c['process']!r}"
                )
            params[key] = float(value)
        self.params = params
        try:
            self.mapping = make_mapping(self.process, c["sqrt_s"], c["mapping"]["kind"], c["mapping"]["bwcutoff"])
        except ValueError as exc:
            raise ConfigError(f"config key 'sqrt_s' / 'mapping': {exc}") from None
        try:
            cuts = make_cuts(c["cuts"]) if c["cuts"] else None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"config key 'cuts': {exc}") from None
        self.integrand = make_integrand(self.process, self.mapping, params, cuts)
        self.ndim = self.mapping.ndim
        self.flow = make_flow(c["flow"]["kind"], self.ndim, **_flow_hyper(c["flow"]))
        t = c["training"]
        self.total_updates = int(c["pretrain"]["steps"]) + int(t["steps"]) * int(t["updates_per_batch"])
        self.optimizer, self.lr_schedule = make_optimizer(t, self.total_updates)
        self._log_p = lambda u: self.integrand.log_fn(u)
        self._steps = make_steps(self.flow, self._log_p, self.optimizer, t)
        self.state = None
        self.history = {"update": [], "loss": [], "rel_std": [], "omega": [], "lr": [], "kind": []}
        self.counters = {"n_evals_pretrain": 0, "n_evals_train": 0, "n_external_events": 0,
                         "seconds_train": 0.0}
        self.sample = None
        self.result = None
        self.vegas_result = None
        self._update = 0
        self._draw_cache = {}
        self._map_fn = None

    # ---------------------------------------------------------------------------------------- training
    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    def _pretrain_data(self):
        """(u, log_p, log_g) of the pre-training sample, and the integrand calls it took."""
        c, p = self.config, self.config["pretrain"]
        source = p["source"]
        key = phase_key(self.seed, PHASE_PRETRAIN_DATA)
        if source == "lhe":
            path = resolve_path(p["lhe_file"] or c["reference_lhe"], c)
            events = read_lhe(path, self.process)
            u, _ = self.mapping.inverse(jnp.asarray(events.momenta), self.params)
            u = np.asarray(u)
            inside = np.all(np.isfinite(u) & (u >= 0) & (u <= 1), axis=1)
            if not inside.any():
                raise ValueError(f"no event of {path!r} maps into the cube of this mapping")
            u = jnp.asarray(u[inside])
            self.counters["n_external_events"] = int(inside.sum())
            self._log(f"pre-training on {int(inside.sum())} of {len(inside)} events of {os.path.basename(path)}")
            zeros = jnp.zeros(u.shape[0])
            return u, zeros, zeros, 0  # unweighted events: p/g constant
        n = int(p["n_samples"])
        if source == "vegas":
            x, log_g = vegas_samples(self._numpy_integrand(), self.ndim, n // 2, n - n // 2, seed=self.seed)
            u = jnp.asarray(x)
            log_p = self._chunked_log_p(u)
            return u, log_p, jnp.asarray(log_g), n
        # decay_chain -> this (flat) mapping
        chain = make_mapping(self.process, c["sqrt_s"], "decay_chain", c["mapping"]["bwcutoff"])
        u_dc = jax.random.uniform(key, (n, chain.ndim), dtype=jnp.float64)
        p_dc, lw_dc = chain.map(u_dc, self.params)
        u, lw = self.mapping.inverse(p_dc, self.params)
        log_g = lw - lw_dc
        log_p = self._chunked_log_p(u)
        return u, log_p, log_g, n

    def _chunked_log_p(self, u):
        fn = jax.jit(self._log_p)
        chunk = int(self.config["integration"]["batch_size"])
        out = [fn(_pad(u[i : i + chunk], chunk))[: min(chunk, u.shape[0] - i)] for i in range(0, u.shape[0], chunk)]
        return jnp.concatenate(out)

    def _numpy_integrand(self):
        """dsigma/du as a numpy batch function (fixed compiled chunk size, padded)."""
        fn = jax.jit(self.integrand.fn)
        chunk = int(self.config["vegas"]["batch_size"])

        def f(x):
            x = np.asarray(x, dtype=np.float64)
            out = np.empty(x.shape[0])
            for i in range(0, x.shape[0], chunk):
                part = x[i : i + chunk]
                size = min(chunk, 1 << max(int(part.shape[0] - 1).bit_length(), 10))
                out[i : i + part.shape[0]] = np.asarray(fn(_pad(jnp.asarray(part), size)))[: part.shape[0]]
            return out

        return f

    def train(self, checkpoint=None, *, resume: bool = False, progress: bool | None = None):
        """Pre-train (optional) and train the flow; returns :attr:`history`.

        ``checkpoint``: a file written every ``training.checkpoint_every`` updates, at the end, and when
        the run is interrupted (Ctrl-C: the checkpoint is written, then ``KeyboardInterrupt`` re-raised).
        ``resume``: continue from that file; the result equals an uninterrupted run with the same seed.
        """
        c, t, p = self.config, self.config["training"], self.config["pretrain"]
        if resume:
            if checkpoint is None:
                raise ValueError("resume=True needs the checkpoint path")
            payload = load_checkpoint(checkpoint)
            saved = {k: v for k, v in payload["config"].items() if not k.startswith("_")}
            mine = {k: v for k, v in c.items() if not k.startswith("_")}
            if saved != mine:
                diff = sorted(k for k in set(saved) | set(mine) if saved.get(k) != mine.get(k))
                raise ValueError(f"checkpoint {os.fspath(checkpoint)!r} was written with a different config "
                                 f"(differs in: {', '.join(diff)})")
            self.state = TrainState(*payload["state"])
            self._update = payload["update"]
            self.history = payload["history"]
            self.counters = payload["counters"]
            self._log(f"resuming from update {self._update} of {self.total_updates}")
        elif self.state is None:
            self.state = init_state(self.flow, self.optimizer, t, self.seed)
            self._update = 0
        n_pre = int(p["steps"])
        pre_data = None
        if p["source"] != "none" and n_pre > 0 and self._update < n_pre:
            u, log_p, log_g, calls = self._pretrain_data()
            if not resume or self.counters["n_evals_pretrain"] == 0:
                self.counters["n_evals_pretrain"] = int(calls)
            pre_data = (u, log_p, log_g)
            pretrain_step = self._steps.pretrain(int(p["batch_size"]))
        upb = int(t["updates_per_batch"])
        interactive = sys.stderr.isatty() if progress is None else bool(progress)
        bar = None
        if interactive and self._update < self.total_updates:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.total_updates, initial=self._update, desc="training", leave=False,
                       file=sys.stderr)
        t0 = time.perf_counter()
        seconds0 = self.counters["seconds_train"]
        last_rel = float("nan")
        update = self._update
        try:
            while update < self.total_updates:
                if update < n_pre:
                    key = phase_key(self.seed, PHASE_PRETRAIN, update)
                    state, stats = pretrain_step(self.state, key, *pre_data)
                    kind = "pretrain"
                else:
                    j = update - n_pre
                    key = phase_key(self.seed, PHASE_ONLINE, j)
                    if j % upb == 0:
                        state, stats = self._steps.online(self.state, jnp.asarray(j // upb), key)
                        kind = "online"
                    else:
                        state, stats = self._steps.buffered(self.state, jnp.asarray(j // upb), key)
                        kind = "buffered"
                loss = to_float(stats["loss"])
                if not math.isfinite(loss):
                    raise FloatingPointError(
                        f"training loss is {loss} at update {update} ({kind}); lower training.learning_rate "
                        f"or set training.grad_clip"
                    )
                self.state = state
                update += 1
                self._update = update
                if kind == "online":
                    self.counters["n_evals_train"] += int(t["batch_size"])
                    last_rel = to_float(stats["rel_std"])
                self._record(update, kind, stats)
                if bar is not None:
                    bar.update(1)
                    if kind == "online":
                        bar.set_postfix(loss=f"{loss:.4g}", rel_std=f"{last_rel:.3g}")
                elif update % int(t["log_every"]) == 0 or update == self.total_updates:
                    self._log(f"update {update}/{self.total_updates} ({kind}) loss {loss:.5g} "
                              f"rel_std(batch) {last_rel:.4g}")
                if checkpoint is not None and update % int(t["checkpoint_every"]) == 0:
                    self.counters["seconds_train"] = seconds0 + time.perf_counter() - t0
                    self.save(checkpoint)
        except KeyboardInterrupt:
            if checkpoint is not None:
                self.counters["seconds_train"] = seconds0 + time.perf_counter() - t0
                self.save(checkpoint)
                self._log(f"interrupted at update {self._update}; checkpoint written to {os.fspath(checkpoint)}")
            raise
        finally:
            if bar is not None:
                bar.close()
        self.counters["seconds_train"] = seconds0 + time.perf_counter() - t0
        if checkpoint is not None:
            self.save(checkpoint)
        return self.history

    def _record(self, update, kind, stats):
        h = self.history
        h["update"].append(int(update))
        h["kind"].append(kind)
        h["loss"].append(to_float(stats["loss"]))
        h["rel_std"].append(to_float(stats["rel_std"]) if "rel_std" in stats else float("nan"))
        h["omega"].append(to_float(stats["omega"]) if "omega" in stats else 0.0)
        h["lr"].append(to_float(self.lr_schedule(update - 1)))

    def save(self, path):
        """Write the checkpoint (flow and optimiser state, buffer, history, counters, config) atomically."""
        if self.state is None:
            raise ValueError("nothing to save: the flow has not been initialised (call train first)")
        save_checkpoint(path, state=self.state, update=self._update, history=self.history,
                        counters=self.counters, config=self.config)

    # ------------------------------------------------------------------------------------- integration
    def _draw_fn(self, size):
        if size not in self._draw_cache:
            flow, log_p = self.flow, self._log_p

            def draw(params, key):
                u, log_q = flow.sample(params, key, size)
                return u, log_q, log_p(u)

            self._draw_cache[size] = jax.jit(draw)
        return self._draw_cache[size]

    def integrate(self, n_points: int | None = None) -> dict:
        """The cross section from ``n_points`` fresh flow samples (default ``integration.n_points``).

        Returns (and stores in :attr:`result`) the dict of :func:`weight_summary` — ``xsec_pb``,
        ``xsec_err_pb``, ``rel_std`` (σ_w/⟨w⟩), ``unweighting_efficiency`` (⟨w⟩ / bootstrap-median w_max),
        ``cut_efficiency``, each with its error where it has one — plus ``n_evals`` (all integrand calls of
        the flow: pre-training, training and this estimate), ``n_evals_integration``, ``seconds``.
        """
        if self.state is None:
            self.state = init_state(self.flow, self.optimizer, self.config["training"], self.seed)
        ic = self.config["integration"]
        n = int(n_points or ic["n_points"])
        if n < 2:
            raise ValueError(f"n_points must be >= 2, got {n}")
        chunk = min(int(ic["batch_size"]), n)
        n_chunks = -(-n // chunk)
        draw = self._draw_fn(chunk)
        t0 = time.perf_counter()
        us, lqs, lps = [], [], []
        for i in range(n_chunks):
            u, log_q, log_p = draw(self.state.params, phase_key(self.seed, PHASE_INTEGRATE, i))
            us.append(np.asarray(u))
            lqs.append(np.asarray(log_q))
            lps.append(np.asarray(log_p))
        u, log_q, log_p = (np.concatenate(a) for a in (us, lqs, lps))
        ok = np.isfinite(log_p)
        bad_q = ~np.isfinite(log_q)
        if np.any(bad_q & ok):
            raise FloatingPointError(f"the flow returned a non-finite log q at {int(np.sum(bad_q & ok))} points")
        weights = np.where(ok, np.exp(np.where(ok, log_p - log_q, 0.0)), 0.0)
        seconds = time.perf_counter() - t0
        summary = weight_summary(
            weights, key_or_seed=self.seed, wmax_replicas=ic["wmax_replicas"],
            wmax_replica_size=ic["wmax_replica_size"],
        )
        n_all = int(self.counters["n_evals_pretrain"] + self.counters["n_evals_train"] + weights.size)
        self.sample = {"u": u, "log_q": log_q, "log_p": log_p, "weights": weights}
        self.result = {
            **summary,
            "n_evals": n_all,
            "n_evals_integration": int(weights.size),
            "n_evals_train": int(self.counters["n_evals_train"]),
            "n_evals_pretrain": int(self.counters["n_evals_pretrain"]),
            "n_external_events": int(self.counters["n_external_events"]),
            "seconds": float(self.counters["seconds_train"] + seconds),
            "seconds_integration": float(seconds),
        }
        return self.result

    # ----------------------------------------------------------------------------------------- VEGAS
    def vegas(self, n_adapt: int | None = None, n_final: int | None = None, *, keep_points: bool = True) -> dict:
        """The VEGAS baseline on the same integrand and mapping.

        By default it gets the flow's budget: ``n_adapt`` = the flow's pre-training + training calls and
        ``n_final`` = the flow's integration calls, spent in ``vegas.nitn_adapt + vegas.nitn_final``
        iterations of equal size (see :func:`vegas_baseline`).
        """
        vc, ic = self.config["vegas"], self.config["integration"]
        if n_adapt is None:
            n_adapt = self.counters["n_evals_pretrain"] + self.counters["n_evals_train"]
        if n_final is None:
            n_final = self.result["n_evals_integration"] if self.result else int(ic["n_points"])
        res = vegas_baseline(
            self._numpy_integrand(), self.ndim, int(n_adapt), int(n_final),
            nitn_adapt=vc["nitn_adapt"], nitn_final=vc["nitn_final"], alpha=vc["alpha"],
            seed=int(jax.random.randint(phase_key(self.seed, PHASE_VEGAS), (), 0, 2**31 - 1)),
            keep_points=keep_points, wmax_replicas=ic["wmax_replicas"], wmax_replica_size=ic["wmax_replica_size"],
        )
        self.vegas_result = res
        return res

    # --------------------------------------------------------------------------------------- events
    def momenta(self, u) -> np.ndarray:
        """Momenta (N, nexternal, 4) of points of the cube (through the run's mapping and parameters)."""
        if self._map_fn is None:  # compiled once, however many event sets are mapped
            self._map_fn = jax.jit(lambda x: self.mapping.map(x, self.params)[0])
        fn = self._map_fn
        u = jnp.asarray(u, dtype=jnp.float64)
        chunk = 8192
        return np.concatenate(
            [np.asarray(fn(_pad(u[i : i + chunk], chunk)))[: min(chunk, u.shape[0] - i)]
             for i in range(0, u.shape[0], chunk)]
        ) if u.shape[0] else np.zeros((0, len(self.process.pdg_codes), 4))

    def unweighted_events(self, n_max: int | None = None, *, points=None, weights=None, w_max=None, seed=None):
        """Hit-or-miss unweighting of the flow sample (or of given ``points``/``weights``) against the
        robust w_max; returns (momenta of at most ``n_max`` events, info with the overweight count)."""
        if points is None:
            if self.sample is None:
                raise ValueError("no weighted sample yet: call integrate() first")
            points, weights = self.sample["u"], self.sample["weights"]
            w_max = self.result["w_max"] if w_max is None else w_max
        if w_max is None:
            w_max = weight_summary(weights, key_or_seed=self.seed)["w_max"]
        seed = int(jax.random.randint(phase_key(self.seed, PHASE_EVENTS), (), 0, 2**31 - 1)) if seed is None else seed
        idx, info = unweight(weights, w_max, seed)
        if n_max is not None:
            idx = idx[: int(n_max)]
        info = dict(info, n_written=len(idx))
        return self.momenta(np.asarray(points)[idx]), info

    def write_events(self, path, n_max: int | None = None) -> dict:
        """Unweighted flow events as LHE 3.0 (gzip for a ``.gz`` path) with the integrated σ in ``<init>``."""
        if self.result is None:
            raise ValueError("no cross section yet: call integrate() first")
        n_max = self.config["events"]["n_max"] if n_max is None else n_max
        momenta, info = self.unweighted_events(n_max)
        masses = [float(m) for m in self.process.masses(self.params)] if hasattr(self.process, "masses") else None
        write_lhe(path, momenta, self.process.pdg_codes, masses=masses, xsec_pb=self.result["xsec_pb"],
                  xsec_err_pb=self.result["xsec_err_pb"], sqrt_s=self.config["sqrt_s"],
                  header_text=_config_text(self.config))
        return info

    # --------------------------------------------------------------------- differentiable cross section
    def xsec_gradient(self, keys, n_points: int | None = None, *, chunk: int = 8192) -> dict:
        """σ(θ) and ∇_θ σ for the parameters ``keys`` (e.g. ``[("mass", 6), ("decay", 6)]``) from one sample.

        With points u_i ~ q fixed, σ(θ) = ⟨f(u_i; θ) / q(u_i)⟩ and ∇_θ σ = ⟨∇_θ f(u_i; θ) / q(u_i)⟩ — an
        unbiased estimate for every θ, since the mapping may depend on θ (Breit–Wigner maps) but always
        covers the whole phase space. Forward-mode derivatives through the mapping and |M|²; errors are the
        standard errors of the per-point values. Uses the sample of :meth:`integrate` unless ``n_points``
        asks for a fresh one.
        """
        keys = [tuple(k) for k in keys]
        for k in keys:
            if k not in self.params:
                raise KeyError(f"{k} is not an external parameter of {self.config['process']!r}; "
                               f"known: {sorted(self.params)}")
        if n_points is not None or self.sample is None:
            self.integrate(n_points)
        u, log_q = self.sample["u"], self.sample["log_q"]
        theta0 = jnp.asarray([self.params[k] for k in keys], dtype=jnp.float64)

        def per_point(theta, u, log_q):
            w = self.integrand.fn(u, {k: theta[i] for i, k in enumerate(keys)})
            return w * jnp.exp(-log_q)

        fn = jax.jit(lambda th, u, lq: (per_point(th, u, lq), jax.jacfwd(per_point)(th, u, lq)))
        values, jacs = [], []
        for i in range(0, u.shape[0], chunk):
            m = min(chunk, u.shape[0] - i)
            v, j = fn(theta0, _pad(jnp.asarray(u[i : i + chunk]), chunk), _pad(jnp.asarray(log_q[i : i + chunk]), chunk))
            values.append(np.asarray(v)[:m])
            jacs.append(np.asarray(j)[:m])
        values, jacs = np.concatenate(values), np.concatenate(jacs)
        n = values.size
        out = {
            "xsec_pb": float(values.mean()),
            "xsec_err_pb": float(values.std(ddof=1) / math.sqrt(n)),
            "n_points": int(n),
            "gradient": {},
        }
        for i, k in enumerate(keys):
            g = jacs[:, i]
            out["gradient"][k] = {"value": float(g.mean()), "error": float(g.std(ddof=1) / math.sqrt(n)),
                                  "at": float(theta0[i])}
        return out


def _pad(x, size):
    """Pad the leading axis of x to ``size`` by repeating its last row (fixed shapes compile once)."""
    n = x.shape[0]
    if n == size:
        return x
    reps = jnp.repeat(x[-1:], size - n, axis=0)
    return jnp.concatenate([x, reps], axis=0)


def _config_text(config) -> str:
    import yaml

    clean = {k: v for k, v in config.items() if not k.startswith("_")}
    return yaml.safe_dump(clean, sort_keys=False)
