r"""The run configuration: a schema, defaults, and validation with one-line errors (pyhf style).

A configuration is a nested mapping (usually a YAML file). :func:`validate_config` checks every key
against :data:`SCHEMA` *before any work starts*: an unknown key, a wrong type or an out-of-range value
raises :class:`ConfigError` (a ``ValueError``) with one line naming the dotted key and what is allowed,
e.g. ``config key 'training.steps': expected an integer >= 0, got -3``. The validated result is a
complete plain dict (every default filled in), which is what the rest of :mod:`flowint.integrate`
reads and what ``results.json`` records.

``--set key=value`` overrides (:func:`apply_overrides`) use dotted keys; values are parsed as YAML
scalars (``training.steps=200``, ``flow.kind=spline``, ``vegas.enabled=false``).

:func:`describe_schema` renders the schema as text (the README's table is generated from it).
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

import yaml


class ConfigError(ValueError):
    """A configuration problem, reported on one line that names the offending key."""


class Field(NamedTuple):
    """One configuration value: a checker (value -> normalised value, or raise), a default, a doc line."""

    check: Any
    default: Any
    doc: str


_REQUIRED = object()


# -- checkers ------------------------------------------------------------------------------------------
def _fail(key, what, value):
    raise ConfigError(f"config key {key!r}: expected {what}, got {value!r}")


def _int(lo=None, hi=None, nullable=False):
    def what():
        s = "an integer"
        if lo is not None and hi is not None:
            s += f" in [{lo}, {hi}]"
        elif lo is not None:
            s += f" >= {lo}"
        return s + (" or null" if nullable else "")

    def check(key, v):
        if v is None and nullable:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
            _fail(key, what(), v)
        v = int(v)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            _fail(key, what(), v)
        return v

    check.what = what()
    return check


def _float(lo=None, hi=None, lo_open=False, hi_open=False, nullable=False):
    def what():
        parts = []
        if lo is not None:
            parts.append(f"{'>' if lo_open else '>='} {lo}")
        if hi is not None:
            parts.append(f"{'<' if hi_open else '<='} {hi}")
        return "a number" + (" " + " and ".join(parts) if parts else "") + (" or null" if nullable else "")

    def check(key, v):
        if v is None and nullable:
            return None
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                _fail(key, what(), v)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            _fail(key, what(), v)
        v = float(v)
        if lo is not None and (v <= lo if lo_open else v < lo):
            _fail(key, what(), v)
        if hi is not None and (v >= hi if hi_open else v > hi):
            _fail(key, what(), v)
        return v

    check.what = what()
    return check


def _choice(*options, nullable=False):
    what = "one of " + ", ".join(repr(o) for o in options) + (" or null" if nullable else "")

    def check(key, v):
        if v is None and nullable:
            return None
        if v not in options:
            _fail(key, what, v)
        return v

    check.what = what
    return check


def _bool():
    def check(key, v):
        if not isinstance(v, bool):
            _fail(key, "true or false", v)
        return v

    check.what = "true or false"
    return check


def _str(nullable=False):
    what = "a string" + (" or null" if nullable else "")

    def check(key, v):
        if v is None and nullable:
            return None
        if not isinstance(v, str) or not v:
            _fail(key, what, v)
        return v

    check.what = what
    return check


def _params():
    what = "a mapping {'block/code': number}, e.g. {'mass/6': 172.5}"

    def check(key, v):
        if v is None:
            return {}
        if not isinstance(v, Mapping):
            _fail(key, what, v)
        out = {}
        for k, val in v.items():
            parse_param_key(f"{key}.{k}", k)
            out[str(k)] = _float()(f"{key}.{k}", val)
        return out

    check.what = what
    return check


def _mapping_or_null(what):
    def check(key, v):
        if v is None:
            return None
        if not isinstance(v, Mapping):
            _fail(key, what, v)
        return copy.deepcopy(dict(v))

    check.what = what
    return check


def _omega():
    what = "a number >= 0 or a schedule mapping {kind: constant|linear|cosine|exponential, ...}"

    def check(key, v):
        if isinstance(v, Mapping):
            v = dict(v)
            kind = v.pop("kind", None)
            from flowint.losses import omega_schedule

            try:
                omega_schedule(kind if kind is not None else "?", **v)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"config key {key!r}: {exc}") from None
            return {"kind": kind, **v}
        return _float(lo=0.0)(key, v)

    check.what = what
    return check


def _positive_or_null():
    return _float(lo=0.0, lo_open=True, nullable=True)


def parse_param_key(key, text):
    """'mass/6' (or 'mass 6') -> ('mass', 6); ConfigError naming ``key`` otherwise."""
    s = str(text).replace(" ", "/").replace(",", "/")
    parts = [p for p in s.split("/") if p]
    if len(parts) != 2:
        raise ConfigError(f"config key {key!r}: a parameter is written 'block/code', e.g. 'mass/6'")
    try:
        return parts[0].lower(), int(parts[1])
    except ValueError:
        raise ConfigError(f"config key {key!r}: the code of 'block/code' must be an integer") from None


# -- the schema ----------------------------------------------------------------------------------------
SCHEMA: dict = {
    "process": Field(_str(), _REQUIRED, "shipped process name (flowint.madjax.shipped_processes()) or a path"),
    "sqrt_s": Field(_float(lo=0.0, lo_open=True), _REQUIRED, "centre-of-mass energy in GeV"),
    "seed": Field(_int(lo=0), 0, "master seed of every random number in the run"),
    "param_card": Field(_str(nullable=True), None, "SLHA param card (path) for the model parameters"),
    "params": Field(_params(), {}, "parameter overrides {'block/code': value}, e.g. {'decay/6': 1.5}"),
    "cuts": Field(
        _mapping_or_null("a mapping of cuts (flowint.phasespace.make_cuts) or null"),
        None,
        "generation cuts, e.g. {pt_min: {value: 20, particles: [2, 3]}}",
    ),
    "reference_lhe": Field(
        _str(nullable=True), None, "MadGraph events (LHE) for plots, the reference sigma and LHE pre-training"
    ),
    "mapping": {
        "kind": Field(_choice("decay_chain", "flat", "two_body"), "decay_chain", "phase-space mapping"),
        "bwcutoff": Field(_float(lo=0.0, lo_open=True), 15.0, "resonance windows |m - M| < bwcutoff * Gamma"),
    },
    "flow": {
        "kind": Field(_choice("smooth", "spline"), "smooth", "flow family"),
        "n_layers": Field(_int(lo=1, nullable=True), None, "coupling layers (null: 2 max(2, ceil(log2 d)))"),
        "hidden_width": Field(_int(lo=1), 32, "width of the conditioner MLPs"),
        "hidden_depth": Field(_int(lo=0), 2, "hidden layers of the conditioner MLPs"),
        "activation": Field(_choice("silu", "tanh", "gelu"), "silu", "conditioner activation"),
        "n_components": Field(_int(lo=1), 8, "smooth: mixture components K"),
        "alpha": Field(_float(lo=0.0, lo_open=True), 1.0, "smooth: ramp sharpness"),
        "power": Field(_int(lo=1), 1, "smooth: ramp power"),
        "slope_floor": Field(_float(lo=0.0, hi=1.0, lo_open=True, hi_open=True), 1e-3, "smooth: f' >= c"),
        "min_scale": Field(_float(lo=0.0, lo_open=True), 1e-2, "smooth: lower bound of component scales"),
        "init_scale": Field(_float(lo=0.0, lo_open=True), 2.0, "smooth: initial component scales"),
        "init_identity_weight": Field(
            _float(lo=0.0, hi=1.0, lo_open=True, hi_open=True), 0.9, "smooth: initial identity weight"
        ),
        "analytic": Field(_choice("sample", "density"), "sample", "smooth: closed-form direction"),
        "n_bins": Field(_int(lo=2), 8, "spline: bins"),
    },
    "training": {
        "steps": Field(_int(lo=0), 500, "optimiser updates after pre-training"),
        "batch_size": Field(_int(lo=2), 1000, "fresh flow samples (integrand calls) per online step"),
        "learning_rate": Field(_float(lo=0.0, lo_open=True), 3e-3, "peak Adam learning rate"),
        "lr_schedule": Field(_choice("cosine", "constant"), "cosine", "learning-rate schedule over all updates"),
        "lr_final_fraction": Field(_float(lo=0.0, hi=1.0), 0.05, "cosine: final / peak learning rate"),
        "warmup_steps": Field(_int(lo=0), 0, "linear warm-up updates"),
        "grad_clip": Field(_positive_or_null(), 10.0, "clip the global gradient norm (null: off)"),
        "loss": Field(
            _choice("mixed", "variance"),
            "mixed",
            "mixed: forward KL + omega reverse KL (flowint.losses.mixed_loss); "
            "variance: chi^2 (MadNIS variance loss) + omega reverse KL",
        ),
        "omega": Field(_omega(), 0.0, "weight of the reverse KL: number or flowint.losses.omega_schedule"),
        "buffer_size": Field(_int(lo=0), 20000, "replay buffer of weighted samples (0: fresh batch only)"),
        "buffer_batch": Field(_int(lo=2, nullable=True), None, "forward-part minibatch from the buffer"),
        "updates_per_batch": Field(_int(lo=1), 1, "updates per fresh batch (>1: buffered updates in between)"),
        "checkpoint_every": Field(_int(lo=1), 100, "updates between checkpoints"),
        "log_every": Field(_int(lo=1), 50, "updates between log lines (non-terminal output)"),
    },
    "pretrain": {
        "source": Field(
            _choice("none", "lhe", "vegas", "decay_chain"),
            "none",
            "forward-KL pre-training samples: MadGraph events (reference_lhe or pretrain.lhe_file), "
            "a VEGAS grid, or the decay-chain mapping pushed through this mapping's exact inverse",
        ),
        "steps": Field(_int(lo=0), 0, "pre-training updates"),
        "batch_size": Field(_int(lo=2), 1000, "pre-training minibatch"),
        "n_samples": Field(_int(lo=1), 100000, "vegas / decay_chain: weighted samples drawn (integrand calls)"),
        "lhe_file": Field(_str(nullable=True), None, "LHE file for source 'lhe' (default: reference_lhe)"),
    },
    "integration": {
        "n_points": Field(_int(lo=2), 100000, "flow samples of the final estimate"),
        "batch_size": Field(_int(lo=1), 50000, "evaluation chunk (fixed shape: compiled once)"),
        "wmax_replicas": Field(_int(lo=1), 100, "bootstrap replicas of the w_max estimator"),
        "wmax_replica_size": Field(
            _int(lo=1, nullable=True), None, "points per replica (null: n_points // 10, at least 1000)"
        ),
    },
    "events": {
        "n_max": Field(_int(lo=0), 20000, "most unweighted events written to events.lhe.gz (0: none)"),
    },
    "vegas": {
        "enabled": Field(_bool(), True, "run the VEGAS baseline at the flow's number of integrand calls"),
        "nitn_adapt": Field(_int(lo=1), 10, "adapting iterations (all iterations have equal size)"),
        "nitn_final": Field(_int(lo=1), 5, "iterations with the frozen grid, giving the final estimate"),
        "alpha": Field(_float(lo=0.0), 0.5, "grid damping"),
        "batch_size": Field(_int(lo=1), 50000, "evaluation chunk (fixed shape: compiled once)"),
    },
    "plots": {
        "enabled": Field(_bool(), True, "write PNG plots"),
        "bins": Field(_int(lo=2), 40, "histogram bins"),
    },
}


def defaults() -> dict:
    """The default configuration (required keys absent)."""

    def walk(schema):
        out = {}
        for k, v in schema.items():
            if isinstance(v, dict):
                out[k] = walk(v)
            elif v.default is not _REQUIRED:
                out[k] = copy.deepcopy(v.default)
        return out

    return walk(SCHEMA)


def validate_config(config: Mapping) -> dict:
    """Check ``config`` against :data:`SCHEMA`; return the complete config (defaults filled in).

    Raises:
        ConfigError: one line naming the first offending key and what is allowed.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"a configuration is a mapping of keys, got {type(config).__name__}")

    def walk(schema, cfg, prefix):
        out = {}
        unknown = [k for k in cfg if k not in schema]
        if unknown:
            where = f"in {prefix[:-1]!r}" if prefix else "at the top level"
            raise ConfigError(
                f"unknown config key {prefix + str(unknown[0])!r}; allowed keys {where}: "
                + ", ".join(schema)
            )
        for k, field in schema.items():
            key = prefix + k
            if isinstance(field, dict):
                sub = cfg.get(k) or {}
                if not isinstance(sub, Mapping):
                    raise ConfigError(f"config key {key!r}: expected a mapping of {', '.join(field)}, got {sub!r}")
                out[k] = walk(field, sub, key + ".")
            elif k in cfg:
                out[k] = field.check(key, cfg[k])
            elif field.default is _REQUIRED:
                raise ConfigError(f"config key {key!r} is required ({field.doc})")
            else:
                out[k] = copy.deepcopy(field.default)
        return out

    out = walk(SCHEMA, config, "")
    _cross_checks(out, config)
    return out


