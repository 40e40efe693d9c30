"""flowint: differentiable matrix elements and smooth normalizing flows for Monte-Carlo integration.

Importing flowint switches JAX to 64-bit mode: every array in the library is float64/complex128
unless a caller opts into lower precision explicitly.
"""

import jax

jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"
