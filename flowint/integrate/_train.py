r"""Flow training as pure, jitted steps, plus checkpoints (the machinery under :class:`Integrator`).

One *online* update draws ``batch_size`` fresh points u ~ q_θ from the flow, evaluates the integrand
there once (these are the integrand calls that are counted), stores (u, log p, log q) in the replay
buffer, and takes one optimiser step on

    L = L_fwd(buffer minibatch) + ω(step) · L_rKL(the same fresh points, pathwise),

where L_fwd is the importance-weighted forward KL (``training.loss: mixed``) or the variance loss
(``variance``). The reverse KL re-uses the fresh points' random numbers, so it costs a vector-Jacobian
product of the integrand but no new points. ``updates_per_batch > 1`` adds buffer-only updates (no new
calls). Pre-training updates are forward-KL steps on a fixed sample: MadGraph events mapped into the cube
through the mapping's exact inverse (unweighted, so every weight is 1), VEGAS points with their grid
density, or decay-chain points pushed through the flat mapping's inverse with the density
exp(log_weight_flat − log_weight_chain).

Random numbers are derived with ``fold_in(seed, phase, step)``, never carried, so a resumed run
reproduces an uninterrupted one bit for bit.
"""

from __future__ import annotations

import os
import pickle
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from flowint.losses import forward_kl, log_mean_exp, omega_schedule, relative_std, reverse_kl, variance_loss

from ._buffer import Buffer, buffer_add, buffer_init, buffer_sample
from ._files import atomic_write_bytes

CHECKPOINT_VERSION = 1

# phases of the random-number tree
PHASE_PRETRAIN_DATA, PHASE_PRETRAIN, PHASE_ONLINE, PHASE_INTEGRATE, PHASE_VEGAS, PHASE_EVENTS = range(6)


def phase_key(seed: int, phase: int, index: int = 0):
    """The PRNG key of ``index`` within ``phase`` (independent of how many keys were drawn before)."""
    return jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(seed), phase), index)


class TrainState(NamedTuple):
    params: Any
    opt_state: Any
    buffer: Buffer


def make_optimizer(training: dict, total_updates: int):
    """Adam with warm-up + cosine (or constant) learning rate and global-norm clipping."""
    lr = training["learning_rate"]
    warm = int(training["warmup_steps"])
    total = max(int(total_updates), warm + 1)
    if training["lr_schedule"] == "cosine":
        schedule = optax.warmup_cosine_decay_schedule(
            init_value=0.0 if warm else lr,
            peak_value=lr,
            warmup_steps=warm,
            decay_steps=total,
            end_value=lr * training["lr_final_fraction"],
        )
    else:
        schedule = (
            optax.join_schedules([optax.linear_schedule(0.0, lr, warm), optax.constant_schedule(lr)], [warm])
            if warm
            else optax.constant_schedule(lr)
        )
    parts = []
    if training["grad_clip"]:
        parts.append(optax.clip_by_global_norm(training["grad_clip"]))
    parts.append(optax.adam(schedule))
    return optax.chain(*parts), schedule


def make_omega(omega):
    """(schedule step -> ω, whether the reverse KL is ever on)."""
    if isinstance(omega, dict):
        spec = dict(omega)
        sched = omega_schedule(spec.pop("kind"), **spec)
        return sched, True
    value = float(omega)
    return (lambda step: jnp.asarray(value)), value > 0


class StepFunctions(NamedTuple):
    online: Any
    buffered: Any
    pretrain: Any