SMOOTH_KEYS = ("n_components", "alpha", "power", "slope_floor", "min_scale", "init_scale",
                "init_identity_weight", "analytic")
SPLINE_KEYS = ("n_bins",)


def _cross_checks(cfg, raw):
    flow_raw = raw.get("flow") or {}
    other = SPLINE_KEYS if cfg["flow"]["kind"] == "smooth" else SMOOTH_KEYS
    for k in other:
        # a complete config (defaults filled in) is valid input again: only a non-default value is an error
        if k in flow_raw and flow_raw[k] != SCHEMA["flow"][k].default:
            raise ConfigError(
                f"config key 'flow.{k}' does not apply to a {cfg['flow']['kind']} flow "
                f"(smooth: {', '.join(SMOOTH_KEYS)}; spline: {', '.join(SPLINE_KEYS)})"
            )
    if cfg["flow"]["init_scale"] <= cfg["flow"]["min_scale"]:
        raise ConfigError(
            f"config key 'flow.init_scale': expected a number > flow.min_scale = {cfg['flow']['min_scale']}, "
            f"got {cfg['flow']['init_scale']}"
        )
    t = cfg["training"]
    if t["updates_per_batch"] > 1 and t["buffer_size"] == 0:
        raise ConfigError("config key 'training.updates_per_batch': buffered updates (> 1) need training.buffer_size > 0")
    if t["buffer_size"] and t["buffer_size"] < t["batch_size"]:
        raise ConfigError(
            f"config key 'training.buffer_size': expected 0 or >= training.batch_size = {t['batch_size']}, "
            f"got {t['buffer_size']}"
        )
    p = cfg["pretrain"]
    if p["source"] == "none" and p["steps"] > 0:
        raise ConfigError("config key 'pretrain.steps': pre-training updates need pretrain.source "
                          "(lhe, vegas or decay_chain)")
    if p["source"] == "lhe" and not (p["lhe_file"] or cfg["reference_lhe"]):
        raise ConfigError("config key 'pretrain.source': 'lhe' needs pretrain.lhe_file or reference_lhe")
    if p["source"] == "decay_chain" and cfg["mapping"]["kind"] == "decay_chain":
        raise ConfigError("config key 'pretrain.source': 'decay_chain' samples only help another mapping "
                          "(mapping.kind is already decay_chain)")


