r"""The mixed forward/reverse KL loss of the seed, L = L_fKL + ω · L_rKL, and schedules for ω.

Forward KL on expensive, reusable samples (buffered, or from VEGAS / external events) covers all modes;
reverse KL on cheap fresh flow samples uses ∇_u log p (the differentiable matrix element) and sharpens the
fit where the flow already has mass (arXiv:2110.00351 trains Boltzmann generators with such mixtures).
ω may be a number or a traced scalar; a schedule (a function of the step, optax-style) lets training start
mass-covering and switch the reverse term on later.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import jax
import optax

from ._kl import LogPFn, LogQFn, Params, SampleFn, forward_kl, reverse_kl

Array = jax.Array
Schedule = Callable[[Array | int], Array]

_SCHEDULES = ("constant", "linear", "cosine", "exponential")


def mixed_loss(
    log_q_fn: LogQFn,
    sample_fn: SampleFn,
    log_p_fn: LogPFn,
    params: Params,
    u: Array,
    log_p: Array,
    log_g: Array,
    key: Array,
    n: int,
    omega: Array | float = 1.0,
    *,
    log_norm: Array | float | None = None,
) -> Array:
    """L = forward_kl(log_q_fn, params, u, log_p, log_g) + ω · reverse_kl(sample_fn, log_p_fn, params, key, n).

    The first four batch arguments are those of :func:`forward_kl`, ``key`` and ``n`` those of
    :func:`reverse_kl`. With ω given as the Python number 0 the reverse term (and its n evaluations of
    ``log_p_fn``) is skipped altogether; a traced ω is always evaluated (no Python branch on traced values).
    """
    loss = forward_kl(log_q_fn, params, u, log_p, log_g, log_norm=log_norm)
    if isinstance(omega, numbers.Number):
        if omega < 0:
            raise ValueError(f"omega must be >= 0, got {omega}")
        if omega == 0:
            return loss
    return loss + omega * reverse_kl(sample_fn, log_p_fn, params, key, n)


def omega_schedule(kind: str = "constant", **kwargs) -> Schedule:
    """A schedule step ↦ ω for :func:`mixed_loss` (thin layer over optax schedules).

    Kinds and keyword arguments:
        * "constant": ``value``;
        * "linear": ``init_value``, ``end_value``, ``transition_steps``, optional ``transition_begin``
          (e.g. 0 → 1 from step 500 to 1500: forward KL first, reverse KL switched on gradually);
        * "cosine": ``init_value``, ``decay_steps``, optional ``end_value`` (default 0);
        * "exponential": ``init_value``, ``transition_steps``, ``decay_rate``, optional ``end_value``.

    Raises:
        ValueError: unknown kind, missing or unknown argument, or a negative ω.
    """
    required = {
        "constant": ("value",),
        "linear": ("init_value", "end_value", "transition_steps"),
        "cosine": ("init_value", "decay_steps"),
        "exponential": ("init_value", "transition_steps", "decay_rate"),
    }
    optional = {
        "constant": (),
        "linear": ("transition_begin",),
        "cosine": ("end_value",),
        "exponential": ("end_value",),
    }
    if kind not in _SCHEDULES:
        raise ValueError(f"unknown omega schedule {kind!r}; expected one of {_SCHEDULES}")
    missing = [k for k in required[kind] if k not in kwargs]
    unknown = sorted(set(kwargs) - set(required[kind]) - set(optional[kind]))
    if missing or unknown:
        raise ValueError(
            f"omega_schedule({kind!r}) needs {required[kind]}; missing {missing}, unknown {unknown}"
        )
    for name in ("value", "init_value", "end_value"):
        if name in kwargs and kwargs[name] < 0:
            raise ValueError(f"omega must be >= 0, got {name}={kwargs[name]}")
    if kind == "constant":
        return optax.constant_schedule(kwargs["value"])
    if kind == "linear":
        return optax.linear_schedule(
            kwargs["init_value"],
            kwargs["end_value"],
            kwargs["transition_steps"],
            kwargs.get("transition_begin", 0),
        )
    if kind == "cosine":
        init = kwargs["init_value"]
        end = kwargs.get("end_value", 0.0)
        # optax's alpha is the final value relative to the initial one
        return optax.cosine_decay_schedule(init, kwargs["decay_steps"], alpha=end / init if init else 0.0)
    return optax.exponential_decay(
        kwargs["init_value"],
        kwargs["transition_steps"],
        kwargs["decay_rate"],
        end_value=kwargs.get("end_value"),
    )
