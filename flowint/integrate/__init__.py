"""Monte-Carlo integration with flow proposals: training, cross sections, unweighted events, VEGAS baseline.

* :class:`Integrator` — the Python API (a thin object over the pure functions below): ``train``,
  ``integrate``, ``vegas``, ``xsec_gradient``, ``unweighted_events``, ``write_events``, ``save``;
* :func:`run` — everything ``python -m flowint.train`` does, into an output directory;
* configuration: :data:`SCHEMA`, :func:`validate_config`, :func:`load_config`, :func:`apply_overrides`,
  :class:`ConfigError` (one-line errors naming the key);
* metrics and events: :func:`weight_summary`, :func:`combine_estimates`, :func:`unweight`,
  :func:`write_lhe`;
* the baseline: :func:`vegas_baseline`;
* training pieces: :func:`make_steps`, :func:`make_optimizer`, :class:`TrainState`, the replay
  :class:`Buffer`, :func:`save_checkpoint` / :func:`load_checkpoint`.
"""

from ._buffer import Buffer, buffer_add, buffer_init, buffer_sample
from ._config import (
    SCHEMA,
    ConfigError,
    apply_overrides,
    defaults,
    describe_schema,
    load_config,
    validate_config,
)
from ._events import read_lhe_init, unweight, write_lhe
from ._integrator import Integrator
from ._metrics import combine_estimates, pull, weight_summary
from ._run import run
from ._train import TrainState, load_checkpoint, make_optimizer, make_steps, save_checkpoint
from ._vegas import vegas_baseline, vegas_samples

__all__ = [
    "SCHEMA",
    "Buffer",
    "ConfigError",
    "Integrator",
    "TrainState",
    "apply_overrides",
    "buffer_add",
    "buffer_init",
    "buffer_sample",
    "combine_estimates",
    "defaults",
    "describe_schema",
    "load_checkpoint",
    "load_config",
    "make_optimizer",
    "make_steps",
    "pull",
    "read_lhe_init",
    "run",
    "save_checkpoint",
    "unweight",
    "validate_config",
    "vegas_baseline",
    "vegas_samples",
    "weight_summary",
    "write_lhe",
]