def apply_overrides(config: Mapping, overrides) -> dict:
    """Apply ``["a.b=value", ...]`` (values parsed as YAML scalars) to a copy of ``config``."""
    out = copy.deepcopy(dict(config))
    for item in overrides or ():
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        key = key.strip()
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        parts = key.split(".")
        node = out
        schema = SCHEMA
        for i, part in enumerate(parts[:-1]):
            sub = schema.get(part) if isinstance(schema, dict) else None
            if not isinstance(sub, dict):
                raise ConfigError(
                    f"unknown config key {'.'.join(parts[: i + 1])!r} in --set {item!r}; sections: "
                    + ", ".join(k for k, v in SCHEMA.items() if isinstance(v, dict))
                )
            schema = sub
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"config key {'.'.join(parts[: i + 1])!r} is not a section")
        node[parts[-1]] = value
    return out


def load_config(path, overrides=None) -> dict:
    """Read a YAML file, apply ``overrides`` and validate; the file's directory is kept for paths."""
    path = os.fspath(path)
    try:
        with open(path) as handle:
            raw = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path!r} does not exist") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise ConfigError(f"config file {path!r} is not valid YAML: {first}") from None
    if raw is None:
        raw = {}
    raw = apply_overrides(raw, overrides)
    cfg = validate_config(raw)
    cfg["_config_dir"] = os.path.dirname(os.path.abspath(path))
    return cfg


def resolve_path(path, config) -> str:
    """A path from a config: as given if it exists (relative to the working directory), else relative
    to the config file's directory; ConfigError if neither exists."""
    if path is None:
        return None
    if os.path.exists(path):
        return path
    base = config.get("_config_dir") if isinstance(config, Mapping) else None
    if base and not os.path.isabs(path):
        candidate = os.path.join(base, path)
        if os.path.exists(candidate):
            return candidate
    raise ConfigError(f"file {path!r} not found (looked in the working directory and next to the config)")


def describe_schema() -> str:
    """The schema as Markdown lines: key, default, allowed values, meaning."""
    lines = ["| key | default | allowed | meaning |", "|---|---|---|---|"]

    def walk(schema, prefix):
        for k, v in schema.items():
            if isinstance(v, dict):
                walk(v, prefix + k + ".")
            else:
                default = "(required)" if v.default is _REQUIRED else repr(v.default)
                lines.append(f"| `{prefix + k}` | {default} | {getattr(v.check, 'what', '')} | {v.doc} |")

    walk(SCHEMA, "")
    return "\n".join(lines)
