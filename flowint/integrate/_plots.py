"""Observables of events and the PNG plots of a run (matplotlib, Agg backend, written atomically)."""

from __future__ import annotations

import io
import math

import numpy as np

from ._files import atomic_write_bytes

_JETS = {1, 2, 3, 4, 5, 21}


def _mass(p):
    return np.sqrt(np.maximum(p[..., 0] ** 2 - np.sum(p[..., 1:] ** 2, axis=-1), 0.0))


def _pt(p):
    return np.hypot(p[..., 1], p[..., 2])


def _cos_theta(p):
    return p[..., 3] / np.maximum(np.linalg.norm(p[..., 1:], axis=-1), 1e-300)


def observables(process, momenta) -> dict:
    """A few physics distributions of events (momenta (N, nexternal, 4)): name -> (values, axis label).

    Every s-channel resonance's invariant mass (from the process manifest), the production angle of the
    first resonance (or of the first final-state particle when there is none) and the transverse momentum
    of the first final-state quark or gluon (or of the first final-state particle).
    """
    p = np.asarray(momenta, dtype=np.float64)
    out = {}
    ninitial = int(getattr(process, "ninitial", 2))
    finals = list(range(ninitial, p.shape[1]))
    names = {}
    # s-channel resonances that are a proper subset of the final state (not e.g. the Z of e+e- -> mu+mu-)
    resonances = [r for r in getattr(process, "resonances", None) or [] if 2 <= len(r["legs"]) < len(finals)]
    for res in resonances:
        legs = list(res["legs"])
        name = res.get("name", str(res["pdg"]))
        names[name] = names.get(name, 0) + 1
        label = name if names[name] == 1 else f"{name}{names[name]}"
        out[f"m_{label}"] = (_mass(p[:, legs].sum(axis=1)), f"m({name}) [GeV]")
    res = resonances[0] if resonances else None
    if res is not None:
        out["cos_theta"] = (_cos_theta(p[:, list(res["legs"])].sum(axis=1)), f"cos theta({res.get('name', '')})")
    else:
        out["cos_theta"] = (_cos_theta(p[:, finals[0]]), f"cos theta(particle {finals[0]})")
    pdgs = [abs(int(c)) for c in process.pdg_codes]
    jets = [i for i in finals if pdgs[i] in _JETS]
    j = jets[0] if jets else finals[0]
    out["pt"] = (_pt(p[:, j]), f"pT(particle {j}, pdg {process.pdg_codes[j]}) [GeV]")
    return out


def _save(fig, path):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_training(history: dict, path):
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    upd = np.asarray(history["update"])
    loss = np.asarray(history["loss"])
    kinds = np.asarray(history["kind"])
    for kind, colour in (("pretrain", "tab:orange"), ("online", "tab:blue"), ("buffered", "tab:gray")):
        sel = kinds == kind
        if sel.any():
            axes[0].plot(upd[sel], loss[sel], ".", ms=2, color=colour, label=kind)
    axes[0].set_xlabel("update")
    axes[0].set_ylabel("loss")
    axes[0].legend()
    rel = np.asarray(history["rel_std"])
    sel = np.isfinite(rel)
    if sel.any():
        axes[1].semilogy(upd[sel], rel[sel], ".", ms=2)
    axes[1].set_xlabel("update")
    axes[1].set_ylabel("rel. std of weights (training batch)")
    _save(fig, path)
    plt.close(fig)


def plot_weights(weights: dict, path, bins=40):
    """Histogram of log10(w / <w>) for each named weight array (zeros are left out and counted)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    logs = {}
    for name, w in weights.items():
        w = np.asarray(w)
        nz = w[w > 0]
        if nz.size:
            logs[name] = (np.log10(nz / w.mean()), 1 - nz.size / w.size)
    if logs:
        lo = min(v[0].min() for v in logs.values())
        hi = max(v[0].max() for v in logs.values())
        edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
        for name, (lw, zero) in logs.items():
            ax.hist(lw, bins=edges, histtype="step", density=True, label=f"{name} (zero: {zero:.1%})")
    ax.set_yscale("log")
    ax.set_xlabel("log10(w / <w>)")
    ax.set_ylabel("density")
    ax.legend()
    _save(fig, path)
    plt.close(fig)


def plot_observables(process, samples: dict, path, bins=40):
    """Normalised histograms of :func:`observables` for each named set of unweighted events."""
    plt = _pyplot()
    obs = {name: observables(process, p) for name, p in samples.items() if p is not None and len(p)}
    if not obs:
        return
    keys = list(next(iter(obs.values())))
    ncol = min(3, len(keys))
    nrow = math.ceil(len(keys) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.4 * nrow), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        allv = np.concatenate([o[key][0] for o in obs.values()])
        lo, hi = np.percentile(allv, [0.5, 99.5])
        edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
        for name, o in obs.items():
            ax.hist(np.clip(o[key][0], lo, hi), bins=edges, histtype="step", density=True,
                    label=f"{name} ({len(o[key][0])})")
        ax.set_xlabel(next(iter(obs.values()))[key][1])
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    _save(fig, path)
    plt.close(fig)
