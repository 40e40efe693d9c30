"""flowint's MadGraph plugin lives in ``MG5aMC_PLUGIN/flowint_jax``; MadGraph imports it, flowint does not."""

import os

PLUGIN_PATH = os.path.dirname(os.path.abspath(__file__))
"""The folder to put on PYTHONPATH so that MadGraph finds ``MG5aMC_PLUGIN.flowint_jax``."""
