"""Monotone rational-quadratic splines on [0, 1] (Durkan et al., arXiv:1906.04032) through distrax.

The well-known alternative to the smooth map: both directions are analytic (the inverse solves a quadratic
in each bin), but the map is only C¹ — its second derivative jumps at the knots, which matters when a
reverse-KL loss differentiates through the flow and the integrand together (arXiv:2110.00351, Sec. 3).
This module only adapts ``distrax.RationalQuadraticSpline`` (range [0, 1]) to the elementwise transformer
interface used by the coupling layers (:mod:`flowint.flows._coupling`).
"""

from __future__ import annotations

import dataclasses

import distrax
import jax
import numpy as np

Array = jax.Array

_BOUNDARY_SLOPES = ("unconstrained", "lower_identity", "upper_identity", "identity")


@dataclasses.dataclass(frozen=True)
class RationalQuadraticMap:
    """Hyper-parameters of an elementwise rational-quadratic spline on [0, 1].

    Attributes:
        n_bins: number of spline bins B (3B + 1 unconstrained parameters per dimension).
        min_bin_size: smallest bin width and height.
        min_knot_slope: smallest derivative at a knot (a slope floor, like the smooth map's).
        boundary_slopes: distrax's treatment of the slopes at 0 and 1 ("unconstrained" learns them).
    """

    n_bins: int = 8
    min_bin_size: float = 1e-4
    min_knot_slope: float = 1e-4
    boundary_slopes: str = "unconstrained"

    def __post_init__(self):
        if int(self.n_bins) < 1:
            raise ValueError(f"n_bins must be >= 1, got {self.n_bins}")
        if self.boundary_slopes not in _BOUNDARY_SLOPES:
            raise ValueError(
                f"boundary_slopes must be one of {_BOUNDARY_SLOPES}, got {self.boundary_slopes!r}"
            )
        if not 0.0 < self.min_bin_size * self.n_bins < 1.0:
            raise ValueError(
                f"min_bin_size * n_bins must lie in (0, 1), got {self.min_bin_size * self.n_bins}"
            )
        if not self.min_knot_slope > 0:
            raise ValueError(f"min_knot_slope must be > 0, got {self.min_knot_slope}")
        object.__setattr__(self, "n_bins", int(self.n_bins))

    @property
    def n_params(self) -> int:
        """Unconstrained parameters per transformed dimension (widths, heights, knot slopes)."""
        return 3 * self.n_bins + 1

    def identity_raw(self) -> np.ndarray:
        """Raw parameters of the identity map (distrax maps all-zero parameters to x ↦ x)."""
        return np.zeros(self.n_params)

    def _bijector(self, raw: Array) -> distrax.RationalQuadraticSpline:
        return distrax.RationalQuadraticSpline(
            raw,
            range_min=0.0,
            range_max=1.0,
            boundary_slopes=self.boundary_slopes,
            min_bin_size=self.min_bin_size,
            min_knot_slope=self.min_knot_slope,
        )

    def forward(self, x: Array, raw: Array) -> tuple[Array, Array]:
        """y = s(x) and log s'(x), elementwise; raw has shape x.shape + (3B + 1,)."""
        return self._bijector(raw).forward_and_log_det(x)

    def inverse(self, y: Array, raw: Array) -> tuple[Array, Array]:
        """x = s^{−1}(y) (analytic) and log dx/dy, elementwise."""
        return self._bijector(raw).inverse_and_log_det(y)
