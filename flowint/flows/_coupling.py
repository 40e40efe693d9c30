r"""Masked coupling layers on [0, 1]^d (Flax linen), shared by the smooth and the spline flow.

A coupling layer splits the coordinates into a conditioning set C and a transformed set T and maps

    y_C = x_C,    y_i = h(x_i; θ_i(x_C))  for i ∈ T,

with h a monotone map of [0, 1] onto itself (an *elementwise transformer*: the smooth mixture map or the
rational-quadratic spline) and θ(x_C) the output of a conditioner network. The Jacobian is triangular, so
log|det J| = Σ_{i∈T} log h'(x_i); the inverse only needs h^{−1}, with the same θ(x_C) = θ(y_C).

Masks follow a binary code: layer l transforms the coordinates whose bit ⌊l/2⌋ mod B (B = ⌈log₂ d⌉) is
equal to l mod 2. Consecutive layers use complementary masks, so every coordinate is transformed, and every
pair of coordinates differs in some bit, so each one conditions the other somewhere in the stack (the
construction of MadNIS, arXiv:2212.06172). For d = 1 there is nothing to condition on and each layer is an
unconditional learned map.

Conditioners are MLPs with smooth activations (SiLU by default; ReLU is refused because it would make the
flow only piecewise smooth in its input). Inputs are rescaled to [−1, 1]. The last layer starts at zero and
a fixed offset (the transformer's ``identity_raw``) is added, so an untrained flow is (close to) the identity
map and its density (close to) uniform.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

ACTIVATIONS = {"silu": nn.silu, "swish": nn.silu, "tanh": jnp.tanh, "gelu": nn.gelu}


def coupling_masks(ndim: int, n_layers: int) -> tuple[tuple[int, ...], ...]:
    """Indices of the transformed coordinates of each layer (binary-code masks, see the module docstring)."""
    if int(ndim) < 1:
        raise ValueError(f"ndim must be >= 1, got {ndim}")
    if int(n_layers) < 1:
        raise ValueError(f"n_layers must be >= 1, got {n_layers}")
    n_bits = math.ceil(math.log2(ndim)) if ndim > 1 else 0
    masks = []
    for layer in range(n_layers):
        if n_bits == 0:
            masks.append((0,))
            continue
        bit, parity = (layer // 2) % n_bits, layer % 2
        masks.append(tuple(j for j in range(ndim) if (j >> bit) & 1 == parity))
    return tuple(masks)


class Conditioner(nn.Module):
    """MLP from the conditioning coordinates to the raw transformer parameters; a bias if there are none."""

    n_out: int
    hidden: Sequence[int] = (64, 64)
    activation: str = "silu"

    @nn.compact
    def __call__(self, x_c: Array) -> Array:
        if x_c.shape[-1] == 0:
            bias = self.param("bias", nn.initializers.zeros, (self.n_out,), jnp.float64)
            return jnp.broadcast_to(bias, x_c.shape[:-1] + (self.n_out,))
        act = ACTIVATIONS[self.activation]
        h = 2.0 * x_c - 1.0
        for width in self.hidden:
            h = act(nn.Dense(width, param_dtype=jnp.float64)(h))
        out = nn.Dense(
            self.n_out,
            kernel_init=nn.initializers.zeros,
            bias_init=nn.initializers.zeros,
            param_dtype=jnp.float64,
        )
        return out(h)


class CouplingStack(nn.Module):
    """A chain of masked coupling layers with one elementwise transformer type.

    Attributes:
        ndim: dimension d of the cube.
        masks: transformed coordinates of each layer (see :func:`coupling_masks`).
        transformer: elementwise map with ``n_params``, ``identity_raw()``, ``forward(x, raw)`` and
            ``inverse(y, raw)`` (each returning the image and the elementwise log-derivative).
        hidden: widths of the hidden layers of each conditioner.
        activation: "silu", "tanh" or "gelu".
    """

    ndim: int
    masks: tuple[tuple[int, ...], ...]
    transformer: Any
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "silu"

    def setup(self):
        p = self.transformer.n_params
        self.conditioners = [
            Conditioner(n_out=len(m) * p, hidden=self.hidden, activation=self.activation) for m in self.masks
        ]

    def _raw(self, layer: int, x: Array) -> tuple[np.ndarray, Array]:
        idx_t = np.asarray(self.masks[layer], dtype=int)
        idx_c = np.setdiff1d(np.arange(self.ndim), idx_t)
        raw = self.conditioners[layer](x[..., idx_c])
        raw = raw.reshape(x.shape[:-1] + (len(idx_t), self.transformer.n_params))
        return idx_t, raw + jnp.asarray(self.transformer.identity_raw())

    def forward(self, x: Array) -> tuple[Array, Array]:
        """Apply the layers in order: x ↦ y and log|det ∂y/∂x| (batch shape of x)."""
        log_det = jnp.zeros(x.shape[:-1])
        for layer in range(len(self.masks)):
            idx_t, raw = self._raw(layer, x)
            y_t, ld = self.transformer.forward(x[..., idx_t], raw)
            x = x.at[..., idx_t].set(y_t)
            log_det = log_det + jnp.sum(ld, axis=-1)
        return x, log_det

    def inverse(self, y: Array) -> tuple[Array, Array]:
        """Undo the layers in reverse order: y ↦ x and log|det ∂x/∂y|."""
        log_det = jnp.zeros(y.shape[:-1])
        for layer in reversed(range(len(self.masks))):
            idx_t, raw = self._raw(layer, y)
            x_t, ld = self.transformer.inverse(y[..., idx_t], raw)
            y = y.at[..., idx_t].set(x_t)
            log_det = log_det + jnp.sum(ld, axis=-1)
        return y, log_det

    def __call__(self, x: Array) -> tuple[Array, Array]:
        return self.forward(x)