def make_steps(flow, log_p_fn, optimizer, training: dict) -> StepFunctions:
    """The jitted update functions for a flow and a target log p(u)."""
    n = int(training["batch_size"])
    nb = int(training["buffer_batch"] or n)
    use_buffer = int(training["buffer_size"]) > 0
    omega_fn, use_rkl = make_omega(training["omega"])
    fwd = forward_kl if training["loss"] == "mixed" else variance_loss

    def apply(params, opt_state, grads):
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    @jax.jit
    def online(state: TrainState, step, key):
        k_sample, k_buf = jax.random.split(key)
        u, log_q = flow.sample(state.params, k_sample, n)
        u, log_q = jax.lax.stop_gradient(u), jax.lax.stop_gradient(log_q)
        log_p = log_p_fn(u)
        buffer = state.buffer
        if use_buffer:
            buffer = buffer_add(buffer, u, log_p, log_q)
            ub, lpb, lgb = buffer_sample(buffer, k_buf, nb)
        else:
            ub, lpb, lgb = u, log_p, log_q
        omega = omega_fn(step)

        def loss_fn(params):
            loss = fwd(flow.log_prob, params, ub, lpb, lgb)
            if use_rkl:
                loss = loss + omega * reverse_kl(flow.sample, log_p_fn, params, k_sample, n)
            return loss

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        params, opt_state = apply(state.params, state.opt_state, grads)
        log_w = jnp.where(jnp.isfinite(log_p), log_p - log_q, -jnp.inf)
        stats = {
            "loss": loss,
            "rel_std": relative_std(log_w),
            "log_mean_w": log_mean_exp(log_w),
            "omega": omega,
            "grad_norm": optax.tree.norm(grads),
        }
        return TrainState(params, opt_state, buffer), stats

    @jax.jit
    def buffered(state: TrainState, step, key):
        ub, lpb, lgb = buffer_sample(state.buffer, key, nb)
        loss, grads = jax.value_and_grad(lambda p: fwd(flow.log_prob, p, ub, lpb, lgb))(state.params)
        params, opt_state = apply(state.params, state.opt_state, grads)
        return TrainState(params, opt_state, state.buffer), {"loss": loss, "grad_norm": optax.tree.norm(grads)}

    def make_pretrain(batch):
        @jax.jit
        def pretrain(state: TrainState, key, u_all, lp_all, lg_all):
            idx = jax.random.randint(key, (batch,), 0, u_all.shape[0])
            ub, lpb, lgb = u_all[idx], lp_all[idx], lg_all[idx]
            loss, grads = jax.value_and_grad(lambda p: forward_kl(flow.log_prob, p, ub, lpb, lgb))(state.params)
            params, opt_state = apply(state.params, state.opt_state, grads)
            return TrainState(params, opt_state, state.buffer), {"loss": loss, "grad_norm": optax.tree.norm(grads)}

        return pretrain

    return StepFunctions(online, buffered, make_pretrain)


def init_state(flow, optimizer, training: dict, seed: int) -> TrainState:
    params = flow.init(jax.random.fold_in(jax.random.PRNGKey(seed), 99))
    return TrainState(params, optimizer.init(params), buffer_init(training["buffer_size"], flow.ndim))


# -- checkpoints ---------------------------------------------------------------------------------------------
def save_checkpoint(path, *, state: TrainState, update: int, history: dict, counters: dict, config: dict):
    payload = {
        "version": CHECKPOINT_VERSION,
        "update": int(update),
        "state": jax.device_get(state),
        "history": history,
        "counters": dict(counters),
        "config": config,
    }
    atomic_write_bytes(path, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))


def load_checkpoint(path) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (ValueError if it is not one)."""
    try:
        with open(path, "rb") as handle:
            payload = pickle.load(handle)
    except FileNotFoundError:
        raise FileNotFoundError(f"no checkpoint at {os.fspath(path)!r}") from None
    except Exception as exc:  # noqa: BLE001 - corrupt or foreign file
        raise ValueError(f"{os.fspath(path)!r} is not a flowint checkpoint ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{os.fspath(path)!r} is not a flowint checkpoint of version {CHECKPOINT_VERSION}")
    payload["state"] = jax.tree_util.tree_map(jnp.asarray, payload["state"])
    return payload


def to_float(x) -> float:
    return float(np.asarray(x))
