r"""A fixed-size replay buffer of weighted samples for the forward-KL (or variance) part of training.

Every integrand call made during training is kept: the point u, log p(u) and the log density log g(u) of
the proposal that drew it (the flow as it was at that step). Any forward-type loss can reuse them, since
importance weights p/g stay valid whichever flow drew a sample (MadNIS' buffered training, Heimel et al.,
arXiv:2311.01548). The buffer is a ring: once full, the oldest samples are overwritten first.

Pure functions over a NamedTuple of fixed-shape arrays, so they live inside ``jax.jit``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array


class Buffer(NamedTuple):
    """Ring buffer: ``u`` (capacity, d), ``log_p`` and ``log_g`` (capacity,), ``size`` and ``position``
    (int scalars: filled slots, next slot to write)."""

    u: Array
    log_p: Array
    log_g: Array
    size: Array
    position: Array

    @property
    def capacity(self) -> int:
        return self.u.shape[0]


def buffer_init(capacity: int, ndim: int) -> Buffer:
    """An empty buffer for ``capacity`` points of dimension ``ndim`` (capacity 0 allowed: never filled)."""
    capacity = int(capacity)
    return Buffer(
        u=jnp.full((capacity, ndim), 0.5, dtype=jnp.float64),
        log_p=jnp.full((capacity,), -jnp.inf, dtype=jnp.float64),
        log_g=jnp.zeros((capacity,), dtype=jnp.float64),
        size=jnp.asarray(0, dtype=jnp.int64),
        position=jnp.asarray(0, dtype=jnp.int64),
    )


def buffer_add(buffer: Buffer, u: Array, log_p: Array, log_g: Array) -> Buffer:
    """Write a batch at the current position (wrapping around), overwriting the oldest samples."""
    cap = buffer.capacity
    n = u.shape[0]
    if cap == 0:
        return buffer
    if n > cap:
        u, log_p, log_g = u[-cap:], log_p[-cap:], log_g[-cap:]
        n = cap
    idx = (buffer.position + jnp.arange(n)) % cap
    return Buffer(
        u=buffer.u.at[idx].set(u),
        log_p=buffer.log_p.at[idx].set(log_p),
        log_g=buffer.log_g.at[idx].set(log_g),
        size=jnp.minimum(buffer.size + n, cap),
        position=(buffer.position + n) % cap,
    )


def buffer_sample(buffer: Buffer, key: Array, n: int) -> tuple[Array, Array, Array]:
    """n samples drawn uniformly (with replacement) from the filled part: (u, log_p, log_g)."""
    idx = jax.random.randint(key, (int(n),), 0, jnp.maximum(buffer.size, 1))
    return buffer.u[idx], buffer.log_p[idx], buffer.log_g[idx]
